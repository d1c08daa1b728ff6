//! Compiles the Web APIs' JavaScript (`js/`) to QuickJS bytecode at build time, so that no
//! isolate, the first of a process included, parses it: `verge dev` starts without that cost and
//! `verge serve` compiles nothing before it listens. With the bytecode goes that of a probe
//! script; the runtime compiles the probe again and uses the bytecode only if both agree, which
//! a QuickJS build that writes bytecode differently would not.

// A build script fails by panicking; what fails here is our own sources.
#![allow(clippy::expect_used, clippy::panic)]

#[allow(dead_code, unsafe_code)]
#[path = "../verge-js/src/script.rs"]
mod script;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Exercises what the APIs' bytecode holds: strings and atoms, numbers, a BigInt, a regular
/// expression (its compiled program), classes with private fields, closures, async code.
const PROBE: &str = include_str!("src/bytecode_probe.js");

fn main() {
    println!("cargo:rerun-if-changed=js");
    println!("cargo:rerun-if-changed=src/bytecode_probe.js");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    collect(Path::new("js"), &mut files);
    files.sort();

    let runtime = rquickjs::Runtime::new().expect("a QuickJS runtime for the build");
    let context = rquickjs::Context::full(&runtime).expect("a QuickJS context for the build");
    let mut table = String::from("&[\n");
    context.with(|ctx| {
        let compile = |name: &str, source: &str, file: &str| {
            let bytecode = script::compile_script(&ctx, &format!("verge:web/{name}"), source)
                .unwrap_or_else(|e| {
                    let detail = ctx.catch();
                    panic!("{name} does not compile: {e} {detail:?}")
                });
            let path = out.join(file);
            std::fs::write(&path, bytecode).expect("writing bytecode to OUT_DIR");
            path
        };
        let probe = compile("bytecode_probe.js", PROBE, "bytecode_probe.bin");
        for file in &files {
            let name = file
                .strip_prefix("js")
                .expect("under js/")
                .to_string_lossy()
                .replace('\\', "/");
            let source = std::fs::read_to_string(file).expect("reading a Web API file");
            let path = compile(&name, &source, &format!("{}.bin", name.replace('/', "_")));
            writeln!(
                table,
                "    ({name:?}, include_bytes!({:?}) as &[u8]),",
                path.display()
            )
            .expect("writing to a String");
        }
        table.push_str("]\n");
        std::fs::write(out.join("web_apis.rs"), table).expect("writing to OUT_DIR");
        std::fs::write(
            out.join("bytecode_probe.rs"),
            format!("include_bytes!({:?})\n", probe.display()),
        )
        .expect("writing to OUT_DIR");
    });
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading js/") {
        let path = entry.expect("reading js/").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "js") {
            files.push(path);
        }
    }
}
