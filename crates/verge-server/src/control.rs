//! The control plane of `verge serve`, on a thread of its own: the admin API and, at a point
//! of presence, the cluster's hub — joining it, this PoP's heartbeat, and following what the
//! others change: deploys, KV (into the replica) and cache purges. Every change to the site is
//! made on this thread, one at a time, by its [`Releases`]; the serving threads only read it.
//!
//! A hub that refuses this PoP stops the start. A hub that cannot be reached does not: the PoP
//! serves what it has on disk and joins when the hub answers.

use crate::acme::AcmeManager;
use crate::admin::{serve_admin, Admin};
use crate::dns::{follow_heartbeats, Directory};
use crate::edge::{EdgeOptions, SiteHandle};
use crate::metrics::Metrics;
use crate::releases::{Records, Releases};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use verge_cluster::{Cluster, ClusterError, EdgeIndex, EdgeKv, EdgeObjects, EdgeQueues, EdgeSql};
use verge_config::ClusterConfig;
use verge_storage::{CacheStore, IndexCopy};

/// How often this PoP says it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long to wait between attempts to reach a hub that did not answer.
const JOIN_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// What the control plane works on.
pub struct ControlPlane {
    pub site: SiteHandle,
    pub metrics: Arc<Metrics>,
    pub options: EdgeOptions,
    /// The records of uploaded workers, read at start.
    pub records: Records,
    /// The admin API's listener and token, if it has one.
    pub admin: Option<(std::net::TcpListener, String)>,
    /// The hub, if this server is a point of presence.
    pub cluster: Option<ClusterConfig>,
    /// At a PoP, the KV the workers read, whose replica the hub feeds once joined.
    pub kv: Option<EdgeKv>,
    /// At a PoP, D1, which takes other PoPs' queries for the databases it is primary of.
    pub sql: Option<EdgeSql>,
    /// At a PoP, the queues, at the hub once joined.
    pub queues: Option<EdgeQueues>,
    /// At a PoP sharing R2's index, its log and this PoP's copy of the index.
    pub r2: Option<(EdgeIndex, Arc<dyn IndexCopy>)>,
    /// At a PoP answering geo DNS, the PoPs it answers with, which the heartbeats keep.
    pub directory: Option<Arc<Directory>>,
    /// `[tls.acme]`: what keeps its certificate current.
    pub acme: Option<AcmeManager>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot start the control thread: {0}")]
    Start(std::io::Error),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Starts the control plane; returns once this PoP has joined its hub, or found that it cannot
/// reach it (and will keep trying), or at once for a server that is not a PoP.
pub fn start_control(plane: ControlPlane) -> Result<(), ControlError> {
    let (started, outcome) = mpsc::channel();
    std::thread::Builder::new()
        .name("verge-control".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return drop(started.send(Err(ControlError::Start(e)))),
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                if let Err(e) = run(plane, &started).await {
                    let _ = started.send(Err(e));
                }
            });
        })
        .map_err(ControlError::Start)?;
    outcome.recv().unwrap_or_else(|_| {
        Err(ControlError::Start(std::io::Error::other(
            "the control thread ended before it started",
        )))
    })
}

/// The control thread's work: says it has started on `started`, then runs for as long as the
/// server does.
async fn run(
    plane: ControlPlane,
    started: &mpsc::Sender<Result<(), ControlError>>,
) -> Result<(), ControlError> {
    let hubs = plane.cluster.as_ref().map(|c| c.nats.join(", "));
    let stores = plane.options.stores.clone();
    let objects = plane.options.object_network.clone();
    let releases = Rc::new(Releases::new(
        plane.records,
        plane.site.clone(),
        plane.options,
        hubs,
    ));
    let followed = Followed {
        metrics: plane.metrics.clone(),
        kv: plane.kv,
        sql: plane.sql,
        queues: plane.queues,
        objects,
        r2: plane.r2,
        directory: plane.directory,
        cache: stores.cache.clone(),
        purges_mark: releases.data_dir().join("cluster").join("purges-applied"),
    };
    if let Some(config) = plane.cluster {
        match Cluster::join(&config).await {
            Ok(cluster) => {
                // Where this PoP's purges start is noted before it serves: one killed before
                // its follower got to it would otherwise, on its return, start after a purge
                // made while it was away, and keep what that purge emptied elsewhere.
                if followed.cache.is_some() {
                    if let Err(e) = cluster.mark_purges_start(&followed.purges_mark).await {
                        tracing::warn!("{e}");
                    }
                }
                joined(&releases, &followed, Arc::new(cluster));
            }
            Err(e) if e.is_refusal() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(
                    "{e}: this PoP serves what it has on disk, and joins when the hub answers"
                );
                tokio::task::spawn_local(join_later(config, releases.clone(), followed));
            }
        }
    }
    if let Some(acme) = plane.acme {
        tokio::task::spawn_local(Rc::new(acme).run(releases.clone()));
    }
    if let Some((listener, token)) = plane.admin {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ControlError::Start)?;
        let admin = Admin {
            token,
            metrics: plane.metrics,
            releases,
            kv: stores.kv,
            cache: stores.cache.clone(),
            sql: stores.sql,
            buckets: stores.buckets,
            queues: stores.queues,
            asset_sessions: Default::default(),
            d1_imports: Default::default(),
            tails: Default::default(),
        };
        tokio::task::spawn_local(serve_admin(listener, admin));
    }
    let _ = started.send(Ok(()));
    std::future::pending::<()>().await;
    Ok(())
}

/// What a PoP keeps up to date from the hub besides its deploys.
struct Followed {
    /// Whose console lines go to tails at other PoPs.
    metrics: Arc<Metrics>,
    /// The KV whose replica the hub feeds.
    kv: Option<EdgeKv>,
    /// D1, which answers other PoPs' queries.
    sql: Option<EdgeSql>,
    /// The queues, which reach the hub once joined.
    queues: Option<EdgeQueues>,
    /// Durable Objects: this PoP's leases, and the events others forward to its objects.
    objects: Option<EdgeObjects>,
    /// R2's shared index and this PoP's copy of it.
    r2: Option<(EdgeIndex, Arc<dyn IndexCopy>)>,
    /// Geo DNS's view of the PoPs.
    directory: Option<Arc<Directory>>,
    /// The cache that the cluster's purges empty, and where the last one applied is noted.
    cache: Option<Arc<dyn CacheStore>>,
    purges_mark: PathBuf,
}

/// This PoP has joined its hub: from now on it sends heartbeats, follows the deploys and the
/// purges, feeds its copies of KV and of R2's index, answers D1 queries for its databases,
/// renews the leases of the Durable Objects it holds and runs the events other PoPs forward to
/// them, and forwards console lines to tails elsewhere.
fn joined(releases: &Rc<Releases>, followed: &Followed, cluster: Arc<Cluster>) {
    releases.joined(cluster.clone());
    tokio::task::spawn_local(crate::tail::forward_to_cluster(
        cluster.clone(),
        followed.metrics.clone(),
    ));
    tokio::task::spawn_local(heartbeat(
        cluster.clone(),
        releases.site().clone(),
        followed.kv.clone(),
    ));
    if let Some(kv) = followed.kv.clone() {
        let cluster = cluster.clone();
        tokio::task::spawn_local(async move { kv.follow(cluster).await });
    }
    if let Some(sql) = followed.sql.clone() {
        let cluster = cluster.clone();
        tokio::task::spawn_local(async move { sql.serve(cluster).await });
    }
    if let Some(queues) = &followed.queues {
        queues.join(cluster.clone());
    }
    if let Some(objects) = followed.objects.clone() {
        let cluster = cluster.clone();
        tokio::task::spawn_local(async move { objects.serve(cluster).await });
    }
    if let Some((index, copy)) = followed.r2.clone() {
        let cluster = cluster.clone();
        tokio::task::spawn_local(async move { index.follow(cluster, copy).await });
    }
    if let Some(directory) = followed.directory.clone() {
        tokio::task::spawn_local(follow_heartbeats(cluster.clone(), directory));
    }
    if let Some(cache) = followed.cache.clone() {
        let (cluster, mark) = (cluster.clone(), followed.purges_mark.clone());
        tokio::task::spawn_local(async move { cluster.follow_purges(cache, mark).await });
    }
    let follower = releases.clone();
    tokio::task::spawn_local(async move { follower.follow(cluster).await });
}

/// Tries to join the hub `config` names until it answers.
async fn join_later(config: ClusterConfig, releases: Rc<Releases>, followed: Followed) {
    loop {
        tokio::time::sleep(JOIN_AGAIN_AFTER).await;
        match Cluster::join(&config).await {
            Ok(cluster) => {
                tracing::info!("joined the hub at {}", config.nats.join(", "));
                return joined(&releases, &followed, Arc::new(cluster));
            }
            Err(e) if e.is_refusal() => {
                return tracing::error!("{e}: this PoP stays apart from the cluster");
            }
            Err(_) => {}
        }
    }
}

/// Sends this PoP's heartbeat — the version of each worker `site` serves, and how far its KV
/// replica has come — every [`HEARTBEAT_EVERY`].
async fn heartbeat(cluster: Arc<Cluster>, site: SiteHandle, kv: Option<EdgeKv>) {
    let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
    // Said once when heartbeats start failing, and once when they get through again.
    let mut failing = false;
    loop {
        ticks.tick().await;
        let workers: BTreeMap<String, u64> = site
            .current()
            .workers
            .iter()
            .map(|deployed| (deployed.config.name.clone(), deployed.version))
            .collect();
        let kv_revision = kv.as_ref().map_or(0, |kv| kv.applied().0);
        match cluster.heartbeat(workers, kv_revision).await {
            Err(e) if !failing => {
                tracing::warn!("heartbeats do not reach the hub: {e}");
                failing = true;
            }
            Ok(()) if failing => {
                tracing::info!("heartbeats reach the hub again");
                failing = false;
            }
            _ => {}
        }
    }
}
