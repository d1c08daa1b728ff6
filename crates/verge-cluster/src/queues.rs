//! Queues across PoPs: each queue is a JetStream stream at the hub, `VERGE_QUEUE_<name>`
//! (subject `verge.queues.<name>`), with work-queue retention, made when first sent to or
//! consumed, and a durable pull consumer (`queue-<name>`) that every PoP pulls from. A message sent at any PoP is stored at the hub
//! before `send` resolves, and is consumed once, at whichever PoP pulls it: JetStream hands it
//! to one pull at a time. A delivery unacknowledged within the consumer's `ack_wait` (the lease;
//! a PoP that died mid-batch) is redelivered, to any PoP; a retry is a NAK with the retry's
//! delay, so the hub's redelivery drives retries, and its delivery count is `attempts`. An
//! acknowledgement waits for the hub's confirmation, after which the message is gone.
//!
//! A delayed `send` is a JetStream message schedule (`@at` its time, aimed at the queue's
//! subject, on a subject of its own in the same stream): the hub publishes it to the queue when
//! it is due, so no PoP sees it before, and its deliveries are its attempts. Each message
//! carries an id of its own (`Verge-Id`, also its `Nats-Msg-Id`, so that a publish tried twice
//! is stored once), which it keeps into its dead-letter queue. Leased messages'
//! acknowledgement handles stay in this PoP's memory until settled.

use crate::replica::HubSlot;
use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer};
use async_nats::jetstream::{self, stream, AckKind};
use async_nats::HeaderMap;
use futures_util::TryStreamExt as _;
use std::collections::HashMap;
use std::future::IntoFuture as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use verge_storage::{
    unix_now_ms, ContentType, NewMessage, QueueCounts, QueueStore, QueuedMessage, Settlement,
    StorageError, StorageFuture,
};

/// The prefix of each queue's stream's name.
const STREAM_PREFIX: &str = "VERGE_QUEUE_";

/// The headers a message carries: its content type, when it was sent, and its id.
const CONTENT_TYPE: &str = "Verge-Content-Type";
const SENT: &str = "Verge-Sent-Ms";
const ID: &str = "Verge-Id";

fn stream_name(queue: &str) -> String {
    format!("{STREAM_PREFIX}{queue}")
}

fn stream_config(queue: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: stream_name(queue),
        description: Some(format!("the messages of queue {queue}")),
        subjects: vec![subject(queue), format!("{}.*", schedules_subject(queue))],
        retention: stream::RetentionPolicy::WorkQueue,
        max_age: Duration::from_millis(verge_storage::queue_limits::RETENTION_MS),
        allow_message_schedules: true,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Where the schedules of `queue`'s delayed messages are, each on a subject of its own.
fn schedules_subject(queue: &str) -> String {
    format!("verge.queue-schedules.{queue}")
}

/// 32 random hex digits.
fn message_id() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| backend(format!("no randomness for an id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn subject(queue: &str) -> String {
    format!("verge.queues.{queue}")
}

fn consumer_name(queue: &str) -> String {
    format!("queue-{queue}")
}

/// Queues at the cluster's hub; cheap to clone.
#[derive(Clone)]
pub struct EdgeQueues {
    shared: Arc<Shared>,
}

struct Shared {
    hub: HubSlot,
    /// Each queue's stream, once this PoP made sure it exists.
    streams: Mutex<HashMap<String, stream::Stream>>,
    /// Each queue's consumer, once made.
    consumers: Mutex<HashMap<String, PullConsumer>>,
    /// The messages this PoP has leased and not settled, by queue and id, to acknowledge.
    leased: Mutex<HashMap<(String, String), jetstream::Message>>,
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl EdgeQueues {
    /// Queues at the hub at `hubs`, reachable once [`EdgeQueues::join`] is called.
    pub fn new(hubs: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                hub: HubSlot::new(hubs),
                streams: Mutex::default(),
                consumers: Mutex::default(),
                leased: Mutex::default(),
            }),
        }
    }

    /// Reaches the hub through `cluster`, this PoP's membership.
    pub fn join(&self, cluster: Arc<Cluster>) {
        self.shared.hub.join(cluster);
    }
}

impl Shared {
    fn cluster(&self) -> Result<Arc<Cluster>, StorageError> {
        self.hub.get("queues")
    }

    /// The stream of `queue`, made if it is not yet.
    async fn stream(&self, queue: &str) -> Result<stream::Stream, StorageError> {
        let known = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue)
            .cloned();
        if let Some(stream) = known {
            return Ok(stream);
        }
        let cluster = self.cluster()?;
        let stream = within("opening a queue's stream", async {
            cluster
                .jetstream
                .get_or_create_stream(stream_config(queue, cluster.replicas))
                .await
        })
        .await
        .map_err(backend)?;
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(queue.to_owned(), stream.clone());
        Ok(stream)
    }

    /// The consumer of `queue`, made (with `lease` as its `ack_wait`) if it is not yet.
    async fn consumer(&self, queue: &str, lease: Duration) -> Result<PullConsumer, StorageError> {
        let known = self
            .consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue)
            .cloned();
        if let Some(consumer) = known {
            return Ok(consumer);
        }
        let stream = self.stream(queue).await?;
        let name = consumer_name(queue);
        let config = PullConfig {
            durable_name: Some(name.clone()),
            filter_subject: subject(queue),
            ack_policy: AckPolicy::Explicit,
            ack_wait: lease,
            // Retries waiting out their delay are pending too: no cap may stall the queue.
            max_ack_pending: -1,
            ..Default::default()
        };
        let consumer = within("opening a queue's consumer", async {
            stream.get_or_create_consumer(&name, config).await
        })
        .await
        .map_err(backend)?;
        self.consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(queue.to_owned(), consumer.clone());
        Ok(consumer)
    }

    /// Takes this PoP's handle of leased message `id` of `queue`.
    fn take(&self, queue: &str, id: &str) -> Option<jetstream::Message> {
        self.leased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(queue.to_owned(), id.to_owned()))
    }
}

/// A header's value as a number.
fn header_number(headers: Option<&HeaderMap>, name: &str) -> Option<u64> {
    headers?.get(name)?.as_str().parse().ok()
}

impl QueueStore for EdgeQueues {
    fn send(&self, queue: &str, messages: Vec<NewMessage>) -> StorageFuture<()> {
        let (shared, queue) = (self.shared.clone(), queue.to_owned());
        Box::pin(async move {
            let cluster = shared.cluster()?;
            shared.stream(&queue).await?;
            let subject = subject(&queue);
            let now = unix_now_ms();
            // Every message published, then every acknowledgement awaited: one round trip.
            let mut acks = Vec::with_capacity(messages.len());
            for message in messages {
                let id = message_id()?;
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, message.content_type.name());
                headers.insert(SENT, now.to_string().as_str());
                headers.insert(ID, id.as_str());
                headers.insert("Nats-Msg-Id", id.as_str());
                let to = match message.delay_ms {
                    0 => subject.clone(),
                    delay_ms => {
                        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(
                            i64::try_from(now.saturating_add(delay_ms)).unwrap_or(i64::MAX),
                        )
                        .unwrap_or_default();
                        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                        headers.insert("Nats-Schedule", format!("@at {at}").as_str());
                        headers.insert("Nats-Schedule-Target", subject.as_str());
                        format!("{}.{id}", schedules_subject(&queue))
                    }
                };
                let published = within("sending to a queue", async {
                    cluster
                        .jetstream
                        .publish_with_headers(to, headers, message.body)
                        .await
                })
                .await
                .map_err(backend)?;
                acks.push(published);
            }
            for ack in acks {
                within("sending to a queue", ack.into_future())
                    .await
                    .map_err(backend)?;
            }
            Ok(())
        })
    }

    fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> StorageFuture<Vec<QueuedMessage>> {
        let (shared, queue) = (self.shared.clone(), queue.to_owned());
        Box::pin(async move {
            let consumer = shared
                .consumer(&queue, Duration::from_millis(lease_ms))
                .await?;
            let fetched: Vec<jetstream::Message> = within("reading a queue", async {
                consumer
                    .fetch()
                    .max_messages(max)
                    .messages()
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(backend)?;
            let mut leased = Vec::with_capacity(fetched.len());
            for message in fetched {
                let headers = message.headers.as_ref();
                let Ok(info) = message.info() else {
                    continue;
                };
                // A message Verge did not send is known by its place in the stream.
                let id = headers.and_then(|h| h.get(ID)).map_or_else(
                    || format!("seq-{}", info.stream_sequence),
                    |id| id.to_string(),
                );
                let attempts = u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1);
                let content_type = headers
                    .and_then(|h| h.get(CONTENT_TYPE))
                    .and_then(|v| ContentType::from_name(v.as_str()))
                    .unwrap_or(ContentType::Bytes);
                leased.push(QueuedMessage {
                    id: id.clone(),
                    body: message.payload.clone(),
                    content_type,
                    sent_ms: header_number(headers, SENT).unwrap_or(0),
                    attempts,
                });
                shared
                    .leased
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((queue.clone(), id), message);
            }
            Ok(leased)
        })
    }

    fn renew(&self, queue: &str, ids: Vec<String>, _lease_ms: u64) -> StorageFuture<()> {
        let (shared, queue) = (self.shared.clone(), queue.to_owned());
        Box::pin(async move {
            // Each delivery's `ack_wait` starts again: the consumer's own length.
            let held: Vec<jetstream::Message> = {
                let leased = shared.leased.lock().unwrap_or_else(PoisonError::into_inner);
                ids.iter()
                    .filter_map(|id| leased.get(&(queue.clone(), id.clone())).cloned())
                    .collect()
            };
            for message in held {
                within("renewing a lease", message.ack_with(AckKind::Progress))
                    .await
                    .map_err(backend)?;
            }
            Ok(())
        })
    }

    fn settle(&self, queue: &str, settlement: Settlement) -> StorageFuture<()> {
        let (shared, queue) = (self.shared.clone(), queue.to_owned());
        Box::pin(async move {
            let cluster = shared.cluster()?;
            // Every message's answer at once: a batch costs one round trip to the hub, not one
            // a message.
            let mut answers: Vec<futures_util::future::BoxFuture<'_, Result<(), ClusterError>>> =
                Vec::new();
            for id in &settlement.acked {
                if let Some(message) = shared.take(&queue, id) {
                    answers.push(Box::pin(async move {
                        within("acknowledging a message", message.double_ack()).await
                    }));
                }
            }
            for (id, delay_ms) in &settlement.retried {
                if let Some(message) = shared.take(&queue, id) {
                    let nak = AckKind::Nak(Some(Duration::from_millis(*delay_ms)));
                    answers.push(Box::pin(async move {
                        within("retrying a message", message.ack_with(nak)).await
                    }));
                }
            }
            for (id, dead_letters) in &settlement.dead {
                let Some(message) = shared.take(&queue, id) else {
                    continue;
                };
                let (cluster, shared) = (cluster.clone(), shared.clone());
                answers.push(Box::pin(async move {
                    if let Some(dead_letters) = dead_letters {
                        shared
                            .stream(dead_letters)
                            .await
                            .map_err(|e| ClusterError::Hub {
                                what: "opening a dead-letter queue",
                                cause: e.to_string(),
                            })?;
                        // Stored in the dead-letter queue before it leaves this one, as a new
                        // message there (its delay, if any, long past).
                        let mut headers = HeaderMap::new();
                        for name in [CONTENT_TYPE, SENT, ID] {
                            if let Some(value) = message.headers.as_ref().and_then(|h| h.get(name))
                            {
                                headers.insert(name, value.clone());
                            }
                        }
                        let payload = message.payload.clone();
                        within("moving a message to its dead-letter queue", async {
                            cluster
                                .jetstream
                                .publish_with_headers(subject(dead_letters), headers, payload)
                                .await?
                                .await
                                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
                        })
                        .await?;
                    }
                    within("acknowledging a message", message.double_ack()).await
                }));
            }
            futures_util::future::try_join_all(answers)
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    fn purge(&self, queue: &str) -> StorageFuture<u64> {
        let (shared, queue) = (self.shared.clone(), queue.to_owned());
        Box::pin(async move {
            let cluster = shared.cluster()?;
            // A queue never sent to has no stream, and nothing to purge.
            let purged = within("purging a queue", async {
                match cluster.jetstream.get_stream(stream_name(&queue)).await {
                    Ok(stream) => stream
                        .purge()
                        .await
                        .map(|purged| purged.purged)
                        .map_err(Box::<dyn std::error::Error + Send + Sync>::from),
                    Err(e)
                        if matches!(
                            e.kind(),
                            jetstream::context::GetStreamErrorKind::JetStream(error)
                                if error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                        ) =>
                    {
                        Ok(0)
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .map_err(backend)?;
            shared
                .leased
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(leased_queue, _), _| *leased_queue != queue);
            Ok(purged)
        })
    }

    fn counts(&self) -> StorageFuture<Vec<QueueCounts>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let cluster = shared.cluster()?;
            let counted: Vec<(String, u64, u64)> = within("counting the queues", async {
                let names: Vec<String> = cluster.jetstream.stream_names().try_collect().await?;
                let mut counted = Vec::new();
                for name in names {
                    let Some(queue) = name.strip_prefix(STREAM_PREFIX) else {
                        continue;
                    };
                    let mut stream = cluster.jetstream.get_stream(&name).await?;
                    let messages = stream.info().await?.state.messages;
                    if messages == 0 {
                        continue;
                    }
                    // What no consumer has been given yet is ready; without a consumer, all.
                    let ready = match stream.consumer_info(consumer_name(queue)).await {
                        Ok(info) => info.num_pending,
                        Err(_) => messages,
                    };
                    counted.push((queue.to_owned(), messages, ready));
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(counted)
            })
            .await
            .map_err(backend)?;
            let mut counts: Vec<QueueCounts> = counted
                .into_iter()
                .map(|(queue, messages, ready)| QueueCounts {
                    queue,
                    messages,
                    ready,
                })
                .collect();
            counts.sort_by(|a, b| a.queue.cmp(&b.queue));
            Ok(counts)
        })
    }
}
