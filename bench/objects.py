"""Durable Objects and WebSockets, Verge beside workerd (issue 22), one run each, side by side:

- the round trip of a request to one Durable Object that reads, increments and writes its
  counter (`/count`, 50 connections): requests (increments) per second, p50 and p99, and
  requests per second per core of server CPU; the same as an RPC call (`/rpc`);
- WebSocket echo with 1,000 connected clients, each sending and awaiting its echo in a loop:
  echoed by the worker (`/echo`) and by one object through the hibernation API (`/room`):
  messages per second, per core, and the round trip's p50 and p99;
- the memory one idle hibernated connection costs: the server's RSS with 1,000 silent
  connections to one object after it hibernates (12 s), minus its RSS before they connected
  (measured first, on a fresh process, after ten connections warmed the path).

`python3 bench/objects.py [--seconds 10] [--clients 1000]` (after `cargo build --release` and
`cargo build --release -p verge-cli --example ws_load`); workerd comes from npm into
bench/.peers. Both keep their objects' storage on disk (workerd: `localDisk`)."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import ROOT, VERGE, free_port, measure_load, stop, tree_cpu_seconds, tree_rss_kib, verge_dev, wait_ready
from runtimes import WORKERS, install_peers

WS_LOAD = os.path.join(ROOT, "target", "release", "examples", "ws_load")

WRANGLER = """name = "objects"
main = "worker.js"
[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
"""

WORKERD = """using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "storage", disk = (path = "{storage}", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
  durableObjectNamespaces = [ (className = "Counter", uniqueKey = "bench-counter", enableSql = true) ],
  durableObjectStorage = (localDisk = "storage"),
  bindings = [ (name = "COUNTER", durableObjectNamespace = "Counter") ],
);
"""


def start(runtime, workerd, work, port):
    project = os.path.join(work, runtime)
    os.makedirs(project)
    shutil.copy(os.path.join(WORKERS, "objects.js"), os.path.join(project, "worker.js"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if runtime == "verge":
        with open(os.path.join(project, "wrangler.toml"), "w") as f:
            f.write(WRANGLER)
        return verge_dev(project, port, "--threads", "2", "--persist-to", os.path.join(project, "state"))
    storage = os.path.join(project, "storage")
    os.makedirs(storage)
    with open(os.path.join(project, "config.capnp"), "w") as f:
        f.write(WORKERD.format(storage=storage, port=port))
    return subprocess.Popen([workerd, "serve", "--experimental", os.path.join(project, "config.capnp")], **quiet)


def echo(pid, port, path, clients, seconds):
    before = tree_cpu_seconds(pid)
    run = subprocess.run([WS_LOAD, f"ws://127.0.0.1:{port}{path}", str(clients), str(seconds)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"the WebSocket load on {path} failed: {run.stderr[:1500]}")
    out = run.stdout
    cpu = tree_cpu_seconds(pid) - before
    result = json.loads(out)
    result["per_second"] = result["messages"] / seconds
    result["per_core"] = result["messages"] / cpu if cpu else float("inf")
    return result


def idle_memory_kib(pid, port, clients):
    # The object and the connection path warmed up, so that what grows is the connections'.
    warm = subprocess.run([WS_LOAD, f"ws://127.0.0.1:{port}/room", "10", "1"], capture_output=True)
    if warm.returncode != 0:
        sys.exit(f"/room failed: {warm.stderr[:1500]}")
    before = tree_rss_kib(pid)
    held = subprocess.Popen([WS_LOAD, f"ws://127.0.0.1:{port}/room", str(clients), "0", "idle"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = held.stdout.readline()
    if not line.startswith("connected"):
        sys.exit(f"the idle clients did not connect: {line!r}")
    time.sleep(12)  # past both runtimes' hibernation
    after = tree_rss_kib(pid)
    held.stdin.close()
    held.wait()
    return (after - before) / clients


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    for binary in (VERGE, WS_LOAD):
        if not os.path.exists(binary):
            sys.exit(f"{binary} is missing: cargo build --release (and --example ws_load -p verge-cli)")
    workerd = install_peers(["workerd"])["workerd"]
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for runtime in ("verge", "workerd"):
            port = free_port()
            process = start(runtime, workerd, work, port)
            try:
                wait_ready(port, process)
                pid = process.pid
                # First, on a fresh process: memory the allocator kept from the loads below would
                # hide what the idle connections take.
                idle_kib = idle_memory_kib(pid, port, args.clients)
                row = {
                    "idle_kib": idle_kib,
                    "count": measure_load(pid, f"http://127.0.0.1:{port}/count", args.seconds, 50),
                    "rpc": measure_load(pid, f"http://127.0.0.1:{port}/rpc", args.seconds, 50),
                    "echo": echo(pid, port, "/echo", args.clients, args.seconds),
                    "room": echo(pid, port, "/room", args.clients, args.seconds),
                }
                results[runtime] = row
            finally:
                stop(process)
    verge, peer = results["verge"], results["workerd"]
    print("| measure | Verge | workerd | Verge ÷ workerd |")
    print("|---|---|---|---|")
    def line(name, a, b, unit="", lower_is_better=False):
        ratio = (b / a if lower_is_better else a / b) if a and b else float("nan")
        print(f"| {name} | {a:,.1f}{unit} | {b:,.1f}{unit} | {ratio:.2f} |")
    for path in ("count", "rpc"):
        line(f"`/{path}` requests/s (one object)", verge[path]["rps"], peer[path]["rps"])
        line(f"`/{path}` requests/s per core", verge[path]["rps_per_core"], peer[path]["rps_per_core"])
        print(f"| `/{path}` p50 / p99 | {verge[path]['p50']} / {verge[path]['p99']} | "
              f"{peer[path]['p50']} / {peer[path]['p99']} | |")
    for path in ("echo", "room"):
        line(f"`/{path}` WebSocket messages/s ({args.clients} clients)", verge[path]["per_second"], peer[path]["per_second"])
        line(f"`/{path}` messages/s per core", verge[path]["per_core"], peer[path]["per_core"])
        line(f"`/{path}` p99 round trip", verge[path]["p99_ms"], peer[path]["p99_ms"], " ms", lower_is_better=True)
    line("memory per idle hibernated connection", verge["idle_kib"], peer["idle_kib"], " KiB", lower_is_better=True)
    print("\n(ratios: above 1 means Verge does better)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
