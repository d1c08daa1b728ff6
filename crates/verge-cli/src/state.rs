//! Where the commands keep bindings' data on this machine: `verge dev`, `verge kv`, `verge d1`
//! and `verge r2` under a project's `.verge/state` (or `--persist-to`), `verge serve` under its
//! `data_dir`.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use verge_store_embedded::{FsBuckets, RedbKv, SqlLimits, SqliteSql};

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

/// The object buckets in `dir`, under `r2/`: files and an SQLite index, which a running server
/// and `verge r2` may use at once.
pub fn open_buckets(dir: &Path) -> anyhow::Result<FsBuckets> {
    let path = dir.join("r2");
    FsBuckets::open(&path)
        .with_context(|| format!("cannot open the object buckets in {}", path.display()))
}
