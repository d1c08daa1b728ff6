//! What ACME needs shared by every PoP, in the KV bucket [`ACME_BUCKET`]: the account's
//! credentials (`account`), the certificate and its key (`certificate`), the HTTP-01 answers
//! while an order is proved (`challenge.<token>`, so that whichever PoP the directory reaches
//! answers), and the claim of the PoP that orders (`ordering`), so that one does.

use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use futures_util::{Stream, StreamExt as _};

/// The KV bucket of ACME's shared state.
pub const ACME_BUCKET: &str = "verge_acme";

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: ACME_BUCKET.into(),
        description: "ACME: the account, the certificate, challenges in flight".into(),
        history: 1,
        num_replicas: replicas,
        ..Default::default()
    }
}

impl Cluster {
    /// The value under `key`, if any.
    pub async fn acme_get(&self, key: &str) -> Result<Option<Vec<u8>>, ClusterError> {
        let value = within("reading ACME's state", async { self.acme.get(key).await }).await?;
        Ok(value.map(|value| value.to_vec()))
    }

    pub async fn acme_put(&self, key: &str, value: Vec<u8>) -> Result<(), ClusterError> {
        within("writing ACME's state", async {
            self.acme.put(key, value.into()).await
        })
        .await
        .map(drop)
    }

    pub async fn acme_delete(&self, key: &str) -> Result<(), ClusterError> {
        within("writing ACME's state", async {
            self.acme.delete(key).await
        })
        .await
    }

    /// Writes `value` under `key` unless the key holds one; whether it did. A value written
    /// before `stale_before_ms` (milliseconds since the Unix epoch) is taken over.
    pub async fn acme_claim(
        &self,
        key: &str,
        value: Vec<u8>,
        stale_before_ms: u64,
    ) -> Result<bool, ClusterError> {
        let current = within("reading ACME's state", async { self.acme.entry(key).await }).await?;
        let expected = match current {
            Some(entry) if entry.operation == kv::Operation::Put => {
                let written_ms =
                    u64::try_from(entry.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
                if written_ms >= stale_before_ms {
                    return Ok(false);
                }
                Some(entry.revision)
            }
            _ => None,
        };
        match self
            .put_expecting(&self.acme, key, value, expected, "claiming an ACME order")
            .await
        {
            Ok(_) => Ok(true),
            Err(ClusterError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every key's value (`None`: deleted), the current ones first, then each change.
    pub async fn acme_changes(
        &self,
    ) -> Result<impl Stream<Item = (String, Option<Vec<u8>>)>, ClusterError> {
        let watch = within("following ACME's state", async {
            self.acme.watch_with_history(">").await
        })
        .await?;
        Ok(watch.filter_map(|entry| {
            std::future::ready(entry.ok().map(|entry| match entry.operation {
                kv::Operation::Put => (entry.key, Some(entry.value.to_vec())),
                kv::Operation::Delete | kv::Operation::Purge => (entry.key, None),
            }))
        }))
    }
}
