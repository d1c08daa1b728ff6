//! Heartbeats: each PoP's name, the time, the version of each worker it serves and how far its
//! KV replica has come, kept in the KV bucket [`POPS_BUCKET`] under the PoP's name; the
//! cluster's status is every PoP's last.

use crate::{within, Cluster, ClusterError};
use async_nats::jetstream::kv;
use futures_util::TryStreamExt as _;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use verge_config::Location;
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopReport {
    pub pop: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The version of each worker the PoP serves, by name.
    pub workers: BTreeMap<String, u64>,
    /// The last revision of the hub's KV bucket its replica has.
    #[serde(default)]
    pub kv_revision: u64,
    /// Where it is, and the addresses clients reach it at, for geo DNS.
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// Whether it asks to be left out of geo DNS answers.
    #[serde(default)]
    pub drain: bool,
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
            location: self.location,
            addresses: self.addresses.clone(),
            drain: self.drain.load(std::sync::atomic::Ordering::Relaxed),
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

    /// Takes this PoP out of geo DNS answers (or back in), from its next heartbeat on.
    pub fn set_drain(&self, drain: bool) {
        self.drain
            .store(drain, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every PoP's heartbeat as it comes (the last of each first); a PoP whose heartbeat is
    /// removed (kept too long) comes as `None` with its name.
    pub async fn heartbeats(
        &self,
    ) -> Result<impl futures_util::Stream<Item = (String, Option<PopReport>)>, ClusterError> {
        let watch = within("following the heartbeats", async {
            self.pops.watch_with_history(">").await
        })
        .await?;
        Ok(futures_util::StreamExt::filter_map(watch, |entry| {
            let report = entry.ok().map(|entry| match entry.operation {
                kv::Operation::Put => (
                    entry.key,
                    serde_json::from_slice::<PopReport>(&entry.value).ok(),
                ),
                kv::Operation::Delete | kv::Operation::Purge => (entry.key, None),
            });
            std::future::ready(report)
        }))
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
