//! `verge-server` owns the HTTP edge: listeners, one thread per core, and the translation between
//! hyper's requests and responses and the runtime's.
//!
//! Threads: each serving thread has its own current-thread tokio runtime, `LocalSet` and
//! listening socket (a duplicate of one bound socket), and loads its own isolate of each worker
//! it serves: a request never crosses threads. A worker's failure becomes an
//! HTTP error for that request only.

mod acme;
mod admin;
mod assets;
mod challenges;
mod control;
mod dns;
mod edge;
mod geo;
mod listen;
mod metrics;
mod releases;
mod routes;
pub mod secrets;
mod tail;
mod tls;

pub use acme::AcmeManager;
pub use admin::kv::listed_key;
pub use challenges::Challenges;
pub use control::{start_control, ControlError, ControlPlane};
pub use dns::{serve_dns, Directory, DnsServer};
pub use edge::{
    check_workers, serve_site, serve_worker, Crons, Deployed, EdgeOptions, LogSink, Mode,
    RunningServer, ShutdownHandle, Site, SiteHandle,
};
pub use geo::Geo;
pub use listen::BoundListeners;
pub use metrics::Metrics;
pub use releases::Records;
pub use routes::RouteTable;
pub use tls::{Certificates, TlsFacts};
