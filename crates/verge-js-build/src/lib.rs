//! `verge-js-build` compiles a crate's runtime JavaScript (the Web APIs, the bindings, the
//! worker's entry points) to QuickJS bytecode at build time, from the crate's build script, so
//! that no isolate — the first of a process included — parses it.
//!
//! Each `.js` file under the directories given is written to `OUT_DIR/<its path>.bin`, where
//! `verge_web::api!` includes it; its script name is `verge:<package>/<its path>`, which is how
//! stack traces name the runtime's own frames (and leave them out). The compiler is the one the
//! runtime uses (verge-js's `script.rs`, compiled here by path), so both write the same bytes;
//! verge-web checks that at run time with a probe script before any isolate reads them.
//!
//! A build script fails by panicking: what fails here is the project's own sources.

#![allow(clippy::expect_used, clippy::panic)]

#[allow(dead_code, unsafe_code)]
#[path = "../../verge-js/src/script.rs"]
mod script;

use std::path::{Path, PathBuf};

/// Compiles every `.js` file under each of `dirs` (relative to the crate's manifest directory)
/// to `OUT_DIR/<path>.bin`, and has cargo rerun the build when one changes.
pub fn compile_dirs(dirs: &[&str]) {
    let mut files = Vec::new();
    for dir in dirs {
        println!("cargo:rerun-if-changed={dir}");
        collect(Path::new(dir), &mut files);
    }
    files.sort();
    with_context(|ctx, package, out| {
        for file in &files {
            let path = file.to_string_lossy().replace('\\', "/");
            let source = std::fs::read_to_string(file).expect("reading a runtime JavaScript file");
            compile(
                ctx,
                &format!("verge:{package}/{path}"),
                &source,
                &out.join(format!("{path}.bin")),
            );
        }
    });
}

/// Compiles `source` as the script `name` to `OUT_DIR/<file>`, for a check that this
/// QuickJS writes the same bytes at run time.
pub fn compile_probe(name: &str, source: &str, file: &str) {
    with_context(|ctx, _, out| compile(ctx, name, source, &out.join(file)));
}

fn with_context(f: impl FnOnce(&rquickjs::Ctx<'_>, &str, &Path)) {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let package = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
    let runtime = rquickjs::Runtime::new().expect("a QuickJS runtime for the build");
    let context = rquickjs::Context::full(&runtime).expect("a QuickJS context for the build");
    context.with(|ctx| f(&ctx, &package, &out));
}

fn compile(ctx: &rquickjs::Ctx<'_>, name: &str, source: &str, target: &Path) {
    let bytecode = script::compile_script(ctx, name, source).unwrap_or_else(|e| {
        let detail = ctx.catch();
        panic!("{name} does not compile: {e} {detail:?}")
    });
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).expect("making a directory in OUT_DIR");
    }
    std::fs::write(target, bytecode).expect("writing bytecode to OUT_DIR");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading a directory of JavaScript") {
        let path = entry.expect("reading a directory of JavaScript").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "js") {
            files.push(path);
        }
    }
}
