//! R2 across PoPs: with `[objects] backend = "s3"` every PoP's bytes are in one S3 bucket, and
//! the index of keys — which each server kept alone — is shared through the hub's KV bucket
//! [`R2_BUCKET`]. Each PoP's SQLite index becomes a copy of it, fed like KV's replica
//! ([`crate::replica`]), so lists and reads stay local; every change to an object goes through
//! [`EdgeIndex`], the log the embedded store writes to, judged against the hub's last change of
//! the key (so a delete at a PoP whose copy lags still deletes, and the bytes it frees are the
//! ones the hub named), and returns once this PoP's copy has it. A key in the hub is
//! `<bucket>.<key>` ([`replica::encode_key`]); a value, the object's description and the name
//! of its bytes.

use crate::replica::{self, decode_key, encode_key, HubSlot};
use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use std::sync::Arc;
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
    hub: HubSlot,
    applied: replica::Progress,
}

/// How many times a change is tried again when another PoP changed the same key first.
const CONFLICT_RETRIES: usize = 5;

impl EdgeIndex {
    /// The log of the index shared through the hub at `hubs`, once [`EdgeIndex::follow`] runs.
    pub fn new(hubs: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                hub: HubSlot::new(hubs),
                applied: tokio::sync::watch::channel((0, 0)).0,
            }),
        }
    }

    /// Feeds `copy`, this PoP's copy of the index, for as long as the server runs.
    pub async fn follow(&self, cluster: Arc<Cluster>, copy: Arc<dyn IndexCopy>) {
        self.shared.hub.join(cluster.clone());
        let applied = match copy.applied_revision().await {
            Ok(applied) => applied,
            Err(e) => {
                tracing::error!("cannot read R2's index here, so it starts again: {e}");
                0
            }
        };
        let bucket = (R2_BUCKET, &cluster.r2);
        let progress = &self.shared.applied;
        replica::follow(
            &cluster,
            bucket,
            "R2's index",
            progress,
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

/// Makes `change` at the hub, judged against the hub's own last change of the key (not this
/// PoP's copy, which may lag); its revision and the blob the key named before.
async fn change_at_hub(
    hub: &Cluster,
    key: &str,
    change: &IndexChange,
) -> Result<(u64, Option<String>), ClusterError> {
    let mut tries = 0;
    loop {
        let last = within("reading R2's index", async { hub.r2.entry(key).await }).await?;
        let (expected, replaced) = match &last {
            Some(entry) => {
                let blob = match entry.operation {
                    kv::Operation::Put => serde_json::from_slice::<WireObject>(&entry.value)
                        .ok()
                        .map(|object| object.blob),
                    kv::Operation::Delete | kv::Operation::Purge => None,
                };
                (Some(entry.revision), blob)
            }
            None => (None, None),
        };
        let outcome = match &change.object {
            Some((info, blob)) => {
                let value = serde_json::to_vec(&WireObject::new(info.clone(), blob.clone()))
                    .map_err(|e| ClusterError::Hub {
                        what: "an R2 write",
                        cause: e.to_string(),
                    })?;
                // A key deleted last may be created again.
                let expected = expected.filter(|_| replaced.is_some());
                hub.put_expecting(&hub.r2, key, value, expected, "an R2 write")
                    .await
            }
            // Nothing to delete at the hub either.
            None if replaced.is_none() => return Ok((expected.unwrap_or(0), None)),
            None => {
                hub.delete_expecting(R2_BUCKET, key, expected, "an R2 delete")
                    .await
            }
        };
        match outcome {
            Ok(revision) => return Ok((revision, replaced)),
            Err(ClusterError::Conflict(_)) if tries < CONFLICT_RETRIES => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

impl IndexLog for EdgeIndex {
    fn record(&self, change: IndexChange) -> StorageFuture<Option<String>> {
        let hub = self.shared.hub.get("R2 writes");
        let applied = self.shared.applied.subscribe();
        Box::pin(async move {
            let hub = hub?;
            let key = encode_key(&change.bucket, &change.key);
            let (revision, replaced) = change_at_hub(&hub, &key, &change)
                .await
                .map_err(|e| StorageError::Backend(format!("R2 write not stored: {e}")))?;
            replica::until_applied(applied, revision).await;
            Ok(replaced)
        })
    }
}

/// The change a hub entry records, if Verge wrote it.
fn decode(entry: &kv::Entry) -> Option<IndexChange> {
    let (bucket, key) = decode_key(&entry.key)?;
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
