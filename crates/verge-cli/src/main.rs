//! The `verge` command: wrangler's commands and flags, where the same job exists.

mod cache;
mod cluster;
mod d1;
mod deploy;
mod dev;
mod init;
mod kv;
mod queues;
mod r2;
mod rollback;
mod secret;
mod serve;
mod signals;
mod state;
mod tail;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "verge",
    version,
    about = "Run Cloudflare Workers scripts on your own machines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a Workers project (or one script) on this machine, as `wrangler dev` does.
    Dev(dev::DevArgs),
    /// Make a starter project: a TypeScript worker, its config and a test.
    Init(init::InitArgs),
    /// Serve many workers from a verge.toml, routed by their wrangler routes.
    Serve(serve::ServeArgs),
    /// Upload a project to a running `verge serve` (admin API).
    Deploy(deploy::DeployArgs),
    /// Roll a worker on a running `verge serve` back to an earlier version.
    Rollback(rollback::RollbackArgs),
    /// Purge a running `verge serve`'s Cache API (every PoP's, in a cluster).
    Cache(cache::CacheArgs),
    /// The points of presence of a running `verge serve`'s cluster.
    Cluster(cluster::ClusterArgs),
    /// Follow a worker's console output and exceptions on a running `verge serve`.
    Tail(tail::TailArgs),
    /// Read and write a project's local KV data.
    Kv(kv::KvArgs),
    /// Run SQL and migrations on a project's local D1 databases.
    D1(d1::D1Args),
    /// Read and write objects of a project's local R2 buckets.
    R2(r2::R2Args),
    /// List and purge queues: a project's local ones, or a running `verge serve`'s.
    Queues(queues::QueuesArgs),
    /// Set, list and delete a worker's secrets on a running `verge serve`.
    Secret(secret::SecretArgs),
}

fn main() -> ExitCode {
    init_logs();
    // One TLS provider for every client and server in the process (ACME's client asks for
    // the default one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Init(args) => init::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Cache(args) => cache::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Kv(args) => kv::run(args),
        Command::D1(args) => d1::run(args),
        Command::R2(args) => r2::run(args),
        Command::Queues(args) => queues::run(args),
        Command::Secret(args) => secret::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("✘ [ERROR] {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: readable lines by default, or one JSON object per event (with a
/// timestamp and the event's fields, such as `worker`) when `VERGE_LOG_FORMAT=json`, for a log
/// pipeline. `VERGE_LOG` filters them (`info` by default).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VERGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("VERGE_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().with_current_span(false).init();
    } else {
        builder.without_time().with_target(false).init();
    }
}
