//! A full disk: with its state on an 8 MiB filesystem, a worker's KV, D1 and R2 writes that do
//! not fit are refused with an error naming the cause, and everything stored before reads back
//! intact. The server runs in its own mount namespace (`unshare -m`) over a tmpfs of that size.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;
use support::{client, get, DevServer};

const WORKER: &str = r#"
const bytes = (size, fill) => new Uint8Array(Number(size)).fill(fill);
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get('key');
    const size = Number(url.searchParams.get('size'));
    const fill = Number(url.searchParams.get('fill') ?? 1);
    try {
      switch (url.pathname) {
        case '/kv/put': await env.KV.put(key, bytes(size, fill)); return new Response('stored');
        case '/kv/get': {
          const value = new Uint8Array(await env.KV.get(key, 'arrayBuffer'));
          return Response.json([value.length, value.every((b) => b === fill)]);
        }
        case '/r2/put': await env.R2.put(key, bytes(size, fill)); return new Response('stored');
        case '/r2/get': {
          const value = new Uint8Array(await (await env.R2.get(key)).arrayBuffer());
          return Response.json([value.length, value.every((b) => b === fill)]);
        }
        case '/d1/setup': await env.DB.exec('CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB)'); return new Response('stored');
        case '/d1/put': {
          const insert = env.DB.prepare('INSERT INTO blobs (data) VALUES (?)');
          await env.DB.batch(Array.from({ length: Number(url.searchParams.get('rows')) }, () => insert.bind(bytes(size, fill))));
          return new Response('stored');
        }
        case '/d1/get': {
          const rows = await env.DB.prepare('SELECT length(data) AS n FROM blobs ORDER BY id').raw();
          return Response.json(rows.flat());
        }
      }
      return new Response('no such route', { status: 404 });
    } catch (error) {
      return new Response(`${error.name}: ${error.message}`, { status: 507 });
    }
  },
};
"#;

const CONFIG: &str = r#"name = "full-disk"
main = "index.js"
kv_namespaces = [{ binding = "KV", id = "kv" }]
r2_buckets = [{ binding = "R2", bucket_name = "r2" }]
d1_databases = [{ binding = "DB", database_name = "db" }]
"#;

/// `verge dev PROJECT --persist-to STATE` in a mount namespace where STATE is a tmpfs of
/// `size`. This needs root or user namespaces; without them the server does not start and the
/// test fails with `mount`'s error.
fn start_on_small_disk(project: &Path, state: &Path, size: &str) -> DevServer {
    let mut command = Command::new("unshare");
    command
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size={size} tmpfs \"$0\" && exec \"$@\""
        ))
        .arg(state)
        .arg(env!("CARGO_BIN_EXE_verge"))
        .arg("dev")
        .arg(project)
        .args(["--port", "0", "--persist-to"])
        .arg(state);
    DevServer::launch(command)
}

#[test]
fn a_full_disk_refuses_writes_and_keeps_what_was_stored() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("index.js"), WORKER).unwrap();
    std::fs::write(project.path().join("wrangler.toml"), CONFIG).unwrap();
    let state = tempfile::tempdir().unwrap();
    let server = start_on_small_disk(project.path(), state.path(), "8m");
    let agent = client();
    let call = |path: &str| get(&agent, &format!("{}{path}", server.base));
    let stored = |path: &str| {
        let reply = call(path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "stored"),
            "{path}"
        );
    };
    stored("/kv/put?key=small&size=1000&fill=3");
    stored("/r2/put?key=small&size=1000&fill=4");
    stored("/d1/setup");
    stored("/d1/put?rows=2&size=1000&fill=5");

    let full = |path: &str| {
        let reply = call(path);
        eprintln!("{path}: {}", reply.body);
        assert_eq!(reply.status, 507, "{path} was not refused: {}", reply.body);
        let message = reply.body.to_lowercase();
        assert!(
            message.contains("no space") || message.contains("full"),
            "{path}: the error does not name the cause: {}",
            reply.body
        );
    };
    full("/r2/put?key=big&size=16000000&fill=6");
    full("/kv/put?key=big&size=16000000&fill=7");
    full("/d1/put?rows=8&size=1500000&fill=8");

    // What was stored before is intact, and the server still serves.
    assert_eq!(call("/kv/get?key=small&fill=3").body, "[1000,true]");
    assert_eq!(call("/r2/get?key=small&fill=4").body, "[1000,true]");
    assert_eq!(call("/d1/get").body, "[1000,1000]");
    let missing = call("/r2/get?key=big");
    assert_eq!(missing.status, 507, "{}", missing.body);
    // The refused writes left their space free: writes that fit succeed again.
    stored("/kv/put?key=after&size=1000&fill=9");
    stored("/r2/put?key=after&size=1000&fill=9");
    stored("/d1/put?rows=1&size=1000&fill=9");
    assert_eq!(call("/kv/get?key=after&fill=9").body, "[1000,true]");
    assert_eq!(call("/d1/get").body, "[1000,1000,1000]");
}
