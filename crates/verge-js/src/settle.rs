//! Waiting from Rust for a JavaScript promise to settle.

use crate::JsError;
use rquickjs::function::This;
use rquickjs::{qjs, Ctx, Function, Promise, Value};
use std::cell::RefCell;
use std::rc::Rc;
use tokio::sync::oneshot;

/// The outcome of a settled promise, converted to Rust while still inside the isolate.
pub type Settled<T> = oneshot::Receiver<Result<T, JsError>>;

/// Attaches handlers to `promise` and returns a receiver for its outcome. `convert` runs inside
/// the isolate on the fulfilled value; a rejection (or a failed conversion) arrives as a
/// [`JsError`]. If the isolate is dropped before the promise settles, the receiver reports that
/// its sender is gone.
pub fn settle<'js, T: 'static>(
    ctx: &Ctx<'js>,
    promise: Promise<'js>,
    convert: impl for<'a> FnOnce(&Ctx<'a>, Value<'a>) -> rquickjs::Result<T> + 'static,
) -> rquickjs::Result<Settled<T>> {
    let (sender, receiver) = oneshot::channel();
    let state = Rc::new(RefCell::new(Some((sender, convert))));
    let on_fulfilled = {
        let state = state.clone();
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, value: Value<'js>| {
            if let Some((sender, convert)) = state.borrow_mut().take() {
                let result = convert(&ctx, value).map_err(|e| JsError::from_rquickjs(&ctx, e));
                let _ = sender.send(result);
            }
        })?
    };
    let on_rejected = Function::new(ctx.clone(), move |ctx: Ctx<'js>, reason: Value<'js>| {
        if let Some((sender, _)) = state.borrow_mut().take() {
            let _ = sender.send(Err(JsError::from_value(&ctx, reason)));
        }
    })?;
    let then: Function = promise.get("then")?;
    then.call::<_, Value>((This(promise), on_fulfilled, on_rejected))?;
    Ok(receiver)
}

/// Like [`settle`] for what may be a promise or already the value: a value that is not a
/// promise is converted at once, sparing the handlers and the promise job.
pub fn settle_value<'js, T: 'static>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    convert: impl for<'a> FnOnce(&Ctx<'a>, Value<'a>) -> rquickjs::Result<T> + 'static,
) -> rquickjs::Result<Settled<T>> {
    match value.as_promise() {
        Some(promise) => settle(ctx, promise.clone(), convert),
        None => {
            let (sender, receiver) = oneshot::channel();
            let _ = sender.send(convert(ctx, value).map_err(|e| JsError::from_rquickjs(ctx, e)));
            Ok(receiver)
        }
    }
}

/// Whether promise jobs are waiting to run: while none is, what a fulfilled promise holds can be
/// read at once without changing what any script observes.
pub fn jobs_pending(ctx: &Ctx<'_>) -> bool {
    #[allow(unsafe_code)]
    // SAFETY: `ctx` is a live context, so its runtime is; the call only reads the job list of
    // the runtime whose lock the caller, inside the isolate, holds.
    unsafe {
        qjs::JS_IsJobPending(qjs::JS_GetRuntime(ctx.as_raw().as_ptr()))
    }
}
