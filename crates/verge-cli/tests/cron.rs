//! Cron triggers: `verge dev --test-scheduled` runs a worker's `scheduled` handler at
//! `/__scheduled?cron=…` (module and service-worker syntax, failures reported); `verge serve`
//! runs it on the `[triggers] crons` schedule by itself.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;
use support::{client, get, send, wait_until, DevServer};

const MODULE: &str = r#"
export default {
  async fetch(request, env) {
    return new Response(await env.KV.get('runs') ?? 'none');
  },
  async scheduled(controller, env, ctx) {
    if (controller.cron === 'fail') throw new Error('the backup failed');
    if (controller.cron === 'fail later') {
      ctx.waitUntil(new Promise((_, reject) => setTimeout(() => reject(new Error('the upload failed')), 20)));
      return;
    }
    const runs = Number(await env.KV.get('runs') ?? 0) + 1;
    ctx.waitUntil(env.KV.put('last', `${controller.cron} at ${typeof controller.scheduledTime}`));
    await env.KV.put('runs', String(runs));
  },
};
"#;

const SERVICE_WORKER: &str = r#"
let seen = 'none';
addEventListener('scheduled', (event) => { seen = `${event.cron}, ${event.type}`; });
addEventListener('fetch', (event) => event.respondWith(new Response(seen)));
"#;

fn project(script: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), script).unwrap();
    std::fs::write(
        dir.path().join("wrangler.toml"),
        format!(
            "name = \"cron\"\nmain = \"index.js\"\nkv_namespaces = [{{ binding = \"KV\", id = \"kv\" }}]\n{extra}"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn dev_runs_the_scheduled_handler_on_demand() {
    let module = project(MODULE, "[triggers]\ncrons = [\"*/5 * * * *\"]\n");
    let server = DevServer::start(module.path(), &["--test-scheduled"]);
    let agent = client();
    let ran = get(
        &agent,
        &format!("{}/__scheduled?cron=*/5+*+*+*+*", server.base),
    );
    assert_eq!(
        (ran.status, ran.body.as_str()),
        (200, "Ran scheduled event\n")
    );
    assert_eq!(get(&agent, &format!("{}/", server.base)).body, "1");
    let failed = get(&agent, &format!("{}/__scheduled?cron=fail", server.base));
    assert_eq!(failed.status, 500);
    assert!(failed.body.contains("the backup failed"), "{}", failed.body);
    assert_eq!(get(&agent, &format!("{}/", server.base)).body, "1");
    // The event lasts until its ctx.waitUntil work is done, and fails if that work does.
    let failed_later = get(
        &agent,
        &format!("{}/__scheduled?cron=fail+later", server.base),
    );
    assert_eq!(failed_later.status, 500);
    assert!(
        failed_later.body.contains("the upload failed"),
        "{}",
        failed_later.body
    );

    // Without the flag, /__scheduled is the worker's own path. (One server at a time holds the
    // project's KV store.)
    drop(server);
    let plain = DevServer::start(module.path(), &[]);
    let own = get(&agent, &format!("{}/__scheduled?cron=x", plain.base));
    assert_eq!(own.body, "1");

    let sw = project(SERVICE_WORKER, "");
    let server = DevServer::start(sw.path(), &["--test-scheduled"]);
    let ran = get(
        &agent,
        &format!("{}/__scheduled?cron=0+0+*+*+*", server.base),
    );
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(
        get(&agent, &format!("{}/", server.base)).body,
        "0 0 * * *, scheduled"
    );
}

#[test]
fn serve_runs_crons_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("cron");
    std::fs::create_dir_all(&worker).unwrap();
    std::fs::write(worker.join("index.js"), MODULE).unwrap();
    // A leading sixth field for seconds (an extension of Workers' five) fires every second.
    std::fs::write(
        worker.join("wrangler.toml"),
        "name = \"cron\"\nmain = \"index.js\"\nroute = \"cron.test/*\"\n\
         kv_namespaces = [{ binding = \"KV\", id = \"kv\" }]\n\
         [triggers]\ncrons = [\"* * * * * *\"]\n",
    )
    .unwrap();
    let config = dir.path().join("verge.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[[workers]]\npath = \"cron\"\n",
    )
    .unwrap();
    let server = DevServer::serve(&config, &[]);
    let agent = client();
    let runs = || {
        let reply = send(
            &agent,
            http::Request::get(format!("{}/", server.base))
                .header("host", "cron.test")
                .body(Vec::new())
                .unwrap(),
        );
        reply.body.parse::<u32>().unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(15), || runs() >= 3),
        "the cron ran {} times in 15 s; stderr:\n{}",
        runs(),
        server.stderr()
    );
    assert!(server.stderr().contains("scheduled \"* * * * * *\" ran"));
}

#[test]
fn a_bad_cron_is_refused_naming_it() {
    let bad = project(MODULE, "[triggers]\ncrons = [\"61 * * * *\"]\n");
    let stderr = support::dev_refusal(bad.path());
    assert!(
        stderr.contains("61 * * * *") && stderr.contains("wrangler.toml"),
        "{stderr}"
    );
}
