"""Helpers shared by the benchmarks: free ports, process CPU and memory from /proc, wrk runs."""

import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERGE = os.path.join(ROOT, "target", "release", "verge")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(port, path="/"):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_ready(port, process, seconds=20, path="/"):
    deadline = time.time() + seconds
    while not http_ok(port, path):
        if time.time() > deadline or (process is not None and process.poll() is not None):
            stop(process)
            sys.exit(f"the server on port {port} did not answer within {seconds} s")
        time.sleep(0.01)


def first_response_ms(launch, seconds=20, poll=0.0002, name="the server"):
    """Milliseconds from `launch(port)` (which starts a server on a fresh port and returns its
    process) to the server's first 200 on `/`, polling every `poll` seconds; the server is
    stopped after."""
    port = free_port()
    began = time.perf_counter()
    process = launch(port)
    while not http_ok(port):
        if time.perf_counter() - began > seconds or process.poll() is not None:
            stop(process)
            sys.exit(f"{name} did not answer within {seconds} s")
        time.sleep(poll)
    elapsed = (time.perf_counter() - began) * 1000
    stop(process)
    return elapsed


def verge_dev(project, port, *args, binary=VERGE):
    """`verge dev project` on `port` (with `args`): its output discarded and its request log off,
    as every benchmark runs it (the log is one line a request)."""
    return subprocess.Popen([binary, "dev", project, "--port", str(port), *args],
                            env={**os.environ, "VERGE_LOG": "warn"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid):
    """User plus system CPU of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid):
    """CPU of a process and its children (a launcher such as npm's wrapper may exec a child)."""
    total = cpu_seconds(pid)
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            total += tree_cpu_seconds(int(child))
    except OSError:
        pass
    return total


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid):
    total = memory_kib(pid, "VmRSS")
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            total += tree_rss_kib(int(child))
    except OSError:
        pass
    return total


def wrk(url, seconds, connections, headers=()):
    """Runs wrk (with `headers`, each "Name: value"); returns requests, errors, p50 and p99
    latency (as wrk prints them)."""
    extra = [arg for header in headers for arg in ("-H", header)]
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|Socket errors:.*?timeout) (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return requests, errors, latency.get("50"), latency.get("99")


def measure_load(pid, url, seconds, connections):
    """Drives `url` with wrk and reads the server's CPU around it."""
    before = tree_cpu_seconds(pid)
    requests, errors, p50, p99 = wrk(url, seconds, connections)
    cpu = tree_cpu_seconds(pid) - before
    return {
        "requests": requests,
        "errors": errors,
        "rps": requests / seconds,
        "cpu": cpu,
        "rps_per_core": requests / cpu if cpu else float("inf"),
        "p50": p50,
        "p99": p99,
    }
