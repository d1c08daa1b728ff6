//! Queue consumers: the first serving thread's loops that hand each `[[queues.consumers]]`
//! batches of its queue's messages to the worker's `queue` handler, and settle what it decided.
//! An acknowledged message leaves the queue; a retried one comes back after its delay (the
//! `retry()`'s, else the consumer's `retry_delay`), unless it has been delivered more than
//! `max_retries` times already: then it goes to the dead-letter queue, or is dropped with a log
//! line. A message the handler decided nothing of is acknowledged if the handler succeeded and
//! retried if it failed.
//!
//! A batch is delivered when it holds `max_batch_size` messages, or `max_batch_timeout` after
//! its first arrived, whichever is sooner; a consumer has `max_concurrency` batches in flight
//! at most (one, unless it says more). Its messages are leased for [`LEASE`], renewed while
//! the batch fills and while its handler runs, so a server that dies holding a batch leaves it
//! to be delivered again (elsewhere, in a cluster) within a lease: delivery is at least once.

use super::state::ThreadState;
use super::Site;
use crate::tail::Tracer;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};
use verge_config::QueueConsumer;
use verge_runtime::Outcome;
use verge_storage::{QueueStore, QueuedMessage, Settlement};

/// How often an idle consumer looks for messages, and a filling batch for more.
const POLL: Duration = Duration::from_millis(20);

/// How often the site is looked at for a change (a deploy) that adds consumers.
const RESCAN: Duration = Duration::from_millis(50);

/// How long a held message stays leased without a renewal, which comes every third of it.
const LEASE: Duration = Duration::from_secs(30);

fn lease_ms() -> u64 {
    u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX)
}

/// Renews the lease of `batch`'s messages for another [`LEASE`].
async fn renew(store: &Arc<dyn QueueStore>, queue: &str, batch: &[QueuedMessage]) {
    let ids = batch.iter().map(|message| message.id.clone()).collect();
    if let Err(error) = store.renew(queue, ids, lease_ms()).await {
        tracing::warn!("queue \"{queue}\": a batch's lease could not be renewed: {error}");
    }
}

/// Renews the lease of `batch`'s messages every third of a lease, until dropped.
async fn renewing(store: &Arc<dyn QueueStore>, queue: &str, batch: &[QueuedMessage]) {
    let mut ticks = tokio::time::interval(LEASE / 3);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        renew(store, queue, batch).await;
    }
}

/// A worker's consumer of a queue, by the worker's and the queue's names.
type ConsumerKey = (String, String);

/// Starts a consumer loop for every consumer the site's workers declare, as they come (on
/// the first serving thread, for as long as the server runs).
pub(super) async fn run_consumers(state: Weak<ThreadState>) {
    let running: Rc<RefCell<HashSet<ConsumerKey>>> = Rc::default();
    let mut seen: Option<Arc<Site>> = None;
    loop {
        let Some(site) = state.upgrade().map(|state| state.site.current()) else {
            return;
        };
        // The workers are gone through only when the site changed.
        if seen.as_ref().is_some_and(|seen| Arc::ptr_eq(seen, &site)) {
            tokio::time::sleep(RESCAN).await;
            continue;
        }
        for deployed in &site.workers {
            for consumer in &deployed.config.queues.consumers {
                let key = (deployed.config.name.clone(), consumer.queue.clone());
                if running.borrow_mut().insert(key.clone()) {
                    let (state, running) = (state.clone(), running.clone());
                    tokio::task::spawn_local(async move {
                        consume(&state, &key).await;
                        running.borrow_mut().remove(&key);
                    });
                }
            }
        }
        seen = Some(site);
        tokio::time::sleep(RESCAN).await;
    }
}

/// The worker's index in `site` and its consumer of `queue`, if it still has one.
fn consumer_in(site: &Site, (worker, queue): &ConsumerKey) -> Option<(usize, QueueConsumer)> {
    let index = site.position(worker)?;
    let consumer = site.workers[index]
        .config
        .queues
        .consumers
        .iter()
        .find(|consumer| consumer.queue == *queue)?;
    Some((index, consumer.clone()))
}

/// Delivers batches of the consumer `key` names until the worker no longer declares it.
async fn consume(state: &Weak<ThreadState>, key: &ConsumerKey) {
    let in_flight = Rc::new(std::cell::Cell::new(0u32));
    let finished = Rc::new(tokio::sync::Notify::new());
    loop {
        let Some((store, consumer)) = state.upgrade().and_then(|state| {
            let site = state.site.current();
            let (_, consumer) = consumer_in(&site, key)?;
            Some((state.options.stores.queues.clone()?, consumer))
        }) else {
            return;
        };
        // At most `max_concurrency` batches in flight (one if it is not set).
        if in_flight.get() >= consumer.max_concurrency.unwrap_or(1) {
            finished.notified().await;
            continue;
        }
        let batch = gather(&store, &key.1, &consumer).await;
        if batch.is_empty() {
            tokio::time::sleep(POLL).await;
            continue;
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        in_flight.set(in_flight.get() + 1);
        let (in_flight, finished, key) = (in_flight.clone(), finished.clone(), key.clone());
        tokio::task::spawn_local(async move {
            tokio::select! {
                () = deliver(&state, &store, &key, &batch) => {}
                () = renewing(&store, &key.1, &batch) => {}
            }
            in_flight.set(in_flight.get() - 1);
            finished.notify_one();
        });
    }
}

/// A batch of `queue`'s messages for `consumer`: as many as are ready, then more until it is
/// full or its timeout has passed since the first; empty if none is ready.
async fn gather(
    store: &Arc<dyn QueueStore>,
    queue: &str,
    consumer: &QueueConsumer,
) -> Vec<QueuedMessage> {
    let max = consumer.max_batch_size as usize;
    let mut batch: Vec<QueuedMessage> = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut renewed = Instant::now();
    loop {
        if !batch.is_empty() && renewed.elapsed() >= LEASE / 3 {
            renew(store, queue, &batch).await;
            renewed = Instant::now();
        }
        match store.lease(queue, max - batch.len(), lease_ms()).await {
            Ok(leased) => batch.extend(leased),
            Err(error) => tracing::error!("cannot read queue \"{queue}\": {error}"),
        }
        if batch.is_empty() {
            return batch;
        }
        let deadline = *deadline.get_or_insert_with(|| {
            Instant::now() + Duration::from_secs_f64(consumer.max_batch_timeout)
        });
        let now = Instant::now();
        if batch.len() >= max || now >= deadline {
            return batch;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

/// What a queue handler answered of its batch: JSON of `{ each: [[id, decision]…], all,
/// error }`.
#[derive(serde::Deserialize)]
struct Decided {
    each: Vec<(String, serde_json::Value)>,
    all: Option<serde_json::Value>,
    error: Option<String>,
}

/// What was decided of a message.
#[derive(Clone, Copy)]
enum Decision {
    Ack,
    /// With the `delaySeconds` asked for, if any.
    Retry(Option<u32>),
}

impl Decision {
    /// `["ack"]` or `["retry", delaySeconds or null]`, as `queue.js` writes them.
    fn read(value: &serde_json::Value) -> Option<Self> {
        match value.as_array()?.as_slice() {
            [kind] if kind == "ack" => Some(Decision::Ack),
            [kind, delay] if kind == "retry" => Some(Decision::Retry(
                delay.as_u64().and_then(|delay| u32::try_from(delay).ok()),
            )),
            _ => None,
        }
    }
}

/// Hands `batch` to the worker of `key`'s `queue` handler, then settles it.
async fn deliver(
    state: &ThreadState,
    store: &Arc<dyn QueueStore>,
    key: &ConsumerKey,
    batch: &[QueuedMessage],
) {
    let (worker, queue) = key;
    let site = state.site.current();
    let Some((index, consumer)) = consumer_in(&site, key) else {
        // Gone meanwhile: back to the queue at once, for whoever consumes it now.
        let retried = batch
            .iter()
            .map(|message| (message.id.clone(), 0))
            .collect();
        let settlement = Settlement {
            retried,
            ..Settlement::default()
        };
        if let Err(error) = store.settle(queue, settlement).await {
            tracing::warn!("queue \"{queue}\": a batch could not be put back: {error}");
        }
        return;
    };
    let tracer = Tracer::of_queue(&state.metrics, worker, queue, batch.len());
    let decided = match state.worker(&site, index).await {
        Ok(live) => {
            let console = state.event_console(&site, worker, tracer.as_ref());
            let outcome = live.worker.queue(queue, batch.to_vec(), console).await;
            live.count_busy();
            if outcome.ends_isolate() {
                state.isolates.discard(worker);
            }
            let decided = read_decisions(&outcome);
            if let Some(tracer) = &tracer {
                // A handler's failure comes in its reply: the trace says so.
                match &decided {
                    Ok(Decided {
                        error: Some(failure),
                        ..
                    }) => tracer.ended(&failed(failure)),
                    _ => tracer.ended(&outcome),
                }
            }
            decided
        }
        Err(error) => {
            let failure = format!("cannot load the worker: {error}");
            if let Some(tracer) = &tracer {
                tracer.ended(&failed(&failure));
            }
            Err(failure)
        }
    };
    drop(tracer);
    let (each, all, failure) = match decided {
        Ok(Decided { each, all, error }) => {
            let each: Vec<(String, Decision)> = each
                .iter()
                .filter_map(|(id, decision)| Some((id.clone(), Decision::read(decision)?)))
                .collect();
            (each, all.as_ref().and_then(Decision::read), error)
        }
        Err(failure) => (Vec::new(), None, Some(failure)),
    };
    if let Some(failure) = &failure {
        tracing::error!(worker = %worker, "queue \"{queue}\": a batch of {} failed: {failure}", batch.len());
    }
    let fallback = all.unwrap_or(match failure {
        Some(_) => Decision::Retry(None),
        None => Decision::Ack,
    });
    let mut settlement = Settlement::default();
    for message in batch.iter().cloned() {
        let decision = each
            .iter()
            .find(|(id, _)| *id == message.id)
            .map_or(fallback, |(_, decision)| *decision);
        match decision {
            Decision::Ack => settlement.acked.push(message.id),
            Decision::Retry(_) if message.attempts > consumer.max_retries => {
                match &consumer.dead_letter_queue {
                    Some(dead_letters) => tracing::warn!(
                        worker = %worker,
                        "queue \"{queue}\": message {} failed {} times: moved to \"{dead_letters}\"",
                        message.id,
                        message.attempts
                    ),
                    None => tracing::warn!(
                        worker = %worker,
                        "queue \"{queue}\": message {} failed {} times and has no dead-letter queue: dropped",
                        message.id,
                        message.attempts
                    ),
                }
                settlement
                    .dead
                    .push((message.id, consumer.dead_letter_queue.clone()));
            }
            Decision::Retry(delay) => {
                let delay = delay.unwrap_or(consumer.retry_delay);
                settlement
                    .retried
                    .push((message.id, u64::from(delay) * 1000));
            }
        }
    }
    if let Err(error) = store.settle(queue, settlement).await {
        // Unsettled, the batch comes back when its lease ends.
        tracing::error!(worker = %worker, "queue \"{queue}\": a batch could not be settled: {error}");
    }
}

/// What a queue handler's outcome says it decided, or why it failed as a whole.
fn read_decisions(outcome: &Outcome) -> Result<Decided, String> {
    match outcome {
        Outcome::Reply(reply) => serde_json::from_str(reply)
            .map_err(|e| format!("the queue handler's answer was unreadable: {e}")),
        Outcome::Exception { error, .. } => Err(error.to_string()),
        Outcome::LimitExceeded { message, .. } => Err(message.clone()),
        Outcome::Response(_) | Outcome::Completed => {
            Err("the queue handler answered something unexpected".into())
        }
    }
}

/// A handler's failure, as written `Name: message`, as the outcome a trace records.
fn failed(failure: &str) -> Outcome {
    let (name, message) = failure
        .split_once(": ")
        .filter(|(name, _)| !name.contains(' '))
        .unwrap_or(("Error", failure));
    Outcome::Exception {
        error: verge_runtime::JsError::thrown(name, message),
        pass_through: false,
    }
}
