//! D1 bindings end to end: a worker under `verge dev` uses the whole D1 API against SQLite;
//! `verge d1 migrations apply` and `verge d1 execute` work on the same database while the
//! server runs; what a worker wrote survives the server being killed with SIGKILL. The worker's
//! tests run on QuickJS and on JavaScriptCore alike (D1's ops are written once, for both).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::{client, get, DevServer, ENGINES};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const db = env.DB;
    if (url.pathname === '/add') {
      const done = await db.prepare('INSERT INTO notes (body) VALUES (?1)').bind(url.searchParams.get('body')).run();
      return Response.json(done.meta.last_row_id);
    }
    if (url.pathname === '/notes') {
      const { results } = await db.prepare('SELECT id, body FROM notes ORDER BY id').all();
      return Response.json(results);
    }
    // Every part of the API; each observation is reported, the test compares.
    const seen = {};
    const error = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.name}: ${e.message}`; } };
    seen.exec = await db.exec(`DROP TABLE IF EXISTS users
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER, score REAL, avatar BLOB) -- people`);
    const insert = db.prepare('INSERT INTO users (name, age, score, avatar) VALUES (?, ?, ?, ?)');
    const ana = await insert.bind('ana', 31, 4.5, new Uint8Array([0, 255, 7])).run();
    seen.runMeta = { changes: ana.meta.changes, last_row_id: ana.meta.last_row_id, changed_db: ana.meta.changed_db, success: ana.success, results: ana.results };
    seen.sizeAfter = ana.meta.size_after > 0;
    const batch = await db.batch([
      insert.bind('bo', 25, null, null),
      insert.bind('cy', true, 1.25, new ArrayBuffer(2)),
      db.prepare('SELECT count(*) AS n FROM users'),
    ]);
    seen.batch = batch.map((r) => [r.meta.changes, r.results]);
    seen.first = await db.prepare('SELECT name, age, score, avatar FROM users WHERE id = ?').bind(1).first();
    seen.firstColumn = await db.prepare('SELECT name FROM users ORDER BY name DESC').first('name');
    seen.firstNone = await db.prepare('SELECT name FROM users WHERE id = 99').first();
    seen.missingColumn = await error(() => db.prepare('SELECT name FROM users').first('nope'));
    seen.all = (await db.prepare('SELECT name FROM users WHERE age > ?1 ORDER BY id').bind(20).all()).results;
    seen.raw = await db.prepare('SELECT id, name FROM users ORDER BY id LIMIT 2').raw();
    seen.rawNames = await db.prepare('SELECT id, name FROM users ORDER BY id LIMIT 1').raw({ columnNames: true });
    // A failing batch changes nothing: 'dee' is rolled back with the duplicate 'ana'.
    seen.failedBatch = await error(() => db.batch([insert.bind('dee', 1, 1, null), insert.bind('ana', 1, 1, null)]));
    seen.afterFailedBatch = await db.prepare('SELECT count(*) AS n FROM users').first('n');
    seen.syntax = await error(() => db.prepare('SELEC * FROM users').all());
    try { await db.prepare('SELECT * FROM nowhere').all(); } catch (e) { seen.cause = e.cause?.message; }
    seen.badType = await error(() => db.prepare('SELECT ?').bind({}).all());
    seen.undefinedValue = await error(() => db.prepare('SELECT ?').bind(undefined).all());
    seen.paramCount = await error(() => db.prepare('SELECT ?, ?').bind(1).all());
    seen.begin = await error(() => db.exec('BEGIN TRANSACTION'));
    seen.attach = await error(() => db.exec("ATTACH DATABASE '/tmp/x.db' AS x"));
    seen.session = (await db.withSession('first-primary').prepare('SELECT 1 AS one').first()).one;
    seen.bigint = await db.prepare('SELECT ?1 + 1 AS n').bind(2n ** 40n).first('n');
    return Response.json(seen);
  },
};
"#;

const CONFIG: &str = r#"name = "d1-test"
main = "index.js"
d1_databases = [{ binding = "DB", database_name = "notes-db", database_id = "0a1b2c" }]
"#;

const MIGRATION: &str =
    "-- Migration number: 0001\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), WORKER).unwrap();
    std::fs::write(dir.path().join("wrangler.toml"), CONFIG).unwrap();
    dir
}

/// Runs `verge d1 ARGS… --config PROJECT`; its stdout, or its stderr as the failure.
fn d1(project: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let output = support::verge()
        .arg("d1")
        .args(args)
        .arg("--config")
        .arg(project)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn a_worker_uses_the_whole_d1_api() {
    for engine in ENGINES {
        uses_the_whole_d1_api(engine);
    }
}

fn uses_the_whole_d1_api(engine: &[&str]) {
    let project = project();
    let server = DevServer::start(project.path(), engine);
    let reply = get(&client(), &format!("{}/all", server.base));
    assert_eq!(reply.status, 200, "{engine:?}: {}", reply.body);
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let expect =
        |key: &str, value: serde_json::Value| assert_eq!(seen[key], value, "{engine:?}: {key}");
    assert_eq!(seen["exec"]["count"], 2, "{}", seen["exec"]);
    expect(
        "runMeta",
        json!({ "changes": 1, "last_row_id": 1, "changed_db": true, "success": true, "results": [] }),
    );
    expect("sizeAfter", json!(true));
    expect("batch", json!([[1, []], [1, []], [0, [{ "n": 3 }]]]));
    expect(
        "first",
        json!({ "name": "ana", "age": 31, "score": 4.5, "avatar": [0, 255, 7] }),
    );
    expect("firstColumn", json!("cy"));
    expect("firstNone", json!(null));
    expect("all", json!([{ "name": "ana" }, { "name": "bo" }]));
    expect("raw", json!([[1, "ana"], [2, "bo"]]));
    expect("rawNames", json!([["id", "name"], [1, "ana"]]));
    expect("afterFailedBatch", json!(3));
    expect("session", json!(1));
    expect("bigint", json!(1_099_511_627_777_u64));
    let error = |key: &str, needles: &[&str]| {
        let message = seen[key].as_str().unwrap();
        for needle in needles {
            assert!(message.contains(needle), "{key}: {message}");
        }
    };
    error("missingColumn", &["D1_COLUMN_NOTFOUND"]);
    error(
        "failedBatch",
        &[
            "Error: D1_ERROR",
            "UNIQUE constraint failed",
            "SQLITE_CONSTRAINT",
        ],
    );
    error("syntax", &["Error: D1_ERROR", "syntax error"]);
    assert_eq!(seen["cause"], "no such table: nowhere: SQLITE_ERROR");
    error("badType", &["TypeError: D1_TYPE_ERROR", "'object'"]);
    error("undefinedValue", &["D1_TYPE_ERROR", "'undefined'"]);
    error("paramCount", &["D1_ERROR", "parameter"]);
    error("begin", &["not authorized", "batch()"]);
    error("attach", &["not authorized", "ATTACH"]);
    assert!(project
        .path()
        .join(".verge/state/d1/0a1b2c.sqlite3")
        .is_file());
}

#[test]
fn migrations_and_execute_share_the_database_with_a_running_worker() {
    let project = project();
    let missing = d1(
        project.path(),
        &["execute", "other", "--command", "SELECT 1"],
    )
    .unwrap_err();
    assert!(missing.contains("no D1 database named other") && missing.contains("notes-db"));
    let created = d1(
        project.path(),
        &["migrations", "create", "notes-db", "Make notes"],
    )
    .unwrap();
    let file = project.path().join("migrations/0001_make_notes.sql");
    assert!(created.contains("0001_make_notes.sql"), "{created}");
    std::fs::write(&file, MIGRATION).unwrap();
    let bad = project.path().join("migrations/0002_bad.sql");
    std::fs::write(
        &bad,
        "ALTER TABLE notes ADD COLUMN at TEXT;\nCREAT TABLE oops (x);\n",
    )
    .unwrap();
    let listed = d1(project.path(), &["migrations", "list", "DB"]).unwrap();
    assert_eq!(listed, "0001_make_notes.sql\n0002_bad.sql\n");

    // The second migration fails: the first stays applied, the second leaves nothing behind.
    let failed = d1(project.path(), &["migrations", "apply", "notes-db"]).unwrap_err();
    assert!(
        failed.contains("0002_bad.sql failed") && failed.contains("syntax error"),
        "{failed}"
    );
    std::fs::write(&bad, "ALTER TABLE notes ADD COLUMN at TEXT;\n").unwrap();
    let applied = d1(project.path(), &["migrations", "apply", "notes-db"]).unwrap();
    assert!(applied.contains("Applied 0002_bad.sql"), "{applied}");
    assert!(!applied.contains("0001"), "{applied}");
    let none = d1(project.path(), &["migrations", "apply", "notes-db"]).unwrap();
    assert!(none.contains("No migrations to apply"), "{none}");

    let server = DevServer::start(project.path(), &[]);
    let agent = client();
    assert_eq!(
        get(&agent, &format!("{}/add?body=from+worker", server.base)).body,
        "1"
    );
    d1(
        project.path(),
        &[
            "execute",
            "notes-db",
            "--command",
            "INSERT INTO notes (body, at) VALUES ('from cli', 'now')",
        ],
    )
    .unwrap();
    let notes = get(&agent, &format!("{}/notes", server.base)).body;
    assert_eq!(
        notes,
        r#"[{"id":1,"body":"from worker"},{"id":2,"body":"from cli"}]"#
    );
    let json = d1(
        project.path(),
        &[
            "execute",
            "DB",
            "--json",
            "--command",
            "SELECT body FROM notes WHERE id = 1",
        ],
    )
    .unwrap();
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(results[0]["results"], json!([{ "body": "from worker" }]));
    let table = d1(
        project.path(),
        &["execute", "DB", "--command", "SELECT id, body FROM notes"],
    )
    .unwrap();
    assert!(
        table.contains("│ 2  │ \"from cli\"    │") && table.contains("Executed 1 commands"),
        "{table}"
    );
    let refused = d1(
        project.path(),
        &["execute", "DB", "--command", "DROP TABLEX notes"],
    );
    assert!(refused.unwrap_err().contains("syntax error"));
}

#[test]
fn an_acknowledged_write_survives_sigkill() {
    for engine in ENGINES {
        survives_sigkill(engine);
    }
}

fn survives_sigkill(engine: &[&str]) {
    let project = project();
    std::fs::create_dir(project.path().join("migrations")).unwrap();
    std::fs::write(project.path().join("migrations/0001_notes.sql"), MIGRATION).unwrap();
    d1(project.path(), &["migrations", "apply", "DB"]).unwrap();
    let server = DevServer::start(project.path(), engine);
    let agent = client();
    for body in ["one", "two"] {
        let reply = get(&agent, &format!("{}/add?body={body}", server.base));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // Dropping the server kills it with SIGKILL: no shutdown, no checkpoint.
    drop(server);
    let server = DevServer::start(project.path(), engine);
    assert_eq!(
        get(&agent, &format!("{}/notes", server.base)).body,
        r#"[{"id":1,"body":"one"},{"id":2,"body":"two"}]"#
    );
}
