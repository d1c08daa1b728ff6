//! `fetch()`'s native half. The network is the host's: an [`Outbound`] capability decides where
//! a request may go and carries it (the runtime's HTTP client, an origin, another worker). This
//! module turns the JS request into a [`Request`], runs it as a cancellable op, and hands the
//! response back with its body as a native stream.

use crate::body::{host_body_from_js, host_body_to_js};
use crate::message::{HeaderList, RedirectMode, Request, Response};
use crate::WebHost;
use rquickjs::{Array, Ctx, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::oneshot;
use verge_js::{rquickjs, IdTable, OpError, Ops};

pub type OutboundFuture = Pin<Box<dyn Future<Output = Result<Response, OpError>>>>;

/// Where a worker's `fetch()` goes: granted by the host, per isolate.
pub trait Outbound {
    fn fetch(&self, request: Request) -> OutboundFuture;

    /// `fetch` to `target`, one of several destinations behind one binding (a Durable Object
    /// namespace's objects, by id); bindings of one destination have none.
    fn fetch_to(&self, target: String, request: Request) -> OutboundFuture {
        let _ = (target, request);
        Box::pin(async { Err(OpError::Type("this binding has no targets".into())) })
    }
}

/// A `Fetcher` object for `env` whose `fetch()` goes to `outbound` (a service binding: another
/// worker), counted and cancellable as `fetch()` is.
pub fn fetcher<'js>(
    ctx: &Ctx<'js>,
    outbound: std::rc::Rc<dyn Outbound>,
) -> rquickjs::Result<Value<'js>> {
    crate::bind(ctx, outbound, "makeFetcher")
}

#[derive(Default)]
struct FetchTable {
    /// In-flight fetches that an AbortSignal may cancel.
    cancel: IdTable<oneshot::Sender<()>>,
    /// What fetch() keeps of each request in flight, by request tag.
    requests: RefCell<HashMap<u64, InFlight>>,
}

#[derive(Default, Clone, Copy)]
struct InFlight {
    /// Subrequests made so far.
    subrequests: u32,
    /// Through how many service bindings the request came.
    depth: u32,
}

/// Records that request `tag` came through `depth` service bindings; its subrequests carry it.
pub fn set_request_depth(ctx: &Ctx<'_>, tag: u64, depth: u32) -> rquickjs::Result<()> {
    verge_js::ensure_host_state::<FetchTable>(ctx)?;
    verge_js::with_host_state(ctx, |table: &FetchTable| {
        table.requests.borrow_mut().entry(tag).or_default().depth = depth;
    });
    Ok(())
}

/// Forgets a finished request: its subrequest count and depth, the bodies made for it that
/// nothing is reading, and its AsyncLocalStorage stores.
pub fn forget_request(ctx: &Ctx<'_>, tag: u64) {
    verge_js::with_host_state(ctx, |table: &FetchTable| {
        table.requests.borrow_mut().remove(&tag)
    });
    crate::body::drop_unread(ctx, tag);
    crate::node::forget_async_context(ctx, tag);
}

/// Through how many service bindings, RPC calls and Durable Object stubs one request may go,
/// as on Workers.
pub const MAX_CALL_DEPTH: u32 = 32;

/// The depth of a call the current request makes to another worker or object: one more than
/// its own, or an error past [`MAX_CALL_DEPTH`].
pub fn next_depth(ctx: &Ctx<'_>) -> rquickjs::Result<u32> {
    let tag = verge_js::current_tag(ctx);
    let depth = verge_js::with_host_state(ctx, |table: &FetchTable| {
        table
            .requests
            .borrow()
            .get(&tag)
            .map_or(0, |request| request.depth)
    })
    .unwrap_or(0);
    deeper(depth).map_err(|refused| rquickjs::Exception::throw_message(ctx, &refused))
}

/// The depth of a call that a request `depth` calls deep makes: one more, or why it may not go
/// deeper than [`MAX_CALL_DEPTH`].
pub fn deeper(depth: u32) -> Result<u32, String> {
    let deeper = depth.saturating_add(1);
    if deeper > MAX_CALL_DEPTH {
        return Err(format!(
            "Subrequest depth limit exceeded: this request went through more than {MAX_CALL_DEPTH} service bindings, RPC calls or Durable Object stubs."
        ));
    }
    Ok(deeper)
}

/// Counts one more subrequest for the current request, an error once it is over the limit;
/// the request as it now stands.
fn count_subrequest(ctx: &Ctx<'_>, host: &WebHost) -> rquickjs::Result<InFlight> {
    let tag = verge_js::current_tag(ctx);
    if tag == 0 {
        return Ok(InFlight::default());
    }
    let request = verge_js::with_host_state(ctx, |table: &FetchTable| {
        let mut requests = table.requests.borrow_mut();
        let request = requests.entry(tag).or_default();
        request.subrequests += 1;
        *request
    })
    .unwrap_or_default();
    if request.subrequests > host.subrequest_limit {
        return Err(rquickjs::Exception::throw_message(
            ctx,
            &format!(
                "Too many subrequests: this request has made more than {} (set [limits] subrequests in the wrangler config to allow more).",
                host.subrequest_limit
            ),
        ));
    }
    Ok(request)
}

/// The request `parts` describe, made by a request that came through `depth` service bindings.
fn read_request<'js>(ctx: &Ctx<'js>, parts: Array<'js>, depth: u32) -> rquickjs::Result<Request> {
    let redirect = match parts.get::<String>(4)?.as_str() {
        "manual" => RedirectMode::Manual,
        "error" => RedirectMode::Error,
        _ => RedirectMode::Follow,
    };
    Ok(Request {
        method: parts.get(0)?,
        url: parts.get(1)?,
        headers: HeaderList::from_js(parts.get(2)?),
        body: host_body_from_js(ctx, parts.get(3)?)?,
        cf: None,
        redirect,
        depth,
    })
}

pub(crate) fn register<'js>(ops: &Ops<'js>, host: &WebHost) -> rquickjs::Result<()> {
    let ctx = ops.ctx();
    verge_js::ensure_host_state::<FetchTable>(ctx)?;
    let fetch_host = host.clone();
    ops.add("fetch", move |ctx: Ctx<'js>, parts: Array<'js>, fetcher: Option<usize>, target: Option<String>| {
            let outbound = match fetcher {
                None => fetch_host.outbound.clone(),
                Some(id) => crate::bound::<std::rc::Rc<dyn Outbound>>(&ctx, id)?,
            };
            let depth = count_subrequest(&ctx, &fetch_host)?.depth;
            let request = read_request(&ctx, parts, depth)?;
            let (cancel, cancelled) = oneshot::channel();
            let id = verge_js::with_host_state(&ctx, |table: &FetchTable| table.cancel.insert(cancel))
                .unwrap_or_default();
            let response = match target {
                Some(target) => outbound.fetch_to(target, request),
                None => outbound.fetch(request),
            };
            let promise = verge_js::spawn_promise(&ctx,
                async move {
                    tokio::select! {
                        response = response => response,
                        _ = cancelled => Err(OpError::Dom { name: "AbortError", message: "The operation was aborted.".into() }),
                    }
                },
                move |ctx, response| {
                    verge_js::with_host_state(ctx, |table: &FetchTable| table.cancel.remove(id));
                    let Response { status, status_text, headers, body, url, redirected, websocket } = response;
                    let out = Array::new(ctx.clone())?;
                    out.set(0, status)?;
                    out.set(1, status_text)?;
                    out.set(2, headers.into_js())?;
                    out.set(3, url)?;
                    out.set(4, redirected)?;
                    out.set(5, host_body_to_js(ctx, body)?)?;
                    if let Some(socket) = websocket {
                        out.set(6, crate::websocket::park_socket(ctx, socket)?)?;
                    }
                    Ok(out.into_value())
                },
            )?;
            let pair = Array::new(ctx.clone())?;
            pair.set(0, id)?;
            pair.set(1, promise)?;
            Ok::<_, rquickjs::Error>(pair)
        })?;
    ops.add("fetchAbort", |ctx: Ctx<'js>, id: u32| {
        if let Some(Some(cancel)) =
            verge_js::with_host_state(&ctx, |table: &FetchTable| table.cancel.remove(id))
        {
            let _ = cancel.send(());
        }
    })
}
