#!/usr/bin/env python3
"""Verge beside workerd, Deno and Bun, one run, one table: the same four workers (bench/workers:
hello; headers — cookies, headers, JSON; proxy — fetch a loopback nginx; json — CPU-heavy JSON
and strings) on each runtime, driven by wrk at 50 connections.

For each runtime and worker: requests/s, requests/s per core of the server's own CPU (all its
threads, from /proc) and Verge's ratio to it, latency p50/p99, errors, RSS idle and after the
load; for each runtime, process start to first response (median of --starts runs). Then the cost
per worker with --tenants distinct workers behind one server (bench/tenants.py's measurement):
Verge's `verge serve` beside workerd (one socket per worker) up to --workerd-max workers; Deno
and Bun have no many-tenant server to compare.

`--peers verge-jsc,…` adds Verge on JavaScriptCore (`verge dev --engine jsc`) as a row of its
own; the ratio column stays Verge on QuickJS ÷ each row.

Usage: python3 bench/peers.py [--seconds 10] [--connections 50] [--peers workerd,deno,bun]
                              [--workers hello,headers,proxy,json] [--starts 5]
                              [--tenants 1,100,1000,10000] [--workerd-max 1000]
Needs: cargo build --release; wrk and nginx (apt-get install wrk nginx); the peers, installed by
this script from npm into bench/.peers (npm install workerd deno bun).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

from common import VERGE, first_response_ms, free_port, measure_load, stop, tree_rss_kib, wait_ready
from runtimes import install_peers, start, start_nginx
from tenants import percentiles, run_verge, run_workerd



def start_to_first_response(runtime, binaries, work, runs):
    """Median ms from spawning the runtime (hello worker) to its first 200 response."""
    launch = lambda port: start(runtime, binaries, work, port, "hello")  # noqa: E731
    return statistics.median(first_response_ms(launch, poll=0.0005, name=runtime) for _ in range(runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--peers", default="workerd,deno,bun")
    parser.add_argument("--workers", default="hello,headers,proxy,json")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--tenants", default="1,100,1000,10000")
    parser.add_argument("--workerd-max", type=int, default=1000,
                        help="workerd loads every worker at start, ~1.6 MB each: beyond this it is left out")
    args = parser.parse_args()
    if not os.path.exists(VERGE):
        sys.exit("build first: cargo build --release")
    peers = [p for p in args.peers.split(",") if p]
    workers = [w for w in args.workers.split(",") if w]
    runtimes = ["verge", *peers]
    binaries = install_peers(peers)
    work = tempfile.mkdtemp(prefix="verge-bench-")
    os.chmod(work, 0o755)  # nginx workers run as another user
    nginx, origin = start_nginx(work) if "proxy" in workers else (None, "")
    rows = {}
    starts = {}
    try:
        for runtime in runtimes:
            starts[runtime] = start_to_first_response(runtime, binaries, work, args.starts)
            for worker in workers:
                port = free_port()
                process = start(runtime, binaries, work, port, worker, origin)
                path = "/index.html" if worker == "proxy" else "/"
                wait_ready(port, process, path=path)
                idle = tree_rss_kib(process.pid)
                result = measure_load(process.pid, f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                result["idle_mib"] = idle / 1024
                result["loaded_mib"] = tree_rss_kib(process.pid) / 1024
                rows[(worker, runtime)] = result
                stop(process)
    finally:
        stop(nginx)
        shutil.rmtree(work, ignore_errors=True)

    cores = os.cpu_count()
    print(f"wrk -c {args.connections} for {args.seconds} s per cell, one run, {cores} cores shared with wrk; "
          "verge dev --threads 1")
    print(f"{'worker':<8} {'runtime':<9} {'req/s':>8} {'req/s/core':>11} {'verge ÷':>8} {'÷ workerd':>9} "
          f"{'p50':>9} {'p99':>9} {'errors':>7} {'RSS idle':>9} {'loaded':>8}")
    nan = float("nan")
    for worker in workers:
        base = rows[(worker, "verge")]["rps_per_core"]
        workerd = rows[(worker, "workerd")]["rps_per_core"] if "workerd" in runtimes else 0
        for runtime in runtimes:
            r = rows[(worker, runtime)]
            ratio = base / r["rps_per_core"] if r["rps_per_core"] else nan
            to_workerd = r["rps_per_core"] / workerd if workerd else nan
            print(f"{worker:<8} {runtime:<9} {r['rps']:>8.0f} {r['rps_per_core']:>11.0f} {ratio:>8.2f} {to_workerd:>9.2f} "
                  f"{r['p50']:>9} {r['p99']:>9} {r['errors']:>7} {r['idle_mib']:>6.1f} MiB {r['loaded_mib']:>4.0f} MiB")
    print(f"process start to first response (hello, median of {args.starts}): " +
          ", ".join(f"{runtime} {ms:.1f} ms" for runtime, ms in starts.items()))
    tenant_table([int(n) for n in args.tenants.split(",") if n], "workerd" in peers and binaries["workerd"],
                  args.workerd_max, "verge-jsc" in peers)


def tenant_table(counts, workerd, workerd_max, jsc):
    """Per-worker cost at each count of distinct workers behind one server."""
    if not counts:
        return
    print()
    print(f"{'workers':>7} {'runtime':<8} {'ready ms':>9} {'RSS ready':>10} {'RSS loaded':>11} {'KiB/worker':>11} "
          f"{'first p50':>10} {'first p99':>10}")
    for count in counts:
        runs = {}
        with tempfile.TemporaryDirectory() as work:
            runs["verge"] = run_verge(work, count)
            if jsc:
                runs["verge-jsc"] = run_verge(work, count, engine="jsc")
            if workerd and count <= workerd_max:
                runs["workerd"] = run_workerd(work, count, workerd)
        for name, (ready_ms, ready_rss, loaded_rss, first, _) in runs.items():
            # Verge makes isolates on first requests; workerd loads every worker at start.
            per_worker = (loaded_rss - (ready_rss if name.startswith("verge") else 0)) / count
            p50, p99 = percentiles(first)
            print(f"{count:>7} {name:<9} {ready_ms:9.0f} {ready_rss / 1024:7.1f} MiB {loaded_rss / 1024:8.1f} MiB "
                  f"{per_worker:11.0f} {p50:8.2f} ms {p99:7.2f} ms")


if __name__ == "__main__":
    main()
