//! Node.js compatibility: with `compatibility_flags = ["nodejs_compat"]` a worker imports
//! `node:buffer`, `node:events`, `node:async_hooks`, `node:util`, `node:path`, `node:assert`,
//! `node:crypto` (and their bare names) and sees `Buffer` and `process.env`; without the flag
//! such an import is refused naming the flag. CommonJS files and packages load through
//! `require`, and real packages from npm (itty-router; ms and cookie, which are CommonJS) run as
//! installed.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, dev_refusal, get, project, DevServer};

const CONFIG: &str = "name = \"node\"\nmain = \"index.js\"\ncompatibility_flags = [\"nodejs_compat\"]\n[vars]\nGREETING = \"hi\"\n";

const WORKER: &str = r#"
import { Buffer } from 'node:buffer';
import EventEmitter, { once } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import util from 'node:util';
import path from 'path';
import assert from 'node:assert';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { shout, version, Emitter, where } from 'cjs-lib';
import cjs from 'cjs-lib';

const requests = new AsyncLocalStorage();
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request) {
    const id = new URL(request.url).searchParams.get('id');
    return requests.run({ id }, async () => {
      const before = requests.getStore().id;
      // Concurrent requests interleave here; each must find its own store after the awaits.
      await pause(Number(id) % 3 * 5);
      await fetch('data:text/plain,x');
      const emitter = new Emitter();
      setTimeout(() => emitter.emit('go', 5), 1);
      const [emitted] = await once(emitter, 'go');
      let assertion;
      try { assert.deepStrictEqual({ a: [1] }, { a: [2] }); } catch (error) { assertion = `${error.name} ${error.code}`; }
      return Response.json({
        before, after: requests.getStore()?.id,
        base64: Buffer.from('hello world').toString('base64'),
        fromHex: Buffer.from('68656c6c6f', 'hex').toString(),
        utf16: Buffer.from('hé', 'utf16le').toString('hex'),
        readWrite: (() => { const b = Buffer.alloc(6); b.writeUInt16BE(0xbeef, 0); b.writeInt32LE(-2, 2); return [b.readUInt16BE(0), b.readInt32LE(2), b.toString('hex')]; })(),
        concat: Buffer.concat([Buffer.from('ab'), new Uint8Array([99])]).toString(),
        isBuffer: [Buffer.isBuffer(Buffer.from('x').subarray(0, 1)), Buffer.isBuffer(new Uint8Array(1))],
        sha256: createHash('sha256').update('a').update('bc').digest('hex'),
        md5: createHash('md5').update('abc').digest('hex'),
        hmac: createHmac('sha256', 'key').update('msg').digest('base64'),
        random: randomBytes(16).length,
        equal: timingSafeEqual(Buffer.from('same'), Buffer.from('same')),
        format: util.format('%s=%d %j %%', 'x', 42, { a: 1 }),
        promisified: await util.promisify((value, callback) => callback(null, value * 2))(21),
        deepEqual: util.isDeepStrictEqual(new Map([[1, { a: [1] }]]), new Map([[1, { a: [1] }]])),
        join: path.join('/a/b', '../c', 'd.txt'),
        relative: path.relative('/data/a/b', '/data/c'),
        parsed: path.parse('/home/u/file.tar.gz'),
        emitted,
        listeners: new EventEmitter().on('x', () => {}).listenerCount('x'),
        assertion,
        env: process.env.GREETING,
        globals: [typeof globalThis.Buffer, typeof process.nextTick],
        cjs: [shout('hey'), version, where, typeof cjs.shout],
      });
    });
  },
};
"#;

const CJS_LIB: &[(&str, &str)] = &[
    (
        "node_modules/cjs-lib/package.json",
        r#"{ "name": "cjs-lib", "main": "lib/index.js" }"#,
    ),
    (
        "node_modules/cjs-lib/lib/index.js",
        "'use strict';\nconst { EventEmitter } = require('events');\nconst helper = require('./helper');\nconst data = require('./data.json');\nexports.shout = (s) => helper.upper(s) + '!';\nexports.version = data.version;\nexports.Emitter = class extends EventEmitter {};\nexports.where = __filename;\n",
    ),
    (
        "node_modules/cjs-lib/lib/helper.js",
        "module.exports = { upper: (s) => s.toUpperCase() };\n",
    ),
    (
        "node_modules/cjs-lib/lib/data.json",
        r#"{ "version": "1.2.3" }"#,
    ),
];

#[test]
fn the_node_modules_work_under_nodejs_compat() {
    let mut files = vec![("wrangler.toml", CONFIG), ("index.js", WORKER)];
    files.extend_from_slice(CJS_LIB);
    let dir = project(&files);
    let server = DevServer::start(dir.path(), &[]);
    // The load's summary: the entry, seven node: modules and the CommonJS package's facade.
    assert!(
        support::wait_until(std::time::Duration::from_secs(10), || server
            .stderr()
            .contains("Loaded 9 modules in ")),
        "{}",
        server.stderr()
    );

    // Eight requests at once, each checking its AsyncLocalStorage store after its awaits.
    let replies: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|id| {
                let url = format!("{}/?id={id}", server.base);
                scope.spawn(move || {
                    let reply = get(&client(), &url);
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    serde_json::from_str(&reply.body).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (id, reply) in replies.iter().enumerate() {
        let id = id.to_string();
        assert_eq!(reply["before"], id.as_str());
        assert_eq!(
            reply["after"],
            id.as_str(),
            "request {id} saw another's store"
        );
    }
    let reply = &replies[0];
    let expect = serde_json::json!({
        "base64": "aGVsbG8gd29ybGQ=",
        "fromHex": "hello",
        "utf16": "6800e900",
        "readWrite": [0xbeef, -2, "beeffeffffff"],
        "concat": "abc",
        "isBuffer": [true, false],
        // FIPS 180-2's and RFC 1321's test vectors; the HMAC by Python's hmac module.
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "md5": "900150983cd24fb0d6963f7d28e17f72",
        "hmac": "LZPLwb4We8sWN6SiPL/wGnh48MUO6DOVTqUiG7G4xig=",
        "random": 16,
        "equal": true,
        "format": "x=42 {\"a\":1} %",
        "promisified": 42,
        "deepEqual": true,
        "join": "/a/c/d.txt",
        "relative": "../../c",
        "parsed": { "root": "/", "dir": "/home/u", "base": "file.tar.gz", "ext": ".gz", "name": "file.tar" },
        "emitted": 5,
        "listeners": 1,
        "assertion": "AssertionError ERR_ASSERTION",
        "env": "hi",
        "globals": ["function", "function"],
        "cjs": ["HEY!", "1.2.3", "/node_modules/cjs-lib/lib/index.js", "function"],
    });
    for (key, value) in expect.as_object().unwrap() {
        assert_eq!(&reply[key], value, "{key}");
    }
}

#[test]
fn without_the_flag_a_node_import_is_refused_naming_the_flag() {
    let dir = project(&[
        ("wrangler.toml", "name = \"n\"\nmain = \"index.js\"\n"),
        (
            "index.js",
            "import { Buffer } from 'node:buffer';\nexport default { fetch: () => new Response(Buffer.from('x')) };\n",
        ),
    ]);
    let message = dev_refusal(dir.path());
    assert!(message.contains("node:buffer"), "{message}");
    assert!(message.contains("nodejs_compat"), "{message}");

    // A module Verge does not provide is named as such, flag or not.
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "index.js",
            "import inspector from 'node:inspector';\nexport default { fetch: () => new Response(typeof inspector) };\n",
        ),
    ]);
    let message = dev_refusal(dir.path());
    assert!(message.contains("no module node:inspector"), "{message}");
}

#[test]
fn commonjs_cycles_interop_and_errors() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "index.js",
            r#"import a from './cjs/a.cjs';
import compiled, { named } from './cjs/compiled.js';
import fn from './cjs/function.js';
import { broken, esm, missing } from './cjs/errors.cjs';
export default {
  fetch() {
    return Response.json({ cycle: a.seen, compiled, named, fn: fn(2), broken: broken(), esm: esm(), missing: missing() });
  },
};
"#,
        ),
        (
            "cjs/a.cjs",
            "exports.early = 'a-early';\nconst b = require('./b.cjs');\nexports.seen = b.sawA;\n",
        ),
        (
            "cjs/b.cjs",
            "const a = require('./a.cjs');\nexports.sawA = a.early;\n",
        ),
        (
            "cjs/compiled.js",
            "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\nexports.default = 'the default';\nexports.named = 'a name';\n",
        ),
        (
            "cjs/function.js",
            "module.exports = function double(x) { return x * 2; };\n",
        ),
        ("cjs/throws.cjs", "throw new Error('broken at load');\n"),
        ("cjs/module.mjs", "export const x = 1;\n"),
        (
            "cjs/errors.cjs",
            r"const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return e.message; } };
exports.broken = () => attempt(() => require('./throws.cjs'));
exports.esm = () => attempt(() => require('./module.mjs'));
exports.missing = () => attempt(() => require('left-pad'));
",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["cycle"], "a-early", "a cycle sees the exports so far");
    assert_eq!(json["compiled"], "the default", "__esModule's default");
    assert_eq!(json["named"], "a name");
    assert_eq!(json["fn"], 4);
    assert_eq!(json["broken"], "broken at load");
    let esm = json["esm"].as_str().unwrap();
    assert!(esm.contains("is an ES module"), "{esm}");
    let missing = json["missing"].as_str().unwrap();
    assert!(
        missing.contains("Cannot find module 'left-pad' required by cjs/errors.cjs")
            && missing.contains("npm install"),
        "{missing}"
    );
}

#[test]
fn itty_router_and_commonjs_packages_from_npm_run_as_installed() {
    // As `npm install` lays them out (`.ci/run` installs them into .ci/npm).
    let installed = support::repo_root().join(".ci/npm/node_modules");
    for package in ["itty-router", "ms", "cookie"] {
        assert!(
            installed.join(package).join("package.json").is_file(),
            "no {package} in {}: run .ci/run (it installs it with npm)",
            installed.display()
        );
    }
    let dir = project(&[
        ("wrangler.toml", "name = \"itty\"\nmain = \"index.js\"\n"),
        (
            "index.js",
            r#"import { AutoRouter, json } from 'itty-router';
import ms from 'ms';
import { parse, serialize } from 'cookie';

const router = AutoRouter();
router.get('/ms/:span', ({ params }) => json({ ms: ms(params.span), long: ms(ms(params.span), { long: true }) }));
router.get('/cookie', (request) => {
  const cookies = parse(request.headers.get('cookie') ?? '');
  return new Response(cookies.name ?? 'none', {
    headers: { 'set-cookie': serialize('seen', 'yes', { httpOnly: true, maxAge: 60 }) },
  });
});
export default { ...router };
"#,
        ),
    ]);
    std::os::unix::fs::symlink(&installed, dir.path().join("node_modules")).unwrap();
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();
    let span = get(&agent, &format!("{}/ms/2h", server.base));
    assert_eq!(span.status, 200, "{}", span.body);
    assert_eq!(span.body, r#"{"ms":7200000,"long":"2 hours"}"#);
    let cookie = support::send(
        &agent,
        http::Request::get(format!("{}/cookie", server.base))
            .header("cookie", "name=ada; other=1")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(cookie.body, "ada");
    assert_eq!(
        cookie.headers["set-cookie"],
        "seen=yes; Max-Age=60; HttpOnly"
    );
    let missing = get(&agent, &format!("{}/nothing", server.base));
    assert_eq!(missing.status, 404);
}

/// Runs `tests/node/NAME` (a module exporting `run()`) under Node 22 and as a worker under
/// `verge dev`, and asserts that every key of Node's result is Verge's too.
fn behaves_as_under_node(name: &str, at_least: usize) {
    let checks = std::fs::read_to_string(
        support::repo_root()
            .join("crates/verge-cli/tests/node")
            .join(name),
    )
    .unwrap();
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        ("checks.mjs", &checks),
        (
            "index.js",
            "import { run } from './checks.mjs';\nexport default { async fetch() { return Response.json(await run()); } };\n",
        ),
        (
            "node-run.mjs",
            "import { run } from './checks.mjs';\nconsole.log(JSON.stringify(await run()));\n",
        ),
    ]);
    let under_node = std::process::Command::new(support::node())
        .arg("--no-deprecation")
        .arg("node-run.mjs")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        under_node.status.success(),
        "{}",
        String::from_utf8_lossy(&under_node.stderr)
    );
    let expected: serde_json::Value = serde_json::from_slice(&under_node.stdout).unwrap();

    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= at_least, "{expected:?}");
    for (key, value) in expected {
        assert_eq!(
            &got[key], value,
            "{name}, {key}: Verge's result differs from Node's"
        );
    }
}

/// Streams (paused and flowing, backpressure, pipe, pipeline with generators, errors, Duplex,
/// web bridges), the string decoder, querystring, the legacy url API, punycode,
/// timers/promises, os and diagnostics_channel give Node's results.
#[test]
fn node_modules_behave_as_under_node() {
    behaves_as_under_node("behaviour.mjs", 31);
}

/// node:crypto's keys (PKCS#1, SEC 1, PKCS#8, SPKI, JWK), signatures (RSA PKCS#1 v1.5 and PSS,
/// ECDSA in DER and P1363, Ed25519), OAEP, AES-CBC/CTR/GCM and pbkdf2/scrypt/hkdf give
/// Node's results, and fail with Node's error codes.
#[test]
fn node_crypto_behaves_as_under_node() {
    behaves_as_under_node("crypto.mjs", 20);
}

/// node:zlib: what Node compressed (gzip with two members, zlib, raw deflate, brotli)
/// decompresses; what Verge compresses round-trips; the sync, callback and stream forms; and
/// zlib's error codes and messages for a bad header and a truncated stream.
#[test]
fn node_zlib_behaves_as_under_node() {
    behaves_as_under_node("zlib.mjs", 10);
}

/// Inputs that would make the host allocate or compute without bound are refused with an
/// error the script can catch, and the worker goes on serving.
#[test]
fn hostile_crypto_and_zlib_inputs_are_refused() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "index.js",
            r#"import crypto from 'node:crypto';
import zlib from 'node:zlib';
const refused = (fn) => { try { fn(); return 'ran'; } catch (error) { return `${error.code}: ${error.message}`; } };
export default {
  fetch() {
    return Response.json([
      refused(() => crypto.scryptSync('a', 'b', 2 ** 31)),
      refused(() => crypto.scryptSync('a', 'b', 32, { N: 2 ** 14, r: 8, p: 2 ** 20, maxmem: 2 ** 40 })),
      refused(() => crypto.pbkdf2Sync('a', 'b', 10_000_000, 32, 'sha256')),
      refused(() => crypto.pbkdf2Sync('a', 'b', 1, 2 ** 30, 'sha256')),
      refused(() => zlib.brotliCompressSync(crypto.randomBytes(4096), { maxOutputLength: 64 })),
      refused(() => zlib.gunzipSync(zlib.gzipSync(Buffer.alloc(1 << 20)), { maxOutputLength: 1024 })),
      crypto.scryptSync('a', 'b', 16, { N: 1024 }).length,
    ]);
  },
};
"#,
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let got = got.as_array().unwrap();
    for (index, outcome) in got[..6].iter().enumerate() {
        assert_ne!(outcome, "ran", "input {index} was not refused: {got:?}");
    }
    assert!(got[0].as_str().unwrap().contains("at most"), "{got:?}");
    assert!(got[2].as_str().unwrap().contains("100000"), "{got:?}");
    assert!(
        got[4].as_str().unwrap().starts_with("ERR_BUFFER_TOO_LARGE"),
        "{got:?}"
    );
    assert!(
        got[5].as_str().unwrap().starts_with("ERR_BUFFER_TOO_LARGE"),
        "{got:?}"
    );
    assert_eq!(got[6], 16);
}

/// A project whose `node_modules` is .ci/npm's (as `npm install` lays it out), after checking
/// that `packages` are there.
fn npm_project(files: &[(&str, &str)], packages: &[&str]) -> tempfile::TempDir {
    let installed = support::repo_root().join(".ci/npm/node_modules");
    for package in packages {
        assert!(
            installed.join(package).join("package.json").is_file(),
            "no {package} in {}: run .ci/run (it installs it with npm)",
            installed.display()
        );
    }
    let dir = project(files);
    std::os::unix::fs::symlink(&installed, dir.path().join("node_modules")).unwrap();
    dir
}

/// jsonwebtoken from npm, unmodified: HS256 and RS256 tokens (and ES256 and PS256) signed and
/// verified, a wrong secret and a tampered token refused.
#[test]
fn jsonwebtoken_signs_and_verifies_tokens() {
    let keys = std::fs::read_to_string(
        support::repo_root().join("crates/verge-cli/tests/node/crypto.mjs"),
    )
    .unwrap();
    // The test keys of crypto.mjs, as a module of their own.
    let keys = keys
        [keys.find("const KEYS").unwrap()..keys.find("export async function run").unwrap()]
        .replacen("const KEYS", "export const KEYS", 1);
    let dir = npm_project(
        &[
            ("wrangler.toml", CONFIG),
            ("keys.mjs", &keys),
            (
                "index.js",
                r#"import jwt from 'jsonwebtoken';
import { createPublicKey } from 'node:crypto';
import { KEYS } from './keys.mjs';
const refusal = (token, key) => { try { jwt.verify(token, key); return 'accepted'; } catch (error) { return `${error.name}: ${error.message}`; } };
export default {
  fetch() {
    const hs = jwt.sign({ sub: 'ada' }, 'shared secret', { algorithm: 'HS256', expiresIn: '1h' });
    const publicPem = createPublicKey(KEYS.rsaPkcs1).export({ type: 'spki', format: 'pem' });
    const rs = jwt.sign({ sub: 'grace', role: 'admin' }, KEYS.rsaPkcs1, { algorithm: 'RS256', keyid: 'k1' });
    const es = jwt.sign({ sub: 'es' }, KEYS.ecSec1, { algorithm: 'ES256' });
    const ps = jwt.sign({ sub: 'ps' }, KEYS.rsaPkcs1, { algorithm: 'PS256' });
    const [head, body] = rs.split('.');
    const forged = `${head}.${btoa(JSON.stringify({ sub: 'grace', role: 'root' })).replace(/=+$/, '')}.${rs.split('.')[2]}`;
    return Response.json({
      hs: jwt.verify(hs, 'shared secret').sub,
      hsHeader: jwt.decode(hs, { complete: true }).header,
      rs: jwt.verify(rs, publicPem, { algorithms: ['RS256'] }),
      rsHeader: JSON.parse(atob(head)),
      es: jwt.verify(es, createPublicKey(KEYS.ecSec1)).sub,
      ps: jwt.verify(ps, publicPem).sub,
      wrongSecret: refusal(hs, 'another secret'),
      forged: refusal(forged, publicPem),
      body: JSON.parse(atob(body)).sub,
    });
  },
};
"#,
            ),
        ],
        &["jsonwebtoken"],
    );
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(got["hs"], "ada");
    assert_eq!(
        got["hsHeader"],
        serde_json::json!({ "alg": "HS256", "typ": "JWT" })
    );
    assert_eq!(got["rs"]["role"], "admin");
    assert_eq!(
        got["rsHeader"],
        serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": "k1" })
    );
    assert_eq!(got["es"], "es");
    assert_eq!(got["ps"], "ps");
    assert_eq!(got["wrongSecret"], "JsonWebTokenError: invalid signature");
    assert_eq!(got["forged"], "JsonWebTokenError: invalid signature");
    assert_eq!(got["body"], "grace");
}

/// Cloudflare's "Express on Workers" example, as its guide writes it: Express from npm,
/// `env.DB` (a local D1) from `cloudflare:workers`, `app.listen(3000)` and cloudflare:node's
/// `httpServerHandler({ port: 3000 })` — routes with params, query strings and JSON bodies, a
/// 201, Express's 404 page, and an error middleware.
#[test]
fn express_on_workers_serves_routes_with_d1() {
    let dir = npm_project(
        &[
            (
                "wrangler.toml",
                "name = \"express\"\nmain = \"index.js\"\ncompatibility_flags = [\"nodejs_compat\"]\nd1_databases = [{ binding = \"DB\", database_name = \"members\", database_id = \"e1\" }]\n",
            ),
            (
                "index.js",
                r#"import { env } from 'cloudflare:workers';
import { httpServerHandler } from 'cloudflare:node';
import express from 'express';

const app = express();
app.use(express.json());
const ready = env.DB.exec('CREATE TABLE IF NOT EXISTS members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)');

app.get('/', (req, res) => res.json({ message: 'Express.js running on Cloudflare Workers!' }));
app.get('/api/members', async (req, res) => {
  await ready;
  const { results } = await env.DB.prepare('SELECT * FROM members ORDER BY id').all();
  res.json({ success: true, members: results });
});
app.get('/api/members/:id', async (req, res) => {
  await ready;
  const member = await env.DB.prepare('SELECT * FROM members WHERE id = ?').bind(req.params.id).first();
  if (!member) return res.status(404).json({ success: false, error: 'Member not found' });
  res.json({ success: true, member, fields: req.query.fields ?? null });
});
app.post('/api/members', async (req, res) => {
  await ready;
  const { name, email } = req.body;
  if (!name || !email) return res.status(400).json({ success: false, error: 'Name and email are required' });
  const { meta } = await env.DB.prepare('INSERT INTO members (name, email) VALUES (?, ?)').bind(name, email).run();
  res.status(201).set('x-member', String(meta.last_row_id)).json({ success: true, id: meta.last_row_id });
});
app.get('/boom', () => { throw new Error('kaboom'); });
app.use((err, req, res, next) => res.status(500).json({ error: err.message }));

app.listen(3000);
export default httpServerHandler({ port: 3000 });
"#,
            ),
        ],
        &["express"],
    );
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();
    let at = |path: &str| format!("{}{path}", server.base);

    let root = get(&agent, &at("/"));
    assert_eq!(root.status, 200, "{}", root.body);
    assert_eq!(
        root.body,
        r#"{"message":"Express.js running on Cloudflare Workers!"}"#
    );

    let post = |body: &str| {
        support::send(
            &agent,
            http::Request::post(at("/api/members"))
                .header("content-type", "application/json")
                .body(body.as_bytes().to_vec())
                .unwrap(),
        )
    };
    let created = post(r#"{"name":"Ada","email":"ada@example.com"}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body, r#"{"success":true,"id":1}"#);
    assert_eq!(
        post(r#"{"name":"Grace","email":"grace@example.com"}"#).status,
        201
    );
    let refused = post(r#"{"name":"Nobody"}"#);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body,
        r#"{"success":false,"error":"Name and email are required"}"#
    );

    let members: serde_json::Value =
        serde_json::from_str(&get(&agent, &at("/api/members")).body).unwrap();
    assert_eq!(
        members,
        serde_json::json!({ "success": true, "members": [
            { "id": 1, "name": "Ada", "email": "ada@example.com" },
            { "id": 2, "name": "Grace", "email": "grace@example.com" },
        ]})
    );
    let one: serde_json::Value =
        serde_json::from_str(&get(&agent, &at("/api/members/2?fields=name")).body).unwrap();
    assert_eq!(one["member"]["name"], "Grace");
    assert_eq!(one["fields"], "name");
    let missing = get(&agent, &at("/api/members/9"));
    assert_eq!(missing.status, 404);

    let unknown = get(&agent, &at("/nowhere"));
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body.contains("Cannot GET /nowhere"),
        "{}",
        unknown.body
    );
    let boom = get(&agent, &at("/boom"));
    assert_eq!(boom.status, 500);
    assert_eq!(boom.body, r#"{"error":"kaboom"}"#);
}

/// axios from npm, unmodified, against a test origin (another worker): a GET with params and
/// headers, a JSON POST, and a 404 rejected as an AxiosError — through node:http, the adapter
/// axios picks on Workers, and through fetch.
#[test]
fn axios_requests_a_test_origin() {
    let origin_dir = project(&[
        ("wrangler.toml", "name = \"origin\"\nmain = \"index.js\"\n"),
        (
            "index.js",
            r#"export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/status/')) return Response.json({ status: 'x' }, { status: Number(url.pathname.slice(8)) });
    const body = request.method === 'POST' ? await request.json() : null;
    return Response.json({ method: request.method, path: url.pathname + url.search, probe: request.headers.get('x-probe'), type: request.headers.get('content-type'), body });
  },
};
"#,
        ),
    ]);
    let origin = DevServer::start(origin_dir.path(), &[]);
    let dir = npm_project(
        &[
            ("wrangler.toml", CONFIG),
            (
                "index.js",
                r#"import axios from 'axios';
export default {
  async fetch(request) {
    const origin = new URL(request.url).searchParams.get('origin');
    const results = {};
    for (const adapter of ['http', 'fetch']) {
      const got = await axios.get(`${origin}/items`, { adapter, params: { page: 2 }, headers: { 'x-probe': adapter } });
      const posted = await axios.post(`${origin}/items`, { name: 'widget' }, { adapter });
      const failed = await axios.get(`${origin}/status/404`, { adapter }).then(() => null, (error) => [error.name, error.response.status, error.message]);
      results[adapter] = { status: got.status, got: got.data, posted: posted.data, failed };
    }
    results.default = axios.defaults.adapter;
    return Response.json(results);
  },
};
"#,
            ),
        ],
        &["axios"],
    );
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(
        &client(),
        &format!("{}/?origin={}", server.base, origin.base),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    for adapter in ["http", "fetch"] {
        let result = &got[adapter];
        assert_eq!(result["status"], 200, "{adapter}: {result}");
        assert_eq!(
            result["got"],
            serde_json::json!({ "method": "GET", "path": "/items?page=2", "probe": adapter, "type": null, "body": null }),
            "{adapter}"
        );
        assert_eq!(
            result["posted"]["body"],
            serde_json::json!({ "name": "widget" }),
            "{adapter}"
        );
        assert!(
            result["posted"]["type"]
                .as_str()
                .unwrap()
                .starts_with("application/json"),
            "{adapter}"
        );
        assert_eq!(
            result["failed"],
            serde_json::json!(["AxiosError", 404, "Request failed with status code 404"]),
            "{adapter}"
        );
    }
}

/// node:fs: the project's files under /bundle (read-only, relative paths from it), /tmp
/// writable and each request's own, and Node's error codes.
#[test]
fn node_fs_is_the_virtual_file_system_workerd_documents() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        ("data.txt", "bundled text\n"),
        ("sub/conf.json", r#"{"a":1}"#),
        (
            "index.js",
            r#"import fs from 'node:fs';
import { readFile, writeFile, readdir, mkdir } from 'node:fs/promises';
const error = (fn) => { try { fn(); return 'ok'; } catch (e) { return `${e.code}: ${e.message}`; } };
export default {
  async fetch() {
    const out = {};
    out.seenBefore = fs.existsSync('/tmp/note.txt');
    out.bundle = [
      fs.readFileSync('/bundle/data.txt', 'utf8'), fs.readFileSync('data.txt', 'utf8'),
      fs.readdirSync('/bundle'), fs.statSync('/bundle/sub').isDirectory(), fs.statSync('/bundle/data.txt').size,
      JSON.parse(await readFile('/bundle/sub/conf.json', 'utf8')), process.cwd(),
    ];
    fs.writeFileSync('/tmp/note.txt', 'first ');
    fs.appendFileSync('/tmp/note.txt', 'second');
    await mkdir('/tmp/a/b', { recursive: true });
    await writeFile('/tmp/a/b/c.bin', new Uint8Array([1, 2, 3]));
    const fd = fs.openSync('/tmp/fd.txt', 'w+');
    fs.writeSync(fd, 'hello fd');
    const buffer = Buffer.alloc(5);
    fs.readSync(fd, buffer, 0, 5, 0);
    fs.closeSync(fd);
    const streamed = [];
    for await (const chunk of fs.createReadStream('/bundle/data.txt', { encoding: 'utf8', start: 0, end: 7 })) streamed.push(chunk);
    out.tmp = [
      fs.readFileSync('/tmp/note.txt', 'utf8'), await readdir('/tmp'),
      fs.readdirSync('/tmp/a/b', { withFileTypes: true }).map((d) => [d.name, d.isFile()]),
      [...fs.readFileSync('/tmp/a/b/c.bin')], buffer.toString(), streamed.join(''),
    ];
    out.errors = [
      error(() => fs.writeFileSync('/bundle/data.txt', 'x')),
      error(() => fs.readFileSync('/nope.txt')),
      error(() => fs.mkdirSync('/tmp/x/y')),
      error(() => fs.rmdirSync('/tmp/a')),
      error(() => fs.readdirSync('/tmp/note.txt')),
      error(() => fs.readFileSync('/bundle/../etc/passwd')),
      error(() => fs.readFileSync('/bundle/.verge')),
    ];
    return Response.json(out);
  },
};
"#,
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();
    let first: serde_json::Value =
        serde_json::from_str(&get(&agent, &format!("{}/", server.base)).body).unwrap();
    assert_eq!(
        first,
        serde_json::json!({
            "seenBefore": false,
            "bundle": ["bundled text\n", "bundled text\n", ["data.txt", "index.js", "sub", "wrangler.toml"], true, 13, { "a": 1 }, "/bundle"],
            "tmp": ["first second", ["a", "fd.txt", "note.txt"], [["c.bin", true]], [1, 2, 3], "hello", "bundled "],
            "errors": [
                "EROFS: EROFS: read-only file system, open '/bundle/data.txt'",
                "ENOENT: ENOENT: no such file or directory, open '/nope.txt'",
                "ENOENT: ENOENT: no such file or directory, mkdir '/tmp/x/y'",
                "ENOTEMPTY: ENOTEMPTY: directory not empty, rmdir '/tmp/a'",
                "ENOTDIR: ENOTDIR: not a directory, scandir '/tmp/note.txt'",
                "ENOENT: ENOENT: no such file or directory, open '/bundle/../etc/passwd'",
                "ENOENT: ENOENT: no such file or directory, open '/bundle/.verge'",
            ],
        })
    );
    // The second request has a /tmp of its own: the first one's file is gone.
    let second: serde_json::Value =
        serde_json::from_str(&get(&agent, &format!("{}/", server.base)).body).unwrap();
    assert_eq!(second["seenBefore"], false);
}

/// What Workers cannot offer loads, and fails when called with Node's error naming the module
/// and function, as on workerd: a package that shells out (`git-head`, CommonJS) loads and
/// fails only when it runs a command.
#[test]
fn child_process_loads_and_refuses_to_run() {
    let dir = project(&[
        ("wrangler.toml", CONFIG),
        (
            "node_modules/git-head/package.json",
            r#"{ "name": "git-head", "main": "index.js" }"#,
        ),
        (
            "node_modules/git-head/index.js",
            "const { execSync } = require('child_process');\nmodule.exports = () => execSync('git rev-parse HEAD').toString().trim();\n",
        ),
        (
            "index.js",
            r#"import { spawn } from 'node:child_process';
import { Worker, isMainThread } from 'node:worker_threads';
import { createRequire } from 'node:module';
import gitHead from 'git-head';
const require = createRequire(import.meta.url ?? '/index.js');
const tty = require('tty');
export default {
  fetch() {
    const refusals = [];
    for (const call of [() => spawn('ls'), gitHead, () => new Worker('x.js')]) {
      try { call(); refusals.push('ran'); } catch (error) { refusals.push(`${error.code}: ${error.message}`); }
    }
    return Response.json({ refusals, isMainThread, isatty: tty.isatty(1), builtin: require('node:module').isBuiltin('stream') });
  },
};
"#,
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(&client(), &format!("{}/", server.base));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        got,
        serde_json::json!({
            "refusals": [
                "ERR_METHOD_NOT_IMPLEMENTED: The child_process.spawn method is not implemented",
                "ERR_METHOD_NOT_IMPLEMENTED: The child_process.execSync method is not implemented",
                "ERR_METHOD_NOT_IMPLEMENTED: The worker_threads.Worker method is not implemented",
            ],
            "isMainThread": true,
            "isatty": false,
            "builtin": true,
        })
    );
}
