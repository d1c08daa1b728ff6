//! The `verge` command as a user meets it: help, errors at start-up, and a real server under
//! concurrent requests.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::*;

#[test]
fn help_explains_every_flag() {
    let top = verge().arg("--help").output().unwrap();
    assert!(top.status.success());
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(top.contains("dev") && top.contains("wrangler dev"), "{top}");
    let dev = verge().args(["dev", "--help"]).output().unwrap();
    let dev = String::from_utf8_lossy(&dev.stdout);
    for flag in ["--port", "--ip", "--var", "--threads", "[PATH]"] {
        assert!(dev.contains(flag), "dev --help lacks {flag}:\n{dev}");
    }
}

fn write_project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn many_requests_are_in_flight_in_one_isolate_at_once() {
    // Each request waits until eight are waiting together: if the isolate served them one at a
    // time, none would ever be released and the clients would time out.
    const WORKER: &str = r#"
        let waiting = [];
        export default {
          fetch(request) {
            return new Promise((resolve) => {
              waiting.push(resolve);
              if (waiting.length === 8) {
                const released = waiting;
                waiting = [];
                released.forEach((release, i) => release(new Response(`released ${i}`)));
              }
            });
          },
        };
    "#;
    let project = write_project(&[("barrier.js", WORKER)]);
    let server = DevServer::start(&project.path().join("barrier.js"), &[]);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = server.base.clone();
            std::thread::spawn(move || get(&client(), &url))
        })
        .collect();
    let mut bodies: Vec<String> = clients
        .into_iter()
        .map(|c| c.join().unwrap().body)
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        (0..8).map(|i| format!("released {i}")).collect::<Vec<_>>()
    );
}

#[test]
fn a_port_in_use_is_reported() {
    let project = write_project(&[("w.js", "export default { fetch: () => new Response('x') }")]);
    let server = DevServer::start(&project.path().join("w.js"), &[]);
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let output = verge()
        .args(["dev", "--port", &port])
        .arg(project.path().join("w.js"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    // The first server is unharmed.
    assert_eq!(get(&client(), &server.base).body, "x");
}

#[test]
fn bad_var_flag_is_a_clear_error() {
    let project = write_project(&[("w.js", "export default { fetch: () => new Response('x') }")]);
    let output = verge()
        .args(["dev", "--var", "NOCOLON"])
        .arg(project.path().join("w.js"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("invalid --var 'NOCOLON': expected NAME:VALUE"));
}

#[test]
fn oversized_bodies_and_several_threads() {
    let project = write_project(&[(
        "echo.js",
        "export default { async fetch(r) { return new Response(`${(await r.arrayBuffer()).byteLength}`) } }",
    )]);
    let server = DevServer::start(&project.path().join("echo.js"), &["--threads", "2"]);
    let agent = client();
    let body = vec![b'x'; 1024 * 1024];
    let reply = send(
        &agent,
        http::Request::post(&server.base).body(body).unwrap(),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, "1048576"));
    for _ in 0..20 {
        assert_eq!(get(&agent, &server.base).body, "0");
    }
}

#[test]
fn dev_reads_secrets_from_dev_vars() {
    let project = write_project(&[
        (
            "wrangler.toml",
            "main = \"w.js\"\n[vars]\nMODE = \"plain\"\n",
        ),
        (
            "w.js",
            "export default { fetch: (r, env) => new Response(`${env.SECRET} ${env.MODE}`) }",
        ),
        (".dev.vars", "SECRET=\"open sesame\"\nMODE=dev\n"),
    ]);
    let server = DevServer::start(project.path(), &[]);
    assert_eq!(get(&client(), &server.base).body, "open sesame dev");
}

#[test]
fn a_change_is_served_without_a_restart() {
    let version = |n: u32| {
        format!("export default {{ fetch() {{ return new Response('version {n}'); }} }};\n")
    };
    let project = write_project(&[
        ("wrangler.toml", "name = \"live\"\nmain = \"index.js\"\n"),
        ("index.js", &version(1)),
    ]);
    let mut server = DevServer::start(project.path(), &[]);
    let agent = client();
    let base = server.base.clone();
    let body = || get(&agent, &format!("{base}/")).body;
    assert_eq!(body(), "version 1");
    let entry = project.path().join("index.js");
    std::fs::write(&entry, version(2)).unwrap();
    assert!(
        wait_until(std::time::Duration::from_secs(10), || body() == "version 2"),
        "the change was not served: {}",
        body()
    );
    // A change that does not load is reported; the last good version keeps serving.
    std::fs::write(
        &entry,
        "export default { fetch() { return new Response('broken' }; };\n",
    )
    .unwrap();
    assert!(server.wait_for_stderr("does not load", std::time::Duration::from_secs(10)));
    assert_eq!(body(), "version 2");
    std::fs::write(&entry, version(3)).unwrap();
    assert!(
        wait_until(std::time::Duration::from_secs(10), || body() == "version 3"),
        "the fix was not served: {}",
        body()
    );
    assert!(server.stdout().contains("Reloaded"));
}

#[test]
fn init_makes_a_project_whose_own_test_passes() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hello-edge");
    let made = verge().arg("init").arg(&project).output().unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    for file in [
        "wrangler.toml",
        "package.json",
        "src/index.ts",
        "test/index.test.mjs",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    let again = verge().arg("init").arg(&project).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    // The project's own test, as `npm test` runs it, against this build of verge.
    let tested = std::process::Command::new("node")
        .args(["--test", "test/"])
        .current_dir(&project)
        .env("VERGE", env!("CARGO_BIN_EXE_verge"))
        .output()
        .expect("node, to run the starter project's test");
    assert!(
        tested.status.success(),
        "{}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(String::from_utf8_lossy(&tested.stdout).contains("pass 2"));
}
