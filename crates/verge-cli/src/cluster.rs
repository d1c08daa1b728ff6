//! `verge serve` as a point of presence: a thread of its own joins the cluster's hub before the
//! server listens (a hub that cannot be reached or refuses the credentials stops the start,
//! naming the cause), then sends this PoP's heartbeat every second.

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use verge_cluster::Cluster;
use verge_config::ClusterConfig;
use verge_server::SiteHandle;

/// How often this PoP says it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Joins the cluster `config` names; the heartbeat reports the workers `site` serves.
pub fn join(config: ClusterConfig, site: SiteHandle) -> anyhow::Result<Arc<Cluster>> {
    let (joined, outcome) = mpsc::channel();
    std::thread::Builder::new()
        .name("verge-cluster".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = joined.send(Err(anyhow::anyhow!(
                        "cannot start the cluster's runtime: {e}"
                    )));
                    return;
                }
            };
            // The hub's connection runs on this runtime: it lives as long as the heartbeat.
            runtime.block_on(async move {
                let cluster = match Cluster::join(&config).await {
                    Ok(cluster) => Arc::new(cluster),
                    Err(e) => {
                        let _ = joined.send(Err(e.into()));
                        return;
                    }
                };
                let _ = joined.send(Ok(cluster.clone()));
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
                    match cluster.heartbeat(workers).await {
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
            });
        })?;
    outcome
        .recv()
        .map_err(|_| anyhow::anyhow!("the cluster's thread ended before joining"))?
}
