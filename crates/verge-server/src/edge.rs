//! Serving workers over HTTP/1.1 and HTTP/2 (cleartext): one worker for every request (`verge
//! dev`, with the origin behind it), or many tenants routed by host and path (`verge serve`),
//! each loaded into its own isolate on a thread when a request first needs it there.

use crate::assets::Assets;
use crate::geo::CfCache;
use crate::metrics::{Metrics, WorkerMetrics};
use crate::routes::{strip_port, RouteTable};
use crate::{BoundListeners, Geo};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use verge_config::{WorkerConfig, Zone};
use verge_runtime::{
    header_pair, BlankIsolate, Body, ConsoleSink, Grants, HttpClient, LoadError, LogLevel,
    ModuleCache, NativeBody, NetworkPolicy, OpError, Outbound, OutboundFuture, OutboundRequest,
    OutboundResponse, Outcome, RedirectMode, Refused, Storage, Worker, WorkerLimits, WorkerRequest,
};

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
    /// What workers' storage bindings reach.
    pub storage: Storage,
    /// Where `request.cf` comes from, and whose forwarding headers are believed.
    pub geo: Arc<Geo>,
    /// Cron triggers: run on schedule (`verge serve`), or on demand at `/__scheduled?cron=…`
    /// (`verge dev --test-scheduled`), or not at all.
    pub crons: Crons,
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

/// How often a serving thread looks for isolates to drop.
const EVICTION_PERIOD: Duration = Duration::from_millis(100);

/// Request heads above this size get 431 (Workers allow 128 KB of headers).
const MAX_REQUEST_HEAD: usize = 128 * 1024;

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

/// A worker as deployed: its config and its version. A thread whose isolate is of an older
/// version makes a new one, while requests in flight finish on the old.
#[derive(Clone)]
pub struct Deployed {
    pub config: Arc<WorkerConfig>,
    pub version: u64,
    /// This version's compiled modules, shared by its isolates on every thread.
    pub modules: ModuleCache,
    /// Its `[assets]`, served in front of it.
    pub assets: Option<Arc<Assets>>,
}

impl std::borrow::Borrow<WorkerConfig> for Deployed {
    fn borrow(&self) -> &WorkerConfig {
        &self.config
    }
}

impl Deployed {
    pub fn new(config: Arc<WorkerConfig>, version: u64) -> Self {
        let assets = config
            .assets
            .as_ref()
            .map(|assets| Arc::new(Assets::new(assets)));
        Self {
            config,
            version,
            modules: ModuleCache::default(),
            assets,
        }
    }
}

/// What a server serves.
pub struct Site {
    pub workers: Vec<Deployed>,
    /// Which worker a request goes to; `None` sends every request to the first (`verge dev`).
    pub routes: Option<RouteTable>,
    /// Hosts served by an origin: requests no route claims go there, and so does `fetch()`.
    pub zones: Vec<Zone>,
    /// Where workers' `fetch()` may connect.
    pub policy: NetworkPolicy,
    /// Each worker's index in `workers`, by name: service bindings and the admin API find a
    /// worker without a scan of thousands.
    by_name: HashMap<String, usize>,
}

impl Site {
    pub fn new(
        workers: Vec<Deployed>,
        routes: Option<RouteTable>,
        zones: Vec<Zone>,
        policy: NetworkPolicy,
    ) -> Self {
        let by_name = workers
            .iter()
            .enumerate()
            .map(|(index, worker)| (worker.config.name.clone(), index))
            .collect();
        Self {
            workers,
            routes,
            zones,
            policy,
            by_name,
        }
    }

    /// The index in `workers` of the worker called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// One worker answering everything, reaching any address.
    pub fn single(config: Arc<WorkerConfig>) -> Self {
        Self::single_version(Deployed::new(config, 1))
    }

    /// One worker, as deployed, answering everything: `verge dev` after a reload.
    pub fn single_version(deployed: Deployed) -> Self {
        Self::new(vec![deployed], None, Vec::new(), NetworkPolicy::open())
    }
}

/// The site being served, replaced whole by a deploy; each request reads the current one.
#[derive(Clone)]
pub struct SiteHandle(Arc<std::sync::RwLock<Arc<Site>>>);

impl SiteHandle {
    pub fn new(site: Site) -> Self {
        Self(Arc::new(std::sync::RwLock::new(Arc::new(site))))
    }

    pub fn current(&self) -> Arc<Site> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace(&self, site: Site) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(site);
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
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let threads = listeners
        .listeners
        .into_iter()
        .enumerate()
        .filter_map(|(index, listener)| {
            let site = site.clone();
            let metrics = metrics.clone();
            let options = options.clone();
            let stop = stop.clone();
            let loaded = loaded_sender.clone();
            std::thread::Builder::new()
                .name(format!("verge-serve-{index}"))
                .spawn(move || {
                    serve_thread(
                        listener,
                        site,
                        metrics,
                        options,
                        eager,
                        index == 0,
                        loaded,
                        stop,
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

/// Loads each of `workers` once, to refuse workers that do not compile before they serve: the
/// first failing worker's name (in the order given) and the error. The workers are shared out
/// among one thread per core, as each check makes an isolate (~1 ms: ten thousand workers
/// would take ten seconds on one thread). The calling thread must not be inside a tokio
/// runtime; see [`check_workers_here`] for one that is.
pub fn check_workers(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per_thread = workers.len().div_ceil(cores).max(1);
    let mut parts = workers.chunks(per_thread);
    let Some(first) = parts.next() else {
        return Ok(());
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| scope.spawn(move || check_on_this_thread(part, options)))
            .collect();
        // The parts are in order, so the first error among them is the first failing worker.
        check_on_this_thread(first, options)?;
        others.into_iter().try_for_each(|other| {
            other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

fn check_on_this_thread(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            (
                "(runtime)".to_owned(),
                LoadError::Read {
                    path: String::new(),
                    source: e,
                },
            )
        })?;
    tokio::task::LocalSet::new().block_on(&runtime, check_workers_here(workers, options))
}

/// [`check_workers`] inside a `LocalSet` that is already running.
pub async fn check_workers_here(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    for Deployed {
        config, modules, ..
    } in workers
    {
        // A check runs the worker's top level, no request: like Workers, it may not reach the
        // network then (nor, on `verge serve`, anything its outbound policy would refuse).
        const NO_IO: &str = "fetch() is not available while a worker is loaded: I/O belongs in a request handler, as on Workers";
        let grants = Grants {
            console: Rc::new(|_, _| {}),
            outbound: Rc::new(Refused(NO_IO)),
            storage: options.storage.clone(),
            services: Rc::new(|_| Rc::new(Refused(NO_IO))),
            assets: Some(Rc::new(Refused(NO_IO))),
        };
        let isolate = BlankIsolate::new().map_err(|error| (config.name.clone(), error))?;
        Worker::load(
            config,
            options.limits.clone(),
            grants,
            Some(modules.clone()),
            isolate,
        )
        .await
        .map_err(|error| (config.name.clone(), error))?;
    }
    Ok(())
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Log => "log",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// A loaded isolate of a worker, counted among the live ones while it exists.
struct LiveWorker {
    worker: Worker,
    metrics: Arc<WorkerMetrics>,
    /// The isolate's busy time already added to the metrics.
    busy_counted: std::cell::Cell<std::time::Duration>,
}

impl LiveWorker {
    /// Adds the isolate's running time since the last call to the worker's metrics.
    fn count_busy(&self) {
        let busy = self.worker.busy_time();
        let delta = busy.saturating_sub(self.busy_counted.replace(busy));
        let nanos = u64::try_from(delta.as_nanos()).unwrap_or(u64::MAX);
        self.metrics.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.metrics.live_isolates.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One worker on one serving thread: its isolate of one version, loaded when a request first
/// needs it. Replaced by a fresh slot to discard the isolate; requests in flight keep theirs.
struct Tenant {
    version: u64,
    slot: Rc<tokio::sync::OnceCell<Rc<LiveWorker>>>,
    last_used: std::cell::Cell<Instant>,
}

/// Through how many service bindings one request may go, as on Workers.
const MAX_SERVICE_DEPTH: u32 = 32;

/// A service binding: `fetch()` that runs another worker of this server, on this thread, with
/// no network in between.
struct ServiceOutbound {
    state: std::rc::Weak<ThreadState>,
    service: String,
}

impl Outbound for ServiceOutbound {
    fn fetch(&self, request: OutboundRequest) -> OutboundFuture {
        let state = self.state.clone();
        let service = self.service.clone();
        Box::pin(async move {
            let state = state
                .upgrade()
                .ok_or_else(|| OpError::Error("the server is stopping".into()))?;
            let site = state.site.current();
            let index = site.position(&service).ok_or_else(|| {
                OpError::Type(format!(
                    "service binding: no worker named \"{service}\" runs on this server"
                ))
            })?;
            let depth = request.depth + 1;
            if depth > MAX_SERVICE_DEPTH {
                return Err(OpError::Error(format!(
                    "Subrequest depth limit exceeded: this request went through more than {MAX_SERVICE_DEPTH} service bindings."
                )));
            }
            let OutboundRequest {
                method,
                url,
                headers,
                body,
                ..
            } = request;
            let worker_request = WorkerRequest {
                method,
                url: url.clone(),
                headers,
                body,
                cf: Rc::from("{}"),
                depth,
            };
            let response = run(&state, &site, index, worker_request).await;
            Ok(local_response(response, url))
        })
    }
}

/// What one serving thread shares between its connections.
struct ThreadState {
    /// Itself, for what must reach it later (service bindings, the spare isolate's task).
    this: std::rc::Weak<ThreadState>,
    site: SiteHandle,
    /// The site the last eviction round saw; a different one may have dropped workers.
    evicted_for: std::cell::RefCell<Arc<Site>>,
    metrics: Arc<Metrics>,
    /// This thread's isolates, by worker name.
    tenants: std::cell::RefCell<HashMap<String, Tenant>>,
    client: HttpClient,
    options: EdgeOptions,
    /// The isolate the next cold start takes (serving many workers), made once the request
    /// that took the last one is answered.
    spare: std::cell::RefCell<Option<BlankIsolate>>,
    /// A task to make the spare is queued.
    making_spare: std::cell::Cell<bool>,
    /// `request.cf` of this thread's recent clients.
    cf_texts: CfCache,
}

impl ThreadState {
    /// An isolate for a cold start: the spare if there is one.
    fn blank_isolate(&self) -> Result<BlankIsolate, LoadError> {
        let spare = self.spare.borrow_mut().take();
        spare.map_or_else(BlankIsolate::new, Ok)
    }

    /// Queues making a spare isolate if there is none. Called as a response is handed to the
    /// connection, which writes it before this thread's next task runs: the work stays off
    /// every request's path.
    fn replenish_spare(&self) {
        if self.spare.borrow().is_some() || self.making_spare.replace(true) {
            return;
        }
        let state = self.this.clone();
        tokio::task::spawn_local(async move {
            let Some(state) = state.upgrade() else { return };
            state.making_spare.set(false);
            match BlankIsolate::new() {
                Ok(spare) => *state.spare.borrow_mut() = Some(spare),
                Err(e) => tracing::warn!("cannot make a spare isolate: {e}"),
            }
        });
    }

    /// The isolate of `site`'s worker `index` on this thread, loading it on first use (a cold
    /// start) or when the worker's version changed.
    async fn worker(&self, site: &Site, index: usize) -> Result<Rc<LiveWorker>, LoadError> {
        let Deployed {
            config,
            version,
            modules,
            assets,
        } = &site.workers[index];
        let version = *version;
        let slot = {
            let mut tenants = self.tenants.borrow_mut();
            let fresh = || Tenant {
                version,
                slot: Rc::default(),
                last_used: std::cell::Cell::new(Instant::now()),
            };
            let tenant = tenants.entry(config.name.clone()).or_insert_with(fresh);
            if tenant.version != version {
                *tenant = fresh();
            }
            tenant.last_used.set(Instant::now());
            tenant.slot.clone()
        };
        slot.get_or_try_init(|| async {
            let started = Instant::now();
            let sink = self.options.console.clone();
            let console: ConsoleSink = if site.routes.is_some() {
                let name = config.name.clone();
                let metrics = self.metrics.clone();
                Rc::new(move |level, text| {
                    metrics.tail.publish(&name, level_name(level), text);
                    sink(level, &format!("[{name}] {text}"))
                })
            } else {
                Rc::new(move |level, text| sink(level, text))
            };
            let this = self.this.clone();
            let grants = Grants {
                console,
                outbound: Rc::new(self.client.clone()),
                storage: self.options.storage.clone(),
                services: Rc::new(move |service| {
                    Rc::new(ServiceOutbound {
                        state: this.clone(),
                        service: service.to_owned(),
                    })
                }),
                assets: assets
                    .clone()
                    .map(|assets| -> Rc<dyn Outbound> { Rc::new(AssetsOutbound { assets }) }),
            };
            let worker = Worker::load(
                config,
                self.options.limits.clone(),
                grants,
                Some(modules.clone()),
                self.blank_isolate()?,
            )
            .await?;
            let metrics = self.metrics.worker(&config.name);
            metrics.cold_starts.fetch_add(1, Ordering::Relaxed);
            metrics.live_isolates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                worker = %config.name,
                "isolate created in {:.2} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok(Rc::new(LiveWorker {
                worker,
                metrics,
                busy_counted: Default::default(),
            }))
        })
        .await
        .cloned()
    }

    /// Drops worker `name`'s isolate on this thread; the next request creates a fresh one.
    fn discard(&self, name: &str) {
        self.tenants.borrow_mut().remove(name);
    }

    /// Drops the isolates of workers no longer deployed, those idle past the idle bound, then
    /// the least recently used ones while this thread's isolates hold more heap than the
    /// budget. Requests in flight keep theirs.
    fn evict(&self) {
        self.forget_removed();
        let mut tenants = self.tenants.borrow_mut();
        if let Some(idle) = self.options.isolate_idle {
            tenants.retain(|name, tenant| {
                let keep = tenant.last_used.get().elapsed() < idle;
                if !keep && tenant.slot.initialized() {
                    tracing::debug!(worker = %name, "isolate dropped after {idle:?} idle");
                }
                keep
            });
        }
        let Some(budget) = self.options.isolate_budget else {
            return;
        };
        let heap = |tenant: &Tenant| tenant.slot.get().map_or(0, |live| live.worker.heap_bytes());
        let mut total: usize = tenants.values().map(heap).sum();
        while total > budget {
            let Some((oldest, bytes)) = tenants
                .iter()
                .filter(|(_, tenant)| tenant.slot.initialized())
                .min_by_key(|(_, tenant)| tenant.last_used.get())
                .map(|(name, tenant)| (name.clone(), heap(tenant)))
            else {
                break;
            };
            tracing::debug!(worker = %oldest, "isolate dropped: the isolates' heap is over budget");
            tenants.remove(&oldest);
            total = total.saturating_sub(bytes);
        }
    }

    /// Drops the isolates of workers that are no longer deployed, once per change of site.
    fn forget_removed(&self) {
        let site = self.site.current();
        if Arc::ptr_eq(&site, &self.evicted_for.replace(site.clone())) {
            return;
        }
        let deployed: std::collections::HashSet<&str> = site
            .workers
            .iter()
            .map(|w| w.config.name.as_str())
            .collect();
        self.tenants
            .borrow_mut()
            .retain(|name, _| deployed.contains(name.as_str()));
    }
}

#[allow(clippy::too_many_arguments)]
fn serve_thread(
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
            evicted_for: std::cell::RefCell::new(current.clone()),
            site,
            metrics,
            tenants: Default::default(),
            client,
            options,
            spare: Default::default(),
            cf_texts: CfCache::default(),
            making_spare: Default::default(),
        });
        if eager {
            if let Err(error) = state.worker(&current, 0).await {
                let _ = loaded.send(Err(error));
                return;
            }
        } else {
            state.replenish_spare();
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
                    match state.upgrade() {
                        Some(state) => state.evict(),
                        None => break,
                    }
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

async fn handle(
    state: Rc<ThreadState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<NativeBody>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let host = request_host(&request);
    let site = state.site.current();
    let tenant = match &site.routes {
        None => Some(0),
        Some(routes) => routes.find(&host, &path),
    };
    if state.options.crons == Crons::OnDemand && path.starts_with("/__scheduled") {
        return Ok(scheduled_on_demand(&state, &site, tenant, &path).await);
    }
    let assets = tenant.and_then(|index| {
        let deployed = &site.workers[index];
        let assets_only = deployed.config.main.is_none();
        deployed.assets.clone().map(|assets| (assets, assets_only))
    });
    if let Some((assets, assets_only)) =
        assets.filter(|(assets, only)| *only || !assets.worker_first(path_only(&path)))
    {
        let answered = match assets.serve(&method, &path, request.headers()).await {
            Some(response) => Some(response),
            None if assets_only || assets.serves_navigation(request.headers()) => Some(
                assets
                    .not_found(&method, path_only(&path), request.headers())
                    .await,
            ),
            None => None,
        };
        if let Some(response) = answered {
            tracing::info!(
                target: "verge::request",
                "{method} {path} {} (asset, {:.1} ms)",
                response.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            return Ok(response);
        }
    }
    let response = match to_worker_request(request, peer, &state.options, &state.cf_texts) {
        Err((status, message)) => plain(status, message),
        Ok(worker_request) => match tenant {
            Some(index) => run(&state, &site, index, worker_request).await,
            None if in_a_zone(&site.zones, &host) => {
                let WorkerRequest {
                    method,
                    url,
                    headers,
                    body,
                    ..
                } = worker_request;
                let request = OutboundRequest {
                    method,
                    url,
                    headers,
                    body,
                    redirect: RedirectMode::Manual,
                    depth: 0,
                };
                to_origin(&state, "(no route)", request).await
            }
            None => plain(
                StatusCode::NOT_FOUND,
                "Error 404: no worker is routed for this host and path\n",
            ),
        },
    };
    tracing::info!(
        target: "verge::request",
        "{method} {path} {} ({:.1} ms)",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if site.routes.is_some() {
        state.replenish_spare();
    }
    Ok(response)
}

/// The path of a path-and-query.
fn path_only(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
}

/// What a binding's `fetch()` answers when this server made the response itself (another
/// worker, the assets): no network, no redirects followed.
fn local_response(response: Response<NativeBody>, url: String) -> OutboundResponse {
    let (parts, body) = response.into_parts();
    OutboundResponse {
        status: parts.status.as_u16(),
        status_text: parts.status.canonical_reason().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| header_pair(name, value))
            .collect(),
        url,
        redirected: false,
        body: Body::Stream(body),
    }
}

/// The `[assets]` binding (`env.ASSETS.fetch()`): the worker's own static files, with
/// `not_found_handling` for paths that match none.
struct AssetsOutbound {
    assets: Arc<Assets>,
}

impl Outbound for AssetsOutbound {
    fn fetch(&self, request: OutboundRequest) -> OutboundFuture {
        let assets = self.assets.clone();
        Box::pin(async move {
            let url = url::Url::parse(&request.url)
                .map_err(|e| OpError::Type(format!("Invalid URL {}: {e}", request.url)))?;
            let method = Method::from_bytes(request.method.as_bytes())
                .map_err(|_| OpError::Type(format!("Invalid method {}", request.method)))?;
            let headers: http::HeaderMap = request
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((
                        HeaderName::from_bytes(name.as_bytes()).ok()?,
                        HeaderValue::from_str(value).ok()?,
                    ))
                })
                .collect();
            let path = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            let response = match assets.serve(&method, &path, &headers).await {
                Some(response) => response,
                None => assets.not_found(&method, url.path(), &headers).await,
            };
            Ok(local_response(response, request.url))
        })
    }
}

/// Whether some zone serves `host` (a port is ignored).
fn in_a_zone(zones: &[Zone], host: &str) -> bool {
    let host = strip_port(host);
    zones.iter().any(|zone| zone.serves(host))
}

fn request_host(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "localhost".into())
}

/// Runs tenant `index`. With an origin behind it, a failure after `passThroughOnException`
/// forwards the request there as if there were no worker.
async fn run(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: WorkerRequest,
) -> Response<NativeBody> {
    let name = site.workers[index].config.name.as_str();
    let metrics = state.metrics.worker(name);
    metrics.requests.fetch_add(1, Ordering::Relaxed);
    let response = run_worker(state, site, index, request).await;
    if response.status().is_server_error() {
        metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn run_worker(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: WorkerRequest,
) -> Response<NativeBody> {
    let name = site.workers[index].config.name.as_str();
    let live = match state.worker(site, index).await {
        Ok(live) => live,
        Err(error) => {
            tracing::error!(worker = name, "cannot load the worker: {error}");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            );
        }
    };
    let has_origin = state.options.origin.is_some() || !site.zones.is_empty();
    // What pass-through needs to resend the request; a streamed body cannot be replayed.
    let replay = has_origin.then_some(()).and_then(|_| {
        let body = match &request.body {
            Body::Empty => Body::Empty,
            Body::Full(bytes) => Body::Full(bytes.clone()),
            Body::Stream(_) => return None,
        };
        Some(OutboundRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body,
            redirect: RedirectMode::Manual,
            depth: request.depth,
        })
    });
    let outcome = live.worker.fetch(request).await;
    live.count_busy();
    match outcome {
        Outcome::Response(response) => {
            to_hyper(name, response.status, &response.headers, response.body)
        }
        Outcome::LimitExceeded { message } => {
            tracing::error!(worker = name, "request stopped: {message}");
            // Jobs the stopped script queued may still be waiting to run: the isolate goes,
            // and the next request gets a fresh one.
            state.discard(name);
            limit_exceeded(&message)
        }
        Outcome::Completed => {
            tracing::error!(worker = name, "the fetch handler answered nothing");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            )
        }
        Outcome::Exception { error, .. } if error.is_out_of_memory() => {
            tracing::error!(
                worker = name,
                "request stopped: the isolate ran out of memory; it is discarded"
            );
            state.discard(name);
            limit_exceeded("the worker ran out of memory")
        }
        Outcome::Exception {
            error,
            pass_through,
        } => {
            tracing::error!(worker = name, "uncaught exception: {error}");
            state
                .metrics
                .tail
                .publish(name, "exception", &error.to_string());
            match replay {
                Some(request) if pass_through => to_origin(state, name, request).await,
                _ => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error 1101: Worker threw exception\n",
                ),
            }
        }
    }
}

/// Runs worker `index`'s scheduled handler for `cron` firing at `at`; why it failed, if it did.
/// Failures are logged and published to `verge tail` like a request's.
async fn run_scheduled(
    state: &ThreadState,
    site: &Site,
    index: usize,
    cron: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let name = site.workers[index].config.name.as_str();
    let live = state
        .worker(site, index)
        .await
        .map_err(|error| format!("cannot load the worker: {error}"))?;
    #[allow(clippy::cast_precision_loss)]
    let outcome = live
        .worker
        .scheduled(cron, at.timestamp_millis() as f64)
        .await;
    live.count_busy();
    let failure = match outcome {
        Outcome::Completed | Outcome::Response(_) => None,
        Outcome::LimitExceeded { message } => {
            state.discard(name);
            Some(message)
        }
        Outcome::Exception { error, .. } => {
            if error.is_out_of_memory() {
                state.discard(name);
            }
            Some(error.to_string())
        }
    };
    match failure {
        None => {
            tracing::info!(worker = name, "scheduled \"{cron}\" ran");
            Ok(())
        }
        Some(failure) => {
            tracing::error!(worker = name, "scheduled \"{cron}\" failed: {failure}");
            state.metrics.tail.publish(name, "exception", &failure);
            Err(failure)
        }
    }
}

/// The first serving thread's cron clock: sleeps until the next trigger of any worker's crons
/// (at most a minute, so that deploys are seen), then runs every trigger due, each in its own
/// task so that a slow handler delays no other.
async fn run_crons(state: std::rc::Weak<ThreadState>) {
    let mut after = chrono::Utc::now();
    loop {
        let Some(site) = state.upgrade().map(|state| state.site.current()) else {
            return;
        };
        let mut due: Vec<(usize, String, chrono::DateTime<chrono::Utc>)> = Vec::new();
        let mut next: Option<chrono::DateTime<chrono::Utc>> = None;
        for (index, deployed) in site.workers.iter().enumerate() {
            for cron in &deployed.config.crons {
                let Ok(schedule) = cron.parse::<croner::Cron>() else {
                    continue;
                };
                let Ok(at) = schedule.find_next_occurrence(&after, false) else {
                    continue;
                };
                if at <= chrono::Utc::now() {
                    due.push((index, cron.clone(), at));
                } else if next.is_none_or(|next| at < next) {
                    next = Some(at);
                }
            }
        }
        if due.is_empty() {
            let until = next.map_or(Duration::from_secs(60), |next| {
                (next - chrono::Utc::now()).to_std().unwrap_or_default()
            });
            tokio::time::sleep(until.min(Duration::from_secs(60))).await;
            continue;
        }
        for (index, cron, at) in due {
            after = after.max(at);
            let (state, site) = (state.clone(), site.clone());
            tokio::task::spawn_local(async move {
                if let Some(state) = state.upgrade() {
                    let _ = run_scheduled(&state, &site, index, &cron, at).await;
                }
            });
        }
    }
}

/// `/__scheduled?cron=…` under `verge dev --test-scheduled`: runs the scheduled handler now, as
/// `wrangler dev` does, and says how it went.
async fn scheduled_on_demand(
    state: &ThreadState,
    site: &Site,
    tenant: Option<usize>,
    path: &str,
) -> Response<NativeBody> {
    let Some(index) = tenant else {
        return plain(
            StatusCode::NOT_FOUND,
            "Error 404: no worker is routed here\n",
        );
    };
    let query = path.split_once('?').map_or("", |(_, query)| query);
    let cron = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "cron")
        .map_or_else(String::new, |(_, value)| value.into_owned());
    match run_scheduled(state, site, index, &cron, chrono::Utc::now()).await {
        Ok(()) => plain(StatusCode::OK, "Ran scheduled event\n"),
        Err(failure) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The scheduled handler failed: {failure}\n"),
        ),
    }
}

/// Sends `request` to the origin behind the worker `name` (a pass-through, or a zone's request
/// that no route claims).
async fn to_origin(
    state: &ThreadState,
    name: &str,
    request: OutboundRequest,
) -> Response<NativeBody> {
    tracing::info!(
        worker = name,
        "passing {} {} through to the origin",
        request.method,
        request.url
    );
    match state.client.send(request).await {
        Ok(response) => to_hyper(name, response.status, &response.headers, response.body),
        Err(error) => {
            tracing::error!(worker = name, "the origin failed: {error:?}");
            plain(
                StatusCode::BAD_GATEWAY,
                "Error 502: the origin could not be reached\n",
            )
        }
    }
}

fn to_hyper(
    worker: &str,
    status: u16,
    headers: &[(String, String)],
    body: Body,
) -> Response<NativeBody> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        // hyper frames the body itself; a worker's framing headers would contradict it.
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            latin1_header_value(value),
        ) {
            (Ok(name), Some(value)) => builder = builder.header(name, value),
            _ => tracing::warn!(worker, "dropped an invalid response header {name:?}"),
        }
    }
    let body = match body {
        Body::Empty => Empty::new().map_err(|never| match never {}).boxed(),
        Body::Full(bytes) => Full::new(bytes).map_err(|never| match never {}).boxed(),
        Body::Stream(stream) => stream,
    };
    builder.body(body).unwrap_or_else(|_| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid response from worker\n",
        )
    })
}

/// A header value from the worker, whose strings hold bytes as Latin-1 code points (ByteString).
fn latin1_header_value(value: &str) -> Option<HeaderValue> {
    let bytes: Option<Vec<u8>> = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    HeaderValue::from_bytes(&bytes?).ok()
}

fn to_worker_request(
    request: Request<Incoming>,
    peer: SocketAddr,
    options: &EdgeOptions,
    cf_texts: &CfCache,
) -> Result<WorkerRequest, (StatusCode, &'static str)> {
    let host = request_host(&request);
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = match &options.origin {
        Some(origin) => format!("{}{path}", origin.origin().ascii_serialization()),
        None => format!("http://{host}{path}"),
    };
    let client = options.geo.client(peer.ip(), &parts.headers);
    let protocol = match parts.version {
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let client_ip = client.ip.to_string();
    // The chain of addresses a request came through, ending with the peer that sent it here.
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "cf-connecting-ip" | "x-forwarded-for" | "cf-ipcountry"
            )
        })
        .map(|(name, value)| header_pair(name, value))
        .collect();
    // As at Cloudflare's edge: the client's address, which the origin sees on a pass-through.
    headers.push(("cf-connecting-ip".into(), client_ip.clone()));
    let cf = options.geo.cf_text(cf_texts, &client, protocol);
    if let Some(country) = &cf.country {
        headers.push(("cf-ipcountry".into(), country.to_string()));
    }
    headers.push(("x-forwarded-for".into(), forwarded_for));

    let max_body = options.max_request_body;
    let declared_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_body as u64) {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large
",
        ));
    }
    // The body streams into the worker as it arrives; one that outgrows the limit without
    // declaring its length fails the worker's read.
    let body = if body.is_end_stream() {
        Body::Empty
    } else {
        Body::Stream(Limited::new(body, max_body).boxed())
    };
    Ok(WorkerRequest {
        method: parts.method.as_str().to_owned(),
        url,
        headers,
        body,
        cf: cf.json,
        depth: 0,
    })
}

/// Workers' error 1102, naming the limit.
fn limit_exceeded(limit: &str) -> Response<NativeBody> {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Error 1102: Worker exceeded resource limits: {limit}\n"),
    )
}

pub(crate) fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<NativeBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}
