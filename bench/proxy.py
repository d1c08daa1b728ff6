#!/usr/bin/env python3
"""The proxy benchmark: the same worker (bench/proxy/worker.js: fetch the origin, add a header)
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

from common import ROOT, VERGE, free_port, measure_load, memory_kib, stop, tree_rss_kib, wait_ready

HERE = os.path.join(ROOT, "bench", "proxy")
PEERS = os.path.join(ROOT, "bench", ".peers")
GIB = 1024 * 1024 * 1024


def install_peers():
    bins = os.path.join(PEERS, "node_modules", ".bin")
    if not (os.path.exists(os.path.join(bins, "workerd")) and os.path.exists(os.path.join(bins, "deno"))):
        os.makedirs(PEERS, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", PEERS, "--no-audit", "--no-fund", "workerd", "deno"], check=True,
                       stdout=subprocess.DEVNULL)
    return os.path.join(bins, "workerd"), os.path.join(bins, "deno")


def start_nginx(work):
    port = free_port()
    root = os.path.join(work, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>origin</title><p>" + "hello from the origin " * 20 + "</p>\n")
    with open(os.path.join(root, "1g.bin"), "wb") as f:
        f.truncate(GIB)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    process = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process)
    return process, f"http://127.0.0.1:{port}"


def start_verge(work, port, origin):
    project = os.path.join(work, "verge")
    os.makedirs(project, exist_ok=True)
    shutil.copy(os.path.join(HERE, "worker.js"), project)
    return subprocess.Popen([VERGE, "dev", os.path.join(project, "worker.js"), "--port", str(port), "--var", f"ORIGIN:{origin}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "VERGE_LOG": "warn"})


def start_workerd(work, port, origin, workerd):
    project = os.path.join(work, "workerd")
    os.makedirs(project, exist_ok=True)
    shutil.copy(os.path.join(HERE, "worker.js"), project)
    with open(os.path.join(project, "config.capnp"), "w") as f:
        f.write(f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
  bindings = [ (name = "ORIGIN", text = "{origin}") ],
  globalOutbound = "net",
);
""")
    return subprocess.Popen([workerd, "serve", os.path.join(project, "config.capnp")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_deno(work, port, origin, deno):
    return subprocess.Popen([deno, "run", "--allow-net", os.path.join(HERE, "deno_main.js"), str(port), origin],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "DENO_NO_UPDATE_CHECK": "1", "DENO_DIR": os.path.join(work, "deno-cache")})


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
    workerd, deno = install_peers() if peers else (None, None)
    work = tempfile.mkdtemp(prefix="verge-bench-")
    os.chmod(work, 0o755)  # nginx workers run as another user
    nginx, origin = start_nginx(work)
    starters = {"verge": lambda port: start_verge(work, port, origin)}
    if "workerd" in peers:
        starters["workerd"] = lambda port: start_workerd(work, port, origin, workerd)
    if "deno" in peers:
        starters["deno"] = lambda port: start_deno(work, port, origin, deno)
    rows = {}
    try:
        for name, start in starters.items():
            port = free_port()
            process = start(port)
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
