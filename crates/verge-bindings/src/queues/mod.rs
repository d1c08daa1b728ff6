//! Queue producer bindings (`[[queues.producers]]` → [`QueueStore`] → `env.MY_QUEUE`): the op
//! behind `queue.js`, which checks Cloudflare's limits on what one `send` or `sendBatch` carries
//! and resolves once the store holds the messages durably.

use crate::{store_call, BindingObject, Capabilities, Kind};
use bytes::Bytes;
use rquickjs::{Ctx, Object, Value};
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_js::{async_data_op, rquickjs, AsyncDataOp};
use verge_storage::{queue_limits, ContentType, NewMessage, QueueStore, StorageError};
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/queues/queue.js", async_data ops; globals []; internals ["makeQueue"]),
    ),
    bind,
};

/// What one producer binding stands for.
#[derive(Clone)]
struct Producer {
    store: Arc<dyn QueueStore>,
    queue: String,
    /// Seconds a message waits when its `send` names no delay.
    delivery_delay: u32,
}

/// The producer bindings of `config`, kept in `table`; an error names one when the server has
/// no queues.
pub(crate) fn keep(
    config: &WorkerConfig,
    capabilities: &Capabilities,
    table: &verge_web::BindingTable,
) -> Result<Vec<BindingObject>, String> {
    config
        .queues
        .producers
        .iter()
        .map(|producer| {
            let store =
                capabilities.stores.queues.clone().ok_or_else(|| {
                    format!("Queue binding {} has no store to use", producer.binding)
                })?;
            let kept = Producer {
                store,
                queue: producer.queue.clone(),
                delivery_delay: producer.delivery_delay,
            };
            Ok(BindingObject {
                binding: producer.binding.clone(),
                maker: "makeQueue",
                id: table.keep(kept),
            })
        })
        .collect()
}

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    let throw = |message: &str| rquickjs::Exception::throw_type(ctx, message);
    let table = verge_js::with_host_state(ctx, |host: &WebHost| host.bindings.clone())
        .ok_or_else(|| throw("the isolate has no host"))?;
    let objects = keep(config, capabilities, &table).map_err(|m| throw(&m))?;
    let make: rquickjs::Function = verge_web::internals(ctx)?.get("makeQueue")?;
    for object in objects {
        env.set(object.binding, make.call::<_, Value>((object.id,))?)?;
    }
    Ok(())
}

/// The messages of one send, checked against Cloudflare's limits: `bodies` encoded, each with
/// its content type and delay (`None`: the binding's).
fn messages(
    bodies: Vec<verge_js::Bytes>,
    types: Vec<String>,
    delays: Vec<Option<u32>>,
    default_delay: u32,
) -> Result<Vec<NewMessage>, StorageError> {
    let invalid = StorageError::Invalid;
    if bodies.len() != types.len() || bodies.len() != delays.len() {
        return Err(invalid(
            "a send's messages, types and delays differ in number".into(),
        ));
    }
    if bodies.is_empty() {
        return Err(invalid("sendBatch() needs at least one message".into()));
    }
    if bodies.len() > queue_limits::BATCH_MESSAGES {
        return Err(invalid(format!(
            "sendBatch() sends at most {} messages at once, not {}",
            queue_limits::BATCH_MESSAGES,
            bodies.len()
        )));
    }
    let total: usize = bodies.iter().map(|body| body.0.len()).sum();
    if total > queue_limits::BATCH_BYTES {
        return Err(invalid(format!(
            "a batch of messages is at most {} bytes, not {total}",
            queue_limits::BATCH_BYTES
        )));
    }
    bodies
        .into_iter()
        .zip(types)
        .zip(delays)
        .map(|((body, content_type), delay)| {
            if body.0.len() > queue_limits::MESSAGE_BYTES {
                return Err(invalid(format!(
                    "a message is at most {} bytes, not {}",
                    queue_limits::MESSAGE_BYTES,
                    body.0.len()
                )));
            }
            let Some(content_type) = ContentType::from_name(&content_type) else {
                return Err(invalid(format!("unknown content type {content_type:?}")));
            };
            let delay = delay.unwrap_or(default_delay);
            if delay > verge_config::queue_limits::MAX_DELAY_SECONDS {
                return Err(invalid(format!(
                    "a delay is at most {} seconds",
                    verge_config::queue_limits::MAX_DELAY_SECONDS
                )));
            }
            Ok(NewMessage {
                body: Bytes::from(body.0),
                content_type,
                delay_ms: u64::from(delay) * 1000,
            })
        })
        .collect()
}

fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let table = host.bindings.clone();
    vec![(
        "queueSend",
        async_data_op(
            move |id: usize,
                  bodies: Vec<verge_js::Bytes>,
                  types: Vec<String>,
                  delays: Vec<Option<u32>>| {
                let producer = table.get::<Producer>(id);
                let default_delay = producer.as_ref().map_or(0, |p| p.delivery_delay);
                let checked = messages(bodies, types, delays, default_delay);
                let (checked, messages) = match checked {
                    Ok(messages) => (Ok(()), messages),
                    Err(error) => (Err(error), Vec::new()),
                };
                store_call(&table, id, checked, move |producer: Producer| {
                    producer.store.send(&producer.queue, messages)
                })
            },
        ),
    )]
}
