//! `verge-runtime` owns a worker's lifecycle: loading a project into an isolate (Web APIs,
//! modules, `env`), running its fetch handler for a request, and keeping `ctx.waitUntil` work
//! alive after the response, within bounds.
//!
//! Lifecycle: a [`Worker`] is loaded once per worker version per thread and serves every request
//! routed to that thread; it is `!Send` and must be driven inside a `tokio::task::LocalSet`.
//! Nothing here speaks HTTP on the wire: requests and responses are plain data
//! ([`WorkerRequest`], [`WorkerResponse`]), so the server and the tests share one path.

mod format;
mod outbound;
mod policy;
mod worker;

pub use outbound::{header_pair, HttpClient};
pub use policy::NetworkPolicy;
pub use verge_js::{ModuleCache, OpError};
pub use verge_web::{
    Body, BoxError, ChannelBody, ConsoleSink, LogLevel, NativeBody, Outbound, OutboundFuture,
    OutboundRequest, OutboundResponse, RedirectMode,
};
pub use worker::{
    BlankIsolate, Grants, LoadError, Outcome, Refused, ServiceResolver, Storage, Worker,
    WorkerLimits, WorkerRequest, WorkerResponse,
};
