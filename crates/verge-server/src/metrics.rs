//! What the server observes of each worker, shared by every serving thread: counters, rendered
//! in Prometheus' text format for the admin API's `GET /metrics`, and the live console output
//! that `verge tail` follows.

use crate::tail::TailHub;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One worker's counters.
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    pub requests: AtomicU64,
    /// Requests answered with an error: an exception, a limit, a load failure.
    pub errors: AtomicU64,
    /// Nanoseconds spent running the worker's JavaScript.
    pub busy_nanos: AtomicU64,
    pub cold_starts: AtomicU64,
    pub live_isolates: AtomicI64,
    /// Clients' WebSockets the worker upgraded, so far and open now.
    pub websockets: AtomicU64,
    pub open_websockets: AtomicI64,
}

/// Every worker's counters, by name; a worker keeps its counters across versions.
#[derive(Debug, Default)]
pub struct Metrics {
    workers: RwLock<BTreeMap<String, Arc<WorkerMetrics>>>,
    /// Console output and exceptions, for whoever tails a worker.
    pub tail: TailHub,
    /// The PoP's name, a label on every series, if this server is one.
    pop: Option<String>,
}

impl Metrics {
    /// The metrics of PoP `pop`, each series labelled with its name.
    pub fn at_pop(pop: &str) -> Self {
        Self {
            pop: Some(pop.to_owned()),
            ..Self::default()
        }
    }

    /// The counters of worker `name`, created on first use.
    pub fn worker(&self, name: &str) -> Arc<WorkerMetrics> {
        if let Some(found) = self
            .workers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
        {
            return found.clone();
        }
        self.workers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let workers = self
            .workers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut out = String::new();
        let families: [Family; 7] = [
            (
                "verge_requests_total",
                "counter",
                "Requests routed to the worker.",
                |m| m.requests.load(Ordering::Relaxed).to_string(),
            ),
            (
                "verge_errors_total",
                "counter",
                "Requests the worker answered with an error (exception, limit, load failure).",
                |m| m.errors.load(Ordering::Relaxed).to_string(),
            ),
            (
                "verge_cpu_seconds_total",
                "counter",
                "Time spent running the worker's JavaScript.",
                |m| format!("{:.6}", m.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9),
            ),
            (
                "verge_cold_starts_total",
                "counter",
                "Isolates created for the worker.",
                |m| m.cold_starts.load(Ordering::Relaxed).to_string(),
            ),
            (
                "verge_live_isolates",
                "gauge",
                "Isolates of the worker alive now, over all threads.",
                |m| m.live_isolates.load(Ordering::Relaxed).to_string(),
            ),
            (
                "verge_websockets_total",
                "counter",
                "Clients' connections the worker upgraded to WebSockets.",
                |m| m.websockets.load(Ordering::Relaxed).to_string(),
            ),
            (
                "verge_open_websockets",
                "gauge",
                "Clients' WebSockets of the worker open now.",
                |m| m.open_websockets.load(Ordering::Relaxed).to_string(),
            ),
        ];
        let pop = self
            .pop
            .as_ref()
            .map(|pop| format!(",pop=\"{}\"", escape(pop)))
            .unwrap_or_default();
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (worker, metrics) in &workers {
                let _ = writeln!(
                    out,
                    "{name}{{worker=\"{}\"{pop}}} {}",
                    escape(worker),
                    value(metrics)
                );
            }
        }
        out
    }
}

/// A metric family: name, type, help, and how to read one worker's value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&WorkerMetrics) -> String,
);

/// A label value as Prometheus' text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
