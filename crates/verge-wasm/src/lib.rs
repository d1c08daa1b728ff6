//! `verge-wasm` gives every isolate the `WebAssembly` JavaScript API, backed by wasmtime:
//! Cranelift compiles a worker's deployed modules to machine code once per process (`engine`),
//! and each isolate instantiates them in its own store (`store`), with values crossing as the
//! JS API specification says (`values`). The API's surface is `js/webassembly.js`, loaded on
//! the first read of `WebAssembly`, so an isolate that never uses it pays nothing; its native
//! half is `ops`.
//!
//! As on Workers, code is what was deployed: modules come from the worker's files (an
//! `import` of a `.wasm` file, [`module_value`]), and compiling bytes at run time is refused
//! as `eval` is. The isolate's limits hold inside Wasm: its CPU deadline through epoch
//! interruption, its memory limit through wasmtime's resource limiter.

mod engine;
mod ops;
mod store;
mod values;

use rquickjs::{Ctx, Function, Value};
use verge_js::rquickjs;
use verge_web::{api, Api};

pub use engine::keep_compiled_in;

/// The `WebAssembly` namespace, lazy: its file loads when a script first reads the global or
/// a module imports a `.wasm` file.
pub const API: Api = api!("js/webassembly.js", quickjs ops::register;
    globals ["WebAssembly"];
    internals ["wasmModule", "wasmError"]);

/// The `WebAssembly.Module` of the deployed file `name`, compiled from `bytes` (or found
/// compiled); a loading error naming the file, and the offset of what is malformed, if they
/// are not a module.
pub fn module_value<'js>(ctx: &Ctx<'js>, name: &str, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    let compiled = engine::compile(name, bytes)
        .map_err(|why| rquickjs::Error::new_loading_message(name, why))?;
    let wasm = store::WasmIsolate::of(ctx)?;
    let index = wasm.with_store(ctx, |cx| {
        cx.data_mut().modules.push(compiled);
        Ok(cx.data().modules.len() - 1)
    })?;
    let make: Function = verge_web::internals(ctx)?.get("wasmModule")?;
    make.call((index,))
}
