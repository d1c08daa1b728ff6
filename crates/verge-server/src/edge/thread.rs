//! A serving thread: its current-thread runtime and `LocalSet`, and the accept loop on its
//! handle of the listening socket (HTTP/1.1 and HTTP/2 by hyper's auto builder, with graceful
//! shutdown), each connection served by `dispatch`.

use super::cron::run_crons;
use super::dispatch::handle;
use super::state::ThreadState;
use super::{Crons, EdgeOptions, SiteHandle};
use crate::geo::CfCache;
use crate::metrics::Metrics;
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

/// Request heads above this size get 431 (Workers allow 128 KB of headers).
const MAX_REQUEST_HEAD: usize = 128 * 1024;

#[allow(clippy::too_many_arguments)]
pub(super) fn serve_thread(
    listener: std::net::TcpListener,
    site: SiteHandle,
    metrics: Arc<Metrics>,
    options: EdgeOptions,
    eager: bool,
    first: bool,
    loaded: mpsc::Sender<Result<(), LoadError>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
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
        });
        if eager {
            if let Err(error) = state.worker(&current, 0).await {
                let _ = loaded.send(Err(error));
                return;
            }
        } else {
            state.isolates.replenish_spare();
        }
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
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
        if first && state.options.crons == Crons::Scheduled {
            tokio::task::spawn_local(run_crons(Rc::downgrade(&state)));
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
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let _ = stream.set_nodelay(true);
            let service = {
                let state = state.clone();
                service_fn(move |request| handle(state.clone(), peer, request))
            };
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::task::spawn_local(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
            });
        }
        // Shutting down: no more connections; those open finish their requests, within bounds.
        drop(listener);
        let drain = state.options.drain_timeout;
        if tokio::time::timeout(drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after {drain:?} were cut off");
        }
    });
}

/// Runs HTTP/2 stream tasks on the thread's `LocalSet`: they call into the worker, which is `!Send`.
#[derive(Clone, Copy)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}
