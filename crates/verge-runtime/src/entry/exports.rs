//! JS RPC's stubs: a function or an `RpcTarget` passed in an RPC call's arguments or result is
//! not copied but *exported* — kept by the isolate that has it — and the other side gets a stub
//! whose calls travel back to it. Each isolate that exports something gets an endpoint: an id
//! in the process-wide [`ENDPOINTS`] and a local task that runs the calls sent to it, one
//! isolate entry each, wherever the caller runs. An endpoint ends with its isolate; a stub of
//! it then fails, naming why.
//!
//! Lifecycle: an isolate's endpoint is made on its first export and dropped with the isolate;
//! each export lives as long as the isolate, or until 10,000 later ones push it out (rpc.js).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};
use verge_js::rquickjs::{self, Ctx, Function, Value};
use verge_js::{IsolateHandle, OpError, Ops};
use verge_web::WebHost;

/// A call to an export: the function itself (`method` `None`) or a method of an `RpcTarget`.
struct ExportCall {
    export: u32,
    method: Option<String>,
    args: String,
    reply: oneshot::Sender<Result<String, String>>,
}

/// Every isolate's endpoint, by id.
static ENDPOINTS: Mutex<Option<HashMap<u64, mpsc::UnboundedSender<ExportCall>>>> = Mutex::new(None);
static NEXT_ENDPOINT: AtomicU64 = AtomicU64::new(1);

fn endpoints<T>(f: impl FnOnce(&mut HashMap<u64, mpsc::UnboundedSender<ExportCall>>) -> T) -> T {
    let mut endpoints = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
    f(endpoints.get_or_insert_with(HashMap::new))
}

/// An isolate's endpoint, removed from [`ENDPOINTS`] when the isolate (its host state) goes.
struct Endpoint(u64);

impl Drop for Endpoint {
    fn drop(&mut self) {
        endpoints(|all| all.remove(&self.0));
    }
}

/// The endpoint of the isolate of `ctx`, made (with the task that serves it) on first use.
fn endpoint(ctx: &Ctx<'_>) -> rquickjs::Result<u64> {
    if let Some(id) = verge_js::with_host_state(ctx, |endpoint: &Endpoint| endpoint.0) {
        return Ok(id);
    }
    let id = NEXT_ENDPOINT.fetch_add(1, Ordering::Relaxed);
    let (sender, mut calls) = mpsc::unbounded_channel::<ExportCall>();
    let isolate = IsolateHandle::of(ctx)?;
    tokio::task::spawn_local(async move {
        while let Some(call) = calls.recv().await {
            let ExportCall {
                export,
                method,
                args,
                reply,
            } = call;
            let settled = isolate.enter(|ctx| {
                let call: Function = verge_web::internals(ctx)?.get("callExport")?;
                let promise: Value = call.call((export, method, args))?;
                verge_js::settle_value(ctx, promise, |_, reply: Value| reply.get::<String>())
            });
            let answer = match settled {
                None => Err("the RPC stub's worker is gone".to_owned()),
                Some(Err(error)) => Err(error.to_string()),
                Some(Ok(settled)) => match settled.await {
                    Ok(Ok(text)) => Ok(text),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("the RPC stub's worker is gone".to_owned()),
                },
            };
            let _ = reply.send(answer);
        }
    });
    endpoints(|all| all.insert(id, sender));
    verge_js::store_host_state(ctx, Endpoint(id))?;
    Ok(id)
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add("rpcEndpoint", |ctx: Ctx<'js>| {
        endpoint(&ctx).map(|id| id as f64)
    })?;
    ops.add(
        "rpcCallExport",
        |ctx: Ctx<'js>, endpoint: f64, export: u32, method: Option<String>, args: String| {
            // A stub's call counts toward the depth of the request that makes it.
            verge_web::next_depth(&ctx)?;
            let (reply, replied) = oneshot::channel();
            let call = ExportCall {
                export,
                method,
                args,
                reply,
            };
            let sent = endpoints(|all| {
                all.get(&(endpoint as u64))
                    .map(|sender| sender.send(call).is_ok())
            });
            verge_js::spawn_promise(
                &ctx,
                async move {
                    if sent != Some(true) {
                        return Err(OpError::Error("the RPC stub's worker is gone".into()));
                    }
                    replied
                        .await
                        .map_err(|_| OpError::Error("the RPC stub's worker is gone".into()))?
                        .map_err(OpError::Error)
                },
                |ctx, reply| {
                    rquickjs::String::from_str(ctx.clone(), &reply).map(|s| s.into_value())
                },
            )
        },
    )
}
