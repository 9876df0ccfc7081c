"""Offline audits of many clients on several cores give exactly the sequential result, in the same order, with
one broken client costing that client only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.parallel import MIN_PER_WORKER, workers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("many")
    samples = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    for i in range(2 * MIN_PER_WORKER + 4):
        shutil.copytree(samples[i % len(samples)], root / f"c{i:03d}-{samples[i % len(samples)].name}")
    broken = root / "c010-broken"
    shutil.copytree(FIXTURES / "brightcart-home", broken)
    (broken / "ga4/events.json").write_text("{ truncated", encoding="utf-8")
    return root


def audit(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"})


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2, reason="needs fork, 2 cores")
def test_several_cores_give_the_sequential_result_byte_for_byte(tree: Path):
    assert workers(2, 2 * MIN_PER_WORKER + 5) == 2
    for fmt in ("json", "table"):
        one, two = audit("--offline", str(tree), "--format", fmt, "-j", "1"), audit("--offline", str(tree),
                                                                                       "--format", fmt, "-j", "2")
        assert one.returncode == two.returncode == 3  # the broken client: audit incomplete
        assert one.stdout == two.stdout and one.stdout
        assert one.stderr == two.stderr
        assert b"c010-broken" in two.stderr and b"ga4/events.json" in two.stderr


def test_few_clients_or_one_job_stay_in_process():
    assert workers(4, MIN_PER_WORKER) == 1  # forking would cost more than it saves
    assert workers(1, 10_000) == 1
    assert workers(64, 10_000) <= (os.cpu_count() or 1)
