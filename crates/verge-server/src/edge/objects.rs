//! Durable Objects on one server: each object lives on one serving thread — the one its
//! address hashes to — in an isolate of its own, loaded from its worker's deployed version when
//! an event first needs it and dropped when idle (its storage stays on disk). Requests and RPC
//! calls for an object, from any thread, travel to its thread as [`ObjectMessage`]s
//! ([`ObjectRouter`]); there they wait for the object's gate (`blockConcurrencyWhile`,
//! `transaction()`; held past 30 s, it resets the object), run, and — Cloudflare's output gate —
//! the object's writes are committed before the reply, or a message to a held WebSocket, leaves.
//!
//! WebSockets accepted with the hibernation API (`ctx.acceptWebSocket`) are held by the
//! object's slot, not its isolate: their messages are delivered as events (recreating the
//! isolate if need be), and an object with nothing but such sockets hibernates — its isolate
//! dropped, its sockets open.
//!
//! Alarms: setting one starts a timer on the object's thread; when it fires, the object's
//! `alarm()` runs (its isolate recreated if it was evicted), and a run that throws is retried
//! with exponential backoff. A restarted server finds the objects with alarms in the store's
//! list ([`ObjectRouter::wake_alarms`]).
//!
//! In a cluster, each object is held by one PoP at a time (`verge_cluster::objects`): an event
//! for an object held elsewhere is forwarded there (`forwarded.rs`), and the storage of one
//! held here is a copy of its log in the hub, opened by bringing it up to date and fencing off
//! any previous holder, and replicated — every commit appended to the log — before the output
//! gate opens. A commit the log does not take fails its event and resets the object, whose
//! next event starts again from the log.
//!
//! Lifecycle: one router per server; per thread, a slot per object in use (its storage and
//! gate) holding the object's isolate of the current version.

use super::isolates::{LiveWorker, WorkerCell};
use super::Site;
use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use verge_cluster::{objects::object_key, EdgeObjects, Placement};
use verge_runtime::{
    Body, Frame, HeaderList, HeldSocket, HibernatableSockets, HostSocket, LoadError, ObjectAddress,
    ObjectGate, ObjectState, Outcome, RedirectMode, Request, Response,
};
use verge_storage::{ClosedStorage, MigrationStep, ObjectStorage};

/// How long an object may sit idle before its isolate is dropped, unless the server says.
const DEFAULT_IDLE: Duration = Duration::from_secs(70);

/// How long an object whose only work is its held WebSockets keeps its isolate before it
/// hibernates (Cloudflare: about ten seconds).
const HIBERNATE_AFTER: Duration = Duration::from_secs(10);

/// How long `blockConcurrencyWhile` may hold an object (Cloudflare: 30 s); past it, the object
/// is reset.
const BLOCK_LIMIT: Duration = Duration::from_secs(30);

/// The most WebSockets one object may hold with the hibernation API (Cloudflare: 32,768).
const MAX_HELD_SOCKETS: usize = 32_768;

/// How often an alarm whose handler throws is run again (Cloudflare: six times), and the wait
/// before the first retry, doubled for each after it.
const ALARM_RETRIES: u32 = 6;
const ALARM_BACKOFF: Duration = Duration::from_secs(2);

/// A request on its way to an object's thread.
pub(super) struct Sent {
    pub(super) method: String,
    pub(super) url: String,
    pub(super) headers: HeaderList,
    pub(super) body: Body,
    pub(super) cf: Option<String>,
    pub(super) redirect: RedirectMode,
    pub(super) depth: u32,
}

impl From<Request> for Sent {
    fn from(request: Request) -> Self {
        Self {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            cf: request.cf.map(|cf| cf.to_string()),
            redirect: request.redirect,
            depth: request.depth,
        }
    }
}

impl From<Sent> for Request {
    fn from(sent: Sent) -> Self {
        Self {
            method: sent.method,
            url: sent.url,
            headers: sent.headers,
            body: sent.body,
            cf: sent.cf.map(Rc::from),
            redirect: sent.redirect,
            depth: sent.depth,
        }
    }
}

/// Why an event for an object failed, as the caller's promise rejects.
pub(super) type Failure = String;

/// What is asked of an object.
pub(super) enum Asked {
    Fetch(Sent),
    Call {
        method: String,
        args: String,
        depth: u32,
    },
}

/// What an object answers.
pub(super) enum Answer {
    Response(Response),
    Reply(String),
}

enum ObjectEvent {
    Ask(Asked, oneshot::Sender<Result<Answer, Failure>>),
    /// Look at the object's alarm and start its timer: a restarted server's.
    Wake,
}

impl ObjectEvent {
    /// Answers the event with `failure`, if it expects an answer.
    fn fail(self, failure: Failure) {
        match self {
            ObjectEvent::Ask(_, reply) => drop(reply.send(Err(failure))),
            ObjectEvent::Wake => {}
        }
    }
}

/// An event for the object at `address`; in a cluster, with the lease under which this PoP
/// holds the object.
pub(super) struct ObjectMessage {
    address: ObjectAddress,
    event: ObjectEvent,
    lease: Option<u64>,
}

/// Where each object lives: the inbox of each serving thread, shared by all of them, and in a
/// cluster the PoP that holds it.
pub(crate) struct ObjectRouter {
    inboxes: Vec<mpsc::UnboundedSender<ObjectMessage>>,
    /// The workers (by name and version) whose `[[migrations]]` this process has applied.
    migrated: Mutex<HashSet<(String, u64)>>,
    /// At a PoP: who holds each object, and their logs.
    pub(super) network: Option<EdgeObjects>,
}

impl ObjectRouter {
    /// A router over `threads` serving threads, and each thread's inbox, in order; at a PoP, over
    /// the cluster's `network` too, whose events for objects held here it takes.
    pub(crate) fn new(
        threads: usize,
        network: Option<EdgeObjects>,
    ) -> (Arc<Self>, Vec<mpsc::UnboundedReceiver<ObjectMessage>>) {
        let (inboxes, receivers) = (0..threads.max(1))
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let router = Arc::new(Self {
            inboxes,
            migrated: Mutex::default(),
            network,
        });
        (router, receivers)
    }

    /// Starts the timers of the alarms `store` lists, each on its object's thread.
    pub(crate) fn wake_alarms(&self, store: &dyn verge_storage::ObjectStore, site: &Site) {
        let alarms = match store.alarms() {
            Ok(alarms) => alarms,
            Err(error) => {
                return tracing::error!("cannot list the Durable Objects' alarms: {error}")
            }
        };
        for alarm in alarms {
            // The store knows the class by its identity; its events by its name now.
            let class = match site.position(&alarm.script) {
                Some(index) => {
                    let migrations = &site.workers[index].config.migrations;
                    verge_config::class_with_identity(migrations, &alarm.class)
                }
                None => alarm.class.clone(),
            };
            let address = ObjectAddress {
                script: alarm.script,
                class,
                id: alarm.id,
                name: None,
                hint: None,
                identity: alarm.class,
            };
            let _ = self.send(address, ObjectEvent::Wake, None);
        }
    }

    fn send(
        &self,
        address: ObjectAddress,
        event: ObjectEvent,
        lease: Option<u64>,
    ) -> Result<(), Failure> {
        // By the class's identity, so that a rename keeps each object on its thread.
        let mut hasher = DefaultHasher::new();
        (&address.script, &address.identity, &address.id).hash(&mut hasher);
        let owner = (hasher.finish() % self.inboxes.len() as u64) as usize;
        let message = ObjectMessage {
            address,
            event,
            lease,
        };
        self.inboxes[owner]
            .send(message)
            .map_err(|_| "the server is stopping".to_owned())
    }

    /// Runs `asked` on the object at `address`, on this server (held under `lease`, at a PoP).
    pub(super) async fn ask_here(
        &self,
        address: ObjectAddress,
        asked: Asked,
        lease: Option<u64>,
    ) -> Result<Answer, Failure> {
        let (reply, replied) = oneshot::channel();
        self.send(address, ObjectEvent::Ask(asked, reply), lease)?;
        replied
            .await
            .map_err(|_| "the Durable Object was reset".to_owned())?
    }
}

/// The hub's name of the object at `address` (by its class's identity, which renames keep).
pub(super) fn log_key(address: &ObjectAddress) -> String {
    object_key(&address.script, &address.identity, &address.id)
}

/// One object on this thread: its storage and gate, which outlive its isolate.
struct Slot {
    /// The name its id was made from, once an event has told it (`ctx.id.name`).
    name: RefCell<Option<String>>,
    storage: Rc<RefCell<Box<dyn ObjectStorage>>>,
    gate: Rc<ObjectGate>,
    /// The isolate, of the version it was loaded from.
    live: RefCell<Option<(u64, WorkerCell)>>,
    last_used: Cell<Instant>,
    /// Events being run.
    busy: Cell<u32>,
    /// When the alarm timer running is set to fire, if one is.
    alarm_timer: Cell<Option<f64>>,
    /// Failed runs of the alarm so far.
    alarm_retries: Cell<u32>,
    /// The WebSockets accepted with `ctx.acceptWebSocket`, by number.
    sockets: RefCell<HashMap<u32, Held>>,
    next_socket: Cell<u32>,
    /// `setWebSocketAutoResponse`: a message answered without waking the object.
    auto_response: RefCell<Option<(String, String)>>,
    /// Messages the object sent to its held sockets while writes of its were uncommitted: they
    /// leave once those writes are durable (the output gate).
    outbox: RefCell<Vec<(u32, Frame)>>,
    /// At a PoP: the object's log, which its commits are appended to.
    replica: Option<Replica>,
    /// Whether its storage can no longer be used (a commit the log did not take): its next
    /// event opens the object anew.
    broken: Cell<bool>,
}

/// Where a held object's commits go, at a PoP.
struct Replica {
    network: EdgeObjects,
    key: String,
    /// The lease under which this PoP holds the object.
    lease: u64,
    /// The position of the log's last entry, which the next append expects.
    position: Cell<u64>,
    /// One append at a time, in commit order.
    turn: tokio::sync::Mutex<()>,
    /// Bytes in the log since its last snapshot (as far as this PoP read or wrote it).
    logged: Cell<u64>,
}

/// The log bytes past which a snapshot is appended, unless the object is larger.
const SNAPSHOT_AFTER: u64 = 1024 * 1024;

/// A held WebSocket: where frames for its client go, its tags and attachment, and whether its
/// events go to listeners in the object's isolate (`accept()`) rather than its handlers.
struct Held {
    tx: mpsc::Sender<Frame>,
    tags: Vec<String>,
    attachment: Option<String>,
    listening: bool,
}

impl Slot {
    /// Commits the object's writes (and at a PoP appends them to its log), then sends the
    /// messages that waited for them; if that fails, those messages are dropped (what they
    /// told of was not kept).
    async fn commit(&self, address: &ObjectAddress) -> Result<(), Failure> {
        let committed = self.storage.borrow_mut().commit();
        let mut outbox = std::mem::take(&mut *self.outbox.borrow_mut());
        if let Err(error) = committed {
            tracing::error!(object = %address.id, "Durable Object storage could not commit: {error}");
            return Err(format!("Durable Object storage failed: {error}"));
        }
        if let Some(replica) = &self.replica {
            self.replicate(address, replica).await?;
            // Messages sent meanwhile may go too, if nothing they follow is still unreplicated.
            if !self.storage.borrow().has_uncommitted_writes() {
                outbox.append(&mut self.outbox.borrow_mut());
            }
        }
        for (number, frame) in outbox {
            self.send_now(address, number, frame);
        }
        Ok(())
    }

    /// Appends what the object committed to its log; if the log does not take it, the object
    /// is reset and its storage dropped, for its next event to start again from the log.
    async fn replicate(&self, address: &ObjectAddress, replica: &Replica) -> Result<(), Failure> {
        let _turn = replica.turn.lock().await;
        let entry = self.storage.borrow_mut().unreplicated();
        let appended = match entry {
            Ok(None) => return Ok(()),
            Ok(Some(entry)) => {
                let after = replica.position.get();
                replica
                    .logged
                    .set(replica.logged.get() + entry.len() as u64);
                replica
                    .network
                    .append(&replica.key, after, entry.into())
                    .await
            }
            Err(error) => Err(error),
        };
        let kept = appended.and_then(|position| {
            replica.position.set(position);
            self.storage.borrow_mut().replicated(Some(position))
        });
        kept.map_err(|error| {
            let _ = self.storage.borrow_mut().replicated(None);
            tracing::error!(object = %address.id, class = %address.class, "Durable Object reset: its writes could not be replicated: {error}");
            self.broken.set(true);
            self.reset();
            format!("Durable Object storage could not be replicated: {error}")
        })
    }

    /// Closes the object's storage, dropping writes not committed: a replacement opens it
    /// anew, and must be the only one writing it.
    fn close(&self) {
        let storage = std::mem::replace(&mut *self.storage.borrow_mut(), Box::new(ClosedStorage));
        storage.discard();
    }

    /// Closes the object's storage and, at a PoP, gives its lease up: the object is no longer
    /// in use here.
    fn evict(&self) {
        self.close();
        if let Some(replica) = &self.replica {
            replica.network.release(&replica.key, replica.lease);
        }
    }

    /// Whether the object's log has outweighed it since its last snapshot.
    fn wants_snapshot(&self) -> bool {
        let Some(replica) = &self.replica else {
            return false;
        };
        let size = self.storage.borrow_mut().size().unwrap_or(0);
        replica.logged.get() > size.max(SNAPSHOT_AFTER)
    }

    /// Appends a snapshot of the object to its log, which then drops the entries before it.
    /// Run after the events that asked for it were answered; a failure only leaves the log
    /// longer.
    async fn snapshot(&self, address: &ObjectAddress) {
        let Some(replica) = &self.replica else { return };
        let _turn = replica.turn.lock().await;
        if !self.wants_snapshot() {
            return;
        }
        let snapshot = match self.storage.borrow_mut().snapshot() {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => return,
            Err(error) => return tracing::warn!(object = %address.id, "no snapshot: {error}"),
        };
        let (after, bytes) = (replica.position.get(), snapshot.len());
        let appended = replica
            .network
            .append_snapshot(&replica.key, after, snapshot.into());
        let kept = appended.await.and_then(|position| {
            tracing::debug!(object = %address.id, "snapshot of {bytes} bytes at log position {position}");
            replica.position.set(position);
            replica.logged.set(0);
            self.storage.borrow_mut().replicated(Some(position))
        });
        if let Err(error) = kept {
            // Whether the log took it is not known: the next event starts from the log.
            tracing::warn!(object = %address.id, "the snapshot could not be appended: {error}");
            let _ = self.storage.borrow_mut().replicated(None);
            self.broken.set(true);
        }
    }

    /// At a PoP, fails (and breaks the slot) unless this PoP still holds the object.
    fn check_held(&self, address: &ObjectAddress) -> Result<(), Failure> {
        let Some(replica) = &self.replica else {
            return Ok(());
        };
        if replica.network.holds(&replica.key, replica.lease) {
            return Ok(());
        }
        self.broken.set(true);
        self.reset();
        Err(format!(
            "Durable Object {} is no longer held by this PoP",
            address.id
        ))
    }

    /// Whether the object has writes or messages waiting for a commit.
    fn has_pending_commit(&self) -> bool {
        self.storage.borrow().has_uncommitted_writes() || !self.outbox.borrow().is_empty()
    }

    fn send_now(&self, address: &ObjectAddress, number: u32, frame: Frame) {
        if let Some(held) = self.sockets.borrow().get(&number) {
            if held.tx.try_send(frame).is_err() {
                tracing::warn!(object = %address.id, "a WebSocket message was dropped: the client is not reading");
            }
        }
    }

    /// Waits for the object's gate to open; one held past [`BLOCK_LIMIT`] resets the object,
    /// and the event fails, naming why.
    async fn open_gate(&self, address: &ObjectAddress) -> Result<(), Failure> {
        if self.gate.open_within(BLOCK_LIMIT).await {
            return Ok(());
        }
        tracing::error!(object = %address.id, class = %address.class, "blockConcurrencyWhile() ran past {BLOCK_LIMIT:?}: the Durable Object is reset");
        self.reset();
        Err(format!(
            "Durable Object reset: blockConcurrencyWhile() ran longer than {} s",
            BLOCK_LIMIT.as_secs()
        ))
    }

    /// Drops the object's isolate (a reset, or hibernation): its next event makes a new one.
    /// A `blockConcurrencyWhile` the old isolate was in can no longer end, so the gate opens.
    fn reset(&self) {
        self.live.borrow_mut().take();
        self.gate.reset();
        // Sockets whose listeners were in the isolate close with it, as on Workers.
        self.sockets.borrow_mut().retain(|_, held| {
            if held.listening {
                let reset = Frame::Close {
                    code: 1011,
                    reason: "the Durable Object was reset".to_owned(),
                };
                let _ = held.tx.try_send(reset);
            }
            !held.listening
        });
    }

    /// Whether the object's isolate holds WebSockets of its own (accepted with `accept()`),
    /// which dropping it would close.
    fn isolate_holds_sockets(&self) -> bool {
        let live = self.live.borrow();
        let Some((_, cell)) = live.as_ref() else {
            return false;
        };
        let listening = self.sockets.borrow().values().any(|held| held.listening);
        listening
            || cell
                .get()
                .is_some_and(|live| live.worker.open_sockets() > 0)
    }

    /// What the object is told of held socket `number`, if it is still held.
    fn held(&self, number: u32) -> Option<HeldSocket> {
        let sockets = self.sockets.borrow();
        let held = sockets.get(&number)?;
        Some(HeldSocket {
            number,
            tags: held.tags.clone(),
            attachment: held.attachment.clone(),
        })
    }
}

/// This thread's objects.
#[derive(Default)]
pub(super) struct LocalObjects {
    slots: RefCell<HashMap<ObjectAddress, Rc<Slot>>>,
    /// At a PoP, one object opened at a time (see [`slot`]).
    opening: tokio::sync::Mutex<()>,
}

impl LocalObjects {
    /// Drops the objects idle past `idle` (their storage is committed on drop); an object
    /// that holds WebSockets hibernates instead, after [`HIBERNATE_AFTER`]: its isolate is
    /// dropped, its sockets kept.
    pub(super) fn evict(&self, idle: Option<Duration>) {
        let idle = idle.unwrap_or(DEFAULT_IDLE);
        self.slots.borrow_mut().retain(|address, slot| {
            if slot.broken.get() {
                slot.evict();
                return false;
            }
            if slot.busy.get() > 0 {
                return true;
            }
            // Writes made outside events (by a socket's listener, a timer) are committed
            // within a period of this sweep, and the messages that waited for them leave.
            if slot.has_pending_commit() {
                let (slot, address) = (slot.clone(), address.clone());
                tokio::task::spawn_local(async move { slot.commit(&address).await });
                return true;
            }
            let unused = slot.last_used.get().elapsed();
            // At a PoP, an object with an alarm set stays held here, for its timer to run it;
            // idle, it keeps no isolate.
            if slot.replica.is_some() && slot.alarm_timer.get().is_some() {
                if unused >= idle && !slot.isolate_holds_sockets() {
                    slot.live.borrow_mut().take();
                }
                return true;
            }
            if unused < idle.min(HIBERNATE_AFTER) || slot.isolate_holds_sockets() {
                return true;
            }
            if !slot.sockets.borrow().is_empty() {
                if slot.live.borrow().is_some() {
                    slot.reset();
                    tracing::debug!(object = %address.id, class = %address.class, "Durable Object hibernated");
                }
                return true;
            }
            let keep = unused < idle;
            if !keep {
                tracing::debug!(object = %address.id, class = %address.class, "Durable Object evicted after {idle:?} idle");
                slot.evict();
            }
            keep
        });
    }
}

/// What the objects of a serving thread need of it (the thread's state implements it, so that
/// this room depends on no other of the edge's but the site and the isolates).
pub(super) trait ObjectThread {
    /// The site being served now.
    fn site(&self) -> Arc<Site>;
    /// This thread's objects.
    fn objects(&self) -> &LocalObjects;
    /// Where every object lives.
    fn router(&self) -> &ObjectRouter;
    /// Where objects keep their storage, if this server keeps any.
    fn object_store(&self) -> Option<Arc<dyn verge_storage::ObjectStore>>;
    /// Itself, for the tasks that must reach it later (alarms, held sockets).
    fn weak(&self) -> Weak<dyn ObjectThread>;
    /// Loads `deployed`, a worker of `site`, into a new isolate holding the Durable Object of
    /// `object`, with what the worker is granted on this thread.
    fn load_object<'a>(
        &'a self,
        site: &'a Site,
        deployed: &'a super::Deployed,
        object: ObjectState,
    ) -> Pin<Box<dyn Future<Output = Result<Rc<LiveWorker>, LoadError>> + 'a>>;
}

/// Delivers the messages of this thread's inbox, each in a task of its own.
pub(super) async fn serve_objects(
    state: Weak<dyn ObjectThread>,
    mut inbox: mpsc::UnboundedReceiver<ObjectMessage>,
) {
    while let Some(message) = inbox.recv().await {
        let Some(state) = state.upgrade() else { break };
        tokio::task::spawn_local(async move { deliver(&*state, message).await });
    }
}

async fn deliver(state: &dyn ObjectThread, message: ObjectMessage) {
    let ObjectMessage {
        address,
        event,
        mut lease,
    } = message;
    // At a PoP, a restart's alarm runs where the object is held: here, if no other PoP is.
    if let (ObjectEvent::Wake, None, Some(network)) = (&event, lease, &state.router().network) {
        match wake_here(network, &address).await {
            Some(held) => lease = Some(held),
            None => return,
        }
    }
    let site = state.site();
    let slot = match slot(state, &site, &address, lease).await {
        Ok(slot) => slot,
        Err(failure) => {
            tracing::error!(object = %address.id, class = %address.class, "{failure}");
            return event.fail(failure);
        }
    };
    match event {
        ObjectEvent::Wake => {
            let stored = slot.storage.borrow_mut().alarm();
            if let Ok(Some(at)) = stored {
                schedule_alarm(state, &address, &slot, at);
            }
        }
        ObjectEvent::Ask(Asked::Fetch(request), reply) => {
            let request = request.into();
            let outcome = on_object(state, &site, &address, &slot, |live| async move {
                live.worker.fetch(request).await
            });
            let answer = outcome.await.and_then(|outcome| match outcome {
                Outcome::Response(response) => Ok(Answer::Response(response)),
                _ => Err("the Durable Object's fetch() answered no Response".to_owned()),
            });
            let _ = reply.send(answer);
        }
        ObjectEvent::Ask(
            Asked::Call {
                method,
                args,
                depth,
            },
            reply,
        ) => {
            let outcome = on_object(state, &site, &address, &slot, |live| async move {
                live.worker.call(None, method, args, depth).await
            });
            let answer = outcome.await.and_then(|outcome| match outcome {
                Outcome::Reply(reply) => Ok(Answer::Reply(reply)),
                _ => Err("the Durable Object's method answered nothing".to_owned()),
            });
            let _ = reply.send(answer);
        }
    }
}

/// The lease under which this PoP holds the object at `address`, claimed if no other PoP holds
/// it; `None` if another does. A PoP that just started may not have reached its hub yet: it
/// keeps asking for a minute.
async fn wake_here(network: &EdgeObjects, address: &ObjectAddress) -> Option<u64> {
    let key = log_key(address);
    for _ in 0..60 {
        match network.place(&key, None).await {
            Ok(Placement::Here { lease }) => return Some(lease),
            Ok(Placement::There { .. }) => return None,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    tracing::error!(object = %address.id, class = %address.class, "the Durable Object's alarm was not run: the hub could not be reached");
    None
}

/// Runs one event on the object of `slot` — `event` given its isolate, loaded if need be, once
/// its gate is open — and settles it (see [`settle`]); the slot counts as busy meanwhile.
async fn on_object<F>(
    state: &dyn ObjectThread,
    site: &Site,
    address: &ObjectAddress,
    slot: &Rc<Slot>,
    event: impl FnOnce(Rc<LiveWorker>) -> F,
) -> Result<Outcome, Failure>
where
    F: std::future::Future<Output = Outcome>,
{
    // An object this PoP no longer holds (its lease lapsed) runs nothing more here: its timers'
    // and sockets' events fail, and it is dropped.
    slot.check_held(address)?;
    slot.busy.set(slot.busy.get() + 1);
    let run = async {
        let live = instance(state, site, address, slot).await?;
        slot.open_gate(address).await?;
        let outcome = event(live.clone()).await;
        live.count_busy();
        settle(slot, address, outcome).await
    };
    let settled = run.await;
    slot.busy.set(slot.busy.get() - 1);
    slot.last_used.set(Instant::now());
    if slot.wants_snapshot() {
        let (slot, address) = (slot.clone(), address.clone());
        tokio::task::spawn_local(async move { slot.snapshot(&address).await });
    }
    settled
}

/// Milliseconds since the epoch, as alarms are set.
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}

/// Starts the timer of the alarm set for `at` on the object of `slot`, unless one runs for it.
fn schedule_alarm(state: &dyn ObjectThread, address: &ObjectAddress, slot: &Slot, at: f64) {
    if slot.alarm_timer.replace(Some(at)) == Some(at) {
        return;
    }
    let (state, address) = (state.weak(), address.clone());
    tokio::task::spawn_local(async move {
        // A far alarm wakes the timer within a day, which sets it again for the rest.
        let wait = Duration::try_from_secs_f64((at - now_ms()) / 1000.0)
            .unwrap_or_default()
            .min(Duration::from_secs(24 * 3600));
        tokio::time::sleep(wait).await;
        if let Some(state) = state.upgrade() {
            fire_alarm(&*state, address, at).await;
        }
    });
}

/// Runs the object's alarm set for `at`, if it is still set for then; a run that fails is
/// retried later with backoff, up to [`ALARM_RETRIES`] times.
async fn fire_alarm(state: &dyn ObjectThread, address: ObjectAddress, at: f64) {
    let site = state.site();
    // At a PoP, the slot that set the timer, if it still holds the object; if it does not,
    // the alarm is woken where the object is held now (here again, if no PoP holds it).
    let slot = match slot(state, &site, &address, None).await {
        Ok(slot) => slot,
        Err(_) if state.router().network.is_some() => {
            let _ = state.router().send(address, ObjectEvent::Wake, None);
            return;
        }
        Err(failure) => return tracing::error!(object = %address.id, "alarm not run: {failure}"),
    };
    // A timer of an evicted slot finds a fresh one, whose timer is unset.
    if slot.alarm_timer.get().is_some_and(|timer| timer != at) {
        return;
    }
    slot.alarm_timer.set(None);
    let stored = slot.storage.borrow_mut().alarm();
    match stored {
        Ok(Some(set)) if set <= now_ms() + 1.0 => {}
        Ok(Some(later)) => return schedule_alarm(state, &address, &slot, later),
        Ok(None) => return,
        Err(error) => return tracing::error!(object = %address.id, "alarm not run: {error}"),
    }
    let retries = slot.alarm_retries.get();
    // While alarm() runs, no alarm is set, unless it sets one.
    let cleared = slot.storage.borrow_mut().set_alarm(None);
    let outcome = match cleared {
        Ok(()) => on_object(state, &site, &address, &slot, |live| async move {
            live.worker.alarm(retries).await
        })
        .await
        .map(drop),
        Err(error) => Err(error.to_string()),
    };
    let Err(failure) = outcome else {
        return slot.alarm_retries.set(0);
    };
    if retries >= ALARM_RETRIES {
        slot.alarm_retries.set(0);
        return tracing::error!(object = %address.id, class = %address.class, "alarm() failed {} times; it is not retried: {failure}", retries + 1);
    }
    let backoff = ALARM_BACKOFF.as_secs_f64() * 1000.0 * f64::from(2u32.pow(retries));
    tracing::warn!(object = %address.id, class = %address.class, "alarm() failed; retried in {backoff} ms: {failure}");
    slot.alarm_retries.set(retries + 1);
    // Unless the handler set an alarm of its own before it failed.
    let unset = matches!(slot.storage.borrow_mut().alarm(), Ok(None));
    if unset {
        let retry_at = now_ms() + backoff;
        let set = slot.storage.borrow_mut().set_alarm(Some(retry_at));
        if set.is_ok() && slot.commit(&address).await.is_ok() {
            schedule_alarm(state, &address, &slot, retry_at);
        }
    }
}

/// The slot of the object at `address`, its storage opened on first use — at a PoP, for
/// `lease`, the one this PoP holds the object under (`None`: only a slot already open).
async fn slot(
    state: &dyn ObjectThread,
    site: &Site,
    address: &ObjectAddress,
    lease: Option<u64>,
) -> Result<Rc<Slot>, Failure> {
    // One slot per object, however its id was reached (a name, a string, a restart's alarm),
    // and whatever its class is called now.
    let key = ObjectAddress {
        name: None,
        hint: None,
        class: String::new(),
        ..address.clone()
    };
    let network = state.router().network.clone();
    let current = || {
        let open = state.objects().slots.borrow().get(&key).cloned()?;
        let current = !open.broken.get()
            && (lease.is_none() || open.replica.as_ref().map(|r| r.lease) == lease);
        current.then(|| {
            open.last_used.set(Instant::now());
            if open.name.borrow().is_none() {
                *open.name.borrow_mut() = address.name.clone();
            }
            open
        })
    };
    if let Some(open) = current() {
        return Ok(open);
    }
    // At a PoP, opening takes turns: it reads the object's log, and two events for one new
    // object must not both open it.
    let _opening = match &network {
        Some(_) => Some(state.objects().opening.lock().await),
        None => None,
    };
    if let Some(open) = current() {
        return Ok(open);
    }
    // An event placed under a lease this PoP no longer holds (it was held anew since) must not
    // replace the slot of the current holding.
    if let (Some(network), Some(lease)) = (&network, lease) {
        if !network.holds(&log_key(address), lease) {
            return Err(format!(
                "Durable Object {} is no longer held by this PoP",
                address.id
            ));
        }
    }
    let stale = state.objects().slots.borrow().get(&key).cloned();
    if let Some(slot) = stale {
        // Held anew (or broken): what this PoP had of it may be stale.
        slot.reset();
        slot.close();
        state.objects().slots.borrow_mut().remove(&key);
    }
    let opened = open_storage(state, site, address, network.clone(), lease).await;
    // A lease claimed for an object that cannot be opened here is given up at once.
    if let (Err(_), Some(network), Some(lease)) = (&opened, &network, lease) {
        network.release(&log_key(address), lease);
    }
    let (storage, replica) = opened?;
    let slot = Rc::new(Slot {
        name: RefCell::new(address.name.clone()),
        storage: Rc::new(RefCell::new(storage)),
        gate: Rc::default(),
        live: RefCell::default(),
        last_used: Cell::new(Instant::now()),
        busy: Cell::new(0),
        alarm_timer: Cell::new(None),
        alarm_retries: Cell::new(0),
        sockets: RefCell::default(),
        next_socket: Cell::new(0),
        auto_response: RefCell::default(),
        outbox: RefCell::default(),
        replica,
        broken: Cell::new(false),
    });
    state.objects().slots.borrow_mut().insert(key, slot.clone());
    if slot.replica.is_some() {
        // An alarm the previous holder left is this PoP's to run now.
        let stored = slot.storage.borrow_mut().alarm();
        if let Ok(Some(at)) = stored {
            schedule_alarm(state, address, &slot, at);
        }
    }
    Ok(slot)
}

/// The storage of the object at `address`: its file, or at a PoP (`network`) its copy of the
/// log, held under `lease`; `deployed`'s migrations applied first.
async fn open_storage(
    state: &dyn ObjectThread,
    site: &Site,
    address: &ObjectAddress,
    network: Option<EdgeObjects>,
    lease: Option<u64>,
) -> Result<(Box<dyn ObjectStorage>, Option<Replica>), Failure> {
    let store = state
        .object_store()
        .ok_or("this server keeps no Durable Object storage")?;
    let index = site.position(&address.script).ok_or_else(|| {
        format!(
            "no worker named \"{}\" runs on this server, so its Durable Objects cannot",
            address.script
        )
    })?;
    migrate(state, store.as_ref(), &site.workers[index])?;
    match (network, lease) {
        (None, _) => {
            let storage = store.open(&address.script, &address.identity, &address.id);
            Ok((storage.map_err(|e| e.to_string())?, None))
        }
        (Some(network), Some(lease)) => {
            let (storage, replica) = open_replica(store.as_ref(), network, address, lease).await?;
            Ok((storage, Some(replica)))
        }
        (Some(_), None) => Err(format!(
            "Durable Object {} is no longer held by this PoP",
            address.id
        )),
    }
}

/// Opens this PoP's copy of the object at `address`, held under `lease`: brought up to date
/// with the object's log (from the start, unless the copy is exactly at a position of it),
/// after which a takeover marker fences off any previous holder.
async fn open_replica(
    store: &dyn verge_storage::ObjectStore,
    network: EdgeObjects,
    address: &ObjectAddress,
    lease: u64,
) -> Result<(Box<dyn ObjectStorage>, Replica), Failure> {
    let (script, class, id) = (&*address.script, &*address.identity, &*address.id);
    let key = log_key(address);
    let failed = |error: verge_storage::StorageError| {
        format!("Durable Object {id} could not be opened from its log: {error}")
    };
    let copy_at = store.replica_position(script, class, id).map_err(failed)?;
    for attempt in 0..3 {
        // A previous holder appending meanwhile moves the log on: it is read again, and at
        // last from the start (a copy ahead of the log was made with another hub).
        let copy_at = copy_at.filter(|_| attempt < 2);
        let read = network
            .log(&key, copy_at.unwrap_or(0))
            .await
            .map_err(failed)?;
        let Ok(mut position) = network.take_over(&key, read.last).await else {
            continue;
        };
        // A copy the log has never heard of holds the object from before this server joined
        // a cluster: it becomes the log's first entry, rather than being emptied.
        let adopt = copy_at.is_none() && read.last == 0;
        let object = (script, class, id);
        let from_start = copy_at.is_none() && !adopt;
        let mut storage = store
            .open_replica(object, from_start, &read.entries, position)
            .map_err(failed)?;
        if adopt {
            if let Some(snapshot) = storage.snapshot().map_err(failed)? {
                let appended = network.append_snapshot(&key, position, snapshot.into());
                position = appended.await.map_err(failed)?;
                storage.replicated(Some(position)).map_err(failed)?;
            }
        }
        let replica = Replica {
            network,
            key,
            lease,
            position: Cell::new(position),
            turn: tokio::sync::Mutex::default(),
            logged: Cell::new(read.since_snapshot),
        };
        return Ok((storage, replica));
    }
    Err(format!(
        "Durable Object {id} could not be taken over: its log kept moving"
    ))
}

/// Applies `deployed`'s `[[migrations]]` not applied before (the store records them), once
/// per version in this process.
fn migrate(
    state: &dyn ObjectThread,
    store: &dyn verge_storage::ObjectStore,
    deployed: &super::Deployed,
) -> Result<(), Failure> {
    let config = &deployed.config;
    let key = (config.name.clone(), deployed.version);
    let router = state.router();
    let mut migrated = router
        .migrated
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if migrated.contains(&key) {
        return Ok(());
    }
    // Storage knows each class by its identity.
    let identities = verge_config::migration_identities(&config.migrations);
    let (deleted, renamed) = (identities.deleted, identities.renamed);
    let failed = |e: verge_storage::StorageError| e.to_string();
    // Objects an older Verge moved to a renamed class's new name go back under its identity.
    for (name, identity) in &renamed {
        store
            .relocate(&config.name, name, identity)
            .map_err(failed)?;
    }
    let steps: Vec<MigrationStep> = deleted
        .into_iter()
        .map(|(tag, deleted)| MigrationStep { tag, deleted })
        .collect();
    store.migrate(&config.name, &steps).map_err(failed)?;
    migrated.insert(key);
    Ok(())
}

/// The object's isolate of the deployed version, loaded (and its object constructed) if need
/// be.
async fn instance(
    state: &dyn ObjectThread,
    site: &Site,
    address: &ObjectAddress,
    slot: &Rc<Slot>,
) -> Result<Rc<LiveWorker>, Failure> {
    let index = site
        .position(&address.script)
        .ok_or_else(|| format!("no worker named \"{}\" runs on this server", address.script))?;
    let deployed = &site.workers[index];
    let cell = {
        let mut live = slot.live.borrow_mut();
        match &*live {
            Some((version, cell)) if *version == deployed.version => cell.clone(),
            _ => {
                let cell = WorkerCell::default();
                *live = Some((deployed.version, cell.clone()));
                cell
            }
        }
    };
    let loaded = cell
        .get_or_try_init(|| async {
            let (this, at_address, timed) = (state.weak(), address.clone(), Rc::downgrade(slot));
            let alarm_changed = move |at: Option<f64>| {
                if let (Some(state), Some(slot)) = (this.upgrade(), timed.upgrade()) {
                    match at {
                        Some(at) => schedule_alarm(&*state, &at_address, &slot, at),
                        None => slot.alarm_timer.set(None),
                    }
                }
            };
            let sockets = SlotSockets {
                state: state.weak(),
                address: address.clone(),
                slot: Rc::downgrade(slot),
            };
            // The class as this version names it: an event sent by an isolate of an older
            // version may still call it by its name before a rename.
            let migrations = &deployed.config.migrations;
            let class = verge_config::class_with_identity(migrations, &address.identity);
            let object = ObjectState {
                address: ObjectAddress {
                    name: slot.name.borrow().clone(),
                    class,
                    ..address.clone()
                },
                storage: slot.storage.clone(),
                gate: slot.gate.clone(),
                alarm_changed: Rc::new(alarm_changed),
                sockets: Rc::new(sockets),
            };
            state.load_object(site, deployed, object).await
        })
        .await;
    match loaded {
        Ok(live) => Ok(live.clone()),
        Err(error) => {
            // Unless a newer version's isolate took its place meanwhile.
            let same =
                matches!(&*slot.live.borrow(), Some((_, current)) if Rc::ptr_eq(current, &cell));
            if same {
                slot.reset();
            }
            Err(format!(
                "the Durable Object {} could not be created: {error}",
                address.class
            ))
        }
    }
}

/// What an event's `outcome` makes of the object: a limit breached resets it (its isolate is
/// dropped, its storage kept); the writes made so far are committed — the output gate, once no
/// `transaction()` is open — and a commit that fails fails the event.
async fn settle(
    slot: &Slot,
    address: &ObjectAddress,
    outcome: Outcome,
) -> Result<Outcome, Failure> {
    let failure = match &outcome {
        Outcome::LimitExceeded { message, .. } => Some(format!("Durable Object reset: {message}")),
        Outcome::Exception { error, .. } if error.is_out_of_memory() => {
            Some("Durable Object reset: it ran out of memory".to_owned())
        }
        Outcome::Exception { error, .. } => Some(error.to_string()),
        _ => None,
    };
    if outcome.ends_isolate() {
        slot.reset();
    }
    // A transaction() of another event holds the gate; its savepoint is not this commit's.
    let in_transaction = slot.storage.borrow().in_transaction();
    if in_transaction {
        slot.open_gate(address).await?;
    }
    slot.commit(address).await?;
    // A PoP whose lease lapsed meanwhile may have been overtaken: nothing it says leaves.
    slot.check_held(address)?;
    match failure {
        Some(failure) => Err(failure),
        None => Ok(outcome),
    }
}

/// The hibernation API's sockets of one object, held by its slot.
struct SlotSockets {
    state: Weak<dyn ObjectThread>,
    address: ObjectAddress,
    slot: Weak<Slot>,
}

impl HibernatableSockets for SlotSockets {
    fn adopt(&self, socket: HostSocket, tags: Vec<String>, listening: bool) -> Result<u32, String> {
        let slot = self.slot.upgrade().ok_or("the Durable Object was reset")?;
        if slot.sockets.borrow().len() >= MAX_HELD_SOCKETS {
            return Err(format!(
                "a Durable Object may hold at most {MAX_HELD_SOCKETS} WebSockets"
            ));
        }
        let number = slot.next_socket.get();
        slot.next_socket.set(number.wrapping_add(1));
        let held = Held {
            tx: socket.tx,
            tags,
            attachment: None,
            listening,
        };
        slot.sockets.borrow_mut().insert(number, held);
        let (state, address, weak) = (self.state.clone(), self.address.clone(), self.slot.clone());
        tokio::task::spawn_local(serve_held(state, address, weak, number, socket.rx));
        Ok(number)
    }

    fn send(&self, number: u32, frame: Frame) {
        let Some(slot) = self.slot.upgrade() else {
            return;
        };
        // Behind uncommitted writes (or messages waiting for them), a message waits too.
        let dirty = slot.storage.borrow().has_uncommitted_writes();
        if dirty || !slot.outbox.borrow().is_empty() {
            slot.outbox.borrow_mut().push((number, frame));
        } else {
            slot.send_now(&self.address, number, frame);
        }
    }

    fn list(&self, tag: Option<&str>) -> Vec<HeldSocket> {
        let Some(slot) = self.slot.upgrade() else {
            return Vec::new();
        };
        let mut numbers: Vec<u32> = slot
            .sockets
            .borrow()
            .iter()
            .filter(|(_, held)| tag.is_none_or(|tag| held.tags.iter().any(|t| t == tag)))
            .map(|(number, _)| *number)
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .filter_map(|number| slot.held(number))
            .collect()
    }

    fn attach(&self, number: u32, attachment: String) {
        if let Some(slot) = self.slot.upgrade() {
            if let Some(held) = slot.sockets.borrow_mut().get_mut(&number) {
                held.attachment = Some(attachment);
            }
        }
    }

    fn set_auto_response(&self, pair: Option<(String, String)>) {
        if let Some(slot) = self.slot.upgrade() {
            *slot.auto_response.borrow_mut() = pair;
        }
    }

    fn auto_response(&self) -> Option<(String, String)> {
        self.slot.upgrade()?.auto_response.borrow().clone()
    }
}

/// Delivers what the client of held socket `number` sends to the object, one frame at a time,
/// until it closes: the auto-response answered here, the rest as events.
async fn serve_held(
    state: Weak<dyn ObjectThread>,
    address: ObjectAddress,
    slot: Weak<Slot>,
    number: u32,
    mut rx: mpsc::Receiver<Frame>,
) {
    loop {
        let frame = rx.recv().await.unwrap_or(Frame::Close {
            code: 1006,
            reason: String::new(),
        });
        let (Some(state), Some(slot)) = (state.upgrade(), slot.upgrade()) else {
            break;
        };
        if let Frame::Text(text) = &frame {
            let answer = slot
                .auto_response
                .borrow()
                .as_ref()
                .filter(|(request, _)| request == text)
                .map(|(_, response)| response.clone());
            if let Some(answer) = answer {
                if let Some(held) = slot.sockets.borrow().get(&number) {
                    let _ = held.tx.try_send(Frame::Text(answer));
                }
                continue;
            }
        }
        let Some(held) = slot.held(number) else { break };
        let closed = matches!(frame, Frame::Close { .. });
        if closed {
            slot.sockets.borrow_mut().remove(&number);
        }
        let site = state.site();
        let outcome = on_object(&*state, &site, &address, &slot, |live| async move {
            live.worker.socket_event(held, frame).await
        });
        if let Err(failure) = outcome.await {
            tracing::error!(object = %address.id, class = %address.class, "a WebSocket event failed: {failure}");
        }
        if closed {
            break;
        }
    }
}
