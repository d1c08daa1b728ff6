#!/usr/bin/env python3
"""Node.js compatibility's cost: what a worker built on npm's Node packages pays beside a plain
one, under `verge dev` on loopback.

Three workers answer `GET /` with the same small JSON: a plain fetch handler; Express on
cloudflare:node's `httpServerHandler` (Node's request and response objects, Express's router
and `res.json`); and a fetch handler that first verifies an HS256 token with jsonwebtoken. For
each: start-up (launch to first response, a fresh process each run, the project's modules
loaded before that response), then wrk's throughput and latency with the server's CPU read
from /proc, as requests/s per core of server CPU and as a ratio to the plain worker.

Usage: python3 bench/node_compat.py [--runs 5] [--seconds 10] [--connections 10]
Needs: a release build (cargo build --release), wrk, and express and jsonwebtoken in
.ci/npm (`.ci/run` installs them).
"""

import argparse
import os
import statistics
import sys
import tempfile

from common import VERGE, ROOT, first_response_ms, free_port, measure_load, stop, verge_dev, wait_ready

MODULES = os.path.join(ROOT, ".ci", "npm", "node_modules")
CONFIG = 'name = "{name}"\nmain = "index.js"\ncompatibility_flags = ["nodejs_compat"]\n'

WORKERS = {
    "plain": """
export default { fetch: () => Response.json({ hello: 'world' }) };
""",
    "express": """
import express from 'express';
import { httpServerHandler } from 'cloudflare:node';
const app = express();
app.get('/', (req, res) => res.json({ hello: 'world' }));
app.listen(3000);
export default httpServerHandler({ port: 3000 });
""",
    "jsonwebtoken": """
import jwt from 'jsonwebtoken';
const token = jwt.sign({ sub: 'ada' }, 'a shared secret', { algorithm: 'HS256' });
export default {
  fetch() {
    jwt.verify(token, 'a shared secret', { algorithms: ['HS256'] });
    return Response.json({ hello: 'world' });
  },
};
""",
}


def project(root, name, script):
    directory = os.path.join(root, name)
    os.makedirs(directory)
    with open(os.path.join(directory, "wrangler.toml"), "w") as f:
        f.write(CONFIG.format(name=name))
    with open(os.path.join(directory, "index.js"), "w") as f:
        f.write(script)
    os.symlink(MODULES, os.path.join(directory, "node_modules"))
    return directory


def startup_ms(directory, runs):
    return statistics.median(first_response_ms(lambda port: verge_dev(directory, port), name=directory) for _ in range(runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(VERGE):
        sys.exit("build first: cargo build --release")
    for package in ("express", "jsonwebtoken"):
        if not os.path.isdir(os.path.join(MODULES, package)):
            sys.exit(f"{package} is missing from .ci/npm: run .ci/run, which installs it")

    results = {}
    with tempfile.TemporaryDirectory() as root:
        for name, script in WORKERS.items():
            directory = project(root, name, script)
            started = startup_ms(directory, args.runs)
            port = free_port()
            process = verge_dev(directory, port)
            wait_ready(port, process)
            results[name] = (started, measure_load(process.pid, f"http://127.0.0.1:{port}/", args.seconds, args.connections))
            stop(process)

    plain = results["plain"][1]["rps_per_core"]
    print(f"wrk {args.connections} connections for {args.seconds} s, one serving thread; start-up p50 of {args.runs} runs")
    print(f"{'worker':<14}{'start-up':>10}{'req/s':>9}{'per core':>10}{'÷ plain':>9}{'p50':>10}{'p99':>10}{'errors':>8}")
    for name, (started, r) in results.items():
        print(f"{name:<14}{started:>8.1f}ms{r['rps']:>9.0f}{r['rps_per_core']:>10.0f}{r['rps_per_core'] / plain:>9.2f}"
              f"{r['p50']:>10}{r['p99']:>10}{r['errors']:>8}")


if __name__ == "__main__":
    main()
