//! `verge-js` owns the QuickJS embedding: one [`Isolate`] is one QuickJS `Runtime` plus
//! `Context`, with its own memory limit, stack limit and CPU deadline.
//!
//! Everything here is single-threaded by design (thread-per-core, see `docs/DESIGN.md`): an
//! isolate lives on the thread that made it, and asynchronous work started from JavaScript runs
//! as `tokio::task::spawn_local` tasks on that thread's `LocalSet`, re-entering the isolate through
//! an [`IsolateHandle`] when it completes. This crate knows nothing of the Web APIs or of HTTP; it
//! must never let a script's error or resource use become a Rust panic.

mod budget;
mod bytes;
mod commonjs;
mod data;
mod error;
mod fallback;
mod host_state;
mod id_table;
mod json;
mod link;
mod loader;
mod ops;
mod project;
mod promise_op;
mod rejections;
mod rules;
mod script;
mod settle;
mod typescript;

pub use budget::{interrupted, out_of_memory, reserve_memory};
pub use bytes::bytes_of;
pub use commonjs::{bundle_entry, bundle_list, bundle_read, create_require, BundleEntry};
pub use data::{
    async_data_op, data_op, too_large as data_too_large, AsyncDataOp, Bytes, Data, DataOp,
    FromData, IntoAsyncDataOp, IntoData, IntoDataOp, OpFuture, OpResult, MAX_DEPTH, MAX_VALUES,
};
pub use error::{ErrorKind, JsError};
pub(crate) use error::{INTERRUPTED, OUT_OF_MEMORY};
pub use fallback::fallback_prototype;
pub use host_state::{
    ensure as ensure_host_state, store as store_host_state, with as with_host_state,
};
pub use id_table::IdTable;
pub use link::{link, LinkError, LinkedScript, ModuleLines, ModuleSource, ProjectModules};
pub use loader::{ModuleCache, ProjectLoader};
pub use ops::Ops;
pub use project::Builtins;
pub use promise_op::{spawn_promise, OpError};
pub use rquickjs;
pub use rules::{ModuleRules, Treat};
pub use script::{compile_script, run_script};
pub use settle::{jobs_pending, settle, settle_value, Settled};
pub use typescript::{is_typescript, strip_types};
pub(crate) use typescript::{strip_types_mapped, PositionMap};

use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Runtime};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Bytes allocated between garbage collections. QuickJS's default (256 KiB) collects several
/// times per proxied request; reference counting frees most garbage anyway, so the cycle
/// collector can run less often at a small cost in memory.
const GC_THRESHOLD: usize = 4 * 1024 * 1024;

/// Resource limits of one isolate: set when it is created, or when a blank one is given to a
/// worker ([`Isolate::set_limits`]).
#[derive(Debug, Clone)]
pub struct IsolateLimits {
    /// Bytes the JavaScript heap may hold before allocations fail.
    pub memory_bytes: usize,
    /// Bytes of native stack JavaScript may use; deep recursion throws a RangeError past it.
    pub stack_bytes: usize,
    /// Longest stretch of JavaScript that one entry into the isolate may run for.
    pub cpu_slice: Option<Duration>,
}

impl Default for IsolateLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 * 1024 * 1024,
            stack_bytes: 512 * 1024,
            cpu_slice: None,
        }
    }
}

/// The request the JavaScript now running works for (0: none), as an engine tracks it: set as
/// the host enters for a request, captured by async work as it starts and restored as that work
/// completes, so that what an op does counts against the request that caused it. Cloning
/// shares it: one per isolate, held by the engine and by the ops made for it.
#[derive(Clone, Default)]
pub struct CurrentRequest(Rc<Cell<u64>>);

impl CurrentRequest {
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Makes `tag` current and gives the one before.
    pub fn replace(&self, tag: u64) -> u64 {
        self.0.replace(tag)
    }

    /// Runs `f` on behalf of request `tag`, then restores the request before.
    pub fn run_as<R>(&self, tag: u64, f: impl FnOnce() -> R) -> R {
        let previous = self.replace(tag);
        let result = f();
        self.0.set(previous);
        result
    }
}

/// Told the request tag of an entry stopped at the CPU deadline.
type InterruptListener = Box<dyn Fn(u64)>;

struct IsolateCore {
    // Field order matters: the context must be dropped before its runtime.
    context: Context,
    runtime: Runtime,
    deadline: Rc<Cell<Option<Instant>>>,
    /// Longest stretch of JavaScript one entry may run for; see [`IsolateLimits::cpu_slice`].
    cpu_slice: Cell<Option<Duration>>,
    /// Bytes the heap may hold; see [`IsolateLimits::memory_bytes`].
    memory_limit: Cell<usize>,
    /// Bytes outside the heap counted against `memory_limit` (see [`reserve_memory`]), by
    /// which the heap's own limit is lower.
    external_memory: Cell<usize>,
    /// The request the JavaScript now running works for (0: none); see [`Isolate::enter_as`].
    /// Shared with the isolate's userdata, so ops can read it from a `Ctx` ([`current_tag`]).
    current_tag: CurrentRequest,
    /// Set by the interrupt handler when it stops JavaScript at the CPU deadline.
    interrupted: Rc<Cell<bool>>,
    /// Told the tag of each entry that was interrupted; see [`Isolate::on_interrupt`].
    interrupt_listener: RefCell<Option<InterruptListener>>,
    /// Time spent in outermost entries; see [`Isolate::busy_time`].
    busy: Cell<Duration>,
}

/// One JavaScript isolate: a QuickJS runtime and context on the current thread.
///
/// Lifecycle: created once per worker version per thread (a cold start), dropped when the worker
/// is replaced or evicted. Cloning is cheap and shares the same isolate.
#[derive(Clone)]
pub struct Isolate {
    core: Rc<IsolateCore>,
}

struct CurrentTag(CurrentRequest);

/// The isolate itself, for what runs in it to reach it again later.
struct ThisIsolate(IsolateHandle);

/// The tag of the request the JavaScript now running in `ctx` works for (0: none).
pub fn current_tag(ctx: &Ctx<'_>) -> u64 {
    host_state::with(ctx, |tag: &CurrentTag| tag.0.get()).unwrap_or(0)
}

/// A weak reference to an [`Isolate`], held by asynchronous work started from JavaScript so that
/// a pending timer or I/O never keeps a discarded isolate alive.
#[derive(Clone)]
pub struct IsolateHandle {
    core: Weak<IsolateCore>,
}

/// The engine's built-ins an isolate starts with: ECMAScript's. QuickJS's own `performance`,
/// `atob`/`btoa` and `DOMException` are left out: `verge-web` defines the Web's, on first use.
type EcmaScript = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

impl Isolate {
    /// Creates an isolate with the given limits and an empty global scope (the ECMAScript
    /// intrinsics only; the Web APIs are installed by `verge-web`).
    pub fn new(limits: IsolateLimits) -> Result<Self, JsError> {
        let runtime =
            Runtime::new().map_err(|e| JsError::internal(format!("creating runtime: {e}")))?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.stack_bytes);
        runtime.set_gc_threshold(GC_THRESHOLD);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::default();
        let interrupt_deadline = deadline.clone();
        let interrupted: Rc<Cell<bool>> = Rc::default();
        let interrupt_flag = interrupted.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let stop = interrupt_deadline
                .get()
                .is_some_and(|d| Instant::now() >= d);
            if stop {
                interrupt_flag.set(true);
            }
            stop
        })));
        runtime.set_host_promise_rejection_tracker(Some(Box::new(rejections::track)));
        let context = Context::custom::<EcmaScript>(&runtime)
            .map_err(|e| JsError::internal(format!("creating context: {e}")))?;
        let current_tag = CurrentRequest::default();
        context
            .with(|ctx| {
                json::install(&ctx)?;
                host_state::store(&ctx, CurrentTag(current_tag.clone()))
            })
            .map_err(|e: rquickjs::Error| JsError::internal(format!("creating context: {e}")))?;
        let isolate = Self {
            core: Rc::new(IsolateCore {
                context,
                runtime,
                deadline,
                cpu_slice: Cell::new(limits.cpu_slice),
                memory_limit: Cell::new(limits.memory_bytes),
                external_memory: Cell::default(),
                current_tag,
                interrupted,
                interrupt_listener: RefCell::new(None),
                busy: Cell::default(),
            }),
        };
        let this = ThisIsolate(isolate.handle());
        isolate
            .core
            .context
            .with(|ctx| host_state::store(&ctx, this))
            .map_err(|e: rquickjs::Error| JsError::internal(format!("creating context: {e}")))?;
        Ok(isolate)
    }

    /// Replaces the isolate's limits: how a blank isolate made ahead of time takes on those of
    /// the worker it is given to. A heap already larger than the new memory limit fails its next
    /// allocation.
    pub fn set_limits(&self, limits: &IsolateLimits) {
        let external = self.core.external_memory.get();
        // Never 0, which QuickJS reads as no limit at all.
        let heap_limit = limits.memory_bytes.saturating_sub(external).max(1);
        self.core.runtime.set_memory_limit(heap_limit);
        self.core.runtime.set_max_stack_size(limits.stack_bytes);
        self.core.cpu_slice.set(limits.cpu_slice);
        self.core.memory_limit.set(limits.memory_bytes);
    }

    /// `error` as this isolate explains it now: a `null` thrown while the heap holds more than
    /// half its limit is the engine running out of memory — when not even the error object
    /// fits, QuickJS throws `null` instead. (The heap as measured stays short of the limit: a
    /// large allocation is what failed.) Called outside the isolate, once the error is out.
    pub fn explain(&self, error: JsError) -> JsError {
        if error.is_thrown_null() && self.heap_bytes() >= self.core.memory_limit.get() / 2 {
            return JsError::out_of_memory();
        }
        error
    }

    pub fn handle(&self) -> IsolateHandle {
        IsolateHandle {
            core: Rc::downgrade(&self.core),
        }
    }

    /// Installs a loader for the isolate's `import` statements that reads modules under `root`,
    /// from `cache` where it holds them, with `builtins` found before any file and files loaded
    /// as `rules` say, and returns it (to declare the entry module with).
    pub fn set_loader(
        &self,
        root: impl Into<PathBuf>,
        cache: Option<ModuleCache>,
        builtins: Option<Rc<dyn Builtins>>,
        rules: ModuleRules,
    ) -> ProjectLoader {
        let loader = ProjectLoader::new(root, cache, builtins, rules);
        self.core.runtime.set_loader(loader.clone(), loader.clone());
        let positions = loader::IsolatePositions(loader.positions());
        let files = commonjs::IsolateFiles(loader.files());
        // Without its host state the isolate still runs; its stack traces stay unmapped, and
        // `module.createRequire` says it has no project.
        let _ = self.enter(|ctx| {
            host_state::store(ctx, positions)?;
            host_state::store(ctx, files)
        });
        loader
    }

    /// Runs `f` inside the isolate, then runs every microtask it queued. An exception thrown by
    /// `f` comes back as a [`JsError`] carrying the JavaScript stack.
    pub fn enter<R>(&self, f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>) -> Result<R, JsError> {
        self.core.enter(f)
    }

    /// Calls `listener` with the request tag of every entry stopped at the CPU deadline. The
    /// engine discards an exception thrown inside a promise job, so without this a request
    /// whose continuation was stopped would wait forever.
    pub fn on_interrupt(&self, listener: impl Fn(u64) + 'static) {
        *self.core.interrupt_listener.borrow_mut() = Some(Box::new(listener));
    }

    /// Like [`enter`](Self::enter), on behalf of the request tagged `tag`: ops started while it
    /// runs remember the tag and restore it when they complete, so work is attributed to the
    /// request that caused it (per-request limits such as subrequests) across awaits.
    pub fn enter_as<R>(
        &self,
        tag: u64,
        f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>,
    ) -> Result<R, JsError> {
        self.core.enter_as(tag, f)
    }

    /// The isolate's [`CurrentRequest`], for ops made outside it to read.
    pub fn current_request(&self) -> CurrentRequest {
        self.core.current_tag.clone()
    }

    /// Time spent running this isolate's JavaScript so far (entries measured on the wall clock:
    /// JavaScript runs to completion on its thread, so this is its CPU time plus preemption).
    pub fn busy_time(&self) -> Duration {
        self.core.busy.get()
    }

    /// Bytes the JavaScript heap holds now.
    pub fn heap_bytes(&self) -> usize {
        usize::try_from(self.core.runtime.memory_usage().memory_used_size).unwrap_or(usize::MAX)
    }
}

impl IsolateCore {
    /// Whether the entry now running has passed its CPU deadline, which marks it interrupted.
    fn past_deadline(&self) -> bool {
        let past = self.deadline.get().is_some_and(|d| Instant::now() >= d);
        if past {
            self.interrupted.set(true);
        }
        past
    }

    fn enter_as<R>(
        &self,
        tag: u64,
        f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>,
    ) -> Result<R, JsError> {
        self.current_tag.run_as(tag, || self.enter(f))
    }

    fn enter<R>(&self, f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>) -> Result<R, JsError> {
        let nested = self.deadline.get().is_some();
        let started = Instant::now();
        if !nested {
            if let Some(slice) = self.cpu_slice.get() {
                self.deadline.set(Some(Instant::now() + slice));
            }
        }
        let result = self.context.with(|ctx| {
            let result = f(&ctx).map_err(|e| JsError::from_rquickjs(&ctx, e));
            drain_jobs(&ctx, &self.interrupted);
            for reason in rejections::take_unhandled(&ctx) {
                tracing::error!(target: "verge::js", "Uncaught (in promise) {reason}");
            }
            result
        });
        if !nested {
            self.busy.set(self.busy.get() + started.elapsed());
            self.deadline.set(None);
            if self.interrupted.replace(false) {
                if let Some(listener) = self.interrupt_listener.borrow().as_ref() {
                    listener(self.current_tag.get());
                }
            }
        }
        result
    }
}

/// Runs queued promise jobs until none is left, or until the CPU deadline stopped one: an
/// interrupt kills the job it lands in, but a chain of jobs that queue each other can outlive
/// that (QuickJS asks again only thousands of calls later), so once interrupted, nothing more
/// runs. A job can only fail outside JavaScript's own error handling (interrupt, out of
/// memory); such a failure is reported, never ignored.
fn drain_jobs(ctx: &Ctx<'_>, interrupted: &Cell<bool>) {
    while !interrupted.get() && ctx.execute_pending_job() {}
    if ctx.has_exception() {
        let error = JsError::from_value(ctx, ctx.catch());
        tracing::error!(target: "verge::js", "uncaught error in promise job: {error}");
    }
}

impl IsolateHandle {
    /// The isolate `ctx` belongs to, for asynchronous work started there to re-enter it; an
    /// error for a context no [`Isolate`] made.
    pub fn of(ctx: &Ctx<'_>) -> rquickjs::Result<Self> {
        host_state::with(ctx, |this: &ThisIsolate| this.0.clone())
            .ok_or_else(|| rquickjs::Error::new_from_js("context", "isolate"))
    }

    /// Re-enters the isolate if it still exists; see [`Isolate::enter`].
    pub fn enter<R>(
        &self,
        f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>,
    ) -> Option<Result<R, JsError>> {
        self.core.upgrade().map(|core| core.enter(f))
    }

    /// Re-enters the isolate on behalf of `tag`; see [`Isolate::enter_as`].
    pub fn enter_as<R>(
        &self,
        tag: u64,
        f: impl FnOnce(&Ctx<'_>) -> rquickjs::Result<R>,
    ) -> Option<Result<R, JsError>> {
        self.core.upgrade().map(|core| core.enter_as(tag, f))
    }

    /// The tag of the request the JavaScript now running works for (0: none).
    pub fn current_tag(&self) -> u64 {
        self.core.upgrade().map_or(0, |core| core.current_tag.get())
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn thrown_by(isolate: &Isolate, script: &str) -> JsError {
        isolate.enter(|ctx| ctx.eval::<(), _>(script)).unwrap_err()
    }

    #[test]
    fn an_error_says_what_happened_by_its_kind() {
        let limits = IsolateLimits {
            memory_bytes: 8 * 1024 * 1024,
            cpu_slice: Some(Duration::from_millis(50)),
            ..IsolateLimits::default()
        };
        let isolate = Isolate::new(limits).unwrap();
        let error = thrown_by(&isolate, "throw new TypeError('bad')");
        assert_eq!(
            (error.kind, error.name.as_str()),
            (ErrorKind::Thrown, "TypeError")
        );
        let error = thrown_by(&isolate, "for (;;) {}");
        assert_eq!(error.kind, ErrorKind::Interrupted, "{error}");
        let error = thrown_by(
            &isolate,
            "const a = []; for (;;) a.push(new Array(10000).fill(1));",
        );
        let error = isolate.explain(error);
        assert_eq!(error.kind, ErrorKind::OutOfMemory, "{error}");
        // A script's own `throw null`, far from the limit, is its own.
        let isolate = Isolate::new(IsolateLimits::default()).unwrap();
        let error = isolate.explain(thrown_by(&isolate, "throw null"));
        assert_eq!(error.kind, ErrorKind::Thrown, "{error}");
        // Nor does an error that merely names the engine's message pass for the engine's.
        let error = thrown_by(
            &isolate,
            "throw { name: 'InternalError', message: 'interrupted' }",
        );
        assert_eq!(error.kind, ErrorKind::Thrown, "{error}");
    }
}
