"""A terminal that fits: the table report within the terminal's width, every finding with its fix, severity
colours only where they belong, and a progress bar on stderr that never garbles the report.

Rendering is checked on the sample clients and on a hostile result (unbreakable identifiers, 300-character
messages, control characters); the command line in real subprocesses on a real pseudo-terminal."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import run_on_terminal

from auditor.audit import iter_offline, result_header
from auditor.outputs.document import write_document
from auditor.outputs.options import RenderOptions
from auditor.outputs.terminal import STYLES, chunks, table, visible_len, wrap
from auditor.progress import bar_line
from auditor.result import SEVERITIES, Changes, ClientResult, Finding, FindingRef, PreviousRun, RuleResult
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLES = len([p for p in FIXTURES.iterdir() if p.is_dir()])
WIDTHS = (80, 60, 120, 40)
SGR = re.compile(r"\x1b\[([0-9;]*)m")
CONTROL = "\x1b[2J\x1b]0;pwned\x07\u202e\r\nFORGED\x9b"
LONG = "conversionActions_" + "x" * 160  # one word longer than any terminal line


# -- rendering ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples() -> list[ClientResult]:
    return list(iter_offline(FIXTURES, Ruleset.load()))


def hostile(base: ClientResult) -> ClientResult:
    """`base` (a sample with a funnel and a hierarchy) with every displayed text made as long and as nasty as
    data can make it."""
    r = copy.deepcopy(base)
    r.name = "client_" + "n" * 120 + CONTROL
    r.profile_source, r.profile_evidence = "inferred", [f"primary action {LONG}{CONTROL}"]
    r.errors = [f"ga4: {LONG}{CONTROL} " + "word " * 60]
    r.rules.append(RuleResult("x-" + "r" * 120, "setup", "not_run", f"no {LONG}{CONTROL}"))
    r.findings = [
        Finding(rule="rule-" + "y" * 130, severity=sev, category="setup", message="m " * 150 + LONG + CONTROL,
                resources=(LONG,), remediation=f"{LONG} then " + "fix " * 40 + CONTROL, fingerprint=f"f{i}",
                actionable=i % 2 == 0)
        for i, sev in enumerate(SEVERITIES)]
    r.findings.append(copy.deepcopy(r.findings[0]))
    r.findings[-1].suppressed = True
    for i, step in enumerate(r.funnel["steps"]):
        step["event"] = f"step_{i}_{LONG}{CONTROL}"
        step["matched"] = [step["event"], f"other {LONG}"]
    r.funnel["summary"] = "drop " * 70 + CONTROL
    for e in r.hierarchy["events"]:
        e["event"] = f"{e['event']}_{LONG}{CONTROL}"
    ref = FindingRef("0" * 16, "rule-" + "z" * 100, "high", "gone " * 70 + CONTROL)
    r.changes = Changes(previous=PreviousRun("2025-01-06T07:00:00Z", 70, "C", "ok"), score_delta=-5,
                        new=[ref], resolved=[ref])
    return r


def render(clients: list[ClientResult], width: int, color: bool = False) -> str:
    out = io.StringIO()
    write_document(out, "table", result_header(), clients, options=RenderOptions(width=width, color=color))
    return out.getvalue()


def plain(text: str) -> str:
    return SGR.sub("", text)


def words(text: str) -> str:
    return " ".join(text.split())


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def nasty(samples: list[ClientResult]) -> ClientResult:
    base = next(r for r in samples if r.name == "brightcart-home")
    assert base.funnel and base.funnel.get("available") and base.hierarchy and base.hierarchy.get("events")
    return hostile(base)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("color", [False, True])
def test_no_line_is_wider_than_the_terminal(samples, nasty, width, color):
    for clients in (samples, [nasty], [nasty, *samples]):
        text = render(clients, width, color)
        too_wide = [line for line in text.split("\n") if visible_len(line) > width]
        assert not too_wide, too_wide[:3]


@pytest.mark.parametrize("width", (80, 60, 120))
def test_every_finding_shows_its_message_and_its_fix(samples, width):
    for r in samples:
        text = render([r], width)
        assert text.count("    fix: ") == len(r.active), r.name
        flat = squeezed(text)  # a name longer than a line is cut: compare without the cuts
        for f in r.active:
            assert squeezed(f.message) in flat and squeezed(f"fix: {f.remediation}") in flat, (r.name, f.rule)
            assert f"  {f.severity.upper()}" in text


def test_the_fix_comes_right_after_its_finding(samples):
    """Stacked: severity and rule, then the message, then the fix, all under the finding."""
    r = next(r for r in samples if r.name == "fieldnotes-media")
    lines = render([r], 80).split("\n")
    f = r.active[0]
    at = lines.index(f"  {f.severity.upper():8}  {f.rule}")
    body = lines[at + 1:lines.index("", at)]
    assert body[0].startswith("    ") and words(" ".join(body)).startswith(words(f.message))
    fix = next(i for i, line in enumerate(body) if line.startswith("    fix: "))
    assert all(line.startswith(" " * 9) for line in body[fix + 1:])  # the fix's own lines, indented under it


def test_hostile_result_keeps_every_part_and_no_control_character(nasty):
    text = render([nasty], 60)
    assert not [c for c in text if not (c.isprintable() or c == "\n")]
    assert "??FORGED" in text and "\x1b" not in text
    assert text.count("    fix: ") == len(nasty.active) == len(SEVERITIES)
    assert text.count("[not actionable]") == sum(1 for f in nasty.active if not f.actionable)
    for part in ("error: ga4:", "not run: x-rrr", "(1 suppressed finding(s) not shown)", "funnel (",
                 "micro hierarchy (macro:", "since 2025-01-06: score -5", "new: high rule-",
                 "Clients, worst first", "1 client(s), 0 errored; findings:", "drop drop"):
        assert part in text, part


def test_everything_the_table_showed_is_still_there(samples):
    text = render(samples, 80)
    for r in samples:
        assert f"== {r.name} [" in text
    brightcart = text[text.index("== brightcart-home"):text.index("== fieldnotes-media")]
    for part in ("not run: missing-ads-link:", "funnel (account ladder, GA4 users, last 28 days; no users in 28",
                 "step", "from previous", "biggest drop", "Biggest drop: view_item → add_to_cart",
                 "micro hierarchy (macro: purchase", "users/", "to macro", "very high"):
        assert part in brightcart, part
    assert "[not actionable]" in text and "  no findings" in text
    ranking = text[text.index("Clients, worst first"):].split("\n")
    assert ranking[1].split() == ["client", "score", "grade"]
    assert [line.split()[0] for line in ranking[3:3 + SAMPLES]][0] == "brightcart-home"
    assert re.search(rf"{SAMPLES} client\(s\), 0 errored; findings: \d+ critical, \d+ high", text)


def test_severity_colours_only_with_color(samples, nasty):
    coloured = render([*samples, nasty], 80, color=True)
    assert "\x1b[1;31mCRITICAL\x1b[0m" in coloured and "\x1b[31mHIGH\x1b[0m" in coloured
    assert "\x1b[33mMEDIUM\x1b[0m" in coloured and "\x1b[2mINFO\x1b[0m" in coloured
    assert set(SGR.findall(coloured)) <= {*STYLES.values(), "0"}  # only our own codes
    left = plain(coloured)
    assert "\x1b" not in left and not [c for c in left if not (c.isprintable() or c == "\n")]
    assert left == render([*samples, nasty], 80, color=False)  # the same text, colour aside
    assert "\x1b" not in render([*samples, nasty], 80, color=False)


def test_wrap_and_table_helpers():
    assert chunks("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert chunks("a" * 10, 4) == ["aaaa", "aaaa", "aa"]
    assert chunks("newsletter_signup_article", 20) == ["newsletter_signup_", "article"]
    assert wrap("fix: one two three", 20, "  ", "       ") == ["  fix: one two three"]
    assert wrap("x\x1b[2Jy " * 3, 20) == ["x?[2Jy x?[2Jy x?[2Jy"]
    assert wrap("x\x1b[2Jy " * 4, 20) == ["x?[2Jy x?[2Jy x?[2Jy", "x?[2Jy"]
    assert chunks("fix: " + "a" * 30, 20) == ["fix: aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa"]  # no line left near empty
    narrow = table(["name", "count"], [["a" * 50, "1,234"]], ["left", "right"], 30, "  ")
    assert max(map(len, narrow)) <= 30 and narrow[0].split() == ["name", "count"]
    # too narrow for columns: one block per row
    assert table(["step", "users", "from previous"], [["s" * 40, "121,402", "100.0%"]], ["left", "right", "right"],
                 20)[2:] == ["    users 121,402;", "    from previous", "    100.0%"]


def test_bar_line_fits_and_says_where_it_is():
    for width in (20, 40, 79, 200):
        line = bar_line("auditing", 3, 6, "client-" + "n" * 300, width, elapsed=3.0)
        assert len(line) <= width and "3/6" in line
    assert bar_line("auditing", 3, 6, "brightcart-home", 79, elapsed=3.0).startswith("auditing [")
    assert "eta 0:03" in bar_line("auditing", 3, 6, "x", 79, elapsed=3.0)


# -- the command line on a real terminal ------------------------------------------------------------------------


def on_terminal(args: list[str], *, stdout_too: bool = True, env: dict[str, str] | None = None,
                cwd: Path = ROOT) -> tuple[int, str]:
    """Run `audit ARGS` with stderr (and stdout) on a pseudo-terminal: exit code and every byte it got."""
    code, raw = run_on_terminal([sys.executable, "-m", "auditor", *args], stdout_too=stdout_too, cwd=cwd,
                                stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1767225600",
                                     "COLUMNS": "80", **(env or {})})
    return code, raw.decode("utf-8")


def screen(raw: str) -> list[str]:
    """What a terminal shows after `raw`: carriage returns, erased lines and colour codes played out."""
    lines, row, col = [""], 0, 0
    for tok in re.findall(r"\x1b\[[0-9;]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", raw):
        if tok == "\r":
            col = 0
        elif tok == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif tok == "\x1b[K":
            lines[row] = lines[row][:col]
        elif not tok.startswith("\x1b["):
            line = lines[row].ljust(col)
            lines[row] = line[:col] + tok + line[col + len(tok):]
            col += len(tok)
    return lines[:-1] if lines[-1] == "" else lines


def audit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600", **(env or {})}, timeout=120)


def test_report_on_a_terminal_is_coloured_fits_and_the_bar_leaves_no_trace():
    code, raw = on_terminal(["--offline", "fixtures/"])
    assert code == 1
    assert "\x1b[1;31mCRITICAL\x1b[0m" in raw and "auditing [" in raw  # colours, and a bar was drawn
    shown = screen(raw)
    assert max(map(len, shown)) <= 80
    assert not [line for line in shown if "auditing" in line]  # cleared, never written over by the report
    piped = audit("--offline", "fixtures/", env={"COLUMNS": "80"})
    assert shown == piped.stdout.rstrip("\n").split("\n")  # exactly the report, line for line


@pytest.mark.parametrize("how", [{"env": {"NO_COLOR": "1"}}, {"args": ["--no-color"]}])
def test_no_color_and_NO_COLOR_switch_colour_off(how):
    code, raw = on_terminal(["--offline", "fixtures/", *how.get("args", [])], env=how.get("env"))
    assert code == 1 and "CRITICAL" in raw
    assert not SGR.search(raw)


def test_progress_bar_on_stderr_of_a_terminal(tmp_path):
    code, raw = on_terminal(["--offline", "fixtures/", "-o", str(tmp_path / "r.txt")], stdout_too=False,
                            env={"COLUMNS": "60"})
    assert code == 1
    draws = [d for d in raw.split("\r\x1b[K") if d]
    assert draws[0].startswith("auditing [") and f"{SAMPLES}/{SAMPLES}" in raw
    bars = [d for d in draws if d.startswith("auditing")]
    assert all(len(d) <= 59 for d in bars)  # narrower than the terminal: no wrap at its last column
    assert screen(raw) == [f"audit: wrote {tmp_path / 'r.txt'} ({SAMPLES} client(s))"]  # the bar was cleared
    assert not SGR.search(raw)


def test_no_progress_when_stderr_is_not_a_terminal():
    p = audit("--offline", "fixtures/", "--format", "json")
    assert p.returncode == 1 and p.stderr == ""
    assert "auditing" not in p.stderr and "\r" not in p.stderr and "\x1b" not in p.stdout


def test_verbose_prints_a_plain_line_per_client():
    code, raw = on_terminal(["--offline", "fixtures/", "-v"], stdout_too=False)
    assert code == 1 and "\r" not in raw.replace("\r\n", "\n") and "\x1b" not in raw
    lines = raw.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("audit: config: ") and lines[1].startswith("audit: rules: ")  # what is in effect
    assert lines[2] == f"audit: auditing 1/{SAMPLES}: brightcart-home" and len(lines) == SAMPLES + 2


def test_quiet_clean_run_prints_nothing_on_stderr():
    code, raw = on_terminal(["-q", "--offline", "fixtures/"], stdout_too=False)
    assert code == 1 and raw == ""
    code, raw = on_terminal(["--offline", "fixtures/northwind-outfitters", "-q"], stdout_too=False)
    assert code == 0 and raw == ""


def test_errors_are_printed_above_the_bar(tmp_path):
    root = tmp_path / "clients"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("README.md"))
    (root / "keystone-legal/ga4/events.json").write_text('{"rows": [', encoding="utf-8")
    code, raw = on_terminal(["--offline", str(root), "--format", "json"], stdout_too=False)
    assert code == 3 and "auditing [" in raw
    shown = screen(raw)
    assert len(shown) == 1 and shown[0].startswith("audit: error: client keystone-legal:")


@pytest.mark.parametrize("args", [["rules", "-q"], ["rules", "-v"], ["explain", "-q", "split-event-naming"],
                                  ["-q", "rules"]])
def test_rules_and_explain_accept_quiet_and_verbose(args):
    p = audit(*args)
    assert p.returncode == 0 and p.stderr == "" and "split-event-naming" in p.stdout


@pytest.mark.parametrize("args", [["rules", "-q", "-v"], ["auth", "check", "-q", "-v"],
                                  ["record", "--out", "x", "-q", "-v"]])
def test_quiet_with_verbose_is_a_usage_error(args):
    p = audit(*args)
    assert p.returncode == 2 and "--quiet and --verbose cannot be combined" in p.stderr


def test_auth_check_accepts_quiet(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOGLE_")}
    p = subprocess.run([sys.executable, "-m", "auditor", "auth", "check", "-q"], capture_output=True, text=True,
                       cwd=ROOT, env={**env, "HOME": str(tmp_path)}, timeout=120)
    assert p.returncode == 2 and p.stderr == "" and p.stdout.startswith("GA4: not configured")


@pytest.mark.parametrize("width", [80, 60])
def test_rules_and_explain_fit_the_terminal(width):
    for args in (["rules"], ["explain", "micro-primary-goal"]):
        p = audit(*args, env={"COLUMNS": str(width)})
        long = [x for x in p.stdout.splitlines() if len(x) > width and not x.startswith("  - ")]  # links whole
        assert p.returncode == 0 and not long, long


# -- audit record against the fake Google APIs -----------------------------------------------------------------

RECORDED = {  # client -> (GA4 property, Ads customer), as in fixtures/
    "northwind-outfitters": ("318406725", "4821937560"),
    "keystone-legal": ("301772468", "2609718453"),
    "harbor-dental": (None, "9134528670"),
    "fieldnotes-media": ("287315904", None),
}
DEV_TOKEN = "dev-token-terminal"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.fakes.ads_server import FakeAdsServer, install_test_ca
    from tests.fakes.ga4_server import FakeGA4

    base = tmp_path_factory.mktemp("live")
    served = base / "served"
    for name in RECORDED:
        shutil.copytree(FIXTURES / name, served / name)
    install_test_ca()
    with FakeGA4(served) as ga4, FakeAdsServer(served, developer_token=DEV_TOKEN) as ads:
        clients = [{"name": n, **({"property": p} if p else {}),
                    **({"customer": f"{c[:3]}-{c[3:6]}-{c[6:]}"} if c else {})} for n, (p, c) in RECORDED.items()]
        (base / "auditor.yaml").write_text(yaml.safe_dump({"clients": clients}, sort_keys=False), encoding="utf-8")
        key = ga4.service_account_key(base / "sa.json", email="auditor@example-project.iam.gserviceaccount.com")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_ADS_", "AUDITOR_"))}
        env.update({"HOME": str(base), "AUDITOR_GA4_ADMIN_ENDPOINT": ga4.url, "AUDITOR_GA4_DATA_ENDPOINT": ga4.url,
                    "AUDITOR_ADS_ENDPOINT": ads.endpoint, "AUDITOR_RETRY_INITIAL": "0.01",
                    "GOOGLE_ADS_DEVELOPER_TOKEN": DEV_TOKEN, "GOOGLE_ADS_JSON_KEY_FILE_PATH": str(key)})
        yield base, ["--config", str(base / "auditor.yaml"), "--ga4-credentials", str(key)], env


def test_record_shows_progress_on_a_terminal_and_is_quiet_with_q(live):
    base, args, env = live
    code, raw = on_terminal(["record", "--out", str(base / "rec"), *args], stdout_too=False, env=env)
    assert code == 0, raw
    n = len(RECORDED)
    assert "recording [" in raw and f"{n}/{n}" in raw
    assert screen(raw) == [f"audit: recorded {n} of {n} client(s) in {base / 'rec'}"]
    assert json.loads((base / "rec/manifest.json").read_text())["tool"]["name"] == "auditor"
    code, raw = on_terminal(["record", "--out", str(base / "rec2"), "-q", *args], stdout_too=False, env=env)
    assert code == 0 and raw == ""
    code, raw = on_terminal(["record", "--out", str(base / "rec3"), "-v", *args], stdout_too=False, env=env)
    assert code == 0 and "audit: recording 1/4: northwind-outfitters" in raw and "recording [" not in raw
