//! Compiles the Web APIs' JavaScript (`js/`) to QuickJS bytecode at build time, so that no
//! isolate, the first of a process included, parses it: `verge dev` starts without that cost and
//! `verge serve` compiles nothing before it listens. With the bytecode goes that of a probe
//! script; the runtime compiles the probe again and uses the bytecode only if both agree, which
//! a QuickJS build that writes bytecode differently would not.

fn main() {
    verge_js_build::compile_dirs(&["js"]);
    println!("cargo:rerun-if-changed=src/bytecode_probe.js");
    // The name is `platform::PROBE_NAME`: both compile the probe under it.
    verge_js_build::compile_probe(
        "verge:verge-web/src/bytecode_probe.js",
        include_str!("src/bytecode_probe.js"),
        "bytecode_probe.bin",
    );
}
