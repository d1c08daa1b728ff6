//! `verge-cluster` ties a `verge serve` to the cluster's hub, as one point of presence (PoP)
//! among others. The hub is a NATS server (or NATS cluster) with JetStream, an existing
//! replicated engine; a PoP is only its client, and Verge builds no protocol of its own.
//!
//! What the hub keeps, each in a JetStream bucket of its own:
//! - [`pops`]: each PoP's heartbeat — its name, the time, and the version of each worker it
//!   serves — from which every PoP reads the cluster's status;
//! - [`deploys`]: every worker's releases (its code, its config file, its secrets), one key per
//!   worker whose revisions are the worker's versions, and the uploaded code by digest;
//! - [`kv`]: Workers KV, every namespace, of which each PoP keeps a replica to read;
//! - [`purges`]: cache purges, which every PoP applies to its own cache;
//! - [`acme`]: the ACME account, certificate and challenges every PoP shares;
//! - [`d1`]: which PoP is each D1 database's primary, the one the others send its queries;
//! - [`r2`]: the index of every R2 bucket whose bytes are in a shared S3 bucket;
//! - [`objects`]: which PoP holds each Durable Object (a lease), and each object's storage as
//!   a log that another PoP can take it over from;
//! - [`queues`]: each queue's messages, a stream per queue, consumed at whichever PoP pulls
//!   them.
//!
//! And on core NATS, stored nowhere: [`tail`], the console lines of a tailed worker.
//!
//! Lifecycle: one [`Cluster`] per `verge serve` process. Joining is the only call that waits
//! for the hub to answer at all; a refusal (credentials, TLS) is final, while an unreachable hub
//! may be tried again ([`ClusterError::is_refusal`]). The client runs on the runtime that
//! joined, and may be used from any other.

pub mod acme;
pub mod d1;
pub mod deploys;
pub mod kv;
pub mod objects;
pub mod pops;
pub mod purges;
pub mod queues;
pub mod r2;
mod replica;
pub mod tail;

use async_nats::jetstream::{self, object_store};
// `kv` is this crate's Workers KV; the NATS bucket type is named apart.
use async_nats::jetstream::kv::Store as Bucket;
use std::time::Duration;
use verge_config::ClusterConfig;

pub use d1::EdgeSql;
pub use deploys::{Change, Made, Release};
pub use kv::EdgeKv;
pub use objects::{EdgeObjects, LogRead, Placement};
pub use pops::PopReport;
pub use queues::EdgeQueues;
pub use r2::EdgeIndex;
pub use tail::TailLine;

/// How long joining may take before the hub counts as unreachable.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call to the hub may take, but for moving code.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the hub at {hubs} refused this PoP: {cause}")]
    Refused { hubs: String, cause: String },
    #[error("the hub at {hubs} cannot be reached: {cause}")]
    Unreachable { hubs: String, cause: String },
    #[error("cannot read the credentials file {path}: {cause}")]
    Credentials { path: String, cause: String },
    #[error("the hub refused or failed a call ({what}): {cause}")]
    Hub { what: &'static str, cause: String },
    #[error("the hub did not answer within {0:?} ({1})")]
    Timeout(Duration, &'static str),
    #[error("{0} changed elsewhere in the cluster meanwhile: try again")]
    Conflict(String),
}

impl ClusterError {
    /// Whether trying again cannot help: the hub, or this PoP's own config, said no.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Credentials { .. })
    }
}

/// This process's membership of the cluster.
pub struct Cluster {
    pop: String,
    pops: Bucket,
    deploys: Bucket,
    code: object_store::ObjectStore,
    kv: Bucket,
    d1: Bucket,
    r2: Bucket,
    acme: Bucket,
    objects: Bucket,
    object_log: jetstream::stream::Stream,
    jetstream: jetstream::Context,
    client: async_nats::Client,
    /// When the hub's deploys bucket was made: which hub numbered a version.
    epoch: String,
    /// Where this PoP is and its addresses, told in each heartbeat for geo DNS.
    location: Option<verge_config::Location>,
    addresses: Vec<std::net::IpAddr>,
    drain: std::sync::atomic::AtomicBool,
    /// How many hub nodes keep each stream and bucket.
    replicas: usize,
}

impl Cluster {
    /// Connects to the hub `config` names, as PoP `config.pop`, and opens (or creates) the
    /// cluster's buckets. Fails within [`JOIN_TIMEOUT`] when no hub answers, and at once when
    /// one refuses the credentials.
    pub async fn join(config: &ClusterConfig) -> Result<Self, ClusterError> {
        let hubs = config.nats.join(", ");
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
            .map(|url| {
                url.parse().map_err(|e| ClusterError::Refused {
                    hubs: hubs.clone(),
                    cause: format!("{url}: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        let unreachable = |cause: String| ClusterError::Unreachable {
            hubs: hubs.clone(),
            cause,
        };
        let client = tokio::time::timeout(JOIN_TIMEOUT, options.connect(addresses))
            .await
            .map_err(|_| unreachable(format!("no answer within {JOIN_TIMEOUT:?}")))?
            .map_err(|e| {
                use async_nats::ConnectErrorKind as Kind;
                match e.kind() {
                    Kind::TimedOut | Kind::Io | Kind::Dns | Kind::MaxReconnects => {
                        unreachable(e.to_string())
                    }
                    Kind::ServerParse
                    | Kind::Authentication
                    | Kind::AuthorizationViolation
                    | Kind::Tls => ClusterError::Refused {
                        hubs: hubs.clone(),
                        cause: e.to_string(),
                    },
                }
            })?;
        let jetstream = jetstream::new(client.clone());
        let replicas = config.replicas;
        // Each bucket and stream is one round trip to the hub: all at once, so that joining
        // (and with it everything a PoP follows) does not wait for them one by one.
        let open_bucket = |what: &'static str, config: async_nats::jetstream::kv::Config| {
            let jetstream = jetstream.clone();
            async move {
                within(what, async move {
                    jetstream.create_or_update_key_value(config).await
                })
                .await
            }
        };
        let code = within("opening the code store", async {
            match jetstream.get_object_store(deploys::CODE_STORE).await {
                Ok(store) => Ok(store),
                Err(_) => {
                    jetstream
                        .create_object_store(deploys::code_store(replicas))
                        .await
                }
            }
        });
        let object_log = within("opening the Durable Objects' log", async {
            jetstream
                .get_or_create_stream(objects::log_stream(replicas))
                .await
        });
        // Boxed: together, the calls' futures are larger than a thread's stack in a debug build.
        let (pops, deploys, code, kv, d1, r2, acme, objects, object_log, ()) = tokio::try_join!(
            Box::pin(open_bucket(
                "opening the heartbeat bucket",
                pops::bucket(replicas)
            )),
            Box::pin(open_bucket(
                "opening the deploys bucket",
                deploys::bucket(replicas)
            )),
            Box::pin(code),
            Box::pin(open_bucket(
                "opening the KV bucket",
                crate::kv::bucket(replicas)
            )),
            Box::pin(open_bucket("opening the D1 bucket", d1::bucket(replicas))),
            Box::pin(open_bucket(
                "opening the R2 index bucket",
                r2::bucket(replicas)
            )),
            Box::pin(open_bucket(
                "opening the ACME bucket",
                acme::bucket(replicas)
            )),
            Box::pin(open_bucket(
                "opening the Durable Objects' leases",
                objects::bucket(replicas)
            )),
            Box::pin(object_log),
            Box::pin(purges::open(&jetstream, replicas)),
        )?;
        let epoch = within("reading the deploys bucket", async {
            let mut stream = jetstream
                .get_stream(format!("KV_{}", deploys::DEPLOYS_BUCKET))
                .await?;
            let info = stream.info().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(info.created.to_string())
        })
        .await?;
        Ok(Self {
            pop: config.pop.clone(),
            pops,
            deploys,
            code,
            kv,
            d1,
            r2,
            acme,
            objects,
            object_log,
            jetstream,
            client,
            epoch,
            location: config.location,
            addresses: config.addresses.clone(),
            drain: std::sync::atomic::AtomicBool::new(config.drain),
            replicas,
        })
    }

    /// This PoP's name.
    pub fn pop(&self) -> &str {
        &self.pop
    }

    /// Which hub this is: when its deploys bucket was made. Versions it numbers are ordered
    /// only against each other.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }
}

/// How long whatever follows the hub (deploys, a replica, purges) waits before following it
/// again after losing it.
pub const FOLLOW_AGAIN_AFTER: Duration = Duration::from_secs(1);

impl Cluster {
    /// Writes `value` under `key` of KV bucket `bucket` if the key's last change is `expected`
    /// (`None`: it has had none, or was deleted); the write's revision, or
    /// [`ClusterError::Conflict`] naming `what` if another change came first.
    pub(crate) async fn put_expecting(
        &self,
        bucket: &Bucket,
        key: &str,
        value: Vec<u8>,
        expected: Option<u64>,
        what: &'static str,
    ) -> Result<u64, ClusterError> {
        use async_nats::jetstream::kv::{CreateErrorKind, UpdateErrorKind};
        let outcome = tokio::time::timeout(CALL_TIMEOUT, async {
            match expected {
                Some(expected) => bucket
                    .update(key, value.into(), expected)
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => bucket
                    .create(key, value.into())
                    .await
                    .map_err(|e| (e.kind() == CreateErrorKind::AlreadyExists, e.to_string())),
            }
        })
        .await
        .map_err(|_| ClusterError::Timeout(CALL_TIMEOUT, what))?;
        outcome.map_err(|(conflict, cause)| match conflict {
            true => ClusterError::Conflict(key.to_owned()),
            false => ClusterError::Hub { what, cause },
        })
    }

    /// The last revision of KV bucket `bucket`, fresh from the hub.
    pub(crate) async fn last_revision(&self, bucket: &str) -> Result<u64, ClusterError> {
        within("reading a bucket's state", async {
            let mut stream = self.jetstream.get_stream(format!("KV_{bucket}")).await?;
            let info = stream.info().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(info.state.last_sequence)
        })
        .await
    }

    /// Deletes `key` of KV bucket `bucket` (if its last change is `expected`, when given); the
    /// deletion's revision, which the KV API's own delete does not tell.
    pub(crate) async fn delete_expecting(
        &self,
        bucket: &str,
        key: &str,
        expected: Option<u64>,
        what: &'static str,
    ) -> Result<u64, ClusterError> {
        use async_nats::jetstream::context::PublishErrorKind;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        if let Some(expected) = expected {
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                async_nats::HeaderValue::from(expected),
            );
        }
        let subject = format!("$KV.{bucket}.{key}");
        let outcome = tokio::time::timeout(CALL_TIMEOUT, async {
            let ack = self
                .jetstream
                .publish_with_headers(subject, headers, bytes::Bytes::new())
                .await
                .map_err(|e| (false, e.to_string()))?;
            ack.await.map(|ack| ack.sequence).map_err(|e| {
                (
                    e.kind() == PublishErrorKind::WrongLastSequence,
                    e.to_string(),
                )
            })
        })
        .await
        .map_err(|_| ClusterError::Timeout(CALL_TIMEOUT, what))?;
        outcome.map_err(|(conflict, cause)| match conflict {
            true => ClusterError::Conflict(key.to_owned()),
            false => ClusterError::Hub { what, cause },
        })
    }
}

/// `call`, named `what`, bounded by [`CALL_TIMEOUT`], its failure a [`ClusterError`].
async fn within<T, E: std::fmt::Display>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ClusterError> {
    within_for(CALL_TIMEOUT, what, call).await
}

/// `call`, named `what`, bounded by `limit`.
async fn within_for<T, E: std::fmt::Display>(
    limit: Duration,
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ClusterError> {
    tokio::time::timeout(limit, call)
        .await
        .map_err(|_| ClusterError::Timeout(limit, what))?
        .map_err(|e| ClusterError::Hub {
            what,
            cause: e.to_string(),
        })
}
