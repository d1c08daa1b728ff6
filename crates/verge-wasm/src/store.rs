//! One isolate's WebAssembly: the wasmtime `Store` that holds every instance, memory, table and
//! global its scripts made, the JavaScript values Wasm holds (imported functions, externrefs),
//! and how calls cross between the two engines in both directions.
//!
//! The store lives in the isolate's host state and is made on first use. JavaScript enters it
//! through [`WasmIsolate::with_store`]; Wasm calls JavaScript back (an imported function) from
//! inside a wasmtime call, where only that call's `Caller` may touch the store, so a callback
//! lends its caller ([`WasmIsolate::lend`]) to whatever JavaScript it runs. Limits reach into
//! Wasm here too: the epoch callback checks the isolate's CPU deadline, and the resource limiter
//! counts memories and tables against the isolate's memory limit (`verge_js::reserve_memory`)
//! and bounds how many of each an isolate holds.
//!
//! This module holds the crate's `unsafe` but one (reading kept machine code, in `engine`): the
//! context pointer callbacks re-enter JavaScript with, the lent store contexts, `ArrayBuffer`s
//! over memories, and the unchecked call ([`call`]). Each use says why it is sound.
#![allow(unsafe_code)]

use crate::engine::{self, Compiled};
use rquickjs::{qjs, ArrayBuffer, ArrayBufferSource, Ctx, Function, Persistent, Symbol, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use verge_js::{rquickjs, IsolateHandle};
use wasmtime::{
    AsContextMut, Func, Memory, ResourceLimiter, RootScope, Store, StoreContextMut, Trap,
    UpdateDeadline, Val, ValRaw, ValType,
};

/// Elements a table may grow to: far beyond any real module's, short of exhausting the host.
const MAX_TABLE_ELEMENTS: usize = 10_000_000;

/// Instances, memories and tables one isolate may make, its own and its modules' together:
/// each memory reserves 4 GiB of address space (memories never move), so their number is
/// bounded here rather than by bytes. A worker that instantiates per request reaches these
/// and has its isolate replaced, as one that allocates without end does.
pub(crate) const MAX_INSTANCES: usize = 1_000;
pub(crate) const MAX_MEMORIES: usize = 16;
pub(crate) const MAX_TABLES: usize = 1_000;
/// Globals a script may make itself: small each, but not without end.
pub(crate) const MAX_GLOBALS: usize = 100_000;

/// The store's data: what Wasm's callbacks need, and the host objects JavaScript refers to by
/// index (the `#id` of a `WebAssembly.Memory`, …).
pub(crate) struct State {
    /// The isolate's one context, which callbacks re-enter JavaScript with (see [`State::ctx`]).
    context: NonNull<qjs::JSContext>,
    isolate: IsolateHandle,
    pub(crate) modules: Vec<Arc<Compiled>>,
    pub(crate) memories: Vec<Memory>,
    /// The `ArrayBuffer` each memory's `buffer` gives now, by memory index, with the size it
    /// was made for: detached when the memory grows (see [`sync_buffers`]).
    pub(crate) buffers: Vec<Option<(Persistent<ArrayBuffer<'static>>, usize)>>,
    /// Shared memories (`shared: true`); see [`SharedMemory`].
    pub(crate) shared: Vec<SharedMemory>,
    pub(crate) tables: Vec<wasmtime::Table>,
    pub(crate) globals: Vec<wasmtime::Global>,
    /// Exported functions by index: what a JavaScript function made for one refers to.
    pub(crate) funcs: Vec<wasmtime::Func>,
    /// The JavaScript function made for each exported function, by its `Func::to_raw` address,
    /// so that a function reads as the same object however it is reached.
    pub(crate) functions: HashMap<usize, Persistent<Function<'static>>>,
    /// JavaScript functions imported by instances, by the index their host function calls.
    pub(crate) imports: Vec<Persistent<Function<'static>>>,
    /// JavaScript values held by Wasm as externrefs, by slot; see [`JsRef`].
    pub(crate) refs: Vec<Option<Persistent<Value<'static>>>>,
    pub(crate) free_refs: Vec<u32>,
    pub(crate) dropped_refs: Arc<Mutex<Vec<u32>>>,
    /// What JavaScript threw inside a callback, to be thrown again where Wasm was entered.
    pub(crate) pending: Option<Persistent<Value<'static>>>,
    pub(crate) limiter: MemoryLimiter,
}

impl State {
    /// The isolate's context, for code that wasmtime calls back (imported functions) to reach
    /// JavaScript with.
    pub(crate) fn ctx<'js>(&self) -> Ctx<'js> {
        context(self.context)
    }
}

/// The `Ctx` of `context`, the isolate's one context.
fn context<'js>(context: NonNull<qjs::JSContext>) -> Ctx<'js> {
    // SAFETY: the store is driven only from inside the isolate (ops, on its thread, within
    // `Context::with`), so whenever wasmtime calls back, the context is alive and its runtime
    // locked by this thread; the `Ctx` made here lives no longer than the callback.
    unsafe { Ctx::from_raw(context) }
}

/// Counts the store's memories against the isolate's memory limit.
pub(crate) struct MemoryLimiter {
    context: NonNull<qjs::JSContext>,
    /// Set when memory was refused, so that the failure reads as a RangeError saying so.
    pub(crate) refused: bool,
}

// SAFETY: wasmtime asks a limiter to be `Send` for stores that move between threads; this one's
// store never does (its data holds `Rc`s, so `Store<State>` is not `Send`).
unsafe impl Send for MemoryLimiter {}

/// The host data of an externref: the slot of its JavaScript value in [`State::refs`], given
/// back when wasmtime collects the reference.
pub(crate) struct JsRef {
    pub(crate) slot: u32,
    dropped: Arc<Mutex<Vec<u32>>>,
}

impl JsRef {
    pub(crate) fn new(slot: u32, state: &State) -> Self {
        Self {
            slot,
            dropped: state.dropped_refs.clone(),
        }
    }
}

impl Drop for JsRef {
    fn drop(&mut self) {
        self.dropped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(self.slot);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Past its own maximum the grow fails anyway: nothing is counted for it.
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        Ok(self.reserve(desired.saturating_sub(current)))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        let elements = desired.saturating_sub(current);
        Ok(self.reserve(elements.saturating_mul(std::mem::size_of::<usize>())))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

impl MemoryLimiter {
    /// Counts `bytes` against the isolate's memory limit, remembering a refusal.
    fn reserve(&mut self, bytes: usize) -> bool {
        let granted = verge_js::reserve_memory(&context(self.context), bytes);
        self.refused |= !granted;
        granted
    }
}

/// A store's context, lent by a callback while it runs JavaScript; see [`WasmIsolate::lend`].
type Lent = NonNull<StoreContextMut<'static, State>>;

/// Puts a lent context back where it was, however the scope is left (a panic unwinding
/// through JavaScript included): no pointer to a callback's frame outlives the callback.
struct Restore<'a> {
    slot: &'a Cell<Option<Lent>>,
    lent: Option<Lent>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.slot.set(self.lent);
    }
}

/// An isolate's WebAssembly, in its host state.
pub(crate) struct WasmIsolate {
    store: RefCell<Store<State>>,
    /// The store context lent by the callback now running JavaScript, while no one uses it:
    /// [`WasmIsolate::with_store`] takes it while it does. (A callback runs inside a call that
    /// took the one lent before it, so there is never more than one.)
    lent: Cell<Option<Lent>>,
    /// The key under which a function made for an exported function keeps its index.
    pub(crate) function_key: Persistent<Symbol<'static>>,
}

impl WasmIsolate {
    /// The isolate's WebAssembly, made on first use.
    pub(crate) fn of(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<Self>> {
        if let Some(wasm) = verge_js::with_host_state(ctx, |wasm: &Rc<Self>| wasm.clone()) {
            return Ok(wasm);
        }
        let engine = engine::engine().map_err(|why| {
            rquickjs::Exception::throw_internal(ctx, &format!("WebAssembly is unavailable: {why}"))
        })?;
        let state = State {
            context: ctx.as_raw(),
            isolate: IsolateHandle::of(ctx)?,
            modules: Vec::new(),
            memories: Vec::new(),
            buffers: Vec::new(),
            shared: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            funcs: Vec::new(),
            functions: HashMap::new(),
            imports: Vec::new(),
            refs: Vec::new(),
            free_refs: Vec::new(),
            dropped_refs: Arc::default(),
            pending: None,
            limiter: MemoryLimiter {
                context: ctx.as_raw(),
                refused: false,
            },
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|cx| {
            if cx.data().isolate.past_deadline() {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let function_key = Symbol::with_description(ctx.clone(), "verge.wasm.function")?;
        let wasm = Rc::new(Self {
            store: RefCell::new(store),
            lent: Cell::default(),
            function_key: Persistent::save(ctx, function_key),
        });
        verge_js::store_host_state(ctx, wasm.clone())?;
        Ok(wasm)
    }

    /// Runs `f` with the store: the context lent by the innermost callback running JavaScript,
    /// or else the store itself, entered afresh with a new epoch deadline and a scope that
    /// frees the GC roots `f` makes. An error if the store is in use outside any callback (a
    /// `valueOf` run while converting arguments that calls Wasm again).
    pub(crate) fn with_store<R>(
        &self,
        ctx: &Ctx<'_>,
        f: impl FnOnce(&mut StoreContextMut<'_, State>) -> rquickjs::Result<R>,
    ) -> rquickjs::Result<R> {
        if let Some(mut lent) = self.lent.take() {
            let _restore = Restore {
                slot: &self.lent,
                lent: Some(lent),
            };
            // SAFETY: a lent context points at a callback's `StoreContextMut`, alive while the
            // callback runs JavaScript (`lend` takes it back before returning); it was taken, so
            // nothing else uses it until `f` is done and it is put back.
            let cx = unsafe { lent.as_mut() };
            return f(cx);
        }
        let Ok(mut store) = self.store.try_borrow_mut() else {
            return Err(rquickjs::Exception::throw_type(
                ctx,
                "WebAssembly was re-entered while converting arguments for it",
            ));
        };
        store.set_epoch_deadline(1);
        store.data_mut().limiter.refused = false;
        let mut scope = RootScope::new(&mut *store);
        f(&mut scope.as_context_mut())
    }

    /// Runs `f`, JavaScript called from Wasm, with `cx` lent to any Wasm it calls in turn.
    pub(crate) fn lend<R>(&self, cx: &mut StoreContextMut<'_, State>, f: impl FnOnce() -> R) -> R {
        let lent: Lent = NonNull::from(cx).cast();
        let _restore = Restore {
            slot: &self.lent,
            lent: self.lent.replace(Some(lent)),
        };
        f()
    }
}

/// A shared `WebAssembly.Memory`: bytes for its maximum, of which its SharedArrayBuffers see
/// the pages it has grown to. The threads proposal is off (wasmtime's shared memories are
/// tier 2, without security fixes), so no module can import one: it is JavaScript's alone.
pub(crate) struct SharedMemory {
    bytes: Rc<SharedBytes>,
    pub(crate) pages: usize,
    pub(crate) maximum: usize,
    /// The buffer given last, and its length.
    buffer: Option<(Persistent<ArrayBuffer<'static>>, usize)>,
}

impl SharedMemory {
    pub(crate) fn new(pages: usize, maximum: usize) -> Self {
        Self {
            bytes: Rc::new(SharedBytes::zeroed(maximum.saturating_mul(PAGE))),
            pages,
            maximum,
            buffer: None,
        }
    }
}

/// A Wasm page.
pub(crate) const PAGE: usize = 64 * 1024;

/// Zeroed bytes that several SharedArrayBuffers view, freed when the last lets go.
struct SharedBytes {
    start: NonNull<u8>,
    len: usize,
}

impl SharedBytes {
    fn zeroed(len: usize) -> Self {
        // `vec!` of zeroes is `calloc`: the pages cost nothing until written.
        let bytes: Box<[u8]> = vec![0; len].into_boxed_slice();
        let start = NonNull::from(Box::leak(bytes)).cast::<u8>();
        Self { start, len }
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        let bytes = std::ptr::slice_from_raw_parts_mut(self.start.as_ptr(), self.len);
        // SAFETY: `start` and `len` are the boxed slice leaked in `zeroed`, freed only here.
        drop(unsafe { Box::from_raw(bytes) });
    }
}

/// The bytes of a memory as an `ArrayBuffer` sees them.
struct MemoryView {
    start: *mut u8,
    len: usize,
    /// A shared memory's bytes live as long as any buffer over them: each holds them.
    _shared: Option<Rc<SharedBytes>>,
}

// SAFETY: memories never move (`Config::memory_may_move(false)`) and live in the store until the
// isolate's runtime frees its userdata, after its context is gone and so after the last
// JavaScript that could read the buffer; a shared memory's bytes, as long as a buffer holds
// them. A buffer over a memory that grows is detached (`sync_buffers`) before JavaScript runs
// again; its old bytes stay valid in any case.
unsafe impl ArrayBufferSource for MemoryView {
    fn as_ptr(&self) -> *mut u8 {
        self.start
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// The `ArrayBuffer` over memory `index` as it is now: the one given before unless the memory
/// grew since (when that one is detached) or a script detached it, when a new one is made.
pub(crate) fn memory_buffer<'js>(
    ctx: &Ctx<'js>,
    cx: &mut StoreContextMut<'_, State>,
    index: usize,
) -> rquickjs::Result<ArrayBuffer<'js>> {
    sync_buffers(ctx, cx)?;
    let Some(memory) = cx.data().memories.get(index).copied() else {
        return Err(rquickjs::Exception::throw_type(
            ctx,
            "not a WebAssembly.Memory",
        ));
    };
    if let Some(Some((buffer, _))) = cx.data().buffers.get(index) {
        let buffer = buffer.clone().restore(ctx)?;
        if !is_detached(ctx, &buffer) {
            return Ok(buffer);
        }
    }
    let len = memory.data_size(&*cx);
    let view = MemoryView {
        start: memory.data_ptr(&*cx),
        len,
        _shared: None,
    };
    let buffer = ArrayBuffer::from_source(ctx.clone(), view)?;
    let buffers = &mut cx.data_mut().buffers;
    if buffers.len() <= index {
        buffers.resize_with(index + 1, || None);
    }
    buffers[index] = Some((Persistent::save(ctx, buffer.clone()), len));
    Ok(buffer)
}

/// The SharedArrayBuffer over `memory` as it is now: the one given before unless the memory
/// grew since (a shared buffer is never detached: the old one keeps its length).
pub(crate) fn shared_buffer<'js>(
    ctx: &Ctx<'js>,
    memory: &mut SharedMemory,
) -> rquickjs::Result<ArrayBuffer<'js>> {
    let len = memory.pages * PAGE;
    if let Some((buffer, given)) = &memory.buffer {
        if *given == len {
            return buffer.clone().restore(ctx);
        }
    }
    let view = MemoryView {
        start: memory.bytes.start.as_ptr(),
        len,
        _shared: Some(memory.bytes.clone()),
    };
    let buffer = ArrayBuffer::from_source_shared(ctx.clone(), view)?;
    memory.buffer = Some((Persistent::save(ctx, buffer.clone()), len));
    Ok(buffer)
}

/// Detaches the buffer of every memory that grew since it was made, as the JavaScript API asks
/// (and as wasm-bindgen's glue expects, to know when to look again): run whenever control comes
/// back to JavaScript from Wasm that may have grown one, so it compares sizes only, touching
/// JavaScript for a memory that grew.
pub(crate) fn sync_buffers(
    ctx: &Ctx<'_>,
    cx: &mut StoreContextMut<'_, State>,
) -> rquickjs::Result<()> {
    for index in 0..cx.data().buffers.len() {
        let Some((_, made_for)) = &cx.data().buffers[index] else {
            continue;
        };
        if *made_for == cx.data().memories[index].data_size(&*cx) {
            continue;
        }
        if let Some((buffer, _)) = cx.data_mut().buffers[index].take() {
            let mut buffer = buffer.restore(ctx)?;
            if !is_detached(ctx, &buffer) {
                buffer.detach();
            }
        }
    }
    Ok(())
}

/// Whether a script detached `buffer` (`transfer()`), when its memory needs a new one.
fn is_detached(ctx: &Ctx<'_>, buffer: &ArrayBuffer<'_>) -> bool {
    let detached = buffer.as_raw().is_none();
    if detached {
        // Reading a detached buffer left a TypeError pending: it is no one's.
        let _ = ctx.catch();
    }
    detached
}

/// Detaches the buffer of memory `index`, which JavaScript grew.
pub(crate) fn detach_buffer(
    ctx: &Ctx<'_>,
    cx: &mut StoreContextMut<'_, State>,
    index: usize,
) -> rquickjs::Result<()> {
    if let Some((buffer, _)) = cx.data_mut().buffers.get_mut(index).and_then(Option::take) {
        buffer.restore(ctx)?.detach();
    }
    Ok(())
}

/// `error` from a call into Wasm as JavaScript sees it: what JavaScript threw in a callback,
/// thrown again; the CPU deadline as the engine's own interrupt; a trap as a `RuntimeError`;
/// the memory limit or the counts refusing an instance, memory or table as the engine's own
/// out-of-memory error, which ends the entry and has the isolate replaced (a worker that
/// instantiates per request keeps serving, from a fresh isolate each time it reaches them).
pub(crate) fn thrown(
    ctx: &Ctx<'_>,
    cx: &mut StoreContextMut<'_, State>,
    error: wasmtime::Error,
    otherwise: &str,
) -> rquickjs::Error {
    if let Some(pending) = cx.data_mut().pending.take() {
        return match pending.restore(ctx) {
            Ok(value) => ctx.throw(value),
            Err(error) => error,
        };
    }
    let exhausted = std::mem::take(&mut cx.data_mut().limiter.refused)
        // wasmtime's own words when an instance would pass the limiter's counts.
        || format!("{error:#}").contains("resource limit exceeded");
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => verge_js::interrupted(ctx),
        Some(trap) => throw(ctx, "RuntimeError", &trap.to_string()),
        None if exhausted => verge_js::out_of_memory(ctx),
        None => throw(ctx, otherwise, &format!("{error:#}")),
    }
}

/// Keeps what JavaScript threw inside a callback (`error`) for [`thrown`] to throw again where
/// Wasm was entered, and returns the error that unwinds Wasm to there.
pub(crate) fn stash(ctx: &Ctx<'_>, state: &mut State, error: rquickjs::Error) -> wasmtime::Error {
    let value = match error {
        rquickjs::Error::Exception => ctx.catch(),
        other => {
            let _ = rquickjs::Exception::throw_type(ctx, &other.to_string());
            ctx.catch()
        }
    };
    state.pending = Some(Persistent::save(ctx, value));
    wasmtime::Error::msg("JavaScript threw inside a WebAssembly import")
}

/// Throws the error `kind` (`RuntimeError`, `LinkError`, `CompileError`, or an ECMAScript
/// error's name) with `message`, made by the API's file.
pub(crate) fn throw(ctx: &Ctx<'_>, kind: &str, message: &str) -> rquickjs::Error {
    let made = verge_web::internals(ctx)
        .and_then(|internals| internals.get::<_, Function>("wasmError"))
        .and_then(|make| make.call::<_, Value>((kind, message)));
    match made {
        Ok(error) => ctx.throw(error),
        Err(error) => error,
    }
}

/// Calls `func`, one of this store's, with `params` converted to its parameter types, and gives
/// its results, of the types `results`: wasmtime's unchecked call, which skips reading the
/// function's type from the engine's registry on every call to check what the conversion
/// already made sure of.
pub(crate) fn call(
    cx: &mut StoreContextMut<'_, State>,
    func: Func,
    params: &[Val],
    results: &[ValType],
) -> wasmtime::Result<Vec<Val>> {
    let mut raw = Vec::with_capacity(params.len().max(results.len()));
    for param in params {
        raw.push(param.to_raw(&mut *cx)?);
    }
    raw.resize(params.len().max(results.len()), ValRaw::i32(0));
    // SAFETY: `func` is this store's (exported functions are made per store, and JavaScript
    // cannot carry one to another isolate); `params` are of its parameter types, in order
    // (`values::call_exported` converts by the signature read from `func`), and stay rooted in
    // `params` during the call; `raw` has room for every parameter and result.
    unsafe { func.call_unchecked(&mut *cx, raw.as_mut_slice() as *mut [ValRaw])? };
    Ok(results
        .iter()
        .zip(raw)
        // SAFETY: the call wrote a value of each result type, in order, in this store.
        .map(|(ty, raw)| unsafe { Val::from_raw(&mut *cx, raw, ty.clone()) })
        .collect())
}
