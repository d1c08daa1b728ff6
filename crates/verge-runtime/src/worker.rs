//! One loaded worker on one thread, on the engine its config names: QuickJS here (its
//! isolate, entry point and `env`, and the fetch path), JavaScriptCore in `jsc.rs`.

use crate::entry::{self, Event, Outcome};
use crate::format;
use crate::host::{wall_clock, Grants, LoadError, WorkerLimits};
use crate::jsc::JscWorker;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::oneshot;
use verge_bindings::ObjectState;
use verge_config::WorkerConfig;
use verge_js::rquickjs::context::EvalOptions;
use verge_js::rquickjs::Value;
use verge_js::{Isolate, IsolateLimits, JsError, ModuleCache};
use verge_web::{ConsoleSink, Request, WebHost};

/// Why a request failed whose handler's promise was collected unsettled: nothing can settle it.
const NEVER_SETTLES: &str =
    "the script will never generate a response: its promise was dropped without settling";

/// An isolate with the Web APIs installed that belongs to no worker yet. A server makes one
/// ahead of time, off the request path, so that a cold start skips creating the engine and
/// installing the APIs: [`Worker::load`] gives it the worker's limits, console and network.
/// A JavaScriptCore VM with the platform installed ([`BlankIsolate::new_for`]) is the same for
/// a worker on that engine; [`BlankIsolate::on_demand`] stands for one not made yet, made if
/// the worker turns out to need it.
pub struct BlankIsolate(Spare);

enum Spare {
    QuickJs(Isolate),
    Jsc(verge_jsc::Web),
    OnDemand,
}

impl BlankIsolate {
    /// A QuickJS isolate.
    pub fn new() -> Result<Self, LoadError> {
        let isolate = Isolate::new(IsolateLimits::default()).map_err(LoadError::Internal)?;
        verge_web::install(&isolate, WebHost::unreachable(), &crate::platform::PLATFORM)
            .map_err(LoadError::Internal)?;
        Ok(Self(Spare::QuickJs(isolate)))
    }

    /// One for a worker on `engine`.
    pub fn new_for(engine: verge_config::Engine) -> Result<Self, LoadError> {
        match engine {
            verge_config::Engine::QuickJs => Self::new(),
            verge_config::Engine::Jsc => crate::jsc::blank_vm().map(|web| Self(Spare::Jsc(web))),
        }
    }

    /// None made yet: one is made if the worker turns out to need it.
    pub fn on_demand() -> Self {
        Self(Spare::OnDemand)
    }

    fn take(self) -> Result<Isolate, LoadError> {
        match self.0 {
            Spare::QuickJs(isolate) => Ok(isolate),
            _ => Self::new()?.take(),
        }
    }

    /// The JavaScriptCore VM, if this is one.
    fn take_vm(self) -> Option<verge_jsc::Web> {
        match self.0 {
            Spare::Jsc(web) => Some(web),
            _ => None,
        }
    }
}

/// The entry of a project of `[assets]` alone.
const ASSETS_ONLY_NAME: &str = "verge:assets-only.js";
const ASSETS_ONLY: &str =
    "export default { fetch: () => new Response('Not Found', { status: 404 }) };\n";

/// A worker loaded on the current thread, on the engine its config names.
pub struct Worker(Engine);

enum Engine {
    QuickJs(QuickJsWorker),
    Jsc(JscWorker),
}

impl Worker {
    /// Loads `config`'s project into `isolate`: gives it the worker's limits and `grants`
    /// (console, network), builds `env` from its vars and bindings, evaluates the entry (as an
    /// ES module or a service-worker script) and finds its fetch handler. ES modules come from
    /// `modules` where it holds them, and go into it otherwise. Must run inside a `LocalSet`.
    /// A worker whose config says `engine = "jsc"` gets a JavaScriptCore VM instead (see
    /// `jsc.rs`), and `isolate` is not used.
    pub async fn load(
        config: &WorkerConfig,
        limits: WorkerLimits,
        grants: Grants,
        modules: Option<ModuleCache>,
        isolate: BlankIsolate,
    ) -> Result<Self, LoadError> {
        // A project of [assets] alone has only the 404 stub below, the same on every engine.
        if config.engine == verge_config::Engine::Jsc && config.main.is_some() {
            return JscWorker::load(config, limits, grants, isolate.take_vm())
                .await
                .map(|worker| Self(Engine::Jsc(worker)));
        }
        QuickJsWorker::load_as(config, limits, grants, modules, isolate, None)
            .await
            .map(|worker| Self(Engine::QuickJs(worker)))
    }

    /// Loads `config`'s project as [`Worker::load`] does, then makes the Durable Object of
    /// `object` (of a class the entry module exports): the isolate's requests and calls go to
    /// it.
    pub async fn load_object(
        config: &WorkerConfig,
        limits: WorkerLimits,
        grants: Grants,
        modules: Option<ModuleCache>,
        isolate: BlankIsolate,
        object: ObjectState,
    ) -> Result<Self, LoadError> {
        QuickJsWorker::load_as(config, limits, grants, modules, isolate, Some(object))
            .await
            .map(|worker| Self(Engine::QuickJs(worker)))
    }

    pub fn name(&self) -> &str {
        match &self.0 {
            Engine::QuickJs(worker) => &worker.name,
            Engine::Jsc(worker) => worker.name(),
        }
    }

    /// Whether the engine was stopped at a limit outside any request (in `ctx.waitUntil` work,
    /// a timer, a body stream) and must be replaced before it serves again. A QuickJS isolate
    /// stopped so fails the request that next enters it, which replaces it.
    pub fn is_spent(&self) -> bool {
        match &self.0 {
            Engine::QuickJs(_) => false,
            Engine::Jsc(worker) => worker.is_spent(),
        }
    }

    /// How many WebSockets the isolate holds open: dropping it would close them.
    pub fn open_sockets(&self) -> usize {
        match &self.0 {
            Engine::QuickJs(worker) => worker.sockets.get(),
            Engine::Jsc(_) => 0,
        }
    }

    /// Time this worker's engine has spent running JavaScript.
    pub fn busy_time(&self) -> Duration {
        match &self.0 {
            Engine::QuickJs(worker) => worker.isolate.busy_time(),
            Engine::Jsc(worker) => worker.busy_time(),
        }
    }

    /// Bytes the worker's JavaScript heap holds (on JavaScriptCore: at its last measurement).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Engine::QuickJs(worker) => worker.isolate.heap_bytes(),
            Engine::Jsc(worker) => worker.heap_bytes(),
        }
    }

    /// Runs the fetch handler for `request`. `ctx.waitUntil` work goes on in a local task after
    /// this returns, for at most the configured bound.
    pub async fn fetch(&self, request: Request) -> Outcome {
        self.fetch_entrypoint(request, None, None).await
    }

    /// Runs the fetch handler of `entrypoint`, a `WorkerEntrypoint` class the worker exports
    /// (`None`: the default export), for `request`, as [`Worker::fetch`] does. What it logs
    /// (until its `ctx.waitUntil` work ends) goes to `console` if given, else to the worker's.
    pub async fn fetch_entrypoint(
        &self,
        request: Request,
        entrypoint: Option<String>,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        match &self.0 {
            Engine::QuickJs(worker) => {
                let depth = request.depth;
                worker
                    .dispatch(depth, Event::Fetch(request, entrypoint), console)
                    .await
            }
            Engine::Jsc(worker) => worker.fetch(request, entrypoint, console).await,
        }
    }

    /// Calls `method` with the arguments `args` serializes, on this isolate's Durable Object or
    /// on a new instance of `entrypoint` (`None`: the default export): [`Outcome::Reply`] with
    /// the serialized result or the method's exception, under the same limits as a request.
    pub async fn call(
        &self,
        entrypoint: Option<String>,
        method: String,
        args: String,
        depth: u32,
    ) -> Outcome {
        let event = Event::Call {
            entrypoint,
            method,
            args,
        };
        self.quickjs_only(depth, event, "RPC").await
    }

    /// Runs the Durable Object's `alarm()` handler, after `retry_count` failed runs:
    /// [`Outcome::Completed`] unless it throws or runs past a limit.
    pub async fn alarm(&self, retry_count: u32) -> Outcome {
        self.quickjs_only(0, Event::Alarm { retry_count }, "Durable Object alarms")
            .await
    }

    /// Delivers `frame`, from the client of the Durable Object's held `socket`, to its
    /// `webSocketMessage` (or `webSocketClose`, `webSocketError`) handler.
    pub async fn socket_event(
        &self,
        socket: verge_bindings::HeldSocket,
        frame: verge_web::Frame,
    ) -> Outcome {
        self.quickjs_only(0, Event::Socket { socket, frame }, "WebSockets")
            .await
    }

    /// Runs the scheduled handler for cron trigger `cron` firing at `scheduled_time_ms` (ms
    /// since the epoch): [`Outcome::Completed`] unless it throws or runs past a limit, with the
    /// same limits, `ctx.waitUntil` and `console` as a request.
    pub async fn scheduled(
        &self,
        cron: &str,
        scheduled_time_ms: f64,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        match &self.0 {
            Engine::QuickJs(worker) => {
                let event = Event::Scheduled {
                    cron: cron.to_owned(),
                    time_ms: scheduled_time_ms,
                };
                worker.dispatch(0, event, console).await
            }
            Engine::Jsc(worker) => worker.scheduled(cron, scheduled_time_ms, console).await,
        }
    }

    /// Runs the queue handler for a batch of `queue`'s `messages`: [`Outcome::Reply`] with what
    /// it decided of them (JSON of `{ each: [[id, ['ack'] | ['retry', delay]]…], all, error }`,
    /// `error` the handler's failure), under the same limits, `ctx.waitUntil` and `console` as
    /// a request.
    pub async fn queue(
        &self,
        queue: &str,
        messages: Vec<verge_storage::QueuedMessage>,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        match &self.0 {
            Engine::QuickJs(worker) => {
                let event = Event::Queue {
                    queue: queue.to_owned(),
                    messages,
                };
                worker.dispatch(0, event, console).await
            }
            Engine::Jsc(worker) => worker.queue(queue, messages, console).await,
        }
    }

    /// Dispatches `event` on QuickJS; on JavaScriptCore, which has no `what` yet, an exception
    /// that says so.
    async fn quickjs_only(&self, depth: u32, event: Event, what: &str) -> Outcome {
        match &self.0 {
            Engine::QuickJs(worker) => worker.dispatch(depth, event, None).await,
            Engine::Jsc(_) => Outcome::Exception {
                error: JsError::thrown(
                    "TypeError",
                    format!("{what} are not available on the JavaScriptCore engine yet"),
                ),
                pass_through: false,
            },
        }
    }
}

/// A worker loaded into a QuickJS isolate.
struct QuickJsWorker {
    name: String,
    isolate: Isolate,
    limits: WorkerLimits,
    /// The tag of the last request started (see `Isolate::enter_as`).
    last_request: std::cell::Cell<u64>,
    /// Requests in flight that the CPU deadline may stop, by tag.
    interruptible: Rc<RefCell<HashMap<u64, oneshot::Sender<()>>>>,
    cpu_slice: Option<Duration>,
    /// WebSockets open through the host (see `verge_web::open_sockets`).
    sockets: Rc<std::cell::Cell<usize>>,
}

impl QuickJsWorker {
    async fn load_as(
        config: &WorkerConfig,
        limits: WorkerLimits,
        grants: Grants,
        modules: Option<ModuleCache>,
        isolate: BlankIsolate,
        object: Option<ObjectState>,
    ) -> Result<Self, LoadError> {
        let Grants {
            console,
            outbound,
            bindings,
        } = grants;
        let (main, source) = match &config.main {
            Some(main) => {
                let path = config.root.join(main);
                let source = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                (main.as_str(), source)
            }
            // The server answers every request of a project of [assets] alone from its
            // assets; should one reach the worker, it is not found.
            None => (ASSETS_ONLY_NAME, ASSETS_ONLY.to_owned()),
        };
        let mut isolate_limits = limits.isolate.clone();
        if let Some(cpu_ms) = config.limits.cpu_ms {
            isolate_limits.cpu_slice = Some(Duration::from_millis(cpu_ms));
        }
        let cpu_slice = isolate_limits.cpu_slice;
        let isolate = isolate.take()?;
        isolate.set_limits(&isolate_limits);
        let interruptible: Rc<RefCell<HashMap<u64, oneshot::Sender<()>>>> = Rc::default();
        let stopped = interruptible.clone();
        let bodies: Rc<verge_web::NativeBodies> = Rc::default();
        let unfinished = bodies.clone();
        isolate.on_interrupt(move |tag| {
            if let Some(stop) = stopped.borrow_mut().remove(&tag) {
                let _ = stop.send(());
            }
            // A stopped isolate writes no more: the bodies it was writing fail now.
            unfinished.fail_pipes();
        });
        verge_web::set_host(
            &isolate,
            WebHost {
                console,
                outbound,
                subrequest_limit: config.limits.subrequests.unwrap_or(limits.subrequests),
                bodies,
                ..WebHost::unreachable()
            },
        )
        .map_err(LoadError::Internal)?;
        let nodejs_compat = verge_web::NodeModules::enabled_by(&config.compatibility_flags);
        let builtins = crate::builtins::WorkerBuiltins {
            node: verge_web::NodeModules {
                enabled: nodejs_compat,
            },
        };
        let rules = crate::format::module_rules(main, &config.rules)
            .map_err(|message| LoadError::Script(JsError::thrown("TypeError", message)))?;
        let loader =
            isolate.set_loader(config.root.clone(), modules, Some(Rc::new(builtins)), rules);
        // A service worker is one script: a TypeScript one is stripped here. (A module entry is
        // the loader's, whose bytecode cache spares later isolates the stripping.)
        let is_module = format::is_module(&source);
        let source = if !is_module && verge_js::is_typescript(main) {
            verge_js::strip_types(main, &source)
                .map_err(|message| LoadError::Script(JsError::thrown("SyntaxError", message)))?
        } else {
            source
        };

        let vars = serde_json::Value::Object(config.vars.clone().into_iter().collect()).to_string();
        let (loaded, sockets) = isolate
            .enter(|ctx| {
                // What counts this isolate's open WebSockets, taken in this entry rather than one
                // more on the cold start's path.
                let sockets = verge_web::open_sockets(ctx)?;
                let env: Value = ctx.json_parse(vars)?;
                if let Some(env) = env.as_object() {
                    verge_bindings::bind(ctx, config, &bindings, env)?;
                }
                entry::set_env(ctx, env.clone())?;
                if let (true, Some(env)) = (nodejs_compat, env.as_object()) {
                    verge_web::install_node_globals(ctx, env)?;
                }
                let (evaluation, namespace) = if is_module {
                    let module = loader.declare_entry(ctx, main, source)?;
                    let (module, evaluation) = module.eval()?;
                    (evaluation.into_value(), module.namespace()?.into_value())
                } else {
                    // Service-worker syntax: bindings are globals, as on Workers.
                    if let Some(env) = env.as_object() {
                        for key in env.keys::<String>() {
                            let key = key?;
                            ctx.globals()
                                .set(key.as_str(), env.get::<_, Value>(key.as_str())?)?;
                        }
                    }
                    let mut options = EvalOptions::default();
                    options.global = true;
                    options.strict = false;
                    options.filename = Some(main.to_owned());
                    ctx.eval_with_options::<Value, _>(source, options)?;
                    (
                        Value::new_undefined(ctx.clone()),
                        Value::new_undefined(ctx.clone()),
                    )
                };
                Ok((entry::finish_load(ctx, evaluation, namespace)?, sockets))
            })
            .map_err(LoadError::Script)?;
        loaded
            .await
            .map_err(|_| {
                LoadError::Internal(JsError::internal("the isolate was dropped while loading"))
            })?
            .map_err(LoadError::Script)?;
        if let Some(object) = object {
            let class = object.address.class.clone();
            isolate
                .enter(|ctx| {
                    let state = verge_bindings::object_state(ctx, object)?;
                    entry::construct_object(ctx, &class, state)
                })
                .map_err(LoadError::Script)?;
        }
        Ok(Self {
            name: config.name.clone(),
            isolate,
            limits,
            last_request: std::cell::Cell::new(0),
            interruptible,
            cpu_slice,
            sockets,
        })
    }

    /// Runs `event` (that came through `depth` service bindings) under the CPU and wall-time
    /// limits, with `ctx.waitUntil` work kept alive after, logging to `console` if given.
    async fn dispatch(&self, depth: u32, event: Event, console: Option<ConsoleSink>) -> Outcome {
        let tag = self.last_request.get() + 1;
        self.last_request.set(tag);
        let (stop, mut stopped) = oneshot::channel();
        self.interruptible.borrow_mut().insert(tag, stop);
        let dispatched = self.isolate.enter_as(tag, |ctx| {
            if depth > 0 {
                verge_web::set_request_depth(ctx, tag, depth)?;
            }
            if let Some(console) = console {
                verge_web::set_event_console(ctx, tag, console);
            }
            entry::dispatch(ctx, event)
        });
        let outcome = match dispatched {
            Ok(receiver) => tokio::select! {
                // Both are ready at once when a stopped chain is freed: the stop explains it.
                biased;
                Ok(()) = &mut stopped => return self.stopped(tag),
                settled = receiver => settled.unwrap_or_else(|_| Err(JsError::internal(NEVER_SETTLES))),
                () = wall_clock(self.limits.wall_time) => {
                    drop(stopped); // before its sender, as below
                    return self.timed_out(tag);
                }
            },
            Err(error) if error.is_interrupt() => return self.stopped(tag),
            Err(error) => Err(error),
        };
        // The receiver goes before its sender: a sender dropped first would wake this task once
        // more for nothing, and that spurious poll, queued behind the thread's other connections,
        // makes some requests wait a second round (p99 at 50 connections twice what it need be).
        drop(stopped);
        self.interruptible.borrow_mut().remove(&tag);
        match outcome {
            // A continuation stopped at the deadline rejects with the engine's uncatchable error.
            Ok((Outcome::Exception { error, .. }, _)) if error.is_interrupt() => self.stopped(tag),
            Err(error) if error.is_interrupt() => self.stopped(tag),
            Ok((outcome, done)) => {
                self.keep_alive(tag, done);
                self.explain_exhaustion(outcome)
            }
            Err(error) => {
                self.finish(tag);
                self.explain_exhaustion(Outcome::Exception {
                    error,
                    pass_through: false,
                })
            }
        }
    }

    /// `outcome` with its error as the isolate explains it (see `Isolate::explain`).
    fn explain_exhaustion(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Exception {
                error,
                pass_through,
            } => Outcome::Exception {
                error: self.isolate.explain(error),
                pass_through,
            },
            outcome => outcome,
        }
    }

    /// Ends a request whose JavaScript was stopped at the CPU deadline.
    fn stopped(&self, tag: u64) -> Outcome {
        self.interruptible.borrow_mut().remove(&tag);
        self.finish(tag);
        Outcome::cpu_limit(self.cpu_slice)
    }

    /// Ends a request that waited past the wall-time limit without a response.
    fn timed_out(&self, tag: u64) -> Outcome {
        self.interruptible.borrow_mut().remove(&tag);
        self.finish(tag);
        Outcome::wall_time_limit(self.limits.wall_time.unwrap_or_default())
    }

    /// Lets `ctx.waitUntil` work run on (bounded), then forgets the request.
    fn keep_alive(&self, tag: u64, done: Option<verge_js::Settled<()>>) {
        let Some(done) = done else {
            return self.finish(tag);
        };
        let bound = self.limits.wait_until;
        let name = self.name.clone();
        let isolate = self.isolate.handle();
        tokio::task::spawn_local(async move {
            if tokio::time::timeout(bound, done).await.is_err() {
                tracing::warn!(worker = %name, "ctx.waitUntil() work was cancelled after {bound:?}");
            }
            isolate.enter(|ctx| {
                verge_web::forget_request(ctx, tag);
                Ok(())
            });
        });
    }

    /// Drops what the isolate keeps for a finished request (see `verge_web::forget_request`).
    fn finish(&self, tag: u64) {
        let _ = self.isolate.enter(|ctx| {
            verge_web::forget_request(ctx, tag);
            Ok(())
        });
    }
}
