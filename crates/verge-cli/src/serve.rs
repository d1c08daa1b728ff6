//! `verge serve`: many workers from `verge.toml` on one server, each routed by its own
//! wrangler `routes`, each in its own isolate per thread, created on its first request.

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use verge_cluster::{EdgeIndex, EdgeKv, EdgeObjects, EdgeQueues, EdgeSql};
use verge_config::{ObjectsConfig, ServerConfig};
use verge_runtime::{NetworkPolicy, Stores, WorkerLimits};
use verge_server::{
    serve_dns, AcmeManager, BoundListeners, Certificates, Challenges, ControlPlane, Crons,
    Deployed, Directory, EdgeOptions, Geo, Metrics, Mode, Records, RouteTable, Site, SiteHandle,
};
use verge_storage::IndexCopy;
use verge_store_embedded::Blobs;

#[derive(Args)]
pub struct ServeArgs {
    /// The server's config: [server], [admin], [[workers]], [[zones]], [limits], [outbound].
    #[arg(long, default_value = "verge.toml")]
    config: PathBuf,
    /// Serving threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(&args.config)?;
    // Routes that collide in verge.toml itself, or a queue two of its workers consume, are
    // named as its fault.
    RouteTable::new(&config.workers)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.file.display()))?;
    verge_config::check_one_consumer_each(&config.workers)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.file.display()))?;
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| config.file.with_file_name("verge-data"));
    // Wasm compiled once stays compiled across restarts.
    verge_wasm::keep_compiled_in(data_dir.join("compiled-wasm"));
    let mut configured = Vec::new();
    for worker in &config.workers {
        let mut worker = worker.clone();
        let secrets =
            verge_server::secrets::load(&data_dir, &worker.name).map_err(anyhow::Error::msg)?;
        verge_server::secrets::apply(&mut worker, &secrets);
        configured.push(Deployed::new(Arc::new(worker), 1));
    }
    // What was deployed through the admin API serves again after a restart.
    let records = Records::open(&data_dir).map_err(anyhow::Error::msg)?;
    let workers = records.restore(configured).map_err(anyhow::Error::msg)?;
    let routes = RouteTable::new(&workers)
        .map_err(|e| anyhow::anyhow!("{} with its deployed workers: {e}", config.file.display()))?;
    verge_config::check_one_consumer_each(&workers)
        .map_err(|e| anyhow::anyhow!("{} with its deployed workers: {e}", config.file.display()))?;
    let site = Site::new(
        workers,
        Mode::Serve(routes),
        config.zones.clone(),
        // Zone origins are the operator's own servers: the client reaches them whatever the policy.
        NetworkPolicy::public_only(config.outbound_allow.clone()),
    );
    let mut limits = WorkerLimits::default();
    limits.isolate.cpu_slice = Some(Duration::from_millis(config.limits.cpu_ms));
    limits.isolate.memory_bytes =
        usize::try_from(config.limits.memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    limits.subrequests = config.limits.subrequests;
    limits.wall_time = Some(Duration::from_millis(config.limits.wall_ms));
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    // Deploys may add storage bindings later: the stores are always open. At a PoP, the KV
    // file is the replica of the hub's, which workers read and write through the hub.
    let local_kv: Arc<dyn verge_storage::KvStore> = Arc::new(crate::state::open_kv(&data_dir)?);
    let edge_kv = config
        .cluster
        .as_ref()
        .map(|cluster| EdgeKv::new(local_kv.clone(), cluster.nats.join(", ")));
    let kv: Arc<dyn verge_storage::KvStore> = match &edge_kv {
        Some(edge_kv) => Arc::new(edge_kv.clone()),
        None => local_kv,
    };
    // At a PoP, D1 queries go to each database's primary PoP, this one's included.
    let local_sql: Arc<dyn verge_storage::SqlStore> = Arc::new(crate::state::open_sql(&data_dir)?);
    let edge_sql = config.cluster.as_ref().map(|cluster| {
        let hubs = cluster.nats.join(", ");
        EdgeSql::new(
            local_sql.clone(),
            &cluster.pop,
            hubs,
            cluster.d1_primaries.clone(),
        )
    });
    // At a PoP, each Durable Object is held by one PoP, which the others forward its events to.
    let edge_objects = config
        .cluster
        .as_ref()
        .map(|cluster| EdgeObjects::new(&cluster.pop, cluster.nats.join(", ")));
    // At a PoP whose R2 bytes are in S3, the index is shared too; else it is this server's.
    let (buckets, edge_index) = match (&config.cluster, &config.objects) {
        (Some(cluster), ObjectsConfig::S3 { .. }) => {
            let log = EdgeIndex::new(cluster.nats.join(", "));
            let buckets = crate::state::open_shared_buckets(
                &data_dir,
                blobs(&config.objects),
                Arc::new(log.clone()),
            )?;
            let buckets = Arc::new(buckets);
            (buckets.clone(), Some((log, buckets as Arc<dyn IndexCopy>)))
        }
        _ => (
            Arc::new(crate::state::open_buckets(
                &data_dir,
                blobs(&config.objects),
            )?),
            None,
        ),
    };
    // At a PoP, the queues are the hub's: a message sent anywhere is consumed once, anywhere.
    let edge_queues = config
        .cluster
        .as_ref()
        .map(|cluster| EdgeQueues::new(cluster.nats.join(", ")));
    let queues: Arc<dyn verge_storage::QueueStore> = match &edge_queues {
        Some(edge_queues) => Arc::new(edge_queues.clone()),
        None => Arc::new(crate::state::serve_queues(&data_dir)?),
    };
    let sql: Arc<dyn verge_storage::SqlStore> = match &edge_sql {
        Some(edge_sql) => Arc::new(edge_sql.clone()),
        None => local_sql,
    };
    let geo = Geo::server(
        config.geo_database.as_deref(),
        config.colo.clone(),
        config.trusted_proxies.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let mut options = EdgeOptions {
        limits,
        max_request_body: usize::try_from(config.limits.max_request_body).unwrap_or(usize::MAX),
        console: crate::dev::stdio_console(),
        origin: None,
        header_timeout: config.header_timeout,
        drain_timeout: config.drain_timeout,
        isolate_idle: Some(Duration::from_millis(config.limits.isolate_idle_ms)),
        isolate_budget: (config.limits.isolate_budget_mib > 0).then(|| {
            // The budget is the server's; each thread keeps its share.
            let bytes = config.limits.isolate_budget_mib.saturating_mul(1024 * 1024);
            usize::try_from(bytes / threads as u64).unwrap_or(usize::MAX)
        }),
        stores: Stores {
            kv: Some(kv),
            cache: Some(crate::state::open_cache(
                &data_dir,
                config.limits.cache_mib.saturating_mul(1024 * 1024),
                config.limits.cache_disk_mib.saturating_mul(1024 * 1024),
            )),
            sql: Some(sql),
            buckets: Some(buckets.clone()),
            // At a PoP, the copies of the objects it holds, each kept from its log in the hub.
            objects: Some(Arc::new(crate::state::open_objects(&data_dir)?)),
            queues: Some(queues),
        },
        object_network: edge_objects.clone(),
        geo: Arc::new(geo),
        crons: Crons::Scheduled,
        redirect_https: None,
        acme_challenges: None,
    };
    // A worker that does not compile stops the server before it listens, naming the worker.
    verge_server::check_workers(&site.workers, &options)
        .map_err(|(name, error)| anyhow::anyhow!("worker {name:?} could not be loaded: {error}"))?;

    let mut listeners = BoundListeners::bind(config.listen, threads)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let mut acme = None;
    if let Some(tls) = &config.tls {
        // A certificate that cannot serve stops the server before it listens, naming it.
        let certificates = Certificates::load(tls.certificates.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.file.display()))?;
        let server_config = certificates.server_config().map_err(anyhow::Error::msg)?;
        certificates.watch();
        if let Some(acme_config) = &tls.acme {
            let challenges = Arc::new(Challenges::default());
            options.acme_challenges = Some(challenges.clone());
            acme = Some(AcmeManager {
                config: acme_config.clone(),
                certificates: certificates.clone(),
                challenges,
                dir: data_dir.join("acme"),
            });
        }
        listeners = listeners
            .with_tls(tls.listen, server_config)
            .with_context(|| format!("cannot listen for HTTPS on {}", tls.listen))?;
    }
    let tls_shown = listeners.tls_addr();
    if config.redirect_http {
        options.redirect_https = tls_shown.map(|tls| tls.port());
    }
    let shown = listeners.local_addr();
    let site = SiteHandle::new(site);
    let metrics = Arc::new(match &config.cluster {
        Some(cluster) => Metrics::at_pop(&cluster.pop),
        None => Metrics::default(),
    });
    let admin = match &config.admin {
        Some(admin) => {
            let listener = std::net::TcpListener::bind(admin.listen)
                .with_context(|| format!("cannot listen for the admin API on {}", admin.listen))?;
            listener.set_nonblocking(true)?;
            Some((listener, admin.token.clone()))
        }
        None => None,
    };
    let admin_address = match &admin {
        Some((listener, _)) => Some(listener.local_addr()?),
        None => None,
    };
    // Geo DNS answers from the start; the PoPs it answers with arrive with their heartbeats.
    let directory = config.dns.as_ref().map(|_| Arc::new(Directory::default()));
    let dns_shown = match (&config.dns, &directory, &config.cluster) {
        (Some(dns), Some(directory), Some(cluster)) => {
            let server = serve_dns(
                dns.clone(),
                options.geo.clone(),
                directory.clone(),
                cluster.pop.clone(),
            )
            .with_context(|| format!("cannot serve DNS on {}", dns.listen))?;
            Some(server.local_addr)
        }
        _ => None,
    };
    // A point of presence joins its hub before it listens: a hub that refuses it stops it here.
    verge_server::start_control(ControlPlane {
        site: site.clone(),
        metrics: metrics.clone(),
        options: options.clone(),
        records,
        admin,
        cluster: config.cluster.clone(),
        kv: edge_kv,
        sql: edge_sql,
        queues: edge_queues,
        r2: edge_index,
        directory: directory.clone(),
        acme,
    })
    .with_context(|| match &config.cluster {
        Some(cluster) => format!("cannot start as PoP {:?} of the cluster", cluster.pop),
        None => "cannot start the admin API".to_owned(),
    })?;
    let serving = site.current();
    let server = verge_server::serve_site(listeners, site, metrics, options, false);
    server.wait_loaded()?;
    let mut stdout = std::io::stdout().lock();
    if let Some(admin) = admin_address {
        let _ = writeln!(stdout, "Admin API on http://{admin}");
    }
    if let Some(dns) = dns_shown {
        let _ = writeln!(stdout, "DNS on {dns} (UDP and TCP)");
    }
    if let Some(tls) = tls_shown {
        let _ = writeln!(stdout, "HTTPS on https://{tls}");
    }
    if let Some(cluster) = &config.cluster {
        let hubs = cluster.nats.join(", ");
        let _ = writeln!(stdout, "PoP {} of the cluster at {hubs}", cluster.pop);
    }
    for worker in &serving.workers {
        let patterns: Vec<&str> = (worker.config.routes.iter())
            .map(|r| r.pattern.as_str())
            .collect();
        let _ = writeln!(stdout, "  {} → {}", worker.config.name, patterns.join(", "));
    }
    drop(stdout);
    crate::signals::serve_until_stopped(server, shown);
    Ok(())
}

/// Where `[objects]` says R2 objects' bytes go.
fn blobs(objects: &ObjectsConfig) -> Blobs {
    match objects {
        ObjectsConfig::Filesystem => Blobs::Local,
        ObjectsConfig::S3 {
            bucket,
            endpoint,
            region,
            allow_http,
        } => Blobs::S3 {
            bucket: bucket.clone(),
            endpoint: endpoint.clone(),
            region: region.clone(),
            allow_http: *allow_http,
        },
    }
}
