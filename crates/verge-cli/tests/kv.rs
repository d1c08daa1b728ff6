//! KV bindings end to end: a worker under `verge dev` uses every part of the KV API against the
//! redb store, and what it wrote survives the server being killed with SIGKILL — on QuickJS and
//! on JavaScriptCore alike (KV's ops are written once, for every engine).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, get, send, DevServer, ENGINES};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const kv = env.STORE;
    if (url.pathname === '/put') {
      await kv.put(url.searchParams.get('key'), await request.arrayBuffer());
      return new Response('stored');
    }
    if (url.pathname === '/get') {
      const value = await kv.get(url.searchParams.get('key'), 'arrayBuffer');
      return value === null ? new Response('missing', { status: 404 }) : new Response(value);
    }
    // Every part of the API; each observation is reported, the test compares.
    const seen = {};
    await kv.put('text', 'héllo');
    seen.text = await kv.get('text');
    await kv.put('json', JSON.stringify({ n: 1, list: [1, 2] }), { metadata: { owner: 'ana' }, expirationTtl: 3600 });
    seen.json = await kv.get('json', { type: 'json', cacheTtl: 60 });
    const withMeta = await kv.getWithMetadata('json', 'json');
    seen.metadata = withMeta.metadata;
    seen.missing = await kv.get('nope');
    seen.missingWithMeta = await kv.getWithMetadata('nope');
    await kv.put('bytes', new Uint8Array([0, 255, 1, 254]));
    seen.bytes = [...new Uint8Array(await kv.get('bytes', 'arrayBuffer'))];
    const stream = await kv.get('bytes', 'stream');
    seen.streamed = [...new Uint8Array(await new Response(stream).arrayBuffer())];
    await kv.put('streamed', new Response('from a stream').body);
    seen.fromStream = await kv.get('streamed');
    const many = await kv.get(['text', 'nope']);
    seen.bulk = [...many];
    for (let i = 0; i < 5; i++) await kv.put(`page/${i}`, String(i), { metadata: { i } });
    const pages = [];
    let cursor;
    do {
      const page = await kv.list({ prefix: 'page/', limit: 2, cursor });
      pages.push(page.keys.map((k) => `${k.name}:${k.metadata.i}`));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    seen.pages = pages;
    const listed = await kv.list();
    seen.jsonExpiration = listed.keys.find((k) => k.name === 'json').expiration - Math.floor(Date.now() / 1000);
    await kv.delete('text');
    seen.deleted = await kv.get('text');
    const error = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.name}: ${e.message}`; } };
    seen.longKey = await error(() => kv.put('k'.repeat(513), 'x'));
    seen.shortTtl = await error(() => kv.put('k', 'x', { expirationTtl: 10 }));
    seen.endless = await error(() => kv.put('k', 'x', { expiration: Infinity }));
    seen.bigMetadata = await error(() => kv.put('k', 'x', { metadata: 'm'.repeat(1100) }));
    seen.badType = await error(() => kv.get('k', 'blob'));
    seen.badCursor = await error(() => kv.list({ cursor: '!!' }));
    seen.afterErrors = await kv.get('k');
    return Response.json(seen);
  },
};
"#;

const CONFIG: &str = r#"name = "kv-test"
main = "index.js"
kv_namespaces = [{ binding = "STORE", id = "store-1" }]
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), WORKER).unwrap();
    std::fs::write(dir.path().join("wrangler.toml"), CONFIG).unwrap();
    dir
}

#[test]
fn a_worker_uses_the_whole_kv_api() {
    for engine in ENGINES {
        uses_the_whole_kv_api(engine);
    }
}

fn uses_the_whole_kv_api(engine: &[&str]) {
    let project = project();
    let server = DevServer::start(project.path(), engine);
    let reply = get(&client(), &format!("{}/all", server.base));
    assert_eq!(reply.status, 200, "{engine:?}: {}", reply.body);
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let expect =
        |key: &str, value: serde_json::Value| assert_eq!(seen[key], value, "{engine:?}: {key}");
    use serde_json::json;
    expect("text", json!("héllo"));
    expect("json", json!({ "n": 1, "list": [1, 2] }));
    expect("metadata", json!({ "owner": "ana" }));
    expect("missing", json!(null));
    expect(
        "missingWithMeta",
        json!({ "value": null, "metadata": null, "cacheStatus": null }),
    );
    expect("bytes", json!([0, 255, 1, 254]));
    expect("streamed", json!([0, 255, 1, 254]));
    expect("fromStream", json!("from a stream"));
    expect("bulk", json!([["text", "héllo"], ["nope", null]]));
    expect(
        "pages",
        json!([
            ["page/0:0", "page/1:1"],
            ["page/2:2", "page/3:3"],
            ["page/4:4"]
        ]),
    );
    let ttl = seen["jsonExpiration"].as_i64().unwrap();
    assert!((3590..=3600).contains(&ttl), "expiration {ttl} s from now");
    expect("deleted", json!(null));
    let error = |key: &str, needle: &str| {
        let message = seen[key].as_str().unwrap();
        assert!(message.contains(needle), "{key}: {message}");
    };
    error("longKey", "513 bytes");
    error("shortTtl", "Expiration TTL must be at least 60");
    error("endless", "Invalid expiration of Infinity");
    error("bigMetadata", "metadata");
    error("badType", "Unknown response type");
    error("badCursor", "cursor");
    expect("afterErrors", json!(null));
    // The store is where `verge dev` keeps state by default.
    assert!(project.path().join(".verge/state/kv.redb").is_file());
}

#[test]
fn an_acknowledged_write_survives_sigkill() {
    for engine in ENGINES {
        survives_sigkill(engine);
    }
}

fn survives_sigkill(engine: &[&str]) {
    let project = project();
    let state = tempfile::tempdir().unwrap();
    let persist = state.path().to_str().unwrap();
    let value: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let arguments = [&["--persist-to", persist], engine].concat();
    let server = DevServer::start(project.path(), &arguments);
    let agent = client();
    let reply = send(
        &agent,
        http::Request::post(format!("{}/put?key=blob", server.base))
            .body(value.clone())
            .unwrap(),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, "stored"));
    // Dropping the server kills it with SIGKILL: no shutdown, no flush.
    drop(server);

    let server = DevServer::start(project.path(), &arguments);
    let response = agent
        .get(format!("{}/get?key=blob", server.base))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().read_to_vec().unwrap();
    assert!(
        body == value,
        "read back {} bytes, not what was stored",
        body.len()
    );
}

/// Runs `verge kv key ARGS… --config PROJECT --binding STORE`; its stdout, or a failure.
fn kv_key(project: &std::path::Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = support::verge()
        .args(["kv", "key"])
        .args(args)
        .arg("--config")
        .arg(project)
        .args(["--binding", "STORE"])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn the_cli_and_a_worker_share_local_kv_data() {
    let project = project();
    let file = project.path().join("value.bin");
    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    std::fs::write(&file, &bytes).unwrap();
    kv_key(
        project.path(),
        &[
            "put",
            "from-cli",
            "--path",
            file.to_str().unwrap(),
            "--metadata",
            "{\"by\":\"cli\"}",
        ],
    )
    .unwrap();
    let refused = kv_key(project.path(), &["put", "short", "x", "--ttl", "5"]).unwrap_err();
    assert!(refused.contains("at least 60"), "{refused}");

    let server = DevServer::start(project.path(), &[]);
    let agent = client();
    let response = agent
        .get(format!("{}/get?key=from-cli", server.base))
        .call()
        .unwrap();
    assert_eq!(response.into_body().read_to_vec().unwrap(), bytes);
    let reply = send(
        &agent,
        http::Request::post(format!("{}/put?key=from-worker", server.base))
            .body(b"written by the worker".to_vec())
            .unwrap(),
    );
    assert_eq!(reply.status, 200);
    drop(server);

    let read = kv_key(project.path(), &["get", "from-worker"]).unwrap();
    assert_eq!(read, b"written by the worker");
    let listed: serde_json::Value =
        serde_json::from_slice(&kv_key(project.path(), &["list"]).unwrap()).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([
            { "name": "from-cli", "metadata": { "by": "cli" } },
            { "name": "from-worker" }
        ])
    );
    kv_key(project.path(), &["delete", "from-cli"]).unwrap();
    let missing = kv_key(project.path(), &["get", "from-cli"]).unwrap_err();
    assert!(missing.contains("not found"), "{missing}");
}
