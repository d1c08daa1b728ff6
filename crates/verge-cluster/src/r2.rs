//! R2 across PoPs: with `[objects] backend = "s3"` every PoP's bytes are in one S3 bucket, and
//! the index of keys — which each server kept alone — is shared through the hub's KV bucket
//! [`R2_BUCKET`]. Each PoP's SQLite index becomes a copy of it, fed like KV's replica
//! ([`crate::replica`]), so lists and reads stay local; every change to an object goes through
//! [`EdgeIndex`], the log the embedded store writes to, and returns once this PoP's copy has
//! it. A key in the hub is `<bucket>.<key>` in base64url; a value, the object's description and
//! the name of its bytes.

use crate::{replica, within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use base64::Engine as _;
use std::sync::{Arc, OnceLock};
use verge_storage::{IndexChange, IndexCopy, IndexLog, ObjectInfo, StorageError, StorageFuture};

/// The KV bucket of every R2 bucket's index.
pub const R2_BUCKET: &str = "verge_r2";

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: R2_BUCKET.into(),
        description: "R2: every bucket's index of objects".into(),
        history: 1,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// The shared index's log at a PoP.
#[derive(Clone)]
pub struct EdgeIndex {
    shared: Arc<Shared>,
}

struct Shared {
    /// The hub's bucket, once this PoP has joined.
    hub: OnceLock<kv::Store>,
    hubs: String,
    applied: replica::Progress,
}

impl EdgeIndex {
    /// The log of the index shared through the hub at `hubs`, once [`EdgeIndex::follow`] runs.
    pub fn new(hubs: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                hub: OnceLock::new(),
                hubs,
                applied: tokio::sync::watch::channel((0, 0)).0,
            }),
        }
    }

    /// Feeds `copy`, this PoP's copy of the index, for as long as the server runs.
    pub async fn follow(&self, cluster: &Cluster, copy: Arc<dyn IndexCopy>) {
        let _ = self.shared.hub.set(cluster.r2.clone());
        let applied = match copy.applied_revision().await {
            Ok(applied) => applied,
            Err(e) => {
                tracing::error!("cannot read R2's index here, so it starts again: {e}");
                0
            }
        };
        replica::follow(
            &cluster.r2,
            "R2's index",
            &self.shared.applied,
            applied,
            |entries, last| {
                let changes: Vec<IndexChange> = entries.iter().filter_map(decode).collect();
                let applying = copy.apply(changes, last);
                async move { applying.await.map_err(|e| e.to_string()) }
            },
        )
        .await;
    }
}

impl IndexLog for EdgeIndex {
    fn record(&self, change: IndexChange) -> StorageFuture<()> {
        let hub = self.shared.hub.get().cloned();
        let hubs = self.shared.hubs.clone();
        let applied = self.shared.applied.subscribe();
        Box::pin(async move {
            let hub = hub.ok_or_else(|| {
                StorageError::Backend(format!(
                    "the cluster's hub at {hubs} cannot be reached, and R2 writes need it"
                ))
            })?;
            let key = encode_key(&change.bucket, &change.key);
            let revision = match change.object {
                Some((info, blob)) => {
                    let value = serde_json::to_vec(&WireObject::new(info, blob))
                        .map_err(|e| StorageError::Backend(e.to_string()))?;
                    within("an R2 write", async { hub.put(&key, value.into()).await }).await
                }
                None => {
                    within("an R2 delete", async {
                        hub.delete(&key).await?;
                        let marker = hub.entry(&key).await?;
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                            marker.map_or(0, |marker| marker.revision),
                        )
                    })
                    .await
                }
            }
            .map_err(|e: ClusterError| {
                StorageError::Backend(format!("R2 write not stored: {e}"))
            })?;
            replica::until_applied(applied, revision).await;
            Ok(())
        })
    }
}

const PART: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn encode_key(bucket: &str, key: &str) -> String {
    format!("{}.{}", PART.encode(bucket), PART.encode(key))
}

/// The change a hub entry records, if Verge wrote it.
fn decode(entry: &kv::Entry) -> Option<IndexChange> {
    let (bucket, key) = entry.key.split_once('.')?;
    let part = |encoded: &str| String::from_utf8(PART.decode(encoded).ok()?).ok();
    let (bucket, key) = (part(bucket)?, part(key)?);
    let object = match entry.operation {
        kv::Operation::Put => {
            let wire: WireObject = serde_json::from_slice(&entry.value).ok()?;
            Some(wire.into_parts(key.clone()))
        }
        kv::Operation::Delete | kv::Operation::Purge => None,
    };
    Some(IndexChange {
        bucket,
        key,
        object,
    })
}

/// An object's description and the name of its bytes, as the hub keeps them.
#[derive(serde::Serialize, serde::Deserialize)]
struct WireObject {
    version: String,
    size: u64,
    etag: String,
    uploaded_ms: u64,
    http_metadata: String,
    custom_metadata: String,
    checksums: String,
    blob: String,
}

impl WireObject {
    fn new(info: ObjectInfo, blob: String) -> Self {
        Self {
            version: info.version,
            size: info.size,
            etag: info.etag,
            uploaded_ms: info.uploaded_ms,
            http_metadata: info.http_metadata,
            custom_metadata: info.custom_metadata,
            checksums: info.checksums,
            blob,
        }
    }

    fn into_parts(self, key: String) -> (ObjectInfo, String) {
        let info = ObjectInfo {
            key,
            version: self.version,
            size: self.size,
            etag: self.etag,
            uploaded_ms: self.uploaded_ms,
            http_metadata: self.http_metadata,
            custom_metadata: self.custom_metadata,
            checksums: self.checksums,
        };
        (info, self.blob)
    }
}
