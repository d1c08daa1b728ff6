//! `JSON.parse` and `JSON.stringify` in native code, installed over QuickJS's own in every
//! isolate.
//!
//! QuickJS's JSON is general rather than fast: `stringify` makes a JavaScript array of every
//! object's keys, a string of every array index and a quoted copy of every string before
//! concatenating it, and spends ~30 ns a byte of output; JSON is most of what CPU-bound workers
//! do. These walk the same values through the same engine calls (`[[OwnPropertyKeys]]`, `Get`,
//! `toJSON`, proxies' traps, in the order the specification gives) into one Rust buffer, and
//! parse straight into objects and fast arrays. What the fast path leaves to the engine is
//! delegated whole, before anything observable happens: a `replacer` function or array and a
//! Number or String object as `space` to `stringify`, a `reviver` to `parse`.
//!
//! Both run native code on the isolate's behalf, so both observe its limits: the CPU deadline
//! (checked every few thousand values), the memory limit (what they hold outside the heap — the
//! output, parsed elements — may not outgrow it) and a bound on nesting (a RangeError, as deep
//! recursion in JavaScript gives).

#![allow(unsafe_code)]

mod parse;
mod stringify;

use crate::{host_state, IsolateCore};
use rquickjs::function::Rest;
use rquickjs::{qjs, Ctx, Function, Object, Persistent, Value};
use std::rc::Rc;

/// Arrays and objects one value may nest: beyond, a RangeError, as V8's stack gives. Both walks
/// keep open containers on the heap, not the native stack. (QuickJS's own stop near 10,000 when
/// parsing, 4,000 when serializing.)
const MAX_NESTING: usize = 100_000;

/// Keys a walk keeps ready (quoted, or as atoms) and reuses: objects of one shape repeat theirs.
const KEY_CACHE: usize = 1024;

/// Values handled between looks at the CPU deadline.
const DEADLINE_EVERY: u32 = 4096;

/// Replaces `JSON.parse` and `JSON.stringify` in the context of `ctx` with the native ones,
/// which keep the originals for the arguments they delegate.
pub(crate) fn install<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
    let json: Object = ctx.globals().get("JSON")?;
    let boolean: Object = ctx.globals().get("Boolean")?;
    let boolean: Object = boolean.get("prototype")?;
    host_state::store(
        ctx,
        Originals {
            stringify: Persistent::save(ctx, json.get::<_, Function>("stringify")?),
            parse: Persistent::save(ctx, json.get::<_, Function>("parse")?),
            boolean_value: Persistent::save(ctx, boolean.get::<_, Function>("valueOf")?),
        },
    )?;
    // The closures hold no JavaScript value: the collector cannot see into them, so one would
    // keep the whole heap alive past the isolate.
    let classes = stringify::Classes::of(ctx)?;
    let stringify = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        // A replacer that is no object is ignored, as the spec says; any object (a function, an
        // array, or one the spec would ignore) goes to the engine's own.
        let replacer = args.0.get(1).is_some_and(Value::is_object);
        let gap = args.0.get(2).map_or(Some(Vec::new()), stringify::gap);
        match (args.0.first(), gap) {
            (Some(value), Some(gap)) if !replacer => {
                stringify::stringify(&ctx, value, classes, gap)
            }
            _ => original(&ctx, |originals| &originals.stringify)?.call((Rest(args.0),)),
        }
    })?
    .with_name("stringify")?;
    stringify.set_length(3)?;
    json.set("stringify", stringify)?;

    let parse = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, args: Rest<Value<'js>>| match args.0.as_slice() {
            [text] => parse::parse(&ctx, text),
            [text, reviver] if !reviver.is_function() => parse::parse(&ctx, text),
            _ => original(&ctx, |originals| &originals.parse)?.call((Rest(args.0),)),
        },
    )?
    .with_name("parse")?;
    parse.set_length(2)?;
    json.set("parse", parse)
}

/// The engine's own functions the native ones fall back on, kept in the isolate's host state,
/// which is released before its heap.
struct Originals {
    stringify: Persistent<Function<'static>>,
    parse: Persistent<Function<'static>>,
    /// `Boolean.prototype.valueOf`: a Boolean object's value, which no C call reads.
    boolean_value: Persistent<Function<'static>>,
}

/// One of the [`Originals`] of the isolate of `ctx`.
fn original<'js>(
    ctx: &Ctx<'js>,
    pick: impl FnOnce(&Originals) -> &Persistent<Function<'static>>,
) -> rquickjs::Result<Function<'js>> {
    match host_state::with(ctx, |originals: &Originals| pick(originals).clone()) {
        Some(function) => function.restore(ctx),
        None => Err(rquickjs::Exception::throw_internal(
            ctx,
            "JSON is not installed",
        )),
    }
}

/// The RangeError of nesting past [`MAX_NESTING`], as V8's stack gives.
fn too_deep(ctx: &Ctx<'_>) -> rquickjs::Error {
    rquickjs::Exception::throw_range(ctx, "Maximum call stack size exceeded")
}

/// What a native walk needs of its isolate: when to stop, and how far it may go.
struct Budget {
    core: Option<Rc<IsolateCore>>,
    ticks: u32,
}

impl Budget {
    fn new(ctx: &Ctx<'_>) -> Self {
        Self {
            core: crate::budget::core_of(ctx),
            ticks: 0,
        }
    }

    /// Bytes a walk may hold outside the heap: the isolate's memory limit, less what is counted
    /// against it outside the heap already. (What the heap holds is not known cheaply; the
    /// result, made in the heap, fails there if it does not fit.)
    fn memory_limit(&self) -> usize {
        self.core.as_ref().map_or(usize::MAX, |core| {
            core.memory_limit
                .get()
                .saturating_sub(core.external_memory.get())
        })
    }

    /// Counts one value; the engine's uncatchable interrupt error once the entry is past its
    /// CPU deadline.
    #[inline]
    fn step(&mut self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(DEADLINE_EVERY)
            && self.core.as_ref().is_some_and(|core| core.past_deadline())
        {
            return Err(crate::interrupted(ctx));
        }
        Ok(())
    }
}

/// A value this module holds a reference to, released when it goes.
struct Owned {
    ctx: *mut qjs::JSContext,
    value: qjs::JSValue,
}

impl Owned {
    /// Takes `value`, returned by an engine call that hands over a reference: the pending
    /// exception if the call failed.
    ///
    /// # Safety
    /// `ctx` is live and `value` carries a reference the caller gives up.
    unsafe fn new(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> rquickjs::Result<Self> {
        if qjs::JS_IsException(value) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Self { ctx, value })
    }

    /// Gives the reference up to the caller.
    fn into_raw(self) -> qjs::JSValue {
        let value = self.value;
        std::mem::forget(self);
        value
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `new` took a reference to `value` in the live context `ctx`; this releases it.
        unsafe { qjs::JS_FreeValue(self.ctx, self.value) }
    }
}

/// The UTF-8 bytes of a string value (WTF-8: a lone surrogate as its 3-byte sequence), valid
/// until dropped. ASCII strings are read in place.
struct StringBytes {
    ctx: *mut qjs::JSContext,
    ptr: *const std::ffi::c_char,
    len: usize,
}

impl StringBytes {
    /// The name of `atom`.
    ///
    /// # Safety
    /// `ctx` is live and `atom` an atom of it.
    unsafe fn of_atom(ctx: *mut qjs::JSContext, atom: qjs::JSAtom) -> rquickjs::Result<Self> {
        let mut len = 0;
        let ptr = qjs::JS_AtomToCStringLen(ctx, &mut len, atom);
        Self::taken(ctx, ptr, len as usize)
    }

    /// The bytes of `value`, a string.
    ///
    /// # Safety
    /// `ctx` is live and `value` a string of it.
    unsafe fn of(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> rquickjs::Result<Self> {
        let mut len = 0;
        let ptr = qjs::JS_ToCStringLen2(ctx, &mut len, value, false);
        Self::taken(ctx, ptr, len as usize)
    }

    /// What the engine returned: the pending exception if `ptr` is null.
    ///
    /// # Safety
    /// `ptr` is null or `len` bytes from `ctx` that `JS_FreeCString` releases.
    unsafe fn taken(
        ctx: *mut qjs::JSContext,
        ptr: *const std::ffi::c_char,
        len: usize,
    ) -> rquickjs::Result<Self> {
        if ptr.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Self { ctx, ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the engine returned `len` bytes at `ptr`, kept until `JS_FreeCString`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for StringBytes {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `JS_ToCStringLen2` in the live context `ctx`.
        unsafe { qjs::JS_FreeCString(self.ctx, self.ptr) }
    }
}
