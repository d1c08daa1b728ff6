//! `verge-web` owns the Web APIs of the Workers global scope: one module per API, each a
//! JavaScript file (the WebIDL surface: classes, argument checks, spec algorithms that are
//! cheap in JS) plus, where the work is heavy or needs the host, native Rust *ops* it calls.
//!
//! The APIs are listed in [`APIS`], in dependency order, one line each; how their files get
//! into an isolate (eagerly, or lazily on the first use of a name) is `platform`'s, which other
//! crates' JavaScript (Workers' bindings, the worker's entry points) goes through too.
//! `internals` is how files share what scripts must not see (the Body mixin, the header list of
//! a request); the host reaches it through [`internals`]. Nothing here touches the network,
//! files or the environment: those come as bindings, granted by the runtime.

mod base64;
mod body;
mod clock;
mod compression;
mod console;
mod crypto;
mod encoding;
mod fetch;
mod html_rewriter;
mod message;
mod node;
mod platform;
mod sockets;
mod subtle;
mod timers;
mod url;
mod websocket;

pub use self::base64::base64_ops;
pub use self::url::{form_ops, url_ops};
pub use body::{
    host_body_from_js, host_body_to_js, native_stream, with_length, Body, BoxError, ChannelBody,
    NativeBodies, NativeBody,
};
pub use console::{set_event_console, ConsoleSink, EventConsoles, LogLevel};
pub use encoding::encoding_ops;
pub use fetch::{
    deeper, fetcher, forget_request, next_depth, set_request_depth, Outbound, OutboundFuture,
    Subrequests, MAX_CALL_DEPTH,
};
pub use message::{is_hop_by_hop, HeaderList, InvalidHeader, RedirectMode, Request, Response};
pub use node::{install_globals as install_node_globals, NodeModules};
pub use platform::{
    install, internals, set_host, Api, AsyncDataOps, DataOps, Load, Platform, Register, RegisterOps,
};
pub use sockets::{ConnectFuture, Connected, SocketIo, UpgradeFuture};
pub use timers::{timer_delay, TimerTasks};
pub use websocket::{
    accept_key as websocket_accept_key, frame_of, frame_to_js, limits as websocket_limits,
    new_key as new_websocket_key, open_sockets, park_socket, pump as pump_websocket, take_socket,
    Frame, HostSocket, Sockets, MAX_MESSAGE as MAX_WEBSOCKET_MESSAGE,
};

use rquickjs::{Ctx, Function, Value};
use verge_js::rquickjs;

/// What the host gives the Web APIs of one isolate.
#[derive(Clone)]
pub struct WebHost {
    /// Where `console.*` output goes.
    pub console: ConsoleSink,
    /// Where `console.*` output of single events goes instead (see [`EventConsoles`]).
    pub event_consoles: std::rc::Rc<EventConsoles>,
    /// Where `fetch()` goes.
    pub outbound: std::rc::Rc<dyn Outbound>,
    /// The most `fetch()` calls one request may make.
    pub subrequest_limit: u32,
    /// What the isolate's binding objects stand for: one table per isolate, made with its host.
    pub bindings: std::rc::Rc<BindingTable>,
    /// The isolate's native bodies (see `body.rs`): one table per isolate, made with its host.
    pub bodies: std::rc::Rc<NativeBodies>,
    /// Each request's subrequests and the fetches in flight (see `fetch.rs`).
    pub subrequests: std::rc::Rc<Subrequests>,
    /// The WebSocket ends the host holds for the isolate (see `websocket.rs`).
    pub sockets: std::rc::Rc<Sockets>,
    /// The request the isolate's JavaScript now works for. The engine's own: installing the
    /// host into an isolate puts the isolate's here, whatever the host was made with.
    pub current_request: verge_js::CurrentRequest,
}

impl WebHost {
    /// A host that reaches nothing: console output goes nowhere and `fetch()` is refused. What
    /// an isolate that no worker owns yet has.
    pub fn unreachable() -> Self {
        Self {
            console: std::rc::Rc::new(|_, _| {}),
            event_consoles: std::rc::Rc::default(),
            outbound: std::rc::Rc::new(Refused("this isolate reaches no network")),
            subrequest_limit: 0,
            bindings: std::rc::Rc::default(),
            bodies: std::rc::Rc::default(),
            subrequests: std::rc::Rc::default(),
            sockets: std::rc::Rc::default(),
            current_request: verge_js::CurrentRequest::default(),
        }
    }
}

impl WebHost {
    /// Forgets what the isolate kept for request `tag`, which has ended: its subrequest count
    /// and depth, its console, and the bodies made for it that nothing started reading (an
    /// unread fetch response closes its connection now, not when the garbage collector runs).
    pub fn forget_request(&self, tag: u64) {
        self.subrequests.forget(tag);
        self.event_consoles.forget(tag);
        self.bodies.drop_unread(tag);
    }
}

/// A network that refuses every request with its message: an isolate no worker has yet, or a
/// worker being checked rather than serving.
pub struct Refused(pub &'static str);

impl Outbound for Refused {
    fn fetch(&self, _: Request) -> OutboundFuture {
        let message = self.0;
        Box::pin(async move { Err(verge_js::OpError::Type(message.into())) })
    }
}

/// The Web APIs in dependency order: one line each. A hello-world request runs only the eager
/// ones; the lazy ones cost nothing until a script touches what they define.
pub const APIS: &[Api] = &[
    api!("js/install.js"),
    api!("js/dom_exception.js"; globals ["DOMException"]; internals []),
    api!("js/iterators.js"; globals []; internals ["makeIterator"]),
    api!("js/events.js", data clock::ops; globals ["Event", "EventTarget"]; internals []),
    api!("js/console.js", data console::ops, data clock::ops;
        globals ["console"];
        internals ["inspect", "reportError"]),
    api!("js/timers.js", timers timers::register;
        globals ["setTimeout", "setInterval", "clearTimeout", "clearInterval", "queueMicrotask"];
        internals []),
    api!("js/abort.js"; globals ["AbortSignal", "AbortController"]; internals ["newAbortSignal"]),
    api!("js/encoding.js", data encoding_ops;
        globals ["TextEncoder", "TextDecoder"];
        internals ["toBytes", "utf8Encode", "utf8Decode"]),
    api!("js/streams.js";
        globals [
            "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader",
            "ReadableStreamDefaultController", "ReadableByteStreamController",
            "ReadableStreamBYOBRequest", "WritableStream", "WritableStreamDefaultWriter",
            "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
            "ByteLengthQueuingStrategy", "CountQueuingStrategy",
        ];
        internals ["isDisturbed", "isUntouched", "readAllBytes", "deferredByteStream", "setUpDeferred", "lockForHost"]),
    api!("js/native_body.js", async_data body::read_ops, data body::cancel_ops;
        globals [];
        internals ["nativeStream", "readAllNative", "untouchedNativeBody", "pipeToHost", "abortNative"]),
    api!("js/transform_streams.js", data compression::ops;
        globals ["TextEncoderStream", "TextDecoderStream", "CompressionStream", "DecompressionStream"];
        internals []),
    api!("js/base64.js", data base64_ops; globals ["btoa", "atob"]; internals []),
    api!("js/mime.js", data base64_ops; globals []; internals ["bodyMimeType", "fetchDataUrl"]),
    api!("js/url.js", data url_ops;
        globals ["URL"];
        internals ["parseHref", "setUrlQuery", "toUSV"]),
    api!("js/url_search_params.js", data form_ops;
        globals ["URLSearchParams"];
        internals ["linkedSearchParams", "reparseSearchParams"]),
    api!("js/blob.js"; globals ["Blob", "File"]; internals ["blobBytes", "makeBlob", "setBlobType"]),
    api!("js/form_data.js"; globals ["FormData"]; internals ["parseFormData", "serializeFormData"]),
    api!("js/headers.js"),
    api!("js/body.js"),
    api!("js/request.js"),
    api!("js/response.js"),
    api!("js/fetch.js", async_data fetch::ops, data fetch::abort_ops; globals ["fetch"]; internals ["makeFetcher", "fetcherId", "makeServiceFetcher"]),
    api!("js/structured_clone.js";
        globals ["structuredClone"];
        internals ["structuredSerialize", "structuredDeserialize"]),
    api!("js/subtle.js", data subtle::ops; globals ["SubtleCrypto", "CryptoKey"]; internals ["subtle"]),
    api!("js/crypto.js", data crypto::ops; globals ["Crypto", "crypto"]; internals []),
    api!("js/navigator.js", data clock::ops;
        globals ["Performance", "performance", "Navigator", "navigator", "self"];
        internals []),
    api!("js/html_rewriter.js", data html_rewriter::ops; globals ["HTMLRewriter"]; internals []),
    api!("js/websocket.js", quickjs websocket::register;
    globals ["WebSocket", "WebSocketPair", "MessageEvent", "CloseEvent", "ErrorEvent"];
    internals [
        "exportSocket", "socketFromHost", "wsDeliver", "holdSocket", "heldSocket",
        "heldSocketTags", "heldSocketClosed", "heldSocketListening", "heldSocketReceive",
    ]),
    api!("js/sockets.js", async_data sockets::ops, data sockets::sync_ops;
        globals [];
        internals ["cloudflare:sockets"]),
    // nodejs_compat's modules: loaded when a worker imports one (see `node`).
    api!("js/node/errors.js"; globals []; internals ["nodeError", "NodeAbortError", "callBackLater"]),
    api!("js/node/callsite.js"; globals []; internals ["completeCallSites"]),
    api!("js/node/events.js"; globals []; internals ["node:events"]),
    api!("js/node/buffer.js", quickjs node::register; globals []; internals ["node:buffer"]),
    api!("js/node/util.js"; globals []; internals ["node:util", "node:util/types", "isDeepEqual"]),
    api!("js/node/assert.js"; globals []; internals ["node:assert", "node:assert/strict"]),
    api!("js/node/path.js"; globals []; internals ["node:path", "node:path/posix"]),
    api!("js/node/async_hooks.js", quickjs node::register; globals []; internals ["node:async_hooks"]),
    api!("js/node/crypto_keys.js", data subtle::ops; globals []; internals ["nodeCryptoKeys"]),
    api!("js/node/crypto.js", quickjs node::register, data subtle::ops; globals []; internals ["node:crypto"]),
    api!("js/node/process.js"; globals []; internals ["node:process"]),
    api!("js/node/string_decoder.js"; globals []; internals ["node:string_decoder"]),
    api!("js/node/stream.js"; globals []; internals ["node:stream", "node:stream/promises", "node:stream/web"]),
    api!("js/node/os.js"; globals []; internals ["node:os"]),
    api!("js/node/tty.js"; globals []; internals ["node:tty"]),
    api!("js/node/querystring.js"; globals []; internals ["node:querystring"]),
    api!("js/node/punycode.js"; globals []; internals ["node:punycode"]),
    api!("js/node/url.js"; globals []; internals ["node:url"]),
    api!("js/node/timers.js"; globals []; internals ["node:timers", "node:timers/promises"]),
    api!("js/node/perf_hooks.js"; globals []; internals ["node:perf_hooks"]),
    api!("js/node/diagnostics_channel.js"; globals []; internals ["node:diagnostics_channel"]),
    api!("js/node/module.js", quickjs node::register; globals []; internals ["node:module"]),
    api!("js/node/zlib.js", data compression::ops; globals []; internals ["node:zlib"]),
    api!("js/node/fs.js", quickjs node::register; globals []; internals ["node:fs", "node:fs/promises"]),
    api!("js/node/dns.js", async_data fetch::ops; globals []; internals ["node:dns", "node:dns/promises", "ipFamily"]),
    api!("js/node/net.js"; globals []; internals ["node:net", "node:tls"]),
    api!("js/node/http.js"; globals []; internals ["node:http", "node:https", "cloudflare:node"]),
    api!("js/node/unavailable.js";
        globals [];
        internals ["node:child_process", "node:cluster", "node:worker_threads", "node:http2", "node:v8"]),
    api!("js/codegen.js"),
];

/// The Web platform alone: what a host without Workers' bindings and entry points installs.
pub static WEB: Platform = Platform::new(|| APIS.iter().collect());

/// The host-side values of an isolate's binding objects (service bindings, KV namespaces…),
/// by kind and id: the index each JavaScript object carries. Engine-neutral ops find them
/// through their [`WebHost`]; QuickJS's typed ops through [`bound`].
#[derive(Default)]
pub struct BindingTable(
    std::cell::RefCell<std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any>>>,
);

impl BindingTable {
    /// Keeps `value` and returns its id among the values of its kind.
    pub fn keep<T: 'static>(&self, value: T) -> usize {
        let mut kinds = self.0.borrow_mut();
        let entry = kinds
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(Vec::<T>::new()));
        match entry.downcast_mut::<Vec<T>>() {
            Some(values) => {
                values.push(value);
                values.len() - 1
            }
            // The entry of `T`'s type id holds `Vec<T>`: unreachable, and harmless (an id
            // that finds nothing).
            None => usize::MAX,
        }
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// The value of kind `T` kept as `id`.
    pub fn get<T: Clone + 'static>(&self, id: usize) -> Option<T> {
        let kinds = self.0.borrow();
        let values = kinds.get(&std::any::TypeId::of::<T>())?;
        values.downcast_ref::<Vec<T>>()?.get(id).cloned()
    }
}

/// Keeps `value` for the isolate of `ctx` and returns the JavaScript object that stands for it,
/// made by `internals[maker](id)`.
pub fn bind<'js, T: 'static>(
    ctx: &Ctx<'js>,
    value: T,
    maker: &str,
) -> rquickjs::Result<Value<'js>> {
    let id = keep(ctx, value)?;
    internals(ctx)?.get::<_, Function>(maker)?.call((id,))
}

/// Keeps `value` for the isolate of `ctx` and returns its id, by which [`bound`] finds it.
pub fn keep<T: 'static>(ctx: &Ctx<'_>, value: T) -> rquickjs::Result<usize> {
    verge_js::with_host_state(ctx, |host: &WebHost| host.bindings.keep(value))
        .ok_or_else(|| type_error(ctx, "the isolate's bindings are unavailable"))
}

/// The value behind binding object `id` of kind `T`; a TypeError if there is none.
pub fn bound<T: Clone + 'static>(ctx: &Ctx<'_>, id: usize) -> rquickjs::Result<T> {
    verge_js::with_host_state(ctx, |host: &WebHost| host.bindings.get(id))
        .flatten()
        .ok_or_else(|| type_error(ctx, "not a binding of this worker"))
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
    use std::rc::Rc;
    use verge_js::Isolate;

    fn host(console: ConsoleSink) -> WebHost {
        WebHost {
            console,
            ..WebHost::unreachable()
        }
    }

    /// A console sink and what it printed.
    fn recording() -> (ConsoleSink, Rc<std::cell::RefCell<Vec<String>>>) {
        let lines: Rc<std::cell::RefCell<Vec<String>>> = Rc::default();
        let sink = lines.clone();
        let console: ConsoleSink = Rc::new(move |_, text| sink.borrow_mut().push(text.to_owned()));
        (console, lines)
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
    fn the_web_platform_is_as_it_declares() {
        WEB.verify().unwrap();
    }

    #[test]
    fn this_quickjs_reads_the_built_bytecode() {
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        let agrees = isolate.enter(platform::bytecode_agrees).unwrap();
        assert!(agrees, "this QuickJS writes the probe differently");
    }

    #[test]
    fn an_isolate_takes_a_new_host_until_a_lazy_api_loads() {
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        let (first, first_lines) = recording();
        install(&isolate, host(first), &WEB).unwrap();
        let (second, second_lines) = recording();
        set_host(&isolate, host(second)).unwrap();
        let _: () = run(&isolate, "console.log('to the second host');");
        assert_eq!(*second_lines.borrow(), ["to the second host"]);
        assert!(first_lines.borrow().is_empty());
        let (third, _) = recording();
        let refused = set_host(&isolate, host(third)).unwrap_err();
        assert!(refused.to_string().contains("console.js"), "{refused}");
    }

    #[test]
    fn a_plain_request_and_response_load_no_lazy_api() {
        let isolate = Isolate::new(verge_js::IsolateLimits::default()).unwrap();
        install(&isolate, WebHost::unreachable(), &WEB).unwrap();
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
}
