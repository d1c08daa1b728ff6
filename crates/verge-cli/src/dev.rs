//! `verge dev`: load a project, check that it starts, then serve it on one address.

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_runtime::{LogLevel, Storage, WorkerLimits};
use verge_server::{BoundListeners, Crons, EdgeOptions, Geo, LogSink};
use verge_store_embedded::Blobs;

/// The largest request body a worker is given: Cloudflare's Enterprise limit (500 MB). Bodies
/// stream, so this bounds what reaches the worker, not memory.
const MAX_REQUEST_BODY: usize = 500 * 1000 * 1000;

#[derive(Args)]
pub struct DevArgs {
    /// A project directory holding wrangler.json, wrangler.jsonc or wrangler.toml, one of those
    /// files, or a single worker script.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Add or override a var, as NAME:VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME:VALUE")]
    vars: Vec<String>,
    /// An origin server behind the worker (http or https URL): requests reach the worker with
    /// its host in their URL, so `fetch(request)` goes there, and a worker that called
    /// `ctx.passThroughOnException()` and then throws is bypassed to it.
    #[arg(long, value_name = "URL", value_parser = parse_origin)]
    origin: Option<url::Url>,
    /// Serving threads, each with its own isolate of the worker. One keeps a single global
    /// scope, as wrangler dev has.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Where bindings keep their data (KV, D1, R2); by default `.verge/state` in the project.
    #[arg(long, value_name = "DIR")]
    persist_to: Option<PathBuf>,
    /// Run the scheduled handler when `/__scheduled?cron=…` is requested, as wrangler does.
    #[arg(long)]
    test_scheduled: bool,
}

/// What `verge dev`'s Cache API may hold in memory, and on disk behind it.
const DEV_CACHE_BYTES: u64 = 64 * 1024 * 1024;
const DEV_CACHE_DISK_BYTES: u64 = 256 * 1024 * 1024;

/// The storage behind a project's bindings: KV, SQL and buckets opened under `state` only if
/// it has bindings of that kind, and a cache in memory in front of one in `state`.
fn open_storage(config: &WorkerConfig, state: &std::path::Path) -> anyhow::Result<Storage> {
    let mut storage = Storage {
        kv: None,
        cache: Some(crate::state::open_cache(
            state,
            DEV_CACHE_BYTES,
            DEV_CACHE_DISK_BYTES,
        )),
        sql: None,
        buckets: None,
    };
    if !config.kv_namespaces.is_empty() {
        storage.kv = Some(Arc::new(crate::state::open_kv(state)?));
    }
    if !config.d1_databases.is_empty() {
        storage.sql = Some(Arc::new(crate::state::open_sql(state)?));
    }
    if !config.r2_buckets.is_empty() {
        storage.buckets = Some(Arc::new(crate::state::open_buckets(state, Blobs::Local)?));
    }
    Ok(storage)
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let mut config = WorkerConfig::locate(&args.path)?;
    config.apply_dev_vars()?;
    config.apply_var_overrides(&args.vars)?;
    let console = stdio_console();
    let limits = WorkerLimits::default();
    let state = crate::state::dir(&config.root, args.persist_to.as_deref());
    let storage = open_storage(&config, &state)?;

    let addr = SocketAddr::new(args.ip, args.port);
    let listeners = BoundListeners::bind(addr, args.threads)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shown = listeners.local_addr();
    let entry = config.root.join(&config.main);
    let server = verge_server::serve_worker(
        listeners,
        Arc::new(config),
        EdgeOptions {
            limits,
            max_request_body: MAX_REQUEST_BODY,
            console,
            origin: args.origin,
            header_timeout: std::time::Duration::from_secs(10),
            drain_timeout: std::time::Duration::from_secs(5),
            isolate_idle: None,
            isolate_budget: None,
            storage,
            geo: Arc::new(Geo::local()),
            crons: if args.test_scheduled {
                Crons::OnDemand
            } else {
                Crons::Off
            },
        },
    );
    // A script that does not compile or registers no handler is reported here, with its file and
    // line, and nothing is served.
    server
        .wait_loaded()
        .with_context(|| format!("could not load worker {}", entry.display()))?;
    crate::signals::serve_until_stopped(server, shown);
    Ok(())
}

/// Worker output goes to stdout (log, info, debug) and stderr (warn, error), unadorned, as
/// `wrangler dev` prints it (`verge serve` has already prefixed each line with its worker).
pub fn stdio_console() -> LogSink {
    Arc::new(|level, text| {
        let _ = match level {
            LogLevel::Debug | LogLevel::Log => writeln!(std::io::stdout().lock(), "{text}"),
            LogLevel::Warn | LogLevel::Error => writeln!(std::io::stderr().lock(), "{text}"),
        };
    })
}

fn parse_origin(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err("expected an http:// or https:// URL with a host".into());
    }
    Ok(url)
}
