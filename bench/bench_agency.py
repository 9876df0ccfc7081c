"""Benchmark: an offline agency run (`audit run`) of many clients, history written, e-mail to a loopback server.

    /work/venv/bin/python bench/bench_agency.py [--clients 500 1000] [--owners]

Client folders are copies of the five sample fixtures with distinct names and ids. Each size runs twice: a first
run (empty history) and a second (every client compared with its previous result: the weekly case). Every run
writes clients/<name>.json|html|csv, summary.json|csv|html and the history, and e-mails the summary to an
aiosmtpd server on 127.0.0.1 (its own process); with --owners every client also has an owner address (one
e-mail per client). Wall time and peak RSS are those of the `audit run` process alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "fixtures"
_ID = re.compile(r"(properties/|customers/|\"customer\": \"|\"property\": \")(\d{6,})")


def make_clients(root: Path, n: int, owners: bool) -> None:
    """n client folders cycling through the fixtures; property and customer ids shifted per copy."""
    samples = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    files = {s: {f.relative_to(s): f.read_text(encoding="utf-8") for f in s.rglob("*") if f.is_file()}
             for s in samples}
    for i in range(n):
        sample = samples[i % len(samples)]
        dst = root / f"client-{i:04d}-{sample.name}"
        for rel, text in files[sample].items():
            path = dst / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if rel.suffix == ".json":
                text = _ID.sub(lambda m, shift=i * 7919: m.group(1) + str(int(m.group(2)) + shift), text)
            elif rel.name == "client.yaml" and owners:
                text += f"\nrecipients: [owner-{i:04d}@client.example]\n"
            path.write_text(text, encoding="utf-8")


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stderr tail) of one process.

    Peak RSS comes from GNU time when installed, else from wait4; either way the bench process stays small
    (the SMTP server runs in its own process), because a child's peak includes the image it was forked from."""
    err = tempfile.NamedTemporaryFile(suffix=".log")
    out = tempfile.NamedTemporaryFile(suffix=".time")
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    full = [gnu_time, "-f", "%M", "-o", out.name, *cmd] if gnu_time else cmd
    started = time.perf_counter()
    p = subprocess.Popen(full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    peak_kib = int(Path(out.name).read_text().split()[-1]) if gnu_time else usage.ru_maxrss
    tail = Path(err.name).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-2:]
    return wall, peak_kib / 1024, code, " | ".join(tail)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(maildir: Path) -> tuple[subprocess.Popen, int]:
    """aiosmtpd in its own process, storing each message in a maildir (counted afterwards)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Mailbox", str(maildir)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the SMTP server did not start")


def count_mails(maildir: Path) -> int:
    return sum(1 for _ in (maildir / "new").iterdir()) if (maildir / "new").is_dir() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[500, 1000])
    ap.add_argument("--owners", action="store_true", help="also one owner e-mail per client")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-agency-"))
    rows: list[tuple] = []
    server, port = start_smtp(tmp / "maildir")
    try:
        for n in args.clients:
            work = tmp / f"n{n}"
            make_clients(work / "clients", n, args.owners)
            (work / "agency.yaml").write_text(
                "output: {dir: out, formats: [json, html, csv]}\n"
                f"email: {{host: 127.0.0.1, port: {port}, security: none, sender: robot@agency.example,"
                " summary_to: [lead@agency.example], timeout: 30}\n", encoding="utf-8")
            for label in ("first", "second"):
                before = count_mails(tmp / "maildir")
                wall, rss, code, tail = measure(
                    [sys.executable, "-m", "auditor", "run", "--config", "agency.yaml", "--offline", "clients",
                     "--quiet"], work)
                if code not in (0, 1):
                    raise SystemExit(f"audit run exited {code}: {tail}")
                db = (work / "out/history.sqlite").stat().st_size / 2**20
                rows.append((n, label, wall, rss, count_mails(tmp / "maildir") - before, db))
                print(f"  {n} clients, {label} run: {wall:.1f} s, {rss:.0f} MiB", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)
    print(f"\n{'clients':>7}  {'run':<6}  {'wall s':>6}  {'ms/client':>9}  {'peak RSS MiB':>12}  {'e-mails':>7}  "
          f"{'history MiB':>11}")
    for n, label, wall, rss, sent, db in rows:
        print(f"{n:>7}  {label:<6}  {wall:>6.1f}  {1000 * wall / n:>9.1f}  {rss:>12.0f}  {sent:>7}  {db:>11.1f}")
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPU(s); budget: 1,000 clients in 30 s, "
          "flat memory")


if __name__ == "__main__":
    main()
