#!/usr/bin/env python3
"""Two builds of Verge beside each other on one worker of bench/workers: wrk drives each in turn,
round after round, so that the machine's drift falls on both alike (it moves a single run by more
than most changes do). Each round gives requests/s per core of the server's CPU and p50/p99; the
end gives the means and the second build's ratio to the first.

Keep the build before a change with `cp target/release/verge /tmp/verge-before`, build the
change, then:

Usage: python3 bench/builds.py /tmp/verge-before target/release/verge [--worker headers]
                               [--engine quickjs|jsc] [--rounds 4] [--seconds 4] [--connections 50]
Needs: wrk (apt-get install wrk); nginx for the proxy worker, which fetches from it.
"""

import argparse
import os
import shutil
import statistics
import tempfile

from common import free_port, measure_load, stop, verge_dev, wait_ready
from runtimes import WORKERS, start_nginx


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--worker", default="headers")
    parser.add_argument("--engine", choices=["quickjs", "jsc"], default="quickjs")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    builds = [args.first, args.second]
    for binary in builds:
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"not an executable: {binary}")
    work = tempfile.mkdtemp(prefix="verge-builds-")
    processes, ports = [], []
    nginx = None
    try:
        dev_args = ["--threads", "1", "--engine", args.engine]
        if args.worker == "proxy":
            os.chmod(work, 0o755)  # nginx workers run as another user
            nginx, origin = start_nginx(work)
            dev_args += ["--var", f"ORIGIN:{origin}"]
        for index, binary in enumerate(builds):
            project = os.path.join(work, str(index))
            os.makedirs(project)
            shutil.copy(os.path.join(WORKERS, f"{args.worker}.js"), os.path.join(project, "index.js"))
            port = free_port()
            processes.append(verge_dev(os.path.join(project, "index.js"), port, *dev_args, binary=binary))
            ports.append(port)
        for port, process in zip(ports, processes):
            wait_ready(port, process)
        results = [[], []]
        print(f"{args.worker} on {args.engine}: wrk -c {args.connections} for {args.seconds} s a cell, {args.rounds} rounds")
        print(f"{'round':<6} {'build':<7} {'req/s/core':>11} {'µs/req':>8} {'p50':>9} {'p99':>9}")
        for round_ in range(1, args.rounds + 1):
            for index, (port, process) in enumerate(zip(ports, processes)):
                result = measure_load(process.pid, f"http://127.0.0.1:{port}/", args.seconds, args.connections)
                if result["errors"]:
                    raise SystemExit(f"build {index + 1} answered {result['errors']} errors")
                results[index].append(result)
                per_core = result['rps_per_core']
                print(f"{round_:<6} {index + 1:<7} {per_core:>11.0f} {1e6 / per_core:>8.1f} {result['p50']:>9} {result['p99']:>9}")
        means = [statistics.mean(r["rps_per_core"] for r in rs) for rs in results]
        ahead = sum(b["rps_per_core"] > a["rps_per_core"] for a, b in zip(*results))
        print(f"mean req/s/core: build 1 {means[0]:.0f}, build 2 {means[1]:.0f}; "
              f"build 2 ÷ build 1 = {means[1] / means[0]:.3f}, ahead in {ahead} of {args.rounds} rounds")
    finally:
        for process in processes:
            stop(process)
        stop(nginx)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
