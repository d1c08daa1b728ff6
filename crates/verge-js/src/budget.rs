//! The isolate's limits as native code that runs on its behalf sees them: WebAssembly, which
//! QuickJS's interrupt handler and allocator never see, checks the CPU deadline here and has its
//! memory counted here against the same limit as the heap.

use crate::{host_state, IsolateCore, ThisIsolate, INTERRUPTED};
use rquickjs::{qjs, Ctx};
use std::rc::Rc;

fn core_of(ctx: &Ctx<'_>) -> Option<Rc<IsolateCore>> {
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
    let error = rquickjs::Exception::from_message(ctx.clone(), INTERRUPTED).and_then(|error| {
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
/// lowers the heap's own limit by as much; false, counting nothing, if the heap in use and the
/// memory already counted leave no room for them.
pub fn reserve_memory(ctx: &Ctx<'_>, bytes: usize) -> bool {
    let Some(core) = core_of(ctx) else {
        return false;
    };
    #[allow(unsafe_code)]
    // SAFETY: `ctx` is a live context, so its runtime is; these calls neither run JavaScript nor
    // take the runtime's lock, which the caller, inside the isolate, holds already.
    unsafe {
        let runtime = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        let mut usage = std::mem::zeroed::<qjs::JSMemoryUsage>();
        qjs::JS_ComputeMemoryUsage(runtime, &mut usage);
        let heap = usize::try_from(usage.malloc_size).unwrap_or(usize::MAX);
        let limit = core.memory_limit.get();
        let external = core.external_memory.get();
        let used = heap.saturating_add(external);
        if used.saturating_add(bytes) > limit {
            return false;
        }
        let external = external + bytes;
        core.external_memory.set(external);
        qjs::JS_SetMemoryLimit(runtime, (limit - external) as _);
    }
    true
}
