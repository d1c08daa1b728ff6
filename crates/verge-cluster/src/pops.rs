//! Heartbeats: each PoP's name, the time, the version of each worker it serves and how far its
//! KV replica has come, kept in the KV bucket [`POPS_BUCKET`] under the PoP's name; the
//! cluster's status is every PoP's last.

use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use futures_util::TryStreamExt as _;
use std::collections::BTreeMap;
use std::time::Duration;
use verge_storage::unix_now_ms;

/// The KV bucket of the PoPs' heartbeats, one key per PoP.
pub const POPS_BUCKET: &str = "verge_pops";

/// A heartbeat is kept this long: a PoP gone for longer leaves the status.
const HEARTBEAT_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: POPS_BUCKET.into(),
        description: "each point of presence's last heartbeat".into(),
        history: 1,
        max_age: HEARTBEAT_KEPT,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// One PoP's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PopReport {
    pub pop: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The version of each worker the PoP serves, by name.
    pub workers: BTreeMap<String, u64>,
    /// The last revision of the hub's KV bucket its replica has.
    #[serde(default)]
    pub kv_revision: u64,
}

impl PopReport {
    /// How long ago it was sent, in milliseconds.
    pub fn age_ms(&self) -> u64 {
        unix_now_ms().saturating_sub(self.at_ms)
    }
}

impl Cluster {
    /// Records that this PoP is alive now, serving `workers` (name → version), its KV replica
    /// at `kv_revision`.
    pub async fn heartbeat(
        &self,
        workers: BTreeMap<String, u64>,
        kv_revision: u64,
    ) -> Result<(), ClusterError> {
        let report = PopReport {
            pop: self.pop.clone(),
            at_ms: unix_now_ms(),
            workers,
            kv_revision,
        };
        let value = serde_json::to_vec(&report).map_err(|e| ClusterError::Hub {
            what: "a heartbeat",
            cause: e.to_string(),
        })?;
        within("a heartbeat", async {
            self.pops.put(&self.pop, value.into()).await
        })
        .await
        .map(|_| ())
    }

    /// Every PoP's last heartbeat, by name.
    pub async fn status(&self) -> Result<Vec<PopReport>, ClusterError> {
        within("reading the heartbeats", async {
            let keys: Vec<String> = self.pops.keys().await?.try_collect().await?;
            let mut reports = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(value) = self.pops.get(&key).await? else {
                    continue;
                };
                // A value no Verge wrote is left out rather than failing the whole status.
                if let Ok(report) = serde_json::from_slice::<PopReport>(&value) {
                    reports.push(report);
                }
            }
            reports.sort_by(|a, b| a.pop.cmp(&b.pop));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(reports)
        })
        .await
    }
}
