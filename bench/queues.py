#!/usr/bin/env python3
"""Queues: messages a second sent and consumed per core of server CPU, and the latency from a
producer's `send` to the consumer's handler, p50/p99, on `verge dev`'s embedded store (an
SQLite file synced on every commit).

One worker produces and consumes: `/send` sends `{ t: Date.now() }` to queue `q` (the request
answers once the message is durable), and its `queue()` handler notes `Date.now() - t` of each
message (batches of up to 100, cut at once: `max_batch_timeout = 0`). wrk drives `/send` with
`--connections` for `--seconds`; the consumer's figures come from `/stats` once every message
sent has been consumed. The server's CPU is read from /proc around the run.

Usage: python3 bench/queues.py [--seconds 10] [--connections 10]
Needs: a release build (cargo build --release) and wrk (apt-get install wrk).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

from common import VERGE, free_port, stop, tree_cpu_seconds, wait_ready, wrk

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

[[queues.producers]]
binding = "Q"
queue = "q"

[[queues.consumers]]
queue = "q"
max_batch_size = 100
max_batch_timeout = 0
"""


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as reply:
        return json.load(reply)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as project:
        with open(os.path.join(project, "index.js"), "w") as f:
            f.write(WORKER)
        with open(os.path.join(project, "wrangler.toml"), "w") as f:
            f.write(CONFIG)
        port = free_port()
        server = subprocess.Popen(
            [VERGE, "dev", project, "--port", str(port), "--threads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, server)
            cpu_before = tree_cpu_seconds(server.pid)
            started = time.time()
            sent, errors, p50, p99 = wrk(f"http://127.0.0.1:{port}/send", args.seconds, args.connections)
            sending = time.time() - started
            deadline = time.time() + 120
            consumed = stats(port)
            while consumed["consumed"] < sent and time.time() < deadline:
                time.sleep(0.05)
                consumed = stats(port)
            consuming = time.time() - started
            cpu = tree_cpu_seconds(server.pid) - cpu_before
        finally:
            stop(server)
    print(f"embedded store (SQLite, synced per commit), {args.connections} connections, {args.seconds} s:")
    print(f"  sent:     {sent} ({errors} errors), {sent / sending:,.0f}/s; send request p50 {p50}, p99 {p99}")
    print(f"  consumed: {consumed['consumed']}, {consumed['consumed'] / consuming:,.0f}/s (until the last)")
    print(f"  per core: {sent / cpu:,.0f} messages sent and consumed per CPU-second ({cpu:.2f} s of server CPU)")
    print(f"  send -> consume latency: p50 {consumed['p50']} ms, p99 {consumed['p99']} ms")
    print("  JetStream (a cluster's queues): not built yet, see issue #26")


if __name__ == "__main__":
    main()
