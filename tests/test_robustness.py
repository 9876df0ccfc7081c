"""Nothing stops the run, nothing passes unseen: every sample fixture file mutated node by node, and the shapes of
absence, each audited as a user's run would meet them.

The mutation test walks every node of every sample fixture file and replaces a seeded sample of them (the same
on every run) with what hostile or broken exports hold: NaN and infinities, numbers beyond a double, negative
counts, wrong types, control characters and lone surrogates, and documents nested past any parser. Each mutated
client must come back as a result (ok, incomplete or errored) that serialises and renders in every format, and a
run over a folder of them must keep the healthy clients and print a whole JSON document.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import render

from auditor.audit import audit_client_folder
from auditor.conventions import FORMATS
from auditor.result import ClientResult
from auditor.ruleset import Ruleset
from auditor.text import json_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FILES = sorted(p.relative_to(FIXTURES) for p in FIXTURES.glob("*/*/*.json"))
PER_KIND = 4  # nodes mutated per file and kind (seeded): about 1,500 audits in all

# Raw JSON text a mutation puts in place of a node (json.dumps cannot write most of these).
KINDS: dict[str, str] = {
    "nan": "NaN", "infinity": "-Infinity", "beyond-double": "1e309", "huge-int": "9" * 5000,
    "negative": "-7", "negative-string": '"-12"', "string": '"\\u001b[2J\\u001b]0;owned\\u0007\\u202e"',
    "lone-surrogate": '"\\ud800x"', "bool": "true", "null": "null", "object": '{"x": [1, {"y": null}]}',
    "list": "[1, \"a\"]",
}
MARK = "\u0000mutation\u0000"


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _mutated(doc: Any, path: tuple[Any, ...], raw: str) -> str:
    copy = json.loads(json.dumps(doc))
    parent = copy
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = MARK
    return json.dumps(copy, indent=1).replace(json.dumps(MARK), raw)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return Ruleset.load()


def _check(result: ClientResult) -> None:
    assert result.status in ("ok", "incomplete", "error"), result.status
    json_text(result.to_json())  # serialisable as the canonical result
    for fmt in (f for f in FORMATS if f != "pdf"):  # the PDF engine is tested on its own (a browser per call)
        text = render(fmt, [result])
        if fmt == "json":
            json.loads(text)
    assert "nan" not in " ".join(f.message for f in result.findings).split()


@pytest.mark.parametrize("rel", FILES, ids=str)
def test_every_node_mutated_gives_a_result_never_a_crash(rel: Path, tmp_path: Path, ruleset: Ruleset) -> None:
    client = rel.parts[0]
    doc = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
    paths = _paths(doc)
    rng = random.Random(str(rel))
    folder = tmp_path / client
    shutil.copytree(FIXTURES / client, folder)
    target = folder / Path(*rel.parts[1:])
    for kind, raw in KINDS.items():
        for path in rng.sample(paths, min(PER_KIND, len(paths))):
            target.write_text(_mutated(doc, path, raw), encoding="utf-8")
            result, _ = audit_client_folder(folder, ruleset)
            _check(result)
            if result.status == "error":  # one line naming the file (and field), never a crash
                (error,) = result.errors
                assert "\n" not in error and error.startswith(str(folder)), (kind, path, error)
                assert "could not be audited" not in error, (kind, path, error)  # foreseen: a clear message


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"rows": [' + "9" * 5000 + "]}", "invalid JSON"),
])
def test_files_no_parser_can_read_are_one_line(tmp_path: Path, ruleset: Ruleset, text: str, problem: str) -> None:
    folder = tmp_path / "client"
    shutil.copytree(FIXTURES / "keystone-legal", folder)
    (folder / "ga4/events.json").write_text(text, encoding="utf-8")
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error" and problem in result.errors[0]
    assert str(folder / "ga4/events.json") in result.errors[0]


def _set_metric(folder: Path, action: int, field: str, raw: str) -> None:
    path = folder / "ads/conversion_stats.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc[0]["results"][action]["metrics"][field] = MARK
    path.write_text(json.dumps(doc).replace(json.dumps(MARK), raw), encoding="utf-8")


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e309", '"NaN"'])
def test_non_finite_numbers_are_errors_naming_file_and_field(tmp_path: Path, ruleset: Ruleset, raw: str) -> None:
    folder = tmp_path / "keystone-legal"
    shutil.copytree(FIXTURES / "keystone-legal", folder)
    _set_metric(folder, 0, "conversions", raw)
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error"
    shown = {"NaN": "NaN", "Infinity": "Infinity", "1e309": "Infinity", '"NaN"': "'NaN'"}[raw]
    assert result.errors == [f"{folder}/ads/conversion_stats.json: results[0].metrics.conversions: expected a "
                                f"finite number, got {shown}"]


def test_negative_counts_are_errors_and_negative_values_unknown(tmp_path: Path, ruleset: Ruleset) -> None:
    folder = tmp_path / "keystone-legal"
    shutil.copytree(FIXTURES / "keystone-legal", folder)
    _set_metric(folder, 1, "conversionsValue", "-40")  # a restatement: read as unknown, with a warning
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "ok"
    assert any("metrics.conversionsValue: negative value -40, treated as unknown" in w for w in result.warnings)
    events = folder / "ga4/events.json"
    events.write_text(events.read_text(encoding="utf-8").replace('"3016"', '"-3016"', 1), encoding="utf-8")
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error" and "expected a count of at least 0" in result.errors[0]
    assert "(totalUsers)" in result.errors[0]


# --- the shapes of absence -----------------------------------------------------------------------------------


def test_a_source_folder_without_its_files_is_an_error_not_a_better_score(tmp_path: Path, ruleset: Ruleset) -> None:
    folder = tmp_path / "brightcart-home"
    shutil.copytree(FIXTURES / "brightcart-home", folder)
    shutil.rmtree(folder / "ads")
    (folder / "ads").mkdir()
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error" and "ads: holds no response file of the layout (no file;" in result.errors[0]
    (folder / "ads/conversion-actions.json").write_text("{}", encoding="utf-8")  # a name the layout does not know
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error" and "only conversion-actions.json" in result.errors[0]


def test_an_unknown_file_beside_the_layout_is_a_warning(tmp_path: Path, ruleset: Ruleset) -> None:
    folder = tmp_path / "keystone-legal"
    shutil.copytree(FIXTURES / "keystone-legal", folder)
    (folder / "ads/conversion_action.json").write_text("{}", encoding="utf-8")  # a typo of conversion_actions
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "ok"
    assert f"{folder}/ads/conversion_action.json: not a file of the layout; ignored" in result.warnings


@pytest.mark.parametrize("link", ["..", ".", "/etc", "loop"])
def test_a_source_symlink_that_loops_or_leaves_the_client_is_refused(tmp_path: Path, ruleset: Ruleset,
                                                                      link: str) -> None:
    folder = tmp_path / "keystone-legal"
    shutil.copytree(FIXTURES / "keystone-legal", folder)
    shutil.rmtree(folder / "ga4")
    if link == "loop":
        (folder / "loop").symlink_to(folder / "ga4")
        (folder / "ga4").symlink_to(folder / "loop")
    else:
        (folder / "ga4").symlink_to(link)
    result, _ = audit_client_folder(folder, ruleset)
    assert result.status == "error" and result.errors[0].startswith(f"{folder}/ga4: a symbolic link that")


def test_a_run_over_broken_and_hostile_clients_keeps_the_others_and_a_whole_document(tmp_path: Path) -> None:
    root = tmp_path / "clients"
    for name in ("keystone-legal", "northwind-outfitters", "lumen-analytics"):
        shutil.copytree(FIXTURES / name, root / name)
    deep = root / "deep-nesting"
    shutil.copytree(FIXTURES / "keystone-legal", deep)
    (deep / "ads/conversion_actions.json").write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    nan_id = root / "nan-id"
    shutil.copytree(FIXTURES / "harbor-dental", nan_id)
    path = nan_id / "ads/conversion_actions.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"id": "', '"id": NaN, "x": "', 1), encoding="utf-8")
    hostile = root / "hostile\u202e\x1b[2J"
    shutil.copytree(FIXTURES / "keystone-legal", hostile)
    events = hostile / "ga4/events.json"
    events.write_text(events.read_text(encoding="utf-8").replace('"video_start"', '"video_\\ud800start\\u0007"'),
                      encoding="utf-8")
    (root / "empty-ads").mkdir()
    (root / "empty-ads/ads").mkdir()
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", str(root), "--format", "json"],
                       capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=120)
    assert p.returncode == 3, p.stderr
    doc = json.loads(p.stdout.decode("utf-8"))
    status = {c["name"]: c["status"] for c in doc["clients"]}
    assert {n: status[n] for n in ("keystone-legal", "northwind-outfitters", "lumen-analytics")} == dict.fromkeys(
        ("keystone-legal", "northwind-outfitters", "lumen-analytics"), "ok")
    assert status["deep-nesting"] == status["nan-id"] == status["empty-ads"] == "error"
    assert len(doc["clients"]) == 7 and doc["summary"]["clients"] == 7
    stderr = p.stderr.decode("utf-8", "replace")
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert "\x1b" not in stderr and "\u202e" not in stderr
    for line in stderr.splitlines():
        assert line.startswith("audit: "), line


# --- warnings: once per file and field, with a count ------------------------------------------------------------


def test_an_unknown_enum_value_everywhere_is_one_warning_line_with_a_count(tmp_path: Path) -> None:
    root = tmp_path / "clients"
    for i in range(4):
        folder = root / f"harbor-{i}"
        shutil.copytree(FIXTURES / "harbor-dental", folder)
        path = folder / "ads/conversion_actions.json"
        path.write_text(path.read_text(encoding="utf-8").replace('"origin": "WEBSITE"', '"origin": "HOLOGRAM"'),
                        encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", str(root), "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 1, p.stderr
    warnings = [line for line in p.stderr.splitlines() if line.startswith("audit: warning:")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("audit: warning: ads/conversion_actions.json: results[*].conversionAction.origin: "
                                  "unknown value 'HOLOGRAM', treated as unknown (")
    assert "in 4 clients)" in warnings[0]
    doc = json.loads(p.stdout)  # each client's JSON keeps its own warnings in full
    assert all(any("HOLOGRAM" in w for w in c["warnings"]) for c in doc["clients"])
    p = subprocess.run([sys.executable, "-m", "auditor", "run", "--offline", str(root), "-o", str(tmp_path / "out"),
                        "--no-history", "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 1 and p.stderr == ""  # --quiet: errors only, and there are none


def test_audit_render_of_a_damaged_result_renders_the_rest(tmp_path: Path) -> None:
    saved = tmp_path / "result.json"
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", "fixtures", "--format", "json", "-o",
                        str(saved)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    doc = json.loads(saved.read_text(encoding="utf-8"))
    doc["clients"][1] = {"name": "broken\x1b[2J"}
    doc["clients"].append(5)
    saved.write_text(json.dumps(doc), encoding="utf-8")
    for fmt in ("json", "table", "markdown", "html", "csv"):
        p = subprocess.run([sys.executable, "-m", "auditor", "render", str(saved), "--format", fmt],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert p.returncode == 3, p.stderr  # incomplete, as `audit` exits; the rest still rendered
        assert p.stderr.count("could not be read") == 2 and "\x1b" not in p.stderr + p.stdout
        assert "northwind-outfitters" in p.stdout
        if fmt == "json":
            assert len(json.loads(p.stdout)["clients"]) == len(doc["clients"])
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "auditor", "render", str(deep)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert p.returncode == 2 and p.stderr == f"audit: error: {deep}: not an auditor JSON result (nested too deeply)\n"
