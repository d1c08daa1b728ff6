//! `verge serve` with several tenants from one verge.toml: routing by host and path, isolation
//! between tenants, CPU and memory limits that fail one request, the outbound policy, and a
//! zone whose origin answers what no route claims.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

const ALPHA: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/pollute') {
      globalThis.counter = 41;
      Object.prototype.polluted = 'by alpha';
      Array.prototype.push = () => 'hijacked';
      return new Response('polluted');
    }
    if (url.pathname === '/fetch') {
      try {
        const response = await fetch(url.searchParams.get('url'));
        return new Response(`reached: ${response.status} ${await response.text()}`);
      } catch (error) {
        return new Response(`${error.name}: ${error.message}`, { status: 502 });
      }
    }
    return Response.json({ worker: 'alpha', host: url.host, path: url.pathname, counter: globalThis.counter ?? null });
  },
};
"#;

const BETA: &str = r#"
export default {
  fetch(request) {
    const url = new URL(request.url);
    const list = [];
    list.push(1);
    return Response.json({
      worker: 'beta', path: url.pathname, counter: globalThis.counter ?? null,
      polluted: ({}).polluted ?? null, pushWorks: list.length === 1,
    });
  },
};
"#;

const LOOP: &str = r#"
export default {
  fetch(request) {
    const path = new URL(request.url).pathname;
    if (path.endsWith('/spin')) { for (;;) {} }
    if (path.endsWith('/regex')) return new Response(String(/^(a+)+$/.test('a'.repeat(40) + 'b')));
    if (path.endsWith('/microtasks')) {
      const again = () => Promise.resolve().then(again);
      again();
      return new Promise(() => {});
    }
    // A promise kept reachable (its resolver in a global) but never settled.
    if (path.endsWith('/hang')) return new Promise((resolve) => { globalThis.pending = resolve; });
    if (path.endsWith('/recurse')) {
      const down = (n) => down(n + 1) + 1;
      try { down(0); } catch (error) { return new Response(`${error.name}`); }
    }
    return new Response('loop tenant is fine');
  },
};
"#;

const HOG: &str = r#"
const kept = [];
export default {
  fetch(request) {
    if (new URL(request.url).pathname.endsWith('/grow')) {
      for (;;) kept.push(new Array(100000).fill(kept.length));
    }
    return new Response(`hog has ${kept.length} blocks`);
  },
};
"#;

const ORIGIN: &str = r#"
export default {
  fetch(request) {
    const url = new URL(request.url);
    return new Response(`origin saw ${request.headers.get('host')} ${url.pathname}`);
  },
};
"#;

/// Writes `toml` as `dir`'s verge.toml; its path.
fn write_config(dir: &Path, toml: &str) -> std::path::PathBuf {
    let config = dir.join("verge.toml");
    std::fs::write(&config, toml).unwrap();
    config
}

#[test]
fn tenants_are_routed_isolated_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let origin = DevServer::start(
        &{
            std::fs::write(dir.path().join("origin.js"), ORIGIN).unwrap();
            dir.path().join("origin.js")
        },
        &[],
    );
    tenant(dir.path(), "alpha", ALPHA, "route = \"alpha.test/*\"\n");
    tenant(
        dir.path(),
        "beta",
        BETA,
        "routes = [\"beta.test/*\", \"shared.test/beta/*\"]\n",
    );
    tenant(
        dir.path(),
        "looper",
        LOOP,
        "routes = [{ pattern = \"shared.test/loop/*\" }]\n[limits]\ncpu_ms = 50\n",
    );
    tenant(dir.path(), "hog", HOG, "route = \"hog.test/*\"\n");
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [[workers]]\npath = \"alpha\"\n[[workers]]\npath = \"beta\"\n\
             [[workers]]\npath = \"looper\"\n[[workers]]\npath = \"hog\"\n\n\
             [[zones]]\nname = \"zone.test\"\norigin = \"{}\"\n\n\
             [limits]\nmemory_mib = 32\nwall_ms = 500\n",
            origin.base
        ),
    );
    // One thread, so that every tenant shares it: isolation must hold within a thread.
    let server = DevServer::serve_with_env(
        &config,
        &["--threads", "1"],
        &[("VERGE_LOG_FORMAT", "json")],
    );
    let base = server.base.clone();

    // Routing by host and by path; no route is a 404.
    let alpha = get_host(&base, "alpha.test", "/hello");
    assert_eq!(alpha.status, 200, "{}", alpha.body);
    assert!(alpha.body.contains(r#""worker":"alpha""#), "{}", alpha.body);
    assert!(
        alpha.body.contains(r#""host":"alpha.test""#),
        "{}",
        alpha.body
    );
    let beta = get_host(&base, "shared.test", "/beta/x");
    assert!(beta.body.contains(r#""worker":"beta""#), "{}", beta.body);
    assert_eq!(get_host(&base, "nobody.test", "/").status, 404);
    assert_eq!(get_host(&base, "shared.test", "/other").status, 404);

    // One tenant's globals and prototypes are invisible to another.
    assert_eq!(get_host(&base, "alpha.test", "/pollute").body, "polluted");
    let beta = get_host(&base, "beta.test", "/check");
    assert!(
        beta.body.contains(r#""counter":null"#)
            && beta.body.contains(r#""polluted":null"#)
            && beta.body.contains(r#""pushWorks":true"#),
        "{}",
        beta.body
    );
    assert!(get_host(&base, "alpha.test", "/again")
        .body
        .contains(r#""counter":41"#));

    // An endless loop under cpu_ms = 50 is stopped quickly; the others answer meanwhile.
    let started = Instant::now();
    let spin = get_host(&base, "shared.test", "/loop/spin");
    assert_eq!(spin.status, 503, "{}", spin.body);
    assert!(spin.body.contains("1102"), "{}", spin.body);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        get_host(&base, "shared.test", "/loop/ok").body,
        "loop tenant is fine"
    );
    // Catastrophic backtracking and an endless chain of microtasks are stopped the same way;
    // unbounded recursion is a RangeError the worker can catch.
    for hostile in ["/loop/regex", "/loop/microtasks"] {
        let started = Instant::now();
        let reply = get_host(&base, "shared.test", hostile);
        assert_eq!(reply.status, 503, "{hostile}: {}", reply.body);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{hostile}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        get_host(&base, "shared.test", "/loop/recurse").body,
        "RangeError"
    );
    // A response that never comes ends at the wall-time limit, naming it.
    let started = Instant::now();
    let hang = get_host(&base, "shared.test", "/loop/hang");
    assert_eq!(hang.status, 503, "{}", hang.body);
    assert!(
        hang.body.contains("wall-time limit (500 ms)"),
        "{}",
        hang.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(get_host(&base, "alpha.test", "/still").status, 200);

    // Allocating forever fails that request; the isolate is replaced and serves again.
    let grow = get_host(&base, "hog.test", "/grow");
    assert_eq!(grow.status, 503, "{}", grow.body);
    assert!(grow.body.contains("memory"), "{}", grow.body);
    assert_eq!(
        get_host(&base, "hog.test", "/count").body,
        "hog has 0 blocks"
    );
    assert_eq!(get_host(&base, "alpha.test", "/after").status, 200);

    // fetch() reaches public addresses only: the server itself (loopback) is refused.
    let own = get_host(&base, "alpha.test", &format!("/fetch?url={base}/"));
    assert_eq!(own.status, 502, "{}", own.body);
    assert!(own.body.contains("not a public address"), "{}", own.body);
    let metadata = get_host(
        &base,
        "alpha.test",
        "/fetch?url=http://169.254.169.254/latest/",
    );
    assert!(
        metadata.body.contains("not a public address"),
        "{}",
        metadata.body
    );

    // A zone's origin answers what no route claims, and workers' fetch() to the zone reaches it.
    let zone = get_host(&base, "zone.test", "/page");
    assert_eq!(zone.body, "origin saw zone.test /page");
    let via_worker = get_host(&base, "alpha.test", "/fetch?url=http://www.zone.test/x");
    assert_eq!(via_worker.body, "reached: 200 origin saw www.zone.test /x");

    // Logs are structured: one JSON object per line, the worker's name a field of its events.
    let stderr = server.stderr();
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["worker"] == "looper" && e["level"] == "ERROR"),
        "{stderr}"
    );
    assert!(
        events.iter().all(|e| e["timestamp"].is_string()),
        "{stderr}"
    );
}

#[test]
fn bad_configs_are_refused_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path(), "a", ALPHA, "route = \"same.test/*\"\n");
    tenant(dir.path(), "b", BETA, "route = \"same.test/*\"\n");
    tenant(
        dir.path(),
        "broken",
        "export default {",
        "route = \"broken.test/*\"\n",
    );
    let run = |toml: &str| {
        let config = write_config(dir.path(), toml);
        let output = verge()
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let duplicate = run("[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"a\"\n[[workers]]\npath = \"b\"\n");
    assert!(
        duplicate.contains("same.test/*") && duplicate.contains("duplicates"),
        "{duplicate}"
    );
    let unknown = run("[server]\nlisten = \"127.0.0.1:0\"\nthreads = 4\n");
    assert!(
        unknown.contains("verge.toml") && unknown.contains("line 3") && unknown.contains("threads"),
        "{unknown}"
    );
    let broken = run("[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"broken\"\n");
    assert!(
        broken.contains("\"broken\"") && broken.contains("index.js"),
        "{broken}"
    );
    // Workers are checked on several threads; the error is still the first broken one's.
    tenant(
        dir.path(),
        "broken-too",
        "export default {",
        "route = \"broken-too.test/*\"\n",
    );
    let first_broken = run("[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"a\"\n[[workers]]\npath = \"broken\"\n[[workers]]\npath = \"broken-too\"\n");
    assert!(
        first_broken.contains("\"broken\"") && !first_broken.contains("broken-too"),
        "{first_broken}"
    );
    // The check before serving runs the top level with no network: a fetch there (to the cloud
    // metadata address, say) is refused, as Workers refuse I/O in the global scope.
    tenant(
        dir.path(),
        "greedy",
        "const secrets = await (await fetch('http://169.254.169.254/latest/meta-data/')).text();\n\
         export default { fetch: () => new Response(secrets) };",
        "route = \"greedy.test/*\"\n",
    );
    let greedy = run("[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"greedy\"\n");
    assert!(
        greedy.contains("\"greedy\"") && greedy.contains("not available while a worker is loaded"),
        "{greedy}"
    );
}

fn version_script(version: &str) -> String {
    format!(
        r#"
export default {{
  async fetch(request) {{
    const url = new URL(request.url);
    if (url.pathname === '/slow') await new Promise((resolve) => setTimeout(resolve, 400));
    if (url.pathname === '/fetch') {{
      try {{ await fetch(url.searchParams.get('url')); return new Response('reached'); }}
      catch (error) {{ return new Response(error.message, {{ status: 502 }}); }}
    }}
    if (url.pathname === '/log') console.log('{version} logs /log');
    if (url.pathname === '/throw') throw new Error('{version} throws');
    return new Response('{version} ' + url.pathname);
  }},
}};
"#
    )
}

fn admin_call(method: &str, url: &str, token: &str) -> Reply {
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .body(Vec::new())
        .unwrap();
    send(&client(), request)
}

/// The admin API's address, from the line `verge serve` prints.
fn admin_address(server: &DevServer) -> String {
    server
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("Admin API on ").map(|a| a.trim().to_owned()))
        .unwrap()
}

/// One worker's value of metric `name` (0 before the worker has any).
fn metric(admin: &str, token: &str, name: &str, worker: &str) -> i64 {
    let text = admin_call("GET", &format!("{admin}/metrics"), token).body;
    let prefix = format!("{name}{{worker=\"{worker}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.parse().unwrap())
}

#[test]
fn the_admin_api_deploys_live_and_reports_metrics() {
    const TOKEN: &str = "test-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "alpha",
        &version_script("v1"),
        "route = \"app.test/*\"\n",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\n\
             [[workers]]\npath = \"alpha\"\n"
        ),
    );
    let server = DevServer::serve(&config, &["--threads", "2"]);
    let admin = admin_address(&server);
    let base = server.base.clone();

    // No token, a wrong token: 401.
    assert_eq!(get(&client(), &format!("{admin}/workers")).status, 401);
    assert_eq!(
        admin_call("GET", &format!("{admin}/workers"), "wrong-token-0123456789").status,
        401
    );
    let listed = admin_call("GET", &format!("{admin}/workers"), TOKEN);
    assert!(listed.body.contains(r#""name":"alpha""#), "{}", listed.body);

    assert_eq!(get_host(&base, "app.test", "/a").body, "v1 /a");
    // A slow request in flight during the deploy finishes on the old version.
    let slow = {
        let base = base.clone();
        std::thread::spawn(move || get_host(&base, "app.test", "/slow").body)
    };
    std::thread::sleep(Duration::from_millis(100));

    let v2 = dir.path().join("alpha-v2");
    std::fs::create_dir_all(v2.join("src")).unwrap();
    std::fs::write(v2.join("src/index.js"), version_script("v2")).unwrap();
    std::fs::write(
        v2.join("wrangler.toml"),
        "name = \"alpha\"\nmain = \"src/index.js\"\nroute = \"app.test/*\"\n",
    )
    .unwrap();
    let deploy = |project: &Path| {
        verge()
            .arg("deploy")
            .arg(project)
            .args(["--server", &admin, "--token", TOKEN])
            .output()
            .unwrap()
    };
    let output = deploy(&v2);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Deployed alpha version 2"));
    assert_eq!(get_host(&base, "app.test", "/b").body, "v2 /b");
    assert_eq!(slow.join().unwrap(), "v1 /slow");

    // A version that does not compile is refused with the message; v2 keeps serving.
    std::fs::write(v2.join("src/index.js"), "export default {").unwrap();
    let output = deploy(&v2);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("index.js"), "{stderr}");
    assert_eq!(get_host(&base, "app.test", "/c").body, "v2 /c");

    // A new worker goes live with its routes; deleting it takes them away.
    let gamma = dir.path().join("gamma");
    tenant(
        dir.path(),
        "gamma",
        &version_script("gamma"),
        "route = \"gamma.test/*\"\n",
    );
    assert!(deploy(&gamma).status.success());
    assert_eq!(get_host(&base, "gamma.test", "/").body, "gamma /");
    assert_eq!(
        admin_call("DELETE", &format!("{admin}/workers/gamma"), TOKEN).status,
        200
    );
    assert_eq!(get_host(&base, "gamma.test", "/").status, 404);
    // Its isolates go too, on every thread.
    assert!(
        wait_until(Duration::from_secs(5), || metric(
            &admin,
            TOKEN,
            "verge_live_isolates",
            "gamma"
        ) == 0),
        "a deleted worker's isolate is still alive"
    );

    // A tenant cannot reach the admin listener.
    let probe = get_host(&base, "app.test", &format!("/fetch?url={admin}/workers"));
    assert_eq!(probe.status, 502, "{}", probe.body);

    // verge tail follows the worker's console output and exceptions live.
    let mut tail = std::process::Command::new(env!("CARGO_BIN_EXE_verge"))
        .args(["tail", "alpha", "--server", &admin, "--token", TOKEN])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let lines = lines.clone();
        let stdout = tail.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    assert!(wait_until(Duration::from_secs(10), || lines
        .lock()
        .unwrap()
        .contains("tailing alpha")));
    assert_eq!(get_host(&base, "app.test", "/log").status, 200);
    assert_eq!(get_host(&base, "app.test", "/throw").status, 500);
    let followed = wait_until(Duration::from_secs(10), || {
        let text = lines.lock().unwrap();
        text.contains("[log] v2 logs /log") && text.contains("[exception] Error: v2 throws")
    });
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(followed, "{}", lines.lock().unwrap());

    // Metrics are labelled by worker.
    let metrics = admin_call("GET", &format!("{admin}/metrics"), TOKEN).body;
    let requests = metric(&admin, TOKEN, "verge_requests_total", "alpha");
    assert!(requests >= 5, "{metrics}");
    assert!(
        metrics.contains("verge_cold_starts_total{worker=\"alpha\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("verge_live_isolates{worker=\"alpha\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("verge_cpu_seconds_total{worker=\"gamma\"}"),
        "{metrics}"
    );
}

#[test]
fn deploys_outlive_a_restart_and_roll_back() {
    const TOKEN: &str = "test-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "alpha",
        &version_script("v1"),
        "route = \"app.test/*\"\n",
    );
    tenant(
        dir.path(),
        "gamma",
        &version_script("gamma"),
        "route = \"gamma.test/*\"\n",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\n\
             [[workers]]\npath = \"alpha\"\n\n[[workers]]\npath = \"gamma\"\n"
        ),
    );
    let verge_admin = |admin: &str, args: &[&str]| {
        let output = verge()
            .args(args)
            .args(["--server", admin, "--token", TOKEN])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + stderr.as_str(),
        )
    };
    let mut server = DevServer::serve(&config, &[]);
    let admin = admin_address(&server);
    let alpha_v2 = dir.path().join("alpha-v2");
    std::fs::create_dir_all(&alpha_v2).unwrap();
    std::fs::write(alpha_v2.join("index.js"), version_script("v2")).unwrap();
    std::fs::write(
        alpha_v2.join("wrangler.toml"),
        "name = \"alpha\"\nmain = \"index.js\"\nroute = \"app.test/*\"\n",
    )
    .unwrap();
    let deployed = |admin: &str, version: &str| {
        std::fs::write(alpha_v2.join("index.js"), version_script(version)).unwrap();
        let (ok, said) = verge_admin(admin, &["deploy", alpha_v2.to_str().unwrap()]);
        assert!(ok, "{said}");
    };
    deployed(&admin, "v2");
    deployed(&admin, "v3");
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v3 /");
    let (ok, said) = verge_admin(&admin, &["rollback", "--name", "alpha"]);
    assert!(ok && said.contains("Rolled alpha back"), "{said}");
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v2 /");
    assert_eq!(
        admin_call("DELETE", &format!("{admin}/workers/gamma"), TOKEN).status,
        200
    );

    // A restart serves what was deployed, not what verge.toml names; the deleted stays deleted.
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let server = DevServer::serve(&config, &[]);
    let admin = admin_address(&server);
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v2 /");
    assert_eq!(get_host(&server.base, "gamma.test", "/").status, 404);

    // Its versions are remembered too: back to the first deploy's, by number, and on.
    let listed = admin_call("GET", &format!("{admin}/workers"), TOKEN).body;
    assert!(listed.contains(r#""version":4"#), "{listed}");
    let (ok, said) = verge_admin(&admin, &["rollback", "3", "--name", "alpha"]);
    assert!(ok, "{said}");
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v3 /");
    let (ok, said) = verge_admin(&admin, &["rollback", "1", "--name", "alpha"]);
    assert!(
        !ok && said.contains("alpha has no version 1 to roll back to (it has 2, 3, 4, 6)"),
        "{said}"
    );
    deployed(&admin, "v4");
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v4 /");
}

#[test]
fn bad_clients_are_cut_off_and_sigterm_drains_requests_in_flight() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "alpha",
        &version_script("v1"),
        "route = \"app.test/*\"\n",
    );
    let config = write_config(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:0\"\nheader_timeout_ms = 300\ndrain_timeout_ms = 5000\n\n\
         [[workers]]\npath = \"alpha\"\n",
    );
    let mut server = DevServer::serve(&config, &["--threads", "1"]);
    let base = server.base.clone();
    let address = base.trim_start_matches("http://").to_owned();

    // Oversized headers: 431. Malformed HTTP: 400.
    let raw_reply = |request: &[u8]| {
        let mut raw = std::net::TcpStream::connect(&address).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = raw.write_all(request);
        let mut reply = Vec::new();
        let _ = raw.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    };
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let reply = raw_reply(huge.as_bytes());
    assert!(
        reply.starts_with("HTTP/1.1 431"),
        "{:?}",
        &reply[..reply.len().min(80)]
    );
    let reply = raw_reply(b"NOT HTTP AT ALL\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");

    // A client that never finishes its request head is disconnected.
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    let read = slow.read(&mut buffer);
    assert!(
        matches!(read, Ok(0)) || read.is_err() || buffer.starts_with(b"HTTP/1.1 408"),
        "{read:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // SIGTERM: the request in flight finishes, then the server exits cleanly.
    let in_flight = {
        let base = base.clone();
        std::thread::spawn(move || get_host(&base, "app.test", "/slow"))
    };
    std::thread::sleep(Duration::from_millis(150));
    server.terminate();
    let reply = in_flight.join().unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, "v1 /slow"));
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(std::net::TcpStream::connect(&address).is_err());
}

#[test]
fn idle_isolates_are_dropped_and_created_again_on_demand() {
    const TOKEN: &str = "idle-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "alpha",
        &version_script("v1"),
        "route = \"app.test/*\"\n",
    );
    let config = write_config(dir.path(), &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
             [[workers]]\npath = \"alpha\"\n[limits]\nisolate_idle_ms = 300\n"
        ));
    let server = DevServer::serve(&config, &["--threads", "1"]);
    let admin = admin_address(&server);
    let metric = |name: &str| metric(&admin, TOKEN, name, "alpha");
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v1 /");
    assert_eq!(
        (
            metric("verge_live_isolates"),
            metric("verge_cold_starts_total")
        ),
        (1, 1)
    );
    assert!(
        wait_until(Duration::from_secs(5), || metric("verge_live_isolates")
            == 0),
        "the idle isolate was not dropped"
    );
    assert_eq!(get_host(&server.base, "app.test", "/").body, "v1 /");
    assert_eq!(
        (
            metric("verge_live_isolates"),
            metric("verge_cold_starts_total")
        ),
        (1, 2)
    );
}

#[test]
fn isolates_over_the_memory_budget_are_dropped_least_recently_used_first() {
    const TOKEN: &str = "budget-token-0123456789";
    const BIG: &str = r#"
let kept = null;
export default {
  fetch(request) {
    if (new URL(request.url).pathname === '/fill') kept = new Array(2 * 1024 * 1024).fill(1.5);
    return new Response(kept ? 'full' : 'empty');
  },
};
"#;
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "small",
        &version_script("small"),
        "route = \"small.test/*\"\n",
    );
    tenant(dir.path(), "big", BIG, "route = \"big.test/*\"\n");
    let config = write_config(dir.path(), &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
             [[workers]]\npath = \"small\"\n[[workers]]\npath = \"big\"\n\
             [limits]\nisolate_budget_mib = 12\n"
        ));
    let server = DevServer::serve(&config, &["--threads", "1"]);
    let admin = admin_address(&server);
    let live = |worker: &str| metric(&admin, TOKEN, "verge_live_isolates", worker);
    assert_eq!(get_host(&server.base, "small.test", "/").body, "small /");
    assert_eq!(get_host(&server.base, "big.test", "/").body, "empty");
    // Both fit: after a few eviction rounds, both are alive.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!((live("small"), live("big")), (1, 1));
    // big's heap grows past the budget: small (least recently used) goes first, then big.
    assert_eq!(get_host(&server.base, "big.test", "/fill").body, "full");
    assert!(
        wait_until(Duration::from_secs(5), || live("small") == 0
            && live("big") == 0),
        "small {} big {}",
        live("small"),
        live("big")
    );
    assert_eq!(get_host(&server.base, "big.test", "/").body, "empty");
}

/// How long the saturation test runs; `VERGE_LOAD_SECONDS` shortens it when iterating locally.
fn load_duration() -> Duration {
    let seconds = std::env::var("VERGE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

#[test]
fn ten_tenants_under_saturating_load_fail_nothing_and_hold_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let mut workers = String::new();
    for index in 0..10 {
        let name = format!("t{index}");
        let script = format!(
            r#"
const seen = new Map();
export default {{
  async fetch(request) {{
    const url = new URL(request.url);
    seen.set(url.pathname, (seen.get(url.pathname) ?? 0) + 1);
    if (seen.size > 100) seen.clear();
    const body = JSON.stringify({{ tenant: '{name}', path: url.pathname, hits: seen.get(url.pathname) }});
    return new Response(body, {{ headers: {{ 'content-type': 'application/json', 'x-tenant': '{name}' }} }});
  }},
}};
"#
        );
        tenant(
            dir.path(),
            &name,
            &script,
            &format!("route = \"{name}.test/*\"\n"),
        );
        workers.push_str(&format!("[[workers]]\npath = \"{name}\"\n"));
    }
    let config = write_config(
        dir.path(),
        &format!("[server]\nlisten = \"127.0.0.1:0\"\n{workers}"),
    );
    let server = DevServer::serve(&config, &["--threads", "2"]);
    let base = server.base.clone();

    let duration = load_duration();
    let started = Instant::now();
    let rss_after_warmup = std::sync::Arc::new(std::sync::Mutex::new(None));
    let clients: Vec<_> = (0..16)
        .map(|client_index| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = client();
                let (mut ok, mut failed) = (0u64, Vec::new());
                let mut n = client_index;
                while started.elapsed() < duration {
                    n += 1;
                    let tenant = format!("t{}", n % 10);
                    let request = http::Request::get(format!("{base}/p{}", n % 7))
                        .header("host", format!("{tenant}.test"))
                        .body(Vec::new())
                        .unwrap();
                    let reply = send(&agent, request);
                    let right_tenant = reply
                        .headers
                        .get("x-tenant")
                        .is_some_and(|v| v.as_bytes() == tenant.as_bytes());
                    if reply.status == 200 && right_tenant {
                        ok += 1;
                    } else if failed.len() < 5 {
                        failed.push(format!("{} {}", reply.status, reply.body));
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    // Memory after a quarter of the run (everything warm) and at the end must match closely.
    std::thread::sleep(duration / 4);
    *rss_after_warmup.lock().unwrap() = Some(current_rss_kib(server.pid()));
    let mut total = 0;
    for client in clients {
        let (ok, failed) = client.join().unwrap();
        assert!(failed.is_empty(), "failed requests: {failed:?}");
        total += ok;
    }
    let warm = rss_after_warmup.lock().unwrap().unwrap();
    let end = current_rss_kib(server.pid());
    eprintln!(
        "{total} requests in {:?} over ten tenants ({:.0}/s); RSS {} MiB after warm-up, {} MiB at the end",
        duration,
        total as f64 / duration.as_secs_f64(),
        warm / 1024,
        end / 1024
    );
    assert!(total > 1000, "only {total} requests completed");
    assert!(
        end < warm + 16 * 1024,
        "RSS grew from {warm} KiB to {end} KiB under steady load"
    );
}

fn current_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn service_bindings_call_another_worker_without_the_network() {
    // Both workers on QuickJS, then both on JavaScriptCore (where a binding's fetch() works and
    // JS RPC through it is refused by name).
    for engine in ["", "engine = \"jsc\"\n"] {
        service_bindings_on(engine);
    }
}

/// The gateway and auth workers, each with `engine` in its `[[workers]]` entry.
fn service_bindings_on(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "gateway",
        r#"export default {
          async fetch(request, env) {
            const path = new URL(request.url).pathname;
            if (path === '/loop') {
              // Calls itself through its own binding until the depth limit stops it.
              const depth = Number(request.headers.get('x-depth') ?? 0);
              try {
                const inner = await env.SELF.fetch('https://self/loop', { headers: { 'x-depth': String(depth + 1) } });
                return new Response(await inner.text(), { status: inner.status });
              } catch (e) {
                return new Response(`stopped at depth ${depth}: ${e.message}`);
              }
            }
            if (path === '/missing') {
              try { await env.GONE.fetch('https://gone/'); return new Response('reached'); }
              catch (e) { return new Response(`${e.name}: ${e.message}`); }
            }
            if (path === '/rpc') {
              try { return new Response(String(await env.AUTH.check())); }
              catch (e) { return new Response(`${e.name}: ${e.message}`); }
            }
            const answer = await env.AUTH.fetch('https://auth.internal/check?user=ana', {
              method: 'POST', headers: { authorization: 'Bearer t0k' }, body: 'payload',
            });
            return new Response(`${answer.status} ${answer.headers.get('x-auth')} ${await answer.text()} ${String(env.AUTH)}`);
          },
        };"#,
        "route = \"gw.test/*\"\nservices = [{ binding = \"AUTH\", service = \"auth\" }, { binding = \"SELF\", service = \"gateway\" }, { binding = \"GONE\", service = \"nobody\" }]\n",
    );
    tenant(
        dir.path(),
        "auth",
        r#"export default {
          async fetch(request) {
            const url = new URL(request.url);
            const body = await request.text();
            return new Response(`${request.method} ${url.host}${url.pathname}?${url.searchParams.get('user')} ${request.headers.get('authorization')} ${body}`,
              { status: 201, headers: { 'x-auth': 'ok' } });
          },
        };"#,
        "",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[[workers]]\npath = \"gateway\"\n{engine}\n[[workers]]\npath = \"auth\"\n{engine}"
        ),
    );
    let server = DevServer::serve(&config, &[]);
    let reply = get_host(&server.base, "gw.test", "/");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            200,
            "201 ok POST auth.internal/check?ana Bearer t0k payload [object Fetcher]"
        )
    );
    // The auth worker has no route: clients cannot reach it, only its binding can.
    assert_eq!(
        get_host(&server.base, "auth.internal", "/check").status,
        404
    );

    let reply = get_host(&server.base, "gw.test", "/loop");
    assert!(
        reply
            .body
            .starts_with("stopped at depth 32: Subrequest depth limit exceeded"),
        "{}",
        reply.body
    );
    let reply = get_host(&server.base, "gw.test", "/missing");
    assert_eq!(
        reply.body,
        "TypeError: service binding: no worker named \"nobody\" runs on this server"
    );
    if !engine.is_empty() {
        assert_eq!(
            get_host(&server.base, "gw.test", "/rpc").body,
            "TypeError: check(): JS RPC through a service binding is not available on JavaScriptCore yet (its fetch() is)"
        );
    }
}

/// Runs `verge secret ARGS… --name vault --server ADMIN --token TOKEN` with `stdin`; its stdout.
fn secret_command(admin: &str, token: &str, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = support::verge()
        .arg("secret")
        .args(args)
        .args(["--name", "vault", "--server", admin, "--token", token])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "verge secret {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn secrets_reach_env_through_the_admin_api_and_nowhere_else() {
    const TOKEN: &str = "secret-token-0123456789";
    const VALUE: &str = "s3cret-value-42";
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "vault",
        "export default { fetch: (r, env) => new Response(`${env.API_KEY} ${env.MODE}`) };",
        "route = \"vault.test/*\"\n[vars]\nMODE = \"plain\"\n",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\n\
             [[workers]]\npath = \"vault\"\n"
        ),
    );
    let server = DevServer::serve(&config, &[]);
    let admin = admin_address(&server);
    let answer = |server: &DevServer| get_host(&server.base, "vault.test", "/").body;
    assert_eq!(answer(&server), "undefined plain");

    secret_command(&admin, TOKEN, &["put", "API_KEY"], &format!("{VALUE}\n"));
    assert_eq!(answer(&server), format!("{VALUE} plain"));
    secret_command(&admin, TOKEN, &["put", "MODE"], "secret-mode");
    assert_eq!(answer(&server), format!("{VALUE} secret-mode"));
    let listed: serde_json::Value =
        serde_json::from_str(&secret_command(&admin, TOKEN, &["list"], "")).unwrap();
    assert_eq!(listed, serde_json::json!(["API_KEY", "MODE"]));

    // The value is in no listing, metric or log.
    for path in ["/workers", "/metrics"] {
        let body = admin_call("GET", &format!("{admin}{path}"), TOKEN).body;
        assert!(!body.contains(VALUE), "{path} shows the secret");
    }
    assert!(!server.stdout().contains(VALUE) && !server.stderr().contains(VALUE));

    secret_command(&admin, TOKEN, &["delete", "MODE"], "");
    assert_eq!(answer(&server), format!("{VALUE} plain"));
    let bad = admin_call("PUT", &format!("{admin}/workers/vault/secrets/9bad"), TOKEN);
    assert_eq!(bad.status, 400);

    // A restarted server still has them.
    drop(server);
    let server = DevServer::serve(&config, &[]);
    assert_eq!(answer(&server), format!("{VALUE} plain"));
}

#[test]
fn kv_namespaces_are_shared_by_id_and_separate_otherwise() {
    const SCRIPT: &str = r#"export default {
      async fetch(request, env) {
        const url = new URL(request.url);
        const key = url.searchParams.get('key');
        if (request.method === 'PUT') { await env.KV.put(key, await request.text()); return new Response('ok'); }
        return new Response(String(await env.KV.get(key)));
      },
    };"#;
    let dir = tempfile::tempdir().unwrap();
    for (name, id) in [
        ("writer", "shared"),
        ("reader", "shared"),
        ("other", "private"),
    ] {
        tenant(
            dir.path(),
            name,
            SCRIPT,
            &format!("route = \"{name}.test/*\"\nkv_namespaces = [{{ binding = \"KV\", id = \"{id}\" }}]\n"),
        );
    }
    let config = write_config(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
         [[workers]]\npath = \"writer\"\n\n[[workers]]\npath = \"reader\"\n\n[[workers]]\npath = \"other\"\n",
    );
    let server = DevServer::serve(&config, &[]);
    let put = http::Request::put(format!("{}/?key=greeting", server.base))
        .header("host", "writer.test")
        .body(b"hello from writer".to_vec())
        .unwrap();
    assert_eq!(send(&client(), put).body, "ok");
    assert_eq!(
        get_host(&server.base, "reader.test", "/?key=greeting").body,
        "hello from writer"
    );
    assert_eq!(
        get_host(&server.base, "other.test", "/?key=greeting").body,
        "null"
    );
    assert!(dir.path().join("data/kv.redb").is_file());
}

#[test]
fn websockets_are_routed_and_counted_under_serve() {
    use futures_util::{SinkExt, StreamExt};
    const TOKEN: &str = "test-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "echo",
        r#"export default {
  fetch(request) {
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    server.addEventListener("message", (event) => server.send(`echo: ${event.data}`));
    return new Response(null, { status: 101, webSocket: client });
  },
};
"#,
        "route = \"127.0.0.1/*\"\n",
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\n\
             [[workers]]\npath = \"echo\"\n"
        ),
    );
    let server = DevServer::serve(&config, &["--threads", "2"]);
    let admin = admin_address(&server);
    let url = server.base.replacen("http://", "ws://", 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let builder = tokio_websockets::ClientBuilder::new().uri(&url).unwrap();
        let (mut ws, _) = tokio::time::timeout(Duration::from_secs(10), builder.connect())
            .await
            .unwrap()
            .unwrap();
        ws.send(tokio_websockets::Message::text("hi"))
            .await
            .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reply.as_text(), Some("echo: hi"));
        assert_eq!(metric(&admin, TOKEN, "verge_open_websockets", "echo"), 1);
        assert_eq!(metric(&admin, TOKEN, "verge_websockets_total", "echo"), 1);
        ws.close().await.unwrap();
    });
    let closed = wait_until(Duration::from_secs(10), || {
        metric(&admin, TOKEN, "verge_open_websockets", "echo") == 0
    });
    assert!(closed, "the closed socket is no longer counted");
}
