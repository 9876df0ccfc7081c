"""Benchmark: a live audit of many clients against the loopback fakes, and the CLI's start-up.

    /work/venv/bin/python bench/bench_live.py [--clients 100] [--latency 0.05] [--jobs 4 8 16] [--sample NAME]

Each client is one GA4 property and one Google Ads customer served by the fakes of tests/fakes with a fixed
latency per API call. The fakes run in a child process, as Google does, so their own CPU does not compete with
the auditor's for the GIL. The run goes through `auditor.live` exactly as `audit --config` does (shared
connectors, bounded pool, results in order, each audited). Ideal wall time = calls x latency / jobs; the ratio
says how much the pool, the client libraries and the audit itself add. The calls each client cost are reported per
source (GA4: 6 when nothing pages, plus the funnel reports its plan reads; Google Ads: 10 searchStream queries, 11
when a campaign bids on a custom goal) beside what `auditor.live.CALLS_PER_CLIENT` documents. Then `audit --help`
start-up time, and `python -X importtime` proving it imports no Google library.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The client every served copy is made of: northwind-outfitters has both sources and every optional file, needs no
# funnel report and uses no custom goal; lumen-analytics (--sample) adds the 3 funnel reports of a low-volume
# account and the custom-goal query of its proxy campaign.
SAMPLE = ROOT / "fixtures" / "northwind-outfitters"


def serve(kind: str, fake, clients: int, sample: Path) -> list[tuple[str, str]]:
    """Register `clients` copies of the sample client under distinct ids; returns (property, customer) pairs."""
    from auditor.connectors.offline import read_body_file
    from auditor.raw import GA4_FILES

    base = {k: read_body_file(sample / k, k) for k in GA4_FILES if (sample / k).is_file()}
    pairs = []
    for i in range(clients):
        pid, cid = str(500000000 + i), str(5000000000 + i)
        if kind == "ga4":
            bodies = json.loads(json.dumps(base))
            bodies["ga4/property.json"][0]["name"] = f"properties/{pid}"
            fake.add_property(bodies)
        else:
            fake.customers[cid] = sample
        pairs.append((pid, cid))
    return pairs


def run_live(pairs: list[tuple[str, str]], jobs: int, keys: dict[str, Path]) -> tuple[float, float, dict[str, int],
                                                                                        int]:
    """Wall time, this process's CPU time, calls made and clients audited ok."""
    from auditor.cli import load_ruleset
    from auditor.live import Live, Target, iter_live

    ruleset = load_ruleset(None, None)
    targets = [Target(f"client-{i:03d}", pid, cid) for i, (pid, cid) in enumerate(pairs)]
    live = Live(str(keys["ga4"]), None, jobs)
    started, cpu = time.perf_counter(), time.process_time()
    ok = sum(1 for r in iter_live(targets, ruleset, jobs, live) if r.status == "ok")
    return time.perf_counter() - started, time.process_time() - cpu, live.calls(), ok


def help_timing(runs: int = 5) -> tuple[float, list[str]]:
    cmd = [sys.executable, "-m", "auditor", "--help"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "auditor", "--help"], capture_output=True,
                       text=True, check=True, cwd=ROOT)
    imported = [line.split("|")[-1].strip() for line in p.stderr.splitlines() if "|" in line]
    google = sorted({m for m in imported if m.split(".")[0] in ("google", "grpc", "proto")})
    return statistics.median(times), google


def live_import_cost() -> float:
    """What the live path pays once to import the client libraries (for contrast with --help)."""
    code = ("import time; t = time.perf_counter(); import auditor.connectors.ga4, auditor.connectors.ads; "
            "print(time.perf_counter() - t)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(p.stdout)


def serve_forever(kind: str, clients: int, latency: float, sample: Path) -> None:
    """Child process: start one fake, print where it is, serve until stdin closes. One process per API, as
    Google's servers are not one Python process: a fake's own CPU then slows the auditor as little as it can."""
    info: dict[str, object] = {}
    if kind == "ga4":
        from tests.fakes.ga4_server import FakeGA4

        tmp = Path(tempfile.mkdtemp(prefix="auditor-bench-"))
        fake = FakeGA4(latency=latency).start()
        info = {"ga4": fake.url, "keys": {"ga4": str(fake.service_account_key(tmp / "ga4.json")),
                                          "ads": str(fake.service_account_key(tmp / "ads.json"))}}
    else:
        from tests.fakes.ads_server import FakeAdsServer, install_test_ca

        install_test_ca()
        fake = FakeAdsServer(latency=latency).start()
        info = {"ads": fake.endpoint, "ca": os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]}
    info["pairs"] = serve(kind, fake, clients, sample)
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    fake.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every API call")
    ap.add_argument("--jobs", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--sample", default=SAMPLE.name, help="sample client (fixtures/NAME) each served copy is made of")
    ap.add_argument("--serve", choices=["ga4", "ads"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    sample = ROOT / "fixtures" / args.sample
    if args.serve:
        serve_forever(args.serve, args.clients, args.latency, sample)
        return

    children = [subprocess.Popen([sys.executable, __file__, "--serve", kind, "--clients", str(args.clients),
                                  "--latency", str(args.latency), "--sample", args.sample], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT) for kind in ("ga4", "ads")]
    try:
        info: dict = {}
        for child in children:
            info.update(json.loads(child.stdout.readline()))
        keys = {k: Path(v) for k, v in info["keys"].items()}
        pairs = [tuple(p) for p in info["pairs"]]
        os.environ.update({  # before grpc opens its first secure channel in this process
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": info["ca"],
            "AUDITOR_GA4_ADMIN_ENDPOINT": info["ga4"], "AUDITOR_GA4_DATA_ENDPOINT": info["ga4"],
            "AUDITOR_ADS_ENDPOINT": info["ads"],  # no developer token: not needed
            "GOOGLE_ADS_JSON_KEY_FILE_PATH": str(keys["ads"]),
        })
        run_live(pairs[:2], 2, keys)  # warm up: imports, TLS, first token
        rows = []
        per_source: dict[str, float] = {}
        for jobs in args.jobs:
            wall, cpu, calls, ok = run_live(pairs, jobs, keys)
            total = calls.get("ga4", 0) + calls.get("ads", 0) + calls.get("ads_retries", 0)
            ideal = total * args.latency / jobs
            rows.append((jobs, total / args.clients, total, ideal, wall, wall / ideal, cpu, ok))
            per_source = {k: v / args.clients for k, v in calls.items()}
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=30)

    print(f"\nlive audit: {args.clients} copies of {args.sample} (GA4 property + Ads customer each), "
          f"{args.latency * 1000:.0f} ms per call\n")
    print(f"{'jobs':>4}  {'calls/client':>12}  {'calls':>6}  {'ideal s':>8}  {'wall s':>7}  {'wall/ideal':>10}  "
          f"{'CPU s':>6}  {'ok':>4}")
    for jobs, per, total, ideal, wall, ratio, cpu, ok in rows:
        print(f"{jobs:>4}  {per:>12.1f}  {total:>6}  {ideal:>8.2f}  {wall:>7.2f}  {ratio:>10.2f}  {cpu:>6.2f}  "
              f"{ok:>4}")
    print("(CPU s: the auditor process's own CPU, client libraries and audit: the floor when jobs grow)")
    from auditor.live import CALLS_PER_CLIENT as doc

    print(f"\ncalls per client (last run): GA4 {per_source.get('ga4', 0):.1f} (documented: {doc['ga4']}, plus up to "
          f"{doc['ga4_funnels']} funnel reports), Google Ads {per_source.get('ads', 0):.1f} (documented: {doc['ads']}, "
          f"plus {doc['ads_custom_goals']} when a campaign bids on a custom goal), Ads retries "
          f"{per_source.get('ads_retries', 0):.1f}")
    median, google = help_timing()
    print(f"\naudit --help: {median * 1000:.0f} ms (median of 5); Google modules imported: "
          f"{', '.join(google) if google else 'none'}")
    print(f"live path, one-off import of the client libraries: {live_import_cost() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
