#!/usr/bin/env python3
"""WebAssembly beside workerd and Deno, one run, one table: the same module (bench/workers/sha256.wat,
SHA-256 in Wasm; eight digests of 16 KiB per request, bench/workers/wasm.js) served by each runtime,
and on Verge also the same computation in JavaScript (bench/workers/sha256.js), driven by wrk.

For each row: requests/s, requests/s per core of the server's own CPU (all its threads, from
/proc), Verge's ratio to it, latency p50/p99, errors, RSS after the load.

Usage: python3 bench/wasm.py [--seconds 10] [--connections 50] [--peers workerd,deno]
Needs: cargo build --release; wrk (apt-get install wrk); the peers, installed by this script from
npm into bench/.peers.
"""

import argparse
import os
import shutil
import sys
import tempfile

from common import VERGE, free_port, measure_load, stop, tree_rss_kib, wait_ready
from runtimes import install_peers, start


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
    cells = [("verge", "wasm"), ("verge", "sha256"), *[(peer, "wasm") for peer in peers]]
    work = tempfile.mkdtemp(prefix="verge-bench-")
    rows = {}
    try:
        for runtime, worker in cells:
            port = free_port()
            process = start(runtime, binaries, work, port, worker)
            wait_ready(port, process)
            result = measure_load(process.pid, f"http://127.0.0.1:{port}/", args.seconds, args.connections)
            result["loaded_mib"] = tree_rss_kib(process.pid) / 1024
            rows[(runtime, worker)] = result
            stop(process)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = rows[("verge", "wasm")]["rps_per_core"]
    print(f"wrk -c {args.connections} for {args.seconds} s per row, one run, {os.cpu_count()} cores shared with wrk; "
          "verge dev --threads 1")
    print(f"{'runtime':<8} {'code':<5} {'req/s':>8} {'req/s/core':>11} {'verge wasm ÷':>13} {'p50':>9} {'p99':>9} "
          f"{'errors':>7} {'RSS loaded':>11}")
    for (runtime, worker), r in rows.items():
        ratio = base / r["rps_per_core"] if r["rps_per_core"] else float("nan")
        code = "js" if worker == "sha256" else "wasm"
        print(f"{runtime:<8} {code:<5} {r['rps']:>8.0f} {r['rps_per_core']:>11.0f} {ratio:>13.2f} "
              f"{r['p50']:>9} {r['p99']:>9} {r['errors']:>7} {r['loaded_mib']:>7.0f} MiB")


if __name__ == "__main__":
    main()
