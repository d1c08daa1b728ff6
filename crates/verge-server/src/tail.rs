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

/// Lines one traced event keeps, and bytes of them in all (a trace crosses the cluster as one
/// NATS message, 1 MiB at most); past either it keeps a count of what it dropped.
const LINES_PER_TRACE: usize = 256;
const BYTES_PER_TRACE: usize = 256 * 1024;

/// Whether a request header's value is left out of a trace, as workerd leaves it out: cookies,
/// and any header whose name says it carries a credential.
fn is_secret_header(name: &str) -> bool {
    matches!(name, "cookie" | "set-cookie")
        || ["auth", "jwt", "key", "secret", "token"]
            .iter()
            .any(|word| name.contains(word))
}

/// `url` with what looks like an id or a credential in it (32 or more hex digits, or 21 or
/// more characters of base64 mixing digits, lower and upper case) replaced by `REDACTED`, as
/// workerd's tails redact URLs.
fn redact_url(url: &str) -> String {
    let is_hex = |c: char| c.is_ascii_hexdigit();
    let is_base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_');
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find(|c: char| is_base64(c) && c != '/') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let run = rest
            .find(|c: char| !is_base64(c) || c == '/')
            .unwrap_or(rest.len());
        let word = &rest[..run];
        let hex = word.len() >= 32 && word.chars().all(is_hex);
        let mixed = word.len() >= 21
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_lowercase())
            && word.chars().any(|c| c.is_ascii_uppercase());
        out.push_str(if hex || mixed { "REDACTED" } else { word });
        rest = &rest[run..];
    }
    out.push_str(rest);
    out
}

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
    /// Lines past [`LINES_PER_TRACE`] or [`BYTES_PER_TRACE`], dropped.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TracedEvent {
    /// A request, with its headers (credentials redacted, repeated ones joined by `, `) and the
    /// status it was answered with; ids in its URL redacted.
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
    /// A batch of a queue's messages for its consumer.
    Queue {
        queue: String,
        batch_size: usize,
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

/// The server's hold on the trace of one event of a tailed worker: what the event's console
/// sends (see [`Tracer::console`]) and how it ended go into it. The event's console holds it
/// too, until the runtime forgets the event after its `ctx.waitUntil` work, and the trace is
/// published when both have let go — or at once, `canceled`, if the server lets go before it
/// recorded the end (the client went away and the request was dropped).
pub(crate) struct Tracer(Rc<Gathering>);

/// A trace as it is gathered.
struct Gathering {
    worker: String,
    metrics: Arc<crate::Metrics>,
    /// Taken when published.
    trace: RefCell<Option<Trace>>,
    /// Bytes of lines kept.
    bytes: std::cell::Cell<usize>,
    /// Whether the server recorded the event's end.
    ended: std::cell::Cell<bool>,
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
    ) -> Option<Self> {
        let event = || {
            let mut headers: BTreeMap<String, String> = BTreeMap::new();
            for (name, value) in request.headers.iter() {
                let value = if is_secret_header(name) {
                    "REDACTED"
                } else {
                    value
                };
                headers
                    .entry(name.to_owned())
                    .and_modify(|known| {
                        known.push_str(", ");
                        known.push_str(value);
                    })
                    .or_insert_with(|| value.to_owned());
            }
            TracedEvent::Request {
                method: request.method.clone(),
                url: redact_url(&request.url),
                headers,
                status: None,
            }
        };
        Self::of(metrics, worker, event)
    }

    /// A tracer of `worker`'s cron trigger `cron` due at `scheduled_ms`, if someone tails it.
    pub(crate) fn of_scheduled(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        cron: &str,
        scheduled_ms: i64,
    ) -> Option<Self> {
        Self::of(metrics, worker, || TracedEvent::Scheduled {
            cron: cron.to_owned(),
            scheduled_ms,
        })
    }

    /// A tracer of a batch of `batch_size` messages of `queue` for `worker`'s consumer, if
    /// someone tails it.
    pub(crate) fn of_queue(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        queue: &str,
        batch_size: usize,
    ) -> Option<Self> {
        Self::of(metrics, worker, || TracedEvent::Queue {
            queue: queue.to_owned(),
            batch_size,
        })
    }

    fn of(
        metrics: &Arc<crate::Metrics>,
        worker: &str,
        event: impl FnOnce() -> TracedEvent,
    ) -> Option<Self> {
        metrics.tail.is_tailed(worker).then(|| {
            Self(Rc::new(Gathering {
                worker: worker.to_owned(),
                metrics: metrics.clone(),
                bytes: std::cell::Cell::new(0),
                ended: std::cell::Cell::new(false),
                trace: RefCell::new(Some(Trace {
                    event: event(),
                    outcome: "canceled",
                    at_ms: now_ms(),
                    logs: Vec::new(),
                    exceptions: Vec::new(),
                    dropped: 0,
                })),
            }))
        })
    }

    /// The event's console: each line goes into the trace, and to `echo` as well.
    pub(crate) fn console(&self, echo: ConsoleSink) -> ConsoleSink {
        let gathering = self.0.clone();
        Rc::new(move |level, text| {
            gathering.line(level_name(level), text);
            echo(level, text);
        })
    }

    /// Records how the event ended, from its outcome.
    pub(crate) fn ended(&self, outcome: &Outcome) {
        self.0.ended.set(true);
        self.0
            .update(|trace| trace.outcome = outcome_name(trace, outcome));
    }

    /// Records the status the request was answered with.
    pub(crate) fn answered(&self, status: u16) {
        self.0.update(|trace| {
            if let TracedEvent::Request { status: slot, .. } = &mut trace.event {
                *slot = Some(status);
            }
        });
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if !self.0.ended.get() {
            self.0.publish();
        }
    }
}

impl Gathering {
    /// Changes the trace, unless it is published.
    fn update(&self, change: impl FnOnce(&mut Trace)) {
        if let Some(trace) = self.trace.borrow_mut().as_mut() {
            change(trace);
        }
    }

    fn line(&self, level: &'static str, message: &str) {
        let bytes = self.bytes.get() + message.len();
        self.update(|trace| {
            if trace.logs.len() >= LINES_PER_TRACE || bytes > BYTES_PER_TRACE {
                trace.dropped += 1;
                return;
            }
            self.bytes.set(bytes);
            trace.logs.push(TracedLine {
                level,
                message: message.to_owned(),
                at_ms: now_ms(),
            });
        });
    }

    /// Sends the trace to whoever tails the worker, unless it was sent.
    fn publish(&self) {
        let Some(trace) = self.trace.borrow_mut().take() else {
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
            TracedEvent::Queue { queue, batch_size } => (
                "queue",
                format!("{queue} ({batch_size} messages) {}", trace.outcome),
            ),
        };
        self.metrics.tail.send(&self.worker, || TailEvent {
            level,
            message,
            trace: Some(Arc::new(trace)),
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

impl Drop for Gathering {
    fn drop(&mut self) {
        self.publish();
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

#[cfg(test)]
mod tests {
    use super::{is_secret_header, redact_url};

    #[test]
    fn credentials_and_ids_are_redacted() {
        for name in [
            "authorization",
            "cookie",
            "x-api-key",
            "cf-access-jwt-assertion",
            "x-auth-token",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        assert!(!is_secret_header("accept") && !is_secret_header("user-agent"));
        assert_eq!(
            redact_url("https://app.test/users/0123456789abcdef0123456789abcdef?page=2"),
            "https://app.test/users/REDACTED?page=2"
        );
        assert_eq!(
            redact_url("https://app.test/reset?token=eyJhbGciOiJIUzI1NiJ9x1"),
            "https://app.test/reset?token=REDACTED"
        );
        for kept in [
            "https://app.test/blog/a-long-readable-article-title",
            "https://app.test/blog/2026-12-07-release-notes-v2",
        ] {
            assert_eq!(redact_url(kept), kept);
        }
    }
}
