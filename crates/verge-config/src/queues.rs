//! wrangler's `[queues]`: the queues a worker sends to (`[[queues.producers]]`, a binding on
//! `env`) and consumes (`[[queues.consumers]]`, batches to its `queue` handler), with
//! Cloudflare's defaults and limits. A queue exists by being named; a consumer of a queue no
//! producer sends to is allowed.

use serde::Deserialize;

/// Cloudflare Queues' limits on a consumer, and on a message's delay.
pub mod limits {
    /// Messages in one batch.
    pub const MAX_BATCH_SIZE: u32 = 100;
    /// Seconds a batch waits to fill.
    pub const MAX_BATCH_TIMEOUT: f64 = 60.0;
    /// Deliveries after the first before a message is given up on.
    pub const MAX_RETRIES: u32 = 100;
    /// Seconds a message may be delayed, at its send or its retry.
    pub const MAX_DELAY_SECONDS: u32 = 12 * 3600;
    /// Batches one consumer may have in flight at once.
    pub const MAX_CONCURRENCY: u32 = 250;
    /// Characters of a queue's name.
    pub const MAX_NAME: usize = 63;
}

/// `[queues]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Queues {
    #[serde(default)]
    pub producers: Vec<QueueProducer>,
    #[serde(default)]
    pub consumers: Vec<QueueConsumer>,
}

/// One `[[queues.producers]]`: `env[binding]` sends to `queue`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueueProducer {
    pub binding: String,
    pub queue: String,
    /// Seconds each message waits before it can be delivered, unless `send` says otherwise.
    #[serde(default)]
    pub delivery_delay: u32,
}

/// One `[[queues.consumers]]`: the worker's `queue` handler receives `queue`'s messages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueueConsumer {
    pub queue: String,
    #[serde(default = "default_batch_size")]
    pub max_batch_size: u32,
    /// Seconds a batch waits to fill before it is delivered anyway.
    #[serde(default = "default_batch_timeout")]
    pub max_batch_timeout: f64,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Where a message goes after `max_retries` retries; `None`: it is dropped, with a log line.
    pub dead_letter_queue: Option<String>,
    /// Seconds a retried message waits, unless `retry()` says otherwise.
    #[serde(default)]
    pub retry_delay: u32,
    /// Batches in flight at once; `None`: one.
    pub max_concurrency: Option<u32>,
}

fn default_batch_size() -> u32 {
    10
}

fn default_batch_timeout() -> f64 {
    5.0
}

fn default_retries() -> u32 {
    3
}

/// Whether `name` may name a queue: letters, digits, `-` and `_`, as Cloudflare allows.
pub fn check_queue_name(name: &str) -> Result<(), String> {
    let fits = !name.is_empty()
        && name.len() <= limits::MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match fits {
        true => Ok(()),
        false => Err(format!(
            "{name:?} is not a queue name: 1 to {} letters, digits, - or _",
            limits::MAX_NAME
        )),
    }
}

impl Queues {
    /// Every queue this config names: sent to, consumed, or a consumer's dead-letter queue.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let producers = self
            .producers
            .iter()
            .map(|producer| producer.queue.as_str());
        let consumers = self.consumers.iter().flat_map(|consumer| {
            std::iter::once(consumer.queue.as_str()).chain(consumer.dead_letter_queue.as_deref())
        });
        producers.chain(consumers)
    }

    /// Checks what Cloudflare refuses, naming the key at fault.
    pub fn check(&self) -> Result<(), String> {
        for (index, producer) in self.producers.iter().enumerate() {
            let at = format!("queues.producers[{index}]");
            check_queue_name(&producer.queue).map_err(|e| format!("{at}.queue: {e}"))?;
            if producer.binding.is_empty() {
                return Err(format!("{at}.binding: a producer needs a binding name"));
            }
            if self.producers[..index]
                .iter()
                .any(|other| other.binding == producer.binding)
            {
                return Err(format!(
                    "{at}.binding: {:?} is bound twice",
                    producer.binding
                ));
            }
            if producer.delivery_delay > limits::MAX_DELAY_SECONDS {
                return Err(format!(
                    "{at}.delivery_delay: at most {} seconds",
                    limits::MAX_DELAY_SECONDS
                ));
            }
        }
        for (index, consumer) in self.consumers.iter().enumerate() {
            let at = format!("queues.consumers[{index}]");
            check_queue_name(&consumer.queue).map_err(|e| format!("{at}.queue: {e}"))?;
            if self.consumers[..index]
                .iter()
                .any(|other| other.queue == consumer.queue)
            {
                return Err(format!(
                    "{at}.queue: {:?} is consumed twice by this worker",
                    consumer.queue
                ));
            }
            if !(1..=limits::MAX_BATCH_SIZE).contains(&consumer.max_batch_size) {
                return Err(format!(
                    "{at}.max_batch_size: from 1 to {}",
                    limits::MAX_BATCH_SIZE
                ));
            }
            if !(0.0..=limits::MAX_BATCH_TIMEOUT).contains(&consumer.max_batch_timeout) {
                return Err(format!(
                    "{at}.max_batch_timeout: from 0 to {} seconds",
                    limits::MAX_BATCH_TIMEOUT
                ));
            }
            if consumer.max_retries > limits::MAX_RETRIES {
                return Err(format!("{at}.max_retries: at most {}", limits::MAX_RETRIES));
            }
            if consumer.retry_delay > limits::MAX_DELAY_SECONDS {
                return Err(format!(
                    "{at}.retry_delay: at most {} seconds",
                    limits::MAX_DELAY_SECONDS
                ));
            }
            if let Some(concurrency) = consumer.max_concurrency {
                if !(1..=limits::MAX_CONCURRENCY).contains(&concurrency) {
                    return Err(format!(
                        "{at}.max_concurrency: from 1 to {}",
                        limits::MAX_CONCURRENCY
                    ));
                }
            }
            if let Some(dead_letters) = &consumer.dead_letter_queue {
                check_queue_name(dead_letters)
                    .map_err(|e| format!("{at}.dead_letter_queue: {e}"))?;
                if *dead_letters == consumer.queue {
                    return Err(format!(
                        "{at}.dead_letter_queue: a queue cannot be its own dead-letter queue"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether the workers of one server consume each queue once at most, as Cloudflare allows one
/// consumer per queue: an error naming a queue two of them consume.
pub fn check_one_consumer_each<W: std::borrow::Borrow<crate::WorkerConfig>>(
    workers: &[W],
) -> Result<(), String> {
    let mut consumers: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for worker in workers.iter().map(std::borrow::Borrow::borrow) {
        for consumer in &worker.queues.consumers {
            if let Some(other) = consumers.insert(&consumer.queue, &worker.name) {
                if other != worker.name {
                    return Err(format!(
                        "queue {:?} has a consumer already, worker {other:?}: worker {:?} cannot \
                         consume it too (a queue has one consumer)",
                        consumer.queue, worker.name
                    ));
                }
            }
        }
    }
    Ok(())
}
