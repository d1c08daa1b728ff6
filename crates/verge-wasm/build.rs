//! Compiles the `WebAssembly` namespace's JavaScript (`js/`) to QuickJS bytecode at build time,
//! as verge-web's build does for the Web APIs.

fn main() {
    verge_js_build::compile_dirs(&["js"]);
}
