//! Durable Objects across PoPs. Each object is held by one PoP at a time, under a *lease* in
//! the hub's KV bucket [`OBJECTS_BUCKET`]: the key names the object, the value the PoP, and the
//! bucket's `max_age` ([`LEASE_TTL`]) ends a lease its holder stops renewing — by the hub's
//! clock, not a PoP's. The first PoP an object is used at claims it (a KV `create`); the others
//! send its events there ([`EdgeObjects::forward`], NATS request/reply, answered by the
//! holder's [`Handler`]).
//!
//! An object's storage is a copy of its *log*: the subject `verge.objlog.<key>` of the stream
//! [`OBJECT_LOG`], whose entries the storage makes of its commits. The holder appends them
//! before the output gate opens, each with JetStream's expected-last-sequence check, so an
//! append made after another PoP took the object over fails instead of forking the log; a PoP
//! taking an object over reads the log, then appends a *takeover* marker, which fences off any
//! holder that does not know yet. An entry larger than a message is appended in parts; parts
//! a marker interrupts are no entry. Once the entries since the last snapshot outweigh the
//! object, the holder appends a snapshot (the whole file) and the entries before it are
//! purged, so a log stays within about twice its object's size.
//!
//! A WebSocket a client opens at one PoP to an object held at another travels through a
//! [`Tunnel`]: two core NATS subjects named by an unguessable id, one each way.
//!
//! Lifecycle: one [`EdgeObjects`] per PoP, given the hub once joined ([`EdgeObjects::serve`]),
//! which then renews this PoP's leases and answers the events others forward.

use crate::replica::HubSlot;
use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::{kv, stream};
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use verge_storage::StorageError;

/// The KV bucket of leases: which PoP holds each object.
pub const OBJECTS_BUCKET: &str = "verge_objects";

/// The stream of every object's log.
pub const OBJECT_LOG: &str = "verge_object_log";

/// How long a lease lasts unless renewed, by the hub's clock.
pub const LEASE_TTL: Duration = Duration::from_secs(6);

/// How often a holder renews its leases.
const RENEW_EVERY: Duration = Duration::from_secs(2);

/// How long a lease counts as held here after its last renewal got through: less than
/// [`LEASE_TTL`], so that a PoP cut off from the hub stops serving an object before another
/// can take it over.
const TRUST_FOR: Duration = Duration::from_secs(4);

/// The largest part of a log entry one message carries (NATS' default `max_payload` is 1 MiB).
const PART_BYTES: usize = 512 * 1024;

/// How long an event forwarded to the holder may take, answer included: an RPC call's own limit
/// (30 s) and then some.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(35);

/// How often a PoP waiting for a forwarded event's answer asks whether the holder is still
/// there.
const STILL_THERE_EVERY: Duration = Duration::from_secs(2);

/// The header numbering an entry's parts (`2/3`), when it has several.
const PART_HEADER: &str = "Verge-Part";

/// The header marking a snapshot's parts.
const SNAPSHOT_HEADER: &str = "Verge-Snapshot";

/// The header of a takeover marker, naming the PoP that took the object over.
const TAKEOVER_HEADER: &str = "Verge-Takeover";

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: OBJECTS_BUCKET.into(),
        description: "which PoP holds each Durable Object".into(),
        history: 1,
        max_age: LEASE_TTL,
        num_replicas: replicas,
        ..Default::default()
    }
}

pub(crate) fn log_stream(replicas: usize) -> stream::Config {
    stream::Config {
        name: OBJECT_LOG.into(),
        description: Some("each Durable Object's storage, as its log of page changes".into()),
        subjects: vec!["verge.objlog.>".into()],
        allow_direct: true,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Where PoP `pop` takes the events other PoPs forward to its objects.
fn events_subject(pop: &str) -> String {
    format!("verge.objects.{pop}")
}

fn log_subject(key: &str) -> String {
    format!("verge.objlog.{key}")
}

/// The hub's name of the object `id` of class `class` of worker `script`.
pub fn object_key(script: &str, class: &str, id: &str) -> String {
    // The id is hex already; the names may hold any character, a NATS token only a few.
    format!(
        "{}.{}",
        crate::replica::encode_key(script, class),
        id.to_ascii_lowercase()
    )
}

/// Who holds an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// This PoP, under the lease it acquired at revision `lease` (which a takeover changes).
    Here { lease: u64 },
    /// Another PoP, under the lease the hub has at revision `lease`.
    There { pop: String, lease: u64 },
}

/// Why a forwarded event got no answer.
#[derive(Debug)]
pub enum ForwardError {
    /// No one takes events at the holder: it is gone.
    Unreachable(String),
    /// It took them, but this one failed or timed out (it may have run).
    Failed(String),
}

/// What answers the events other PoPs forward to this one: the request's bytes in, the
/// answer's out.
pub type Handler = Arc<dyn Fn(Bytes) -> Pin<Box<dyn Future<Output = Bytes> + Send>> + Send + Sync>;

/// What [`EdgeObjects::log`] read.
pub struct LogRead {
    pub entries: Vec<Bytes>,
    /// The position of the last message read.
    pub last: u64,
    /// The bytes of the entries after the last snapshot read (all of them, if none was).
    pub since_snapshot: u64,
}

/// Which end of a [`Tunnel`] a PoP is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// The PoP holding the object.
    Holder,
    /// The PoP the object's client is connected to.
    Client,
}

/// Messages both ways between two PoPs for one WebSocket: what is sent on `outgoing` arrives at
/// the other end's `incoming`, in order. Dropping both ends of one side ends it there.
pub struct Tunnel {
    pub outgoing: tokio::sync::mpsc::Sender<Bytes>,
    pub incoming: tokio::sync::mpsc::Receiver<Bytes>,
}

/// How many messages a tunnel holds in each direction before its sender waits.
const TUNNEL_QUEUE: usize = 64;

/// Durable Objects' placement and logs, at one PoP.
#[derive(Clone)]
pub struct EdgeObjects {
    shared: Arc<Shared>,
}

struct Shared {
    pop: String,
    hub: HubSlot,
    /// The leases this PoP holds, by object key.
    held: Mutex<HashMap<String, Held>>,
    handler: OnceLock<Handler>,
}

struct Held {
    /// The revision the lease was acquired at: the token of this holding.
    acquired: u64,
    /// Its revision now, after renewals.
    revision: u64,
    renewed: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hub_error(error: ClusterError) -> StorageError {
    StorageError::Backend(format!("Durable Objects across PoPs: {error}"))
}

impl EdgeObjects {
    /// Durable Objects at PoP `pop` of the hub at `hubs`.
    pub fn new(pop: &str, hubs: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                pop: pop.to_owned(),
                hub: HubSlot::new(hubs),
                held: Mutex::default(),
                handler: OnceLock::new(),
            }),
        }
    }

    /// This PoP's name.
    pub fn pop(&self) -> &str {
        &self.shared.pop
    }

    /// Sets what answers the events forwarded to this PoP (once; the server's objects).
    pub fn set_handler(&self, handler: Handler) {
        let _ = self.shared.handler.set(handler);
    }

    /// Renews this PoP's leases and answers the events forwarded to it, for as long as the
    /// server runs.
    pub async fn serve(&self, cluster: Arc<Cluster>) {
        self.shared.hub.join(cluster.clone());
        tokio::spawn(renew(self.shared.clone(), cluster.clone()));
        let subject = events_subject(&self.shared.pop);
        loop {
            match cluster.client.subscribe(subject.clone()).await {
                Ok(mut events) => {
                    while let Some(event) = events.next().await {
                        let (Some(reply), Some(handler)) = (event.reply, self.shared.handler.get())
                        else {
                            continue;
                        };
                        // An empty event asks whether this PoP is still there.
                        if event.payload.is_empty() {
                            let _ = cluster.client.publish(reply, Bytes::new()).await;
                            continue;
                        }
                        let (answer, client) = (handler(event.payload), cluster.client.clone());
                        tokio::spawn(async move {
                            let _ = client.publish(reply, answer.await).await;
                        });
                    }
                }
                Err(e) => tracing::warn!("cannot take Durable Object events from other PoPs: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn hub(&self) -> Result<Arc<Cluster>, StorageError> {
        self.shared.hub.get("Durable Objects")
    }

    /// Who holds the object `key`: this PoP if it holds the lease, or claims it now because no
    /// one does; else the PoP the hub names. An object no one holds yet, given a `locationHint`
    /// (`hint`), is claimed for the PoP nearest the hint's region instead.
    pub async fn place(&self, key: &str, hint: Option<&str>) -> Result<Placement, StorageError> {
        if let Some(held) = lock(&self.shared.held).get(key) {
            if held.renewed.elapsed() < TRUST_FOR {
                return Ok(Placement::Here {
                    lease: held.acquired,
                });
            }
        }
        let hub = self.hub()?;
        let pop = &self.shared.pop;
        for _ in 0..3 {
            let entry = within("finding a Durable Object's PoP", hub.objects.entry(key))
                .await
                .map_err(hub_error)?;
            let current = entry.filter(|entry| entry.operation == kv::Operation::Put);
            let expected = match current {
                Some(entry) if entry.value != pop.as_bytes() => {
                    let holder = String::from_utf8_lossy(&entry.value).into_owned();
                    return Ok(Placement::There {
                        pop: holder,
                        lease: entry.revision,
                    });
                }
                // This PoP's own lease, unrenewed for a while or from before a restart.
                Some(entry) => Some(entry.revision),
                None => None,
            };
            if let (None, Some(place)) = (expected, hint.and_then(verge_config::location_hint)) {
                let nearest = nearest_pop(&hub, place).await;
                if let Some(nearest) = nearest.filter(|nearest| nearest != pop) {
                    let what = "claiming a Durable Object for the PoP its locationHint names";
                    let value = nearest.clone().into_bytes();
                    match hub
                        .put_expecting(&hub.objects, key, value, None, what)
                        .await
                    {
                        Ok(lease) => {
                            return Ok(Placement::There {
                                pop: nearest,
                                lease,
                            })
                        }
                        Err(ClusterError::Conflict(_)) => continue,
                        Err(e) => return Err(hub_error(e)),
                    }
                }
            }
            let what = "claiming a Durable Object";
            let sent = Instant::now();
            let claimed =
                hub.put_expecting(&hub.objects, key, pop.clone().into_bytes(), expected, what);
            match claimed.await {
                Ok(revision) => {
                    let mut held = lock(&self.shared.held);
                    let acquired = match (expected, held.get(key)) {
                        (Some(_), Some(kept)) => kept.acquired,
                        _ => revision,
                    };
                    held.insert(
                        key.to_owned(),
                        Held {
                            acquired,
                            revision,
                            renewed: sent,
                        },
                    );
                    return Ok(Placement::Here { lease: acquired });
                }
                Err(ClusterError::Conflict(_)) => continue,
                Err(e) => return Err(hub_error(e)),
            }
        }
        Err(StorageError::Backend(format!(
            "Durable Object {key}: PoPs keep claiming it at once; try again"
        )))
    }

    /// Whether this PoP still holds `key` under the lease it acquired at `lease`, as far as it
    /// knows without asking the hub (its last renewal is recent enough).
    pub fn holds(&self, key: &str, lease: u64) -> bool {
        lock(&self.shared.held)
            .get(key)
            .is_some_and(|held| held.acquired == lease && held.renewed.elapsed() < TRUST_FOR)
    }

    /// Who holds the object `key`, now that its holder under lease `lost` cannot be reached:
    /// once that lease lapses (within [`LEASE_TTL`]), this PoP claims the object.
    pub async fn place_after_loss(&self, key: &str, lost: u64) -> Result<Placement, StorageError> {
        let deadline = Instant::now() + LEASE_TTL + Duration::from_secs(3);
        loop {
            let placement = self.place(key, None).await?;
            let still_lost = matches!(&placement, Placement::There { lease, .. } if *lease == lost);
            if !still_lost {
                return Ok(placement);
            }
            if Instant::now() >= deadline {
                return Err(StorageError::Backend(format!(
                    "the PoP holding Durable Object {key} cannot be reached, and its lease did \
                     not lapse within {:?}",
                    LEASE_TTL + Duration::from_secs(3)
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Gives up this PoP's lease on `key` acquired at `lease` (its object is no longer in use
    /// here), so that the next PoP to use it claims it at once. A lease acquired since is kept.
    pub fn release(&self, key: &str, lease: u64) {
        let held = {
            let mut held = lock(&self.shared.held);
            match held.get(key) {
                Some(entry) if entry.acquired == lease => held.remove(key),
                _ => None,
            }
        };
        let Some(held) = held else {
            return;
        };
        let Ok(hub) = self.hub() else { return };
        let key = key.to_owned();
        tokio::spawn(async move {
            let what = "releasing a Durable Object's lease";
            let _ = hub
                .delete_expecting(OBJECTS_BUCKET, &key, Some(held.revision), what)
                .await;
        });
    }

    /// The entries of `key`'s log after position `after`: the entries, the position of the last
    /// message read (`after` when there is none), and how many bytes of entries follow the last
    /// snapshot among them (all of them, if none is).
    pub async fn log(&self, key: &str, after: u64) -> Result<LogRead, StorageError> {
        let hub = self.hub()?;
        let subject = log_subject(key);
        let (mut entries, mut parts, mut last) = (Vec::new(), Vec::<Bytes>::new(), after);
        let mut since_snapshot = 0;
        loop {
            let next = hub
                .object_log
                .direct_get_next_for_subject(&subject, Some(last + 1));
            let message = match tokio::time::timeout(crate::CALL_TIMEOUT, next).await {
                Ok(Ok(message)) => message,
                Ok(Err(e)) if e.kind() == stream::DirectGetErrorKind::NotFound => break,
                Ok(Err(e)) => {
                    return Err(StorageError::Backend(format!(
                        "reading Durable Object {key}'s log: {e}"
                    )))
                }
                Err(_) => {
                    return Err(hub_error(ClusterError::Timeout(
                        crate::CALL_TIMEOUT,
                        "reading a Durable Object's log",
                    )))
                }
            };
            last = message.sequence;
            if message.headers.get(SNAPSHOT_HEADER).is_some() {
                since_snapshot = 0;
            } else {
                since_snapshot += message.payload.len() as u64;
            }
            let part = message
                .headers
                .get(PART_HEADER)
                .and_then(|value| value.as_str().split_once('/'))
                .and_then(|(at, of)| Some((at.parse::<usize>().ok()?, of.parse::<usize>().ok()?)));
            match part {
                Some((at, of)) => {
                    if at == 1 {
                        parts.clear();
                    }
                    if at == parts.len() + 1 {
                        parts.push(message.payload);
                    }
                    if at == of && parts.len() == of {
                        entries.push(Bytes::from(parts.concat()));
                        parts.clear();
                    }
                }
                None => {
                    parts.clear();
                    if message.headers.get(TAKEOVER_HEADER).is_none() {
                        entries.push(message.payload);
                    }
                }
            }
        }
        Ok(LogRead {
            entries,
            last,
            since_snapshot,
        })
    }

    /// Appends `entry` to `key`'s log, if its last message is still at `after`; the position
    /// of the entry (its last part). A message of another PoP's since then fails it: the
    /// object was taken over.
    pub async fn append(&self, key: &str, after: u64, entry: Bytes) -> Result<u64, StorageError> {
        self.append_parts(key, after, entry, false)
            .await
            .map(|(_, last)| last)
    }

    /// Appends `snapshot`, an entry from which the object can be rebuilt alone, as
    /// [`EdgeObjects::append`] does, then drops the entries before it from the log.
    pub async fn append_snapshot(
        &self,
        key: &str,
        after: u64,
        snapshot: Bytes,
    ) -> Result<u64, StorageError> {
        let (first, last) = self.append_parts(key, after, snapshot, true).await?;
        let hub = self.hub()?;
        let purge = hub
            .object_log
            .purge()
            .filter(log_subject(key))
            .sequence(first);
        // What is left over is read and overwritten by the snapshot: only space is lost.
        let purge = std::future::IntoFuture::into_future(purge);
        if let Err(e) = within("dropping a Durable Object's older log entries", purge).await {
            tracing::warn!("{e}");
        }
        Ok(last)
    }

    /// Appends `entry` (a `snapshot` or not) in parts: the positions of its first and last.
    async fn append_parts(
        &self,
        key: &str,
        after: u64,
        entry: Bytes,
        snapshot: bool,
    ) -> Result<(u64, u64), StorageError> {
        let parts: Vec<Bytes> = (0..entry.len().div_ceil(PART_BYTES).max(1))
            .map(|index| {
                entry.slice(index * PART_BYTES..((index + 1) * PART_BYTES).min(entry.len()))
            })
            .collect();
        let count = parts.len();
        let (mut first, mut last) = (0, after);
        for (index, part) in parts.into_iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            if count > 1 {
                headers.insert(PART_HEADER, format!("{}/{count}", index + 1).as_str());
            }
            if snapshot {
                headers.insert(SNAPSHOT_HEADER, "1");
            }
            last = self.publish(key, last, headers, part).await?;
            if index == 0 {
                first = last;
            }
        }
        Ok((first, last))
    }

    /// Appends a takeover marker to `key`'s log, if its last message is still at `after`: any
    /// PoP that held the object before can append no more. The marker's position.
    pub async fn take_over(&self, key: &str, after: u64) -> Result<u64, StorageError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(TAKEOVER_HEADER, self.shared.pop.as_str());
        self.publish(key, after, headers, Bytes::new()).await
    }

    async fn publish(
        &self,
        key: &str,
        after: u64,
        mut headers: async_nats::HeaderMap,
        payload: Bytes,
    ) -> Result<u64, StorageError> {
        use async_nats::jetstream::context::PublishErrorKind;
        let hub = self.hub()?;
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            async_nats::HeaderValue::from(after),
        );
        let published = tokio::time::timeout(crate::CALL_TIMEOUT, async {
            let ack = hub
                .jetstream
                .publish_with_headers(log_subject(key), headers, payload)
                .await
                .map_err(|e| e.to_string())?;
            ack.await
                .map(|ack| ack.sequence)
                .map_err(|e| match e.kind() {
                    PublishErrorKind::WrongLastSequence => format!(
                        "another PoP took Durable Object {key} over (its log moved past {after})"
                    ),
                    _ => e.to_string(),
                })
        })
        .await;
        match published {
            Ok(Ok(position)) => Ok(position),
            Ok(Err(cause)) => Err(StorageError::Backend(format!(
                "appending to a Durable Object's log: {cause}"
            ))),
            Err(_) => Err(hub_error(ClusterError::Timeout(
                crate::CALL_TIMEOUT,
                "appending to a Durable Object's log",
            ))),
        }
    }

    /// Sends `event` to PoP `pop` and waits for its answer, asking every [`STILL_THERE_EVERY`]
    /// whether `pop` is still there: one that went away meanwhile fails the event at once (it
    /// may have run: it is not sent again).
    pub async fn forward(&self, pop: &str, event: Bytes) -> Result<Bytes, ForwardError> {
        use async_nats::RequestErrorKind;
        let hub = self
            .hub()
            .map_err(|e| ForwardError::Failed(e.to_string()))?;
        let subject = events_subject(pop);
        let asked = hub.client.request(subject.clone(), event);
        let gone = async {
            loop {
                tokio::time::sleep(STILL_THERE_EVERY).await;
                let asked = hub.client.request(subject.clone(), Bytes::new());
                let answer = tokio::time::timeout(STILL_THERE_EVERY, asked).await;
                if matches!(answer, Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders) {
                    return;
                }
            }
        };
        tokio::select! {
            answer = tokio::time::timeout(FORWARD_TIMEOUT, asked) => match answer {
                Ok(Ok(answer)) => Ok(answer.payload),
                Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => Err(
                    ForwardError::Unreachable(format!("PoP {pop} takes no Durable Object events")),
                ),
                Ok(Err(e)) => Err(ForwardError::Failed(format!("PoP {pop}: {e}"))),
                Err(_) => Err(ForwardError::Failed(format!(
                    "PoP {pop} did not answer within {FORWARD_TIMEOUT:?}"
                ))),
            },
            () = gone => Err(ForwardError::Failed(format!(
                "PoP {pop}, which holds the Durable Object, went away while running the event"
            ))),
        }
    }
}

impl EdgeObjects {
    /// A new tunnel's id: unguessable, and one NATS token.
    pub fn new_tunnel_id(&self) -> Result<String, StorageError> {
        let hub = self.hub()?;
        let inbox = hub.client.new_inbox();
        let id = inbox.rsplit('.').next().unwrap_or_default();
        Ok(id.chars().filter(char::is_ascii_alphanumeric).collect())
    }

    /// This PoP's `end` of tunnel `id`, listening once this returns: the other end's messages
    /// sent from now on arrive.
    pub async fn tunnel(&self, id: &str, end: TunnelEnd) -> Result<Tunnel, StorageError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StorageError::Invalid(format!(
                "\"{id}\" is not a tunnel id"
            )));
        }
        let hub = self.hub()?;
        let (to_holder, to_client) = (format!("verge.ws.{id}.h"), format!("verge.ws.{id}.c"));
        let (listen, send) = match end {
            TunnelEnd::Holder => (to_holder, to_client),
            TunnelEnd::Client => (to_client, to_holder),
        };
        let mut subscription = within("opening a WebSocket tunnel", hub.client.subscribe(listen))
            .await
            .map_err(hub_error)?;
        let (incoming_tx, incoming) = tokio::sync::mpsc::channel(TUNNEL_QUEUE);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = subscription.next() => {
                        let Some(message) = message else { break };
                        if incoming_tx.send(message.payload).await.is_err() {
                            break;
                        }
                    }
                    () = incoming_tx.closed() => break,
                }
            }
        });
        let (outgoing, mut outgoing_rx) = tokio::sync::mpsc::channel::<Bytes>(TUNNEL_QUEUE);
        let client = hub.client.clone();
        tokio::spawn(async move {
            while let Some(message) = outgoing_rx.recv().await {
                if client.publish(send.clone(), message).await.is_err() {
                    break;
                }
            }
        });
        Ok(Tunnel { outgoing, incoming })
    }
}

/// How recent a PoP's heartbeat must be for a new object to be placed there.
const ALIVE_WITHIN_MS: u64 = 5_000;

/// The live PoP nearest to `place` among those that say where they are, if any does.
async fn nearest_pop(cluster: &Cluster, place: verge_config::Location) -> Option<String> {
    let reports = cluster.status().await.ok()?;
    reports
        .into_iter()
        .filter(|report| report.age_ms() < ALIVE_WITHIN_MS && !report.drain)
        .filter_map(|report| Some((report.location?.distance_km(place), report.pop)))
        .min_by(|(a, _), (b, _)| a.total_cmp(b))
        .map(|(_, pop)| pop)
}

/// Renews the leases this PoP holds every [`RENEW_EVERY`]; a lease another PoP took is no
/// longer held.
async fn renew(shared: Arc<Shared>, cluster: Arc<Cluster>) {
    let mut ticks = tokio::time::interval(RENEW_EVERY);
    loop {
        ticks.tick().await;
        let leases: Vec<(String, u64)> = lock(&shared.held)
            .iter()
            .map(|(key, held)| (key.clone(), held.revision))
            .collect();
        // All at once: one slow renewal must not let the others lapse.
        let renewals = leases.into_iter().map(|(key, revision)| {
            let (cluster, value) = (cluster.clone(), shared.pop.clone().into_bytes());
            async move {
                // Trust runs from before the hub stamped the renewal.
                let sent = Instant::now();
                let what = "renewing a Durable Object's lease";
                let renewed = cluster
                    .put_expecting(&cluster.objects, &key, value, Some(revision), what)
                    .await;
                (key, revision, sent, renewed)
            }
        });
        let renewed: Vec<_> = futures_util::stream::iter(renewals)
            .buffer_unordered(64)
            .collect()
            .await;
        for (key, revision, sent, renewed) in renewed {
            let mut held = lock(&shared.held);
            let Some(entry) = held
                .get_mut(&key)
                .filter(|entry| entry.revision == revision)
            else {
                continue;
            };
            match renewed {
                Ok(revision) => {
                    entry.revision = revision;
                    entry.renewed = sent;
                }
                Err(ClusterError::Conflict(_)) => {
                    held.remove(&key);
                    tracing::warn!(
                        "the lease of Durable Object {key} lapsed: another PoP may hold it now"
                    );
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
}
