"""Offline audit speed and memory: one client, 500 vs 1,000 clients, and what the offline path imports.

Run: python bench/bench_offline.py [--sizes 500 1000] [--repeat 5]
Targets: one client <= 0.5 s wall (interpreter start included); 1,000 clients <= 15 s; 1,000 clients
<= 2.3x the time of 500; peak memory flat in the number of clients; no google/grpc import; at the largest size,
the JSON format <= 4x and the table format <= 5x the time of a script that only walks the same tree and
`json.loads` every file (the floor of any offline audit, measured side by side in the same run); the table
format's own rendering <= 1 ms per client.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MEASURE = ("import resource, subprocess, sys, time\n"
           "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")


# An installed package runs from compiled bytecode (pip compiles it); a machine that sets PYTHONDONTWRITEBYTECODE
# would recompile every module on every run instead. Measure the auditor as installed.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(args: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one `audit` run in a fresh process."""
    subprocess.run([sys.executable, "-m", "auditor", "--help"], capture_output=True, cwd=ROOT, env=ENV)  # compile
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "auditor", *args],
                         capture_output=True, text=True, cwd=ROOT, check=True, env=ENV).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def make_clients(root: Path, n: int) -> Path:
    """n client folders: copies of the sample clients under new names (hard links where possible)."""
    dest = root / f"clients-{n}"
    samples = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    for i in range(n):
        src = samples[i % len(samples)]
        shutil.copytree(src, dest / f"{src.name}-{i:05d}", copy_function=_link)
    return dest


def _link(src: str, dst: str) -> None:
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


# The floor: a fresh interpreter that walks the tree and parses every JSON file, doing nothing else.
WALK = ("import json, os, sys\n"
        "n = 0\n"
        "for d, _, files in os.walk(sys.argv[1]):\n"
        "    for f in files:\n"
        "        if f.endswith('.json'):\n"
        "            with open(os.path.join(d, f), encoding='utf-8') as fh:\n"
        "                json.loads(fh.read()); n += 1\n")


def walk_floor(folder: Path) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-c", WALK, str(folder)],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return float(out[0])


def render_ms_per_client(fmt: str, repeat: int = 50) -> float:
    """The format's own cost: the sample clients audited once, then rendered `repeat` times in memory."""
    import io

    sys.path.insert(0, str(ROOT))
    from auditor.audit import iter_offline, result_header
    from auditor.outputs.document import write_document
    from auditor.ruleset import Ruleset

    clients = list(iter_offline(FIXTURES, Ruleset.load()))
    header = result_header()
    write_document(io.StringIO(), fmt, header, clients)  # warm: imports, templates
    t = time.perf_counter()
    for _ in range(repeat):
        write_document(io.StringIO(), fmt, header, clients)
    return (time.perf_counter() - t) * 1000 / (repeat * len(clients))


def google_imports() -> list[str]:
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "auditor", "--offline", "fixtures", "--format",
                        "html", "--output", "/dev/null"], capture_output=True, text=True, cwd=ROOT)
    mods = [line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")]
    return sorted({m for m in mods if m.split(".")[0] in ("google", "grpc", "proto")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows = []
    one = [measure(["--offline", "fixtures/brightcart-home", "--format", "json", "-o", "/dev/null"])
           for _ in range(args.repeat)]
    rows.append(("1 client (json)", statistics.median(t for t, _, _ in one), max(m for _, m, _ in one)))
    one = [measure(["--offline", "fixtures", "--format", "table"]) for _ in range(args.repeat)]
    rows.append((f"{len(list(FIXTURES.glob('*/')))} sample clients (table)", statistics.median(t for t, _, _ in one),
                 max(m for _, m, _ in one)))
    ratios: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[int, float] = {}
        for n in args.sizes:
            folder = make_clients(Path(tmp), n)
            floor = statistics.median(walk_floor(folder) for _ in range(3))
            rows.append((f"{n} clients (walk + json.loads)", floor, 0))
            for fmt in ("json", "table"):
                runs = [measure(["--offline", str(folder), "--format", fmt, "-o", str(Path(tmp) / f"out.{fmt}")])
                        for _ in range(3)]
                t, rss = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
                rows.append((f"{n} clients ({fmt})", t, rss))
                if fmt == "json":
                    times[n] = t
                if n == max(args.sizes):
                    ratios.append(f"{n} clients {fmt}: {t / floor:.2f}x the walk (target <= "
                                  f"{4 if fmt == 'json' else 5}x)")
    print(f"{'run':<28}{'wall s':>9}{'peak RSS MiB':>15}")
    for name, t, rss in rows:
        print(f"{name:<28}{t:>9.3f}{rss / 1024:>15.1f}")
    for line in ratios:
        print(line)
    for fmt in ("table", "json", "markdown", "csv", "html"):
        print(f"render {fmt}: {render_ms_per_client(fmt):.3f} ms per client")
    if len(times) >= 2:
        small, big = sorted(times)[:2][0], sorted(times)[-1]
        print(f"ratio {big}/{small} clients: {times[big] / times[small]:.2f}x")
    bad = google_imports()
    print("google/grpc modules imported by the offline path:", ", ".join(bad) if bad else "none")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "auditor", "--help"], capture_output=True, cwd=ROOT, check=True)
    print(f"audit --help: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
