//! Serving workers over HTTP/1.1 and HTTP/2 (cleartext): one worker for every request (`verge
//! dev`, with the origin behind it), or many tenants routed by host and path (`verge serve`),
//! each loaded into its own isolate on a thread when a request first needs it there.
//!
//! The rooms, in the order a request meets them:
//! - `thread`: a serving thread and its accept loop;
//! - `state`: what a thread's connections share, and loading a worker's isolate there;
//! - `http`: hyper's request made the worker's, and the worker's response made hyper's;
//! - `dispatch`: assets, then the worker a route names (or a zone's origin), and its failures;
//! - `websocket`: a client's WebSocket upgrade, joined to the socket its worker answered;
//! - `isolates`: each thread's isolates by worker, the spare one, and eviction;
//! - `bindings`: service bindings and `env.ASSETS`, which call back into this server;
//! - `objects`: Durable Objects, each on one thread, reached from every thread;
//! - `cron`: scheduled handlers, on a clock or on demand;
//! - `site`: what is deployed, and the switch a deploy makes;
//! - `check`: loading workers once before they serve.

mod bindings;
mod check;
mod cron;
mod dispatch;
mod forwarded;
pub(crate) mod http;
mod isolates;
mod objects;
mod queues;
mod site;
mod state;
mod thread;
pub(crate) mod websocket;

pub use check::{check_workers, check_workers_here};
pub use site::{Deployed, Mode, Site, SiteHandle};

use crate::metrics::Metrics;
use crate::{BoundListeners, Geo};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use verge_config::WorkerConfig;
use verge_runtime::{LoadError, LogLevel, Stores, WorkerLimits};

/// Where a worker's console output goes, shared by every serving thread.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

#[derive(Clone)]
pub struct EdgeOptions {
    pub limits: WorkerLimits,
    /// Request bodies above this size are refused with 413 when they declare their length, and
    /// fail the worker's read when they do not.
    pub max_request_body: usize,
    pub console: LogSink,
    /// The origin behind the worker (`verge dev --origin`): incoming URLs name it, so that
    /// `fetch(request)` reaches it, and `passThroughOnException` forwards to it.
    pub origin: Option<url::Url>,
    /// A client that has not sent a whole request head within this time is disconnected.
    pub header_timeout: Duration,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain_timeout: Duration,
    /// Isolates unused for this long are dropped; `None` keeps them.
    pub isolate_idle: Option<Duration>,
    /// The JavaScript heap one serving thread's isolates may hold together; past it the least
    /// recently used are dropped. `None`: no budget.
    pub isolate_budget: Option<usize>,
    /// The stores workers' bindings reach.
    pub stores: Stores,
    /// At a PoP of a cluster: which PoP holds each Durable Object, and their logs.
    pub object_network: Option<verge_cluster::EdgeObjects>,
    /// Where `request.cf` comes from, and whose forwarding headers are believed.
    pub geo: Arc<Geo>,
    /// Cron triggers: run on schedule (`verge serve`), or on demand at `/__scheduled?cron=…`
    /// (`verge dev --test-scheduled`), or not at all.
    pub crons: Crons,
    /// `[server] redirect_http`: plain-HTTP requests get a 301 to HTTPS on this port.
    pub redirect_https: Option<u16>,
    /// `[tls.acme]`: the HTTP-01 answers the edge gives at `/.well-known/acme-challenge/`.
    pub acme_challenges: Option<Arc<crate::challenges::Challenges>>,
}

/// The connection a request came on: who sent it, and over what TLS, if any.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
    pub peer: std::net::SocketAddr,
    pub tls: Option<crate::tls::TlsFacts>,
}

/// When workers' `[triggers] crons` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crons {
    Off,
    /// On schedule, by the first serving thread.
    Scheduled,
    /// When a request for `/__scheduled?cron=…` asks, as `wrangler dev --test-scheduled`.
    OnDemand,
}

/// A server whose threads are loading or serving workers.
pub struct RunningServer {
    loaded: mpsc::Receiver<Result<(), LoadError>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// Stops a [`RunningServer`] from another thread (a signal handler).
#[derive(Clone)]
pub struct ShutdownHandle(tokio::sync::watch::Sender<bool>);

impl ShutdownHandle {
    /// Stops accepting connections and lets requests in flight finish, within the drain bound.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl RunningServer {
    /// Waits until every serving thread has loaded the worker, or one has failed to: the first
    /// failure is returned, and the caller should then exit.
    pub fn wait_loaded(&self) -> Result<(), LoadError> {
        for _ in 0..self.threads.len() {
            match self.loaded.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => break,
            }
        }
        Ok(())
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Blocks until every serving thread has stopped.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Starts one serving thread per listener, each loading its own isolate of `config`; connections
/// wait in the listen backlog until a thread has loaded the worker.
pub fn serve_worker(
    listeners: BoundListeners,
    config: Arc<WorkerConfig>,
    options: EdgeOptions,
) -> RunningServer {
    let site = SiteHandle::new(Site::single(config));
    serve_site(listeners, site, Arc::default(), options, true)
}

/// Starts one serving thread per listener for `site`. With `eager`, each thread loads the first
/// worker before it accepts connections and reports to [`RunningServer::wait_loaded`];
/// otherwise workers load on their first request on each thread.
pub fn serve_site(
    listeners: BoundListeners,
    site: SiteHandle,
    metrics: Arc<Metrics>,
    options: EdgeOptions,
    eager: bool,
) -> RunningServer {
    let (loaded_sender, loaded) = mpsc::channel();
    let (object_router, object_inboxes) =
        objects::ObjectRouter::new(listeners.listeners.len(), options.object_network.clone());
    let mut object_inboxes = object_inboxes.into_iter();
    if let Some(store) = &options.stores.objects {
        object_router.wake_alarms(store.as_ref(), &site.current());
    }
    if let Some(network) = &options.object_network {
        network.set_handler(forwarded::handler(Arc::downgrade(&object_router)));
        let remote = Arc::new(forwarded::ClusterExports(network.clone()));
        verge_runtime::connect_exports(network.pop(), remote);
    }
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let (mut tls_listeners, acceptor) = match listeners.tls {
        Some(tls) => (tls.listeners, Some(tls.acceptor)),
        None => (Vec::new(), None),
    };
    let threads = listeners
        .listeners
        .into_iter()
        .enumerate()
        .filter_map(|(index, listener)| {
            let listener = thread::ThreadListener {
                plain: listener,
                tls: tls_listeners.pop().zip(acceptor.clone()),
            };
            let site = site.clone();
            let metrics = metrics.clone();
            let options = options.clone();
            let stop = stop.clone();
            let loaded = loaded_sender.clone();
            let objects = (object_router.clone(), object_inboxes.next()?);
            std::thread::Builder::new()
                .name(format!("verge-serve-{index}"))
                .spawn(move || {
                    thread::serve_thread(
                        listener,
                        site,
                        metrics,
                        options,
                        eager,
                        index == 0,
                        loaded,
                        stop,
                        objects,
                    )
                })
                .map_err(|e| tracing::error!("cannot start serving thread {index}: {e}"))
                .ok()
        })
        .collect();
    RunningServer {
        loaded,
        threads,
        shutdown,
    }
}
