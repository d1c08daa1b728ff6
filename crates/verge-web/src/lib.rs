//! `verge-web` owns the Web APIs of the Workers global scope: one module per API, each a
//! JavaScript file (the WebIDL surface: classes, argument checks, spec algorithms that are
//! cheap in JS) plus, where the work is heavy or needs the host, native Rust *ops* it calls.
//!
//! [`install`] runs once per isolate: it builds the hidden `ops` object, then evaluates the
//! eager APIs' files in the order of [`APIS`], each as `(function (ops, internals) { … })`, and
//! leaves accessors where the lazy ones' names go, which load their file on first use
//! (`js/install.js`). `internals` is how files share what scripts must not see (the Body mixin,
//! the header list of a request); the host reaches it through [`internals`]. Nothing here
//! touches the network, files or the environment: those come as bindings, granted by the
//! runtime.

mod base64;
mod body;
mod cache;
mod clock;
mod compression;
mod console;
mod crypto;
mod d1;
mod encoding;
mod fetch;
mod html_rewriter;
mod kv;
mod message;
mod node;
mod r2;
mod subtle;
mod timers;
mod url;

pub use body::{
    host_body_from_js, host_body_to_js, native_stream, with_length, Body, BoxError, ChannelBody,
    NativeBody,
};
pub use cache::CacheBinding;
pub use console::{ConsoleSink, LogLevel};
pub use d1::{d1_database, D1Binding};
pub use fetch::{fetcher, forget_request, set_request_depth, Outbound, OutboundFuture};
pub use kv::{kv_namespace, KvBinding};
pub use message::{is_hop_by_hop, HeaderList, InvalidHeader, RedirectMode, Request, Response};
pub use node::{install_globals as install_node_globals, NodeModules};
pub use r2::{r2_bucket, R2Binding};
pub use subtle::constant_time_eq;

use rquickjs::context::EvalOptions;
use rquickjs::{Ctx, Function, Object, Persistent, Value};
use std::collections::HashMap;
use verge_js::{rquickjs, Isolate, JsError, Ops};

/// What the host gives the Web APIs of one isolate.
#[derive(Clone)]
pub struct WebHost {
    /// Where `console.*` output goes.
    pub console: ConsoleSink,
    /// Where `fetch()` goes.
    pub outbound: std::rc::Rc<dyn Outbound>,
    /// The most `fetch()` calls one request may make.
    pub subrequest_limit: u32,
    /// What `caches` reach; `None`: the Cache API fails with a TypeError.
    pub cache: Option<CacheBinding>,
}

type RegisterOps = for<'js> fn(&Ops<'js>, &WebHost) -> rquickjs::Result<()>;

/// When an API's file runs in a new isolate.
enum Load {
    /// While the isolate is set up: what every request needs, and what other files build on.
    Eager,
    /// On first use of one of the names it defines: `globals` (on `globalThis`) or `internals`
    /// (on the internals object). `install.js` puts accessors there that load the file.
    Lazy {
        globals: &'static [&'static str],
        internals: &'static [&'static str],
    },
}

/// One Web API: its JavaScript file, the native ops it needs and when it loads.
struct Api {
    file: &'static str,
    source: &'static str,
    ops: &'static [RegisterOps],
    load: Load,
}

macro_rules! api {
    ($file:literal $(, $ops:path)*) => {
        Api {
            file: $file,
            source: include_str!(concat!("../js/", $file)),
            ops: &[$($ops),*],
            load: Load::Eager,
        }
    };
    ($file:literal $(, $ops:path)*; globals $globals:expr; internals $internals:expr) => {
        Api {
            file: $file,
            source: include_str!(concat!("../js/", $file)),
            ops: &[$($ops),*],
            load: Load::Lazy {
                globals: &$globals,
                internals: &$internals,
            },
        }
    };
}

/// The Web APIs in dependency order: one line each. A hello-world request runs only the eager
/// ones; the lazy ones cost nothing until a script touches what they define.
const APIS: &[Api] = &[
    api!("install.js", register_loader),
    api!("dom_exception.js"; globals ["DOMException"]; internals []),
    api!("iterators.js"; globals []; internals ["makeIterator"]),
    api!("events.js", clock::register; globals ["Event", "EventTarget"]; internals []),
    api!("console.js", console::register, clock::register;
        globals ["console"];
        internals ["inspect", "reportError"]),
    api!("timers.js", timers::register;
        globals ["setTimeout", "setInterval", "clearTimeout", "clearInterval", "queueMicrotask"];
        internals []),
    api!("abort.js"; globals ["AbortSignal", "AbortController"]; internals ["newAbortSignal"]),
    api!("encoding.js", encoding::register;
        globals ["TextEncoder", "TextDecoder"];
        internals ["toBytes", "utf8Encode", "utf8Decode"]),
    api!("streams.js";
        globals [
            "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader",
            "ReadableStreamDefaultController", "ReadableByteStreamController",
            "ReadableStreamBYOBRequest", "WritableStream", "WritableStreamDefaultWriter",
            "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
            "ByteLengthQueuingStrategy", "CountQueuingStrategy",
        ];
        internals ["isDisturbed", "readAllBytes"]),
    api!("native_body.js", body::register;
        globals [];
        internals ["nativeStream", "readAllNative", "untouchedNativeBody"]),
    api!("transform_streams.js", compression::register;
        globals ["TextEncoderStream", "TextDecoderStream", "CompressionStream", "DecompressionStream"];
        internals []),
    api!("base64.js", base64::register; globals ["btoa", "atob"]; internals []),
    api!("mime.js", base64::register; globals []; internals ["bodyMimeType", "fetchDataUrl"]),
    api!("url.js", url::register;
        globals ["URL"];
        internals ["parseHref", "setUrlQuery", "toUSV"]),
    api!("url_search_params.js", url::register_form;
        globals ["URLSearchParams"];
        internals ["linkedSearchParams", "reparseSearchParams"]),
    api!("blob.js"; globals ["Blob", "File"]; internals ["blobBytes", "makeBlob", "setBlobType"]),
    api!("form_data.js"; globals ["FormData"]; internals ["parseFormData", "serializeFormData"]),
    api!("headers.js"),
    api!("body.js"),
    api!("request.js"),
    api!("response.js"),
    api!("fetch.js", fetch::register; globals ["fetch"]; internals ["makeFetcher"]),
    api!("structured_clone.js"; globals ["structuredClone"]; internals []),
    api!("subtle.js", subtle::register; globals ["SubtleCrypto", "CryptoKey"]; internals ["subtle"]),
    api!("crypto.js", crypto::register; globals ["Crypto", "crypto"]; internals []),
    api!("navigator.js", clock::register;
        globals ["Performance", "performance", "Navigator", "navigator", "self"];
        internals []),
    api!("html_rewriter.js", html_rewriter::register; globals ["HTMLRewriter"]; internals []),
    api!("kv.js", kv::register; globals []; internals ["makeKvNamespace"]),
    api!("d1.js", d1::register; globals []; internals ["makeD1Database"]),
    api!("r2.js", r2::register; globals []; internals ["makeR2Bucket"]),
    api!("cache.js", cache::register; globals ["Cache", "CacheStorage", "caches"]; internals []),
    api!("fetch_event.js"),
    api!("scheduled.js"; globals ["ScheduledController"]; internals ["dispatchScheduled"]),
    api!("service_worker.js";
    globals [
        "FetchEvent", "ScheduledEvent", "addEventListener", "removeEventListener",
        "dispatchEvent",
    ];
    internals [
        "hasFetchListeners", "dispatchFetchEvent", "hasScheduledListeners",
        "dispatchScheduledEvent",
    ]),
    // nodejs_compat's modules: loaded when a worker imports one (see `node`).
    api!("node/events.js"; globals []; internals ["node:events"]),
    api!("node/buffer.js", node::register; globals []; internals ["node:buffer"]),
    api!("node/util.js"; globals []; internals ["node:util", "node:util/types", "isDeepEqual"]),
    api!("node/assert.js"; globals []; internals ["node:assert", "node:assert/strict"]),
    api!("node/path.js"; globals []; internals ["node:path", "node:path/posix"]),
    api!("node/async_hooks.js", node::register; globals []; internals ["node:async_hooks"]),
    api!("node/crypto.js", node::register, subtle::register; globals []; internals ["node:crypto"]),
    api!("node/process.js"; globals []; internals ["node:process"]),
    api!("codegen.js"),
];

/// Each file of `js/` with its bytecode, compiled by build.rs.
const BUILT_BYTECODE: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_apis.rs"));

/// The bytecode of `file` of `js/`, unless this process's QuickJS would read it differently
/// than the build's wrote it: then every isolate parses the sources instead (and says so once).
/// The first call checks, in `ctx`, which keeps nothing of it.
fn built_bytecode(ctx: &Ctx<'_>, file: &str) -> Option<&'static [u8]> {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let usable = *USABLE.get_or_init(|| {
        let agrees = bytecode_agrees(ctx).unwrap_or_else(|_| {
            // The probe did not compile (out of memory, say): clear what it threw.
            let _ = ctx.catch();
            false
        });
        if !agrees {
            tracing::warn!(
                "the Web APIs' built bytecode does not match this QuickJS: parsing their sources"
            );
        }
        agrees
    });
    if !usable {
        return None;
    }
    BUILT_BYTECODE
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, bytecode)| *bytecode)
}

/// Whether the probe script compiles here to the very bytes build.rs got for it.
fn bytecode_agrees(ctx: &Ctx<'_>) -> rquickjs::Result<bool> {
    const PROBE: &str = include_str!("bytecode_probe.js");
    const BUILT_PROBE: &[u8] = include!(concat!(env!("OUT_DIR"), "/bytecode_probe.rs"));
    let here = verge_js::compile_script(ctx, "verge:web/bytecode_probe.js", PROBE)?;
    Ok(here == BUILT_PROBE)
}

struct Internals(Persistent<Object<'static>>);

/// Registers what `install.js` needs: `ops.loadApi(index, ops)`, which loads a lazy API (it adds
/// that API's ops to `ops`, made for the isolate's host at that moment, and returns its init
/// function), `ops.fallbackPrototype`, which answers for the names not loaded yet, and
/// `ops.lazyApi`, which names the API defining one.
fn register_loader<'js>(ops: &Ops<'js>, _: &WebHost) -> rquickjs::Result<()> {
    let load = |ctx: Ctx<'js>, index: usize, ops: Object<'js>| {
        let api = APIS
            .get(index)
            .ok_or_else(|| type_error(&ctx, "no such Web API"))?;
        let host = verge_js::with_host_state(&ctx, |host: &WebHost| host.clone())
            .ok_or_else(|| type_error(&ctx, "the isolate has no host"))?;
        let ops = Ops::from(ops);
        for register in api.ops {
            register(&ops, &host)?;
        }
        init_function(&ctx, index)
    };
    ops.add("loadApi", load)?;
    let fallback = |ctx: Ctx<'js>, proto: Object<'js>, answer: Function<'js>| {
        verge_js::fallback_prototype(&ctx, proto, answer)
    };
    ops.add("fallbackPrototype", fallback)?;
    let lazy_api = |global: bool, name: String| lazy_api(global, &name);
    ops.add("lazyApi", lazy_api)
}

/// The index in [`APIS`] of the lazy API that defines `name` as a global (`global`) or else an
/// internal: one table per process, so that no isolate holds the names.
fn lazy_api(global: bool, name: &str) -> Option<usize> {
    static NAMES: std::sync::OnceLock<HashMap<(bool, &'static str), usize>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut names = HashMap::new();
        for (index, api) in APIS.iter().enumerate() {
            if let Load::Lazy { globals, internals } = api.load {
                names.extend(globals.iter().map(|name| ((true, *name), index)));
                names.extend(internals.iter().map(|name| ((false, *name), index)));
            }
        }
        names
    });
    names.get(&(global, name)).copied()
}

/// The init function of `APIS[index]`, from its built bytecode where this QuickJS reads it.
fn init_function<'js>(ctx: &Ctx<'js>, index: usize) -> rquickjs::Result<Function<'js>> {
    let api = &APIS[index];
    match built_bytecode(ctx, api.file) {
        #[allow(unsafe_code)]
        // SAFETY: build.rs wrote these bytes with `compile_script` from our own sources, and
        // `built_bytecode` found that this QuickJS writes the same bytes for the same script.
        Some(bytecode) => unsafe { verge_js::run_script(ctx, bytecode) }?.get(),
        None => init_function_from_source(ctx, api),
    }
}

/// The init function of `api`, parsed from its source: the way when the built bytecode does
/// not match this QuickJS.
fn init_function_from_source<'js>(ctx: &Ctx<'js>, api: &Api) -> rquickjs::Result<Function<'js>> {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(format!("verge:web/{}", api.file));
    ctx.eval_with_options(api.source, options)
}

/// Installs the Web APIs into a fresh isolate. Runs once per isolate, before any user code:
/// eager APIs run now; lazy ones load when first used (see `js/install.js`).
pub fn install(isolate: &Isolate, host: WebHost) -> Result<(), JsError> {
    isolate.enter(|ctx| {
        let ops = Ops::new(ctx)?;
        let internals = Object::new(ctx.clone())?;
        for (index, api) in APIS.iter().enumerate() {
            match api.load {
                Load::Eager => {
                    for register in api.ops {
                        register(&ops, &host)?;
                    }
                    init_function(ctx, index)?
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
        verge_js::store_host_state(ctx, Internals(Persistent::save(ctx, internals)))
    })
}

/// Gives an isolate set up by [`install`] another host: how an isolate made ahead of time,
/// before anyone knew which worker would need it, becomes that worker's. Refused once a lazy
/// API has loaded, since its ops were made for the host before.
pub fn set_host(isolate: &Isolate, host: WebHost) -> Result<(), JsError> {
    isolate.enter(|ctx| {
        let loaded: Vec<usize> = internals(ctx)?.get::<_, Function>("loadedApis")?.call(())?;
        let loaded: Vec<&str> = loaded
            .iter()
            .filter_map(|&index| Some(APIS.get(index)?.file))
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

/// The host-side values of an isolate's binding objects of one kind (KV namespaces, service
/// bindings), by id: the index each JavaScript object carries.
struct Bindings<T>(std::cell::RefCell<Vec<T>>);

impl<T> Default for Bindings<T> {
    fn default() -> Self {
        Self(std::cell::RefCell::default())
    }
}

/// Keeps `value` for the isolate of `ctx` and returns the JavaScript object that stands for it,
/// made by `internals[maker](id)`.
fn bind<'js, T: 'static>(ctx: &Ctx<'js>, value: T, maker: &str) -> rquickjs::Result<Value<'js>> {
    verge_js::ensure_host_state::<Bindings<T>>(ctx)?;
    let id = verge_js::with_host_state(ctx, |bindings: &Bindings<T>| {
        let mut bindings = bindings.0.borrow_mut();
        bindings.push(value);
        bindings.len() - 1
    })
    .ok_or_else(|| type_error(ctx, "the isolate's bindings are unavailable"))?;
    internals(ctx)?.get::<_, Function>(maker)?.call((id,))
}

/// The value behind binding object `id` of kind `T`; a TypeError if there is none.
fn bound<T: Clone + 'static>(ctx: &Ctx<'_>, id: usize) -> rquickjs::Result<T> {
    verge_js::with_host_state(ctx, |bindings: &Bindings<T>| {
        bindings.0.borrow().get(id).cloned()
    })
    .flatten()
    .ok_or_else(|| type_error(ctx, "not a binding of this worker"))
}

/// A promise of one call on binding object `id` of kind `B`: rejected with `checked`'s error if
/// the arguments broke a rule, else settled by the store's future `call(binding)`, whose output
/// `convert` turns into JavaScript.
fn binding_call<'js, B: Clone + 'static, T: 'static>(
    ctx: &Ctx<'js>,
    id: usize,
    checked: Result<(), verge_storage::StorageError>,
    call: impl FnOnce(B) -> verge_storage::StorageFuture<T>,
    convert: impl for<'a> FnOnce(&Ctx<'a>, T) -> rquickjs::Result<Value<'a>> + 'static,
) -> rquickjs::Result<rquickjs::Promise<'js>> {
    let binding: B = bound(ctx, id)?;
    let pending = checked.map(|()| call(binding));
    verge_js::spawn_promise(
        ctx,
        async move { pending.map_err(storage_error)?.await.map_err(storage_error) },
        convert,
    )
}

/// Converts a store's `()` for a promise that resolves to `undefined`.
fn undefined<'js>(ctx: &Ctx<'js>, (): ()) -> rquickjs::Result<Value<'js>> {
    Ok(Value::new_undefined(ctx.clone()))
}

/// How a storage failure rejects a script's promise: a broken rule or limit as a TypeError, a
/// backend's failure or a store's refusal (an SQL error) as an Error, each with the storage's
/// message.
fn storage_error(error: verge_storage::StorageError) -> verge_js::OpError {
    match error {
        verge_storage::StorageError::Invalid(message) => verge_js::OpError::Type(message),
        verge_storage::StorageError::Backend(message)
        | verge_storage::StorageError::Refused(message) => verge_js::OpError::Error(message),
    }
}

/// Throws a JavaScript `TypeError` with `message`.
pub(crate) fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    rquickjs::Exception::throw_type(ctx, message)
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::collections::BTreeSet;
    use std::rc::Rc;

    struct NoNetwork;

    impl Outbound for NoNetwork {
        fn fetch(&self, _request: Request) -> OutboundFuture {
            Box::pin(async { Err(verge_js::OpError::Type("no network".into())) })
        }
    }

    fn host(console: ConsoleSink) -> WebHost {
        WebHost {
            console,
            outbound: Rc::new(NoNetwork),
            subrequest_limit: 10,
            cache: None,
        }
    }

    fn installed() -> Isolate {
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        install(&isolate, host(Rc::new(|_, _| {}))).unwrap();
        isolate
    }

    /// A console sink and what it printed.
    fn recording() -> (ConsoleSink, Rc<std::cell::RefCell<Vec<String>>>) {
        let lines: Rc<std::cell::RefCell<Vec<String>>> = Rc::default();
        let sink = lines.clone();
        let console: ConsoleSink = Rc::new(move |_, text| sink.borrow_mut().push(text.to_owned()));
        (console, lines)
    }

    #[test]
    fn an_isolate_takes_a_new_host_until_a_lazy_api_loads() {
        // Eager APIs' ops would keep the host of `install`: only the loader may be eager.
        for api in APIS.iter().filter(|api| matches!(api.load, Load::Eager)) {
            assert!(
                api.file == "install.js" || api.ops.is_empty(),
                "{} is eager and registers ops",
                api.file
            );
        }
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        let (first, first_lines) = recording();
        install(&isolate, host(first)).unwrap();
        let (second, second_lines) = recording();
        set_host(&isolate, host(second)).unwrap();
        let _: () = run(&isolate, "console.log('to the second host');");
        assert_eq!(*second_lines.borrow(), ["to the second host"]);
        assert!(first_lines.borrow().is_empty());
        let (third, _) = recording();
        let refused = set_host(&isolate, host(third)).unwrap_err();
        assert!(refused.to_string().contains("console.js"), "{refused}");
    }

    /// Runs `body` as a function of `internals` and returns its result.
    fn run<T: for<'js> rquickjs::FromJs<'js>>(isolate: &Isolate, body: &str) -> T {
        isolate
            .enter(|ctx| {
                let f: Function = ctx.eval(format!("(internals) => {{ {body} }}"))?;
                f.call((internals(ctx)?,))
            })
            .unwrap()
    }

    #[test]
    fn every_api_reads_the_bytecode_built_for_it() {
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        isolate
            .enter(|ctx| {
                assert!(
                    bytecode_agrees(ctx)?,
                    "this QuickJS writes the probe differently"
                );
                for api in APIS {
                    let built = built_bytecode(ctx, api.file);
                    assert!(built.is_some(), "{} was not built", api.file);
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn every_api_also_loads_from_its_source() {
        // The way an isolate goes when the built bytecode does not match its QuickJS.
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        isolate
            .enter(|ctx| {
                for api in APIS {
                    init_function_from_source(ctx, api)?;
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_plain_request_and_response_load_no_lazy_api() {
        let isolate = installed();
        let loaded: Vec<usize> = run(
            &isolate,
            "const request = internals.incomingRequest('GET', 'https://a.example/', \
               ['accept', 'text/html'], null, '{}');
             const response = new Response(`hello ${request.headers.get('accept')}`, \
               { headers: { 'content-type': 'text/plain' } });
             internals.responseParts(response);
             return internals.loadedApis();",
        );
        assert_eq!(loaded, Vec::<usize>::new());
    }

    #[test]
    fn each_lazy_api_defines_exactly_what_it_declares() {
        let declared: BTreeSet<&str> = APIS
            .iter()
            .filter_map(|api| match api.load {
                Load::Lazy { globals, internals } => Some(globals.iter().chain(internals)),
                Load::Eager => None,
            })
            .flatten()
            .copied()
            .collect();
        for api in APIS {
            let Load::Lazy {
                globals,
                internals: names,
            } = api.load
            else {
                continue;
            };
            let isolate = installed();
            let first = globals.first().or(names.first()).unwrap();
            let target = if globals.is_empty() {
                "internals"
            } else {
                "globalThis"
            };
            // Names that appeared, and declared names still lazy, after using the first one.
            let [appeared, still_lazy]: [Vec<String>; 2] = run::<Vec<Vec<String>>>(
                &isolate,
                &format!(
                    "const own = () => [...Object.getOwnPropertyNames(globalThis), \
                       ...Object.getOwnPropertyNames(internals).map((n) => 'internals.' + n)];
                     const before = new Set(own());
                     void {target}['{first}'];
                     const lazy = (o, n) => !Object.hasOwn(o, n);
                     return [own().filter((n) => !before.has(n)),
                       [...{globals:?}.filter((n) => lazy(globalThis, n)),
                        ...{names:?}.filter((n) => lazy(internals, n))]];"
                ),
            )
            .try_into()
            .unwrap();
            assert_eq!(still_lazy, Vec::<String>::new(), "{}", api.file);
            let undeclared: Vec<&String> = appeared
                .iter()
                .filter(|n| !declared.contains(n.trim_start_matches("internals.")))
                .collect();
            assert!(
                undeclared.is_empty(),
                "{} defines names it does not declare lazy: {undeclared:?}",
                api.file
            );
        }
    }
}
