//! `verge queues list|purge`: a project's local queues (the store `verge dev` uses, which may be
//! running meanwhile), or with `--server` a running `verge serve`'s, through its admin API.

use crate::secret::call_admin;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use verge_config::WorkerConfig;
use verge_storage::QueueStore as _;

#[derive(Args)]
pub struct QueuesArgs {
    #[command(subcommand)]
    command: QueuesCommand,
}

#[derive(Subcommand)]
enum QueuesCommand {
    /// Lists the queues with their messages and backlog (what may be delivered now).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Removes every message of a queue.
    Purge {
        queue: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Where the queues are.
#[derive(Args)]
struct Target {
    /// The project directory or its wrangler config.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// Where the data is; by default `.verge/state` in the project, as for `verge dev`.
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    persist_to: Option<PathBuf>,
    /// A running `verge serve`'s admin API (e.g. http://127.0.0.1:9000) whose queues to use.
    #[arg(long)]
    server: Option<String>,
    /// The admin token, with --server (or set VERGE_TOKEN).
    #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Target {
    /// The running server's admin API and token, if one is named.
    fn server(&self) -> anyhow::Result<Option<(String, &str)>> {
        match (&self.server, &self.token) {
            (Some(server), Some(token)) => {
                Ok(Some((server.trim_end_matches('/').to_owned(), token)))
            }
            (Some(_), None) => anyhow::bail!("--server needs --token (or VERGE_TOKEN)"),
            (None, _) => Ok(None),
        }
    }

    /// The project's local store, and its config.
    fn local(&self) -> anyhow::Result<(verge_store_embedded::SqliteQueues, WorkerConfig)> {
        let config = WorkerConfig::locate(&self.config)?;
        let dir = crate::state::dir(&config.root, self.persist_to.as_deref());
        Ok((crate::state::open_queues(&dir)?, config))
    }
}

pub fn run(args: QueuesArgs) -> anyhow::Result<()> {
    match args.command {
        QueuesCommand::List { target } => {
            let rows: Vec<(String, u64, u64)> = match target.server()? {
                Some((server, token)) => {
                    let listed = call_admin("GET", &format!("{server}/queues"), token, None)?;
                    let rows = listed.as_array().into_iter().flatten().map(|row| {
                        let queue = row["queue"].as_str().unwrap_or_default().to_owned();
                        let count = |field: &str| row[field].as_u64().unwrap_or(0);
                        (queue, count("messages"), count("backlog"))
                    });
                    rows.collect()
                }
                None => {
                    let (store, config) = target.local()?;
                    let counts = block_on(store.counts())?;
                    verge_storage::queue_listing(config.queues.names(), counts)
                        .into_iter()
                        .map(|counted| (counted.queue, counted.messages, counted.ready))
                        .collect()
                }
            };
            println!("{:<40} {:>10} {:>10}", "QUEUE", "MESSAGES", "BACKLOG");
            for (queue, messages, backlog) in rows {
                println!("{queue:<40} {messages:>10} {backlog:>10}");
            }
            Ok(())
        }
        QueuesCommand::Purge { queue, target } => {
            verge_config::check_queue_name(&queue).map_err(anyhow::Error::msg)?;
            let purged = match target.server()? {
                Some((server, token)) => {
                    let url = format!("{server}/queues/{queue}/messages");
                    call_admin("DELETE", &url, token, None)?["purged"]
                        .as_u64()
                        .unwrap_or(0)
                }
                None => {
                    let (store, _) = target.local()?;
                    block_on(store.purge(&queue))?
                }
            };
            println!("Purged {purged} messages from {queue}");
            Ok(())
        }
    }
}

/// Runs a store's future to its end.
fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, verge_storage::StorageError>>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future)?)
}
