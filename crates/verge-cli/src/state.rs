//! Where the commands keep bindings' data on this machine: `verge dev`, `verge kv`, `verge d1`,
//! `verge r2` and `verge queues` under a project's `.verge/state` (or `--persist-to`), `verge
//! serve` under its `data_dir`; and [`DataPlace`], how `verge kv` and `verge queues` are told
//! to use a project's data or a running server's.

use anyhow::Context as _;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use verge_storage::CacheStore;
use verge_store_embedded::{
    Blobs, DiskCache, MemoryCache, ObjectBuckets, ObjectFiles, RedbKv, SqlLimits, SqliteSql,
    TieredCache,
};

/// Where a command's data is: a project's local store, or a running server's.
#[derive(Args)]
pub struct DataPlace {
    /// The project directory or its wrangler config.
    #[arg(long, default_value = ".")]
    pub config: PathBuf,
    /// Where the data is; by default `.verge/state` in the project, as for `verge dev`.
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    pub persist_to: Option<PathBuf>,
    /// A running `verge serve`'s admin API (e.g. http://127.0.0.1:9000) whose data to use.
    #[arg(long)]
    pub server: Option<String>,
    /// The admin token, with --server (or set VERGE_TOKEN).
    #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl DataPlace {
    /// The running server's admin API (without a trailing `/`) and token, if one is named.
    pub fn server(&self) -> anyhow::Result<Option<(String, String)>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let token = self
            .token
            .clone()
            .context("--server needs the admin token: --token or VERGE_TOKEN")?;
        Ok(Some((server.trim_end_matches('/').to_owned(), token)))
    }
}

/// A project's state directory unless `--persist-to` names another.
pub fn dir(project_root: &Path, persist_to: Option<&Path>) -> PathBuf {
    persist_to.map_or_else(|| project_root.join(".verge").join("state"), Path::to_owned)
}

/// The KV store in `dir`, created if need be. redb locks its file: a second process (a running
/// server, another `verge kv`) makes this fail.
pub fn open_kv(dir: &Path) -> anyhow::Result<RedbKv> {
    let path = dir.join("kv.redb");
    RedbKv::open(&path).with_context(|| {
        format!(
            "cannot open the KV store {} (is a server using it?)",
            path.display()
        )
    })
}

/// The SQL databases in `dir`, one SQLite file each under `d1/`. SQLite locks per
/// transaction: a running server and `verge d1` may use them at once.
pub fn open_sql(dir: &Path) -> anyhow::Result<SqliteSql> {
    let path = dir.join("d1");
    SqliteSql::open(&path, SqlLimits::default())
        .with_context(|| format!("cannot open the SQL databases in {}", path.display()))
}

/// The queues' messages, in `dir/queues.sqlite`, as a server starting on them opens them: what
/// a server before it had leased is delivered again.
pub fn serve_queues(dir: &Path) -> anyhow::Result<verge_store_embedded::SqliteQueues> {
    let queues = open_queues(dir)?;
    queues
        .release_leases()
        .context("cannot release the queues' leases")?;
    Ok(queues)
}

/// The queues' messages, in `dir/queues.sqlite`.
pub fn open_queues(dir: &Path) -> anyhow::Result<verge_store_embedded::SqliteQueues> {
    let path = dir.join("queues.sqlite");
    verge_store_embedded::SqliteQueues::open(&path)
        .with_context(|| format!("cannot open the queues' store {}", path.display()))
}

/// The storage of Durable Objects, a file per object under `dir/objects`.
pub fn open_objects(dir: &Path) -> anyhow::Result<ObjectFiles> {
    let path = dir.join("objects");
    ObjectFiles::open(&path).with_context(|| {
        format!(
            "cannot open the Durable Objects' storage in {}",
            path.display()
        )
    })
}

/// The object buckets whose index is in `dir/r2`, with their bytes in files beside it or in
/// `blobs`' S3 bucket. A running server and `verge r2` may use them at once.
pub fn open_buckets(dir: &Path, blobs: Blobs) -> anyhow::Result<ObjectBuckets> {
    let path = dir.join("r2");
    ObjectBuckets::open_with(&path, blobs)
        .with_context(|| format!("cannot open the object buckets in {}", path.display()))
}

/// The object buckets of a PoP whose bytes are in a shared S3 bucket: the index in `dir` is its
/// copy of the one `log` shares.
pub fn open_shared_buckets(
    dir: &Path,
    blobs: Blobs,
    log: Arc<dyn verge_storage::IndexLog>,
) -> anyhow::Result<ObjectBuckets> {
    let path = dir.join("r2");
    ObjectBuckets::open_shared(&path, blobs, log)
        .with_context(|| format!("cannot open the object buckets in {}", path.display()))
}

/// The Cache API's store: `memory_bytes` in memory in front of `disk_bytes` in
/// `dir/cache.sqlite3`. Without a disk tier (0 bytes, or a directory it cannot be made in, which
/// is said) the cache lives in memory only: a cache may always drop entries.
pub fn open_cache(dir: &Path, memory_bytes: u64, disk_bytes: u64) -> Arc<dyn CacheStore> {
    let memory = MemoryCache::new(usize::try_from(memory_bytes).unwrap_or(usize::MAX));
    if disk_bytes == 0 {
        return Arc::new(memory);
    }
    let path = dir.join("cache.sqlite3");
    match DiskCache::open(&path, disk_bytes) {
        Ok(disk) => Arc::new(TieredCache::new(memory, disk)),
        Err(error) => {
            tracing::warn!("the cache stays in memory: {error}");
            Arc::new(memory)
        }
    }
}
