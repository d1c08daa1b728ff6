//! JS RPC's stubs: a function or an `RpcTarget` passed in an RPC call's arguments or result is
//! not copied but *exported* — kept by the isolate that has it — and the other side gets a stub
//! whose calls travel back to it. Each isolate that exports something gets an endpoint: an
//! unguessable id in the process-wide [`ENDPOINTS`] and a local task that runs each call sent
//! to it in a task of its own (so that a slow or waiting call holds up no other), wherever the
//! caller runs. Exports are named by unguessable tokens too (rpc.js): a worker reaches only the
//! stubs it was given. An endpoint ends with its isolate; a stub of it then fails, naming why.
//!
//! Limits: a call through a stub counts toward the depth of the request that makes it and runs
//! at that depth; it may run [`CALL_TIME`] at most, and each entry into the isolate is under
//! the isolate's CPU limit.
//!
//! Across servers (a cluster's PoPs, [`connect_exports`]), an endpoint's id names its server
//! too (`POP:ID`): a call to an endpoint of another server goes there ([`RemoteExports`]),
//! which runs it as its own ([`call_export`]).
//!
//! Lifecycle: an isolate's endpoint is made on its first export and dropped with the isolate;
//! each export lives as long as the isolate, or until 10,000 later ones push it out (rpc.js).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use verge_js::rquickjs::{self, Ctx, Function, Value};
use verge_js::{IsolateHandle, OpError, Ops};
use verge_web::WebHost;

/// How long one call through a stub may take.
const CALL_TIME: Duration = Duration::from_secs(30);

/// A call to an export: the function itself (`method` `None`) or a method of an `RpcTarget`.
struct ExportCall {
    export: String,
    method: Option<String>,
    args: String,
    depth: u32,
    reply: oneshot::Sender<Result<String, String>>,
}

type Endpoints = HashMap<String, mpsc::UnboundedSender<ExportCall>>;

/// Every isolate's endpoint, by id.
static ENDPOINTS: Mutex<Option<Endpoints>> = Mutex::new(None);

/// A call through a stub, as [`RemoteExports`] carries it and [`call_export`] runs it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ExportedCall {
    /// The endpoint's id, `POP:ID`.
    pub endpoint: String,
    pub export: String,
    /// The method of an `RpcTarget`, or `None` for a function.
    pub method: Option<String>,
    /// The arguments, structured-serialized.
    pub args: String,
    pub depth: u32,
}

/// What a call through a stub answers: its result, structured-serialized, or why it failed.
pub type ExportFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Where calls to the endpoints of other servers go.
pub trait RemoteExports: Send + Sync {
    /// Runs `call` at the server `server` named in its endpoint's id.
    fn call(&self, server: &str, call: ExportedCall) -> ExportFuture;
}

/// This server's name in endpoint ids, and where calls to other servers' endpoints go.
static REMOTE: OnceLock<(String, Arc<dyn RemoteExports>)> = OnceLock::new();

/// Makes this process's endpoints reachable from other servers as `server`'s, and reaches
/// theirs through `remote` (once per process).
pub fn connect_exports(server: &str, remote: Arc<dyn RemoteExports>) {
    let _ = REMOTE.set((server.to_owned(), remote));
}

/// Runs a call through a stub whose endpoint is this server's, for another server.
pub fn call_export(call: ExportedCall) -> ExportFuture {
    let (reply, replied) = oneshot::channel();
    let sent = endpoints(|all| {
        all.get(&call.endpoint).map(|sender| {
            sender
                .send(ExportCall {
                    export: call.export,
                    method: call.method,
                    args: call.args,
                    depth: call.depth,
                    reply,
                })
                .is_ok()
        })
    });
    Box::pin(async move {
        let gone = || "the RPC stub's worker is gone".to_owned();
        if sent != Some(true) {
            return Err(gone());
        }
        replied.await.map_err(|_| gone())?
    })
}

/// The tags of calls through stubs, apart from those `Worker` gives requests.
static NEXT_TAG: AtomicU64 = AtomicU64::new(1 << 62);

fn endpoints<T>(f: impl FnOnce(&mut Endpoints) -> T) -> T {
    let mut endpoints = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
    f(endpoints.get_or_insert_with(HashMap::new))
}

/// An isolate's endpoint, removed from [`ENDPOINTS`] when the isolate (its host state) goes.
struct Endpoint(String);

impl Drop for Endpoint {
    fn drop(&mut self) {
        endpoints(|all| all.remove(&self.0));
    }
}

/// 128 random bits in hex: an id nobody can guess.
fn token(ctx: &Ctx<'_>) -> rquickjs::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| rquickjs::Exception::throw_message(ctx, &format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// The endpoint of the isolate of `ctx`, made (with the task that serves it) on first use.
fn endpoint(ctx: &Ctx<'_>) -> rquickjs::Result<String> {
    if let Some(id) = verge_js::with_host_state(ctx, |endpoint: &Endpoint| endpoint.0.clone()) {
        return Ok(id);
    }
    let id = match REMOTE.get() {
        Some((server, _)) => format!("{server}:{}", token(ctx)?),
        None => token(ctx)?,
    };
    let isolate = IsolateHandle::of(ctx)?;
    // Kept by the isolate first: once registered, the endpoint goes when the isolate does.
    verge_js::store_host_state(ctx, Endpoint(id.clone()))?;
    let (sender, mut calls) = mpsc::unbounded_channel::<ExportCall>();
    endpoints(|all| all.insert(id.clone(), sender));
    tokio::task::spawn_local(async move {
        while let Some(call) = calls.recv().await {
            tokio::task::spawn_local(run_call(isolate.clone(), call));
        }
    });
    Ok(id)
}

/// Runs one call through a stub in the exporting isolate, under its own tag at its depth.
async fn run_call(isolate: IsolateHandle, call: ExportCall) {
    let ExportCall {
        export,
        method,
        args,
        depth,
        reply,
    } = call;
    let gone = || "the RPC stub's worker is gone".to_owned();
    let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
    let settled = isolate.enter_as(tag, |ctx| {
        verge_web::set_request_depth(ctx, tag, depth)?;
        let call: Function = verge_web::internals(ctx)?.get("callExport")?;
        let promise: Value = call.call((export, method, args))?;
        verge_js::settle_value(ctx, promise, |_, reply: Value| reply.get::<String>())
    });
    let answer = match settled {
        None => Err(gone()),
        Some(Err(error)) => Err(error.to_string()),
        Some(Ok(settled)) => match tokio::time::timeout(CALL_TIME, settled).await {
            Ok(Ok(Ok(text))) => Ok(text),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(_)) => Err(gone()),
            Err(_) => Err(format!(
                "the call through an RPC stub did not finish within {} s",
                CALL_TIME.as_secs()
            )),
        },
    };
    isolate.enter(|ctx| {
        verge_web::forget_request(ctx, tag);
        Ok(())
    });
    let _ = reply.send(answer);
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add("rpcEndpoint", |ctx: Ctx<'js>| endpoint(&ctx))?;
    ops.add("rpcToken", |ctx: Ctx<'js>| token(&ctx))?;
    ops.add(
        "rpcCallExport",
        |ctx: Ctx<'js>, endpoint: String, export: String, method: Option<String>, args: String| {
            // A stub's call counts toward the depth of the request that makes it.
            let depth = verge_web::next_depth(&ctx)?;
            let call = ExportedCall {
                endpoint,
                export,
                method,
                args,
                depth,
            };
            // An endpoint of another server is reached there.
            let elsewhere = REMOTE.get().and_then(|(here, remote)| {
                let (server, _) = call.endpoint.split_once(':')?;
                (server != here).then(|| (server.to_owned(), remote.clone()))
            });
            let answer = match elsewhere {
                Some((server, remote)) => remote.call(&server, call),
                None => call_export(call),
            };
            verge_js::spawn_promise(
                &ctx,
                async move { answer.await.map_err(OpError::Error) },
                |ctx, reply| {
                    rquickjs::String::from_str(ctx.clone(), &reply).map(|s| s.into_value())
                },
            )
        },
    )
}
