#!/usr/bin/env python3
"""Storage from inside a worker: the latency a KV, D1 or R2 read or write and a Cache API hit
add to a request, and the requests/s of each path, on `verge dev` with its embedded stores (KV
on redb, D1 on SQLite, R2 on files with an SQLite index; every write durable before its promise
resolves; the cache in memory in front of disk).

For each path — `/noop` (no storage), `/kv-read` (one KV `get` of a 1 KiB value), `/kv-write`
(one KV `put` of 1 KiB to one of 1,000 keys), `/d1-read` (a SELECT of one 1 KiB row by primary
key), `/d1-write` (an INSERT OR REPLACE of one 1 KiB row of 1,000), `/r2-read` (a `get` of a
1 KiB object, read whole), `/r2-write` (a `put` of 1 KiB to one of 1,000 keys), `/cache-hit` (a
`caches.default.match` answered from the cache, 1 KiB) — wrk runs with 1 connection (latency
alone) and with 10 (throughput), and the table gives p50/p99 and requests/s, with each path's
added latency (its p50 minus the no-op's) from the same run.

Usage: python3 bench/storage.py [--seconds 5]
Needs: a release build (cargo build --release) and wrk (apt-get install wrk).
"""

import argparse
import os
import sys
import tempfile

from common import VERGE, free_port, http_ok, stop, verge_dev, wait_ready, wrk

WORKER = """
let written = 0;
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === '/seed') {
      await env.KV.put('hot', 'v'.repeat(1024));
      await env.DB.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
      await env.DB.prepare('INSERT OR REPLACE INTO rows (id, value) VALUES (0, ?)').bind('d'.repeat(1024)).run();
      await env.R2.put('hot', 'r'.repeat(1024));
      await caches.default.put('https://bench.test/hot', new Response('c'.repeat(1024), { headers: { 'cache-control': 'max-age=3600' } }));
      return new Response('seeded');
    }
    if (path === '/cache-hit') return (await caches.default.match('https://bench.test/hot')) ?? new Response('miss', { status: 500 });
    if (path === '/kv-read') {
      const value = await env.KV.get('hot');
      if (value === null) return new Response('missing', { status: 500 });
      return new Response(value.slice(0, 16));
    }
    if (path === '/kv-write') { await env.KV.put(`key-${written++ % 1000}`, 'w'.repeat(1024)); return new Response('ok'); }
    if (path === '/d1-read') {
      const value = await env.DB.prepare('SELECT value FROM rows WHERE id = ?').bind(0).first('value');
      return new Response(value.slice(0, 16));
    }
    if (path === '/d1-write') {
      await env.DB.prepare('INSERT OR REPLACE INTO rows (id, value) VALUES (?, ?)').bind(1 + written++ % 1000, 'w'.repeat(1024)).run();
      return new Response('ok');
    }
    if (path === '/r2-read') {
      const object = await env.R2.get('hot');
      return new Response((await object.text()).slice(0, 16));
    }
    if (path === '/r2-write') { await env.R2.put(`key-${written++ % 1000}`, 'w'.repeat(1024)); return new Response('ok'); }
    return new Response('ok');
  },
};
"""


def to_ms(text):
    """wrk's latency (`812.00us`, `1.20ms`, `2.00s`) in ms."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not os.path.exists(VERGE):
        sys.exit("build Verge first: cargo build --release")
    with tempfile.TemporaryDirectory() as project:
        with open(os.path.join(project, "index.js"), "w") as f:
            f.write(WORKER)
        with open(os.path.join(project, "wrangler.toml"), "w") as f:
            f.write('name = "storage-bench"\nmain = "index.js"\n'
                    'kv_namespaces = [{ binding = "KV", id = "bench" }]\n'
                    'd1_databases = [{ binding = "DB", database_name = "bench" }]\n'
                    'r2_buckets = [{ binding = "R2", bucket_name = "bench" }]\n')
        port = free_port()
        process = verge_dev(project, port)
        try:
            wait_ready(port, process)
            if not http_ok(port, "/seed"):
                sys.exit("the worker could not seed its KV key, D1 row and R2 object")
            rows = {}
            paths = ("/noop", "/kv-read", "/kv-write", "/d1-read", "/d1-write", "/r2-read",
                     "/r2-write", "/cache-hit")
            for path in paths:
                url = f"http://127.0.0.1:{port}{path}"
                _, errors1, p50, p99 = wrk(url, args.seconds, 1)
                requests, errors10, _, _ = wrk(url, args.seconds, 10)
                if errors1 or errors10:
                    sys.exit(f"{path}: {errors1 + errors10} failed requests")
                rows[path] = (to_ms(p50), to_ms(p99), requests / args.seconds)
        finally:
            stop(process)
    print(f"KV, D1, R2 and the Cache API on verge dev, one run, {args.seconds} s per measurement")
    print(f"{'path':10} {'p50 ms (1 conn)':>16} {'p99 ms (1 conn)':>16} {'req/s (10 conns)':>17} {'added p50 ms':>13}")
    base = rows["/noop"][0]
    for path, (p50, p99, rps) in rows.items():
        added = "" if path == "/noop" else f"{p50 - base:13.3f}"
        print(f"{path:10} {p50:16.3f} {p99:16.3f} {rps:17.0f} {added:>13}")


if __name__ == "__main__":
    main()
