#!/usr/bin/env python3
"""Benchmarks of `verge dev` serving examples/hello, on loopback.

1. Start-up: wall time from launching `verge dev` to its first successful response (the process
   is started fresh for each run; the client polls the port every 0.2 ms).
2. Throughput and CPU: `wrk` drives the server for a fixed time; the server's own CPU time is read
   from /proc before and after, giving CPU per request and requests/s per core of server CPU,
   beside wrk's latency percentiles.

Usage: python3 bench/hello.py [--runs 20] [--seconds 10] [--connections 50] [--threads 1]
Needs: a release build (cargo build --release) and wrk (apt-get install wrk).
"""

import argparse
import os
import statistics
import sys

from common import VERGE, ROOT, first_response_ms, free_port, measure_load, memory_kib, stop, verge_dev, wait_ready

PROJECT = os.path.join(ROOT, "examples", "hello")


def start(port, threads):
    return verge_dev(PROJECT, port, "--threads", str(threads))


def startup_times(runs, threads):
    return [first_response_ms(lambda port: start(port, threads), seconds=10, name="verge dev") for _ in range(runs)]


def load(seconds, connections, threads):
    port = free_port()
    process = start(port, threads)
    wait_ready(port, process)
    idle_rss = memory_kib(process.pid, "VmRSS")
    result = measure_load(process.pid, f"http://127.0.0.1:{port}/", seconds, connections)
    result["us_per_request"] = result["cpu"] / result["requests"] * 1e6
    result["idle_rss_mib"] = idle_rss / 1024
    result["loaded_rss_mib"] = memory_kib(process.pid, "VmRSS") / 1024
    stop(process)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not os.path.exists(VERGE):
        sys.exit("build first: cargo build --release")

    times = startup_times(args.runs, args.threads)
    print(f"verge dev start to first response ({args.runs} runs): "
          f"p50 {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms")
    r = load(args.seconds, args.connections, args.threads)
    print(f"hello worker, wrk {args.connections} connections for {args.seconds} s, {args.threads} serving thread(s):")
    print(f"  {r['rps']:.0f} requests/s, {r['errors']} errors, latency p50 {r['p50']} p99 {r['p99']}")
    print(f"  server CPU {r['us_per_request']:.1f} µs per request = {r['rps_per_core']:.0f} requests/s per core of server CPU")
    print(f"  RSS idle {r['idle_rss_mib']:.1f} MiB, after load {r['loaded_rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
