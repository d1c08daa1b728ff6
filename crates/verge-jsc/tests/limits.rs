//! The limits of a JavaScriptCore VM against the hostile scripts that `verge serve`'s tests use
//! for QuickJS: each fails its entry with the error its limit names, within a bound, and the
//! process and a second VM beside it carry on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use verge_jsc::{ErrorKind, Vm, VmLimits};

const MIB: usize = 1024 * 1024;

fn vm(memory_mib: usize) -> Vm {
    vm_with_slice(memory_mib, Duration::from_millis(200))
}

fn vm_with_slice(memory_mib: usize, cpu_slice: Duration) -> Vm {
    Vm::new(VmLimits {
        memory_bytes: memory_mib * MIB,
        cpu_slice: Some(cpu_slice),
    })
    .expect("JavaScriptCore is installed (.ci/run installs libjavascriptcoregtk-4.1-0)")
}

/// Runs `script` in a fresh VM with a 64 MiB limit and a CPU slice of `slice`, and gives the
/// error it ended with, after checking that a neighbour VM still computes.
fn fails_with(script: &str, slice: Duration) -> ErrorKind {
    let neighbour = vm(64);
    neighbour
        .evaluate("var kept = [1, 2, 3];", "neighbour.js")
        .unwrap();
    let hostile = vm_with_slice(64, slice);
    let started = Instant::now();
    let error = hostile.evaluate(script, "hostile.js").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{script} ran for {:?}",
        started.elapsed()
    );
    let sum = neighbour
        .evaluate("kept.reduce((a, b) => a + b)", "neighbour.js")
        .unwrap();
    assert_eq!(sum.to_number().unwrap(), 6.0);
    error.kind
}

#[test]
fn scripts_run_and_throw_as_javascript_would() {
    let vm = vm(64);
    let value = vm
        .evaluate("JSON.stringify({a: [1, 'x']})", "ok.js")
        .unwrap();
    assert_eq!(value.to_string().unwrap(), r#"{"a":[1,"x"]}"#);
    let error = vm
        .evaluate("function f() { null.x } f()", "thrower.js")
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Thrown);
    assert_eq!(error.name, "TypeError");
    assert!(error.stack.contains("thrower.js"), "{}", error.stack);
    let error = vm.evaluate("throw 42", "thrower.js").unwrap_err();
    assert_eq!(
        (error.name.as_str(), error.message.as_str()),
        ("Uncaught", "42")
    );
    let error = vm.evaluate("let x = ;", "syntax.js").unwrap_err();
    assert_eq!(error.name, "SyntaxError");
    // The VM is still usable after each error.
    let square = vm.evaluate("(n) => n * n", "fn.js").unwrap();
    let nine = square.call(&[vm.scope().number(3.0)]).unwrap();
    assert_eq!(nine.to_number().unwrap(), 9.0);
    let not_a_function = vm
        .evaluate("({})", "object.js")
        .unwrap()
        .call(&[])
        .unwrap_err();
    assert_eq!(not_a_function.name, "TypeError");
}

#[test]
fn an_endless_loop_stops_at_the_cpu_slice() {
    let vm = vm(64);
    let started = Instant::now();
    let error = vm.evaluate("for (;;) {}", "loop.js").unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind, ErrorKind::Interrupted);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The next entry gets a slice of its own.
    assert_eq!(
        vm.evaluate("1 + 1", "after.js")
            .unwrap()
            .to_number()
            .unwrap(),
        2.0
    );
}

/// CPU time this thread has used.
#[allow(unsafe_code)]
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
        0
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The watchdog's tick is never longer than the slice, so a loop overruns a short slice by
/// about the slice, not by the 20 ms tick: for a slice given at creation and for one given
/// later (a VM made ahead of time). Measured in this thread's CPU time, which the machine's
/// load does not stretch.
#[test]
fn a_short_slice_is_overrun_by_no_more_than_itself() {
    let short = Duration::from_millis(2);
    let later = Vm::new(VmLimits {
        memory_bytes: 64 * MIB,
        cpu_slice: None,
    })
    .unwrap();
    later.set_limits(&VmLimits {
        memory_bytes: 64 * MIB,
        cpu_slice: Some(short),
    });
    for vm in [vm_with_slice(64, short), later] {
        let before = thread_cpu();
        let error = vm.evaluate("for (;;) {}", "loop.js").unwrap_err();
        let spent = thread_cpu() - before;
        assert_eq!(error.kind, ErrorKind::Interrupted);
        assert!(spent < Duration::from_millis(18), "{spent:?}");
    }
}

#[test]
fn the_hostile_scripts_end_as_their_limit_says() {
    let cases = [
        (
            "allocation bomb",
            "let a = []; for (;;) a.push({x: 1, y: [1, 2, 3]})",
            ErrorKind::OutOfMemory,
        ),
        (
            "string doubling",
            "let s = 'x'; for (;;) { s = s + s; s.charCodeAt(s.length - 1) }",
            ErrorKind::OutOfMemory,
        ),
        (
            "giant buffer",
            "const b = new Uint8Array(1 << 30); b.fill(1); for (;;) b[0]++",
            ErrorKind::OutOfMemory,
        ),
        (
            "long microtask",
            "Promise.resolve().then(() => { for (;;) {} })",
            ErrorKind::Interrupted,
        ),
        // Each job far longer than the guard's tick: one shorter is the storm that is not
        // stopped (below).
        (
            "storm of heavy microtasks",
            "function f() { const end = Date.now() + 40; while (Date.now() < end); Promise.resolve().then(f) } f()",
            ErrorKind::Interrupted,
        ),
    ];
    for (name, script, expected) in cases {
        // Memory must run out well inside the slice; CPU need not be given long.
        let slice = match expected {
            ErrorKind::OutOfMemory => Duration::from_secs(5),
            _ => Duration::from_millis(300),
        };
        assert_eq!(fails_with(script, slice), expected, "{name}");
    }
}

#[test]
fn deep_recursion_is_a_range_error() {
    let vm = vm(64);
    let error = vm
        .evaluate("function f() { return f() + 1 } f()", "deep.js")
        .unwrap_err();
    assert_eq!(
        (error.kind, error.name.as_str()),
        (ErrorKind::Thrown, "RangeError")
    );
}

#[test]
fn a_heap_that_grows_a_little_per_entry_is_stopped_between_entries() {
    let vm = vm(32);
    vm.evaluate("var kept = []", "setup.js").unwrap();
    let grow = vm
        .evaluate(
            "() => { for (let i = 0; i < 20000; i++) kept.push({ i, s: 'v' + i }) }",
            "grow.js",
        )
        .unwrap();
    let mut entries = 0;
    let error = loop {
        entries += 1;
        assert!(entries < 1000, "32 MiB were never reached");
        if let Err(error) = grow.call(&[]) {
            break error;
        }
    };
    assert_eq!(error.kind, ErrorKind::OutOfMemory);
    assert!(vm.heap_measurements() < entries, "measured at every entry");
}

/// A catastrophic pattern stops at the slice too (and, given seconds, at the engine's own
/// backtracking limit, where `test` gives false).
#[test]
fn a_regex_bomb_stops_at_the_cpu_slice() {
    let vm = vm(64);
    let started = Instant::now();
    let error = vm
        .evaluate("/(x+x+)+y/.test('x'.repeat(100000))", "regex.js")
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted);
    // Wall time, on a machine that may be busy: the kind above is the proof (the engine's own
    // limit would have given `false`), this only bounds how late.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The guarantee JavaScriptCore does not hold (see docs/DESIGN.md § "JavaScriptCore"): its
/// watchdog restarts for each microtask, so a storm of short ones is never stopped, and
/// stopping one with a zero time limit aborts the process. Run with `--ignored` to see it fail.
#[test]
#[ignore = "JavaScriptCore 2.50 cannot stop a storm of short microtasks"]
fn a_microtask_storm_stops_at_the_cpu_slice() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let vm = vm(64);
        let result = vm.evaluate("function f() { Promise.resolve().then(f) } f()", "storm.js");
        let _ = done.send(result.map(|_| ()).map_err(|error| error.kind));
    });
    let ended = finished.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        ended,
        Ok(Err(ErrorKind::Interrupted)),
        "the storm was not stopped in 10 s"
    );
}

#[test]
fn host_functions_take_and_give_values_and_throw_errors() {
    let vm = vm(64);
    let global = vm.scope().global();
    let add = vm
        .scope()
        .function(|scope, arguments| {
            let sum: f64 = arguments
                .iter()
                .map(|a| a.to_number().unwrap_or(f64::NAN))
                .sum();
            Ok(scope.number(sum))
        })
        .unwrap();
    global.set("add", &add).unwrap();
    let reverse = vm
        .scope()
        .function(|scope, arguments| {
            let Some(bytes) = arguments.first().and_then(|a| a.to_bytes()) else {
                return Err(verge_jsc::JsError::thrown(
                    "TypeError",
                    "reverse wants bytes",
                ));
            };
            scope.bytes(&bytes.into_iter().rev().collect::<Vec<u8>>())
        })
        .unwrap();
    global.set("reverse", &reverse).unwrap();
    // A host function that calls back into JavaScript, which the CPU slice still bounds.
    let call = vm
        .scope()
        .function(|_, arguments| match arguments.first() {
            Some(callback) => callback.call(&[]),
            None => Err(verge_jsc::JsError::thrown(
                "TypeError",
                "call wants a function",
            )),
        })
        .unwrap();
    global.set("call", &call).unwrap();
    let result = vm
        .evaluate(
            "let caught; try { reverse(42) } catch (e) { caught = e instanceof TypeError && e.message }\n\
             [typeof add, add(1, 2, 3), [...reverse(new Uint8Array([1, 2, 3]))].join(), \
              [...reverse(new Uint8Array([9, 1, 2, 3]).subarray(1).buffer)].join(), \
              caught, call(() => 'back')].join(' ')",
            "host.js",
        )
        .unwrap();
    assert_eq!(
        result.to_string().unwrap(),
        "function 6 3,2,1 3,2,1,9 reverse wants bytes back"
    );
    let started = Instant::now();
    let error = vm
        .evaluate("call(() => { for (;;) {} })", "loop.js")
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn any_thrown_value_is_described() {
    let vm = vm(64);
    for (script, message) in [
        ("throw Symbol('boom')", "Symbol(boom)"),
        ("throw Object.create(null)", ""),
        (
            "throw { get name() { throw this }, message: 'm' }",
            "[object Object]",
        ),
    ] {
        let error = vm.evaluate(script, "throw.js").unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Thrown, message),
            "{script}"
        );
    }
    // A getter that reaches a limit while the error is described makes that limit the error.
    let error = vm
        .evaluate(
            "throw { get name() { for (;;) {} }, message: 'm' }",
            "limit.js",
        )
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted);
}

#[test]
fn a_value_of_another_vm_is_refused() {
    let (a, b) = (vm(64), vm(64));
    let keep = a
        .evaluate("(v) => { globalThis.kept = v }", "a.js")
        .unwrap();
    let foreign = b.evaluate("({ f() { return 1 } })", "b.js").unwrap();
    let error = keep.call(std::slice::from_ref(&foreign)).unwrap_err();
    assert_eq!(error.name, "TypeError");
    let error = a.scope().global().set("kept", &foreign).unwrap_err();
    assert_eq!(error.name, "TypeError");
    drop(foreign);
    drop(b);
    assert_eq!(
        a.evaluate("typeof kept", "a.js")
            .unwrap()
            .to_string()
            .unwrap(),
        "undefined"
    );
}

#[test]
fn buffers_count_once_against_the_limit() {
    let vm = vm_with_slice(64, Duration::from_secs(5));
    // 34 MiB held, and garbage enough to have the heap measured: well under 64 MiB.
    vm.evaluate(
        "globalThis.held = new Uint8Array(34 * 1024 * 1024).fill(1);\n\
         for (let i = 0; i < 200; i++) new Array(100000).fill(i);",
        "buffer.js",
    )
    .unwrap();
    let heap = vm.heap_bytes();
    assert!(heap > 34 * MIB && heap < 48 * MIB, "{} MiB", heap / MIB);
}

#[test]
fn growth_after_another_vm_freed_memory_is_still_seen() {
    let big = vm_with_slice(512, Duration::from_secs(10));
    big.evaluate(
        "globalThis.a = []; for (let i = 0; i < 3e6; i++) a.push({ i })",
        "big.js",
    )
    .unwrap();
    let victim = vm_with_slice(64, Duration::from_secs(10));
    drop(big);
    let error = victim
        .evaluate(
            "let b = []; for (let i = 0; i < 4e6; i++) b.push({ i })",
            "victim.js",
        )
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::OutOfMemory);
}

#[test]
fn a_host_function_that_swallows_a_stop_does_not_keep_the_script_running() {
    let vm = vm(64);
    let swallow = vm
        .scope()
        .function(|scope, arguments| {
            // Drops whatever its callback's call gave, a stop included.
            if let Some(callback) = arguments.first() {
                let _ = callback.call(&[]);
            }
            Ok(scope.undefined())
        })
        .unwrap();
    vm.scope().global().set("swallow", &swallow).unwrap();
    let started = Instant::now();
    let error = vm
        .evaluate(
            "for (;;) { try { swallow(() => { for (;;) {} }) } catch {} }",
            "swallow.js",
        )
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
#[allow(clippy::panic)]
fn host_functions_are_functions_and_keep_to_their_vm() {
    // A long slice: the panic below is reported (its backtrace symbolized, with RUST_BACKTRACE
    // set) on this thread, inside the entry, which can take longer than the usual 200 ms.
    let vm = vm_with_slice(64, Duration::from_secs(30));
    let other: &'static verge_jsc::Vm =
        Box::leak(Box::new(vm_with_slice(64, Duration::from_secs(1))));
    let scope = vm.scope();
    let foreign = scope
        .function(move |_, _| Ok(other.scope().number(1.0)))
        .unwrap();
    let bytes = scope
        .function(|scope, arguments| {
            let bytes = arguments
                .first()
                .and_then(|value| value.to_bytes())
                .unwrap_or_default();
            scope.bytes(&bytes)
        })
        .unwrap();
    let panicky = scope
        .function(|_, _| panic!("a bug in a host function"))
        .unwrap();
    for (name, function) in [
        ("foreign", &foreign),
        ("bytes", &bytes),
        ("panicky", &panicky),
    ] {
        scope.global().set(name, function).unwrap();
    }
    let result = vm
        .evaluate(
            "const outcome = (f) => { try { return String(f()) } catch (e) { return 'threw ' + (e.name ?? e) } };\n\
             [outcome(foreign), outcome(panicky), [...bytes(new Uint8Array([9, 1, 2, 3]).subarray(1, 3))].join(),\n\
              typeof bytes.call, bytes instanceof Function].join(' | ')",
            "host.js",
        )
        .unwrap();
    assert_eq!(
        result.to_string().unwrap(),
        "threw TypeError | threw a host function failed | 1,2 | function | true"
    );
}

#[test]
fn describing_an_error_stays_under_the_entrys_deadline() {
    let vm = vm(64);
    let started = Instant::now();
    let error = vm
        .evaluate(
            "const spin = () => { const end = Date.now() + 250; while (Date.now() < end); return 'x' };\n\
             throw { get name() { return spin() }, get message() { return spin() }, get stack() { return spin() } }",
            "slow.js",
        )
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted);
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}
