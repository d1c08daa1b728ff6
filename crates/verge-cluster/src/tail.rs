//! `verge tail` across PoPs, on core NATS (nothing stored): whoever tails a worker says so on
//! [`TAILING_SUBJECT`] every few seconds, every PoP forwards that worker's console lines to the
//! worker's tail subject while someone does, and the tail reads that subject — each line tagged
//! with the PoP it came from.

use crate::{within, Cluster, ClusterError};
use base64::Engine as _;
use futures_util::{Stream, StreamExt as _};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Where tails announce the worker they follow.
const TAILING_SUBJECT: &str = "verge.tailing";

/// How often a tail says it is still there; a PoP forwards for [`TAIL_LEASE`] after each.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);

/// How long a PoP forwards a worker's lines after the last announcement of a tail.
pub const TAIL_LEASE: Duration = Duration::from_secs(15);

/// One console line or exception of a worker, or one of its traced events, at a PoP.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TailLine {
    pub pop: String,
    pub level: String,
    pub message: String,
    /// A traced event's details, as the server that traced it writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<serde_json::Value>,
}

/// The subject of worker `worker`'s lines (its name encoded: a subject allows few characters).
fn lines_subject(worker: &str) -> String {
    let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(worker);
    format!("verge.tail.{name}")
}

/// A tail of one worker at every PoP: its lines as they come. Dropping it stops the
/// announcements, and the PoPs stop forwarding within [`TAIL_LEASE`].
pub struct Tail {
    lines: async_nats::Subscriber,
    announcer: tokio::task::JoinHandle<()>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.announcer.abort();
    }
}

impl Stream for Tail {
    type Item = TailLine;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TailLine>> {
        loop {
            match self.lines.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => {
                    // A line no Verge sent is skipped.
                    if let Ok(line) = serde_json::from_slice(&message.payload) {
                        return Poll::Ready(Some(line));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Cluster {
    /// Follows worker `worker`'s lines at every PoP.
    pub async fn tail(&self, worker: &str) -> Result<Tail, ClusterError> {
        let lines = within("following a tail", async {
            let lines = self.client.subscribe(lines_subject(worker)).await?;
            // Subscribed before anyone is asked to send.
            self.client.flush().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lines)
        })
        .await?;
        let (client, worker) = (self.client.clone(), worker.to_owned());
        let announcer = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(ANNOUNCE_EVERY);
            loop {
                ticks.tick().await;
                let _ = client
                    .publish(TAILING_SUBJECT, worker.clone().into_bytes().into())
                    .await;
            }
        });
        Ok(Tail { lines, announcer })
    }

    /// The workers someone tails, as each announcement comes.
    pub async fn tail_requests(&self) -> Result<impl Stream<Item = String>, ClusterError> {
        let requests = within("listening for tails", async {
            self.client.subscribe(TAILING_SUBJECT).await
        })
        .await?;
        Ok(requests.filter_map(|message| {
            std::future::ready(String::from_utf8(message.payload.to_vec()).ok())
        }))
    }

    /// Sends one of worker `worker`'s lines (or traced events, with its `trace`) here to
    /// whoever tails it.
    pub async fn send_tail_line(
        &self,
        worker: &str,
        level: &str,
        message: &str,
        trace: Option<serde_json::Value>,
    ) {
        let line = TailLine {
            pop: self.pop.clone(),
            level: level.to_owned(),
            message: message.to_owned(),
            trace,
        };
        if let Ok(payload) = serde_json::to_vec(&line) {
            let _ = self
                .client
                .publish(lines_subject(worker), payload.into())
                .await;
        }
    }
}
