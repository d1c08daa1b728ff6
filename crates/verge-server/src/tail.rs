//! Live console output and exceptions of each worker, for `verge tail` and `wrangler tail`:
//! serving threads publish, admin connections subscribe. Nothing is buffered for a worker nobody
//! tails, and a subscriber too slow to keep up loses the oldest events rather than holding the
//! server back. While someone tails a worker, each of its requests and cron events is traced
//! ([`Tracer`]): its lines and exceptions are published together with what the event was and how
//! it ended, once it has ended; lines outside any event (a module's top level) go out alone. At a
//! PoP, [`forward_to_cluster`] sends a worker's events to the cluster while a tail anywhere asks.

use futures_util::StreamExt as _;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;
use verge_cluster::tail::TAIL_LEASE;
use verge_cluster::Cluster;
use verge_runtime::{ConsoleSink, Limit, LogLevel, Outcome};

/// Events a subscriber may fall behind by before it loses some.
const BACKLOG: usize = 1024;

/// Lines one traced event keeps; past them it keeps a count of what it dropped.
const LINES_PER_TRACE: usize = 256;

/// Request headers a trace shows without their value.
const REDACTED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// What a worker's tail receives: a line (its level, `log`, `warn`, `error`, `exception`…, and
/// text), or a traced event (level `request` or `scheduled`, a one-line summary, and the trace).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TailEvent {
    pub level: &'static str,
    pub message: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_shared"
    )]
    pub trace: Option<Arc<Trace>>,
}

/// Serializes the trace each subscriber shares.
fn serialize_shared<S: serde::Serializer>(
    trace: &Option<Arc<Trace>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&trace.as_deref(), serializer)
}

/// One event of a tailed worker, as Workers' tails report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trace {
    pub event: TracedEvent,
    /// How it ended: `ok`, `exception`, `exceededCpu`, `exceededMemory` or `canceled` (stopped
    /// at the wall-time limit), as Workers' tails name outcomes.
    pub outcome: &'static str,
    /// When it started, in ms since the epoch.
    pub at_ms: i64,
    pub logs: Vec<TracedLine>,
    pub exceptions: Vec<TracedException>,
    /// Lines past [`LINES_PER_TRACE`], dropped.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TracedEvent {
    /// A request, with its headers (credentials redacted) and the status it was answered with.
    Request {
        method: String,
        url: String,
        headers: BTreeMap<String, String>,
        status: Option<u16>,
    },
    Scheduled {
        cron: String,
        scheduled_ms: i64,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TracedLine {
    pub level: &'static str,
    pub message: String,
    pub at_ms: i64,
}

/// An uncaught exception: the error's class name, message and stack.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TracedException {
    pub name: String,
    pub message: String,
    pub stack: String,
    pub at_ms: i64,
}

#[derive(Debug, Default)]
pub struct TailHub {
    channels: RwLock<HashMap<String, broadcast::Sender<TailEvent>>>,
}

impl TailHub {
    /// Sends `message` to whoever tails `worker`; a no-op when nobody does.
    pub fn publish(&self, worker: &str, level: &'static str, message: &str) {
        self.send(worker, || TailEvent {
            level,
            message: message.to_owned(),
            trace: None,
        });
    }

    /// Sends what `event` makes to whoever tails `worker`, if anyone does.
    fn send(&self, worker: &str, event: impl FnOnce() -> TailEvent) {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(worker) {
            if sender.receiver_count() > 0 {
                let _ = sender.send(event());
            }
        }
    }

    /// Whether someone tails `worker` now.
    fn is_tailed(&self, worker: &str) -> bool {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels
            .get(worker)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    pub fn subscribe(&self, worker: &str) -> broadcast::Receiver<TailEvent> {
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(worker.to_owned())
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe()
    }
}

/// Gathers one event of a tailed worker: the lines its console sends (see [`Tracer::console`])
/// and how it ended. Both the server and the runtime hold it — the runtime until the event's
/// `ctx.waitUntil` work is done — and the trace is published when the last lets go.
pub(crate) struct Tracer {
    worker: String,
    metrics: Arc<crate::Metrics>,
    /// Taken when published.
    trace: RefCell<Option<Trace>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Tracer {
    /// A tracer of `worker`'s request `request`, if someone tails the worker.
    pub(crate) fn of_request(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        request: &verge_runtime::Request,
    ) -> Option<Rc<Self>> {
        let event = || TracedEvent::Request {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = match REDACTED_HEADERS.contains(&name) {
                        true => "REDACTED",
                        false => value,
                    };
                    (name.to_owned(), value.to_owned())
                })
                .collect(),
            status: None,
        };
        Self::of(metrics, worker, event)
    }

    /// A tracer of `worker`'s cron trigger `cron` due at `scheduled_ms`, if someone tails it.
    pub(crate) fn of_scheduled(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        cron: &str,
        scheduled_ms: i64,
    ) -> Option<Rc<Self>> {
        Self::of(metrics, worker, || TracedEvent::Scheduled {
            cron: cron.to_owned(),
            scheduled_ms,
        })
    }

    fn of(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        event: impl FnOnce() -> TracedEvent,
    ) -> Option<Rc<Self>> {
        metrics.tail.is_tailed(worker).then(|| {
            Rc::new(Self {
                worker: worker.to_owned(),
                metrics: metrics.clone(),
                trace: RefCell::new(Some(Trace {
                    event: event(),
                    outcome: "ok",
                    at_ms: now_ms(),
                    logs: Vec::new(),
                    exceptions: Vec::new(),
                    dropped: 0,
                })),
            })
        })
    }

    /// The event's console: each line goes into the trace, and to `echo` as well.
    pub(crate) fn console(self: &Rc<Self>, echo: ConsoleSink) -> ConsoleSink {
        let tracer = self.clone();
        Rc::new(move |level, text| {
            tracer.line(level_name(level), text);
            echo(level, text);
        })
    }

    /// Changes the trace, unless it is published.
    fn update(&self, change: impl FnOnce(&mut Trace)) {
        if let Some(trace) = self.trace.borrow_mut().as_mut() {
            change(trace);
        }
    }

    fn line(&self, level: &'static str, message: &str) {
        self.update(|trace| {
            if trace.logs.len() >= LINES_PER_TRACE {
                trace.dropped += 1;
                return;
            }
            trace.logs.push(TracedLine {
                level,
                message: message.to_owned(),
                at_ms: now_ms(),
            });
        });
    }

    /// Records how the event ended, from its outcome.
    pub(crate) fn ended(&self, outcome: &Outcome) {
        self.update(|trace| trace.outcome = outcome_name(trace, outcome));
    }

    /// Records the status the request was answered with.
    pub(crate) fn answered(&self, status: u16) {
        self.update(|trace| {
            if let TracedEvent::Request { status: slot, .. } = &mut trace.event {
                *slot = Some(status);
            }
        });
    }
}

/// What Workers' tails call `outcome`; an exception goes into `trace`.
fn outcome_name(trace: &mut Trace, outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::LimitExceeded {
            limit: Limit::Cpu, ..
        } => "exceededCpu",
        Outcome::LimitExceeded {
            limit: Limit::WallTime,
            ..
        } => "canceled",
        Outcome::Exception { error, .. } if error.is_out_of_memory() => "exceededMemory",
        Outcome::Exception { error, .. } => {
            trace.exceptions.push(TracedException {
                name: error.name.clone(),
                message: error.message.clone(),
                stack: error.stack.clone(),
                at_ms: now_ms(),
            });
            "exception"
        }
        Outcome::Response(_) | Outcome::Completed | Outcome::Reply(_) => "ok",
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let Some(trace) = self.trace.get_mut().take() else {
            return;
        };
        let (level, message) = match &trace.event {
            TracedEvent::Request {
                method,
                url,
                status,
                ..
            } => {
                let status = status.map_or_else(|| "-".to_owned(), |s| s.to_string());
                (
                    "request",
                    format!("{method} {url} {status} {}", trace.outcome),
                )
            }
            TracedEvent::Scheduled { cron, .. } => {
                ("scheduled", format!("\"{cron}\" {}", trace.outcome))
            }
        };
        self.metrics.tail.send(&self.worker, || TailEvent {
            level,
            message,
            trace: Some(Arc::new(trace)),
        });
    }
}

/// How a console level is named in a tail.
pub(crate) fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Log => "log",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Until when each tailed worker's lines are forwarded, by name.
type Leases = Rc<RefCell<HashMap<String, Instant>>>;

/// Forwards each worker's lines from `hub` to the cluster while a tail somewhere asks for them,
/// for as long as the server runs (on the control thread).
pub(crate) async fn forward_to_cluster(cluster: Arc<Cluster>, hub: Arc<crate::Metrics>) {
    let leases: Leases = Rc::default();
    loop {
        match cluster.tail_requests().await {
            Ok(requests) => {
                let mut requests = std::pin::pin!(requests);
                while let Some(worker) = requests.next().await {
                    let until = Instant::now() + TAIL_LEASE;
                    let forwarding = leases.borrow_mut().insert(worker.clone(), until).is_some();
                    if !forwarding {
                        let (cluster, hub, leases) = (cluster.clone(), hub.clone(), leases.clone());
                        tokio::task::spawn_local(forward(worker, cluster, hub, leases));
                    }
                }
            }
            Err(e) => tracing::debug!("cannot listen for tails: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Forwards `worker`'s lines until its lease runs out.
async fn forward(worker: String, cluster: Arc<Cluster>, hub: Arc<crate::Metrics>, leases: Leases) {
    use tokio::sync::broadcast::error::RecvError;
    let mut lines = hub.tail.subscribe(&worker);
    loop {
        let Some(until) = leases.borrow().get(&worker).copied() else {
            return;
        };
        match tokio::time::timeout_at(until, lines.recv()).await {
            Ok(Ok(event)) => {
                let trace = event.trace.and_then(|t| serde_json::to_value(&*t).ok());
                cluster
                    .send_tail_line(&worker, event.level, &event.message, trace)
                    .await;
            }
            Ok(Err(RecvError::Lagged(missed))) => {
                let message = format!("{missed} events were dropped: the tail fell behind");
                cluster
                    .send_tail_line(&worker, "warn", &message, None)
                    .await;
            }
            Ok(Err(RecvError::Closed)) => {
                leases.borrow_mut().remove(&worker);
                return;
            }
            // The lease may have been renewed meanwhile: only a lapsed one ends the forwarding.
            Err(_) => {
                let mut leases = leases.borrow_mut();
                if leases
                    .get(&worker)
                    .is_some_and(|until| *until <= Instant::now())
                {
                    leases.remove(&worker);
                    return;
                }
            }
        }
    }
}
