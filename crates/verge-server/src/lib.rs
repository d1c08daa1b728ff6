//! `verge-server` owns the HTTP edge: listeners, one thread per core, and the translation between
//! hyper's requests and responses and the runtime's.
//!
//! Threads: each serving thread has its own current-thread tokio runtime, `LocalSet` and
//! listening socket (`SO_REUSEPORT` on one port, so the kernel spreads connections), and loads
//! its own copy of the worker: a request never crosses threads. A worker's failure becomes an
//! HTTP error for that request only.

mod edge;
mod listen;

pub use edge::{serve_worker, EdgeOptions, LogSink, RunningServer};
pub use listen::BoundListeners;
