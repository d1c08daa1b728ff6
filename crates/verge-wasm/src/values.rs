//! Values and functions across the boundary, as the WebAssembly JavaScript API says
//! (ToWebAssemblyValue, ToJSValue): i32 as a Number, i64 as a BigInt, floats as Numbers with NaN
//! and ±0 kept, externref as any JavaScript value, funcref as an exported function or `null`.
//! Exported functions are JavaScript functions that call into the store; imported JavaScript
//! functions become host functions that call back out.

use crate::store::{self, JsRef, State, WasmIsolate};
use rquickjs::function::Rest;
use rquickjs::{Array, BigInt, Coerced, Ctx, FromJs, Function, Persistent, Value};
use verge_js::rquickjs;
use wasmtime::{
    AsContextMut, ExternRef, Func, FuncType, HeapType, Ref, RefType, StoreContextMut, Val, ValType,
};

/// Throws a TypeError with `message`.
pub(crate) fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    rquickjs::Exception::throw_type(ctx, message)
}

/// ToWebAssemblyValue: `value` as a Wasm value of type `ty`.
pub(crate) fn to_wasm<'js>(
    ctx: &Ctx<'js>,
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    value: Value<'js>,
    ty: &ValType,
) -> rquickjs::Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(Coerced::<i32>::from_js(ctx, value)?.0),
        ValType::I64 => Val::I64(to_bigint64(ctx, value)?),
        ValType::F32 => Val::F32((Coerced::<f64>::from_js(ctx, value)?.0 as f32).to_bits()),
        ValType::F64 => Val::F64(Coerced::<f64>::from_js(ctx, value)?.0.to_bits()),
        ValType::V128 => return Err(type_error(ctx, "v128 values cannot cross into JavaScript")),
        ValType::Ref(ty) => Val::from(to_ref(ctx, wasm, cx, value, ty)?),
    })
}

/// ToWebAssemblyValue for a reference type.
pub(crate) fn to_ref<'js>(
    ctx: &Ctx<'js>,
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    value: Value<'js>,
    ty: &RefType,
) -> rquickjs::Result<Ref> {
    let null = value.is_null();
    if null && !ty.is_nullable() {
        let message = "null is not a value of this non-nullable reference type";
        return Err(type_error(ctx, message));
    }
    match ty.heap_type() {
        HeapType::Extern if null => Ok(Ref::Extern(None)),
        HeapType::Extern => Ok(Ref::Extern(Some(externref(ctx, cx, value)?))),
        HeapType::Func | HeapType::ConcreteFunc(_) if null => Ok(Ref::Func(None)),
        HeapType::Func | HeapType::ConcreteFunc(_) => {
            let func = value
                .as_function()
                .and_then(|function| exported_func(wasm, cx, function));
            match func {
                // A typed function reference takes only functions of its type.
                Some(func)
                    if ty
                        .heap_type()
                        .as_concrete_func()
                        .is_none_or(|wanted| func.matches_ty(&*cx, wanted)) =>
                {
                    Ok(Ref::Func(Some(func)))
                }
                Some(_) => Err(type_error(
                    ctx,
                    "the function is not of the reference's type",
                )),
                None => Err(type_error(
                    ctx,
                    "a funcref must be an exported WebAssembly function or null",
                )),
            }
        }
        other => Err(type_error(
            ctx,
            &format!("{other} references cannot cross into JavaScript"),
        )),
    }
}

/// ToBigInt64: a BigInt (or boolean, or numeric string) wrapped to 64 bits; Numbers are refused,
/// as the specification's ToBigInt refuses them.
fn to_bigint64<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<i64> {
    let bigint = match value.type_of() {
        rquickjs::Type::BigInt => value,
        rquickjs::Type::Bool | rquickjs::Type::String => {
            let convert: Function = ctx.globals().get("BigInt")?;
            convert.call((value,))?
        }
        _ => {
            let message = format!("an i64 takes a BigInt, not a {}", type_of(&value));
            return Err(type_error(ctx, &message));
        }
    };
    match bigint.into_big_int() {
        Some(bigint) => bigint.to_i64(),
        None => Err(type_error(ctx, "an i64 needs a BigInt")),
    }
}

/// What JavaScript's `typeof` says of `value`.
pub(crate) fn type_of(value: &Value<'_>) -> &'static str {
    use rquickjs::Type;
    match value.type_of() {
        Type::Int | Type::Float => "number",
        Type::BigInt => "bigint",
        Type::Bool => "boolean",
        Type::String => "string",
        Type::Symbol => "symbol",
        Type::Undefined | Type::Uninitialized => "undefined",
        Type::Function | Type::Constructor => "function",
        _ => "object",
    }
}

/// The externref for the JavaScript `value`.
fn externref<'js>(
    ctx: &Ctx<'js>,
    cx: &mut StoreContextMut<'_, State>,
    value: Value<'js>,
) -> rquickjs::Result<wasmtime::Rooted<ExternRef>> {
    let state = cx.data_mut();
    let dropped: Vec<u32> = std::mem::take(
        &mut *state
            .dropped_refs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    for slot in dropped {
        state.refs[slot as usize] = None;
        state.free_refs.push(slot);
    }
    let saved = Some(Persistent::save(ctx, value));
    let slot = match state.free_refs.pop() {
        Some(slot) => {
            state.refs[slot as usize] = saved;
            slot
        }
        None => {
            state.refs.push(saved);
            u32::try_from(state.refs.len() - 1)
                .map_err(|_| type_error(ctx, "too many JavaScript values held by WebAssembly"))?
        }
    };
    let data = JsRef::new(slot, state);
    ExternRef::new(&mut *cx, data).map_err(|e| type_error(ctx, &format!("{e:#}")))
}

/// ToJSValue.
pub(crate) fn to_js<'js>(
    ctx: &Ctx<'js>,
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    value: &Val,
) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        Val::I32(value) => Value::new_int(ctx.clone(), *value),
        Val::I64(value) => BigInt::from_i64(ctx.clone(), *value)?.into_value(),
        Val::F32(bits) => Value::new_float(ctx.clone(), f64::from(f32::from_bits(*bits))),
        Val::F64(bits) => Value::new_float(ctx.clone(), f64::from_bits(*bits)),
        Val::FuncRef(Some(func)) => function_object(ctx, wasm, cx, *func, "")?.into_value(),
        Val::ExternRef(Some(reference)) => {
            let slot = reference
                .data(&*cx)
                .ok()
                .flatten()
                .and_then(|data| data.downcast_ref::<JsRef>())
                .map(|data| data.slot as usize);
            match slot.and_then(|slot| cx.data().refs.get(slot).cloned().flatten()) {
                Some(value) => value.restore(ctx)?,
                None => Value::new_null(ctx.clone()),
            }
        }
        Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => {
            Value::new_null(ctx.clone())
        }
        Val::V128(_) | Val::AnyRef(Some(_)) | Val::ExnRef(Some(_)) | Val::ContRef(_) => {
            return Err(type_error(
                ctx,
                "this WebAssembly value cannot cross into JavaScript",
            ))
        }
    })
}

/// The Wasm function a JavaScript function made by [`function_object`] calls; `None` for any
/// other function, however it dresses up as one (the index it carries must lead back to it).
pub(crate) fn exported_func(
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    function: &Function<'_>,
) -> Option<Func> {
    let ctx = function.ctx();
    let key = wasm.function_key.clone().restore(ctx).ok()?;
    let index: usize = function.get(key).ok()?;
    let func = cx.data().funcs.get(index).copied()?;
    let address = func.to_raw(&mut *cx) as usize;
    let made = cx
        .data()
        .functions
        .get(&address)?
        .clone()
        .restore(ctx)
        .ok()?;
    (made == *function).then_some(func)
}

/// The JavaScript function for the Wasm function `func`: the same object each time.
pub(crate) fn function_object<'js>(
    ctx: &Ctx<'js>,
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    func: Func,
    name: &str,
) -> rquickjs::Result<Function<'js>> {
    let address = func.to_raw(&mut *cx) as usize;
    if let Some(function) = cx.data().functions.get(&address) {
        return function.clone().restore(ctx);
    }
    // The signature, read once: each call converts by it.
    let ty = func.ty(&*cx);
    let signature = Signature {
        params: ty.params().collect(),
        results: ty.results().collect(),
    };
    let arity = signature.params.len();
    let function = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        call_exported(&ctx, func, &signature, args.0)
    })?;
    function.set_name(name)?;
    function.set_length(arity)?;
    let state = cx.data_mut();
    state.funcs.push(func);
    function.set(
        wasm.function_key.clone().restore(ctx)?,
        state.funcs.len() - 1,
    )?;
    state
        .functions
        .insert(address, Persistent::save(ctx, function.clone()));
    Ok(function)
}

/// An exported function's parameter and result types.
struct Signature {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

/// Calls the exported function `func` with JavaScript's `args`: its result (`undefined` for
/// none, an array for several).
fn call_exported<'js>(
    ctx: &Ctx<'js>,
    func: Func,
    signature: &Signature,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let wasm = WasmIsolate::of(ctx)?;
    wasm.with_store(ctx, |cx| {
        let mut params = Vec::with_capacity(signature.params.len());
        let mut args = args.into_iter();
        for param in &signature.params {
            let arg = args
                .next()
                .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
            params.push(to_wasm(ctx, &wasm, cx, arg, param)?);
        }
        let called = store::call(cx, func, &params, &signature.results);
        store::sync_buffers(ctx, cx)?;
        let results = called.map_err(|error| store::thrown(ctx, cx, error, "RuntimeError"))?;
        match results.as_slice() {
            [] => Ok(Value::new_undefined(ctx.clone())),
            [one] => to_js(ctx, &wasm, cx, one),
            several => {
                let array = Array::new(ctx.clone())?;
                for (index, value) in several.iter().enumerate() {
                    array.set(index, to_js(ctx, &wasm, cx, value)?)?;
                }
                Ok(array.into_value())
            }
        }
    })
}

/// A host function of type `ty` that calls the JavaScript `function`.
pub(crate) fn host_function<'js>(
    ctx: &Ctx<'js>,
    cx: &mut StoreContextMut<'_, State>,
    function: Function<'js>,
    ty: FuncType,
) -> Func {
    let state = cx.data_mut();
    state.imports.push(Persistent::save(ctx, function));
    let import = state.imports.len() - 1;
    let results: Vec<ValType> = ty.results().collect();
    Func::new(&mut *cx, ty, move |mut caller, params, out| {
        let ctx = caller.data().ctx();
        let mut cx = caller.as_context_mut();
        match call_import(&ctx, &mut cx, import, params, &results, out) {
            Ok(()) => Ok(()),
            Err(error) => Err(store::stash(&ctx, cx.data_mut(), error)),
        }
    })
}

/// Calls imported function `import` with Wasm's `params`, writing its results to `out`.
fn call_import<'js>(
    ctx: &Ctx<'js>,
    cx: &mut StoreContextMut<'_, State>,
    import: usize,
    params: &[Val],
    results: &[ValType],
    out: &mut [Val],
) -> rquickjs::Result<()> {
    let wasm = WasmIsolate::of(ctx)?;
    store::sync_buffers(ctx, cx)?;
    let mut args = Vec::with_capacity(params.len());
    for param in params {
        args.push(to_js(ctx, &wasm, cx, param)?);
    }
    let Some(function) = cx.data().imports.get(import).cloned() else {
        return Err(type_error(ctx, "the imported function is gone"));
    };
    let function = function.restore(ctx)?;
    let value: Value = wasm.lend(cx, || function.call((Rest(args),)))?;
    match results {
        [] => Ok(()),
        [ty] => {
            out[0] = to_wasm(ctx, &wasm, cx, value, ty)?;
            Ok(())
        }
        several => {
            let array: rquickjs::Object = ctx.globals().get("Array")?;
            let from: Function = array.get("from")?;
            let values: Vec<Value> = from.call((value,))?;
            if values.len() != several.len() {
                return Err(type_error(
                    ctx,
                    &format!(
                        "the imported function returned {} values where WebAssembly expects {}",
                        values.len(),
                        several.len()
                    ),
                ));
            }
            for ((value, ty), slot) in values.into_iter().zip(several).zip(out.iter_mut()) {
                *slot = to_wasm(ctx, &wasm, cx, value, ty)?;
            }
            Ok(())
        }
    }
}
