//! Live console output and exceptions of each worker, for `verge tail`: serving threads publish,
//! admin connections subscribe. Nothing is buffered for a worker nobody tails, and a subscriber
//! too slow to keep up loses the oldest lines rather than holding the server back.

use std::collections::HashMap;
use std::sync::RwLock;
use tokio::sync::broadcast;

/// Lines a subscriber may fall behind by before it loses some.
const BACKLOG: usize = 1024;

/// One line of a worker's output: its level (`log`, `warn`, `error`, `exception`…) and text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TailEvent {
    pub level: &'static str,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct TailHub {
    channels: RwLock<HashMap<String, broadcast::Sender<TailEvent>>>,
}

impl TailHub {
    /// Sends `message` to whoever tails `worker`; a no-op when nobody does.
    pub fn publish(&self, worker: &str, level: &'static str, message: &str) {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(worker) {
            if sender.receiver_count() > 0 {
                let _ = sender.send(TailEvent {
                    level,
                    message: message.to_owned(),
                });
            }
        }
    }

    pub fn subscribe(&self, worker: &str) -> broadcast::Receiver<TailEvent> {
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(worker.to_owned())
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe()
    }
}
