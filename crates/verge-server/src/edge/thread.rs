//! A serving thread: its current-thread runtime and `LocalSet`, and the accept loop on its
//! handles of the listening sockets — plain, and HTTPS if the server has it (each TLS handshake
//! bounded by the header timeout) — with HTTP/1.1 and HTTP/2 by hyper's auto builder and
//! graceful shutdown, each connection served by `dispatch`.

use super::cron::run_crons;
use super::dispatch::handle;
use super::objects::{serve_objects, LocalObjects, ObjectMessage, ObjectRouter, ObjectThread};
use super::state::ThreadState;
use super::{Connection, Crons, EdgeOptions, SiteHandle};
use crate::geo::CfCache;
use crate::metrics::Metrics;
use crate::tls::TlsFacts;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio::net::TcpListener;
use verge_runtime::{HttpClient, LoadError};

/// How often a serving thread looks for isolates to drop.
const EVICTION_PERIOD: Duration = Duration::from_millis(100);

/// How often a serving thread looks for idle Durable Objects.
const OBJECT_EVICTION_PERIOD: Duration = Duration::from_secs(1);

/// Request heads above this size get 431 (Workers allow 128 KB of headers).
const MAX_REQUEST_HEAD: usize = 128 * 1024;

/// A serving thread's handles of the listening sockets.
pub(super) struct ThreadListener {
    pub(super) plain: std::net::TcpListener,
    pub(super) tls: Option<(std::net::TcpListener, tokio_rustls::TlsAcceptor)>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn serve_thread(
    listener: ThreadListener,
    site: SiteHandle,
    metrics: Arc<Metrics>,
    options: EdgeOptions,
    eager: bool,
    first: bool,
    loaded: mpsc::Sender<Result<(), LoadError>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    (object_router, object_inbox): (
        Arc<ObjectRouter>,
        tokio::sync::mpsc::UnboundedReceiver<ObjectMessage>,
    ),
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return tracing::error!("cannot start the serving runtime: {e}"),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let current = site.current();
        let client = HttpClient::with_policy(current.policy.clone(), current.zones.clone());
        let state = Rc::new_cyclic(|this| ThreadState {
            this: this.clone(),
            site,
            metrics,
            isolates: Rc::default(),
            client,
            options,
            cf_texts: CfCache::default(),
            objects: LocalObjects::default(),
            object_router,
        });
        let objects: std::rc::Weak<dyn ObjectThread> =
            Rc::downgrade(&state) as std::rc::Weak<ThreadState>;
        tokio::task::spawn_local(serve_objects(objects, object_inbox));
        if eager {
            if let Err(error) = state.worker(&current, 0).await {
                let _ = loaded.send(Err(error));
                return;
            }
        } else {
            state.isolates.replenish_spare();
        }
        let (listener, tls) = match from_std(listener) {
            Ok(listeners) => listeners,
            Err(e) => return tracing::error!("cannot listen: {e}"),
        };
        let _ = loaded.send(Ok(()));
        if state.options.isolate_idle.is_some() || state.options.isolate_budget.is_some() {
            let state = Rc::downgrade(&state);
            tokio::task::spawn_local(async move {
                let mut ticks = tokio::time::interval(EVICTION_PERIOD);
                loop {
                    ticks.tick().await;
                    let Some(state) = state.upgrade() else { break };
                    let options = &state.options;
                    let site = state.site.current();
                    state
                        .isolates
                        .evict(&site, options.isolate_idle, options.isolate_budget);
                }
            });
        }
        let objects = Rc::downgrade(&state);
        tokio::task::spawn_local(async move {
            let mut ticks = tokio::time::interval(OBJECT_EVICTION_PERIOD);
            loop {
                ticks.tick().await;
                let Some(state) = objects.upgrade() else {
                    break;
                };
                state.objects.evict(state.options.isolate_idle);
            }
        });
        if first && state.options.crons == Crons::Scheduled {
            tokio::task::spawn_local(run_crons(Rc::downgrade(&state)));
        }
        if first && state.options.stores.queues.is_some() {
            tokio::task::spawn_local(super::queues::run_consumers(Rc::downgrade(&state)));
        }
        let mut builder = auto::Builder::new(LocalExec);
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(state.options.header_timeout)
            .max_buf_size(MAX_REQUEST_HEAD);
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        loop {
            let ((stream, peer), secure) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => (accepted, false),
                    Err(e) => {
                        backing_off(e).await;
                        continue;
                    }
                },
                accepted = accept_on(tls.as_ref().map(|(listener, _)| listener)) => match accepted {
                    Ok(accepted) => (accepted, true),
                    Err(e) => {
                        backing_off(e).await;
                        continue;
                    }
                },
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let _ = stream.set_nodelay(true);
            let (state, builder, watcher) = (state.clone(), builder.clone(), graceful.watcher());
            let acceptor = match (&tls, secure) {
                (Some((_, acceptor)), true) => acceptor.clone(),
                _ => {
                    let connection = Connection { peer, tls: None };
                    let served = serve_http(state, connection, stream, builder, watcher);
                    tokio::task::spawn_local(served);
                    continue;
                }
            };
            // The handshake runs in the connection's own task, bounded like a request head.
            let handshake =
                tokio::time::timeout(state.options.header_timeout, acceptor.accept(stream));
            tokio::task::spawn_local(async move {
                let stream = match handshake.await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return tracing::debug!("TLS handshake from {peer} failed: {e}"),
                    Err(_) => return tracing::debug!("TLS handshake from {peer} timed out"),
                };
                let connection = Connection {
                    peer,
                    tls: Some(TlsFacts::of(stream.get_ref().1)),
                };
                serve_http(state, connection, stream, builder, watcher).await;
            });
        }
        // Shutting down: no more connections; those open finish their requests, within bounds.
        drop(listener);
        drop(tls);
        let drain = state.options.drain_timeout;
        if tokio::time::timeout(drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after {drain:?} were cut off");
        }
    });
}

/// Serves HTTP on `io`, one connection, each request by `dispatch`, until it ends or the
/// server shuts down (`watcher`).
async fn serve_http<I>(
    state: Rc<ThreadState>,
    connection: Connection,
    io: I,
    builder: auto::Builder<LocalExec>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(state.clone(), connection, request));
    let served = watcher.watch(
        builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned(),
    );
    if let Err(e) = served.await {
        tracing::debug!("connection from {} ended: {e}", connection.peer);
    }
}

/// The thread's listeners on its runtime.
fn from_std(
    listener: ThreadListener,
) -> std::io::Result<(
    TcpListener,
    Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
)> {
    let plain = TcpListener::from_std(listener.plain)?;
    let tls = match listener.tls {
        Some((listener, acceptor)) => Some((TcpListener::from_std(listener)?, acceptor)),
        None => None,
    };
    Ok((plain, tls))
}

/// A connection from `listener`; never, without one.
async fn accept_on(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// After a failed accept (out of file descriptors and the like): backs off rather than spin.
async fn backing_off(error: std::io::Error) {
    tracing::warn!("accept failed: {error}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Runs HTTP/2 stream tasks on the thread's `LocalSet`: they call into the worker, which is `!Send`.
#[derive(Clone, Copy)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}
