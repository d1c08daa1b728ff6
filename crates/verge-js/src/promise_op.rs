//! Native operations that return a promise: the Rust future runs as a local task, and when it
//! completes the isolate is re-entered to settle the promise.
//!
//! The promise's resolving functions stay in the isolate's userdata, keyed by an id; the task
//! holds only the id and a weak handle. Dropping the isolate drops the table, which aborts every
//! pending task, so no JavaScript value outlives its runtime.

use crate::{host_state, IdTable, IsolateHandle, JsError};
use rquickjs::{Ctx, Exception, Function, Persistent, Promise, Value};
use std::future::Future;
use tokio::task::AbortHandle;

struct Pending {
    resolve: Persistent<Function<'static>>,
    reject: Persistent<Function<'static>>,
    task: Option<AbortHandle>,
}

/// Dropping a pending op (with its isolate) aborts the task that would settle it.
impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

type PendingOps = IdTable<Pending>;

/// How a failed op rejects its promise: the JavaScript error class and message.
#[derive(Debug, Clone)]
pub enum OpError {
    Type(String),
    Range(String),
    /// A `DOMException` with the given name (`AbortError`, `TimeoutError`…).
    Dom {
        name: &'static str,
        message: String,
    },
    Error(String),
}

impl OpError {
    /// The JavaScript value this error rejects with.
    pub fn into_value<'js>(self, ctx: &Ctx<'js>) -> Value<'js> {
        let _ = match self {
            OpError::Type(message) => Exception::throw_type(ctx, &message),
            OpError::Range(message) => Exception::throw_range(ctx, &message),
            OpError::Dom { name, message } => Exception::throw_dom(ctx, name, &message),
            OpError::Error(message) => Exception::throw_message(ctx, &message),
        };
        ctx.catch()
    }
}

/// The error as a script sees it thrown, for an engine that makes it from class name and
/// message (a `DOMException`'s name stands for its class).
impl From<OpError> for JsError {
    fn from(error: OpError) -> Self {
        match error {
            OpError::Type(message) => JsError::thrown("TypeError", message),
            OpError::Range(message) => JsError::thrown("RangeError", message),
            OpError::Dom { name, message } => JsError::thrown(name, message),
            OpError::Error(message) => JsError::thrown("Error", message),
        }
    }
}

/// Starts `future` and returns a promise settled with its output, converted by `convert` inside
/// the isolate. Must be called inside a `LocalSet`.
pub fn spawn_promise<'js, T, F, C>(
    ctx: &Ctx<'js>,
    future: F,
    convert: C,
) -> rquickjs::Result<Promise<'js>>
where
    T: 'static,
    F: Future<Output = Result<T, OpError>> + 'static,
    C: for<'a> FnOnce(&Ctx<'a>, T) -> rquickjs::Result<Value<'a>> + 'static,
{
    let isolate = IsolateHandle::of(ctx)?;
    if host_state::with(ctx, |_: &PendingOps| ()).is_none() {
        host_state::store(ctx, PendingOps::default())?;
    }
    let (promise, resolve, reject) = ctx.promise()?;
    let pending = Pending {
        resolve: Persistent::save(ctx, resolve),
        reject: Persistent::save(ctx, reject),
        task: None,
    };
    let id = host_state::with(ctx, |ops: &PendingOps| ops.insert(pending)).unwrap_or_default();
    let tag = isolate.current_tag();
    let task = tokio::task::spawn_local(async move {
        let output = future.await;
        let settled = isolate.enter_as(tag, |ctx| {
            let Some(mut pending) =
                host_state::with(ctx, |ops: &PendingOps| ops.remove(id)).flatten()
            else {
                return Ok(());
            };
            // This task is the one settling it: nothing to abort.
            pending.task = None;
            match output.map(|value| convert(ctx, value)) {
                Ok(Ok(value)) => pending
                    .resolve
                    .clone()
                    .restore(ctx)?
                    .call::<_, ()>((value,)),
                Ok(Err(error)) => {
                    let reason = match error {
                        rquickjs::Error::Exception => ctx.catch(),
                        other => OpError::Error(other.to_string()).into_value(ctx),
                    };
                    pending
                        .reject
                        .clone()
                        .restore(ctx)?
                        .call::<_, ()>((reason,))
                }
                Err(error) => pending
                    .reject
                    .clone()
                    .restore(ctx)?
                    .call::<_, ()>((error.into_value(ctx),)),
            }
        });
        if let Some(Err(error)) = settled {
            tracing::error!(target: "verge::js", "settling a promise failed: {error}");
        }
    });
    host_state::with(ctx, |ops: &PendingOps| {
        ops.with(id, |pending| pending.task = Some(task.abort_handle()))
    });
    Ok(promise)
}
