//! The Web platform on JavaScriptCore: the same `verge_web::Platform` (its JavaScript files and
//! their engine-neutral ops) that QuickJS isolates get, installed into a [`Vm`] by [`Web::new`],
//! with the event loop those files need: timers as local tokio tasks, and promises settled
//! into Rust futures ([`Web::settle`]).
//!
//! A file whose ops are still written for QuickJS alone (`verge_web::Register::QuickJs`) cannot
//! load here: touching one of its names throws a TypeError that says so.
//!
//! Lifecycle: one `Web` per VM, on the thread (and inside the `LocalSet`) that made it; its
//! timers are aborted when the VM ends.

use crate::vm::{Kept, Scope, Value, Vm, VmLimits};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::{Rc, Weak};
use tokio::sync::oneshot;
use verge_js::{data_op, AsyncDataOp, CurrentRequest, Data, IntoData, JsError};
use verge_web::{Api, Load, Platform, Register, TimerTasks, WebHost};

/// Reports each settlement of a watched promise to `settled(id, fulfilled, value)`.
const WATCH: &str = "(settled) => (promise, id) => Promise.resolve(promise).then(\
     (value) => settled(id, true, value), (reason) => settled(id, false, reason))";

/// `[open, settle]`: `open()` gives `[id, promise]`, and `settle(id, fulfilled, value)`
/// settles that promise: how an async op hands JavaScript a promise its future settles later.
/// Made before any worker code runs, with the built-ins it uses captured then, so that a
/// script replacing `Promise` or patching `Map.prototype` cannot reach the resolvers.
const DEFERRED: &str = "(() => { const P = Promise, apply = Reflect.apply, \
     { get, set, delete: remove } = Map.prototype, pending = new Map(); let next = 0; return [\
     () => { const id = ++next; let settle; \
       const promise = new P((resolve, reject) => { settle = [resolve, reject]; }); \
       apply(set, pending, [id, settle]); return [id, promise]; },\
     (id, fulfilled, value) => { const settle = apply(get, pending, [id]); \
       apply(remove, pending, [id]); if (settle !== undefined) settle[fulfilled ? 0 : 1](value); }]; })()";

/// Removes the global properties named.
const FORGET: &str = "(names) => { for (const name of names) delete globalThis[name]; }";

/// A VM with a Web platform installed.
pub struct Web {
    vm: Rc<Vm>,
    internals: Kept,
    watch: Kept,
    settled: Kept,
    promises: Rc<Promises>,
    /// What the lazy files' ops are made for, and whether one has loaded (then it is fixed).
    host: Rc<RefCell<WebHost>>,
    lazy_loaded: Rc<Cell<bool>>,
}

/// Promises whose settlement Rust awaits, by id.
struct Promises {
    next: Cell<u32>,
    waiting: RefCell<HashMap<u32, oneshot::Sender<Result<Data, JsError>>>>,
    /// Set once a limit stopped the VM: it must not serve again.
    spent: Cell<bool>,
    /// The host, whose bodies a stopped VM was writing.
    host: Rc<RefCell<WebHost>>,
}

impl Promises {
    /// Fails every waiter with `error` when it is a limit the VM was stopped at: the VM is
    /// done, and what it was to settle never will be; nor will the bodies it was writing end.
    fn abandon_at_limit(&self, error: &JsError) {
        if error.is_interrupt() || error.is_out_of_memory() {
            self.spent.set(true);
            for (_, waiter) in self.waiting.borrow_mut().drain() {
                let _ = waiter.send(Err(error.clone()));
            }
            self.host.borrow().bodies.fail_pipes();
        }
    }
}

impl Web {
    /// A new VM under `limits` with `platform` installed for `host`: its eager files run now,
    /// the lazy ones on first use of a name they define.
    pub fn new(
        limits: VmLimits,
        host: WebHost,
        platform: &'static Platform,
    ) -> Result<Self, JsError> {
        let vm = Rc::new(Vm::new(limits)?);
        // The VM's own, kept through every host it is given (see `Web::run_as`).
        let host = Rc::new(RefCell::new(WebHost {
            current_request: CurrentRequest::default(),
            ..host
        }));
        let promises = Rc::new(Promises {
            next: Cell::default(),
            waiting: RefCell::default(),
            spent: Cell::default(),
            host: host.clone(),
        });
        let lazy_loaded: Rc<Cell<bool>> = Rc::default();
        let loader = Loader {
            platform,
            host: host.clone(),
            lazy_loaded: lazy_loaded.clone(),
            vm: Rc::downgrade(&vm),
            promises: Rc::downgrade(&promises),
            deferred: Rc::default(),
            tasks: Rc::default(),
        };
        let [internals, watch, settled] = install(vm.scope(), loader)?;
        Ok(Self {
            vm,
            internals,
            watch,
            settled,
            promises,
            host,
            lazy_loaded,
        })
    }

    /// Gives a VM set up ahead of time (for [`WebHost::unreachable`]) its worker's host: how a
    /// spare VM becomes a worker's. Refused once a lazy file has loaded, whose ops were made
    /// for the host before, or once binding objects were made, which its table holds.
    pub fn set_host(&self, host: WebHost) -> Result<(), JsError> {
        if self.lazy_loaded.get() {
            return Err(JsError::internal(
                "the host cannot change: a lazy file of the platform has loaded",
            ));
        }
        if !self.host.borrow().bindings.is_empty() {
            return Err(JsError::internal(
                "the host cannot change: binding objects were made for it",
            ));
        }
        let current_request = self.host.borrow().current_request.clone();
        *self.host.borrow_mut() = WebHost {
            current_request,
            ..host
        };
        Ok(())
    }

    /// Runs `f` (which enters the VM) on behalf of request `tag`: the ops and timers it
    /// starts count against that request, and carry it into the callbacks they run later.
    pub fn run_as<R>(&self, tag: u64, f: impl FnOnce() -> R) -> R {
        let current_request = self.host.borrow().current_request.clone();
        current_request.run_as(tag, f)
    }

    /// The host the platform's ops are made for.
    pub fn host(&self) -> WebHost {
        self.host.borrow().clone()
    }

    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The platform's hidden `internals` object.
    pub fn internals<'vm>(&self, scope: Scope<'vm>) -> Result<Value<'vm>, JsError> {
        scope.kept(self.internals)
    }

    /// What `value` (a promise, or any value, as `Promise.resolve` takes it) settles with, as
    /// data; its rejection as the error it throws. Dropping the future forgets the promise.
    pub fn settle(
        &self,
        value: &Value<'_>,
    ) -> Result<impl Future<Output = Result<Data, JsError>>, JsError> {
        let scope = value.scope();
        let (id, settled) = self.expect();
        scope
            .kept(self.watch)
            .and_then(|watch| watch.call(&[value.clone(), scope.number(id.into())]))?;
        Ok(settled)
    }

    /// An outcome to wait for: its id, for JavaScript to report it with `settled(id,
    /// fulfilled, value)` (see [`Web::settled`]), and the future of it. Dropping the future
    /// forgets the id.
    pub fn expect(&self) -> (u32, impl Future<Output = Result<Data, JsError>>) {
        let id = self.promises.next.get().wrapping_add(1);
        self.promises.next.set(id);
        let (sender, receiver) = oneshot::channel();
        self.promises.waiting.borrow_mut().insert(id, sender);
        let waiting = Waiting {
            promises: Rc::downgrade(&self.promises),
            id,
        };
        let settled = async move {
            let _waiting = waiting;
            receiver.await.unwrap_or_else(|_| {
                Err(JsError::internal("the VM ended before the promise settled"))
            })
        };
        (id, settled)
    }

    /// Fails every outcome waited for when `error` is a limit the VM was stopped at (see
    /// `Vm`): for a caller whose own entry into the VM met the stop.
    pub fn abandon_at_limit(&self, error: &JsError) {
        self.promises.abandon_at_limit(error);
    }

    /// Whether a limit stopped the VM (as [`Web::abandon_at_limit`] or a timer saw): it is to
    /// be dropped.
    pub fn is_spent(&self) -> bool {
        self.promises.spent.get()
    }

    /// `settled(id, fulfilled, value)`: hands the outcome [`Web::expect`] gave `id` to its
    /// waiter: the value as data, or the error thrown. What is not data is an error for the
    /// waiter, never thrown back.
    pub fn settled<'vm>(&self, scope: Scope<'vm>) -> Result<Value<'vm>, JsError> {
        scope.kept(self.settled)
    }
}

/// A promise Rust waits for: forgotten when the waiter goes, settled or not, so that a
/// promise that never settles keeps nothing.
struct Waiting {
    promises: Weak<Promises>,
    id: u32,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(promises) = self.promises.upgrade() {
            promises.waiting.borrow_mut().remove(&self.id);
        }
    }
}

/// Installs `loader`'s platform in the VM of `scope`: gives the kept `internals` object, the
/// function that watches a promise for the loader's `promises`, and the `settled` function it
/// reports to.
fn install(scope: Scope<'_>, loader: Loader) -> Result<[Kept; 3], JsError> {
    let platform = loader.platform;
    let promises = loader.promises.clone();
    let ops = scope.evaluate("({})", "verge:jsc/ops")?;
    let deferred = scope.evaluate(DEFERRED, "verge:jsc/deferred")?;
    let deferred = [
        scope.keep(&deferred.get("0")?)?,
        scope.keep(&deferred.get("1")?)?,
    ];
    loader.deferred.set(Some(deferred));
    let eager = loader.clone();
    ops.set(
        "loadApi",
        &scope.function(move |scope, arguments| loader.load(scope, arguments))?,
    )?;
    // `[name, index]` pairs: the accessors are made without asking `lazyApi` name by name.
    let lazy_names = data_op(move |global: bool| {
        let pair = |(name, index): (&str, usize)| {
            Data::List(vec![Data::String(name.into()), index.into_data()])
        };
        platform
            .lazy_names(global)
            .into_iter()
            .map(pair)
            .collect::<Vec<_>>()
    });
    ops.set("lazyNames", &scope.data_function(lazy_names)?)?;
    let internals = scope.evaluate("({})", "verge:jsc/internals")?;
    // The engine's own versions of lazy names (JavaScriptCore has a `console`) give way to
    // ours, before `install.js` puts its accessors in their place.
    let names = platform
        .lazy_names(true)
        .into_iter()
        .map(|(name, _)| Data::String(name.into()));
    scope
        .evaluate(FORGET, "verge:jsc/forget")?
        .call(&[scope.from_data(Data::List(names.collect()))?])?;
    for api in platform.apis() {
        if let Load::Eager = api.load() {
            let init = eager.prepare(scope, api, &ops)?;
            init.call(&[ops.clone(), internals.clone()])?;
        }
    }
    let settled = settled_function(scope, promises)?;
    let watch = scope
        .evaluate(WATCH, "verge:jsc/watch")?
        .call(std::slice::from_ref(&settled))?;
    Ok([
        scope.keep(&internals)?,
        scope.keep(&watch)?,
        scope.keep(&settled)?,
    ])
}

/// `settled(id, fulfilled, value)`: hands the outcome waited for as `id` (a watched promise's,
/// or one JavaScript reports itself: see `Web::expect`) to its waiter. What it fulfilled with
/// must be data; anything else is an error for the waiter, never thrown here, where it would
/// only reject a promise nobody watches.
fn settled_function<'vm>(
    scope: Scope<'vm>,
    promises: Weak<Promises>,
) -> Result<Value<'vm>, JsError> {
    scope.function(move |scope, arguments| {
        let argument = |index: usize| {
            arguments
                .get(index)
                .cloned()
                .unwrap_or_else(|| scope.undefined())
        };
        let id = argument(0).to_number()? as u32;
        let outcome = if argument(1).to_bool() {
            argument(2).to_data()
        } else {
            Err(argument(2).to_error())
        };
        let waiter = promises
            .upgrade()
            .and_then(|promises| promises.waiting.borrow_mut().remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(outcome);
        }
        Ok(scope.undefined())
    })
}

/// `ops.loadApi(index, ops)`, which `install.js` calls on first use of a lazy file's name.
#[derive(Clone)]
struct Loader {
    platform: &'static Platform,
    host: Rc<RefCell<WebHost>>,
    lazy_loaded: Rc<Cell<bool>>,
    vm: Weak<Vm>,
    promises: Weak<Promises>,
    /// `DEFERRED`'s two functions, made as the platform is installed.
    deferred: Rc<Cell<Option<[Kept; 2]>>>,
    /// The async ops' pending tasks, by promise id: all aborted with the VM.
    tasks: Rc<TimerTasks>,
}

impl Loader {
    fn load<'s>(&self, scope: Scope<'s>, arguments: &[Value<'s>]) -> Result<Value<'s>, JsError> {
        let (Some(index), Some(ops)) = (arguments.first(), arguments.get(1)) else {
            return Err(JsError::thrown("TypeError", "loadApi(index, ops)"));
        };
        let api = self
            .platform
            .apis()
            .get(index.to_number()? as usize)
            .ok_or_else(|| JsError::thrown("TypeError", "no such API"))?;
        let init = self.prepare(scope, api, ops)?;
        self.lazy_loaded.set(true);
        Ok(init)
    }

    /// Adds `api`'s ops to `ops` (keeping those an earlier file added: files that share an op
    /// share its state) and gives its init function. A file with ops written for QuickJS
    /// alone is refused by name, before anything of it is added.
    fn prepare<'s>(
        &self,
        scope: Scope<'s>,
        api: &Api,
        ops: &Value<'s>,
    ) -> Result<Value<'s>, JsError> {
        if api
            .ops()
            .iter()
            .any(|register| matches!(register, Register::QuickJs(_)))
        {
            return Err(not_yet(api));
        }
        let add = |name: &str, op: Value<'s>| -> Result<(), JsError> {
            if ops.get(name)?.is_undefined() {
                ops.set(name, &op)?;
            }
            Ok(())
        };
        for register in api.ops() {
            match register {
                Register::Data(make) => {
                    let host = self.host.borrow().clone();
                    for (name, op) in make(&host) {
                        add(name, scope.data_function(op)?)?;
                    }
                }
                Register::AsyncData(make) => {
                    let host = self.host.borrow().clone();
                    for (name, op) in make(&host) {
                        add(name, self.async_function(scope, op)?)?;
                    }
                }
                Register::Timers(_) => {
                    let request = self.host.borrow().current_request.clone();
                    let (vm, promises) = (self.vm.clone(), self.promises.clone());
                    for (name, op) in timer_ops(scope, vm, promises, request)? {
                        add(name, op)?;
                    }
                }
                // Refused above, before anything was added.
                Register::QuickJs(_) => {}
            }
        }
        // The same line as the source's first, so that its line numbers hold.
        let source = format!("'use strict'; {}", api.source());
        scope.evaluate(&source, api.name())
    }
}

impl Loader {
    /// A function that runs the engine-neutral async `op`: it returns a promise, settled when
    /// the op's future completes (a local task, which re-enters the VM if it still lives). A
    /// limit met while settling fails every outcome Rust waits for, as a timer's does.
    fn async_function<'s>(&self, scope: Scope<'s>, op: AsyncDataOp) -> Result<Value<'s>, JsError> {
        let [open, settle] = self
            .deferred
            .get()
            .ok_or_else(|| JsError::internal("the platform is not installed"))?;
        let (vm, promises, tasks) = (self.vm.clone(), self.promises.clone(), self.tasks.clone());
        let request = self.host.borrow().current_request.clone();
        scope.function(move |scope, arguments| {
            let future = op(Value::all_to_data(arguments)?).map_err(JsError::from)?;
            let (request, tag) = (request.clone(), request.get());
            let opened = scope.kept(open)?.call(&[])?;
            let id = opened.get("0")?.to_number()?;
            let promise = opened.get("1")?;
            let (vm, promises, pending) = (vm.clone(), promises.clone(), Rc::downgrade(&tasks));
            let task = tokio::task::spawn_local(async move {
                let outcome = future.await;
                let (Some(vm), Some(pending)) = (vm.upgrade(), pending.upgrade()) else {
                    return;
                };
                pending.fired(id as u32);
                let scope = vm.scope();
                let (fulfilled, value) = match outcome.map(|data| scope.from_data(data)) {
                    Ok(Ok(value)) => (true, value),
                    // A limit met while making the result: the VM is done.
                    Ok(Err(error)) if error.is_interrupt() || error.is_out_of_memory() => {
                        if let Some(promises) = promises.upgrade() {
                            promises.abandon_at_limit(&error);
                        }
                        return;
                    }
                    Ok(Err(error)) => (false, scope.error(&error)),
                    Err(error) => (false, scope.error(&JsError::from(error))),
                };
                let settled = request.run_as(tag, || {
                    scope.kept(settle).and_then(|settle| {
                        settle.call(&[scope.number(id), scope.boolean(fulfilled), value])
                    })
                });
                if let Err(error) = settled {
                    tracing::error!(target: "verge::js", "settling an op's promise failed: {error}");
                    if let Some(promises) = promises.upgrade() {
                        promises.abandon_at_limit(&error);
                    }
                }
            });
            tasks.insert(id as u32, task.abort_handle());
            Ok(promise)
        })
    }
}

/// What the error of a platform file that cannot load on JavaScriptCore says after the file's
/// name: for runners that count such failures apart.
pub const NOT_YET: &str = "is not available on JavaScriptCore yet";

/// Why `api` cannot load here.
fn not_yet(api: &Api) -> JsError {
    let file = api.file();
    JsError::thrown(
        "TypeError",
        format!("{file} {NOT_YET}: its native ops are written for QuickJS alone"),
    )
}

/// The timers of one VM: each pending one a local task that sleeps, then calls the `fire`
/// function `timers.js` gave. Dropped with the VM's ops, which aborts them all.
#[derive(Default)]
struct Timers {
    fire: Cell<Option<Kept>>,
    pending: TimerTasks,
}

/// `timerInit(fire)`, `timerStart(id, delayMs)` and `timerCancel(id)`; a timer fires on behalf
/// of the request that started it.
/// A timer whose callback is stopped at a limit fails every outcome Rust waits for.
fn timer_ops<'s>(
    scope: Scope<'s>,
    vm: Weak<Vm>,
    promises: Weak<Promises>,
    request: CurrentRequest,
) -> Result<[(&'static str, Value<'s>); 3], JsError> {
    let timers: Rc<Timers> = Rc::default();
    let table = timers.clone();
    let init = scope.function(move |scope, arguments| {
        let fire = arguments
            .first()
            .ok_or_else(|| JsError::thrown("TypeError", "timerInit(fire)"))?;
        table.fire.set(Some(scope.keep(fire)?));
        Ok(scope.undefined())
    })?;
    let table = Rc::downgrade(&timers);
    let start = data_op(move |id: u32, delay_ms: f64| {
        let Some(timers) = table.upgrade() else {
            return;
        };
        let delay = verge_web::timer_delay(delay_ms);
        let (vm, table, promises) = (vm.clone(), table.clone(), promises.clone());
        let (request, tag) = (request.clone(), request.get());
        let task = tokio::task::spawn_local(async move {
            tokio::time::sleep(delay).await;
            let (Some(vm), Some(timers)) = (vm.upgrade(), table.upgrade()) else {
                return;
            };
            timers.pending.fired(id);
            let scope = vm.scope();
            let fired = request.run_as(tag, || {
                timers
                    .fire
                    .get()
                    .ok_or_else(|| JsError::internal("timerInit was not called"))
                    .and_then(|fire| scope.kept(fire))
                    .and_then(|fire| fire.call(&[scope.number(id.into())]))
            });
            if let Err(error) = fired {
                tracing::error!(target: "verge::js", "timer {id} failed: {error}");
                if let Some(promises) = promises.upgrade() {
                    promises.abandon_at_limit(&error);
                }
            }
        });
        timers.pending.insert(id, task.abort_handle());
    });
    let cancel = data_op(move |id: u32| {
        timers.pending.cancel(id);
    });
    Ok([
        ("timerInit", init),
        ("timerStart", scope.data_function(start)?),
        ("timerCancel", scope.data_function(cancel)?),
    ])
}
