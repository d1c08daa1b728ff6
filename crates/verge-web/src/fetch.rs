//! `fetch()`'s native half, written once for every engine. The network is the host's: an
//! [`Outbound`] capability decides where a request may go and carries it (the runtime's HTTP
//! client, an origin, another worker). This module turns the request's parts into a
//! [`Request`], counted against the request that made it, runs it as a cancellable async op,
//! and hands the response back with its body as a native stream.

use crate::body::NativeBodies;
use crate::message::{HeaderList, RedirectMode, Request, Response};
use crate::WebHost;
use rquickjs::{Ctx, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use tokio::sync::Notify;
use verge_js::{
    async_data_op, data_op, rquickjs, AsyncDataOp, Data, DataOp, FromData, IntoData, OpError,
};

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

    /// A TCP connection to `host`:`port` (`cloudflare:sockets`' `connect()`), TLS if `secure`.
    fn connect(&self, host: String, port: u16, secure: bool) -> crate::sockets::ConnectFuture {
        let _ = (host, port, secure);
        crate::sockets::refused()
    }

    /// The addresses `host` resolves to (`node:dns`' `lookup`).
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = Result<Vec<String>, OpError>>>> {
        let _ = host;
        Box::pin(async {
            Err(OpError::Type(
                "this worker cannot resolve names here".into(),
            ))
        })
    }

    /// `name`'s DNS records of type `kind`, asked of `servers` (`ip` or `ip:port`; none for the
    /// host's own): `node:dns`' `resolve*`, each record a list of its parts.
    fn resolve(
        &self,
        servers: Vec<String>,
        name: String,
        kind: String,
    ) -> Pin<Box<dyn Future<Output = Result<Data, OpError>>>> {
        let _ = (servers, name, kind);
        Box::pin(async {
            Err(OpError::Type(
                "this worker cannot resolve names here".into(),
            ))
        })
    }

    /// TLS over the plain connection `io`, to `host` (a socket's `startTls()`).
    fn start_tls(
        &self,
        io: Box<dyn crate::sockets::SocketIo>,
        host: String,
    ) -> crate::sockets::UpgradeFuture {
        let _ = (io, host);
        crate::sockets::refused()
    }
}

/// A `Fetcher` object for `env` whose `fetch()` goes to `outbound` (a service binding: another
/// worker), counted and cancellable as `fetch()` is.
pub fn fetcher<'js>(ctx: &Ctx<'js>, outbound: Rc<dyn Outbound>) -> rquickjs::Result<Value<'js>> {
    crate::bind(ctx, outbound, "makeFetcher")
}

/// What `fetch()` keeps of an isolate's requests, in its [`WebHost`]: each request's
/// subrequests and depth, by request tag, and the fetches in flight that an AbortSignal may
/// cancel, by the id `fetch.js` gave them.
#[derive(Default)]
pub struct Subrequests {
    requests: RefCell<HashMap<u64, InFlight>>,
    cancel: RefCell<HashMap<u32, Rc<Notify>>>,
    /// The TCP connections `cloudflare:sockets` opened (see `sockets.rs`).
    tcp: Rc<crate::sockets::TcpSockets>,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct InFlight {
    /// Subrequests made so far.
    subrequests: u32,
    /// Through how many service bindings the request came.
    depth: u32,
}

impl Subrequests {
    /// Records that request `tag` came through `depth` service bindings; its subrequests
    /// carry it.
    pub fn set_depth(&self, tag: u64, depth: u32) {
        self.requests.borrow_mut().entry(tag).or_default().depth = depth;
    }

    pub(crate) fn tcp_sockets(&self) -> Rc<crate::sockets::TcpSockets> {
        self.tcp.clone()
    }

    pub(crate) fn forget(&self, tag: u64) {
        self.requests.borrow_mut().remove(&tag);
        self.tcp.forget(tag);
    }

    fn depth(&self, tag: u64) -> u32 {
        self.requests
            .borrow()
            .get(&tag)
            .map_or(0, |request| request.depth)
    }

    /// Counts one more subrequest of request `tag` (0: none, uncounted), an error once it is
    /// over `limit`; the request as it now stands.
    pub(crate) fn count(&self, tag: u64, limit: u32) -> Result<InFlight, OpError> {
        if tag == 0 {
            return Ok(InFlight::default());
        }
        let mut requests = self.requests.borrow_mut();
        let request = requests.entry(tag).or_default();
        request.subrequests += 1;
        if request.subrequests > limit {
            return Err(OpError::Error(format!(
                "Too many subrequests: this request has made more than {limit} (set [limits] subrequests in the wrangler config to allow more)."
            )));
        }
        Ok(*request)
    }
}

/// Records that request `tag` came through `depth` service bindings; its subrequests carry it.
pub fn set_request_depth(ctx: &Ctx<'_>, tag: u64, depth: u32) -> rquickjs::Result<()> {
    verge_js::with_host_state(ctx, |host: &WebHost| host.subrequests.set_depth(tag, depth));
    Ok(())
}

/// Forgets a finished request: its subrequest count and depth, the bodies made for it that
/// nothing is reading, and its AsyncLocalStorage stores.
pub fn forget_request(ctx: &Ctx<'_>, tag: u64) {
    verge_js::with_host_state(ctx, |host: &WebHost| host.forget_request(tag));
    crate::node::forget_request(ctx, tag);
}

/// Through how many service bindings, RPC calls and Durable Object stubs one request may go,
/// as on Workers.
pub const MAX_CALL_DEPTH: u32 = 32;

/// The depth of a call the current request makes to another worker or object: one more than
/// its own, or an error past [`MAX_CALL_DEPTH`].
pub fn next_depth(ctx: &Ctx<'_>) -> rquickjs::Result<u32> {
    let tag = verge_js::current_tag(ctx);
    let depth =
        verge_js::with_host_state(ctx, |host: &WebHost| host.subrequests.depth(tag)).unwrap_or(0);
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

/// `dnsLookup(host)` and `dnsResolve(servers, name, kind)`: `node:dns`' questions, which the
/// isolate's outbound answers.
///
/// `fetch(id, parts, fetcher, target)`: sends the request `parts` describe (`[method, url,
/// header list, body, redirect]`) through the isolate's outbound, or through bound fetcher
/// `fetcher` (to `target`, one of its destinations); gives `[status, statusText, header
/// list, url, redirected, body, socket]`. An `id` other than 0 is what `fetchAbort(id)`
/// cancels it by.
pub(crate) fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let host = host.clone();
    let (looker, resolver) = (host.clone(), host.clone());
    let fetch = async_data_op(
        move |id: u32, parts: Vec<Data>, fetcher: Option<usize>, target: Option<String>| {
            let sent = send(&host, id, parts, fetcher, target);
            async move { sent?.await }
        },
    );
    // Each DNS question counts as a subrequest, as each query is one.
    let counted = |host: &WebHost| {
        host.subrequests
            .count(host.current_request.get(), host.subrequest_limit)
            .map(|_| ())
    };
    let lookup = async_data_op(move |name: String| {
        let asked = counted(&looker).map(|()| looker.outbound.lookup(name));
        async move { asked?.await }
    });
    let resolve = async_data_op(move |servers: Vec<String>, name: String, kind: String| {
        let asked = counted(&resolver).map(|()| resolver.outbound.resolve(servers, name, kind));
        async move { asked?.await }
    });
    vec![
        ("fetch", fetch),
        ("dnsLookup", lookup),
        ("dnsResolve", resolve),
    ]
}

/// `fetchAbort(id)`: cancels fetch `id` if it is still in flight. `fetchSocketDrop(socket)`:
/// lets go of a fetched WebSocket that no `WebSocket` object took up.
pub(crate) fn abort_ops(host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let (subrequests, sockets) = (host.subrequests.clone(), host.sockets.clone());
    let abort = data_op(move |id: u32| {
        if let Some(cancel) = subrequests.cancel.borrow_mut().remove(&id) {
            cancel.notify_one();
        }
    });
    let drop_socket = data_op(move |socket: u32| sockets.remove(socket));
    vec![("fetchAbort", abort), ("fetchSocketDrop", drop_socket)]
}

/// Starts the fetch the `fetch` op describes, counted against the current request: the future
/// of its response as data.
fn send(
    host: &WebHost,
    id: u32,
    parts: Vec<Data>,
    fetcher: Option<usize>,
    target: Option<String>,
) -> Result<impl Future<Output = Result<Data, OpError>>, OpError> {
    let outbound = match fetcher {
        None => host.outbound.clone(),
        Some(index) => host
            .bindings
            .get::<Rc<dyn Outbound>>(index)
            .ok_or_else(|| OpError::Type("not a binding of this worker".into()))?,
    };
    // The body first, so that a request refused below drops it (and its stream is cancelled).
    let mut request = read_request(parts, &host.bodies)?;
    let tag = host.current_request.get();
    request.depth = host.subrequests.count(tag, host.subrequest_limit)?.depth;
    let response = match target {
        Some(target) => outbound.fetch_to(target, request),
        None => outbound.fetch(request),
    };
    let cancel = (id != 0).then(|| {
        let cancel = Rc::new(Notify::new());
        host.subrequests
            .cancel
            .borrow_mut()
            .insert(id, cancel.clone());
        cancel
    });
    let (subrequests, bodies, sockets) = (
        host.subrequests.clone(),
        host.bodies.clone(),
        host.sockets.clone(),
    );
    Ok(async move {
        let response = match cancel {
            None => response.await,
            Some(cancel) => {
                let response = tokio::select! {
                    response = response => response,
                    () = cancel.notified() => Err(OpError::Dom {
                        name: "AbortError",
                        message: "The operation was aborted.".into(),
                    }),
                };
                subrequests.cancel.borrow_mut().remove(&id);
                response
            }
        }?;
        let Response {
            status,
            status_text,
            headers,
            body,
            url,
            redirected,
            websocket,
        } = response;
        let socket = match websocket {
            Some(socket) => Data::Number(sockets.park(socket).map_err(OpError::Range)?.into()),
            None => Data::Undefined,
        };
        Ok(Data::List(vec![
            Data::Number(status.into()),
            Data::String(status_text),
            headers.into_js().into_data(),
            Data::String(url),
            Data::Bool(redirected),
            bodies.to_data(body, tag),
            socket,
        ]))
    })
}

/// The request `parts` describe (its depth still to be set).
fn read_request(parts: Vec<Data>, bodies: &NativeBodies) -> Result<Request, OpError> {
    let malformed = || OpError::Type("fetch(): malformed request parts".into());
    let [method, url, headers, body, redirect]: [Data; 5] =
        parts.try_into().map_err(|_| malformed())?;
    let (Data::String(method), Data::String(url), Data::String(redirect)) = (method, url, redirect)
    else {
        return Err(malformed());
    };
    let redirect = match redirect.as_str() {
        "manual" => RedirectMode::Manual,
        "error" => RedirectMode::Error,
        _ => RedirectMode::Follow,
    };
    Ok(Request {
        method,
        url,
        headers: HeaderList::from_js(Vec::<String>::from_data(headers)?),
        body: bodies.from_data(body)?,
        cf: None,
        redirect,
        depth: 0,
    })
}
