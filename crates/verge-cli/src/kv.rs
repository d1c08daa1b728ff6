//! `verge kv key put|get|list|delete`: a project's local KV data, as wrangler's `kv key`
//! commands with `--local` reach it. The store is the one `verge dev` uses (`.verge/state`, or
//! `--persist-to`; point that at a server's `data_dir` for `verge serve`'s), and cannot be open
//! in a running server at the same time.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use verge_config::WorkerConfig;
use verge_storage::{check_kv_entry, check_kv_key, kv_expiration, unix_now, KvEntry, KvStore};
use verge_store_embedded::RedbKv;

#[derive(Args)]
pub struct KvArgs {
    #[command(subcommand)]
    command: KvCommand,
}

#[derive(Subcommand)]
enum KvCommand {
    /// Individual keys of a namespace.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Writes a value (the argument, or a file's bytes with --path).
    Put {
        key: String,
        value: Option<String>,
        #[command(flatten)]
        target: Target,
        /// Read the value from this file instead.
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        path: Option<PathBuf>,
        /// Seconds from now until the key expires (at least 60).
        #[arg(long)]
        ttl: Option<u64>,
        /// When the key expires, in seconds since the Unix epoch.
        #[arg(long, conflicts_with = "ttl")]
        expiration: Option<u64>,
        /// Metadata, as JSON.
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
    },
    /// Writes a key's value to stdout as it is stored (bytes).
    Get {
        key: String,
        #[command(flatten)]
        target: Target,
    },
    /// Lists keys as JSON, as wrangler prints them.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Removes a key.
    Delete {
        key: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Which namespace, and where its data is.
#[derive(Args)]
struct Target {
    /// The binding's name in the project's wrangler config.
    #[arg(long, required_unless_present = "namespace_id")]
    binding: Option<String>,
    /// The namespace id itself.
    #[arg(long, conflicts_with = "binding")]
    namespace_id: Option<String>,
    /// The project directory or its wrangler config.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// Where the data is; by default `.verge/state` in the project, as for `verge dev`.
    #[arg(long, value_name = "DIR")]
    persist_to: Option<PathBuf>,
}

impl Target {
    /// The namespace's name in the store, and the store.
    fn open(&self) -> anyhow::Result<(String, RedbKv)> {
        let project = WorkerConfig::locate(&self.config).ok();
        let namespace = match (&self.namespace_id, &self.binding) {
            (Some(id), _) => id.clone(),
            (None, Some(binding)) => {
                let project = project
                    .as_ref()
                    .with_context(|| format!("no wrangler config at {}", self.config.display()))?;
                project
                    .kv_namespaces
                    .iter()
                    .find(|kv| &kv.binding == binding)
                    .map(|kv| kv.namespace().to_owned())
                    .with_context(|| {
                        format!("no KV binding named {binding} in the wrangler config")
                    })?
            }
            (None, None) => anyhow::bail!("name the namespace with --binding or --namespace-id"),
        };
        let root = project
            .as_ref()
            .map_or(Path::new("."), |project| &project.root);
        let store = crate::state::open_kv(&crate::state::dir(root, self.persist_to.as_deref()))?;
        Ok((namespace, store))
    }
}

pub fn run(args: KvArgs) -> anyhow::Result<()> {
    let KvCommand::Key(command) = args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            KeyCommand::Put {
                key,
                value,
                target,
                path,
                ttl,
                expiration,
                metadata,
            } => {
                let value = match (value, path) {
                    (Some(value), None) => value.into_bytes(),
                    (None, Some(path)) => std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    _ => anyhow::bail!("give the value as an argument or with --path FILE"),
                };
                if let Some(metadata) = &metadata {
                    serde_json::from_str::<serde_json::Value>(metadata)
                        .context("--metadata is not JSON")?;
                }
                let expiration = kv_expiration(expiration, ttl, unix_now())?;
                let entry = KvEntry {
                    value: value.into(),
                    expiration,
                    metadata,
                };
                check_kv_key(&key)?;
                check_kv_entry(&entry)?;
                let (namespace, store) = target.open()?;
                store.put(&namespace, &key, entry).await?;
                eprintln!("Wrote key \"{key}\" to namespace {namespace}.");
            }
            KeyCommand::Get { key, target } => {
                check_kv_key(&key)?;
                let (namespace, store) = target.open()?;
                let entry = store
                    .get(&namespace, &key)
                    .await?
                    .with_context(|| format!("key \"{key}\" not found in namespace {namespace}"))?;
                std::io::stdout().write_all(&entry.value)?;
            }
            KeyCommand::List { target, prefix } => {
                let (namespace, store) = target.open()?;
                let mut keys = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let page = store
                        .list(&namespace, &prefix, cursor.as_deref(), 1000)
                        .await?;
                    for key in page.keys {
                        let mut shown = serde_json::json!({ "name": key.name });
                        if let Some(at) = key.expiration {
                            shown["expiration"] = at.into();
                        }
                        if let Some(metadata) = key.metadata {
                            shown["metadata"] = serde_json::from_str(&metadata)
                                .unwrap_or(serde_json::Value::String(metadata));
                        }
                        keys.push(shown);
                    }
                    match page.cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                println!("{}", serde_json::to_string_pretty(&keys)?);
            }
            KeyCommand::Delete { key, target } => {
                check_kv_key(&key)?;
                let (namespace, store) = target.open()?;
                store.delete(&namespace, &key).await?;
                eprintln!("Deleted key \"{key}\" from namespace {namespace}.");
            }
        }
        Ok(())
    })
}
