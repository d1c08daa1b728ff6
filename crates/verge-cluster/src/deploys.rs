//! Deployments, shared by every PoP: a worker's releases are the revisions of its key in the
//! KV bucket [`DEPLOYS_BUCKET`] (so a version number is a revision: it grows with every change
//! anywhere in the cluster), and the code they run is in the object store [`CODE_STORE`], named
//! by its digest so that a release that only changes secrets, or rolls back, uploads nothing.
//! Withdrawing a worker deletes its key. Every PoP follows the bucket's [`Change`]s.

use crate::{within, within_for, Cluster, ClusterError};
use async_nats::jetstream::{kv, object_store};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::AsyncReadExt as _;

/// The KV bucket of releases, one key per worker.
pub const DEPLOYS_BUCKET: &str = "verge_deploys";

/// The object store of uploaded code, one object per digest.
pub const CODE_STORE: &str = "verge_code";

/// How many releases of each worker the hub keeps (JetStream's most): older ones cannot be
/// rolled back to.
pub const RELEASES_KEPT: i64 = 64;

/// How long moving a whole upload (up to 64 MiB) to or from the hub may take.
const CODE_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: DEPLOYS_BUCKET.into(),
        description: "each worker's releases: its versions".into(),
        history: RELEASES_KEPT,
        num_replicas: replicas,
        ..Default::default()
    }
}

pub(crate) fn code_store(replicas: usize) -> object_store::Config {
    object_store::Config {
        bucket: CODE_STORE.into(),
        description: Some("uploaded workers' code, by digest".into()),
        num_replicas: replicas,
        ..Default::default()
    }
}

/// One version of a worker, as the hub keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Release {
    /// The digest of the upload it runs, the name of that upload in [`CODE_STORE`].
    pub code: String,
    /// The wrangler config among the upload's files.
    pub config_file: String,
    /// Its secrets, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Routes set apart from the code, as Cloudflare's API sets them: they replace the
    /// config's own; none, the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<verge_config::Route>>,
    /// Cron triggers set apart from the code, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crons: Option<Vec<String>>,
    /// What made this version, and when; none for one made before versions were stamped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<Made>,
}

impl Release {
    /// Whether `self` serves what `other` does (when and why each was made aside).
    pub fn serves_as(&self, other: &Release) -> bool {
        let unstamped = |release: &Release| Release {
            made: None,
            ..release.clone()
        };
        unstamped(self) == unstamped(other)
    }
}

/// When a version was made, by what change, and the message given with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Made {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// `upload`, `secret`, `rollback` or `triggers`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Made {
    /// Made now, by `by`.
    pub fn now(by: &str, message: Option<String>) -> Self {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self {
            at_ms,
            by: by.to_owned(),
            message,
        }
    }
}

/// A change to a worker somewhere in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Released {
        worker: String,
        version: u64,
        release: Release,
    },
    Withdrawn {
        worker: String,
        version: u64,
    },
}

impl Cluster {
    /// Keeps upload `bytes` under `digest`, unless the hub has it already.
    pub async fn put_code(&self, digest: &str, bytes: &[u8]) -> Result<(), ClusterError> {
        within_for(CODE_TIMEOUT, "uploading code", async {
            if self.code.info(digest).await.is_ok() {
                return Ok(());
            }
            let mut reader = bytes;
            self.code.put(digest, &mut reader).await.map(|_| ())
        })
        .await
    }

    /// The upload kept under `digest`.
    pub async fn code(&self, digest: &str) -> Result<Vec<u8>, ClusterError> {
        within_for(CODE_TIMEOUT, "downloading code", async {
            let mut object = self.code.get(digest).await.map_err(|e| e.to_string())?;
            let mut bytes = Vec::new();
            object
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(bytes)
        })
        .await
    }

    /// The last version anywhere in the cluster: a follower of [`Cluster::changes`] that has
    /// seen less, and hears nothing, has lost its watch.
    pub async fn last_version(&self) -> Result<u64, ClusterError> {
        self.last_revision(DEPLOYS_BUCKET).await
    }

    /// Worker `worker`'s last change: its version, and its release unless it was withdrawn;
    /// `None` if it has had none.
    pub async fn head(&self, worker: &str) -> Result<Option<(u64, Option<Release>)>, ClusterError> {
        let entry = within("reading a release", async {
            self.deploys.entry(worker).await
        })
        .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        let release = match entry.operation {
            kv::Operation::Put => Some(parse(&entry.value)?),
            kv::Operation::Delete | kv::Operation::Purge => None,
        };
        Ok(Some((entry.revision, release)))
    }

    /// Makes `release` worker `worker`'s current version, if its last change is still
    /// `expected` (as [`Cluster::head`] read it); that version, or [`ClusterError::Conflict`].
    pub async fn publish(
        &self,
        worker: &str,
        release: &Release,
        expected: Option<u64>,
    ) -> Result<u64, ClusterError> {
        let value = serde_json::to_vec(release).map_err(|e| ClusterError::Hub {
            what: "a release",
            cause: e.to_string(),
        })?;
        self.put_expecting(
            &self.deploys,
            worker,
            value,
            expected,
            "publishing a release",
        )
        .await
    }

    /// Withdraws worker `worker` from every PoP, if its last change is still `expected` (0: it
    /// has had none); the withdrawal's version, or [`ClusterError::Conflict`].
    pub async fn withdraw(&self, worker: &str, expected: u64) -> Result<u64, ClusterError> {
        self.delete_expecting(
            DEPLOYS_BUCKET,
            worker,
            Some(expected),
            "withdrawing a worker",
        )
        .await
    }

    /// Worker `worker`'s releases that the hub still keeps, oldest first.
    pub async fn releases(&self, worker: &str) -> Result<Vec<(u64, Release)>, ClusterError> {
        let entries: Vec<kv::Entry> = within("reading a worker's releases", async {
            // A key with no history at all would only be known for one after an idle heartbeat.
            if self
                .deploys
                .entry(worker)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Ok(Vec::new());
            }
            let history = self
                .deploys
                .history(worker)
                .await
                .map_err(|e| e.to_string())?;
            history.try_collect().await.map_err(|e| e.to_string())
        })
        .await?;
        entries
            .into_iter()
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| Ok((entry.revision, parse(&entry.value)?)))
            .collect()
    }

    /// Every worker's current state (its last release, or its withdrawal), then each change as
    /// it happens; a value no Verge wrote is skipped. The stream ends, or yields an error, when
    /// the hub is lost: follow it again to catch up.
    pub async fn changes(
        &self,
    ) -> Result<impl Stream<Item = Result<Change, ClusterError>>, ClusterError> {
        let watch = within("following the releases", async {
            self.deploys.watch_with_history(">").await
        })
        .await?;
        Ok(watch.filter_map(|entry| {
            let change = match entry {
                Err(e) => Some(Err(ClusterError::Hub {
                    what: "following the releases",
                    cause: e.to_string(),
                })),
                Ok(entry) => match entry.operation {
                    kv::Operation::Put => match parse(&entry.value) {
                        Ok(release) => Some(Ok(Change::Released {
                            release,
                            worker: entry.key,
                            version: entry.revision,
                        })),
                        // One value no Verge wrote must not hold back every change after it.
                        Err(e) => {
                            tracing::warn!(worker = %entry.key, "a release is skipped: {e}");
                            None
                        }
                    },
                    kv::Operation::Delete | kv::Operation::Purge => Some(Ok(Change::Withdrawn {
                        worker: entry.key,
                        version: entry.revision,
                    })),
                },
            };
            std::future::ready(change)
        }))
    }
}

fn parse(value: &[u8]) -> Result<Release, ClusterError> {
    serde_json::from_slice(value).map_err(|e| ClusterError::Hub {
        what: "reading a release",
        cause: format!("the hub holds a release no Verge wrote: {e}"),
    })
}
