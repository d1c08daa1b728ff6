//! A module graph linked into one script (`verge_js::link`) keeps what ES modules mean — live
//! bindings, namespaces, re-exports, cycles, evaluation order, top-level `await`,
//! `import.meta` and `import()` — when JavaScriptCore runs it, and QuickJS alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use verge_js::{
    link, Isolate, IsolateLimits, LinkError, LinkedScript, ModuleSource, ProjectModules,
};
use verge_jsc::{Vm, VmLimits};

/// Modules in memory, by id; `./x.js` from any module names `x.js`.
struct Files(HashMap<String, String>);

impl ModuleSource for Files {
    fn resolve(&mut self, _importer: &str, specifier: &str) -> Result<String, String> {
        let id = specifier.strip_prefix("./").unwrap_or(specifier);
        if self.0.contains_key(id) {
            Ok(id.to_owned())
        } else {
            Err(format!("no module '{specifier}'"))
        }
    }

    fn source(&mut self, id: &str) -> Result<String, String> {
        self.0
            .get(id)
            .map(|source| source.to_string())
            .ok_or_else(|| format!("no file {id}"))
    }
}

fn linked<S: AsRef<str>>(modules: &[(S, S)]) -> Result<String, LinkError> {
    link_files(modules).map(|linked| linked.script)
}

/// The graph of `modules` (`main.js` first) linked, with its lines.
fn link_files<S: AsRef<str>>(modules: &[(S, S)]) -> Result<LinkedScript, LinkError> {
    let files = modules
        .iter()
        .map(|(id, source)| (id.as_ref().to_owned(), source.as_ref().to_owned()));
    link("main.js", &mut Files(files.collect()))
}

/// Runs the graph on JavaScriptCore and on QuickJS (see `on_both_engines`).
fn run<S: AsRef<str>>(modules: &[(S, S)]) -> String {
    on_both_engines(&linked(modules).unwrap())
}

/// Runs a linked `script` on JavaScriptCore and on QuickJS (it is engine-neutral: the same
/// output from both), and gives `JSON.stringify` of the entry's export `result`, or the error
/// it rejected with.
fn on_both_engines(script: &str) -> String {
    let script = format!(
        "var out = 'pending'; ({script}).then((ns) => {{ out = JSON.stringify(ns.result) }}, \
         (e) => {{ out = 'rejected: ' + e }})"
    );
    // Each engine runs promise jobs as each entry ends.
    let vm = Vm::new(VmLimits::default()).unwrap();
    vm.evaluate(&script, "linked.js").unwrap();
    let on_jsc = vm.evaluate("out", "out.js").unwrap().to_string().unwrap();
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    isolate
        .enter(|ctx| ctx.eval::<(), _>(script.as_str()))
        .unwrap();
    let on_quickjs = isolate.enter(|ctx| ctx.eval::<String, _>("out")).unwrap();
    assert_eq!(on_jsc, on_quickjs, "JavaScriptCore and QuickJS disagree");
    on_jsc
}

#[test]
fn imported_bindings_are_live() {
    let result = run(&[
        (
            "counter.js",
            "export let count = 0; export function inc() { count++ }",
        ),
        (
            "main.js",
            "import { count, inc } from './counter.js';\n\
             const before = count; inc(); inc();\n\
             export const result = { before, after: count, short: { count }.count };",
        ),
    ]);
    assert_eq!(result, r#"{"before":0,"after":2,"short":2}"#);
}

#[test]
fn defaults_names_and_namespaces() {
    let result = run(&[
        ("expr.js", "export default 40 + 2;"),
        ("fn.js", "export default function named() { return 'f' }"),
        ("class.js", "export default class { static kind = 'c' }"),
        ("m.js", "export const b = 1, a = 2; export function who() { return this }"),
        (
            "main.js",
            "import answer from './expr.js'; import f from './fn.js'; import C from './class.js';\n\
             import * as ns from './m.js'; import { a as renamed, who } from './m.js';\n\
             export const result = [answer, f(), f.name, C.kind, renamed, Object.keys(ns),\n\
               Object.prototype.toString.call(ns), who() === undefined, Object.isExtensible(ns)];",
        ),
    ]);
    assert_eq!(
        result,
        r#"[42,"f","named","c",2,["a","b","who"],"[object Module]",true,false]"#
    );
}

#[test]
fn re_exports_reach_through() {
    let result = run(&[
        ("a.js", "export const x = 'x'; export default 'a-default';"),
        ("b.js", "export const y = 'y'; export const z = 'b-z'; export default 'b-default';"),
        ("c.js", "export const w = 'w';"),
        (
            "hub.js",
            "export { x as renamed, default as aDefault } from './a.js';\n\
             export * from './b.js';\n\
             export * as c from './c.js';\n\
             export const z = 'hub-z';\n\
             import { y } from './b.js'; export { y as again };",
        ),
        (
            "main.js",
            "import * as hub from './hub.js';\n\
             export const result = [Object.keys(hub), hub.renamed, hub.aDefault, hub.y, hub.z, hub.c.w, hub.again, 'default' in hub];",
        ),
    ]);
    assert_eq!(
        result,
        r#"[["aDefault","again","c","renamed","y","z"],"x","a-default","y","hub-z","w","y",false]"#
    );
}

#[test]
fn evaluation_follows_module_order_with_cycles() {
    let result = run(&[
        ("log.js", "export const log = [];"),
        (
            "a.js",
            "import { log } from './log.js'; import { fromB } from './b.js';\n\
             log.push('a'); export function fromA() { return 'A' + fromB() } export const late = 1;",
        ),
        (
            "b.js",
            "import { log } from './log.js'; import * as a from './a.js';\n\
             log.push('b'); let early; try { a.late } catch (e) { early = e.name }\n\
             export function fromB() { return 'B' } export const seen = [typeof a.fromA, early];",
        ),
        (
            "main.js",
            "import { log } from './log.js'; import { fromA } from './a.js'; import { seen } from './b.js';\n\
             log.push('main'); export const result = [log, fromA(), seen];",
        ),
    ]);
    assert_eq!(
        result,
        r#"[["b","a","main"],"AB",["function","ReferenceError"]]"#
    );
}

#[test]
fn top_level_await_meta_and_dynamic_import() {
    let result = run(&[
        ("slow.js", "await Promise.resolve(); export const ready = 'ready';"),
        ("lazy.js", "export const lazy = import.meta.url;"),
        (
            "main.js",
            "import { ready } from './slow.js';\n\
             const lazy = await import('./lazy.js');\n\
             let missing; try { await import('./nowhere.js') } catch (e) { missing = e.constructor.name }\n\
             export const result = [ready, lazy.lazy, import.meta.url, missing];",
        ),
    ]);
    assert_eq!(result, r#"["ready","lazy.js","main.js","TypeError"]"#);
}

#[test]
fn a_module_that_throws_rejects_the_graph() {
    let result = run(&[
        ("bad.js", "throw new RangeError('at load')"),
        ("main.js", "import './bad.js'; export const result = 1;"),
    ]);
    assert_eq!(result, "rejected: RangeError: at load");
}

#[test]
fn broken_graphs_are_refused_naming_the_module() {
    let error = linked(&[("main.js", "import { x } from './gone.js';")]).unwrap_err();
    assert_eq!(error.module, "main.js");
    assert!(error.message.contains("./gone.js"), "{error}");
    let error = linked(&[
        ("main.js", "import './bad.js';"),
        ("bad.js", "export const = 1;"),
    ])
    .unwrap_err();
    assert_eq!(error.module, "bad.js");
    assert!(
        error.message.starts_with("SyntaxError: bad.js:1:"),
        "{error}"
    );
}

/// A real npm package's graph (Hono, as `.ci/run` installs it), resolved by the rules the
/// QuickJS loader follows, with a TypeScript entry: it links, and routes alike on both engines.
#[test]
fn a_real_framework_links_and_routes() {
    let installed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/npm/node_modules");
    assert!(
        installed.join("hono/package.json").is_file(),
        "run .ci/run first: it installs hono"
    );
    let project = std::env::temp_dir().join(format!("verge-link-hono-{}", std::process::id()));
    std::fs::create_dir_all(&project).unwrap();
    let modules = project.join("node_modules");
    if !modules.exists() {
        std::os::unix::fs::symlink(&installed, &modules).unwrap();
    }
    std::fs::write(
        project.join("main.ts"),
        "import { Hono } from 'hono';\n\
         const app = new Hono();\n\
         app.get('/items/:id', (c) => c.text('item'));\n\
         const routes: string[] = app.routes.map((route) => `${route.method} ${route.path}`);\n\
         export const result = [typeof Hono, routes];\n",
    )
    .unwrap();
    let script = link("main.ts", &mut ProjectModules::new(&project))
        .unwrap()
        .script;
    std::fs::remove_dir_all(&project).unwrap();
    assert_eq!(
        on_both_engines(&script),
        r#"["function",["GET /items/:id"]]"#
    );
}

#[test]
fn module_text_that_scripts_do_not_allow_still_links() {
    let result = run(&[
        ("value.js", "export let x = 1; export const d = 'd-import';"),
        (
            "main.js",
            "#!/usr/bin/env node\n\
             import { x, d } from './value.js';\n\
             function never() { x = 2; ({ x } = {}); [x] = [3]; }\n\
             let refused; try { x++ } catch (e) { refused = e.constructor.name }\n\
             export default function () { return 'anonymous' }d\n\
             export const result = [x, refused];",
        ),
    ]);
    assert_eq!(result, r#"[1,"TypeError"]"#);
}

#[test]
fn the_linkers_own_names_stay_out_of_sight() {
    let result = run(&[
        ("m.js", "export const p = 'proto'; export { p as __proto__ };"),
        (
            "main.js",
            "import * as m from './m.js';\n\
             export const result = [typeof define, typeof start, typeof records, typeof evaluate, Object.keys(m), m.__proto__];",
        ),
    ]);
    assert_eq!(
        result,
        r#"["undefined","undefined","undefined","undefined",["__proto__","p"],"proto"]"#
    );
}

#[test]
fn long_chains_of_star_exports_link_quickly() {
    // Each level re-exports both of the two below it: 2^40 paths, one table per module.
    let mut sources: Vec<(String, String)> = (0..40)
        .map(|level| {
            let own = format!("export const v{level} = {level};");
            let source = if level >= 38 {
                own
            } else {
                let (next, after) = (level + 1, level + 2);
                format!("export * from './m{next}.js'; export * from './m{after}.js'; {own}")
            };
            (format!("m{level}.js"), source)
        })
        .collect();
    sources.push((
        "main.js".to_owned(),
        "import * as top from './m0.js'; export const result = Object.keys(top).length;".to_owned(),
    ));
    let started = std::time::Instant::now();
    assert_eq!(run(&sources), "40");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn dynamic_imports_resolve_as_written_and_fail_alone() {
    let result = run(&[
        ("b.js", "export const b = 'b';"),
        ("broken.js", "export const = 1;"),
        (
            "main.js",
            "const escaped = await import('./b\\x2ejs');\n\
             const template = await import(`./b.js`);\n\
             let broken; try { await import('./broken.js') } catch (e) { broken = e.name }\n\
             export const result = [escaped.b, template.b, broken];",
        ),
    ]);
    assert_eq!(result, r#"["b","b","SyntaxError"]"#);
}

/// Each module keeps its lines in the linked script, and the script's lines say whose they
/// are: an error's stack on JavaScriptCore names the module's own file and line.
#[test]
fn a_line_of_the_linked_script_is_a_line_of_its_module() {
    let linked = link_files(&[
        (
            "main.js",
            "import { f } from './b.js';\n\nexport const x = f(); // MARK_A\n",
        ),
        (
            "b.js",
            "// one\n// two\n\nexport function f() { return 1; } // MARK_B\n",
        ),
    ])
    .unwrap();
    let line_of = |mark: &str| {
        linked
            .script
            .lines()
            .position(|line| line.contains(mark))
            .unwrap()
            + 1
    };
    assert_eq!(
        linked.lines.position(line_of("MARK_A"), 5),
        Some(("main.js", 3, 5))
    );
    assert_eq!(
        linked.lines.position(line_of("MARK_B"), 5),
        Some(("b.js", 4, 5))
    );
    // The linker's own lines, before the first module and between two, are no module's.
    assert_eq!(linked.lines.position(1, 1), None);
    assert_eq!(linked.lines.position(line_of("MARK_B") + 2, 1), None);

    let linked = link_files(&[
        (
            "main.js",
            "import { f } from './b.js';\nglobalThis.thrower = f;\n",
        ),
        (
            "b.js",
            "\n\nexport function f() {\n  throw new Error('from b');\n}\n",
        ),
    ])
    .unwrap();
    let vm = Vm::new(VmLimits::default()).unwrap();
    let lines = linked.lines.clone();
    vm.map_positions(move |url, line, column| {
        let (module, line, column) = lines
            .position(line, column)
            .filter(|_| url == "linked.js")?;
        Some((module.to_owned(), line, column))
    });
    vm.evaluate(&linked.script, "linked.js").unwrap();
    let error = vm.evaluate("thrower()", "call.js").unwrap_err();
    assert!(
        error.stack.starts_with("    at f (b.js:4:"),
        "{}",
        error.stack
    );
    assert!(
        error.stack.contains("\n    at call.js:1:"),
        "{}",
        error.stack
    );
}
