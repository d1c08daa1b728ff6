//! Verge's native `JSON.parse` and `JSON.stringify` against QuickJS's own: the same seeded
//! random values, and texts made from them and broken on purpose, give the same strings, the
//! same parsed structures and the same kinds of error in an isolate as in a bare QuickJS context;
//! then what only the native ones promise — V8's messages, nesting, limits.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use verge_js::rquickjs::{Context, Ctx, Runtime};
use verge_js::{ErrorKind, Isolate, IsolateLimits};

/// Values of every kind JSON meets, from a seeded generator; `dump` describes a parsed value
/// exactly (key order, -0, types), for comparing two engines' results as strings.
const GENERATOR: &str = r#"
globalThis.makeRandom = (seed) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
globalThis.randomString = (random) => {
  const units = [0x22, 0x5c, 0x2f, 0x0a, 0x00, 0x1f, 0x7f, 0xe9, 0x2028, 0xd800, 0xdc00, 0xfffd, 0x41, 0x20];
  let s = '';
  const length = Math.floor(random() * 12);
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.5) s += String.fromCharCode(0x61 + Math.floor(random() * 26));
    else if (r < 0.8) s += String.fromCharCode(units[Math.floor(random() * units.length)]);
    else if (r < 0.9) s += '😀';
    else s += String.fromCharCode(Math.floor(random() * 0x10000));
  }
  return s;
};
globalThis.randomNumber = (random) => {
  const specials = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308,
    NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 53, 0.000001, 1e15, 1e16, 4.35, 100];
  const r = random();
  if (r < 0.3) return specials[Math.floor(random() * specials.length)];
  if (r < 0.6) return Math.floor(random() * 2000) - 1000;
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, Math.floor(random() * 2 ** 32));
  view.setUint32(4, Math.floor(random() * 2 ** 32));
  return view.getFloat64(0);
};
globalThis.randomValue = (random, depth) => {
  const r = random();
  if (depth > 4 || r < 0.3) {
    const leaf = random();
    if (leaf < 0.3) return randomString(random);
    if (leaf < 0.6) return randomNumber(random);
    if (leaf < 0.7) return random() < 0.5;
    if (leaf < 0.8) return null;
    if (leaf < 0.84) return undefined;
    if (leaf < 0.87) return () => 1;
    if (leaf < 0.89) return Symbol('s');
    if (leaf < 0.91) return new Date(Math.floor(random() * 1e12));
    if (leaf < 0.93) return new Number(randomNumber(random));
    if (leaf < 0.95) return new String(randomString(random));
    if (leaf < 0.97) return new Boolean(random() < 0.5);
    return { toJSON(key) { return ['toJSON', key]; } };
  }
  if (r < 0.6) {
    const items = [];
    const length = Math.floor(random() * 6);
    for (let i = 0; i < length; i++) items.push(randomValue(random, depth + 1));
    if (random() < 0.1) items.length += 2;
    return items;
  }
  if (r < 0.65) return new Uint8Array([1, 2, 3]);
  if (r < 0.7) return new Map([[1, 2]]);
  if (r < 0.75) {
    return new Proxy({ a: randomValue(random, depth + 1), b: 1 }, {
      ownKeys: (target) => ['b', 'a', 'missing'],
    });
  }
  if (r < 0.78) return new Proxy([randomValue(random, depth + 1), 2], {});
  const object = {};
  const keys = Math.floor(random() * 6);
  for (let i = 0; i < keys; i++) {
    const key = random() < 0.2 ? String(Math.floor(random() * 10)) : randomString(random);
    object[key] = randomValue(random, depth + 1);
  }
  if (random() < 0.1) Object.defineProperty(object, 'hidden', { value: 1, enumerable: false });
  if (random() < 0.1) Object.defineProperty(object, 'getter', { get() { return [keys]; }, enumerable: true });
  return object;
};
globalThis.dump = (value) => {
  const text = (s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, (c) => `<${c.charCodeAt(0)}>`));
  if (value === null) return 'null';
  if (typeof value === 'number') return Object.is(value, -0) ? 'number:-0' : `number:${value}`;
  if (typeof value === 'string') return `string:${text(value)}`;
  if (typeof value !== 'object') return `${typeof value}:${String(value)}`;
  const proto = Object.getPrototypeOf(value) === Array.prototype ? 'array' : 'object';
  return `${proto}{${Reflect.ownKeys(value).map((k) => `${text(String(k))}=${dump(value[k])}`).join(',')}}`;
};
"#;

/// Runs `script` in a bare QuickJS context (the engine's own JSON) and in a Verge isolate (the
/// native one); each result as `describe` gives it.
fn both(script: &str, describe: impl Fn(&Ctx<'_>, &str) -> String) -> (String, String) {
    let runtime = Runtime::new().unwrap();
    let context = Context::full(&runtime).unwrap();
    let reference = context.with(|ctx| {
        ctx.eval::<(), _>(GENERATOR).unwrap();
        describe(&ctx, script)
    });
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    let native = isolate
        .enter(|ctx| {
            ctx.eval::<(), _>(GENERATOR)?;
            Ok(describe(ctx, script))
        })
        .unwrap();
    (reference, native)
}

/// The string `script` evaluates to, or the name of the error it throws.
fn outcome(ctx: &Ctx<'_>, script: &str) -> String {
    match ctx.eval::<String, _>(script) {
        Ok(text) => text,
        Err(error) => {
            let thrown = ctx.catch();
            if !error.is_exception() {
                return format!("failed: {error}");
            }
            let name = thrown
                .as_object()
                .and_then(|error| error.get::<_, String>("name").ok());
            format!("threw {}", name.unwrap_or_else(|| format!("{thrown:?}")))
        }
    }
}

/// Each line of `native` as in `reference`, the first that differs named by its `what` and number.
fn assert_same_lines(reference: &str, native: &str, what: &str) {
    for (line, (expected, actual)) in reference.lines().zip(native.lines()).enumerate() {
        assert_eq!(actual, expected, "{what} {line}");
    }
    assert_eq!(native.lines().count(), reference.lines().count());
}

#[test]
fn stringify_matches_the_engine_on_random_values() {
    let script = r#"
        const random = makeRandom(7);
        const out = [];
        // Indentation: numbers clamped to 0..10, strings cut to 10, anything else none.
        const spaces = [2, '\t', 0, 12, -1, NaN, 1.9, 'abcdefghijklm', '', '→→', new Number(3), true, null, undefined, Symbol()];
        for (let i = 0; i < 3000; i++) {
          const value = randomValue(random, 0);
          try { out.push(String(JSON.stringify(value))); } catch (e) { out.push(`threw ${e.name}`); }
          const space = spaces[i % spaces.length];
          try { out.push(encodeURIComponent(String(JSON.stringify(value, null, space)))); } catch (e) { out.push(`threw ${e.name}`); }
        }
        out.join('\n')
    "#;
    let (reference, native) = both(script, outcome);
    assert!(reference.len() > 50_000, "{}", reference.len());
    assert_same_lines(&reference, &native, "value");
}

#[test]
fn parse_matches_the_engine_on_valid_and_broken_texts() {
    // Texts from random values, and each cut short, given a stray byte, or padded.
    let script = r#"
        const random = makeRandom(11);
        const out = [];
        for (let i = 0; i < 3000; i++) {
          let text = JSON.stringify(randomValue(random, 0)) ?? '1';
          const damage = random();
          if (damage < 0.15) text = text.slice(0, Math.floor(random() * text.length));
          else if (damage < 0.3) {
            const at = Math.floor(random() * text.length);
            text = text.slice(0, at) + '{}[],:"\\x0-.e+ \t\n'[Math.floor(random() * 18)] + text.slice(at + 1);
          } else if (damage < 0.4) text = ` \n\t${text}\r `;
          try { out.push(dump(JSON.parse(text))); } catch (e) { out.push(`threw ${e.name}`); }
        }
        for (const text of ['-0', '1e400', '-1e-400', '0.1e1', '1E+2', '999999999', '1000000000', '-2147483648',
                            '"\\ud83d\\ude00"', '"\\uD800"', '{"__proto__": 1}', '{"a":1,"a":2,"b":3}',
                            '{"1":1,"a":2,"0":3}', '"\\u00e9\\u0000\\/"', '[[[[]]]]', '01', '1.', '-', '.5',
                            '"\\x"', '"\\u12"', 'tru', 'nul', '[1,]', '{"a":1,}', '', ' ', '"\u2028"',
                            '{"é":1,"😀":[]}']) {
          try { out.push(dump(JSON.parse(text))); } catch (e) { out.push(`threw ${e.name}`); }
        }
        out.push(dump(JSON.parse(123)), dump(JSON.parse({ toString: () => '[7]' })));
        try { JSON.parse(Symbol()); } catch (e) { out.push(`threw ${e.name}`); }
        out.join('\n')
    "#;
    let (reference, native) = both(script, outcome);
    let errors = reference
        .lines()
        .filter(|line| line.starts_with("threw"))
        .count();
    assert!(
        errors > 300,
        "only {errors} broken texts: {}",
        &reference[..reference.len().min(300)]
    );
    assert_same_lines(&reference, &native, "text");
}

#[test]
fn what_the_fast_path_leaves_to_the_engine_still_works() {
    let script = r#"
        const value = { a: [1, { b: 2 }], c: 'x', d: new Date(0) };
        [
          JSON.stringify(value, null, 2),
          JSON.stringify(value, ['a', 'c']),
          JSON.stringify(value, (k, v) => (typeof v === 'number' ? v * 10 : v), '--'),
          JSON.stringify(value, undefined, undefined),
          dump(JSON.parse('{"a":[1,2],"b":{"c":3}}', (k, v) => (typeof v === 'number' ? -v : v))),
          dump(JSON.parse('[1]', 'not a function')),
          JSON.stringify.name, String(JSON.stringify.length), JSON.parse.name, String(JSON.parse.length),
          String(JSON.stringify()), String(JSON.stringify(undefined)),
        ].join('\n')
    "#;
    let (reference, native) = both(script, outcome);
    assert_eq!(native, reference);
    assert!(native.contains("\"a\": ["), "{native}");
}

#[test]
fn errors_name_what_is_wrong_as_v8_does() {
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    let message = |script: &str| {
        isolate
            .enter(|ctx| ctx.eval::<(), _>(script))
            .unwrap_err()
            .to_string()
    };
    let cases = [
        ("JSON.parse('')", "SyntaxError: Unexpected end of JSON input"),
        (
            "JSON.parse('{\"a\" 1}')",
            "SyntaxError: Expected ':' after property name in JSON at position 5 (line 1 column 6)",
        ),
        (
            "JSON.parse('[1, 2] x')",
            "SyntaxError: Unexpected non-whitespace character after JSON at position 7 (line 1 column 8)",
        ),
        (
            "JSON.parse('{\\n\"é\": tru}')",
            "SyntaxError: Unexpected token '}', \"{\n\"é\": tru}\" is not valid JSON",
        ),
        (
            "JSON.parse('\"abc')",
            "SyntaxError: Unterminated string in JSON at position 4 (line 1 column 5)",
        ),
        (
            "const a = {}; a.self = [a]; JSON.stringify(a)",
            "TypeError: Converting circular structure to JSON",
        ),
        (
            "JSON.stringify({ n: 1n })",
            "TypeError: Do not know how to serialize a BigInt",
        ),
    ];
    for (script, expected) in cases {
        let error = message(script);
        assert!(error.starts_with(expected), "{script}: {error}");
    }
}

#[test]
fn deep_nesting_is_a_range_error_and_the_isolate_serves_on() {
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    let run = |script: &str| isolate.enter(|ctx| ctx.eval::<String, _>(script));
    let error = run("JSON.parse('['.repeat(1e6) + ']'.repeat(1e6))").unwrap_err();
    assert_eq!(error.name, "RangeError", "{error}");
    let error = run("{ let v = []; for (let i = 0; i < 1e6; i++) v = [v]; JSON.stringify(v) }")
        .unwrap_err();
    assert_eq!(error.name, "RangeError", "{error}");
    // Deeper than QuickJS's own JSON goes (~10,000 parsing, ~4,000 serializing).
    let deep = run(
        "{ let v = 1; for (let i = 0; i < 20000; i++) v = { v: [v] }; \
         String(JSON.stringify(JSON.parse(JSON.stringify(v))).length) }",
    )
    .unwrap();
    assert_eq!(deep, (20000 * "{\"v\":[]}".len() + 1).to_string());
}

#[test]
fn a_huge_output_hits_the_memory_limit_and_a_long_one_the_cpu_deadline() {
    let isolate = Isolate::new(IsolateLimits {
        memory_bytes: 16 * 1024 * 1024,
        cpu_slice: Some(Duration::from_secs(20)),
        ..IsolateLimits::default()
    })
    .unwrap();
    for script in [
        // One 100 KB string referenced 10,000 times: a gigabyte of output from a small heap.
        "JSON.stringify(Array(10000).fill('x'.repeat(100000)))",
        // Output that grows without strings: `null` four billion times; raw JSON repeated.
        "const holes = []; holes.length = 2 ** 32 - 1; JSON.stringify(holes)",
        "JSON.stringify(Array(3000).fill(JSON.rawJSON('\"' + 'x'.repeat(1e6) + '\"')))",
        // Parsed elements wait outside the heap for their array: counted against the limit too.
        "JSON.parse('[' + '0,'.repeat(5e6) + '0]')",
    ] {
        let error = isolate.enter(|ctx| ctx.eval::<(), _>(script)).unwrap_err();
        assert_eq!(
            isolate.explain(error).kind,
            ErrorKind::OutOfMemory,
            "{script}"
        );
    }

    let isolate = Isolate::new(IsolateLimits {
        memory_bytes: 64 * 1024 * 1024,
        cpu_slice: Some(Duration::from_millis(20)),
        ..IsolateLimits::default()
    })
    .unwrap();
    // One call, no JavaScript running while it serializes a million objects: only the native
    // code's own look at the deadline can stop it.
    let error = isolate
        .enter(|ctx| ctx.eval::<(), _>("JSON.stringify(Array(1e6).fill({ a: [1, 2] }))"))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Interrupted, "{error}");
    let fine = isolate
        .enter(|ctx| ctx.eval::<String, _>("JSON.stringify(JSON.parse('{\"ok\":[true]}'))"))
        .unwrap();
    assert_eq!(fine, "{\"ok\":[true]}");
}
