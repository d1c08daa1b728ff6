//! `verge dev`: load a project, check that it starts, then serve it on one address.

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_runtime::{LogLevel, Stores, WorkerLimits};
use verge_server::{BoundListeners, Crons, Deployed, EdgeOptions, Geo, LogSink, Site, SiteHandle};
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
    /// Where bindings keep their data (KV, D1, R2, Durable Objects); by default `.verge/state` in the project.
    #[arg(long, value_name = "DIR")]
    persist_to: Option<PathBuf>,
    /// Run the scheduled handler when `/__scheduled?cron=…` is requested, as wrangler does.
    #[arg(long)]
    test_scheduled: bool,
    /// The JavaScript engine: `quickjs`, or `jsc` (JavaScriptCore: opt-in, for trusted code;
    /// the Web APIs alone so far, no bindings; needs `libjavascriptcoregtk-4.1-0`).
    #[arg(long, default_value = "quickjs")]
    engine: verge_config::Engine,
}

/// What `verge dev`'s Cache API may hold in memory, and on disk behind it.
const DEV_CACHE_BYTES: u64 = 64 * 1024 * 1024;
const DEV_CACHE_DISK_BYTES: u64 = 256 * 1024 * 1024;

/// The stores behind a project's bindings: KV, SQL, buckets and queues opened under `state`
/// only if it has bindings of that kind, and a cache in memory in front of one in `state`.
fn open_stores(config: &WorkerConfig, state: &std::path::Path) -> anyhow::Result<Stores> {
    let mut stores = Stores {
        kv: None,
        cache: Some(crate::state::open_cache(
            state,
            DEV_CACHE_BYTES,
            DEV_CACHE_DISK_BYTES,
        )),
        sql: None,
        buckets: None,
        objects: None,
        queues: None,
    };
    if !config.durable_objects.is_empty() {
        stores.objects = Some(Arc::new(crate::state::open_objects(state)?));
    }
    if !config.kv_namespaces.is_empty() {
        stores.kv = Some(Arc::new(crate::state::open_kv(state)?));
    }
    if !config.d1_databases.is_empty() {
        stores.sql = Some(Arc::new(crate::state::open_sql(state)?));
    }
    if !config.r2_buckets.is_empty() {
        stores.buckets = Some(Arc::new(crate::state::open_buckets(state, Blobs::Local)?));
    }
    if !config.queues.producers.is_empty() || !config.queues.consumers.is_empty() {
        stores.queues = Some(Arc::new(crate::state::serve_queues(state)?));
    }
    Ok(stores)
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let project = Project {
        path: args.path.clone(),
        vars: args.vars.clone(),
        engine: args.engine,
    };
    let config = project.config()?;
    let console = stdio_console();
    let limits = WorkerLimits::default();
    let state = crate::state::dir(&config.root, args.persist_to.as_deref());
    // Beside the bindings' data, which is not watched: Wasm compiled once stays compiled
    // across `verge dev` runs.
    verge_wasm::keep_compiled_in(state.join("compiled-wasm"));
    let stores = open_stores(&config, &state)?;

    let addr = SocketAddr::new(args.ip, args.port);
    let listeners = BoundListeners::bind(addr, args.threads)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shown = listeners.local_addr();
    let entry = config.root.join(config.main.as_deref().unwrap_or_default());
    let site = SiteHandle::new(Site::single(Arc::new(config)));
    let options = EdgeOptions {
        limits,
        max_request_body: MAX_REQUEST_BODY,
        console,
        origin: args.origin,
        header_timeout: std::time::Duration::from_secs(10),
        drain_timeout: std::time::Duration::from_secs(5),
        isolate_idle: None,
        isolate_budget: None,
        stores,
        object_network: None,
        geo: Arc::new(Geo::local()),
        redirect_https: None,
        acme_challenges: None,
        crons: if args.test_scheduled {
            Crons::OnDemand
        } else {
            Crons::Off
        },
    };
    let server = verge_server::serve_site(
        listeners,
        site.clone(),
        Arc::default(),
        options.clone(),
        true,
    );
    // A script that does not compile or registers no handler is reported here, with its file and
    // line, and nothing is served.
    let progress = LoadProgress::start(site.current().workers[0].modules.clone());
    let loaded = server.wait_loaded();
    progress.finish(loaded.is_ok());
    loaded.with_context(|| format!("could not load worker {}", entry.display()))?;
    watch_and_reload(project, site, options, &state);
    crate::signals::serve_until_stopped(server, shown);
    Ok(())
}

/// The progress line of the first load: on a terminal, how many modules are loaded so far,
/// redrawn while they load; then, anywhere, how many loaded in how long.
struct LoadProgress {
    modules: verge_runtime::ModuleCache,
    started: std::time::Instant,
    stop: Option<std::sync::mpsc::Sender<()>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl LoadProgress {
    fn start(modules: verge_runtime::ModuleCache) -> Self {
        use std::io::IsTerminal as _;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let live = std::io::stderr().is_terminal().then(|| {
            let modules = modules.clone();
            std::thread::spawn(move || {
                let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                for frame in frames.iter().cycle() {
                    let tick = std::time::Duration::from_millis(80);
                    if stopped.recv_timeout(tick) != Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        break;
                    }
                    let mut stderr = std::io::stderr().lock();
                    let _ = write!(
                        stderr,
                        "\r\x1b[2K{frame} loading modules: {}",
                        modules.len()
                    );
                    let _ = stderr.flush();
                }
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            })
        });
        Self {
            modules,
            started: std::time::Instant::now(),
            stop: Some(stop),
            ticker: live,
        }
    }

    fn finish(mut self, loaded: bool) {
        drop(self.stop.take());
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        if loaded {
            let count = self.modules.len();
            eprintln!(
                "Loaded {count} module{} in {:.0} ms",
                if count == 1 { "" } else { "s" },
                self.started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
}

/// How often the project's files are looked at for changes.
const WATCH_PERIOD: std::time::Duration = std::time::Duration::from_millis(300);

/// Watches the project and, when a file changes, loads it again as a new version: the server
/// keeps its listener, requests in flight finish on the old version, new ones get the new. A
/// version that does not load is reported and the old one keeps serving. (Storage opened at
/// start stays as it was: a binding of a kind the project did not have needs a restart.)
/// The bindings' data (`state`, which `--persist-to` may put inside the project) is not watched:
/// its writes are no change of the code.
fn watch_and_reload(
    project: Project,
    site: SiteHandle,
    options: EdgeOptions,
    state: &std::path::Path,
) {
    let watched = site.current().workers[0].config.root.clone();
    let state = std::fs::canonicalize(state).unwrap_or_else(|_| state.to_owned());
    let fingerprint = move |root: &std::path::Path| fingerprint(root, &state);
    let spawned = std::thread::Builder::new()
        .name("verge-reload".into())
        .spawn(move || {
            let mut seen = fingerprint(&watched);
            let mut version = 1;
            loop {
                std::thread::sleep(WATCH_PERIOD);
                let now = fingerprint(&watched);
                if now == seen {
                    continue;
                }
                seen = now;
                version += 1;
                let started = std::time::Instant::now();
                match reload(&project, version, &options) {
                    Ok(deployed) => {
                        site.replace(Site::single_version(deployed));
                        println!(
                            "⎔ Reloaded in {:.1} ms",
                            started.elapsed().as_secs_f64() * 1000.0
                        );
                    }
                    Err(error) => eprintln!(
                        "✘ [ERROR] the change does not load; the previous version keeps serving: \
                         {error:#}"
                    ),
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("files will not be watched for changes: {error}");
    }
}

/// What `verge dev` was asked to run: the project, `--var` overrides and the engine.
struct Project {
    path: PathBuf,
    vars: Vec<String>,
    engine: verge_config::Engine,
}

impl Project {
    /// The project's config as it is on disk now, with the command line's overrides.
    fn config(&self) -> anyhow::Result<WorkerConfig> {
        let mut config = WorkerConfig::locate(&self.path)?;
        config.apply_dev_vars()?;
        config.apply_var_overrides(&self.vars)?;
        config.engine = self.engine;
        Ok(config)
    }
}

/// The project as it is now, checked by loading it once.
fn reload(project: &Project, version: u64, options: &EdgeOptions) -> anyhow::Result<Deployed> {
    let config = project.config()?;
    let deployed = Deployed::new(Arc::new(config), version);
    verge_server::check_workers(std::slice::from_ref(&deployed), options)
        .map_err(|(_, error)| anyhow::anyhow!("{error}"))?;
    Ok(deployed)
}

/// Every file of the project with its size and modification time, in order; dot-directories
/// (`.verge` state, `.git`), `node_modules` and the directory `state` are not the project's
/// code. At most 10,000.
fn fingerprint(
    root: &std::path::Path,
    state: &std::path::Path,
) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "node_modules" || files.len() >= 10_000 {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                let path = entry.path();
                if std::fs::canonicalize(&path).is_ok_and(|path| path == state) {
                    continue;
                }
                dirs.push(path);
            } else {
                let modified = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
                files.push((entry.path(), metadata.len(), modified));
            }
        }
    }
    files.sort();
    files
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
