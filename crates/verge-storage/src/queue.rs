//! Queues (Cloudflare Queues): the store a producer's messages wait in until a consumer has
//! them, and Queues' limits. A message is leased to one delivery at a time; it leaves the
//! queue when acknowledged, is delivered again when retried or when its lease runs out (the
//! consumer's server died), and moves to a dead-letter queue when it has failed too often.

use crate::StorageFuture;
use bytes::Bytes;

/// Cloudflare Queues' limits on what a producer sends.
pub mod queue_limits {
    /// Bytes of one message's body, serialized.
    pub const MESSAGE_BYTES: usize = 128 * 1000;
    /// Messages in one `sendBatch`.
    pub const BATCH_MESSAGES: usize = 100;
    /// Bytes of one `sendBatch`, all bodies together.
    pub const BATCH_BYTES: usize = 256 * 1000;
    /// How long a queue keeps a message from its send, delivered or not: Cloudflare's default
    /// retention, 4 days.
    pub const RETENTION_MS: u64 = 4 * 24 * 3600 * 1000;
}

/// How a message's body is encoded, as `send`'s `contentType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Json,
    Text,
    Bytes,
    /// The structured clone of a value (`v8` on Workers).
    V8,
}

impl ContentType {
    pub fn name(self) -> &'static str {
        match self {
            ContentType::Json => "json",
            ContentType::Text => "text",
            ContentType::Bytes => "bytes",
            ContentType::V8 => "v8",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(ContentType::Json),
            "text" => Some(ContentType::Text),
            "bytes" => Some(ContentType::Bytes),
            "v8" => Some(ContentType::V8),
            _ => None,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub body: Bytes,
    pub content_type: ContentType,
    /// Milliseconds from now before it may be delivered.
    pub delay_ms: u64,
}

/// A message as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// 32 hex digits, unique.
    pub id: String,
    pub body: Bytes,
    pub content_type: ContentType,
    /// When it was sent, in milliseconds since the epoch.
    pub sent_ms: u64,
    /// Its deliveries so far, this one included.
    pub attempts: u32,
}

/// What a consumer made of the messages of a batch it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Done with: they leave the queue.
    pub acked: Vec<String>,
    /// Delivered again after the delay (milliseconds).
    pub retried: Vec<(String, u64)>,
    /// Given up on: moved to the named dead-letter queue, or dropped when `None`.
    pub dead: Vec<(String, Option<String>)>,
}

/// One queue's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    pub queue: String,
    /// Messages in it, delivered or not.
    pub messages: u64,
    /// Of those, the ones that may be delivered now (the backlog).
    pub ready: u64,
}

/// Queues of messages, by name. A send is durable once its future resolves.
pub trait QueueStore: Send + Sync {
    fn send(&self, queue: &str, messages: Vec<NewMessage>) -> StorageFuture<()>;
    /// Up to `max` messages of `queue` that may be delivered now, each leased for `lease_ms`
    /// (not delivered again before then unless settled) and counted as an attempt.
    fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> StorageFuture<Vec<QueuedMessage>>;
    /// Leases the messages `ids` of `queue`, which this consumer holds, for `lease_ms` more
    /// (from now): a long batch keeps its messages while it runs.
    fn renew(&self, queue: &str, ids: Vec<String>, lease_ms: u64) -> StorageFuture<()>;
    /// Applies what a consumer made of messages it leased from `queue`, all at once.
    fn settle(&self, queue: &str, settlement: Settlement) -> StorageFuture<()>;
    /// Removes every message of `queue`; how many there were.
    fn purge(&self, queue: &str) -> StorageFuture<u64>;
    /// The counts of every queue holding a message.
    fn counts(&self) -> StorageFuture<Vec<QueueCounts>>;
}

/// The queues to list: every one `named` (counted as empty unless `counts` has it) and every
/// one `counts` has, once each, by name.
pub fn queue_listing<'a>(
    named: impl IntoIterator<Item = &'a str>,
    counts: Vec<QueueCounts>,
) -> Vec<QueueCounts> {
    let mut listing: std::collections::BTreeMap<String, QueueCounts> = named
        .into_iter()
        .map(|queue| {
            let empty = QueueCounts {
                queue: queue.to_owned(),
                messages: 0,
                ready: 0,
            };
            (queue.to_owned(), empty)
        })
        .collect();
    for counted in counts {
        listing.insert(counted.queue.clone(), counted);
    }
    listing.into_values().collect()
}
