//! The real `wrangler` (npm's, pinned in .ci/run, on npm's Node 22) against `verge serve`'s
//! Cloudflare API: `whoami`, `kv`, `d1`, `r2`, `secret`, `versions`, `deployments`, `rollback`
//! and `deploy` (TypeScript, bindings, routes, crons, `[assets]`), each checked by HTTP requests
//! to the server and its deployed workers.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use support::wrangler::{wrangler, wrangler_with_input};
use support::{client, get_host, send, DevServer, Reply};

const TOKEN: &str = "wrangler-test-token-0123456789";

/// A `verge serve` with an admin listener and no workers, its data in `dir`.
fn server(dir: &Path) -> (DevServer, String) {
    let config = dir.join("verge.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    let server = DevServer::serve(&config, &["--threads", "1"]);
    let admin = server
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("Admin API on ").map(|a| a.trim().to_owned()))
        .unwrap();
    (server, admin)
}

fn api(method: &str, url: &str, token: Option<&str>, body: &[u8]) -> Reply {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(&client(), request.body(body.to_vec()).unwrap())
}

#[test]
fn the_api_answers_in_cloudflares_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, admin) = server(dir.path());
    let v4 = format!("{admin}/client/v4");

    let missing = api("GET", &format!("{v4}/user/tokens/verify"), None, b"");
    assert_eq!(missing.status, 401);
    let body: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], 10000);

    let wrong = api(
        "GET",
        &format!("{v4}/accounts"),
        Some("not-the-token-0123456789"),
        b"",
    );
    assert_eq!(wrong.status, 403);
    assert!(
        wrong.body.contains("Invalid access token"),
        "{}",
        wrong.body
    );

    let unknown = api(
        "GET",
        &format!("{v4}/accounts/verge/queues"),
        Some(TOKEN),
        b"",
    );
    assert_eq!(unknown.status, 404);
    let body: serde_json::Value = serde_json::from_str(&unknown.body).unwrap();
    assert_eq!(body["success"], false);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Verge does not implement GET"),
        "{message}"
    );

    // Asset files take an upload session's token, which the admin token is not.
    let upload = api(
        "POST",
        &format!("{v4}/accounts/verge/workers/assets/upload?base64=true"),
        Some(TOKEN),
        b"",
    );
    assert_eq!(upload.status, 403, "{}", upload.body);

    // A malformed upload is refused naming what is wrong.
    let bad = http::Request::put(format!("{v4}/accounts/verge/workers/scripts/broken"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body(b"--XYZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{not json\r\n--XYZ--\r\n".to_vec())
        .unwrap();
    let refused = send(&client(), bad);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("the metadata part is not valid"),
        "{}",
        refused.body
    );
}

#[test]
fn wrangler_whoami_kv_and_deploy_work_against_verge() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (server, admin) = server(dir.path());
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let run = |args: &[&str]| wrangler(&project, &home, &admin, TOKEN, args);

    let whoami = run(&["whoami"]).expect_ok("wrangler whoami");
    assert!(whoami.stdout.contains("verge"), "{}", whoami.stdout);
    let refused = wrangler(
        &project,
        &home,
        &admin,
        "not-the-token-0123456789",
        &["whoami"],
    );
    assert!(!refused.ok);
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("Invalid access token"),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );

    // KV: a namespace, its keys one by one and in bulk.
    let created = run(&["kv", "namespace", "create", "settings"]).expect_ok("kv namespace create");
    let namespace = created.namespace_id();
    let listed = run(&["kv", "namespace", "list"]).expect_ok("kv namespace list");
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed[0]["id"], namespace.as_str());
    assert_eq!(listed[0]["title"], "settings");
    let ns = ["--namespace-id", namespace.as_str(), "--remote"];
    run(&[&["kv", "key", "put", "greeting", "hello from KV"], &ns[..]].concat())
        .expect_ok("kv key put");
    let got = run(&[&["kv", "key", "get", "greeting", "--text"], &ns[..]].concat())
        .expect_ok("kv key get");
    assert_eq!(got.stdout.trim(), "hello from KV");
    std::fs::write(
        dir.path().join("bulk.json"),
        r#"[{"key": "a/1", "value": "one"}, {"key": "a/2", "value": "dHdv", "base64": true}]"#,
    )
    .unwrap();
    let bulk = dir.path().join("bulk.json");
    run(&[&["kv", "bulk", "put", bulk.to_str().unwrap()], &ns[..]].concat())
        .expect_ok("kv bulk put");
    let keys =
        run(&[&["kv", "key", "list", "--prefix", "a/"], &ns[..]].concat()).expect_ok("kv key list");
    let keys: serde_json::Value = serde_json::from_str(&keys.stdout).unwrap();
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a/1", "a/2"]);
    let two =
        run(&[&["kv", "key", "get", "a/2", "--text"], &ns[..]].concat()).expect_ok("kv key get");
    assert_eq!(two.stdout.trim(), "two");
    run(&[&["kv", "key", "delete", "a/1"], &ns[..]].concat()).expect_ok("kv key delete");
    let missing = run(&[&["kv", "key", "get", "a/1", "--text"], &ns[..]].concat());
    assert!(!missing.ok, "a deleted key was still found");

    // A TypeScript project with vars and the KV binding, routed at wr.test.
    std::fs::write(
        project.join("src/index.ts"),
        "import { DurableObject } from 'cloudflare:workers';\n\
         interface Env {\n\
           GREETING: string; LIMIT: number; SETTINGS: KVNamespace; DB: D1Database; TOKEN?: string;\n\
           FILES: R2Bucket; COUNTER: DurableObjectNamespace<Counter>; SELF: Fetcher;\n\
         }\n\
         export class Counter extends DurableObject {\n\
           async next(): Promise<number> {\n\
             const count = ((await this.ctx.storage.get<number>('count')) ?? 0) + 1;\n\
             await this.ctx.storage.put('count', count);\n\
             return count;\n\
           }\n\
         }\n\
         export class Ledger extends DurableObject {}\n\
         export default {\n\
           async fetch(request: Request, env: Env): Promise<Response> {\n\
             const path = new URL(request.url).pathname;\n\
             if (path === '/bindings') {\n\
               const one = await env.DB.prepare('select 1 as one').first('one');\n\
               await env.FILES.put('note', 'filed');\n\
               const note = await (await env.FILES.get('note'))!.text();\n\
               const counter = env.COUNTER.get(env.COUNTER.idFromName('a'));\n\
               const own = await (await env.SELF.fetch('http://self/')).text();\n\
               return Response.json({ one, note, count: await counter.next(), own });\n\
             }\n\
             if (path === '/secret') return new Response(env.TOKEN ?? 'none');\n\
             const stored = await env.SETTINGS.get('greeting');\n\
             return new Response(`${env.GREETING} ${env.LIMIT} ${stored}`);\n\
           },\n\
         } satisfies ExportedHandler<Env>;\n",
    )
    .unwrap();
    let wrangler_toml = |greeting: &str| {
        format!(
            "name = \"greeter\"\nmain = \"src/index.ts\"\ncompatibility_date = \"2025-01-01\"\n\
             workers_dev = false\nroutes = [{{ pattern = \"wr.test/*\", zone_name = \"wr.test\" }}]\n\n\
             [vars]\nGREETING = \"{greeting}\"\nLIMIT = 3\n\n\
             [[kv_namespaces]]\nbinding = \"SETTINGS\"\nid = \"{namespace}\"\n\n\
             [[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"main\"\n\
             database_id = \"5d2f1e8c-0000-4000-8000-000000000001\"\n\n\
             [[services]]\nbinding = \"SELF\"\nservice = \"greeter\"\n\n\
             [[r2_buckets]]\nbinding = \"FILES\"\nbucket_name = \"files\"\n\n\
             [[durable_objects.bindings]]\nname = \"COUNTER\"\nclass_name = \"Counter\"\n\n\
             [[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Counter\"]\n\n\
             [triggers]\ncrons = [\"*/5 * * * *\"]\n"
        )
    };
    std::fs::write(project.join("wrangler.toml"), wrangler_toml("hi")).unwrap();
    let dry = wrangler(
        &project,
        &home,
        "http://127.0.0.1:9",
        "unused-token-0123456789",
        &["deploy", "--dry-run"],
    );
    assert!(
        dry.ok,
        "a dry run needs no server:\n{}\n{}",
        dry.stdout, dry.stderr
    );

    let deployed = run(&["deploy"]).expect_ok("wrangler deploy");
    assert!(
        deployed.stdout.contains("schedule: */5 * * * *"),
        "{}",
        deployed.stdout
    );
    let served = get_host(&server.base, "wr.test", "/");
    assert_eq!(
        (served.status, served.body.as_str()),
        (200, "hi 3 hello from KV")
    );
    let scripts = format!("{admin}/client/v4/accounts/verge/workers/scripts/greeter");
    let schedules = api("GET", &format!("{scripts}/schedules"), Some(TOKEN), b"");
    assert!(
        schedules.body.contains(r#"{"cron":"*/5 * * * *"}"#),
        "{}",
        schedules.body
    );
    let version = |reply: Reply| {
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        body["result"]["deployments"][0]["versions"][0]["version_id"].clone()
    };
    let first = version(api(
        "GET",
        &format!("{scripts}/deployments"),
        Some(TOKEN),
        b"",
    ));

    std::fs::write(project.join("wrangler.toml"), wrangler_toml("hello again")).unwrap();
    run(&["deploy"]).expect_ok("the second wrangler deploy");
    let served = get_host(&server.base, "wr.test", "/");
    assert_eq!(served.body, "hello again 3 hello from KV");
    // D1, R2, a service binding (to itself) and a Durable Object, whose storage outlives the
    // redeploy.
    let bindings = get_host(&server.base, "wr.test", "/bindings");
    assert_eq!(
        bindings.body,
        r#"{"one":1,"note":"filed","count":1,"own":"hello again 3 hello from KV"}"#
    );
    // A migration added later: wrangler sends only it, after the worker's last tag, and the
    // first class keeps its objects.
    let with_ledger = format!(
        "{}\n[[durable_objects.bindings]]\nname = \"LEDGER\"\nclass_name = \"Ledger\"\n\n\
         [[migrations]]\ntag = \"v2\"\nnew_sqlite_classes = [\"Ledger\"]\n",
        wrangler_toml("hello again")
    );
    std::fs::write(project.join("wrangler.toml"), with_ledger).unwrap();
    run(&["deploy"]).expect_ok("a third wrangler deploy, with a migration");
    let bindings = get_host(&server.base, "wr.test", "/bindings");
    assert_eq!(
        bindings.body,
        r#"{"one":1,"note":"filed","count":2,"own":"hello again 3 hello from KV"}"#
    );
    let second = version(api(
        "GET",
        &format!("{scripts}/deployments"),
        Some(TOKEN),
        b"",
    ));
    assert_ne!(first, second, "the second deploy made no new version");

    // A project that does not load is refused, and the running version keeps serving.
    std::fs::write(
        project.join("src/index.ts"),
        "export class Counter {}\nexport class Ledger {}\n\
         export default { fetch() { return new Response('x'); } };\n\
         throw new Error('broken at load');\n",
    )
    .unwrap();
    let broken = run(&["deploy"]);
    assert!(!broken.ok, "a broken worker deployed:\n{}", broken.stdout);
    assert!(
        format!("{}{}", broken.stdout, broken.stderr).contains("broken at load"),
        "{}\n{}",
        broken.stdout,
        broken.stderr
    );
    assert_eq!(
        get_host(&server.base, "wr.test", "/").body,
        "hello again 3 hello from KV"
    );

    // Versions and deployments; a rollback to the first upload, with a message.
    let versions = run(&["versions", "list", "--json"]).expect_ok("versions list");
    let versions: serde_json::Value = serde_json::from_str(&versions.stdout).unwrap();
    let ids: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let first_upload = "00000000-0000-4000-8000-000000000001";
    assert!(ids.contains(&first_upload), "{ids:?}");
    assert_eq!(versions[0]["annotations"]["workers/triggered_by"], "upload");
    run(&["rollback", first_upload, "-m", "back to hi"]).expect_ok("rollback");
    assert_eq!(
        get_host(&server.base, "wr.test", "/").body,
        "hi 3 hello from KV"
    );
    let deployments = run(&["deployments", "list", "--json"]).expect_ok("deployments list");
    let deployments: serde_json::Value = serde_json::from_str(&deployments.stdout).unwrap();
    // wrangler lists the newest last.
    let newest = deployments.as_array().unwrap().last().unwrap();
    assert_eq!(
        newest["annotations"]["workers/triggered_by"], "rollback",
        "{deployments}"
    );
    assert_eq!(newest["annotations"]["workers/message"], "back to hi");

    // A secret reaches env; it is listed by name, never by value, and deleted.
    let secret = "s3cr3t-value-never-shown";
    wrangler_with_input(
        &project,
        &home,
        &admin,
        TOKEN,
        &["secret", "put", "TOKEN"],
        secret,
    )
    .expect_ok("secret put");
    assert_eq!(get_host(&server.base, "wr.test", "/secret").body, secret);
    let listed = run(&["secret", "list"]).expect_ok("secret list");
    assert!(listed.stdout.contains("TOKEN"), "{}", listed.stdout);
    assert!(!listed.stdout.contains(secret), "{}", listed.stdout);
    run(&["secret", "delete", "TOKEN"]).expect_ok("secret delete");
    assert_eq!(get_host(&server.base, "wr.test", "/secret").body, "none");
    assert!(!server.stdout().contains(secret) && !server.stderr().contains(secret));
    // The secret outlived the rollback's code: still the first upload's.
    assert_eq!(
        get_host(&server.base, "wr.test", "/").body,
        "hi 3 hello from KV"
    );

    // A bulk delete; then the namespace itself goes, its keys with it.
    let gone = dir.path().join("gone.json");
    std::fs::write(&gone, r#"["a/2"]"#).unwrap();
    run(&[&["kv", "bulk", "delete", gone.to_str().unwrap()], &ns[..]].concat())
        .expect_ok("kv bulk delete");
    let keys =
        run(&[&["kv", "key", "list", "--prefix", "a/"], &ns[..]].concat()).expect_ok("kv key list");
    assert_eq!(keys.stdout.trim(), "[]");
    run(&["kv", "namespace", "delete", "--namespace-id", &namespace])
        .expect_ok("kv namespace delete");
    let listed = run(&["kv", "namespace", "list"]).expect_ok("kv namespace list");
    assert!(!listed.stdout.contains(&namespace), "{}", listed.stdout);
    assert_eq!(get_host(&server.base, "wr.test", "/").body, "hi 3 null");
}

#[test]
fn wrangler_d1_and_r2_work_against_verge() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (server, admin) = server(dir.path());
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("migrations")).unwrap();
    let run = |args: &[&str]| wrangler(&project, &home, &admin, TOKEN, args);

    // D1: a database, its migrations, statements in one transaction each.
    let created = run(&["d1", "create", "notes-db"]).expect_ok("d1 create");
    let uuid = created.quoted(|word| word.len() == 36 && word.matches('-').count() == 4);
    let listed = run(&["d1", "list", "--json"]).expect_ok("d1 list");
    assert!(
        listed.stdout.contains("notes-db") && listed.stdout.contains(&uuid),
        "{}",
        listed.stdout
    );
    std::fs::write(
        project.join("migrations/0001_notes.sql"),
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n",
    )
    .unwrap();
    std::fs::write(
        project.join("index.js"),
        "export default {\n\
           async fetch(request, env) {\n\
             const { n } = await env.DB.prepare('SELECT count(*) AS n FROM notes').first();\n\
             const file = await env.FILES.get('dir/hello.txt');\n\
             const text = file ? `${await file.text()} (${file.httpMetadata.contentType})` : 'no file';\n\
             return new Response(`${n} notes; ${text}`);\n\
           },\n\
         };\n",
    )
    .unwrap();
    std::fs::write(
        project.join("wrangler.toml"),
        format!(
            "name = \"notes\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
             workers_dev = false\nroutes = [{{ pattern = \"notes.test/*\", zone_name = \"notes.test\" }}]\n\n\
             [[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"notes-db\"\ndatabase_id = \"{uuid}\"\n\n\
             [[r2_buckets]]\nbinding = \"FILES\"\nbucket_name = \"uploads\"\n"
        ),
    )
    .unwrap();
    run(&["d1", "migrations", "apply", "notes-db", "--remote"]).expect_ok("d1 migrations apply");
    let execute = |sql: &str| {
        run(&[
            "d1",
            "execute",
            "notes-db",
            "--remote",
            "--json",
            "--command",
            sql,
        ])
    };
    execute("INSERT INTO notes (body) VALUES ('one'); INSERT INTO notes (body) VALUES ('two')")
        .expect_ok("d1 execute");
    // A statement that fails undoes the ones before it in the same command.
    let failed =
        execute("INSERT INTO notes (body) VALUES ('three'); INSERT INTO missing VALUES (1)");
    assert!(!failed.ok);
    assert!(
        failed.stdout.contains("no such table"),
        "{}\n{}",
        failed.stdout,
        failed.stderr
    );
    // A file goes up through the import flow: uploaded by its MD5, then run whole.
    let seed = dir.path().join("seed.sql");
    std::fs::write(
        &seed,
        "INSERT INTO notes (body) VALUES ('three');\nINSERT INTO notes (body) VALUES ('four');\n",
    )
    .unwrap();
    run(&[
        "d1",
        "execute",
        "notes-db",
        "--remote",
        "--yes",
        "--file",
        seed.to_str().unwrap(),
    ])
    .expect_ok("d1 execute --file");
    let counted = execute("SELECT count(*) AS n FROM notes").expect_ok("d1 execute");
    let counted: serde_json::Value = serde_json::from_str(&counted.stdout).unwrap();
    assert_eq!(counted[0]["results"][0]["n"], 4, "{counted}");
    let applied = execute("SELECT name FROM d1_migrations").expect_ok("d1 execute");
    assert!(
        applied.stdout.contains("0001_notes.sql"),
        "{}",
        applied.stdout
    );

    // R2: a bucket, an object with its content type, and the rules of deleting.
    run(&["r2", "bucket", "create", "uploads"]).expect_ok("r2 bucket create");
    let buckets = run(&["r2", "bucket", "list"]).expect_ok("r2 bucket list");
    assert!(buckets.stdout.contains("uploads"), "{}", buckets.stdout);
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, "hello from R2").unwrap();
    let object = "uploads/dir/hello.txt";
    run(&[
        "r2",
        "object",
        "put",
        object,
        "--file",
        file.to_str().unwrap(),
        "--content-type",
        "text/plain",
        "--remote",
    ])
    .expect_ok("r2 object put");
    let got =
        run(&["r2", "object", "get", object, "--pipe", "--remote"]).expect_ok("r2 object get");
    assert_eq!(got.stdout, "hello from R2");

    // The worker's bindings see what wrangler wrote.
    run(&["deploy"]).expect_ok("wrangler deploy");
    assert_eq!(
        get_host(&server.base, "notes.test", "/").body,
        "4 notes; hello from R2 (text/plain)"
    );

    let not_empty = run(&["r2", "bucket", "delete", "uploads"]);
    assert!(!not_empty.ok, "a bucket with an object was deleted");
    run(&["r2", "object", "delete", object, "--remote"]).expect_ok("r2 object delete");
    assert_eq!(
        get_host(&server.base, "notes.test", "/").body,
        "4 notes; no file"
    );
    run(&["r2", "bucket", "delete", "uploads"]).expect_ok("r2 bucket delete");
    let buckets = run(&["r2", "bucket", "list"]).expect_ok("r2 bucket list");
    assert!(!buckets.stdout.contains("uploads"), "{}", buckets.stdout);

    // A delete drops every table, a child's foreign key to a parent notwithstanding.
    execute("CREATE TABLE tags (note INTEGER REFERENCES notes (id), tag TEXT); INSERT INTO tags VALUES (1, 'x')")
        .expect_ok("d1 execute");
    run(&["d1", "delete", "notes-db", "-y"]).expect_ok("d1 delete");
    let schema = api(
        "POST",
        &format!("{admin}/client/v4/accounts/verge/d1/database/{uuid}/query"),
        Some(TOKEN),
        // SQLite's own (sqlite_sequence) stays, emptied.
        br#"{"sql": "SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"}"#,
    );
    let schema: serde_json::Value = serde_json::from_str(&schema.body).unwrap();
    assert_eq!(schema["result"][0]["results"][0]["n"], 0, "{schema}");
    let listed = run(&["d1", "list", "--json"]).expect_ok("d1 list");
    assert!(!listed.stdout.contains("notes-db"), "{}", listed.stdout);
}

#[test]
fn wrangler_deploys_assets_beside_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (server, admin) = server(dir.path());
    let project = dir.path().join("site");
    std::fs::create_dir_all(project.join("public/css")).unwrap();
    std::fs::write(project.join("public/index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(project.join("public/css/site.css"), "h1 { color: teal }").unwrap();
    // wrangler sends these two in the upload's metadata, not as assets.
    std::fs::write(
        project.join("public/_redirects"),
        "/old /css/site.css 301\n",
    )
    .unwrap();
    std::fs::write(project.join("public/_headers"), "/css/*\n  X-Styled: yes\n").unwrap();
    std::fs::write(
        project.join("index.js"),
        "export default {\n\
           async fetch(request, env) {\n\
             const url = new URL(request.url);\n\
             if (url.pathname === '/api/home') return env.ASSETS.fetch(new URL('/', url));\n\
             return new Response(`api ${url.pathname}`);\n\
           },\n\
         };\n",
    )
    .unwrap();
    std::fs::write(
        project.join("wrangler.toml"),
        "name = \"site\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
         workers_dev = false\nroutes = [{ pattern = \"site.test/*\", zone_name = \"site.test\" }]\n\n\
         [assets]\ndirectory = \"./public\"\nbinding = \"ASSETS\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| wrangler(&project, &home, &admin, TOKEN, args);

    // wrangler's default asks for a workers.dev URL, which Verge does not serve: it says so.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::copy(project.join("index.js"), plain.join("index.js")).unwrap();
    std::fs::write(
        plain.join("wrangler.toml"),
        "name = \"plain\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n",
    )
    .unwrap();
    let refused = wrangler(&plain, &home, &admin, TOKEN, &["deploy"]);
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("Verge serves no workers.dev URL")
            || refused.stdout.contains("Verge serves no workers.dev URL"),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );

    run(&["deploy"]).expect_ok("wrangler deploy with assets");

    let page = get_host(&server.base, "site.test", "/");
    assert_eq!((page.status, page.body.as_str()), (200, "<h1>home</h1>"));
    let css = get_host(&server.base, "site.test", "/css/site.css");
    assert_eq!(css.body, "h1 { color: teal }");
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(css.headers["x-styled"], "yes");
    let moved = get_host(&server.base, "site.test", "/old");
    assert_eq!(
        (moved.status, moved.headers["location"].to_str().unwrap()),
        (301, "/css/site.css")
    );
    // Not an asset: the worker answers.
    assert_eq!(
        get_host(&server.base, "site.test", "/_headers").body,
        "api /_headers"
    );
    assert_eq!(
        get_host(&server.base, "site.test", "/api/x").body,
        "api /api/x"
    );
    assert_eq!(
        get_host(&server.base, "site.test", "/api/home").body,
        "<h1>home</h1>"
    );

    // A second deploy sends only what changed.
    std::fs::write(project.join("public/index.html"), "<h1>home, again</h1>").unwrap();
    let second = run(&["deploy"]).expect_ok("the second deploy with assets");
    // The server asked only for the changed file: the other was staged by the first deploy.
    assert!(
        second.stdout.contains("(1 already uploaded)"),
        "{}",
        second.stdout
    );
    assert_eq!(
        get_host(&server.base, "site.test", "/").body,
        "<h1>home, again</h1>"
    );
    assert_eq!(
        get_host(&server.base, "site.test", "/css/site.css").body,
        "h1 { color: teal }"
    );
}

#[test]
fn wrangler_tail_follows_a_workers_requests() {
    use support::wrangler::Running;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (server, admin) = server(dir.path());
    let project = dir.path().join("logger");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("index.js"),
        "export default {\n\
           fetch(request, env, ctx) {\n\
             const path = new URL(request.url).pathname;\n\
             console.log('seen', path);\n\
             ctx.waitUntil(Promise.resolve().then(() => console.warn('after', path)));\n\
             if (path === '/boom') throw new TypeError('boom at ' + path);\n\
             return new Response('ok');\n\
           },\n\
         };\n",
    )
    .unwrap();
    std::fs::write(
        project.join("wrangler.toml"),
        "name = \"logger\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
         workers_dev = false\nroutes = [{ pattern = \"log.test/*\", zone_name = \"log.test\" }]\n",
    )
    .unwrap();
    wrangler(&project, &home, &admin, TOKEN, &["deploy"]).expect_ok("wrangler deploy");
    let request = |method: &str, path: &str, probe: bool| {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .header("host", "log.test")
            .header("authorization", "Bearer client-secret");
        if probe {
            request = request.header("x-probe", "yes");
        }
        support::send(&support::client(), request.body(Vec::new()).unwrap()).status
    };

    // JSON: each request is one event with its lines (ctx.waitUntil's too), filtered by its
    // method and a header.
    let tail = Running::start(
        &project,
        &home,
        &admin,
        TOKEN,
        &[
            "tail",
            "logger",
            "--format",
            "json",
            "--method",
            "POST",
            "--header",
            "x-probe: yes",
        ],
    );
    // Requests until one's event arrives: the tail connects in its own time.
    let arrived = support::wait_until(std::time::Duration::from_secs(30), || {
        request("POST", "/first", true);
        std::thread::sleep(std::time::Duration::from_millis(200));
        tail.stdout().contains("seen /first")
    });
    assert!(
        arrived,
        "no event reached wrangler tail:\n{}",
        tail.stdout()
    );
    // Requests the filters exclude, then one they pass: once its event is here, theirs would be.
    assert_eq!(request("GET", "/get", true), 200);
    assert_eq!(request("POST", "/unprobed", false), 200);
    assert_eq!(request("POST", "/last", true), 200);
    let last = support::wait_until(std::time::Duration::from_secs(10), || {
        tail.stdout().contains("after /last")
    });
    let output = tail.stdout();
    assert!(last, "{output}");
    assert!(
        !output.contains("/get") && !output.contains("/unprobed"),
        "{output}"
    );
    let event = output
        .split("\n}\n")
        .find(|event| event.contains("seen /last"))
        .unwrap_or_default();
    for expected in [
        "\"scriptName\": \"logger\"",
        "\"outcome\": \"ok\"",
        "\"method\": \"POST\"",
        "\"url\": \"http://log.test/last\"",
        "\"status\": 200",
        "\"x-probe\": \"yes\"",
        "\"authorization\": \"REDACTED\"",
        "\"level\": \"warn\"",
    ] {
        assert!(event.contains(expected), "{expected} is not in {event}");
    }
    assert!(!output.contains("client-secret"), "{output}");
    drop(tail);

    // Pretty: a request that throws, as wrangler prints it, for `--status error` from this
    // machine's own address; a request that succeeds does not pass.
    let tail = Running::start(
        &project,
        &home,
        &admin,
        TOKEN,
        &[
            "tail", "logger", "--format", "pretty", "--status", "error", "--ip", "self",
        ],
    );
    let arrived = support::wait_until(std::time::Duration::from_secs(30), || {
        request("GET", "/boom", false);
        std::thread::sleep(std::time::Duration::from_millis(200));
        tail.stdout().contains("Exception Thrown")
    });
    assert!(
        arrived,
        "no event reached wrangler tail:\n{}",
        tail.stdout()
    );
    assert_eq!(request("GET", "/fine", false), 200);
    assert_eq!(request("GET", "/boom", false), 500);
    let output = tail.stdout();
    assert!(
        output.contains("GET http://log.test/boom - Exception Thrown @"),
        "{output}"
    );
    assert!(output.contains("(log) seen /boom"), "{output}");
    let boomed = support::wait_until(std::time::Duration::from_secs(10), || {
        tail.stdout().matches("Exception Thrown").count() >= 2
    });
    assert!(boomed, "{}", tail.stdout());
    assert!(!tail.stdout().contains("/fine"), "{}", tail.stdout());
    let stderr = tail.stderr();
    assert!(stderr.contains("TypeError: boom at /boom"), "{stderr}");
}
