#!/usr/bin/env python3
"""Many workers behind one server: Verge (`verge serve`, one isolate per worker, created on the
worker's first request) beside workerd (npm `workerd`, every worker loaded at start-up, one
socket each). For N distinct workers it prints, from one run: process start to ready, RSS when
ready, RSS with every worker loaded and the cost per worker, and the latency of each worker's
first request (Verge's cold start) and of a second one.

Requests go one at a time, --gap-ms apart (default 2), as from clients arriving separately
rather than back to back: a server may work between requests (Verge makes the isolate its next
cold start will take then), and both servers get the same pauses.

`--peers verge-jsc` adds Verge on JavaScriptCore (each worker `engine = "jsc"`) as a row.

Usage: python3 bench/tenants.py [--workers 1000] [--peers workerd,verge-jsc] [--gap-ms 2]
Needs `cargo build --release`; installs workerd into bench/.peers (npm) unless --peers "".
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import VERGE, free_port, memory_kib, stop
from runtimes import install_peers


WORKER = """export default {
  fetch(request) {
    const url = new URL(request.url);
    return new Response(`worker %(index)d: ${url.pathname}`, { headers: { 'x-worker': '%(index)d' } });
  },
};
"""


GAP_SECONDS = 0.002


def get(connection, host, path):
    """One request after the gap; its latency in ms. Fails loudly on anything but the expected
    answer."""
    time.sleep(GAP_SECONDS)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or not body.startswith(b"worker "):
        sys.exit(f"unexpected answer from {host}{path}: {response.status} {body[:80]!r}")
    return elapsed


def percentiles(values):
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def wait_for_line(process, needle, seconds):
    deadline = time.time() + seconds
    for line in process.stdout:
        if needle in line:
            return line
        if time.time() > deadline:
            break
    stop(process)
    sys.exit(f"the server did not print {needle!r} within {seconds} s")


def run_verge(work, count, engine="quickjs"):
    port = free_port()
    workers = []
    runtime = "verge" if engine == "quickjs" else f"verge-{engine}"
    for index in range(count):
        project = os.path.join(work, runtime, f"w{index}")
        os.makedirs(project)
        with open(os.path.join(project, "index.js"), "w") as f:
            f.write(WORKER % {"index": index})
        with open(os.path.join(project, "wrangler.toml"), "w") as f:
            f.write(f'name = "w{index}"\nmain = "index.js"\nroute = "w{index}.test/*"\n')
        workers.append(f'[[workers]]\npath = "{runtime}/w{index}"\nengine = "{engine}"\n')
    config = os.path.join(work, "verge.toml")
    with open(config, "w") as f:
        f.write(f'[server]\nlisten = "127.0.0.1:{port}"\n\n' + "".join(workers))
    started = time.perf_counter()
    process = subprocess.Popen([VERGE, "serve", "--config", config, "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "VERGE_LOG": "warn"})
    wait_for_line(process, "Ready on", 600)
    ready_ms = (time.perf_counter() - started) * 1000
    ready_rss = memory_kib(process.pid, "VmRSS")
    connection = http.client.HTTPConnection("127.0.0.1", port)
    first = [get(connection, f"w{i}.test", "/first") for i in range(count)]
    loaded_rss = memory_kib(process.pid, "VmRSS")
    second = [get(connection, f"w{i}.test", "/second") for i in range(count)]
    stop(process)
    return ready_ms, ready_rss, loaded_rss, first, second


def distinct_ports(count):
    """`count` different free ports: every socket stays bound until all are chosen."""
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workerd(work, count, workerd):
    ports = distinct_ports(count)
    project = os.path.join(work, "workerd")
    os.makedirs(project)
    services, sockets, workers = [], [], []
    for index, port in enumerate(ports):
        with open(os.path.join(project, f"w{index}.js"), "w") as f:
            f.write(WORKER % {"index": index})
        services.append(f'(name = "w{index}", worker = .w{index})')
        sockets.append(f'(name = "s{index}", address = "127.0.0.1:{port}", http = (), service = "w{index}")')
        workers.append(f'const w{index} :Workerd.Worker = (modules = [(name = "w{index}.js", '
                       f'esModule = embed "w{index}.js")], compatibilityDate = "2024-09-23");')
    with open(os.path.join(project, "config.capnp"), "w") as f:
        f.write('using Workerd = import "/workerd/workerd.capnp";\n'
                f'const config :Workerd.Config = (services = [{", ".join(services)}], '
                f'sockets = [{", ".join(sockets)}]);\n' + "\n".join(workers) + "\n")
    started = time.perf_counter()
    process = subprocess.Popen([workerd, "serve", os.path.join(project, "config.capnp")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # workerd loads every worker before it listens; ready when the last socket answers.
    deadline = time.time() + 600
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", ports[-1], timeout=5)
            get(connection, "localhost", "/probe")
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                stop(process)
                sys.exit("workerd did not become ready")
            time.sleep(0.02)
    ready_ms = (time.perf_counter() - started) * 1000
    ready_rss = memory_kib(process.pid, "VmRSS")
    connections = [http.client.HTTPConnection("127.0.0.1", port) for port in ports]
    first = [get(c, "localhost", "/first") for c in connections]
    loaded_rss = memory_kib(process.pid, "VmRSS")
    second = [get(c, "localhost", "/second") for c in connections]
    stop(process)
    return ready_ms, ready_rss, loaded_rss, first, second


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--peers", default="workerd")
    parser.add_argument("--gap-ms", type=float, default=2.0)
    args = parser.parse_args()
    global GAP_SECONDS
    GAP_SECONDS = args.gap_ms / 1000
    if not os.path.exists(VERGE):
        sys.exit("build Verge first: cargo build --release")
    runs = {}
    with tempfile.TemporaryDirectory() as work:
        runs["verge"] = run_verge(work, args.workers)
        if "verge-jsc" in args.peers.split(","):
            runs["verge-jsc"] = run_verge(work, args.workers, engine="jsc")
        if "workerd" in args.peers.split(","):
            runs["workerd"] = run_workerd(work, args.workers, install_peers(["workerd"])["workerd"])
    print(f"{args.workers} workers, one run, requests {args.gap_ms:g} ms apart (ms, MiB; per worker: KiB)")
    print(f"{'server':9} {'ready ms':>9} {'RSS ready':>10} {'RSS loaded':>11} {'per worker':>11} "
          f"{'first p50':>10} {'first p99':>10} {'second p50':>11}")
    for name, (ready_ms, ready_rss, loaded_rss, first, second) in runs.items():
        base = ready_rss if name.startswith("verge") else 0
        per_worker = (loaded_rss - base) / args.workers
        first_p50, first_p99 = percentiles(first)
        second_p50, _ = percentiles(second)
        print(f"{name:9} {ready_ms:9.0f} {ready_rss / 1024:10.1f} {loaded_rss / 1024:11.1f} {per_worker:11.0f} "
              f"{first_p50:10.2f} {first_p99:10.2f} {second_p50:11.2f}")
    print("verge's per-worker cost is RSS loaded minus RSS ready (its isolates are made on the first "
          "request); workerd's is its RSS with every worker loaded at start-up, divided by the count.")


if __name__ == "__main__":
    main()
