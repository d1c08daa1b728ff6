//! `verge r2 object put|get|delete BUCKET/KEY`: a project's local object buckets, as wrangler's
//! `r2 object` commands with `--local` reach them. The buckets are the ones `verge dev` uses
//! (`.verge/state/r2`, or under `--persist-to`; point that at a server's `data_dir` for
//! `verge serve`'s); a running server may use them at the same time.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures_util::StreamExt as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use verge_config::WorkerConfig;
use verge_storage::{BucketStore, ByteStream, Conditions, GetOutcome, NewObject};
use verge_store_embedded::Blobs;

#[derive(Args)]
pub struct R2Args {
    #[command(subcommand)]
    command: R2Command,
}

#[derive(Subcommand)]
enum R2Command {
    /// Objects of a bucket.
    #[command(subcommand)]
    Object(ObjectCommand),
}

#[derive(Subcommand)]
enum ObjectCommand {
    /// Stores an object: a file's bytes, or stdin's with --pipe.
    Put {
        #[command(flatten)]
        target: Target,
        /// Read the object from this file.
        #[arg(long, value_name = "FILE", required_unless_present = "pipe")]
        file: Option<PathBuf>,
        /// Read the object from stdin.
        #[arg(long, conflicts_with = "file")]
        pipe: bool,
        #[arg(long, value_name = "TYPE")]
        content_type: Option<String>,
        #[arg(long)]
        content_disposition: Option<String>,
        #[arg(long)]
        content_encoding: Option<String>,
        #[arg(long)]
        content_language: Option<String>,
        #[arg(long)]
        cache_control: Option<String>,
    },
    /// Writes an object's bytes to a file, or to stdout.
    Get {
        #[command(flatten)]
        target: Target,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Write to stdout (the default).
        #[arg(long, conflicts_with = "file")]
        pipe: bool,
    },
    /// Removes an object.
    Delete {
        #[command(flatten)]
        target: Target,
    },
}

/// Which object, and where its data is.
#[derive(Args)]
struct Target {
    /// `BUCKET/KEY`: the bucket's name (`bucket_name` in wrangler config) and the object's key.
    object_path: String,
    /// The project directory or its wrangler config.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// Where the data is; by default `.verge/state` in the project, as for `verge dev`.
    #[arg(long, value_name = "DIR")]
    persist_to: Option<PathBuf>,
}

impl Target {
    /// The bucket, the key and the store.
    fn open(&self) -> anyhow::Result<(String, String, verge_store_embedded::ObjectBuckets)> {
        let (bucket, key) = self
            .object_path
            .split_once('/')
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
            .with_context(|| {
                format!(
                    "{:?} is not BUCKET/KEY: name the bucket, a slash, then the key",
                    self.object_path
                )
            })?;
        let project = WorkerConfig::locate(&self.config).ok();
        let root = project
            .as_ref()
            .map_or(Path::new("."), |project| &project.root);
        let dir = crate::state::dir(root, self.persist_to.as_deref());
        let store = crate::state::open_buckets(&dir, Blobs::Local)?;
        Ok((bucket.to_owned(), key.to_owned(), store))
    }
}

pub fn run(args: R2Args) -> anyhow::Result<()> {
    let R2Command::Object(command) = args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            ObjectCommand::Put {
                target,
                file,
                pipe: _,
                content_type,
                content_disposition,
                content_encoding,
                content_language,
                cache_control,
            } => {
                let (bucket, key, store) = target.open()?;
                let bytes = match &file {
                    Some(file) => std::fs::read(file)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                    None => {
                        let mut bytes = Vec::new();
                        std::io::stdin()
                            .read_to_end(&mut bytes)
                            .context("cannot read stdin")?;
                        bytes
                    }
                };
                let http_metadata = verge_storage::http_metadata(|header| {
                    match header {
                        "content-type" => &content_type,
                        "content-disposition" => &content_disposition,
                        "content-encoding" => &content_encoding,
                        "content-language" => &content_language,
                        "cache-control" => &cache_control,
                        _ => &None,
                    }
                    .clone()
                });
                let object = NewObject {
                    http_metadata,
                    custom_metadata: "{}".into(),
                    expected: Vec::new(),
                };
                let body: ByteStream = Box::pin(futures_util::stream::once(async move {
                    Ok(bytes::Bytes::from(bytes))
                }));
                let stored = store
                    .put(&bucket, &key, body, object, Conditions::default())
                    .await?
                    .context("the object was not stored")?;
                eprintln!(
                    "Uploaded {bucket}/{key}: {} bytes, etag {}",
                    stored.size, stored.etag
                );
                Ok(())
            }
            ObjectCommand::Get { target, file, .. } => {
                let (bucket, key, store) = target.open()?;
                let outcome = store
                    .get(&bucket, &key, None, Conditions::default())
                    .await?;
                let GetOutcome::Found { mut body, .. } = outcome else {
                    anyhow::bail!("no object {key} in bucket {bucket}");
                };
                let mut out: Box<dyn std::io::Write> = match &file {
                    Some(file) => Box::new(
                        std::fs::File::create(file)
                            .with_context(|| format!("cannot create {}", file.display()))?,
                    ),
                    None => Box::new(std::io::stdout().lock()),
                };
                while let Some(chunk) = body.next().await {
                    out.write_all(&chunk?)?;
                }
                out.flush()?;
                Ok(())
            }
            ObjectCommand::Delete { target } => {
                let (bucket, key, store) = target.open()?;
                store.delete(&bucket, vec![key.clone()]).await?;
                eprintln!("Deleted {bucket}/{key}");
                Ok(())
            }
        }
    })
}
