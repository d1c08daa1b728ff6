//! `verge-cluster` ties a `verge serve` to the cluster's hub, as one point of presence (PoP)
//! among others. The hub is a NATS server (or NATS cluster) with JetStream, an existing
//! replicated engine; a PoP is only its client, and Verge builds no protocol of its own.
//!
//! What is here so far: joining the hub (its URLs, credentials or user and password, TLS; a
//! refusal or an unreachable hub is an error naming the cause, at start), and each PoP's
//! heartbeat — its name, the time, and the version of each worker it serves — kept in the
//! JetStream KV bucket [`POPS_BUCKET`], one key per PoP, from which every PoP reads the
//! cluster's status.
//!
//! Lifecycle: one [`Cluster`] per `verge serve` process, joined before it listens; its client
//! runs on the runtime that joined (a thread of its own in `verge serve`), and may be used from
//! any other.

use async_nats::jetstream::{self, kv};
use futures_util::TryStreamExt as _;
use std::collections::BTreeMap;
use std::time::Duration;
use verge_config::ClusterConfig;
use verge_storage::unix_now_ms;

/// The KV bucket of the PoPs' heartbeats, one key per PoP.
pub const POPS_BUCKET: &str = "verge_pops";

/// How long joining may take before the hub counts as unreachable.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a heartbeat or a status read may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A heartbeat is kept this long: a PoP gone for longer leaves the status.
const HEARTBEAT_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the hub at {hubs} did not let this PoP join: {cause}")]
    Join { hubs: String, cause: String },
    #[error("cannot read the credentials file {path}: {cause}")]
    Credentials { path: String, cause: String },
    #[error("the hub refused or failed a call ({what}): {cause}")]
    Hub { what: &'static str, cause: String },
    #[error("the hub did not answer within {0:?} ({1})")]
    Timeout(Duration, &'static str),
}

/// One PoP's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PopReport {
    pub pop: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The version of each worker the PoP serves, by name.
    pub workers: BTreeMap<String, u64>,
}

impl PopReport {
    /// How long ago it was sent, in milliseconds.
    pub fn age_ms(&self) -> u64 {
        unix_now_ms().saturating_sub(self.at_ms)
    }
}

/// This process's membership of the cluster.
pub struct Cluster {
    pop: String,
    pops: kv::Store,
}

impl Cluster {
    /// Connects to the hub `config` names, as PoP `config.pop`, and opens (or creates) the
    /// bucket of heartbeats. Fails within [`JOIN_TIMEOUT`] when no hub answers, and at once
    /// when one refuses the credentials.
    pub async fn join(config: &ClusterConfig) -> Result<Self, ClusterError> {
        let hubs = config.nats.join(", ");
        let join = |cause: String| ClusterError::Join {
            hubs: hubs.clone(),
            cause,
        };
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("verge-pop-{}", config.pop))
            .connection_timeout(JOIN_TIMEOUT)
            .require_tls(config.tls);
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(path) = &config.credentials {
            options =
                options
                    .credentials_file(path)
                    .await
                    .map_err(|e| ClusterError::Credentials {
                        path: path.display().to_string(),
                        cause: e.to_string(),
                    })?;
        }
        let addresses: Vec<async_nats::ServerAddr> = config
            .nats
            .iter()
            .map(|url| url.parse().map_err(|e| join(format!("{url}: {e}"))))
            .collect::<Result<_, _>>()?;
        let client = tokio::time::timeout(JOIN_TIMEOUT, options.connect(addresses))
            .await
            .map_err(|_| join(format!("no answer within {JOIN_TIMEOUT:?}")))?
            .map_err(|e| join(e.to_string()))?;
        let jetstream = jetstream::new(client);
        let bucket = kv::Config {
            bucket: POPS_BUCKET.into(),
            description: "each point of presence's last heartbeat".into(),
            history: 1,
            max_age: HEARTBEAT_KEPT,
            ..Default::default()
        };
        let pops = within("opening the heartbeat bucket", async {
            jetstream.create_or_update_key_value(bucket).await
        })
        .await?;
        Ok(Self {
            pop: config.pop.clone(),
            pops,
        })
    }

    /// This PoP's name.
    pub fn pop(&self) -> &str {
        &self.pop
    }

    /// Records that this PoP is alive now, serving `workers` (name → version).
    pub async fn heartbeat(&self, workers: BTreeMap<String, u64>) -> Result<(), ClusterError> {
        let report = PopReport {
            pop: self.pop.clone(),
            at_ms: unix_now_ms(),
            workers,
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

/// `call`, named `what`, bounded by [`CALL_TIMEOUT`], its failure a [`ClusterError`].
async fn within<T, E: std::fmt::Display>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ClusterError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| ClusterError::Timeout(CALL_TIMEOUT, what))?
        .map_err(|e| ClusterError::Hub {
            what,
            cause: e.to_string(),
        })
}
