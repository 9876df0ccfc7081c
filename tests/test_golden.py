"""The JSON result for the bundled fixtures/, compared with a reviewed golden file.

After an intended change: AUDITOR_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py, then review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests/golden/fixtures.json"


def test_fixtures_report_matches_golden():
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", "fixtures/", "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "SOURCE_DATE_EPOCH": "0"})
    assert p.returncode == 1, p.stderr
    actual = json.loads(p.stdout)
    actual["tool"]["version"] = "*"
    if os.environ.get("AUDITOR_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for want, got in zip(expected["clients"], actual["clients"], strict=False):
        assert got == want, f"client {want['name']} differs from {GOLDEN.name}"
    assert actual == expected
