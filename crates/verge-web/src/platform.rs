//! How the runtime's JavaScript gets into an isolate. A [`Platform`] is the list of [`Api`]s an
//! isolate gets — the Web APIs of this crate, and those that other crates (the bindings, the
//! worker's entry points) declare the same way — each a file run as
//! `(function (ops, internals) { … })` with the native ops it needs.
//!
//! [`install`] runs once per isolate: it runs the eager files in platform order, and leaves the
//! lazy ones' names to a fallback prototype that loads a file when one of its names is first
//! read (`js/install.js`). The files are QuickJS bytecode built with the binary (see
//! `verge-js-build`); a probe script, compiled at build time and again by the first isolate of
//! the process, decides whether this QuickJS reads them as written, else every isolate parses
//! the sources.
//!
//! Lifecycle: a platform is one per process (its name table is built on first use); an
//! isolate's ops are made for the host it has when each file loads.

use crate::{type_error, WebHost};
use rquickjs::context::EvalOptions;
use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Function, Object, Persistent, Value};
use std::collections::HashMap;
use std::sync::OnceLock;
use verge_js::{rquickjs, AsyncDataOp, DataOp, Isolate, JsError, Ops};

/// Adds one file's native ops, made for `host`, to a QuickJS isolate's `ops`.
pub type RegisterOps = for<'js> fn(&Ops<'js>, &WebHost) -> rquickjs::Result<()>;

/// One file's engine-neutral ops (see `verge_js::Data`), made for `host`: each engine adds
/// them to its own `ops` object, keeping an op that an earlier file added (so that files
/// sharing an op share its state). State they share lives in the closures, one set per
/// isolate.
pub type DataOps = fn(&WebHost) -> Vec<(&'static str, DataOp)>;

/// One file's engine-neutral async ops (see `verge_js::AsyncDataOp`), made as [`DataOps`] are:
/// each returns a promise its future settles.
pub type AsyncDataOps = fn(&WebHost) -> Vec<(&'static str, AsyncDataOp)>;

/// How a file's native ops are made: once for every engine, by each engine's event loop, or
/// for QuickJS alone (such a file cannot load on another engine yet).
#[derive(Clone, Copy)]
pub enum Register {
    Data(DataOps),
    AsyncData(AsyncDataOps),
    /// The timer ops (`timerInit(fire)`, `timerStart(id, delayMs)`, `timerCancel(id)`), which
    /// call back into the engine later: each engine's event loop supplies its own, QuickJS's
    /// through this function.
    Timers(RegisterOps),
    QuickJs(RegisterOps),
}

/// When an API's file runs in a new isolate.
pub enum Load {
    /// While the isolate is set up: what every request needs, and what other files build on.
    Eager,
    /// On first use of one of the names it defines: `globals` (on `globalThis`) or `internals`
    /// (on the internals object).
    Lazy {
        globals: &'static [&'static str],
        internals: &'static [&'static str],
    },
}

/// One API: its JavaScript file, the native ops it needs and when it loads. Made by [`api!`].
pub struct Api {
    /// The file, relative to its crate.
    file: &'static str,
    /// Its script name in stack traces: `verge:<crate>/<file>`.
    name: &'static str,
    source: &'static str,
    /// The bytecode the build compiled it to.
    bytecode: &'static [u8],
    ops: &'static [Register],
    load: Load,
}

impl Api {
    /// What [`api!`] makes.
    ///
    /// # Safety
    /// `bytecode` must be what `verge-js-build` compiled from `source` in this build: QuickJS
    /// runs bytecode without checking it.
    #[doc(hidden)]
    #[allow(unsafe_code)]
    pub const unsafe fn from_build(
        file: &'static str,
        name: &'static str,
        source: &'static str,
        bytecode: &'static [u8],
        ops: &'static [Register],
        load: Load,
    ) -> Self {
        Self {
            file,
            name,
            source,
            bytecode,
            ops,
            load,
        }
    }

    /// The file, relative to its crate.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Its script name in stack traces: `verge:<crate>/<file>`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its JavaScript: `(function (ops, internals) { … })`.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// How its native ops are made.
    pub fn ops(&self) -> &'static [Register] {
        self.ops
    }

    /// When it loads.
    pub fn load(&self) -> &Load {
        &self.load
    }
}

/// Adds each of `registers`' ops, made for `host`, to a QuickJS isolate's `ops`.
fn register_all(ops: &Ops<'_>, registers: &[Register], host: &WebHost) -> rquickjs::Result<()> {
    for register in registers {
        match register {
            Register::Data(make) => ops.add_data(make(host))?,
            Register::AsyncData(make) => ops.add_async_data(make(host))?,
            Register::Timers(register) | Register::QuickJs(register) => register(ops, host)?,
        }
    }
    Ok(())
}

/// An [`Api`] of the calling crate's file `$path` (relative to the crate; its build script
/// compiles it with `verge_js_build::compile_dirs`) and the functions that make its ops, each
/// `data f` (a [`DataOps`], for every engine), `async_data f` (an [`AsyncDataOps`]), `timers f` (see [`Register::Timers`]) or
/// `quickjs f` (a [`RegisterOps`]); lazy when
/// followed by `; globals [..]; internals [..]`, the names it defines.
#[macro_export]
macro_rules! api {
    ($path:literal $(, $kind:ident $ops:path)*) => {
        $crate::api!(@make $path, [$($crate::api!(@op $kind $ops)),*], $crate::Load::Eager)
    };
    ($path:literal $(, $kind:ident $ops:path)*; globals $globals:expr; internals $internals:expr) => {
        $crate::api!(@make $path, [$($crate::api!(@op $kind $ops)),*], $crate::Load::Lazy {
            globals: &$globals,
            internals: &$internals,
        })
    };
    (@op data $ops:path) => { $crate::Register::Data($ops) };
    (@op async_data $ops:path) => { $crate::Register::AsyncData($ops) };
    (@op timers $ops:path) => { $crate::Register::Timers($ops) };
    (@op quickjs $ops:path) => { $crate::Register::QuickJs($ops) };
    (@make $path:literal, [$($ops:expr),*], $load:expr) => {{
        const FILE: &str = $path;
        const NAME: &str = concat!("verge:", env!("CARGO_PKG_NAME"), "/", $path);
        const SOURCE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path));
        const BYTECODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/", $path, ".bin"));
        const OPS: &[$crate::Register] = &[$($ops),*];
        const LOAD: $crate::Load = $load;
        #[allow(unsafe_code)]
        // SAFETY: the bytes are those the crate's build script compiled this very file to
        // (`verge_js_build::compile_dirs`), included from where it wrote them.
        const API: $crate::Api =
            unsafe { $crate::Api::from_build(FILE, NAME, SOURCE, BYTECODE, OPS, LOAD) };
        API
    }};
}

/// The runtime JavaScript of an isolate: APIs in the order their eager files run, the first
/// being the loader (`js/install.js`).
pub struct Platform {
    parts: fn() -> Vec<&'static Api>,
    apis: OnceLock<Vec<&'static Api>>,
    /// The lazy API that defines each name, global (`true`) or internal: one table per
    /// process, so that no isolate holds the names.
    names: OnceLock<HashMap<(bool, &'static str), usize>>,
}

impl Platform {
    /// The platform of the APIs `parts` lists, in order.
    pub const fn new(parts: fn() -> Vec<&'static Api>) -> Self {
        Self {
            parts,
            apis: OnceLock::new(),
            names: OnceLock::new(),
        }
    }

    pub fn apis(&self) -> &[&'static Api] {
        self.apis.get_or_init(self.parts)
    }

    /// The names the lazy APIs define as globals (`global`) or internals, each with the index
    /// of the API that defines it.
    pub fn lazy_names(&self, global: bool) -> Vec<(&'static str, usize)> {
        self.apis()
            .iter()
            .enumerate()
            .filter_map(|(index, api)| match api.load {
                Load::Lazy { globals, internals } => {
                    let names = if global { globals } else { internals };
                    Some(names.iter().map(move |name| (*name, index)))
                }
                Load::Eager => None,
            })
            .flatten()
            .collect()
    }

    /// The index of the lazy API that defines `name` as a global (`global`) or an internal.
    pub fn lazy_api(&self, global: bool, name: &str) -> Option<usize> {
        let names = self.names.get_or_init(|| {
            let mut names = HashMap::new();
            for (index, api) in self.apis().iter().enumerate() {
                if let Load::Lazy { globals, internals } = api.load {
                    names.extend(globals.iter().map(|name| ((true, *name), index)));
                    names.extend(internals.iter().map(|name| ((false, *name), index)));
                }
            }
            names
        });
        names.get(&(global, name)).copied()
    }
}

impl Platform {
    /// Checks the platform's declarations against its files, each in fresh isolates: no eager
    /// file registers ops (they would keep the host of `install`, see [`set_host`]); every file
    /// loads from its bytecode and from its source; and each lazy file, once loaded, defines
    /// exactly the names it declares. For the tests of each crate that assembles a platform.
    pub fn verify(&'static self) -> Result<(), String> {
        let fail = |error: JsError| error.to_string();
        for api in self.apis() {
            if matches!(api.load, Load::Eager) && !api.ops.is_empty() {
                return Err(format!("{} is eager and registers ops", api.file));
            }
        }
        let isolate = Isolate::new(Default::default()).map_err(fail)?;
        isolate
            .enter(|ctx| {
                for api in self.apis() {
                    init_function(ctx, api)?;
                    init_function_from_source(ctx, api)?;
                }
                Ok(())
            })
            .map_err(fail)?;
        let declared: Vec<&str> = self
            .apis()
            .iter()
            .filter_map(|api| match api.load {
                Load::Lazy { globals, internals } => Some(globals.iter().chain(internals)),
                Load::Eager => None,
            })
            .flatten()
            .copied()
            .collect();
        for api in self.apis() {
            let Load::Lazy {
                globals,
                internals: inner,
            } = api.load
            else {
                continue;
            };
            let Some(first) = globals.first().or(inner.first()) else {
                return Err(format!("{} is lazy and declares no name", api.file));
            };
            let target = if globals.is_empty() {
                "internals"
            } else {
                "globalThis"
            };
            // Names that appeared, and declared names still lazy, after using the first one.
            let script = format!(
                "(internals) => {{
                   const own = () => [...Object.getOwnPropertyNames(globalThis),
                     ...Object.getOwnPropertyNames(internals).map((n) => 'internals.' + n)];
                   const before = new Set(own());
                   void {target}['{first}'];
                   const lazy = (o, n) => !Object.hasOwn(o, n);
                   return [own().filter((n) => !before.has(n)),
                     [...{globals:?}.filter((n) => lazy(globalThis, n)),
                      ...{inner:?}.filter((n) => lazy(internals, n))]];
                 }}"
            );
            let isolate = Isolate::new(Default::default()).map_err(fail)?;
            install(&isolate, WebHost::unreachable(), self).map_err(fail)?;
            let [appeared, still_lazy]: [Vec<String>; 2] = isolate
                .enter(|ctx| {
                    let check: Function = ctx.eval(script)?;
                    check.call::<_, Vec<Vec<String>>>((internals(ctx)?,))
                })
                .map_err(fail)?
                .try_into()
                .map_err(|_| format!("checking {} went wrong", api.file))?;
            if !still_lazy.is_empty() {
                return Err(format!("{} does not define {still_lazy:?}", api.file));
            }
            let undeclared: Vec<&String> = appeared
                .iter()
                .filter(|n| !declared.contains(&n.trim_start_matches("internals.")))
                .collect();
            if !undeclared.is_empty() {
                return Err(format!(
                    "{} defines names it does not declare lazy: {undeclared:?}",
                    api.file
                ));
            }
        }
        Ok(())
    }
}

/// The platform an isolate was installed with, for its loader and [`set_host`].
struct Installed(&'static Platform);

/// The hidden `internals` object of an installed isolate.
struct Internals(Persistent<Object<'static>>);

/// Installs `platform` into a fresh isolate. Runs once per isolate, before any user code:
/// eager APIs run now; lazy ones load when first used (see `js/install.js`).
pub fn install(
    isolate: &Isolate,
    host: WebHost,
    platform: &'static Platform,
) -> Result<(), JsError> {
    let host = WebHost {
        current_request: isolate.current_request(),
        ..host
    };
    isolate.enter(|ctx| {
        let ops = Ops::new(ctx)?;
        register_loader(&ops, platform)?;
        let internals = Object::new(ctx.clone())?;
        for api in platform.apis() {
            match api.load {
                Load::Eager => {
                    register_all(&ops, api.ops, &host)?;
                    init_function(ctx, api)?
                        .call::<_, ()>((ops.object().clone(), internals.clone()))?;
                }
                Load::Lazy { globals, .. } => {
                    // The engine's own version of a name (QuickJS has a `queueMicrotask`) gives
                    // way to ours.
                    for name in globals {
                        ctx.globals().remove(*name)?;
                    }
                }
            }
        }
        verge_js::store_host_state(ctx, host)?;
        verge_js::store_host_state(ctx, Installed(platform))?;
        verge_js::store_host_state(ctx, Internals(Persistent::save(ctx, internals)))
    })
}

/// Gives an isolate set up by [`install`] another host: how an isolate made ahead of time,
/// before anyone knew which worker would need it, becomes that worker's. Refused once a lazy
/// API has loaded, since the ops it registered were made for the host before.
pub fn set_host(isolate: &Isolate, host: WebHost) -> Result<(), JsError> {
    let host = WebHost {
        current_request: isolate.current_request(),
        ..host
    };
    isolate.enter(|ctx| {
        let Some(platform) = verge_js::with_host_state(ctx, |installed: &Installed| installed.0)
        else {
            return Err(type_error(ctx, "the isolate has no platform installed"));
        };
        let loaded: Vec<usize> = internals(ctx)?.get::<_, Function>("loadedApis")?.call(())?;
        let loaded: Vec<&str> = loaded
            .iter()
            .filter_map(|&index| Some(platform.apis().get(index)?.file))
            .collect();
        if !loaded.is_empty() {
            return Err(rquickjs::Error::new_from_js_message(
                "isolate",
                "blank isolate",
                format!(
                    "the host cannot change: {} already loaded",
                    loaded.join(", ")
                ),
            ));
        }
        let bound = verge_js::with_host_state(ctx, |old: &WebHost| !old.bindings.is_empty());
        if bound == Some(true) {
            return Err(type_error(
                ctx,
                "the host cannot change: binding objects were made for it",
            ));
        }
        verge_js::store_host_state(ctx, host)
    })
}

/// The hidden `internals` object of an isolate set up by [`install`].
pub fn internals<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    verge_js::with_host_state(ctx, |internals: &Internals| internals.0.clone())
        .ok_or_else(|| {
            rquickjs::Error::new_from_js("isolate", "Web APIs (install was not called)")
        })?
        .restore(ctx)
}

/// Registers what `install.js` needs: `ops.loadApi(index, ops)`, which loads a lazy API (it adds
/// that API's ops to `ops`, made for the isolate's host at that moment, and returns its init
/// function), `ops.fallbackPrototype`, which answers for the names not loaded yet,
/// `ops.lazyApi`, which names the API defining one, and `ops.fulfilled`, which reads a promise
/// already fulfilled (an engine's own op: JavaScriptCore's C API cannot tell).
fn register_loader<'js>(ops: &Ops<'js>, platform: &'static Platform) -> rquickjs::Result<()> {
    let load = move |ctx: Ctx<'js>, index: usize, ops: Object<'js>| {
        let api = platform
            .apis()
            .get(index)
            .ok_or_else(|| type_error(&ctx, "no such API"))?;
        let host = verge_js::with_host_state(&ctx, |host: &WebHost| host.clone())
            .ok_or_else(|| type_error(&ctx, "the isolate has no host"))?;
        register_all(&Ops::from(ops), api.ops, &host)?;
        init_function(&ctx, api)
    };
    ops.add("loadApi", load)?;
    let fallback = |ctx: Ctx<'js>, proto: Object<'js>, answer: Function<'js>| {
        verge_js::fallback_prototype(&ctx, proto, answer)
    };
    ops.add("fallbackPrototype", fallback)?;
    let lazy_api = move |global: bool, name: String| platform.lazy_api(global, &name);
    ops.add("lazyApi", lazy_api)?;
    ops.add("fulfilled", fulfilled)
}

/// What `value` is fulfilled with if it is a promise already fulfilled and no promise job is
/// waiting (so reading it now is what reading it through `then` would observe), `undefined`
/// for any other promise, and `value` itself if it is none: an async handler that answered
/// without awaiting is read at once, as a plain function's answer is, sparing the three promise
/// jobs that reading it through `then` costs (a fifth of hello's time on QuickJS).
fn fulfilled<'js>(ctx: Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let Some(promise) = value.as_promise() else {
        return Ok(value);
    };
    match promise.state() {
        PromiseState::Resolved if !verge_js::jobs_pending(&ctx) => promise
            .result()
            .unwrap_or_else(|| Ok(Value::new_undefined(ctx.clone()))),
        _ => Ok(Value::new_undefined(ctx)),
    }
}

/// The init function of `api`, from its built bytecode where this QuickJS reads it.
fn init_function<'js>(ctx: &Ctx<'js>, api: &Api) -> rquickjs::Result<Function<'js>> {
    if bytecode_usable(ctx) {
        #[allow(unsafe_code)]
        // SAFETY: the build wrote these bytes with `compile_script` from our own sources, and
        // `bytecode_usable` found that this QuickJS writes the same bytes for the same script.
        return unsafe { verge_js::run_script(ctx, api.bytecode) }?.get();
    }
    init_function_from_source(ctx, api)
}

/// The init function of `api`, parsed from its source: the way when the built bytecode does
/// not match this QuickJS.
fn init_function_from_source<'js>(ctx: &Ctx<'js>, api: &Api) -> rquickjs::Result<Function<'js>> {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(api.name.to_owned());
    ctx.eval_with_options(api.source, options)
}

/// Whether this process's QuickJS reads the built bytecode as the build wrote it; if not,
/// every isolate parses the sources instead (and the log says so once). The first call checks,
/// in `ctx`, which keeps nothing of it.
fn bytecode_usable(ctx: &Ctx<'_>) -> bool {
    static USABLE: OnceLock<bool> = OnceLock::new();
    *USABLE.get_or_init(|| {
        let agrees = bytecode_agrees(ctx).unwrap_or_else(|_| {
            // The probe did not compile (out of memory, say): clear what it threw.
            let _ = ctx.catch();
            false
        });
        if !agrees {
            tracing::warn!(
                "the runtime's built bytecode does not match this QuickJS: parsing the sources"
            );
        }
        agrees
    })
}

/// The probe's script name, the same at build time (build.rs) and here.
pub(crate) const PROBE_NAME: &str = "verge:verge-web/src/bytecode_probe.js";

/// Whether the probe script compiles here to the very bytes the build got for it.
pub(crate) fn bytecode_agrees(ctx: &Ctx<'_>) -> rquickjs::Result<bool> {
    const PROBE: &str = include_str!("bytecode_probe.js");
    const BUILT_PROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bytecode_probe.bin"));
    let here = verge_js::compile_script(ctx, PROBE_NAME, PROBE)?;
    Ok(here == BUILT_PROBE)
}
