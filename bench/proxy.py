#!/usr/bin/env python3
"""The proxy benchmark: the same worker (bench/workers/proxy.js: fetch the origin, add a header)
on Verge, workerd and Deno, against one loopback nginx origin, driven by wrk.

Reports requests/s, requests/s per core of server CPU (the server's own CPU time from /proc,
all threads), latency p50/p99, and the peak RSS above idle while 1 GiB streams through each.

Usage: python3 bench/proxy.py [--seconds 10] [--connections 50] [--peers workerd,deno]
Needs: cargo build --release; wrk and nginx (apt-get install wrk nginx); the peers from npm,
installed by this script into bench/.peers (npm install workerd deno).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import VERGE, free_port, measure_load, stop, tree_rss_kib, wait_ready
from runtimes import GIB, install_peers, start, start_nginx


def stream_peak(pid, url):
    """Peak RSS above idle while 1 GiB streams through the server (sampled every 5 ms)."""
    idle = tree_rss_kib(pid)
    client = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", url],
                              stdout=subprocess.PIPE, text=True)
    peak = idle
    while client.poll() is None:
        peak = max(peak, tree_rss_kib(pid))
        time.sleep(0.005)
    size = int(client.stdout.read() or 0)
    return (peak - idle) / 1024, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--peers", default="workerd,deno")
    args = parser.parse_args()
    if not os.path.exists(VERGE):
        sys.exit("build first: cargo build --release")
    peers = [p for p in args.peers.split(",") if p]
    binaries = install_peers(peers)
    work = tempfile.mkdtemp(prefix="verge-bench-")
    os.chmod(work, 0o755)  # nginx workers run as another user
    nginx, origin = start_nginx(work)
    rows = {}
    try:
        for name in ["verge", *peers]:
            port = free_port()
            process = start(name, binaries, work, port, "proxy", origin)
            wait_ready(port, process, path="/index.html")
            result = measure_load(process.pid, f"http://127.0.0.1:{port}/index.html", args.seconds, args.connections)
            result["stream_mib"], result["streamed"] = stream_peak(process.pid, f"http://127.0.0.1:{port}/1g.bin")
            rows[name] = result
            stop(process)
    finally:
        stop(nginx)
        shutil.rmtree(work, ignore_errors=True)

    base = rows["verge"]
    print(f"proxy worker -> loopback nginx, wrk {args.connections} connections x {args.seconds} s, one run:")
    print(f"{'runtime':<8} {'req/s':>8} {'req/s/core':>11} {'verge ÷':>8} {'p50':>9} {'p99':>9} {'errors':>7} {'1 GiB stream: peak RSS above idle':>36}")
    for name, r in rows.items():
        ratio = base["rps_per_core"] / r["rps_per_core"] if r["rps_per_core"] else float("nan")
        ok = "" if r["streamed"] == GIB else f" (got {r['streamed']} bytes)"
        print(f"{name:<8} {r['rps']:>8.0f} {r['rps_per_core']:>11.0f} {ratio:>8.2f} {r['p50']:>9} {r['p99']:>9} {r['errors']:>7} {r['stream_mib']:>32.1f} MiB{ok}")


if __name__ == "__main__":
    main()
