//! WebAssembly in a worker: a deployed `.wasm` file imported as a `WebAssembly.Module`,
//! instantiated with JavaScript imports, its exports called with values converted as the JS API
//! says; memory seen without a copy; traps as catchable RuntimeErrors; and the isolate's CPU and
//! memory limits holding inside Wasm.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The expected answer is one large `json!`.
#![recursion_limit = "256"]

mod support;

use std::time::Duration;
use support::{body, grants, project, run};
use verge_config::WorkerConfig;
use verge_js::IsolateLimits;
use verge_runtime::{BlankIsolate, Outcome, Request, Worker, WorkerLimits};

/// The module every worker here imports, assembled from its text.
const MODULE: &str = r#"
(module
  (import "env" "double" (func $double (param i32) (result i32)))
  (import "env" "thrower" (func $thrower))
  (import "env" "bias" (global $bias i32))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "neg") (param f64) (result f64) (f64.neg (local.get 0)))
  (func (export "pair") (param i32) (result i32 i64) (local.get 0) (i64.extend_i32_s (local.get 0)))
  (func (export "callDouble") (param i32) (result i32)
    (i32.add (call $double (local.get 0)) (global.get $bias)))
  (func (export "callThrower") (call $thrower))
  (func (export "unreachable") unreachable)
  (func (export "divide") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $recurse (export "recurse") (param i32) (result i32) (call $recurse (local.get 0)))
  (func (export "spin") (loop (br 0)))
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (global (export "counter") (mut i32) (i32.const 7))
  (func (export "bump") (global.set 1 (i32.add (global.get 1) (i32.const 1))))
  (table $refs (export "refs") 2 externref)
  (func (export "keep") (param externref) (table.set $refs (i32.const 0) (local.get 0)))
  (func (export "kept") (result externref) (table.get $refs (i32.const 0)))
  (@custom "verge" "custom bytes")
)
"#;

const WORKER: &str = r#"
import wasm from './math.wasm';

const imports = {
  env: {
    double: (x) => x * 2,
    thrower: () => { throw new Error('thrown by JavaScript'); },
    bias: 100,
  },
};

function instantiate() {
  return new WebAssembly.Instance(wasm, imports);
}

function caught(f) {
  try { f(); return 'no error'; } catch (error) { return `${error.name}: ${error.message}`; }
}

export default {
  async fetch(request) {
    const which = new URL(request.url).pathname;
    const e = instantiate().exports;
    if (which === '/spin') { e.spin(); return new Response('unreachable'); }
    if (which === '/spin-caught') { caught(() => e.spin()); return new Response('caught'); }
    if (which === '/memory-bomb') { caught(() => new WebAssembly.Memory({ initial: 4000 })); return new Response('survived'); }
    if (which === '/instances') { for (;;) caught(() => instantiate()); }
    const view = new Uint8Array(e.memory.buffer);
    e.store(5, 42);
    view[6] = 9;
    const sharedBytes = [view[5], e.load(6)];
    const before = e.memory.buffer;
    const grown = e.grow(1);
    const object = { marker: 'kept' };
    e.keep(object);
    const fromJs = await WebAssembly.instantiate(wasm, imports);
    return Response.json({
      isModule: wasm instanceof WebAssembly.Module,
      imports: WebAssembly.Module.imports(wasm),
      exports: WebAssembly.Module.exports(wasm).length,
      custom: new TextDecoder().decode(WebAssembly.Module.customSections(wasm, 'verge')[0]),
      add: e.add(2, 3),
      addCoerced: e.add('40', true),
      add64: String(e.add64(2n ** 62n, 2n ** 62n)),
      add64Number: caught(() => e.add64(1, 2)),
      negZero: Object.is(e.neg(0), -0),
      nan: Number.isNaN(e.neg(NaN)),
      pair: String(e.pair(-3)),
      callDouble: e.callDouble(21),
      callThrower: caught(() => e.callThrower()),
      unreachable: caught(() => e.unreachable()),
      divide: caught(() => e.divide(1, 0)),
      recurse: caught(() => e.recurse(1)),
      sharedBytes,
      viewAfterGrow: view.length,
      grown,
      detached: before.byteLength,
      bufferAfterGrow: e.memory.buffer.byteLength,
      sameBuffer: e.memory.buffer === e.memory.buffer,
      jsGrow: e.memory.grow(1),
      growPastLimit: e.grow(4000),
      maximumPastWasm: caught(() => new WebAssembly.Memory({ initial: 1, maximum: 70000 })),
      growPastMaximum: caught(() => new WebAssembly.Memory({ initial: 1, maximum: 1 }).grow(1)),
      bufferAfterFailedGrow: (() => {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
        const before = memory.buffer;
        caught(() => memory.grow(1));
        return [before.byteLength, memory.buffer === before];
      })(),
      transferred: (() => { const m = new WebAssembly.Memory({ initial: 1 }); m.buffer.transfer(); return m.buffer.byteLength; })(),
      counter: (e.bump(), e.counter.value),
      kept: e.kept() === object,
      sameFunction: e.add === e.add,
      refsLength: e.refs.length,
      compileRefused: caught(() => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))),
      instantiateBytes: await WebAssembly.instantiate(new Uint8Array(8)).then(() => 'resolved', (error) => error.name),
      instantiated: fromJs instanceof WebAssembly.Instance,
      missingImport: caught(() => new WebAssembly.Instance(wasm, { env: {} })),
      validate: [WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), WebAssembly.validate(new Uint8Array(3))],
      global: new WebAssembly.Global({ value: 'i64', mutable: true }, 5n).value === 5n,
      shared: (() => {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
        const before = memory.buffer;
        new Uint8Array(before)[3] = 5;
        return [Object.prototype.toString.call(before), before.byteLength, memory.grow(1),
          memory.buffer.byteLength, before.byteLength, new Uint8Array(memory.buffer)[3]];
      })(),
      sharedWithoutMaximum: caught(() => new WebAssembly.Memory({ initial: 1, shared: true })),
      wrongKindImport: caught(() => new WebAssembly.Instance(wasm, { env: { ...imports.env, double: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) } })),
      table: (() => { const t = new WebAssembly.Table({ element: 'externref', initial: 1 }); t.set(0, 'x'); t.grow(2, 'y'); return [t.length, t.get(0), t.get(2)]; })(),
    });
  },
};
"#;

/// A project of the worker above with `wasm` as its module, in a temporary directory.
fn wasm_project(wasm: &[u8]) -> tempfile::TempDir {
    project(&[
        (
            "wrangler.toml",
            b"name = \"wasm\"\nmain = \"index.js\"\n[limits]\ncpu_ms = 200\n",
        ),
        ("index.js", WORKER.as_bytes()),
        ("math.wasm", wasm),
    ])
}

async fn load(root: &std::path::Path) -> Result<Worker, String> {
    let config = WorkerConfig::locate(root).map_err(|e| e.to_string())?;
    let limits = WorkerLimits {
        isolate: IsolateLimits {
            cpu_slice: Some(Duration::from_millis(200)),
            ..IsolateLimits::default()
        },
        ..WorkerLimits::default()
    };
    Worker::load(
        &config,
        limits,
        grants(),
        None,
        BlankIsolate::new().unwrap(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn get(worker: &Worker, path: &str) -> Outcome {
    worker
        .fetch(Request::new("GET", format!("http://wasm.example{path}")))
        .await
}

#[test]
fn a_deployed_module_runs_as_the_js_api_says() {
    let project = wasm_project(&wat::parse_str(MODULE).unwrap());
    run(async {
        let worker = load(project.path()).await.unwrap();
        let answer: serde_json::Value =
            serde_json::from_str(&body(get(&worker, "/").await)).unwrap();
        let expected = serde_json::json!({
            "isModule": true,
            "imports": [
                { "module": "env", "name": "double", "kind": "function" },
                { "module": "env", "name": "thrower", "kind": "function" },
                { "module": "env", "name": "bias", "kind": "global" },
            ],
            "exports": 19,
            "custom": "custom bytes",
            "add": 5,
            "addCoerced": 41,
            "add64": "-9223372036854775808",
            "add64Number": "TypeError: an i64 takes a BigInt, not a number",
            "negZero": true,
            "nan": true,
            "pair": "-3,-3",
            "callDouble": 142,
            "callThrower": "Error: thrown by JavaScript",
            "unreachable": "RuntimeError: wasm trap: wasm `unreachable` instruction executed",
            "divide": "RuntimeError: wasm trap: integer divide by zero",
            "recurse": "RuntimeError: wasm trap: call stack exhausted",
            "sharedBytes": [42, 9],
            "viewAfterGrow": 0,
            "grown": 1,
            "detached": 0,
            "bufferAfterGrow": 2 * 65536,
            "sameBuffer": true,
            "jsGrow": 2,
            "growPastLimit": -1,
            "maximumPastWasm": "RangeError: WebAssembly.Memory(): 'maximum' is above 65536",
            "growPastMaximum": "RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded",
            "bufferAfterFailedGrow": [65536, true],
            "transferred": 65536,
            "counter": 8,
            "kept": true,
            "sameFunction": true,
            "refsLength": 2,
            "compileRefused": "CompileError: WebAssembly.Module(): Wasm code generation disallowed by embedder",
            "instantiateBytes": "CompileError",
            "instantiated": true,
            "missingImport": "LinkError: WebAssembly.Instance(): import env.double must be a function",
            "validate": [true, false],
            "global": true,
            "table": [3, "x", "y"],
            "shared": ["[object SharedArrayBuffer]", 65536, 1, 131072, 65536, 5],
            "wrongKindImport": "LinkError: WebAssembly.Instance(): import env.double must be a function",
            "sharedWithoutMaximum": "TypeError: WebAssembly.Memory(): a shared memory needs 'maximum'",
        });
        let wrong: Vec<String> = expected
            .as_object()
            .unwrap()
            .iter()
            .filter(|(key, want)| answer[key] != **want)
            .map(|(key, want)| format!("{key}: got {}, want {want}", answer[key]))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    });
}

#[test]
fn wasm_that_never_returns_is_stopped_at_the_cpu_limit_and_the_isolate_serves_on() {
    let project = wasm_project(&wat::parse_str(MODULE).unwrap());
    run(async {
        let worker = load(project.path()).await.unwrap();
        for path in ["/spin", "/spin-caught"] {
            match get(&worker, path).await {
                Outcome::LimitExceeded { message, .. } => {
                    assert!(message.contains("CPU"), "{path}: {message}")
                }
                other => panic!("{path}: expected the CPU limit, got {other:?}"),
            }
        }
        let fresh = load(project.path()).await.unwrap();
        assert!(body(get(&fresh, "/").await).contains("\"add\":5"));
    });
}

#[test]
fn wasm_past_the_memory_limit_ends_the_request_as_running_out_of_memory_does() {
    let project = wasm_project(&wat::parse_str(MODULE).unwrap());
    run(async {
        // A memory larger than the limit, and instances without end (each with a memory,
        // never freed while the isolate lives): neither can be caught, both end the isolate.
        for path in ["/memory-bomb", "/instances"] {
            let worker = load(project.path()).await.unwrap();
            match get(&worker, path).await {
                outcome @ Outcome::Exception { .. } if outcome.ends_isolate() => {}
                other => panic!("{path}: expected out of memory, got {other:?}"),
            }
        }
    });
}

#[test]
fn a_malformed_wasm_file_stops_the_load_naming_the_file_and_the_offset() {
    let mut bytes = wat::parse_str(MODULE).unwrap();
    bytes.truncate(bytes.len() / 2);
    let project = wasm_project(&bytes);
    run(async {
        let error = load(project.path()).await.err().expect("the load fails");
        assert!(error.contains("math.wasm"), "{error}");
        assert!(error.contains("offset"), "{error}");
    });
}

#[test]
fn truncated_and_corrupted_wasm_files_never_take_the_process_down() {
    let intact = wat::parse_str(MODULE).unwrap();
    let mut variants: Vec<Vec<u8>> = (0..intact.len())
        .step_by(7)
        .map(|len| intact[..len].to_vec())
        .collect();
    // Deterministic byte flips (xorshift), a few per variant, anywhere after the header.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..120 {
        let mut bytes = intact.clone();
        for _ in 0..1 + next() % 4 {
            let at = 8 + (next() as usize) % (bytes.len() - 8);
            bytes[at] = next() as u8;
        }
        variants.push(bytes);
    }
    let project = wasm_project(&intact);
    run(async {
        let (mut refused, mut served) = (0, 0);
        for bytes in &variants {
            std::fs::write(project.path().join("math.wasm"), bytes).unwrap();
            match load(project.path()).await {
                Err(error) => {
                    assert!(error.contains("math.wasm"), "{error}");
                    refused += 1;
                }
                // Whatever a corrupted module that still validates does, it does as a worker.
                Ok(worker) => {
                    let _ = get(&worker, "/").await;
                    served += 1;
                }
            }
        }
        assert!(
            refused > variants.len() / 2,
            "{refused} refused, {served} served"
        );
        std::fs::write(project.path().join("math.wasm"), &intact).unwrap();
        let worker = load(project.path()).await.unwrap();
        assert!(body(get(&worker, "/").await).contains("\"add\":5"));
    });
}

/// bench/workers, where bench/wasm.py's workers and their module are.
fn bench_workers() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/workers")
}

#[test]
fn the_benchmark_sha256_is_its_text_and_agrees_with_the_javascript_and_the_standard() {
    let workers = bench_workers();
    let wasm = std::fs::read(workers.join("sha256.wasm")).unwrap();
    assert_eq!(
        wat::parse_file(workers.join("sha256.wat")).unwrap(),
        wasm,
        "bench/workers/sha256.wasm is not sha256.wat assembled"
    );
    let vectors = r#"
import module from './sha256.wasm';
const { memory, sha256, input } = new WebAssembly.Instance(module, {}).exports;
const hex = (digest) => Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
function digest(text) {
  const bytes = new TextEncoder().encode(text);
  new Uint8Array(memory.buffer).set(bytes, input.value);
  sha256(input.value, bytes.length, 0x8000);
  return hex(new Uint8Array(memory.buffer, 0x8000, 32));
}
export default {
  fetch() {
    return Response.json(['', 'abc', 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'].map(digest));
  },
};
"#;
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    std::fs::copy(workers.join("sha256.wasm"), root.join("sha256.wasm")).unwrap();
    std::fs::copy(workers.join("sha256.js"), root.join("sha256.js")).unwrap();
    std::fs::copy(workers.join("wasm.js"), root.join("wasm.js")).unwrap();
    std::fs::write(root.join("vectors.js"), vectors).unwrap();
    run(async {
        // FIPS 180-4's examples: one block, padding into a second.
        let config = |main: &str| format!("name = \"sha\"\nmain = \"{main}\"\n");
        std::fs::write(root.join("wrangler.toml"), config("vectors.js")).unwrap();
        let worker = load(root).await.unwrap();
        assert_eq!(
            body(get(&worker, "/").await),
            "[\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\
              \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\
              \"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1\"]"
        );
        // The benchmark's two workers compute the same digest (Python's hashlib agrees).
        for main in ["wasm.js", "sha256.js"] {
            std::fs::write(root.join("wrangler.toml"), config(main)).unwrap();
            let worker = load(root).await.unwrap();
            assert_eq!(
                body(get(&worker, "/").await),
                "1e7b921f056481bf96aabea057236621e89e054c9d83966e8244128eb9c9db20",
                "{main}"
            );
        }
    });
}

#[test]
fn memories_tables_and_globals_made_in_javascript_are_imported_and_shared_by_a_ruled_module() {
    let module = wat::parse_str(
        r#"(module
          (import "js" "memory" (memory 1 4))
          (import "js" "table" (table 2 funcref))
          (import "js" "counter" (global $counter (mut i64)))
          (type $unary (func (param i32) (result i32)))
          (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
          (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
          (func (export "bump") (global.set $counter (i64.add (global.get $counter) (i64.const 1))))
          (func (export "callAt") (param i32 i32) (result i32)
            (call_indirect (type $unary) (local.get 1) (local.get 0)))
          (func $inc (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#,
    )
    .unwrap();
    let worker = r#"
import module from './shared.module';
export default {
  fetch() {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const table = new WebAssembly.Table({ element: 'anyfunc', initial: 2 });
    const counter = new WebAssembly.Global({ value: 'i64', mutable: true }, 41n);
    const { exports: e } = new WebAssembly.Instance(module, { js: { memory, table, counter } });
    new Uint8Array(memory.buffer)[10] = 77;
    e.poke(11, 88);
    e.bump();
    table.set(1, e.inc);
    const other = new WebAssembly.Instance(module, { js: { memory, table, counter } }).exports;
    return Response.json({
      peek: e.peek(10),
      poked: new Uint8Array(memory.buffer)[11],
      counter: String(counter.value),
      callAt: e.callAt(1, 9),
      sameIncrement: table.get(1) === e.inc,
      otherSeesMemory: other.peek(11),
      nullSlot: (() => { try { e.callAt(0, 1); return 'called'; } catch (error) { return error.name; } })(),
      notAFunction: (() => { try { table.set(0, () => 1); return 'set'; } catch (error) { return error.name; } })(),
    });
  },
};
"#;
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    // A file wrangler's default rules would not load, by a `CompiledWasm` rule of the project's.
    let config = "name = \"shared\"\nmain = \"index.js\"\n\
                  [[rules]]\ntype = \"CompiledWasm\"\nglobs = [\"**/*.module\"]\n";
    std::fs::write(root.join("wrangler.toml"), config).unwrap();
    std::fs::write(root.join("index.js"), worker).unwrap();
    std::fs::write(root.join("shared.module"), module).unwrap();
    run(async {
        let worker = load(root).await.unwrap();
        assert_eq!(
            body(get(&worker, "/").await),
            r#"{"peek":77,"poked":88,"counter":"42","callAt":10,"sameIncrement":true,"otherSeesMemory":88,"nullSlot":"RuntimeError","notAFunction":"TypeError"}"#
        );
    });
}
