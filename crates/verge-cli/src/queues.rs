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

    /// The project's local store, and the queues its config names.
    fn local(&self) -> anyhow::Result<(verge_store_embedded::SqliteQueues, Vec<String>)> {
        let config = WorkerConfig::locate(&self.config)?;
        let dir = crate::state::dir(&config.root, self.persist_to.as_deref());
        let named = &config.queues;
        let mut queues: Vec<String> = named
            .producers
            .iter()
            .map(|p| p.queue.clone())
            .chain(named.consumers.iter().map(|c| c.queue.clone()))
            .chain(
                named
                    .consumers
                    .iter()
                    .filter_map(|c| c.dead_letter_queue.clone()),
            )
            .collect();
        queues.sort();
        queues.dedup();
        Ok((crate::state::open_queues(&dir)?, queues))
    }
}

pub fn run(args: QueuesArgs) -> anyhow::Result<()> {
    match args.command {
        QueuesCommand::List { target } => {
            let listed = match target.server()? {
                Some((server, token)) => {
                    call_admin("GET", &format!("{server}/queues"), token, None)?
                }
                None => {
                    let (store, named) = target.local()?;
                    let counts = block_on(store.counts())?;
                    let mut rows: std::collections::BTreeMap<String, (u64, u64)> =
                        named.into_iter().map(|queue| (queue, (0, 0))).collect();
                    for counted in counts {
                        rows.insert(counted.queue, (counted.messages, counted.ready));
                    }
                    let rows: Vec<serde_json::Value> = rows
                        .into_iter()
                        .map(|(queue, (messages, backlog))| {
                            serde_json::json!({ "queue": queue, "messages": messages, "backlog": backlog })
                        })
                        .collect();
                    serde_json::json!(rows)
                }
            };
            println!("{:<40} {:>10} {:>10}", "QUEUE", "MESSAGES", "BACKLOG");
            for row in listed.as_array().into_iter().flatten() {
                println!(
                    "{:<40} {:>10} {:>10}",
                    row["queue"].as_str().unwrap_or_default(),
                    row["messages"],
                    row["backlog"]
                );
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
