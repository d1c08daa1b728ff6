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
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERGE = os.path.join(ROOT, "target", "release", "verge")
PROJECT = os.path.join(ROOT, "examples", "hello")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(port, threads):
    return subprocess.Popen(
        [VERGE, "dev", PROJECT, "--port", str(port), "--threads", str(threads)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "VERGE_LOG": "warn"},
    )


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def startup_times(runs, threads):
    times = []
    for _ in range(runs):
        port = free_port()
        started = time.perf_counter()
        process = start(port, threads)
        deadline = started + 10
        while not http_ok(port):
            if time.perf_counter() > deadline or process.poll() is not None:
                stop(process)
                sys.exit("verge dev did not answer within 10 s")
            time.sleep(0.0002)
        times.append((time.perf_counter() - started) * 1000)
        stop(process)
    return times


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(seconds, connections, threads):
    port = free_port()
    process = start(port, threads)
    deadline = time.time() + 10
    while not http_ok(port):
        if time.time() > deadline:
            stop(process)
            sys.exit("verge dev did not start")
        time.sleep(0.01)
    idle_rss = rss_kib(process.pid)
    before = cpu_seconds(process.pid)
    wrk = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(process.pid) - before
    loaded_rss = rss_kib(process.pid)
    stop(process)
    requests = int(re.search(r"(\d+) requests in", wrk).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", wrk, re.M))
    return {
        "requests": requests,
        "errors": int(errors.group(1)) if errors else 0,
        "rps": requests / seconds,
        "cpu_s": cpu,
        "us_per_request": cpu / requests * 1e6,
        "rps_per_core": requests / cpu if cpu else float("inf"),
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "idle_rss_mib": idle_rss / 1024,
        "loaded_rss_mib": loaded_rss / 1024,
    }


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
