//! `verge queues list|purge`: a project's local queues (the store `verge dev` uses, which may be
//! running meanwhile), or with `--server` a running `verge serve`'s, through its admin API.

use crate::secret::call_admin;
use crate::state::DataPlace;
use clap::{Args, Subcommand};
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
        target: DataPlace,
    },
    /// Removes every message of a queue.
    Purge {
        queue: String,
        #[command(flatten)]
        target: DataPlace,
    },
}

/// The local store `place` names, and its project's config.
fn local(place: &DataPlace) -> anyhow::Result<(verge_store_embedded::SqliteQueues, WorkerConfig)> {
    let config = WorkerConfig::locate(&place.config)?;
    let dir = crate::state::dir(&config.root, place.persist_to.as_deref());
    Ok((crate::state::open_queues(&dir)?, config))
}

pub fn run(args: QueuesArgs) -> anyhow::Result<()> {
    match args.command {
        QueuesCommand::List { target } => {
            let rows: Vec<(String, u64, u64)> = match target.server()? {
                Some((server, token)) => {
                    let listed = call_admin("GET", &format!("{server}/queues"), &token, None)?;
                    let rows = listed.as_array().into_iter().flatten().map(|row| {
                        let queue = row["queue"].as_str().unwrap_or_default().to_owned();
                        let count = |field: &str| row[field].as_u64().unwrap_or(0);
                        (queue, count("messages"), count("backlog"))
                    });
                    rows.collect()
                }
                None => {
                    let (store, config) = local(&target)?;
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
                    call_admin("DELETE", &url, &token, None)?["purged"]
                        .as_u64()
                        .unwrap_or(0)
                }
                None => {
                    let (store, _) = local(&target)?;
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
