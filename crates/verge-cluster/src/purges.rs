//! Cache purges across the cluster. The Cache API is per PoP, as Cloudflare's is per data
//! center, but a purge reaches every PoP: it is published to the JetStream stream
//! [`PURGES_STREAM`] (kept a day), and each PoP applies every purge after the last one it
//! applied (its sequence kept in a file), so a PoP that was away purges on its return.

use crate::{within, Cluster, ClusterError, FOLLOW_AGAIN_AFTER};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use verge_storage::{CacheStore, Purge};

/// The stream of purges.
pub const PURGES_STREAM: &str = "verge_purges";
const PURGES_SUBJECT: &str = "verge.purges";

/// How long a purge is kept for the PoPs that have not applied it yet.
const PURGES_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) fn stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        name: PURGES_STREAM.into(),
        description: Some("cache purges, for every PoP to apply".into()),
        subjects: vec![PURGES_SUBJECT.into()],
        max_age: PURGES_KEPT,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// A purge as the stream carries it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Wire {
    Urls(Vec<String>),
    Prefixes(Vec<String>),
    Everything,
}

impl From<&Purge> for Wire {
    fn from(purge: &Purge) -> Self {
        match purge {
            Purge::Urls(urls) => Self::Urls(urls.clone()),
            Purge::Prefixes(prefixes) => Self::Prefixes(prefixes.clone()),
            Purge::Everything => Self::Everything,
        }
    }
}

impl From<Wire> for Purge {
    fn from(wire: Wire) -> Self {
        match wire {
            Wire::Urls(urls) => Self::Urls(urls),
            Wire::Prefixes(prefixes) => Self::Prefixes(prefixes),
            Wire::Everything => Self::Everything,
        }
    }
}

impl Cluster {
    /// Publishes `purge` for every PoP (this one included).
    pub async fn publish_purge(&self, purge: &Purge) -> Result<(), ClusterError> {
        let payload = serde_json::to_vec(&Wire::from(purge)).map_err(|e| ClusterError::Hub {
            what: "a purge",
            cause: e.to_string(),
        })?;
        within("publishing a purge", async {
            let ack = self
                .jetstream
                .publish(PURGES_SUBJECT, payload.into())
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map(drop).map_err(|e| e.to_string())
        })
        .await
    }

    /// Applies every purge to `cache` for as long as the server runs, from the one after the
    /// sequence kept in `mark` — which, the first time, is the stream's last: a PoP with no
    /// cache yet has nothing older to purge. A purge that fails here is tried again.
    pub async fn follow_purges(&self, cache: Arc<dyn CacheStore>, mark: PathBuf) {
        let mut lost = false;
        loop {
            match self.apply_purges(cache.as_ref(), &mark).await {
                Ok(()) => {}
                Err(e) if !lost => {
                    tracing::warn!("lost the cluster's cache purges: {e}");
                    lost = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(FOLLOW_AGAIN_AFTER).await;
        }
    }

    /// Notes in `mark`, unless it notes one already, that this PoP's purges start after the
    /// stream's last: a PoP with no cache yet has nothing older to purge. Its purge sequence
    /// from then on.
    pub async fn mark_purges_start(&self, mark: &Path) -> Result<u64, String> {
        if let Some(applied) = read_mark(mark) {
            return Ok(applied);
        }
        let last = within("reading the purges stream", async {
            let mut stream = self.jetstream.get_stream(PURGES_STREAM).await?;
            let info = stream.info().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(info.state.last_sequence)
        })
        .await
        .map_err(|e| e.to_string())?;
        write_mark(mark, last)?;
        Ok(last)
    }

    /// Applies the purges after `mark`'s until the stream of them ends or fails.
    async fn apply_purges(&self, cache: &dyn CacheStore, mark: &Path) -> Result<(), String> {
        let applied = self.mark_purges_start(mark).await?;
        let mut purges = self
            .purges_after(applied)
            .await
            .map_err(|e| e.to_string())?;
        while let Some(message) = purges.next().await {
            let message = message.map_err(|e| e.to_string())?;
            let sequence = message.info().map_err(|e| e.to_string())?.stream_sequence;
            match serde_json::from_slice::<Wire>(&message.payload) {
                Ok(wire) => cache
                    .purge(&Purge::from(wire))
                    .await
                    .map(drop)
                    .map_err(|e| format!("a cache purge failed here: {e}"))?,
                Err(e) => tracing::warn!("a purge no Verge wrote is skipped: {e}"),
            }
            write_mark(mark, sequence)?;
        }
        Ok(())
    }

    /// The purges from the one after `applied` on.
    async fn purges_after(&self, applied: u64) -> Result<consumer::pull::Ordered, ClusterError> {
        within("following the cache purges", async {
            let stream = self
                .jetstream
                .get_stream(PURGES_STREAM)
                .await
                .map_err(|e| e.to_string())?;
            let consumer = stream
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: applied + 1,
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            consumer.messages().await.map_err(|e| e.to_string())
        })
        .await
    }
}

/// The stream sequence of the last purge applied here, if any was.
fn read_mark(mark: &Path) -> Option<u64> {
    std::fs::read_to_string(mark).ok()?.trim().parse().ok()
}

fn write_mark(mark: &Path, sequence: u64) -> Result<(), String> {
    if let Some(dir) = mark.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(mark, sequence.to_string()).map_err(|e| {
        format!(
            "cannot keep the last purge's number in {}: {e}",
            mark.display()
        )
    })
}

/// Opens (or creates) the stream of purges.
pub(crate) async fn open(
    jetstream: &jetstream::Context,
    replicas: usize,
) -> Result<(), ClusterError> {
    within("opening the purges stream", async {
        jetstream
            .get_or_create_stream(stream_config(replicas))
            .await
    })
    .await
    .map(drop)
}
