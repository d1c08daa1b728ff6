//! `verge kv key put|get|list|delete`: a project's local KV data, as wrangler's `kv key`
//! commands with `--local` reach it. The store is the one `verge dev` uses (`.verge/state`, or
//! `--persist-to`), and cannot be open in a running server at the same time. With `--server`,
//! a running `verge serve`'s KV instead, through its admin API (at a PoP, the cluster's KV).

use crate::secret::{admin_request, refusal};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use verge_config::WorkerConfig;
use verge_storage::{check_kv_entry, check_kv_key, kv_expiration, unix_now, KvEntry, KvStore as _};
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
    #[command(flatten)]
    place: crate::state::DataPlace,
}

/// The KV a command works on.
enum Store {
    Local(RedbKv),
    /// A running server's, through its admin API: `/kv/namespaces/<namespace>/` and the token.
    Remote {
        base: String,
        token: String,
    },
}

impl Store {
    async fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> anyhow::Result<()> {
        match self {
            Self::Local(store) => Ok(store.put(namespace, key, entry).await?),
            Self::Remote { base, token } => {
                let mut url = format!("{base}values/{}?", encode(key));
                if let Some(at) = entry.expiration {
                    url.push_str(&format!("expiration={at}&"));
                }
                if let Some(metadata) = &entry.metadata {
                    url.push_str(&format!("metadata={}", encode(metadata)));
                }
                admin_call("PUT", &url, token, entry.value.to_vec()).map(drop)
            }
        }
    }

    async fn get(&self, namespace: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Self::Local(store) => Ok(store
                .get(namespace, key)
                .await?
                .map(|entry| entry.value.to_vec())),
            Self::Remote { base, token } => {
                let url = format!("{base}values/{}", encode(key));
                match admin_request("GET", &url, token, Vec::new())? {
                    (200, bytes) => Ok(Some(bytes)),
                    (404, _) => Ok(None),
                    (status, bytes) => anyhow::bail!("{}", refusal(status, &bytes)),
                }
            }
        }
    }

    async fn delete(&self, namespace: &str, key: &str) -> anyhow::Result<()> {
        match self {
            Self::Local(store) => Ok(store.delete(namespace, key).await?),
            Self::Remote { base, token } => {
                let url = format!("{base}values/{}", encode(key));
                admin_call("DELETE", &url, token, Vec::new()).map(drop)
            }
        }
    }

    /// One page of keys as wrangler prints them, and the cursor for the next.
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> anyhow::Result<(Vec<serde_json::Value>, Option<String>)> {
        match self {
            Self::Local(store) => {
                let page = store.list(namespace, prefix, cursor, 1000).await?;
                let keys = page
                    .keys
                    .into_iter()
                    .map(verge_server::listed_key)
                    .collect();
                Ok((keys, page.cursor))
            }
            Self::Remote { base, token } => {
                let mut url = format!("{base}keys?prefix={}", encode(prefix));
                if let Some(cursor) = cursor {
                    url.push_str(&format!("&cursor={}", encode(cursor)));
                }
                let bytes = admin_call("GET", &url, token, Vec::new())?;
                let page: serde_json::Value =
                    serde_json::from_slice(&bytes).context("the server's key list is not JSON")?;
                let keys = page["keys"].as_array().cloned().unwrap_or_default();
                Ok((keys, page["cursor"].as_str().map(str::to_owned)))
            }
        }
    }
}

/// `text` percent-encoded for a URL's path segment or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Calls the admin API; the body of a success, or an error with the server's message.
fn admin_call(method: &str, url: &str, token: &str, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    match admin_request(method, url, token, body)? {
        (200, bytes) => Ok(bytes),
        (status, bytes) => anyhow::bail!("{}", refusal(status, &bytes)),
    }
}

impl Target {
    /// The namespace's name in the store, and the store.
    fn open(&self) -> anyhow::Result<(String, Store)> {
        let project = WorkerConfig::locate(&self.place.config).ok();
        let namespace = match (&self.namespace_id, &self.binding) {
            (Some(id), _) => id.clone(),
            (None, Some(binding)) => {
                let project = project.as_ref().with_context(|| {
                    format!("no wrangler config at {}", self.place.config.display())
                })?;
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
        if let Some((server, token)) = self.place.server()? {
            let base = format!("{server}/kv/namespaces/{}/", encode(&namespace));
            return Ok((namespace, Store::Remote { base, token }));
        }
        let root = project
            .as_ref()
            .map_or(Path::new("."), |project| &project.root);
        let store =
            crate::state::open_kv(&crate::state::dir(root, self.place.persist_to.as_deref()))?;
        Ok((namespace, Store::Local(store)))
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
                let value = store
                    .get(&namespace, &key)
                    .await?
                    .with_context(|| format!("key \"{key}\" not found in namespace {namespace}"))?;
                std::io::stdout().write_all(&value)?;
            }
            KeyCommand::List { target, prefix } => {
                let (namespace, store) = target.open()?;
                let mut keys = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let (page, next) = store.list(&namespace, &prefix, cursor.as_deref()).await?;
                    keys.extend(page);
                    match next {
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
