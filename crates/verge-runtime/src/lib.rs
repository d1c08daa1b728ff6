//! `verge-runtime` owns a worker's lifecycle: loading a project into an isolate (Web APIs,
//! modules, `env`), running its fetch handler for a request, and keeping `ctx.waitUntil` work
//! alive after the response, within bounds.
//!
//! Lifecycle: a [`Worker`] is loaded once per worker version per thread and serves every request
//! routed to that thread; it is `!Send` and must be driven inside a `tokio::task::LocalSet`.
//! Nothing here serves HTTP: requests and responses are plain data ([`Request`],
//! [`Response`]), so the server and the tests share one path.

mod builtins;
mod dns;
mod entry;
mod format;
mod host;
mod jsc;
mod outbound;
mod platform;
mod policy;
mod worker;

pub use entry::exports::{call_export, connect_exports, ExportFuture, ExportedCall, RemoteExports};
pub use entry::{Limit, Outcome};
pub use host::{Grants, LoadError, WorkerLimits};
pub use outbound::HttpClient;
pub use policy::NetworkPolicy;
pub use verge_bindings::{
    CallFuture, Capabilities, HeldSocket, HibernatableSockets, ObjectAddress, ObjectGate,
    ObjectHost, ObjectState, Service, ServiceResolver, Stores,
};
pub use verge_js::{JsError, ModuleCache, OpError};
pub use verge_web::{
    deeper, is_hop_by_hop, pump_websocket, websocket_accept_key, websocket_limits, with_length,
    Body, BoxError, ChannelBody, ConsoleSink, Frame, HeaderList, HostSocket, LogLevel, NativeBody,
    Outbound, OutboundFuture, RedirectMode, Refused, Request, Response,
};
pub use worker::{BlankIsolate, Worker};
