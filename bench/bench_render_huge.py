"""Rendering huge strings: a saved result whose client name or finding message is megabytes long, re-rendered
by `audit render` in every text format, each in its own process (wall time and peak memory).

Run: python bench/bench_render_huge.py [--mb 5 20]
Targets: a 20 MB name or message renders as a table, CSV or Markdown in a few seconds with memory a small
multiple of the document (names are cut at 200 characters and messages at 4,000 before layout; the JSON keeps
them whole); time grows linearly with the size (the 20 MB run <= 6x the 5 MB run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURE = ("import resource, subprocess, sys, time\n"
           "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")


def base_document(tmp: Path) -> dict:
    """A real result (the sample dental clinic, as `audit --offline --format json` writes it)."""
    out = tmp / "base.json"
    subprocess.run([sys.executable, "-m", "auditor", "--offline", str(ROOT / "fixtures/harbor-dental"), "--format",
                    "json", "-o", str(out), "-q"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    return json.loads(out.read_text(encoding="utf-8"))


def document(base: dict, name: str | None, message: str | None) -> dict:
    doc = json.loads(json.dumps(base))
    client = doc["clients"][0]
    if name is not None:
        client["name"] = name
    if message is not None:
        for f in client["findings"]:
            f["message"] = message
    return doc


def run(path: Path, fmt: str) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "auditor", "render", str(path),
                          "--format", fmt, "-q"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    secs, rss, code = out.stdout.split()
    return float(secs), int(rss) // 1024, int(code)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, nargs="+", default=[5, 20])
    args = ap.parse_args()
    words = "one finding message word "
    with tempfile.TemporaryDirectory() as tmp:
        base = base_document(Path(tmp))
        for mb in args.mb:
            big = (words * (mb * 2**20 // len(words) + 1))[: mb * 2**20]
            for what, doc in (("name", document(base, big, None)), ("message", document(base, None, big))):
                path = Path(tmp) / f"{what}-{mb}.json"
                path.write_text(json.dumps(doc), encoding="utf-8")
                for fmt in ("table", "csv", "markdown"):
                    secs, mib, code = run(path, fmt)
                    print(f"{mb:>3} MB {what:<8} {fmt:<9} {secs:6.2f} s  peak {mib:5d} MiB  exit {code}")


if __name__ == "__main__":
    main()
