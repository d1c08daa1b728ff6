//! Durable Objects, `cloudflare:workers` and JS RPC end to end (issue 22), under `verge dev`
//! and `verge serve` with several serving threads: the counter that 100 concurrent requests
//! leave at exactly 100, storage's key-value and SQL APIs, RPC on a stub and on a service
//! binding with errors re-thrown by class, ids checked, and acknowledged writes surviving
//! SIGKILL.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;
use support::{client, dev_refusal, get, project, DevServer};

const CONFIG: &str = r#"
name = "objects"
main = "index.js"
services = [{ binding = "AUTH", service = "objects", entrypoint = "Auth" }]

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
"#;

const WORKER: &str = r#"
import { DurableObject, WorkerEntrypoint, RpcTarget, env as importedEnv } from "cloudflare:workers";

class Session extends RpcTarget {
  #user;
  constructor(user) { super(); this.#user = user; }
  whoami() { return this.#user; }
}

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Events wait until this settles.
    ctx.blockConcurrencyWhile(async () => { this.ready = (await ctx.storage.get("boots") ?? 0) + 1; });
  }
  async fetch(request) {
    // Read, then write, with no guard: the input gate keeps other requests out between them.
    const n = (await this.ctx.storage.get("n")) ?? 0;
    await this.ctx.storage.put("n", n + 1);
    return new Response(String(n + 1));
  }
  async increment(by) {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + by;
    await this.ctx.storage.put("n", n);
    return { n, id: this.ctx.id.toString(), name: this.ctx.id.name, ready: this.ready };
  }
  async kv() {
    const s = this.ctx.storage;
    await s.put({ "a/1": 1, "a/2": { deep: [1n, new Date(5), new Map([["k", "v"]])] }, "b": "x" });
    const seen = {};
    seen.many = [...(await s.get(["a/1", "zz", "b"])).entries()];
    const deep = await s.get("a/2");
    seen.deep = [typeof deep.deep[0], deep.deep[1].getTime(), deep.deep[2].get("k")];
    seen.prefix = [...(await s.list({ prefix: "a/" })).keys()];
    seen.reverse = [...(await s.list({ reverse: true, limit: 2 })).keys()];
    seen.after = [...(await s.list({ startAfter: "a/1", end: "b" })).keys()];
    seen.deleted = await s.delete("b");
    seen.deletedMissing = await s.delete("b");
    try {
      await s.transaction(async (txn) => { await txn.put("t", 1); throw new Error("undo"); });
    } catch (e) { seen.rolledBack = e.message; }
    seen.afterRollback = await s.get("t");
    const error = async (f) => { try { await f(); return "no error"; } catch (e) { return e.name; } };
    seen.bigValue = await error(() => s.put("big", "x".repeat(200 * 1024)));
    seen.function = await error(() => s.put("f", () => 1));
    await s.deleteAll();
    seen.afterDeleteAll = (await s.list()).size;
    return seen;
  }
  sql() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT, data BLOB)");
    const inserted = sql.exec("INSERT INTO notes (body, data) VALUES (?, ?), (?, ?)", "one", new Uint8Array([1, 2]), "two", null);
    const cursor = sql.exec("SELECT id, body, data FROM notes ORDER BY id");
    const rows = cursor.toArray();
    const raw = sql.exec("SELECT body FROM notes ORDER BY id").raw().toArray();
    let refused;
    try { sql.exec("SELECT * FROM _cf_KV"); } catch (e) { refused = e.message; }
    let notOne;
    try { sql.exec("SELECT * FROM notes").one(); } catch (e) { notOne = e.message; }
    return {
      written: inserted.rowsWritten, columns: cursor.columnNames, bodies: rows.map((r) => r.body),
      blob: [...new Uint8Array(rows[0].data)], raw, refused, notOne,
      one: sql.exec("SELECT count(*) AS n FROM notes").one().n, size: sql.databaseSize > 0,
    };
  }
  fail() { throw new RangeError("out of range"); }
  // Holds the object's gate with a promise that never settles.
  stall() { this.ctx.blockConcurrencyWhile(() => new Promise(() => {})); return "stalled"; }
  // Calls back into the caller's isolate, through the stub of the function it was given.
  async twice(callback) { return [await callback(1), await callback(2)]; }
  // A stub handed on by the worker: its calls go to the isolate that exported it.
  async useSession(session) { return `object sees ${await session.whoami()}`; }
  // Stubs are RPC's alone: storage refuses them, and a forged one is no stub.
  async forge(session) {
    const refused = await this.ctx.storage.put("s", session).then(() => "stored", (e) => e.name);
    const parse = JSON.parse;
    JSON.parse = () => ["S", "0".repeat(32), "1".repeat(32), "f"];
    try {
      await this.ctx.storage.put("k", 1);
      return [refused, typeof (await this.ctx.storage.get("k"))];
    } catch (e) {
      return [refused, e.name];
    } finally {
      JSON.parse = parse;
    }
  }
  async arm(delayMs, failures) {
    await this.ctx.storage.put("failures", failures);
    await this.ctx.storage.setAlarm(Date.now() + delayMs);
    return await this.ctx.storage.getAlarm();
  }
  async alarm(info) {
    const runs = (await this.ctx.storage.get("runs")) ?? [];
    runs.push({ retryCount: info.retryCount, alarmDuringRun: await this.ctx.storage.getAlarm() });
    await this.ctx.storage.put("runs", runs);
    const failures = (await this.ctx.storage.get("failures")) ?? 0;
    if (runs.length <= failures) throw new Error("failing on purpose");
  }
  async runs() { return { runs: (await this.ctx.storage.get("runs")) ?? [], alarm: await this.ctx.storage.getAlarm() }; }
}

export class Auth extends WorkerEntrypoint {
  fetch(request) { return new Response(`auth sees ${new URL(request.url).pathname}`); }
  verify(token) { return token === "secret" ? { user: "ana", env: this.env === importedEnv } : null; }
  reject() { throw new TypeError("bad token"); }
  session(user) { return new Session(user); }
  apply(fn, value) { return fn(value); }
  identity(value) { return value; }
  // Calls itself through its own binding, without end.
  recurse(n) { return this.env.AUTH.recurse(n + 1); }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "main";
    const stub = env.COUNTER.getByName(name);
    const json = (value) => Response.json(value);
    switch (url.pathname) {
      case "/count": return stub.fetch(request);
      case "/rpc": return json(await stub.increment(Number(url.searchParams.get("by") ?? 1)));
      case "/stall": return new Response(await stub.stall());
      case "/kv": return json(await stub.kv());
      case "/sql": return json(await stub.sql());
      case "/errors": {
        const caught = async (f) => { try { await f(); return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } };
        return json({
          method: await caught(() => stub.fail()),
          missing: await caught(() => stub.nothing()),
          service: await caught(() => env.AUTH.reject()),
          clone: await caught(() => stub.increment(Symbol("not cloneable"))),
          badId: await caught(() => env.COUNTER.idFromString("00".repeat(32))),
          notHex: await caught(() => env.COUNTER.idFromString("xyz")),
          endless: await caught(() => env.AUTH.recurse(0)),
        });
      }
      case "/ids": {
        const a = env.COUNTER.idFromName("a");
        const unique = env.COUNTER.newUniqueId();
        return json({
          stable: a.equals(env.COUNTER.idFromName("a")),
          differs: !a.equals(env.COUNTER.idFromName("b")),
          roundTrip: env.COUNTER.idFromString(unique.toString()).equals(unique),
          length: a.toString().length,
          name: a.name,
        });
      }
      case "/arm": return json(await stub.arm(Number(url.searchParams.get("delay")), Number(url.searchParams.get("failures") ?? 0)));
      case "/runs": return json(await stub.runs());
      case "/stubs": {
        const session = await env.AUTH.session("bo");
        let seen = 0;
        const own = () => "mine";
        return json({
          forwarded: await stub.useSession(session),
          comesBackAsItself: (await env.AUTH.identity(own)) === own,
          forged: await stub.forge(session),
          notCloned: (() => { try { structuredClone(new Session("x")); return "cloned"; } catch (e) { return e.name; } })(),
          whoami: await session.whoami(),
          applied: await env.AUTH.apply((x) => x + 1, 41),
          twice: await stub.twice((n) => { seen += n; return n * 10; }),
          seen,
          cloned: await (async () => { try { structuredClone(() => 1); return "cloned"; } catch (e) { return e.name; } })(),
        });
      }
      case "/auth": return json({
        ok: await env.AUTH.verify("secret"),
        no: await env.AUTH.verify("guess"),
        fetched: await (await env.AUTH.fetch("http://auth/check")).text(),
      });
    }
    return new Response("not found", { status: 404 });
  },
};
"#;

fn json(agent: &ureq::Agent, url: &str) -> serde_json::Value {
    let reply = get(agent, url);
    assert_eq!(reply.status, 200, "{url}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("{url}: {}", reply.body))
}

#[test]
fn a_hundred_concurrent_increments_leave_exactly_a_hundred() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let server = DevServer::start(dir.path(), &["--threads", "2"]);
    let base = server.base.clone();
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = client();
                for _ in 0..10 {
                    let reply = get(&agent, &format!("{base}/count?name=race"));
                    assert_eq!(reply.status, 200, "{}", reply.body);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let agent = client();
    assert_eq!(get(&agent, &format!("{base}/count?name=race")).body, "101");
    // Another name is another object, with storage of its own.
    assert_eq!(get(&agent, &format!("{base}/count?name=other")).body, "1");
}

#[test]
fn storage_rpc_and_ids_behave_as_on_workers() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();
    let base = &server.base;

    let rpc = json(&agent, &format!("{base}/rpc?name=rpc&by=5"));
    assert_eq!(rpc["n"], 5);
    assert_eq!(rpc["name"], "rpc");
    assert_eq!(rpc["ready"], 1, "blockConcurrencyWhile ran before the call");
    assert_eq!(rpc["id"].as_str().unwrap().len(), 64);
    assert_eq!(json(&agent, &format!("{base}/rpc?name=rpc&by=2"))["n"], 7);

    let kv = json(&agent, &format!("{base}/kv"));
    assert_eq!(kv["many"], serde_json::json!([["a/1", 1], ["b", "x"]]));
    assert_eq!(kv["deep"], serde_json::json!(["bigint", 5, "v"]));
    assert_eq!(kv["prefix"], serde_json::json!(["a/1", "a/2"]));
    assert_eq!(kv["reverse"], serde_json::json!(["b", "a/2"]));
    assert_eq!(kv["after"], serde_json::json!(["a/2"]));
    assert_eq!(kv["deleted"], true);
    assert_eq!(kv["deletedMissing"], false);
    assert_eq!(kv["rolledBack"], "undo");
    assert_eq!(kv["afterRollback"], serde_json::Value::Null);
    assert_eq!(kv["bigValue"], "TypeError");
    assert_eq!(kv["function"], "DataCloneError");
    assert_eq!(kv["afterDeleteAll"], 0);

    let sql = json(&agent, &format!("{base}/sql"));
    assert_eq!(sql["written"], 2);
    assert_eq!(sql["columns"], serde_json::json!(["id", "body", "data"]));
    assert_eq!(sql["bodies"], serde_json::json!(["one", "two"]));
    assert_eq!(sql["blob"], serde_json::json!([1, 2]));
    assert_eq!(sql["raw"], serde_json::json!([["one"], ["two"]]));
    assert!(sql["refused"].as_str().unwrap().contains("_cf_"), "{sql}");
    assert!(
        sql["notOne"].as_str().unwrap().contains("multiple results"),
        "{sql}"
    );
    assert_eq!(sql["one"], 2);
    assert_eq!(sql["size"], true);

    let errors = json(&agent, &format!("{base}/errors"));
    assert_eq!(errors["method"], "RangeError: out of range");
    assert!(
        errors["missing"]
            .as_str()
            .unwrap()
            .contains("does not implement the method \"nothing\""),
        "{errors}"
    );
    assert_eq!(errors["service"], "TypeError: bad token");
    assert!(
        errors["clone"]
            .as_str()
            .unwrap()
            .starts_with("DataCloneError"),
        "{errors}"
    );
    assert!(
        errors["badId"]
            .as_str()
            .unwrap()
            .starts_with("TypeError: Invalid Durable Object ID"),
        "{errors}"
    );
    assert!(
        errors["notHex"].as_str().unwrap().starts_with("TypeError"),
        "{errors}"
    );
    let endless = errors["endless"].as_str().unwrap();
    assert!(
        endless.contains("Subrequest depth limit exceeded"),
        "{errors}"
    );

    let ids = json(&agent, &format!("{base}/ids"));
    assert_eq!(
        ids,
        serde_json::json!({ "stable": true, "differs": true, "roundTrip": true, "length": 64, "name": "a" })
    );

    // Functions and RpcTargets pass by reference, in both directions and across isolates.
    let stubs = json(&agent, &format!("{base}/stubs"));
    assert_eq!(
        stubs,
        serde_json::json!({
            "forwarded": "object sees bo",
            "comesBackAsItself": true,
            "forged": ["DataCloneError", "TypeError"],
            "notCloned": "DataCloneError",
            "whoami": "bo",
            "applied": 42,
            "twice": [10, 20],
            "seen": 3,
            "cloned": "DataCloneError",
        })
    );

    let auth = json(&agent, &format!("{base}/auth"));
    assert_eq!(
        auth,
        serde_json::json!({ "ok": { "user": "ana", "env": true }, "no": null, "fetched": "auth sees /check" })
    );
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let mut server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    let agent = client();
    for expected in 1..=20 {
        let reply = get(&agent, &format!("{}/count?name=durable", server.base));
        assert_eq!(reply.body, expected.to_string());
    }
    server.kill();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    let reply = get(&agent, &format!("{}/count?name=durable", server.base));
    assert_eq!(reply.body, "21", "every acknowledged increment was kept");
}

#[test]
fn a_renamed_class_keeps_its_objects_and_their_ids() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let agent = client();
    let server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    for expected in 1..=3 {
        let reply = get(&agent, &format!("{}/count?name=kept", server.base));
        assert_eq!(reply.body, expected.to_string());
    }
    drop(server);
    // Counter becomes Tally: idFromName("kept") is the same object, with its storage.
    let renamed = format!(
        "{}[[migrations]]\ntag = \"v2\"\nrenamed_classes = [{{ from = \"Counter\", to = \"Tally\" }}]\n",
        CONFIG.replace("class_name = \"Counter\"", "class_name = \"Tally\"")
    );
    std::fs::write(dir.path().join("wrangler.toml"), renamed).unwrap();
    let script = WORKER.replace("export class Counter", "export class Tally");
    std::fs::write(dir.path().join("index.js"), script).unwrap();
    let server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    let reply = get(&agent, &format!("{}/count?name=kept", server.base));
    assert_eq!(reply.body, "4", "{}", server.stderr());
}

#[test]
fn inconsistent_object_config_is_refused_naming_the_class() {
    let stale = CONFIG.replace(
        "new_sqlite_classes = [\"Counter\"]",
        "new_sqlite_classes = [\"Tally\"]",
    );
    let dir = project(&[("wrangler.toml", stale.as_str()), ("index.js", WORKER)]);
    let refused = dev_refusal(dir.path());
    assert!(
        refused.contains("binds class Counter, which no [[migrations]]"),
        "{refused}"
    );

    let missing = CONFIG
        .replace("class_name = \"Counter\"", "class_name = \"Missing\"")
        .replace("[\"Counter\"]", "[\"Missing\"]");
    let dir = project(&[("wrangler.toml", missing.as_str()), ("index.js", WORKER)]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/count", server.base));
    assert_eq!(reply.status, 500);
    assert!(
        server.stderr().contains("exports no class named Missing")
            || server.stdout().contains("exports no class named Missing"),
        "{}",
        server.stderr()
    );
}

#[test]
fn alarms_fire_retry_with_backoff_and_survive_a_restart() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let mut server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    let agent = client();
    let runs =
        |server: &DevServer, name: &str| json(&agent, &format!("{}/runs?name={name}", server.base));

    // Fires once, with no alarm set while it runs; fails once, then is retried.
    let armed = json(
        &agent,
        &format!("{}/arm?name=soon&delay=100&failures=1", server.base),
    );
    assert!(
        armed.as_f64().is_some(),
        "getAlarm() after setAlarm(): {armed}"
    );
    let retried = support::wait_until(Duration::from_secs(15), || {
        runs(&server, "soon")["runs"]
            .as_array()
            .is_some_and(|runs| runs.len() == 2)
    });
    let seen = runs(&server, "soon");
    assert!(retried, "{seen}");
    assert_eq!(
        seen["runs"],
        serde_json::json!([
            { "retryCount": 0, "alarmDuringRun": null },
            { "retryCount": 1, "alarmDuringRun": null },
        ])
    );
    assert_eq!(seen["alarm"], serde_json::Value::Null);

    // Set, then the server is killed before it fires: the restarted server runs it.
    json(
        &agent,
        &format!("{}/arm?name=later&delay=1500", server.base),
    );
    server.kill();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    let fired = support::wait_until(Duration::from_secs(15), || {
        runs(&server, "later")["runs"]
            .as_array()
            .is_some_and(|runs| runs.len() == 1)
    });
    assert!(fired, "{}", runs(&server, "later"));
}

#[test]
fn an_object_held_by_block_concurrency_while_for_30_s_is_reset() {
    let dir = project(&[("wrangler.toml", CONFIG), ("index.js", WORKER)]);
    let server = DevServer::start(dir.path(), &[]);
    let agent = support::client_with_timeout(Duration::from_secs(60));
    let base = &server.base;
    assert_eq!(
        get(&agent, &format!("{base}/stall?name=stuck")).body,
        "stalled"
    );
    let started = std::time::Instant::now();
    let held = get(&agent, &format!("{base}/count?name=stuck"));
    assert_eq!(held.status, 500, "{}", held.body);
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
    // The server's log line may reach the test's reader just after the response.
    let logged = support::wait_until(Duration::from_secs(5), || {
        let said = "blockConcurrencyWhile() ran longer than 30 s";
        server.stderr().contains(said) || server.stdout().contains(said)
    });
    assert!(logged, "{}", server.stderr());
    // A fresh isolate serves the object, its storage as it was.
    assert_eq!(get(&agent, &format!("{base}/count?name=stuck")).body, "1");
}
