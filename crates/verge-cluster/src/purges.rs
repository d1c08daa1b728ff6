//! Cache purges across the cluster. The Cache API is per PoP, as Cloudflare's is per data
//! center, but a purge reaches every PoP: it is published to the JetStream stream
//! [`PURGES_STREAM`] (kept a day), and each PoP applies every purge after the last one it
//! applied (its sequence kept in a file), so a PoP that was away purges on its return.

use crate::{within, Cluster, ClusterError};
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

/// How long to wait before following the hub again after losing it.
const FOLLOW_AGAIN_AFTER: Duration = Duration::from_secs(1);

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
    /// sequence kept in `mark` (the new ones only, the first time).
    pub async fn follow_purges(&self, cache: Arc<dyn CacheStore>, mark: PathBuf) {
        let mut lost = false;
        loop {
            let applied = read_mark(&mark);
            match self.purges_after(applied).await {
                Ok(mut purges) => {
                    if lost {
                        tracing::info!("following the cluster's cache purges again");
                        lost = false;
                    }
                    while let Some(message) = purges.next().await {
                        let message = match message {
                            Ok(message) => message,
                            Err(e) => {
                                tracing::warn!("lost the cluster's cache purges: {e}");
                                lost = true;
                                break;
                            }
                        };
                        let Ok(info) = message.info().map(|info| info.stream_sequence) else {
                            continue;
                        };
                        match serde_json::from_slice::<Wire>(&message.payload) {
                            Ok(wire) => {
                                if let Err(e) = cache.purge(&Purge::from(wire)).await {
                                    tracing::error!("a cache purge failed here: {e}");
                                }
                            }
                            Err(e) => tracing::warn!("a purge no Verge wrote is skipped: {e}"),
                        }
                        write_mark(&mark, info);
                    }
                }
                Err(e) if !lost => {
                    tracing::warn!("cannot follow the cluster's cache purges: {e}");
                    lost = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(FOLLOW_AGAIN_AFTER).await;
        }
    }

    async fn purges_after(
        &self,
        applied: Option<u64>,
    ) -> Result<consumer::pull::Ordered, ClusterError> {
        let deliver_policy = match applied {
            Some(applied) => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: applied + 1,
            },
            None => consumer::DeliverPolicy::New,
        };
        within("following the cache purges", async {
            let stream = self
                .jetstream
                .get_stream(PURGES_STREAM)
                .await
                .map_err(|e| e.to_string())?;
            let consumer = stream
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy,
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

fn write_mark(mark: &Path, sequence: u64) {
    if let Some(dir) = mark.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(mark, sequence.to_string()) {
        tracing::warn!(
            "cannot keep the last purge's number in {}: {e}",
            mark.display()
        );
    }
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
