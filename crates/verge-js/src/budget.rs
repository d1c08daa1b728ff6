//! The isolate's limits as native code that runs on its behalf sees them: WebAssembly, which
//! QuickJS's interrupt handler and allocator never see, checks the CPU deadline here and has its
//! memory counted here against the same limit as the heap.

use crate::{host_state, IsolateCore, ThisIsolate, INTERRUPTED, OUT_OF_MEMORY};
use rquickjs::{qjs, Ctx};
use std::rc::Rc;

pub(crate) fn core_of(ctx: &Ctx<'_>) -> Option<Rc<IsolateCore>> {
    host_state::with(ctx, |this: &ThisIsolate| this.0.core.upgrade()).flatten()
}

impl crate::IsolateHandle {
    /// Whether the entry now running has passed its CPU deadline. Once it has, the isolate
    /// counts the entry as interrupted, as when the interrupt handler stops JavaScript.
    pub fn past_deadline(&self) -> bool {
        self.core.upgrade().is_some_and(|core| core.past_deadline())
    }
}

/// The error that stops JavaScript at the CPU deadline: the engine's own uncatchable
/// `InternalError: interrupted`, so that native code stopped there ends the entry just as
/// JavaScript would.
pub fn interrupted(ctx: &Ctx<'_>) -> rquickjs::Error {
    engine_error(ctx, INTERRUPTED)
}

/// The error of an isolate out of memory: the engine's own uncatchable `InternalError: out of
/// memory`, for memory outside the heap that the limit refuses where the script cannot be told
/// by a return value, so that the entry ends, and the isolate is replaced, as when the heap is
/// full.
pub fn out_of_memory(ctx: &Ctx<'_>) -> rquickjs::Error {
    engine_error(ctx, OUT_OF_MEMORY)
}

fn engine_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    let error = rquickjs::Exception::from_message(ctx.clone(), message).and_then(|error| {
        error.set("name", "InternalError")?;
        Ok(error)
    });
    let Ok(error) = error else {
        return rquickjs::Error::Exception;
    };
    #[allow(unsafe_code)]
    // SAFETY: `error` is a live object of this context; the call only sets a flag on it.
    unsafe {
        qjs::JS_SetUncatchableError(ctx.as_raw().as_ptr(), error.as_raw());
    }
    ctx.throw(error.into_value())
}

/// Counts `bytes` more of memory outside the heap against the isolate's memory limit, and
/// lowers the heap's own limit by as much; false, counting nothing, if the memory already
/// counted leaves no room for them. (A heap already larger than its lowered limit fails its
/// next allocation, as after `Isolate::set_limits`.)
pub fn reserve_memory(ctx: &Ctx<'_>, bytes: usize) -> bool {
    let Some(core) = core_of(ctx) else {
        return false;
    };
    let limit = core.memory_limit.get();
    let external = core.external_memory.get().saturating_add(bytes);
    if external >= limit {
        return false;
    }
    core.external_memory.set(external);
    #[allow(unsafe_code)]
    // SAFETY: `ctx` is a live context, so its runtime is; these calls neither run JavaScript nor
    // take the runtime's lock, which the caller, inside the isolate, holds already.
    unsafe {
        let runtime = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        qjs::JS_SetMemoryLimit(runtime, (limit - external) as _);
    }
    true
}
