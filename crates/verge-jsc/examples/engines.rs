//! QuickJS (as Verge runs it, native JSON included) beside JavaScriptCore (under `verge-jsc`'s
//! guard) on CPU-bound JavaScript, in one process, one thread: microseconds per iteration and
//! the ratio, for work run in one entry and for work run one entry per iteration (as requests
//! are).
//!
//! Then the cost of many: N engines (a QuickJS isolate, a JavaScriptCore VM) each given the same
//! small worker-like script, for the time to make one and the resident memory each adds.
//!
//! `cargo run --release -p verge-jsc --example engines [ITERATIONS] [ENGINES]`

use std::time::{Duration, Instant};
use verge_js::rquickjs::Function;
use verge_js::{Isolate, IsolateLimits, JsError};
use verge_jsc::{Vm, VmLimits};

/// The bench's json worker (bench/workers/json.js) without the Response: its catalog
/// serialized and parsed, searched and formatted.
const JSON_WORK: &str = r#"
const catalog = Array.from({ length: 200 }, (_, i) => ({
  id: i, name: `Item ${i}`, tags: ['sale', 'new', `group-${i % 7}`], price: ((i * 37) % 1000) / 10,
}));
function work() {
  const text = JSON.stringify(catalog);
  const items = JSON.parse(text);
  const query = 'Item 1';
  const matches = items.filter((item) => item.name.startsWith(query) || item.tags.includes(query));
  const lines = matches.map((item) => `${item.id}\t${item.name.toUpperCase()}\t${item.price.toFixed(2)}\t${item.tags.join(',')}`);
  return JSON.stringify({ count: matches.length, bytes: text.length, table: lines.join('\n').replaceAll('ITEM', 'item') }).length;
}"#;

/// Calls and arithmetic: what an interpreter pays most for per operation.
const FIB_WORK: &str = r#"
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }
function work() { return fib(20) }"#;

const LOOP: &str =
    "function loop(n) { let r = 0; for (let i = 0; i < n; i++) r += work(); return r }";

fn main() -> Result<(), JsError> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    verge_jsc::available().map_err(JsError::internal)?;
    println!("{iterations} iterations; µs per iteration (lower is better)");
    println!(
        "{:<8} {:<16} {:>10} {:>10} {:>8}",
        "work", "entries", "QuickJS", "JSC", "QJS÷JSC"
    );
    for (name, source) in [("json", JSON_WORK), ("fib(20)", FIB_WORK)] {
        let script = format!("{source}\n{LOOP}");
        for per_iteration in [false, true] {
            let quickjs = quickjs(&script, iterations, per_iteration)?;
            let jsc = jsc(&script, iterations, per_iteration)?;
            println!(
                "{:<8} {:<16} {:>10.1} {:>10.1} {:>8.2}",
                name,
                if per_iteration {
                    "one per call"
                } else {
                    "one for all"
                },
                micros(quickjs, iterations),
                micros(jsc, iterations),
                quickjs.as_secs_f64() / jsc.as_secs_f64(),
            );
        }
    }
    let count: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    if count == 0 {
        return Ok(());
    }
    println!("\n{count} engines, each with a small script: per engine");
    println!("{:<16} {:>12} {:>12}", "engine", "made in", "memory");
    let (made, bytes) = many(count, || {
        let isolate = Isolate::new(IsolateLimits::default())?;
        isolate.enter(|ctx| ctx.eval::<(), _>(SMALL_WORKER))?;
        Ok(isolate)
    })?;
    println!(
        "{:<16} {:>9.1} µs {:>8.1} KiB",
        "QuickJS",
        made,
        bytes / 1024.0
    );
    let (made, bytes) = many(count, || {
        let vm = Vm::new(VmLimits::default())?;
        vm.evaluate(SMALL_WORKER, "worker.js")?;
        Ok(vm)
    })?;
    println!(
        "{:<16} {:>9.1} µs {:>8.1} KiB",
        "JavaScriptCore",
        made,
        bytes / 1024.0
    );
    Ok(())
}

/// What a small worker holds once loaded: a handler and a little state.
const SMALL_WORKER: &str = "var worker = { hits: 0, fetch(request) { this.hits++; return JSON.stringify({ hits: this.hits }) } }; worker.fetch()";

/// Makes `count` engines with `make`, all kept until the end: microseconds to make one, and
/// the process's resident bytes each added.
fn many<T>(count: usize, make: impl Fn() -> Result<T, JsError>) -> Result<(f64, f64), JsError> {
    let before = verge_jsc::resident_bytes().unwrap_or(0);
    let started = Instant::now();
    let mut kept = Vec::with_capacity(count);
    for _ in 0..count {
        kept.push(make()?);
    }
    let made = started.elapsed().as_secs_f64() * 1e6 / count as f64;
    let grown = verge_jsc::resident_bytes()
        .unwrap_or(0)
        .saturating_sub(before) as f64
        / count as f64;
    drop(kept);
    Ok((made, grown))
}

fn micros(elapsed: Duration, iterations: u32) -> f64 {
    elapsed.as_secs_f64() * 1e6 / f64::from(iterations)
}

/// Times `iterations` of `run`'s loop, after a warm-up: in one call, or one call each.
fn timed<T>(
    iterations: u32,
    per_iteration: bool,
    run: impl Fn(u32) -> Result<T, JsError>,
) -> Result<Duration, JsError> {
    run(iterations / 10)?;
    let started = Instant::now();
    if per_iteration {
        for _ in 0..iterations {
            run(1)?;
        }
    } else {
        run(iterations)?;
    }
    Ok(started.elapsed())
}

fn limits() -> (usize, Option<Duration>) {
    (128 * 1024 * 1024, Some(Duration::from_secs(60)))
}

fn quickjs(script: &str, iterations: u32, per_iteration: bool) -> Result<Duration, JsError> {
    let (memory_bytes, cpu_slice) = limits();
    let isolate = Isolate::new(IsolateLimits {
        memory_bytes,
        cpu_slice,
        ..IsolateLimits::default()
    })?;
    isolate.enter(|ctx| ctx.eval::<(), _>(script))?;
    let run = |count: u32| {
        isolate.enter(|ctx| {
            ctx.globals()
                .get::<_, Function>("loop")?
                .call::<_, f64>((count,))
        })
    };
    timed(iterations, per_iteration, run)
}

fn jsc(script: &str, iterations: u32, per_iteration: bool) -> Result<Duration, JsError> {
    let (memory_bytes, cpu_slice) = limits();
    let vm = Vm::new(VmLimits {
        memory_bytes,
        cpu_slice,
    })?;
    vm.evaluate(script, "engines.js")?;
    let run_loop = vm.global("loop")?;
    let run = |count: u32| run_loop.call(&[vm.scope().number(f64::from(count))]);
    timed(iterations, per_iteration, run)
}
