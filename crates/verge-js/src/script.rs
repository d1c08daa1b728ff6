//! Scripts compiled to bytecode once and run in many isolates. Unlike a module, a script leaves
//! nothing behind once it has run: what it returns keeps only the functions it needs, whereas
//! QuickJS keeps every evaluated module, with its top-level code, for the life of the context.
//!
//! verge-web's build script compiles this file too (by path), so it uses nothing but rquickjs.

use rquickjs::{qjs, Ctx, Value};
use std::ffi::CString;

/// Compiles `source`, a strict script, to bytecode for [`run_script`] in any isolate of this
/// process. Without its source text (kept for `Function.prototype.toString`), the functions
/// it makes take a third less memory; like built-ins, they print as native code.
pub fn compile_script(ctx: &Ctx<'_>, name: &str, source: &str) -> rquickjs::Result<Vec<u8>> {
    let source = CString::new(source).map_err(|_| nul_error(name))?;
    let file = CString::new(name).map_err(|_| nul_error(name))?;
    let raw_ctx = ctx.as_raw().as_ptr();
    #[allow(unsafe_code)]
    // SAFETY: `source` is NUL-terminated, as `JS_Eval` requires; the compiled function is
    // freed here, and the buffer `JS_WriteObject` returns is copied and then freed with the
    // allocator that made it.
    unsafe {
        let flags =
            qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
        let compiled = qjs::JS_Eval(
            raw_ctx,
            source.as_ptr(),
            source.as_bytes().len() as _,
            file.as_ptr(),
            flags as _,
        );
        if qjs::JS_IsException(compiled) {
            return Err(rquickjs::Error::Exception);
        }
        let mut size = 0;
        let flags = qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE;
        let buffer = qjs::JS_WriteObject(raw_ctx, &mut size, compiled, flags as _);
        qjs::JS_FreeValue(raw_ctx, compiled);
        if buffer.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let bytecode = std::slice::from_raw_parts(buffer, size as usize).to_vec();
        qjs::js_free(raw_ctx, buffer.cast());
        Ok(bytecode)
    }
}

/// Runs a script that [`compile_script`] compiled in this process, and returns its value.
///
/// # Safety
/// `bytecode` must be exactly as `compile_script` returned it: QuickJS does not check bytecode.
#[allow(unsafe_code)]
pub unsafe fn run_script<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Value<'js>> {
    let raw_ctx = ctx.as_raw().as_ptr();
    let function = qjs::JS_ReadObject(
        raw_ctx,
        bytecode.as_ptr(),
        bytecode.len() as _,
        qjs::JS_READ_OBJ_BYTECODE as _,
    );
    if qjs::JS_IsException(function) {
        return Err(rquickjs::Error::Exception);
    }
    // `JS_EvalFunction` takes over the function.
    let value = qjs::JS_EvalFunction(raw_ctx, function);
    if qjs::JS_IsException(value) {
        return Err(rquickjs::Error::Exception);
    }
    Ok(Value::from_raw(ctx.clone(), value))
}

fn nul_error(name: &str) -> rquickjs::Error {
    rquickjs::Error::new_from_js_message("source", "script", format!("{name} holds a NUL byte"))
}
