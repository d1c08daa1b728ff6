//! TypeScript projects as wrangler runs them: `main = "src/index.ts"`, imports of other `.ts`
//! files with no extension or with `.js`, enums and type-only imports; types are stripped at
//! load, and a syntax error stops the load naming the file and line. JSON, text and data files
//! import as wrangler's default module rules have them; npm packages resolve from
//! `node_modules` by their `exports` conditions, `module` and `main`.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, get, project, DevServer, ENGINES};

const CONFIG: &str = "name = \"ts\"\nmain = \"src/index.ts\"\n[vars]\nGREETING = \"hello\"\n";

#[test]
fn a_typescript_worker_runs_with_its_imports() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "src/index.ts",
            r#"import { greet } from './greet';
import { Level, type Env } from './types.js';
interface Reply { text: string; level: Level }
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const reply: Reply = { text: greet(env.GREETING, new URL(request.url).pathname), level: Level.High };
    return Response.json(reply satisfies Reply);
  },
} satisfies ExportedHandler<Env>;
"#,
        ),
        (
            "src/greet.ts",
            "export function greet(greeting: string, who: string): string {\n  return `${greeting} ${who as string}`;\n}\n",
        ),
        (
            "src/types.ts",
            "export interface Env { GREETING: string }\nexport enum Level { Low = 1, High = 2 }\n",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/world", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, r#"{"text":"hello /world","level":2}"#);
}

#[test]
fn a_typescript_syntax_error_names_the_file_and_line() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        ("src/index.ts", "import { x } from './broken';\nexport default { fetch() { return new Response(String(x)); } };\n"),
        ("src/broken.ts", "export const x: number = 1;\nexport const y: = 2;\n"),
    ]);
    let stderr = support::dev_refusal(dir.path());
    assert!(stderr.contains("src/broken.ts:2:"), "{stderr}");
}

#[test]
fn json_text_and_data_files_import_as_wrangler_s_rules_have_them() {
    for engine in ENGINES {
        import_as_wrangler_s_rules_have_them(engine);
    }
}

fn import_as_wrangler_s_rules_have_them(engine: &[&str]) {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "src/index.ts",
            r#"import config from './config.json';
import page from './page.html';
import query from './query.sql';
import blob from './blob.bin';
export default {
  fetch(): Response {
    const bytes = [...new Uint8Array(blob)];
    return Response.json({ config, page, query, bytes, isBuffer: blob instanceof ArrayBuffer });
  },
};
"#,
        ),
        (
            "src/config.json",
            "{ \"limit\": 3, \"names\": [\"a\", \"b\"] }",
        ),
        (
            "src/page.html",
            "<p class=\"x\">line one\nline \\two\u{2028}</p>",
        ),
        ("src/query.sql", "SELECT 1;"),
        ("src/blob.bin", "\u{1}AB"),
    ]);
    let server = DevServer::start(dir.path(), engine);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{engine:?}: {}", reply.body);
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        seen["config"],
        serde_json::json!({ "limit": 3, "names": ["a", "b"] })
    );
    assert_eq!(
        seen["page"],
        "<p class=\"x\">line one\nline \\two\u{2028}</p>"
    );
    assert_eq!(seen["query"], "SELECT 1;");
    assert_eq!(seen["bytes"], serde_json::json!([1, 65, 66]));
    assert_eq!(seen["isBuffer"], true);
}

#[test]
fn the_project_s_own_module_rules_come_first() {
    let dir = project(&[
        (
            "wrangler.toml",
            r#"name = "rules"
main = "src/index.js"

[[rules]]
type = "Text"
globs = ["**/*.md"]

[[rules]]
type = "Data"
globs = ["images/*.png"]
fallthrough = true

[[rules]]
type = "CommonJS"
globs = ["legacy/*.js"]
"#,
        ),
        (
            "src/index.js",
            r#"import readme from './docs/README.md';
import logo from './images/logo.png';
import blob from './blob.bin';
import legacy from './legacy/old.js';
export default {
  fetch() {
    return Response.json({ readme, logo: new Uint8Array(logo)[0], blob: blob.byteLength, legacy });
  },
};
"#,
        ),
        ("src/docs/README.md", "# Hello\n"),
        ("src/images/logo.png", "\u{7f}PNG"),
        ("src/blob.bin", "1234"),
        // Plain enough that only the rule makes it CommonJS.
        (
            "src/legacy/old.js",
            "this.value = 'legacy';\nmodule.exports = this.value;\n",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(
        reply.body,
        r##"{"readme":"# Hello\n","logo":127,"blob":4,"legacy":"legacy"}"##
    );
    drop(server);
    // On JavaScriptCore the same rules hold: the CommonJS rule makes the plain file CommonJS,
    // which that engine does not load yet, and says so.
    let output = support::verge()
        .arg("dev")
        .arg(dir.path())
        .args(["--port", "0", "--engine", "jsc"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("legacy/old.js is CommonJS, which only the QuickJS engine loads yet"),
        "{stderr}"
    );

    let wasm = project(&[
        (
            "wrangler.toml",
            "name = \"wasm\"\nmain = \"index.js\"\n",
        ),
        (
            "index.js",
            "import module from './add.wasm';\nexport default { fetch: () => new Response(String(module)) };\n",
        ),
        ("add.wasm", "\0asm"),
    ]);
    // A truncated module stops the load, naming the file and where its bytes go wrong.
    let message = support::dev_refusal(wasm.path());
    assert!(
        message.contains("add.wasm is not a WebAssembly module"),
        "{message}"
    );
    assert!(message.contains("offset"), "{message}");

    let bad = project(&[
        (
            "wrangler.toml",
            "name = \"bad\"\nmain = \"index.js\"\n[[rules]]\ntype = \"Text\"\nglobs = [\"a[\"]\n",
        ),
        ("index.js", "export default {};\n"),
    ]);
    let message = support::dev_refusal(bad.path());
    assert!(message.contains("rules: \"a[\" is not a glob"), "{message}");
}

#[test]
fn npm_packages_resolve_by_exports_conditions_module_and_main() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "src/index.ts",
            r#"import { who } from 'greeter';
import { extra } from 'greeter/extra';
import { shout } from 'greeter/tools/shout';
import { util } from '@scope/util';
export default {
  fetch(): Response {
    return new Response([who, extra, shout('x'), util].join(' '));
  },
};
"#,
        ),
        (
            "node_modules/greeter/package.json",
            r#"{ "name": "greeter", "exports": {
                 ".": { "node": "./dist/node.js", "workerd": "./dist/workerd.js", "default": "./dist/index.js" },
                 "./extra": { "import": "./dist/extra.mjs", "require": "./dist/extra.cjs" },
                 "./tools/*": "./dist/tools/*.js" } }"#,
        ),
        (
            "node_modules/greeter/dist/workerd.js",
            "export const who = 'workerd build';",
        ),
        (
            "node_modules/greeter/dist/index.js",
            "export const who = 'generic build';",
        ),
        (
            "node_modules/greeter/dist/extra.mjs",
            "export const extra = 'esm extra';",
        ),
        (
            "node_modules/greeter/dist/tools/shout.js",
            "export const shout = (s) => s.toUpperCase() + '!';",
        ),
        (
            "node_modules/@scope/util/package.json",
            r#"{ "name": "@scope/util", "module": "./esm/index.js", "main": "./cjs/index.js" }"#,
        ),
        (
            "node_modules/@scope/util/esm/index.js",
            "export { util } from './impl';",
        ),
        (
            "node_modules/@scope/util/esm/impl.js",
            "export const util = 'scoped esm';",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "workerd build esm extra X! scoped esm")
    );

    let missing = project(&[
        ("wrangler.toml", CONFIG),
        (
            "src/index.ts",
            "import 'not-installed';\nexport default { fetch() { return new Response('x'); } };\n",
        ),
    ]);
    let stderr = support::dev_refusal(missing.path());
    assert!(
        stderr.contains("not-installed") && stderr.contains("npm install"),
        "{stderr}"
    );
}

#[test]
fn a_hono_app_with_kv_and_a_cron_from_npm_runs_unmodified() {
    // The issue's acceptance project: TypeScript, Hono with cors and etag middleware as
    // `npm install hono` lays it out (`.ci/run` installs it into .ci/npm), a KV namespace and a
    // cron trigger, run by `verge dev` as they are.
    let installed = support::repo_root().join(".ci/npm/node_modules");
    assert!(
        installed.join("hono/package.json").is_file(),
        "no Hono in {}: run .ci/run (it installs hono with npm)",
        installed.display()
    );
    let dir = project(&[
        (
            "wrangler.toml",
            r#"name = "hono-app"
main = "src/index.ts"
compatibility_date = "2024-09-23"
kv_namespaces = [{ binding = "VISITS", id = "visits" }]

[triggers]
crons = ["0 * * * *"]
"#,
        ),
        (
            "package.json",
            r#"{ "name": "hono-app", "private": true, "type": "module", "dependencies": { "hono": "4.13.19" } }"#,
        ),
        (
            "src/index.ts",
            r#"import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';

type Bindings = { VISITS: KVNamespace };
const app = new Hono<{ Bindings: Bindings }>();
app.use('*', cors());
app.use('*', etag());
app.get('/', (c) => c.text('Hello Hono!'));
app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
app.post('/visits/:page', async (c) => {
  const page = c.req.param('page');
  const count = Number((await c.env.VISITS.get(page)) ?? 0) + 1;
  await c.env.VISITS.put(page, String(count));
  return c.json({ page, count });
});
app.get('/report', async (c) => c.text((await c.env.VISITS.get('report')) ?? 'no report yet'));

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    const { keys } = await env.VISITS.list();
    const pages = keys.map((k) => k.name).filter((name) => name !== 'report');
    ctx.waitUntil(env.VISITS.put('report', `${controller.cron}: ${pages.join(',')}`));
  },
} satisfies ExportedHandler<Bindings>;
"#,
        ),
    ]);
    std::os::unix::fs::symlink(&installed, dir.path().join("node_modules")).unwrap();
    let server = DevServer::start(dir.path(), &["--test-scheduled"]);
    let agent = client();
    let url = |path: &str| format!("{}{path}", server.base);
    let home = get(&agent, &url("/"));
    assert_eq!((home.status, home.body.as_str()), (200, "Hello Hono!"));
    assert_eq!(home.headers["access-control-allow-origin"], "*");
    let etag = home.headers["etag"].to_str().unwrap().to_owned();
    let cached = support::send(
        &agent,
        http::Request::get(url("/"))
            .header("if-none-match", &etag)
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(cached.status, 304);
    assert_eq!(get(&agent, &url("/users/42")).body, r#"{"id":"42"}"#);

    let post = |page: &str| {
        support::send(
            &agent,
            http::Request::post(url(&format!("/visits/{page}")))
                .body(Vec::new())
                .unwrap(),
        )
        .body
    };
    assert_eq!(post("home"), r#"{"page":"home","count":1}"#);
    assert_eq!(post("home"), r#"{"page":"home","count":2}"#);
    assert_eq!(post("about"), r#"{"page":"about","count":1}"#);
    assert_eq!(get(&agent, &url("/report")).body, "no report yet");
    let ran = get(&agent, &url("/__scheduled?cron=0+*+*+*+*"));
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(get(&agent, &url("/report")).body, "0 * * * *: about,home");
}

#[test]
fn stack_traces_name_the_typescript_lines() {
    let dir = project(&[
        ("wrangler.toml", "name = \"ts\"\nmain = \"src/index.ts\"\n"),
        (
            "src/index.ts",
            "interface Thing {\n  name: string;\n}\n\nimport { fail } from './lib';\n\nexport default {\n  async fetch(request: Request): Promise<Response> {\n    const thing: Thing = { name: 'x' };\n    fail(thing.name);\n    return new Response('unreachable');\n  },\n};\n",
        ),
        (
            "src/lib.ts",
            "type Name = string;\n\nexport function fail(name: Name): never {\n  throw new TypeError(`failed for ${name}`);\n}\n",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 500);
    // The types took lines away: unmapped, these frames would name lines 2 and 5.
    let mapped = support::wait_until(std::time::Duration::from_secs(10), || {
        let stderr = server.stderr();
        stderr.contains("at fail (src/lib.ts:4:") && stderr.contains("at fetch (src/index.ts:10:")
    });
    assert!(mapped, "{}", server.stderr());
}
