"""The runtimes the benchmarks compare, each serving one worker module on a loopback port: Verge
(`verge dev`), workerd, Deno and Bun (the last two through bench/workers/*_main.js, which give
the module's fetch handler an env holding ORIGIN). Peers come from npm into bench/.peers. Also
the loopback nginx origin that proxy workers fetch from."""

import glob
import os
import re
import shutil
import subprocess

from common import ROOT, free_port, verge_dev, wait_ready

WORKERS = os.path.join(ROOT, "bench", "workers")
PEERS = os.path.join(ROOT, "bench", ".peers")
PEER_PACKAGES = {"workerd": "workerd", "deno": "deno", "bun": "bun"}
GIB = 1024 * 1024 * 1024


def install_peers(names):
    """The binaries of the named peers, installed with npm into bench/.peers when missing."""
    bins = os.path.join(PEERS, "node_modules", ".bin")
    names = [n for n in names if n != "verge-jsc"]  # Verge itself, on JavaScriptCore
    missing = [PEER_PACKAGES[n] for n in names if not os.path.exists(os.path.join(bins, n))]
    if missing:
        os.makedirs(PEERS, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", PEERS, "--no-audit", "--no-fund", *missing], check=True,
                       stdout=subprocess.DEVNULL)
    return {n: os.path.join(bins, n) for n in names}


def nginx_config(work, server):
    """Writes an nginx.conf in `work`: one worker, in the foreground, its temporary files in
    `work`, serving the `server` block's directives; its path."""
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
  server {{ {server} }}
}}
""")
    return conf


def start_nginx(work):
    """nginx on a free loopback port serving index.html and a sparse 1 GiB file; (process, URL)."""
    port = free_port()
    root = os.path.join(work, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>origin</title><p>" + "hello from the origin " * 20 + "</p>\n")
    with open(os.path.join(root, "1g.bin"), "wb") as f:
        f.truncate(GIB)
    conf = nginx_config(work, f"listen 127.0.0.1:{port}; root {root};")
    process = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process)
    return process, f"http://127.0.0.1:{port}"


def start(runtime, binaries, work, port, worker, origin="", threads=1):
    """Starts `runtime` serving bench/workers/`worker`.js on `port`; its process."""
    project = os.path.join(work, f"{runtime}-{worker}")
    os.makedirs(project, exist_ok=True)
    module = os.path.join(project, "worker.js")
    shutil.copy(os.path.join(WORKERS, f"{worker}.js"), module)
    wasm = [os.path.basename(path) for path in glob.glob(os.path.join(WORKERS, "*.wasm"))]
    for name in wasm:
        shutil.copy(os.path.join(WORKERS, name), project)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if runtime in ("verge", "verge-jsc"):
        engine = ["--engine", "jsc"] if runtime == "verge-jsc" else []
        return verge_dev(module, port, "--threads", str(threads), "--var", f"ORIGIN:{origin}", *engine)
    if runtime == "workerd":
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
  modules = [ (name = "worker.js", esModule = embed "worker.js"){"".join(f', (name = "{name}", wasm = embed "{name}")' for name in wasm)} ],
  compatibilityDate = "2024-09-23",
  bindings = [ (name = "ORIGIN", text = "{origin}") ],
  globalOutbound = "net",
);
""")
        return subprocess.Popen([binaries["workerd"], "serve", os.path.join(project, "config.capnp")], **quiet)
    if runtime == "deno":
        # Deno imports no `.wasm` as a WebAssembly.Module: the worker reads and compiles it.
        with open(module) as f:
            source = f.read()
        source = re.sub(r"import (\w+) from '\./([^']+\.wasm)';",
                        r"const \1 = new WebAssembly.Module(await Deno.readFile(new URL('./\2', import.meta.url)));",
                        source)
        with open(module, "w") as f:
            f.write(source)
        return subprocess.Popen([binaries["deno"], "run", "--allow-net", "--allow-read",
                                 os.path.join(WORKERS, "deno_main.js"), module, str(port), origin],
                                env={**os.environ, "DENO_NO_UPDATE_CHECK": "1",
                                     "DENO_DIR": os.path.join(work, "deno-cache")}, **quiet)
    if runtime == "bun":
        return subprocess.Popen([binaries["bun"], os.path.join(WORKERS, "bun_main.js"), module, str(port), origin],
                                **quiet)
    raise ValueError(f"unknown runtime {runtime}")
