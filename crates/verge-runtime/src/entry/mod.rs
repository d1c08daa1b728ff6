//! A worker's entry points — `export default { fetch, scheduled }` or service-worker
//! `addEventListener`, with the `ExecutionContext` they get — and the protocol by which the host
//! runs them, both sides here: the JavaScript (`fetch_event.js`, `scheduled.js`,
//! `service_worker.js`) and the Rust that calls it and reads what it answers. Each name of the
//! protocol (`finishLoad`, `dispatchFetch`, `dispatchScheduled`, the outcome's fields) is
//! written once on each side.
//!
//! The callee's side of JS RPC and the Durable Object an isolate may hold are `rpc.js`'s (with
//! `exports`, the stubs of functions and `RpcTarget`s passed by reference); the
//! `cloudflare:workers` module is `cloudflare_workers.js`.
//!
//! Lifecycle: [`finish_load`] once per isolate, after the entry module has evaluated (and, in
//! a Durable Object's isolate, [`construct_object`]); then [`dispatch`] once per event, each answering an [`Outcome`] (and, when the handler called
//! `ctx.waitUntil`, a promise of that work).

pub mod exports;

use rquickjs::{Array, Ctx, Function, Object, Promise, Value};
use verge_js::{rquickjs, JsError, Settled};
use verge_web::{api, Api, HeaderList, Request, Response};

/// The entry points' files, after the Web platform's.
pub(crate) const APIS: &[Api] = &[
    api!("src/entry/fetch_event.js"),
    api!("src/entry/scheduled.js";
        globals ["ScheduledController"];
        internals ["dispatchScheduled"]),
    api!("src/entry/queue.js"; globals []; internals ["dispatchQueue"]),
    api!("src/entry/service_worker.js";
    globals [
        "FetchEvent", "ScheduledEvent", "QueueEvent", "addEventListener", "removeEventListener",
        "dispatchEvent",
    ];
    internals [
        "hasFetchListeners", "dispatchFetchEvent", "hasScheduledListeners",
        "dispatchScheduledEvent", "hasQueueListeners", "dispatchQueueEvent",
    ]),
    api!("src/entry/cloudflare_workers.js";
        globals [];
        internals ["cloudflare:workers", "WorkerEntrypoint", "DurableObject", "isRpcTarget"]),
    api!("src/entry/rpc.js", quickjs exports::register;
    globals [];
    internals [
        "constructObject", "dispatchCall", "dispatchAlarm", "dispatchSocket", "rpcSettle",
        "rpcStub", "isRpcStub", "exportForRpc", "importStub", "callExport",
    ]),
];

/// What became of one event.
#[derive(Debug)]
pub enum Outcome {
    Response(Response),
    /// The handler threw, rejected or returned something other than a Response.
    Exception {
        error: JsError,
        pass_through: bool,
    },
    /// The event ran past `limit` and was stopped; the message names it.
    LimitExceeded {
        limit: Limit,
        message: String,
    },
    /// A handler that answers nothing (`scheduled`) finished without throwing.
    Completed,
    /// An RPC call's reply: the structured serialization of `[true, result]`, or of
    /// `[false, error]` when the method threw (which the caller re-throws).
    Reply(String),
}

/// The limit an event ran past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Cpu,
    WallTime,
}

impl Outcome {
    /// A request stopped at its CPU time limit, `slice` if it is known.
    pub(crate) fn cpu_limit(slice: Option<std::time::Duration>) -> Self {
        let limit = match slice {
            Some(slice) => format!("its CPU time limit ({} ms)", slice.as_millis()),
            None => "its CPU time limit".to_owned(),
        };
        Outcome::LimitExceeded {
            limit: Limit::Cpu,
            message: format!("the worker exceeded {limit}"),
        }
    }

    /// A request that waited past the wall-time limit `bound` without a response.
    pub(crate) fn wall_time_limit(bound: std::time::Duration) -> Self {
        Outcome::LimitExceeded {
            limit: Limit::WallTime,
            message: format!(
                "the worker did not respond within its wall-time limit ({} ms)",
                bound.as_millis()
            ),
        }
    }

    /// Whether the event left its isolate unfit to serve on: stopped at a limit (jobs it queued
    /// may still be waiting to run), or out of memory. The host drops the isolate.
    pub fn ends_isolate(&self) -> bool {
        match self {
            Outcome::LimitExceeded { .. } => true,
            Outcome::Exception { error, .. } => error.is_out_of_memory(),
            _ => false,
        }
    }
}

/// An event for a worker's handlers.
pub(crate) enum Event {
    /// A request for `fetch`: the default export's, or that of the named `WorkerEntrypoint`.
    Fetch(Request, Option<String>),
    /// Cron trigger `cron` firing at `time_ms` (ms since the epoch), for `scheduled`.
    Scheduled { cron: String, time_ms: f64 },
    /// A batch of `queue`'s messages, for `queue`.
    Queue {
        queue: String,
        messages: Vec<verge_storage::QueuedMessage>,
    },
    /// An RPC call of `method` with the arguments `args` serializes, on the Durable Object or
    /// on `entrypoint` (`None`: the default export).
    Call {
        entrypoint: Option<String>,
        method: String,
        args: String,
    },
    /// The Durable Object's alarm, after `retry_count` failed runs.
    Alarm { retry_count: u32 },
    /// A frame from the client of the Durable Object's held socket `socket`.
    Socket {
        socket: verge_bindings::HeldSocket,
        frame: verge_web::Frame,
    },
}

/// Where the worker's `env` is kept in the isolate: a hidden internal.
const ENV: &str = "env";

/// Keeps the worker's `env` in the isolate, for every event's handler.
pub(crate) fn set_env<'js>(ctx: &Ctx<'js>, env: Value<'js>) -> rquickjs::Result<()> {
    verge_web::internals(ctx)?.set(ENV, env)
}

/// Once the entry module has evaluated (`evaluation`, the promise of its top-level await; its
/// `namespace`; both undefined for a service-worker script): finds the worker's handlers, and
/// settles with its format (`modules` or `service-worker`), or with why it has none.
pub(crate) fn finish_load<'js>(
    ctx: &Ctx<'js>,
    evaluation: Value<'js>,
    namespace: Value<'js>,
) -> rquickjs::Result<Settled<Option<String>>> {
    let finish: Function = verge_web::internals(ctx)?.get("finishLoad")?;
    let bound: Promise = finish.call((evaluation, namespace))?;
    verge_js::settle(ctx, bound, |_, format: Value| {
        Ok(format.as_string().and_then(|s| s.to_string().ok()))
    })
}

/// What the host waits for of one event: its outcome, and then the end of its `ctx.waitUntil`
/// work, if any.
pub(crate) type Dispatched = Settled<(Outcome, Option<Settled<()>>)>;

/// Runs the handler for `event`; its outcome settles once the handler's promise does (at once
/// for a handler that returned its Response).
pub(crate) fn dispatch(ctx: &Ctx<'_>, event: Event) -> rquickjs::Result<Dispatched> {
    let internals = verge_web::internals(ctx)?;
    let env: Value = internals.get(ENV)?;
    let started: Value = match event {
        Event::Fetch(request, entrypoint) => {
            let Request {
                method,
                url,
                headers,
                body,
                cf,
                ..
            } = request;
            let dispatch: Function = internals.get("dispatchFetch")?;
            let body = verge_web::host_body_to_js(ctx, body)?;
            let args = (
                method,
                url,
                headers.into_js(),
                body,
                cf.as_deref(),
                env,
                entrypoint,
            );
            dispatch.call(args)?
        }
        Event::Scheduled { cron, time_ms } => {
            let dispatch: Function = internals.get("dispatchScheduled")?;
            dispatch.call((cron, time_ms, env))?
        }
        Event::Queue { queue, messages } => {
            let dispatch: Function = internals.get("dispatchQueue")?;
            let batch = Array::new(ctx.clone())?;
            for (index, message) in messages.into_iter().enumerate() {
                let entry = Array::new(ctx.clone())?;
                entry.set(0, message.id)?;
                #[allow(clippy::cast_precision_loss)]
                entry.set(1, message.sent_ms as f64)?;
                entry.set(
                    2,
                    rquickjs::TypedArray::<u8>::new(ctx.clone(), message.body.to_vec())?,
                )?;
                entry.set(3, message.content_type.name())?;
                entry.set(4, message.attempts)?;
                batch.set(index, entry)?;
            }
            dispatch.call((queue, batch, env))?
        }
        Event::Call {
            entrypoint,
            method,
            args,
        } => {
            let dispatch: Function = internals.get("dispatchCall")?;
            dispatch.call((entrypoint, method, args, env))?
        }
        Event::Alarm { retry_count } => {
            let dispatch: Function = internals.get("dispatchAlarm")?;
            dispatch.call((retry_count,))?
        }
        Event::Socket { socket, frame } => {
            let dispatch: Function = internals.get("dispatchSocket")?;
            let (kind, data) = verge_web::frame_to_js(ctx, frame)?;
            dispatch.call((socket.number, kind, data, socket.tags, socket.attachment))?
        }
    };
    verge_js::settle_value(ctx, started, read_outcome)
}

/// Makes this isolate's Durable Object, of class `class` of the entry module, with `state` as
/// its `ctx`.
pub(crate) fn construct_object<'js>(
    ctx: &Ctx<'js>,
    class: &str,
    state: Value<'js>,
) -> rquickjs::Result<()> {
    let internals = verge_web::internals(ctx)?;
    let env: Value = internals.get(ENV)?;
    let construct: Function = internals.get("constructObject")?;
    construct.call((class, state, env))
}

/// Why a request whose handler answered `Response.error()` fails, on either engine.
pub(crate) fn error_response() -> JsError {
    JsError::thrown(
        "TypeError",
        "The worker returned an error response (Response.error()).",
    )
}

/// Reads `{ parts, reply, error, passThrough, done }`, what the dispatch functions answer.
fn read_outcome<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
) -> rquickjs::Result<(Outcome, Option<Settled<()>>)> {
    let object: Object = value.get()?;
    let done = match object.get::<_, Option<Promise>>("done")? {
        Some(done) => Some(verge_js::settle(ctx, done, |_, _| Ok(()))?),
        None => None,
    };
    let pass_through: bool = object.get("passThrough").unwrap_or(false);
    let exception = |error| Outcome::Exception {
        error,
        pass_through,
    };
    if let Some(parts) = object.get::<_, Option<Array>>("parts")? {
        let status: u16 = parts.get(0)?;
        let headers = HeaderList::from_js(parts.get(2)?);
        let body = verge_web::host_body_from_js(ctx, parts.get(3)?)?;
        if status == 0 {
            return Ok((exception(error_response()), done));
        }
        let websocket = match parts.get::<Option<u32>>(4)? {
            Some(socket) => verge_web::take_socket(ctx, socket),
            None => None,
        };
        let response = Response {
            status_text: parts.get(1)?,
            websocket,
            ..Response::new(status, headers, body)
        };
        return Ok((Outcome::Response(response), done));
    }
    if let Some(reply) = object.get::<_, Option<String>>("reply")? {
        return Ok((Outcome::Reply(reply), done));
    }
    let error: Value = object.get("error")?;
    if error.is_undefined() {
        return Ok((Outcome::Completed, done));
    }
    Ok((exception(JsError::from_value(ctx, error)), done))
}
