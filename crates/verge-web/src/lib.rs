//! `verge-web` owns the Web APIs of the Workers global scope: one module per API, each a
//! JavaScript file (the WebIDL surface: classes, argument checks, spec algorithms that are
//! cheap in JS) plus, where the work is heavy or needs the host, native Rust *ops* it calls.
//!
//! [`install`] runs once per isolate: it builds the hidden `ops` object, then evaluates every
//! API's file in the order of [`APIS`], each as `(function (ops, internals) { … })`. `internals`
//! is how files share what scripts must not see (the Body mixin, the header list of a request);
//! the host reaches it through [`internals`]. Nothing here touches the network, files or the
//! environment: those come as bindings, granted by the runtime.

mod base64;
mod body;
mod clock;
mod compression;
mod console;
mod crypto;
mod encoding;
mod fetch;
mod html_rewriter;
mod subtle;
mod timers;
mod url;

pub use body::{
    host_body_from_js, host_body_to_js, native_stream, Body, BoxError, ChannelBody, NativeBody,
};
pub use console::{ConsoleSink, LogLevel};
pub use fetch::{
    forget_request, Outbound, OutboundFuture, OutboundRequest, OutboundResponse, RedirectMode,
};
pub use subtle::constant_time_eq;

use rquickjs::context::EvalOptions;
use rquickjs::module::WriteOptions;
use rquickjs::{Ctx, Function, Module, Object, Persistent};
use verge_js::{rquickjs, Isolate, IsolateHandle, JsError};

/// What the host gives the Web APIs of one isolate.
#[derive(Clone)]
pub struct WebHost {
    /// Where `console.*` output goes.
    pub console: ConsoleSink,
    /// The isolate itself, for asynchronous ops (timers) that must re-enter it.
    pub isolate: IsolateHandle,
    /// Where `fetch()` goes.
    pub outbound: std::rc::Rc<dyn Outbound>,
    /// The most `fetch()` calls one request may make.
    pub subrequest_limit: u32,
}

type RegisterOps = for<'js> fn(&Ctx<'js>, &Object<'js>, &WebHost) -> rquickjs::Result<()>;

/// One Web API: its JavaScript file and the native ops it needs.
struct Api {
    file: &'static str,
    source: &'static str,
    ops: Option<RegisterOps>,
}

macro_rules! api {
    ($file:literal) => {
        Api {
            file: $file,
            source: include_str!(concat!("../js/", $file)),
            ops: None,
        }
    };
    ($file:literal, $ops:path) => {
        Api {
            file: $file,
            source: include_str!(concat!("../js/", $file)),
            ops: Some($ops),
        }
    };
}

/// The Web APIs in dependency order: one line each.
const APIS: &[Api] = &[
    api!("dom_exception.js", clock::register),
    api!("events.js"),
    api!("console.js", console::register),
    api!("timers.js", timers::register),
    api!("abort.js"),
    api!("encoding.js", encoding::register),
    api!("streams.js"),
    api!("native_body.js", body::register),
    api!("transform_streams.js", compression::register),
    api!("base64.js", base64::register),
    api!("mime.js"),
    api!("url.js", url::register),
    api!("blob.js"),
    api!("form_data.js"),
    api!("headers.js"),
    api!("body.js"),
    api!("request.js"),
    api!("response.js"),
    api!("fetch.js", fetch::register),
    api!("structured_clone.js"),
    api!("subtle.js", subtle::register),
    api!("crypto.js", crypto::register),
    api!("navigator.js"),
    api!("html_rewriter.js", html_rewriter::register),
    api!("fetch_event.js"),
    api!("codegen.js"),
];

/// The bytecode of each file of [`APIS`], once [`precompile`] made it: then every new isolate
/// reads it instead of parsing the Web APIs' JavaScript, most of the cost of a new isolate.
/// Without it (`verge dev`, one isolate per thread), isolates parse the sources.
static BYTECODE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();

/// Compiles the Web APIs to bytecode now, on this thread, unless that is done: a server about
/// to create many isolates calls this first, so that every one of them skips parsing.
pub fn precompile() {
    if BYTECODE.get().is_none() {
        match compile_apis() {
            Ok(compiled) => {
                let _ = BYTECODE.set(compiled);
            }
            Err(e) => tracing::warn!("the Web APIs could not be compiled to bytecode: {e}"),
        }
    }
}

/// Each API file as the bytecode of a module whose default export is its init function.
fn compile_apis() -> rquickjs::Result<Vec<Vec<u8>>> {
    let runtime = rquickjs::Runtime::new()?;
    let context = rquickjs::Context::full(&runtime)?;
    context.with(|ctx| {
        APIS.iter()
            .map(|api| {
                let name = format!("verge:web/{}", api.file);
                let source = format!("export default {}", api.source);
                Module::declare(ctx.clone(), name, source)?.write(WriteOptions::default())
            })
            .collect()
    })
}

/// Reads one API file's module from [`BYTECODE`].
#[allow(unsafe_code)]
fn load_bytecode<'js>(ctx: &Ctx<'js>, bytecode: &'static [u8]) -> rquickjs::Result<Module<'js>> {
    // SAFETY: the bytes were written by `Module::write` in this process, by the same QuickJS
    // build, from our own sources, and are never changed; QuickJS reads them as ROM data that
    // must outlive the context, which a `static` does.
    unsafe { Module::load(ctx.clone(), bytecode) }
}

struct Internals(Persistent<Object<'static>>);

/// Installs the Web APIs into a fresh isolate. Runs once per isolate, before any user code.
pub fn install(isolate: &Isolate, host: WebHost) -> Result<(), JsError> {
    isolate.enter(|ctx| {
        let ops = Object::new(ctx.clone())?;
        for api in APIS {
            if let Some(register) = api.ops {
                register(ctx, &ops, &host)?;
            }
        }
        let internals = Object::new(ctx.clone())?;
        let define_global: Function = ctx.eval(
            "(name, value) => Object.defineProperty(globalThis, name, \
             { value, writable: true, configurable: true, enumerable: false })",
        )?;
        internals.set("defineGlobal", define_global)?;
        let cached = BYTECODE.get();
        for (index, api) in APIS.iter().enumerate() {
            let name = format!("verge:web/{}", api.file);
            let init: Function = match cached.and_then(|cache| cache.get(index)) {
                Some(bytecode) => {
                    let (module, evaluated) = load_bytecode(ctx, bytecode)?.eval()?;
                    evaluated.finish::<()>()?;
                    module.get("default")?
                }
                None => {
                    let mut options = EvalOptions::default();
                    options.global = true;
                    options.strict = true;
                    options.filename = Some(name);
                    ctx.eval_with_options(api.source, options)?
                }
            };
            init.call::<_, ()>((ops.clone(), internals.clone()))?;
        }
        verge_js::store_host_state(ctx, Internals(Persistent::save(ctx, internals)))
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

/// Throws a JavaScript `TypeError` with `message`.
pub(crate) fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    rquickjs::Exception::throw_type(ctx, message)
}
