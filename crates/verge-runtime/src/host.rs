//! What a host gives a worker and expects of it, whatever the engine: its limits, what it
//! reaches outside the engine (console, network, bindings), and why loading can fail.

use std::rc::Rc;
use std::time::Duration;
use verge_bindings::Capabilities;
use verge_js::{IsolateLimits, JsError};
use verge_web::{ConsoleSink, Outbound};

/// Per-worker limits; defaults follow Workers' paid plan where one exists.
#[derive(Debug, Clone)]
pub struct WorkerLimits {
    pub isolate: IsolateLimits,
    /// How long `ctx.waitUntil` work may run on after the response (Workers: 30 s).
    pub wait_until: Duration,
    /// `fetch()` calls per request unless the worker's `[limits] subrequests` says otherwise
    /// (Workers' paid plan: 1000).
    pub subrequests: u32,
    /// How long a request may wait for the worker's response, CPU or not: a handler whose
    /// promise never settles is ended here. `None`: no bound.
    pub wall_time: Option<Duration>,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        Self {
            isolate: IsolateLimits {
                cpu_slice: Some(Duration::from_secs(30)),
                ..IsolateLimits::default()
            },
            wait_until: Duration::from_secs(30),
            subrequests: 1000,
            wall_time: None,
        }
    }
}

/// What a worker reaches outside its isolate, granted by the host.
#[derive(Clone)]
pub struct Grants {
    /// Where its console output goes.
    pub console: ConsoleSink,
    /// Where its `fetch()` goes.
    pub outbound: Rc<dyn Outbound>,
    /// What its bindings reach.
    pub bindings: Capabilities,
}

/// Completes after `bound`, or never.
pub(crate) async fn wall_clock(bound: Option<Duration>) {
    match bound {
        Some(bound) => tokio::time::sleep(bound).await,
        None => std::future::pending().await,
    }
}

/// Why a worker could not be loaded; each says which file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Script(JsError),
    #[error("{0}")]
    Internal(JsError),
    /// The server holds as many isolates of the kind as it can: none is made now.
    #[error("{0}")]
    AtCapacity(String),
}
