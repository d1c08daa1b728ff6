//! Many requests writing at once, on two serving threads: every KV, D1 and R2 write that was
//! acknowledged is there afterwards with its own bytes, and nothing else is.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, get, DevServer};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/write') {
      const n = url.searchParams.get('n');
      const value = `value ${n} `.repeat(Number(n) % 50 + 1);
      await Promise.all([
        env.KV.put(`k${n}`, value),
        env.R2.put(`o${n}`, value),
        env.DB.prepare('INSERT INTO writes (n, value) VALUES (?, ?)').bind(Number(n), value).run(),
      ]);
      return new Response('written');
    }
    if (url.pathname === '/setup') {
      await env.DB.exec('CREATE TABLE IF NOT EXISTS writes (n INTEGER PRIMARY KEY, value TEXT NOT NULL)');
      return new Response('ready');
    }
    // What each store holds: every key or row, whether its value is the one its number makes.
    const expected = (n) => `value ${n} `.repeat(Number(n) % 50 + 1);
    const kv = [];
    let cursor;
    do {
      const page = await env.KV.list({ cursor });
      for (const { name } of page.keys) kv.push(await env.KV.get(name) === expected(name.slice(1)));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    const r2 = [];
    let listed = { truncated: true };
    while (listed.truncated) {
      listed = await env.R2.list({ cursor: listed.cursor });
      for (const { key } of listed.objects) r2.push(await (await env.R2.get(key)).text() === expected(key.slice(1)));
    }
    const { results } = await env.DB.prepare('SELECT n, value FROM writes').all();
    const d1 = results.map(({ n, value }) => value === expected(n));
    const count = (list) => [list.length, list.every(Boolean)];
    return Response.json({ kv: count(kv), r2: count(r2), d1: count(d1) });
  },
};
"#;

const CONFIG: &str = r#"name = "writers"
main = "index.js"
kv_namespaces = [{ binding = "KV", id = "kv" }]
r2_buckets = [{ binding = "R2", bucket_name = "r2" }]
d1_databases = [{ binding = "DB", database_name = "db" }]
"#;

const CLIENTS: usize = 8;
const WRITES_EACH: usize = 25;

#[test]
fn concurrent_writers_never_lose_or_mix_anything() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("index.js"), WORKER).unwrap();
    std::fs::write(project.path().join("wrangler.toml"), CONFIG).unwrap();
    let server = DevServer::start(project.path(), &["--threads", "2"]);
    assert_eq!(
        get(&client(), &format!("{}/setup", server.base)).body,
        "ready"
    );

    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let base = &server.base;
            scope.spawn(move || {
                let agent = client();
                for i in 0..WRITES_EACH {
                    let n = c * WRITES_EACH + i;
                    let reply = get(&agent, &format!("{base}/write?n={n}"));
                    assert_eq!((reply.status, reply.body.as_str()), (200, "written"), "{n}");
                }
            });
        }
    });

    let total = CLIENTS * WRITES_EACH;
    let seen: serde_json::Value =
        serde_json::from_str(&get(&client(), &format!("{}/check", server.base)).body).unwrap();
    let expected = serde_json::json!([total, true]);
    assert_eq!(seen["kv"], expected, "KV");
    assert_eq!(seen["r2"], expected, "R2");
    assert_eq!(seen["d1"], expected, "D1");
}
