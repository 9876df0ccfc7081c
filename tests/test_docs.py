"""Rule documentation generated from the code: docs/rules.md, `audit rules` and `audit explain RULE`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.docs import REGENERATE, builtin_rules, rules_markdown
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs/rules.md"


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ}, timeout=120)


def test_docs_rules_md_is_up_to_date():
    expected = rules_markdown(Ruleset.load())
    actual = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert actual == expected, f"docs/rules.md is out of date: regenerate it with `{REGENERATE}`"


def test_docs_cover_every_builtin_rule():
    rs = Ruleset.load()
    text = rules_markdown(rs)
    rules = builtin_rules(rs)
    assert len(rules) >= 19
    for r in rules:
        assert f"\n## {r.id}\n" in text and f"[`{r.id}`](#{r.id})" in text
        for k in r.params:
            assert f"| `{k}` |" in text, (r.id, k)
    assert "| `lead_severity` | low |" in text and "lead-gen: medium" in text  # a profile override is shown
    for r in rules:  # every rule says what its judgement rests on
        assert r.evidence, r.id


@pytest.mark.parametrize("rid", ["micro-primary-goal", "low-bidding-volume", "overflagged-key-events"])
def test_explain_says_what_a_micro_judgement_rests_on(rid):
    p = audit("explain", rid)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    for part in ("funnel report", "upper bound", "after or beside", "config's taxonomy always wins",
                 "medium from 5%"):
        assert part in text, part


def test_docs_are_the_same_from_the_cli():
    p = audit("rules", "--markdown")
    assert p.returncode == 0 and p.stdout == rules_markdown(Ruleset.load())


def test_rules_lists_id_category_default_severity_and_enabled():
    p = audit("rules", "--profile", "lead-gen")
    assert p.returncode == 0, p.stderr
    assert "enabled (lead-gen)" in p.stdout.splitlines()[0]
    line = next(x for x in p.stdout.splitlines() if x.startswith("low-bidding-volume "))
    assert line.split()[1:4] == ["bidding", "medium", "yes"]


@pytest.mark.parametrize("rid", ["low-bidding-volume", "invalid-event-name", "missing-ads-link"])
def test_explain_prints_every_part(rid):
    p = audit("explain", rid)
    assert p.returncode == 0, p.stderr
    for part in ("What it checks:", "Why it matters:", "What it rests on:", "How to fix:", "Data needed:",
                 "Example finding:", "References:"):
        assert part in p.stdout, part
    assert ("Parameters:" in p.stdout) == bool(Ruleset.load().rules[rid].params)


def test_readme_example_is_what_the_command_prints():
    """The README's example is the real output of its command on a 100-column terminal."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"`audit --offline fixtures/lumen-analytics` on the bundled.*?```\n(.*?)```", readme, re.S)
    assert block, "the README's example block"
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", "fixtures/lumen-analytics"], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"}, timeout=120)
    assert p.returncode == 1
    assert p.stdout.strip("\n") == block.group(1).strip("\n")
