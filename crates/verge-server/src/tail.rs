//! Live console output and exceptions of each worker, for `verge tail`: serving threads publish,
//! admin connections subscribe. Nothing is buffered for a worker nobody tails, and a subscriber
//! too slow to keep up loses the oldest lines rather than holding the server back. At a PoP,
//! [`forward_to_cluster`] sends a worker's lines to the cluster while a tail anywhere asks.

use futures_util::StreamExt as _;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;
use verge_cluster::tail::TAIL_LEASE;
use verge_cluster::Cluster;

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
                cluster
                    .send_tail_line(&worker, event.level, &event.message)
                    .await;
            }
            Ok(Err(RecvError::Lagged(missed))) => {
                let message = format!("{missed} lines were dropped: the tail fell behind");
                cluster.send_tail_line(&worker, "warn", &message).await;
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
