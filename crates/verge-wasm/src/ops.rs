//! The native side of `js/webassembly.js`: modules, instantiation, and the memories, tables and
//! globals JavaScript refers to by index into the store's [`State`]. Argument checks that the
//! specification states in WebIDL terms are the JavaScript file's; these ops trust their types.

use crate::engine::Compiled;
use crate::store::{self, SharedMemory, State, WasmIsolate};
use crate::values::{
    exported_func, function_object, host_function, to_js, to_ref, to_wasm, type_error, type_of,
};
use rquickjs::{Array, ArrayBuffer, Ctx, Function, TypedArray, Value};
use std::sync::Arc;
use verge_js::{bytes_of, rquickjs, Ops};
use verge_web::WebHost;
use wasmtime::{
    Extern, ExternType, Global, GlobalType, Instance, Memory, MemoryType, MemoryTypeBuilder,
    Mutability, Ref, RefType, StoreContextMut, Table, TableType, ValType,
};

/// The kind of an import or export as the JavaScript API names it.
fn kind_of(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Memory(_) => "memory",
        ExternType::Table(_) => "table",
        ExternType::Global(_) => "global",
        ExternType::Tag(_) => "tag",
    }
}

/// A value type by the name the JavaScript API gives it.
fn value_type(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<ValType> {
    Ok(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        "externref" => ValType::EXTERNREF,
        "anyfunc" | "funcref" => ValType::FUNCREF,
        _ => {
            return Err(type_error(
                ctx,
                &format!("'{name}' is not a WebAssembly value type JavaScript can hold"),
            ))
        }
    })
}

/// The name the JavaScript API gives a value type.
fn type_name(ty: &ValType) -> String {
    match ty {
        ValType::Ref(r) if r.heap_type().is_extern() => "externref".into(),
        ValType::Ref(r) if r.heap_type().is_func() => "anyfunc".into(),
        other => other.to_string(),
    }
}

fn item<T: Copy>(ctx: &Ctx<'_>, items: &[T], index: usize, what: &str) -> rquickjs::Result<T> {
    items
        .get(index)
        .copied()
        .ok_or_else(|| type_error(ctx, &format!("not a {what} of this isolate")))
}

/// The module JavaScript's `WebAssembly.Module` number `index` stands for.
fn compiled_module(ctx: &Ctx<'_>, index: usize) -> rquickjs::Result<Arc<Compiled>> {
    let wasm = WasmIsolate::of(ctx)?;
    wasm.with_store(ctx, |cx| {
        let module = cx.data().modules.get(index).cloned();
        module.ok_or_else(|| type_error(ctx, "not a WebAssembly.Module of this isolate"))
    })
}

/// The index of `memory` in the state, added if it is new: a memory has one index however it
/// is reached, so its `WebAssembly.Memory` object is one.
fn memory_index(cx: &mut StoreContextMut<'_, State>, memory: Memory) -> usize {
    let start = memory.data_ptr(&*cx);
    let known =
        (0..cx.data().memories.len()).find(|&i| cx.data().memories[i].data_ptr(&*cx) == start);
    known.unwrap_or_else(|| {
        cx.data_mut().memories.push(memory);
        cx.data().memories.len() - 1
    })
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add(
        "wasmModuleImports",
        |ctx: Ctx<'js>, module: usize| -> rquickjs::Result<_> {
            let compiled = compiled_module(&ctx, module)?;
            let imports = compiled.module.imports().map(|import| {
                let kind = kind_of(&import.ty());
                vec![
                    import.module().to_owned(),
                    import.name().to_owned(),
                    kind.into(),
                ]
            });
            Ok(imports.collect::<Vec<Vec<String>>>())
        },
    )?;
    ops.add(
        "wasmModuleExports",
        |ctx: Ctx<'js>, module: usize| -> rquickjs::Result<_> {
            let compiled = compiled_module(&ctx, module)?;
            let exports = compiled
                .module
                .exports()
                .map(|export| vec![export.name().to_owned(), kind_of(&export.ty()).into()]);
            Ok(exports.collect::<Vec<Vec<String>>>())
        },
    )?;
    ops.add(
        "wasmCustomSections",
        |ctx: Ctx<'js>, module: usize, name: String| {
            let compiled = compiled_module(&ctx, module)?;
            compiled
                .custom_sections
                .iter()
                .filter(|(section, _)| *section == name)
                .map(|(_, bytes)| ArrayBuffer::new_copy(ctx.clone(), &bytes[..]))
                .collect::<rquickjs::Result<Vec<ArrayBuffer>>>()
        },
    )?;
    ops.add(
        "wasmValidate",
        |ctx: Ctx<'js>, bytes: TypedArray<'js, u8>| {
            crate::engine::validate(&bytes_of(&bytes)).map_err(|why| type_error(&ctx, &why))
        },
    )?;
    ops.add("wasmInstantiate", instantiate)?;
    register_memory(ops)?;
    register_table(ops)?;
    register_global(ops)
}

/// Instantiates module `module` with `given`, one `[tag, value]` per import in order (`tag`
/// the kind the JavaScript side found: a function, `memory`/`table`/`global` with the index of
/// such an object, or `value` for a global made from a number); its exports as
/// `[name, kind, value]`, functions as functions and the rest as indices.
fn instantiate<'js>(
    ctx: Ctx<'js>,
    module: usize,
    given: Array<'js>,
) -> rquickjs::Result<Vec<Array<'js>>> {
    let compiled = compiled_module(&ctx, module)?;
    let wasm = WasmIsolate::of(&ctx)?;
    wasm.with_store(&ctx, |cx| {
        let mut externs = Vec::new();
        for (index, import) in compiled.module.imports().enumerate() {
            let entry: Array = given.get(index)?;
            let (tag, value): (String, Value) = (entry.get(0)?, entry.get(1)?);
            let found = match (import.ty(), tag.as_str()) {
                (ExternType::Func(ty), "function") => {
                    let function: Function = Function::from_value(value)
                        .map_err(|_| type_error(&ctx, "an imported function must be callable"))?;
                    match exported_func(&wasm, cx, &function) {
                        Some(func) => Extern::Func(func),
                        None => Extern::Func(host_function(&ctx, cx, function, ty)),
                    }
                }
                (ExternType::Memory(_), "sharedMemory") => {
                    return Err(store::throw(&ctx, "LinkError", &format!(
                        "import {}.{}: a module cannot import a shared memory (the threads proposal is off)",
                        import.module(),
                        import.name()
                    )))
                }
                (ExternType::Memory(_), "memory") => Extern::Memory(item(
                    &ctx,
                    &cx.data().memories,
                    value_index(&ctx, value)?,
                    "memory",
                )?),
                (ExternType::Table(_), "table") => Extern::Table(item(
                    &ctx,
                    &cx.data().tables,
                    value_index(&ctx, value)?,
                    "table",
                )?),
                (ExternType::Global(_), "global") => Extern::Global(item(
                    &ctx,
                    &cx.data().globals,
                    value_index(&ctx, value)?,
                    "global",
                )?),
                (ExternType::Global(ty), "value") if ty.mutability() == Mutability::Const => {
                    let content = ty.content().clone();
                    let is_bigint = value.type_of() == rquickjs::Type::BigInt;
                    if is_bigint != matches!(content, ValType::I64) {
                        return Err(store::throw(
                            &ctx,
                            "LinkError",
                            &format!(
                                "import {}.{}: a {} global cannot be made from a {}",
                                import.module(),
                                import.name(),
                                type_name(&content),
                                type_of(&value)
                            ),
                        ));
                    }
                    let value = to_wasm(&ctx, &wasm, cx, value, &content)?;
                    let global = Global::new(&mut *cx, ty, value)
                        .map_err(|e| store::throw(&ctx, "LinkError", &format!("{e:#}")))?;
                    Extern::Global(global)
                }
                (ty, _) => {
                    return Err(store::throw(
                        &ctx,
                        "LinkError",
                        &format!(
                            "import {}.{} must be a {}{}",
                            import.module(),
                            import.name(),
                            if matches!(ty, ExternType::Global(_)) {
                                "mutable "
                            } else {
                                ""
                            },
                            kind_of(&ty),
                        ),
                    ))
                }
            };
            externs.push(found);
        }
        let instance = Instance::new(&mut *cx, &compiled.module, &externs);
        store::sync_buffers(&ctx, cx)?;
        let instance = instance.map_err(|error| store::thrown(&ctx, cx, error, "LinkError"))?;
        let exports: Vec<(String, Extern)> = instance
            .exports(&mut *cx)
            .map(|export| (export.name().to_owned(), export.into_extern()))
            .collect();
        let mut list = Vec::with_capacity(exports.len());
        for (name, export) in exports {
            let (kind, value) = match export {
                Extern::Func(func) => (
                    "function",
                    function_object(&ctx, &wasm, cx, func, &name)?.into_value(),
                ),
                Extern::Memory(memory) => ("memory", index_value(&ctx, memory_index(cx, memory))),
                Extern::Table(table) => {
                    cx.data_mut().tables.push(table);
                    ("table", index_value(&ctx, cx.data().tables.len() - 1))
                }
                Extern::Global(global) => {
                    cx.data_mut().globals.push(global);
                    ("global", index_value(&ctx, cx.data().globals.len() - 1))
                }
                // No module declares one: the threads proposal is off.
                Extern::SharedMemory(_) | Extern::Tag(_) => continue,
            };
            let entry = Array::new(ctx.clone())?;
            entry.set(0, name)?;
            entry.set(1, kind)?;
            entry.set(2, value)?;
            list.push(entry);
        }
        Ok(list)
    })
}

/// A memory type of `initial` pages and at most `maximum`; a RangeError past what Wasm allows.
fn memory_type(ctx: &Ctx<'_>, initial: u32, maximum: Option<u32>) -> rquickjs::Result<MemoryType> {
    let mut builder = MemoryTypeBuilder::new();
    builder.min(u64::from(initial)).max(maximum.map(u64::from));
    builder
        .build()
        .map_err(|e| range_error(ctx, &format!("WebAssembly.Memory(): {e:#}")))
}

/// Refuses one more host object of a kind the store holds `held` of, past `most`: the limit
/// ends the entry as running out of memory does (see `store::thrown`).
fn count_host(ctx: &Ctx<'_>, held: usize, most: usize) -> rquickjs::Result<()> {
    if held >= most {
        return Err(verge_js::out_of_memory(ctx));
    }
    Ok(())
}

fn value_index(ctx: &Ctx<'_>, value: Value<'_>) -> rquickjs::Result<usize> {
    value
        .as_int()
        .and_then(|index| usize::try_from(index).ok())
        .ok_or_else(|| type_error(ctx, "not an index"))
}

fn index_value<'js>(ctx: &Ctx<'js>, index: usize) -> Value<'js> {
    Value::new_number(ctx.clone(), index as f64)
}

fn register_memory<'js>(ops: &Ops<'js>) -> rquickjs::Result<()> {
    ops.add(
        "wasmMemoryNew",
        |ctx: Ctx<'js>, initial: u32, maximum: Option<u32>| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                count_host(
                    &ctx,
                    cx.data().memories.len() + cx.data().shared.len(),
                    store::MAX_MEMORIES,
                )?;
                let ty = memory_type(&ctx, initial, maximum)?;
                let memory = Memory::new(&mut *cx, ty)
                    .map_err(|error| store::thrown(&ctx, cx, error, "RangeError"))?;
                Ok(memory_index(cx, memory))
            })
        },
    )?;
    ops.add(
        "wasmMemoryGrow",
        |ctx: Ctx<'js>, index: usize, delta: u32| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let memory = item(&ctx, &cx.data().memories, index, "memory")?;
                let message = match memory.grow(&mut *cx, u64::from(delta)) {
                    // Only a grow that happened detaches the buffer: a failed one changes nothing.
                    Ok(old) => {
                        store::detach_buffer(&ctx, cx, index)?;
                        return Ok(old);
                    }
                    Err(_) if std::mem::take(&mut cx.data_mut().limiter.refused) => {
                        "WebAssembly.Memory.grow(): the worker's memory limit would be exceeded"
                    }
                    Err(_) => "WebAssembly.Memory.grow(): Maximum memory size exceeded",
                };
                Err(range_error(&ctx, message))
            })
        },
    )?;
    ops.add("wasmMemoryBuffer", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| store::memory_buffer(&ctx, cx, index))
    })?;
    // A shared memory's bytes are made for its maximum, which is counted now.
    ops.add(
        "wasmSharedMemoryNew",
        |ctx: Ctx<'js>, initial: u32, maximum: u32| {
            let (initial, maximum) = (initial as usize, maximum as usize);
            if !verge_js::reserve_memory(&ctx, maximum.saturating_mul(store::PAGE)) {
                return Err(verge_js::out_of_memory(&ctx));
            }
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let held = cx.data().memories.len() + cx.data().shared.len();
                count_host(&ctx, held, store::MAX_MEMORIES)?;
                let shared = &mut cx.data_mut().shared;
                shared.push(SharedMemory::new(initial, maximum));
                Ok(shared.len() - 1)
            })
        },
    )?;
    ops.add(
        "wasmSharedMemoryGrow",
        |ctx: Ctx<'js>, index: usize, delta: u32| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let memory = shared_memory(&ctx, cx.data_mut(), index)?;
                let old = memory.pages;
                let pages = old.saturating_add(delta as usize);
                if pages > memory.maximum {
                    return Err(range_error(
                        &ctx,
                        "WebAssembly.Memory.grow(): Maximum memory size exceeded",
                    ));
                }
                memory.pages = pages;
                Ok(old)
            })
        },
    )?;
    ops.add("wasmSharedMemoryBuffer", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            store::shared_buffer(&ctx, shared_memory(&ctx, cx.data_mut(), index)?)
        })
    })
}

fn shared_memory<'a>(
    ctx: &Ctx<'_>,
    state: &'a mut State,
    index: usize,
) -> rquickjs::Result<&'a mut SharedMemory> {
    state
        .shared
        .get_mut(index)
        .ok_or_else(|| type_error(ctx, "not a shared WebAssembly.Memory of this isolate"))
}

fn register_table<'js>(ops: &Ops<'js>) -> rquickjs::Result<()> {
    ops.add(
        "wasmTableNew",
        |ctx: Ctx<'js>, element: String, initial: u32, maximum: Option<u32>, value: Value<'js>| {
            let ValType::Ref(element) = value_type(&ctx, &element)? else {
                return Err(type_error(&ctx, "a table holds anyfunc or externref"));
            };
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let init = to_ref(&ctx, &wasm, cx, value, &element)?;
                count_host(&ctx, cx.data().tables.len(), store::MAX_TABLES)?;
                let table = Table::new(&mut *cx, TableType::new(element, initial, maximum), init)
                    .map_err(|error| store::thrown(&ctx, cx, error, "RangeError"))?;
                cx.data_mut().tables.push(table);
                Ok(cx.data().tables.len() - 1)
            })
        },
    )?;
    ops.add("wasmTableLength", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            Ok(item(&ctx, &cx.data().tables, index, "table")?.size(&*cx) as f64)
        })
    })?;
    ops.add("wasmTableGet", |ctx: Ctx<'js>, index: usize, at: u32| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            let table = item(&ctx, &cx.data().tables, index, "table")?;
            let Some(element) = table.get(&mut *cx, u64::from(at)) else {
                return Err(range_error(
                    &ctx,
                    "WebAssembly.Table.get(): index out of bounds",
                ));
            };
            to_js(&ctx, &wasm, cx, &element.into())
        })
    })?;
    ops.add(
        "wasmTableSet",
        |ctx: Ctx<'js>, index: usize, at: u32, value: Value<'js>| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let table = item(&ctx, &cx.data().tables, index, "table")?;
                let element = table_value(&ctx, &wasm, cx, table, value)?;
                table
                    .set(&mut *cx, u64::from(at), element)
                    .map_err(|_| range_error(&ctx, "WebAssembly.Table.set(): index out of bounds"))
            })
        },
    )?;
    ops.add(
        "wasmTableGrow",
        |ctx: Ctx<'js>, index: usize, delta: u32, value: Value<'js>| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let table = item(&ctx, &cx.data().tables, index, "table")?;
                let element = table_value(&ctx, &wasm, cx, table, value)?;
                table
                    .grow(&mut *cx, u64::from(delta), element)
                    .map(|old| old as f64)
                    .map_err(|_| {
                        range_error(&ctx, "WebAssembly.Table.grow(): failed to grow table")
                    })
            })
        },
    )?;
    ops.add("wasmTableElement", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            let table = item(&ctx, &cx.data().tables, index, "table")?;
            Ok(type_name(&ValType::Ref(table.ty(&*cx).element().clone())))
        })
    })
}

/// `value` as an element of `table`.
fn table_value<'js>(
    ctx: &Ctx<'js>,
    wasm: &WasmIsolate,
    cx: &mut StoreContextMut<'_, State>,
    table: Table,
    value: Value<'js>,
) -> rquickjs::Result<Ref> {
    let element: RefType = table.ty(&*cx).element().clone();
    to_ref(ctx, wasm, cx, value, &element)
}

fn range_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    store::throw(ctx, "RangeError", message)
}

fn register_global<'js>(ops: &Ops<'js>) -> rquickjs::Result<()> {
    ops.add(
        "wasmGlobalNew",
        |ctx: Ctx<'js>, ty: String, mutable: bool, value: Value<'js>| {
            let content = value_type(&ctx, &ty)?;
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                count_host(&ctx, cx.data().globals.len(), store::MAX_GLOBALS)?;
                let value = to_wasm(&ctx, &wasm, cx, value, &content)?;
                let mutability = if mutable {
                    Mutability::Var
                } else {
                    Mutability::Const
                };
                let global = Global::new(&mut *cx, GlobalType::new(content, mutability), value)
                    .map_err(|error| store::thrown(&ctx, cx, error, "TypeError"))?;
                cx.data_mut().globals.push(global);
                Ok(cx.data().globals.len() - 1)
            })
        },
    )?;
    ops.add("wasmGlobalType", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            let ty = item(&ctx, &cx.data().globals, index, "global")?.ty(&*cx);
            let described = Array::new(ctx.clone())?;
            described.set(0, type_name(ty.content()))?;
            described.set(1, ty.mutability() == Mutability::Var)?;
            Ok(described)
        })
    })?;
    ops.add("wasmGlobalGet", |ctx: Ctx<'js>, index: usize| {
        let wasm = WasmIsolate::of(&ctx)?;
        wasm.with_store(&ctx, |cx| {
            let value = item(&ctx, &cx.data().globals, index, "global")?.get(&mut *cx);
            to_js(&ctx, &wasm, cx, &value)
        })
    })?;
    ops.add(
        "wasmGlobalSet",
        |ctx: Ctx<'js>, index: usize, value: Value<'js>| {
            let wasm = WasmIsolate::of(&ctx)?;
            wasm.with_store(&ctx, |cx| {
                let global = item(&ctx, &cx.data().globals, index, "global")?;
                let content = global.ty(&*cx).content().clone();
                let value = to_wasm(&ctx, &wasm, cx, value, &content)?;
                global
                    .set(&mut *cx, value)
                    .map_err(|error| store::thrown(&ctx, cx, error, "TypeError"))
            })
        },
    )
}
