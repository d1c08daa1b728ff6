//! A worker on JavaScriptCore (`engine = "jsc"`): the same platform files and entry points as
//! on QuickJS, installed by `verge_jsc::Web`, the module graph linked into one script
//! (`verge_js::link`), and the fetch and scheduled events dispatched through the same
//! `internals.dispatchFetch`/`dispatchScheduled` as QuickJS's. Opt-in, for trusted code: it
//! holds the CPU slice and the memory limit by the guard's measurements, but not a storm of
//! short microtasks (see docs/DESIGN.md § JavaScriptCore).
//!
//! What is not here yet is refused when the worker loads, by name: Durable Object bindings,
//! `nodejs_compat`, and CommonJS and WebAssembly modules; and APIs whose ops
//! are still QuickJS's alone (WebSockets, WebAssembly) throw when first touched.

use crate::entry::Outcome;
use crate::host::{wall_clock, Grants, LoadError, WorkerLimits};
use std::rc::Rc;
use std::time::Duration;
use verge_config::WorkerConfig;
use verge_js::{Data, JsError, LinkedScript, ProjectModules};
use verge_jsc::{Kept, Value, VmLimits, Web};
use verge_web::{ConsoleSink, HeaderList, Request, Response, WebHost};

/// How the host reaches the entry points: `dispatchFetch(ids, …)`, `dispatchScheduled(ids, …)`
/// and `dispatchQueue(ids, …)` run an event, and report through `settled` (see `verge_jsc::Web::expect`) to the three
/// ids: what the host reads of the outcome (see `read_answer`), whether the worker asked to
/// pass through on failure, and the end of its `ctx.waitUntil` work. A handler that returned
/// its Response at once is reported within the same call.
const GLUE: &str = r#"(internals, settled) => {
  function report(dispatch, [answer, passThrough, done]) {
    const fail = (error) => {
      settled(passThrough, true, false);
      settled(done, true, undefined);
      settled(answer, false, error);
    };
    const deliver = (o) => {
      settled(passThrough, true, o.passThrough === true);
      if (o.done === undefined) settled(done, true, undefined);
      else o.done.then(() => settled(done, true, undefined), (error) => settled(done, false, error));
      if (o.reply !== undefined) return settled(answer, true, ['reply', o.reply]);
      if (o.parts === undefined) {
        if (o.error === undefined) settled(answer, true, ['completed']);
        else settled(answer, false, o.error);
        return;
      }
      const [status, statusText, headers, body] = o.parts;
      settled(answer, true, ['response', status, statusText, headers, body]);
    };
    let outcome;
    try {
      outcome = dispatch();
    } catch (error) {
      return fail(error);
    }
    if (outcome instanceof Promise) outcome.then(deliver, fail);
    else deliver(outcome);
  }
  return {
    env(vars) { internals.env = JSON.parse(vars); },
    bind(name, maker, id) { return (internals.env[name] = internals[maker](id)); },
    finish(evaluation, namespace) { return internals.finishLoad(evaluation, namespace); },
    dispatchFetch(ids, method, url, headers, body, cf, entrypoint) {
      // A streamed body comes as ['native', id].
      if (Array.isArray(body)) body = internals.nativeStream(body[1]);
      report(() => internals.dispatchFetch(method, url, headers, body, cf, internals.env, entrypoint), ids);
    },
    dispatchScheduled(ids, cron, time) {
      report(() => internals.dispatchScheduled(cron, time, internals.env), ids);
    },
    dispatchQueue(ids, queue, messages) {
      report(() => internals.dispatchQueue(queue, messages, internals.env), ids);
    },
  };
}"#;

/// Finds the handlers once the linked graph (a promise of the entry's namespace) has evaluated.
const FINISH_MODULES: &str =
    "(glue, linked) => linked.then((namespace) => glue.finish(undefined, namespace))";

/// The wall-time limit of a request on JavaScriptCore when the host sets none (`verge dev`):
/// `verge serve`'s default. QuickJS needs none there, as it sees at once a handler's promise
/// that nothing can settle (freed by reference counting); JavaScriptCore's collector gives no
/// such word, so such a request would otherwise wait forever.
const DEFAULT_WALL_TIME: Duration = Duration::from_secs(120);

pub(crate) struct JscWorker {
    web: Web,
    /// What the platform keeps for the VM: request bodies handed to it, response bodies taken
    /// back, each request's subrequests.
    host: WebHost,
    /// The tag of the last event dispatched: what it keeps is forgotten when it ends.
    last_tag: std::cell::Cell<u64>,
    /// The glue's dispatch functions (see `GLUE`).
    dispatch_fetch: Kept,
    dispatch_scheduled: Kept,
    dispatch_queue: Kept,
    limits: WorkerLimits,
    /// The CPU slice the VM runs under: the worker's `[limits] cpu_ms`, or the server's.
    cpu_slice: Option<Duration>,
    name: String,
}

impl JscWorker {
    /// Loads `config`'s project into `spare`, a VM made ahead of time (see [`blank_vm`]), or
    /// into a new one.
    pub(crate) async fn load(
        config: &WorkerConfig,
        limits: WorkerLimits,
        grants: Grants,
        spare: Option<Web>,
    ) -> Result<Self, LoadError> {
        refuse_what_is_not_here_yet(config)?;
        let limits = WorkerLimits {
            wall_time: limits.wall_time.or(Some(DEFAULT_WALL_TIME)),
            ..limits
        };
        let resident_before = verge_jsc::resident_bytes();
        verge_jsc::available().map_err(|missing| {
            LoadError::Internal(JsError::internal(format!(
                "the worker asks for engine = \"jsc\": {missing}"
            )))
        })?;
        let bindings = Rc::new(verge_web::BindingTable::default());
        let binding_objects =
            verge_bindings::keep_engine_neutral(config, &grants.bindings, &bindings)
                .map_err(|message| LoadError::Script(JsError::thrown("TypeError", message)))?;
        let host = WebHost {
            console: grants.console,
            outbound: grants.outbound,
            subrequest_limit: config.limits.subrequests.unwrap_or(limits.subrequests),
            bindings,
            ..WebHost::unreachable()
        };
        let cpu_slice = config
            .limits
            .cpu_ms
            .map(Duration::from_millis)
            .or(limits.isolate.cpu_slice);
        let vm_limits = VmLimits {
            memory_bytes: limits.isolate.memory_bytes,
            cpu_slice,
        };
        let web = match spare {
            Some(web) => {
                web.set_host(host).map_err(LoadError::Internal)?;
                web.vm().set_limits(&vm_limits);
                web
            }
            None => Web::new(vm_limits, host, &crate::platform::PLATFORM)
                .map_err(LoadError::Internal)?,
        };
        let script = |error: JsError| LoadError::Script(error);
        let main = config.main.as_deref().ok_or_else(|| {
            script(JsError::thrown(
                "TypeError",
                "a project of [assets] alone has no worker to run on JavaScriptCore",
            ))
        })?;
        let vars = serde_json::Value::Object(config.vars.clone().into_iter().collect()).to_string();
        let ([dispatch_fetch, dispatch_scheduled, dispatch_queue], loaded) = {
            let vm = web.vm();
            let scope = vm.scope();
            let internals = web.internals(scope).map_err(LoadError::Internal)?;
            let glue = vm
                .evaluate(GLUE, "verge:runtime/jsc-glue.js")
                .and_then(|glue| glue.call(&[internals, web.settled(scope)?]))
                .map_err(LoadError::Internal)?;
            call(&glue, "env", &[scope.string(&vars)]).map_err(script)?;
            let mut objects = Vec::new();
            for object in &binding_objects {
                let made = [
                    scope.string(&object.binding),
                    scope.string(object.maker),
                    scope.number(object.id as f64),
                ];
                objects.push((&object.binding, call(&glue, "bind", &made).map_err(script)?));
            }
            let source = std::fs::read_to_string(config.root.join(main)).map_err(|source| {
                LoadError::Read {
                    path: config.root.join(main).display().to_string(),
                    source,
                }
            })?;
            let finished = if crate::format::is_module(&source) {
                let rules = crate::format::module_rules(main, &config.rules)
                    .map_err(|message| script(JsError::thrown("TypeError", message)))?;
                let mut modules = ProjectModules::new(&config.root).with_rules(rules);
                let linked = verge_js::link(main, &mut modules)
                    .map_err(|error| script(JsError::thrown("SyntaxError", error.to_string())))?;
                // Errors' stacks name each module's own file and line, not the linked script's.
                let LinkedScript {
                    script: source,
                    lines,
                } = linked;
                let script_url = main.to_owned();
                vm.map_positions(move |url, line, column| {
                    let (module, line, column) =
                        lines.position(line, column).filter(|_| url == script_url)?;
                    Some((module.to_owned(), line, column))
                });
                let linked = vm.evaluate(&source, main).map_err(script)?;
                vm.evaluate(FINISH_MODULES, "verge:runtime/jsc-finish.js")
                    .and_then(|finish| finish.call(&[glue.clone(), linked]))
            } else {
                let source = if verge_js::is_typescript(main) {
                    verge_js::strip_types(main, &source)
                        .map_err(|message| script(JsError::thrown("SyntaxError", message)))?
                } else {
                    source
                };
                // Service-worker syntax: vars and bindings are globals, as on Workers.
                for (name, object) in &objects {
                    scope.global().set(name, object).map_err(script)?;
                }
                for (key, value) in &config.vars {
                    let value = vm
                        .evaluate("JSON.parse", "verge:runtime/json.js")
                        .and_then(|parse| parse.call(&[scope.string(&value.to_string())]))
                        .map_err(script)?;
                    scope.global().set(key, &value).map_err(script)?;
                }
                vm.evaluate(&source, main)
                    .and_then(|_| call(&glue, "finish", &[scope.undefined(), scope.undefined()]))
            }
            .map_err(script)?;
            let loaded = web.settle(&finished).map_err(script)?;
            let keep = |name: &str| {
                glue.get(name)
                    .and_then(|function| scope.keep(&function))
                    .map_err(LoadError::Internal)
            };
            let dispatchers = [
                keep("dispatchFetch")?,
                keep("dispatchScheduled")?,
                keep("dispatchQueue")?,
            ];
            (dispatchers, loaded)
        };
        loaded.await.map_err(script)?;
        // The process's growth while loading stands for the heap until the guard measures it,
        // so that the server's memory budget sees this VM from the start.
        if let (Some(before), Some(after)) = (resident_before, verge_jsc::resident_bytes()) {
            web.vm().estimate_heap(after.saturating_sub(before));
        }
        Ok(Self {
            host: web.host(),
            web,
            last_tag: std::cell::Cell::new(0),
            dispatch_fetch,
            dispatch_scheduled,
            dispatch_queue,
            limits,
            cpu_slice,
            name: config.name.clone(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// What the guard last measured the heap to hold (measuring now would collect garbage).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.web.vm().heap_measured()
    }

    /// Time spent in entries into the VM, promise jobs they ran included.
    pub(crate) fn busy_time(&self) -> Duration {
        self.web.vm().busy_time()
    }

    /// Whether a limit stopped the VM outside a request's own entry (see `Worker::is_spent`).
    pub(crate) fn is_spent(&self) -> bool {
        self.web.is_spent()
    }

    /// Runs the fetch handler of `entrypoint` (`None`: the default export) for `request`.
    pub(crate) async fn fetch(
        &self,
        request: Request,
        entrypoint: Option<String>,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        let Request {
            method,
            url,
            headers,
            body,
            cf,
            depth,
            ..
        } = request;
        let tag = self.next_tag();
        // Its subrequests through service bindings go one deeper.
        self.host.subrequests.set_depth(tag, depth);
        // Streamed, it comes as ['native', id]: the glue makes it `internals.nativeStream(id)`,
        // as QuickJS's host does.
        let body = self.host.bodies.to_data(body, tag);
        let arguments = [
            Data::String(method),
            Data::String(url),
            Data::List(headers.into_js().into_iter().map(Data::String).collect()),
            body,
            cf.map_or(Data::Undefined, |cf| Data::String(cf.to_string())),
            entrypoint.map_or(Data::Undefined, Data::String),
        ];
        self.dispatch(self.dispatch_fetch, arguments.into(), tag, console)
            .await
    }

    /// A tag for the next event, by which what it does is counted and then forgotten.
    fn next_tag(&self) -> u64 {
        let tag = self.last_tag.get() + 1;
        self.last_tag.set(tag);
        tag
    }

    /// Runs the scheduled handler for cron trigger `cron` firing at `time_ms`.
    pub(crate) async fn scheduled(
        &self,
        cron: &str,
        time_ms: f64,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        let arguments = vec![Data::String(cron.to_owned()), Data::Number(time_ms)];
        let tag = self.next_tag();
        self.dispatch(self.dispatch_scheduled, arguments, tag, console)
            .await
    }

    /// Runs the queue handler for a batch of `queue`'s `messages` (see `Worker::queue`).
    pub(crate) async fn queue(
        &self,
        queue: &str,
        messages: Vec<verge_storage::QueuedMessage>,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        #[allow(clippy::cast_precision_loss)]
        let batch = messages
            .into_iter()
            .map(|message| {
                Data::List(vec![
                    Data::String(message.id),
                    Data::Number(message.sent_ms as f64),
                    Data::Bytes(message.body.to_vec()),
                    Data::String(message.content_type.name().to_owned()),
                    Data::Number(message.attempts.into()),
                ])
            })
            .collect();
        let arguments = vec![Data::String(queue.to_owned()), Data::List(batch)];
        let tag = self.next_tag();
        self.dispatch(self.dispatch_queue, arguments, tag, console)
            .await
    }

    /// Calls the glue's `dispatch` function, then waits for its answer (within the wall-time
    /// limit) and keeps its `ctx.waitUntil` work alive (within its bound), all on behalf of
    /// event `tag`, which logs to `console` if given. When that ends, what the event kept is
    /// forgotten, as on QuickJS: the bodies nothing started reading are dropped, so that the
    /// connection they came on can serve its next request.
    async fn dispatch(
        &self,
        dispatch: Kept,
        arguments: Vec<Data>,
        tag: u64,
        console: Option<ConsoleSink>,
    ) -> Outcome {
        if let Some(console) = console {
            self.host.event_consoles.insert(tag, console);
        }
        let host = self.host.clone();
        let forget = move || host.forget_request(tag);
        let (answer_id, answer) = self.web.expect();
        let (pass_through_id, pass_through) = self.web.expect();
        let (done_id, done) = self.web.expect();
        let ids = [answer_id, pass_through_id, done_id].map(|id| Data::Number(id.into()));
        let called = self.web.run_as(tag, || {
            let scope = self.web.vm().scope();
            let arguments = std::iter::once(Data::List(ids.into()))
                .chain(arguments)
                .map(|argument| scope.from_data(argument))
                .collect::<Result<Vec<_>, _>>();
            scope
                .kept(dispatch)
                .and_then(|dispatch| dispatch.call(&arguments?))
                .map(drop)
        });
        if let Err(error) = called {
            self.web.abandon_at_limit(&error);
            forget();
            return self.failed(error, false);
        }
        let answer = tokio::select! {
            answer = answer => answer,
            () = wall_clock(self.limits.wall_time) => {
                forget();
                return Outcome::wall_time_limit(self.limits.wall_time.unwrap_or_default());
            }
        };
        let bound = self.limits.wait_until;
        let name = self.name.clone();
        tokio::task::spawn_local(async move {
            if tokio::time::timeout(bound, done).await.is_err() {
                tracing::warn!(worker = %name, "ctx.waitUntil() work was cancelled after {bound:?}");
            }
            forget();
        });
        match answer.and_then(|answer| self.read_answer(answer)) {
            Ok(outcome) => outcome,
            Err(error) => {
                let pass_through = matches!(pass_through.await, Ok(Data::Bool(true)));
                self.failed(error, pass_through)
            }
        }
    }

    /// The outcome a dispatch's answer describes: `['completed']`, or `['response', status,
    /// statusText, headers, body]` with body as `NativeBodies::from_data` takes it.
    fn read_answer(&self, answer: Data) -> Result<Outcome, JsError> {
        let malformed = || JsError::internal("the entry points answered something unexpected");
        let Data::List(items) = answer else {
            return Err(malformed());
        };
        let mut items = items.into_iter();
        match items.next() {
            Some(Data::String(kind)) if kind == "completed" => Ok(Outcome::Completed),
            Some(Data::String(kind)) if kind == "reply" => match items.next() {
                Some(Data::String(reply)) => Ok(Outcome::Reply(reply)),
                _ => Err(malformed()),
            },
            Some(Data::String(kind)) if kind == "response" => {
                let (
                    Some(Data::Number(status)),
                    Some(Data::String(status_text)),
                    Some(Data::List(headers)),
                    Some(body),
                ) = (items.next(), items.next(), items.next(), items.next())
                else {
                    return Err(malformed());
                };
                if status == 0.0 {
                    return Err(crate::entry::error_response());
                }
                let headers = headers
                    .into_iter()
                    .map(|header| match header {
                        Data::String(text) => Ok(text),
                        _ => Err(malformed()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let body = self.host.bodies.from_data(body).map_err(|_| malformed())?;
                Ok(Outcome::Response(Response {
                    status_text,
                    ..Response::new(status as u16, HeaderList::from_js(headers), body)
                }))
            }
            _ => Err(malformed()),
        }
    }

    /// The outcome of a dispatch that failed with `error`.
    fn failed(&self, error: JsError, pass_through: bool) -> Outcome {
        if error.is_interrupt() {
            return Outcome::cpu_limit(self.cpu_slice);
        }
        Outcome::Exception {
            error,
            pass_through,
        }
    }
}

/// A VM with the platform installed that belongs to no worker yet: made ahead of time, off the
/// request path, it spares a cold start the VM and the platform (3.7 ms of it).
pub(crate) fn blank_vm() -> Result<Web, LoadError> {
    Web::new(
        VmLimits::default(),
        WebHost::unreachable(),
        &crate::platform::PLATFORM,
    )
    .map_err(LoadError::Internal)
}

/// Calls `object.name(...arguments)`.
fn call<'vm>(
    object: &Value<'vm>,
    name: &str,
    arguments: &[Value<'vm>],
) -> Result<Value<'vm>, JsError> {
    object.get(name)?.call(arguments)
}

/// Refuses, naming it, what a worker on JavaScriptCore cannot have yet.
fn refuse_what_is_not_here_yet(config: &WorkerConfig) -> Result<(), LoadError> {
    let missing = [
        (!config.durable_objects.is_empty(), "Durable Objects"),
        (
            verge_web::NodeModules::enabled_by(&config.compatibility_flags),
            "nodejs_compat",
        ),
    ];
    match missing.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(LoadError::Script(JsError::thrown(
            "TypeError",
            format!(
                "{what} are not available on the JavaScriptCore engine yet: remove engine = \"jsc\" to run this worker on QuickJS"
            ),
        ))),
        None => Ok(()),
    }
}
