"""A rule shipped in a separately installed package is picked up through the `auditor.rules` entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
from auditor.engine import Param, Rule


def check(client, ctx):
    """Flags every enabled conversion action whose name contains the configured word."""
    word = ctx.params["word"]
    for a in client.ads.enabled_actions:
        if word in a.name.lower():
            yield ctx.finding(f"'{a.name}' mentions {word}", [a.resource_name])


RULE = Rule(id="acme-no-test-actions", title="No test actions", category="hygiene", severity="low",
            rationale="Test actions pollute reporting.", remediation="Remove them.", check=check,
            params={"word": Param("Word that marks a test action.", default="purchase")}, requires=("ads",))
'''


def test_separately_installed_rule_is_registered_and_runs(tmp_path: Path):
    pkg = tmp_path / "acme-auditor-rules"
    (pkg / "acme_rules").mkdir(parents=True)
    (pkg / "acme_rules/__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (pkg / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "acme-auditor-rules"
        version = "1.0"
        [project.entry-points."auditor.rules"]
        acme-no-test-actions = "acme_rules:RULE"
        [tool.hatch.build.targets.wheel]
        packages = ["acme_rules"]
    '''), encoding="utf-8")
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(site), str(pkg)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                              env=env)

    p = audit("rules")
    assert "acme-no-test-actions" in p.stdout and "hygiene" in p.stdout
    p = audit("--offline", "fixtures/brightcart-home", "--format", "json", "--fail-on", "never")
    findings = [f for f in json.loads(p.stdout)["clients"][0]["findings"] if f["rule"] == "acme-no-test-actions"]
    assert findings and all("purchase" in f["message"].lower() for f in findings)
    # its parameter is configurable like a built-in one
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules:\n  acme-no-test-actions:\n    params: {word: zzz}\n", encoding="utf-8")
    p = audit("--offline", "fixtures/brightcart-home", "--format", "json", "--config", str(cfg), "--fail-on", "never")
    assert not [f for f in json.loads(p.stdout)["clients"][0]["findings"] if f["rule"] == "acme-no-test-actions"]
