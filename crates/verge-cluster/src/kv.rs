//! Workers KV across the cluster: every namespace lives in the hub's KV bucket [`KV_BUCKET`],
//! and each PoP keeps a replica of it on its own disk — any [`KvStore`], the embedded one in
//! `verge serve` — fed in the bucket's order by a watch that resumes where it stopped.
//!
//! Reads ([`EdgeKv`]'s `get` and `list`) are the replica's: no hub round trip, and they keep
//! working while the hub is away, restarts included. A write goes to the hub, is acknowledged
//! once JetStream has stored it, and returns when this PoP's replica has it too (or after 2 s,
//! should the replica lag that far), so a PoP reads its own writes at once; while the hub cannot
//! be reached, writes fail within a few seconds, naming it. Eventually consistent, as Workers KV.
//!
//! In the hub, a key is `<namespace>.<key>` ([`replica::encode_key`]), and a value is one JSON
//! line — its expiration and metadata — then its bytes.

use crate::replica::{self, decode_key, encode_key, HubSlot};
use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use bytes::Bytes;
use std::sync::Arc;
use verge_storage::{KvEntry, KvPage, KvStore, StorageError, StorageFuture};

/// The KV bucket that holds every namespace.
pub const KV_BUCKET: &str = "verge_kv";

/// The replica's own namespace, which no binding can name: the last revision it has applied.
const REPLICA_NAMESPACE: &str = "\u{1}verge-replica";
const APPLIED_KEY: &str = "revision";

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: KV_BUCKET.into(),
        description: "Workers KV: every namespace's keys".into(),
        history: 1,
        num_replicas: replicas,
        // A Workers KV value may be 25 MiB; the hub's max_payload must allow it too.
        max_value_size: 25 * 1024 * 1024 + 2048,
        ..Default::default()
    }
}

/// KV at a PoP: reads from the replica, writes through the hub.
#[derive(Clone)]
pub struct EdgeKv {
    shared: Arc<Shared>,
}

struct Shared {
    replica: Arc<dyn KvStore>,
    hub: HubSlot,
    /// The last revision the replica has applied, and how far behind the hub it was then.
    applied: replica::Progress,
}

impl EdgeKv {
    /// KV kept in `replica`, written through the hub at `hubs` once [`EdgeKv::follow`] runs.
    pub fn new(replica: Arc<dyn KvStore>, hubs: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                replica,
                hub: HubSlot::new(hubs),
                applied: tokio::sync::watch::channel((0, 0)).0,
            }),
        }
    }

    /// The last revision of the hub's bucket the replica has, and the changes it still lacked
    /// when it applied it.
    pub fn applied(&self) -> (u64, u64) {
        *self.shared.applied.borrow()
    }

    /// Feeds the replica from `cluster`'s bucket for as long as the server runs, resuming after
    /// the last revision it applied (kept in the replica itself, so a restart resumes too).
    pub async fn follow(&self, cluster: Arc<Cluster>) {
        let shared = &self.shared;
        shared.hub.join(cluster.clone());
        let applied = match shared.replica.get(REPLICA_NAMESPACE, APPLIED_KEY).await {
            Ok(Some(entry)) => std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|text| text.parse().ok())
                .unwrap_or(0),
            Ok(None) => 0,
            Err(e) => {
                tracing::error!("cannot read the KV replica, so it starts again: {e}");
                0
            }
        };
        let bucket = (KV_BUCKET, &cluster.kv);
        replica::follow(
            &cluster,
            bucket,
            "KV",
            &shared.applied,
            applied,
            |entries, last| self.apply(entries, last),
        )
        .await;
    }

    /// Applies `entries`, in order, to the replica, with `last` as the revision applied.
    async fn apply(&self, entries: Vec<kv::Entry>, last: u64) -> Result<(), String> {
        let replica = &self.shared.replica;
        let mut writes = Vec::with_capacity(entries.len() + 1);
        for entry in entries {
            let Some((namespace, key)) = decode_key(&entry.key) else {
                tracing::warn!("the hub's KV holds a key no Verge wrote: {}", entry.key);
                continue;
            };
            writes.push(match entry.operation {
                kv::Operation::Put => match decode_value(&entry.value) {
                    Some(value) => replica.put(&namespace, &key, value),
                    None => {
                        tracing::warn!("the hub's KV holds a value no Verge wrote: {key:?}");
                        continue;
                    }
                },
                kv::Operation::Delete | kv::Operation::Purge => replica.delete(&namespace, &key),
            });
        }
        writes.push(replica.put(
            REPLICA_NAMESPACE,
            APPLIED_KEY,
            KvEntry {
                value: Bytes::from(last.to_string()),
                expiration: None,
                metadata: None,
            },
        ));
        // The writes were queued in order; waiting for them all lets them commit together.
        for outcome in futures_util::future::join_all(writes).await {
            outcome.map_err(|e| format!("the KV replica cannot be written: {e}"))?;
        }
        Ok(())
    }
}

impl Cluster {
    /// The hub's last KV revision: a replica behind it lacks that many changes at most.
    pub async fn kv_revision(&self) -> Result<u64, ClusterError> {
        self.last_revision(KV_BUCKET).await
    }
}

fn hub_error(e: ClusterError) -> StorageError {
    StorageError::Backend(format!("KV write not stored: {e}"))
}

impl KvStore for EdgeKv {
    fn get(&self, namespace: &str, key: &str) -> StorageFuture<Option<KvEntry>> {
        self.shared.replica.get(namespace, key)
    }

    fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> StorageFuture<()> {
        let hub = self.shared.hub.get("KV writes");
        let subject = encode_key(namespace, key);
        let applied = self.shared.applied.subscribe();
        Box::pin(async move {
            let hub = hub?;
            let value = encode_value(&entry);
            let revision = within("a KV write", async { hub.kv.put(&subject, value).await })
                .await
                .map_err(hub_error)?;
            replica::until_applied(applied, revision).await;
            Ok(())
        })
    }

    fn delete(&self, namespace: &str, key: &str) -> StorageFuture<()> {
        let hub = self.shared.hub.get("KV writes");
        let subject = encode_key(namespace, key);
        let applied = self.shared.applied.subscribe();
        Box::pin(async move {
            let revision = hub?
                .delete_expecting(KV_BUCKET, &subject, None, "a KV delete")
                .await
                .map_err(hub_error)?;
            replica::until_applied(applied, revision).await;
            Ok(())
        })
    }

    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> StorageFuture<KvPage> {
        self.shared.replica.list(namespace, prefix, cursor, limit)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ValueHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<String>,
}

fn encode_value(entry: &KvEntry) -> Bytes {
    let header = ValueHeader {
        expiration: entry.expiration,
        metadata: entry.metadata.clone(),
    };
    let mut bytes = serde_json::to_vec(&header).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    bytes.extend_from_slice(&entry.value);
    Bytes::from(bytes)
}

fn decode_value(bytes: &Bytes) -> Option<KvEntry> {
    let newline = bytes.iter().position(|&byte| byte == b'\n')?;
    let header: ValueHeader = serde_json::from_slice(&bytes[..newline]).ok()?;
    Some(KvEntry {
        value: bytes.slice(newline + 1..),
        expiration: header.expiration,
        metadata: header.metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_workers_kv_key_survives_the_hub_encoding() {
        for (namespace, key) in [("ns", "a"), ("my-ns_1", "a.b c/d*>é\u{0}"), ("x", "..")] {
            let subject = encode_key(namespace, key);
            assert!(subject
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
            assert_eq!(
                decode_key(&subject),
                Some((namespace.to_owned(), key.to_owned()))
            );
        }
        assert_eq!(decode_key("no-dot"), None);
    }

    #[test]
    fn a_value_keeps_its_expiration_and_metadata() {
        let entry = KvEntry {
            value: Bytes::from_static(b"line one\nline two"),
            expiration: Some(1_900_000_000),
            metadata: Some("{\"a\":\"b\\nc\"}".into()),
        };
        assert_eq!(decode_value(&encode_value(&entry)), Some(entry));
        let bare = KvEntry {
            value: Bytes::new(),
            expiration: None,
            metadata: None,
        };
        assert_eq!(decode_value(&encode_value(&bare)), Some(bare));
    }
}
