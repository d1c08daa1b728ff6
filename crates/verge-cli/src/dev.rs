//! `verge dev`: load a project, check that it starts, then serve it on one address.

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_runtime::{LogLevel, Worker, WorkerLimits};
use verge_server::{BoundListeners, EdgeOptions, LogSink};

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
    /// Serving threads, each with its own isolate of the worker. One keeps a single global
    /// scope, as wrangler dev has.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let mut config = WorkerConfig::locate(&args.path)?;
    config.apply_var_overrides(&args.vars)?;
    let console = dev_console();
    let limits = WorkerLimits::default();

    // Load once before listening, so that a script that does not compile or registers no
    // handler is reported here, with its file and line, and nothing is served.
    check_loads(&config, &limits, &console).with_context(|| {
        format!(
            "could not load worker {}",
            config.root.join(&config.main).display()
        )
    })?;

    let addr = SocketAddr::new(args.ip, args.port);
    let listeners = BoundListeners::bind(addr, args.threads)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shown = listeners.local_addr();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Ready on http://{shown}");
    let _ = stdout.flush();
    drop(stdout);

    verge_server::serve_worker(
        listeners,
        Arc::new(config),
        EdgeOptions {
            limits,
            max_request_body: 100 * 1024 * 1024,
            console,
        },
    );
    anyhow::bail!("the server stopped: no serving thread could run the worker")
}

fn check_loads(
    config: &WorkerConfig,
    limits: &WorkerLimits,
    console: &LogSink,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let sink = console.clone();
    local.block_on(&runtime, async {
        let console: verge_runtime::ConsoleSink =
            std::rc::Rc::new(move |level, text| sink(level, text));
        Worker::load(config, limits.clone(), console)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Worker output goes to stdout (log, info, debug) and stderr (warn, error), unadorned, as
/// `wrangler dev` prints it.
fn dev_console() -> LogSink {
    Arc::new(|level, text| {
        let _ = match level {
            LogLevel::Debug | LogLevel::Log => writeln!(std::io::stdout().lock(), "{text}"),
            LogLevel::Warn | LogLevel::Error => writeln!(std::io::stderr().lock(), "{text}"),
        };
    })
}
