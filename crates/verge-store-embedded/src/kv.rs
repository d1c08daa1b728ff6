//! KV namespaces in one redb file. A key is stored under `(namespace, key)`; its value carries
//! the expiration and metadata in front of the bytes. Every write is its own transaction,
//! committed durably (fsync) before the script's promise resolves, so an acknowledged write
//! survives a crash; a failed write (a full disk) aborts and leaves what was stored as it was.
//! redb calls block, so they run on tokio's blocking pool, never on a serving thread.

use base64::Engine as _;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::Path;
use std::sync::Arc;
use verge_storage::{unix_now, KvEntry, KvListKey, KvPage, KvStore, StorageError, StorageFuture};

const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv");

/// KV on a redb file; cheap to clone.
#[derive(Clone)]
pub struct RedbKv {
    db: Arc<Database>,
}

impl RedbKv {
    /// Opens the store at `path`, creating the file (and its directory) if need be.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| backend(format!("{}: {e}", path.display())))?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs `job` on the blocking pool with the database.
    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    ) -> StorageFuture<T> {
        let db = self.db.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || job(&db))
                .await
                .map_err(|e| backend(format!("the storage task failed: {e}")))?
        })
    }
}

fn backend(message: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(message.to_string())
}

/// `[expiration u64 LE, 0 for none][metadata length u32 LE][metadata][value]`.
fn encode(entry: &KvEntry) -> Vec<u8> {
    let metadata = entry.metadata.as_deref().unwrap_or("").as_bytes();
    let mut out = Vec::with_capacity(12 + metadata.len() + entry.value.len());
    out.extend_from_slice(&entry.expiration.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(metadata.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(metadata);
    out.extend_from_slice(&entry.value);
    out
}

/// The header of a stored value: expiration, metadata and where the bytes start.
struct Header {
    expiration: Option<u64>,
    metadata: Option<String>,
    value_at: usize,
}

fn decode_header(stored: &[u8]) -> Result<Header, StorageError> {
    let corrupt = || backend("a stored KV value is corrupt");
    let expiration = u64::from_le_bytes(
        stored
            .get(..8)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    );
    let length = u32::from_le_bytes(
        stored
            .get(8..12)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    );
    let value_at = 12 + usize::try_from(length).map_err(|_| corrupt())?;
    let metadata = stored.get(12..value_at).ok_or_else(corrupt)?;
    Ok(Header {
        expiration: (expiration != 0).then_some(expiration),
        metadata: (!metadata.is_empty()).then(|| String::from_utf8_lossy(metadata).into_owned()),
        value_at,
    })
}

fn expired(expiration: Option<u64>, now: u64) -> bool {
    expiration.is_some_and(|at| at <= now)
}

/// Cursors are the last key of a page, opaque to scripts.
fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_cursor(cursor: &str) -> Result<String, StorageError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| StorageError::Invalid(format!("Invalid KV list cursor: \"{cursor}\".")))
}

fn read_error(e: impl std::fmt::Display) -> StorageError {
    backend(format!("reading KV: {e}"))
}

fn write_error(e: impl std::fmt::Display) -> StorageError {
    backend(format!("writing KV: {e}"))
}

impl KvStore for RedbKv {
    fn get(&self, namespace: &str, key: &str) -> StorageFuture<Option<KvEntry>> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.run(move |db| {
            let txn = db.begin_read().map_err(read_error)?;
            let table = match txn.open_table(ENTRIES) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(read_error(e)),
            };
            let Some(stored) = table
                .get((namespace.as_str(), key.as_str()))
                .map_err(read_error)?
            else {
                return Ok(None);
            };
            let stored = stored.value();
            let header = decode_header(stored)?;
            if expired(header.expiration, unix_now()) {
                return Ok(None);
            }
            Ok(Some(KvEntry {
                value: Bytes::copy_from_slice(&stored[header.value_at..]),
                expiration: header.expiration,
                metadata: header.metadata,
            }))
        })
    }

    fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> StorageFuture<()> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.run(move |db| {
            let txn = db.begin_write().map_err(write_error)?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(write_error)?;
                table
                    .insert(
                        (namespace.as_str(), key.as_str()),
                        encode(&entry).as_slice(),
                    )
                    .map_err(write_error)?;
            }
            txn.commit().map_err(write_error)
        })
    }

    fn delete(&self, namespace: &str, key: &str) -> StorageFuture<()> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.run(move |db| {
            let txn = db.begin_write().map_err(write_error)?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(write_error)?;
                table
                    .remove((namespace.as_str(), key.as_str()))
                    .map_err(write_error)?;
            }
            txn.commit().map_err(write_error)
        })
    }

    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> StorageFuture<KvPage> {
        let (namespace, prefix) = (namespace.to_owned(), prefix.to_owned());
        let after = cursor.map(decode_cursor);
        self.run(move |db| {
            let after = after.transpose()?;
            let txn = db.begin_read().map_err(read_error)?;
            let table = match txn.open_table(ENTRIES) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => {
                    return Ok(KvPage {
                        keys: Vec::new(),
                        cursor: None,
                    })
                }
                Err(e) => return Err(read_error(e)),
            };
            let start = match &after {
                Some(after) if after.as_str() >= prefix.as_str() => after.clone(),
                _ => prefix.clone(),
            };
            let now = unix_now();
            let mut keys = Vec::new();
            let mut more = false;
            for item in table
                .range((namespace.as_str(), start.as_str())..)
                .map_err(read_error)?
            {
                let (stored_key, stored) = item.map_err(read_error)?;
                let (stored_namespace, name) = stored_key.value();
                if stored_namespace != namespace || !name.starts_with(prefix.as_str()) {
                    break;
                }
                if after.as_deref() == Some(name) {
                    continue;
                }
                let header = decode_header(stored.value())?;
                if expired(header.expiration, now) {
                    continue;
                }
                if keys.len() == limit {
                    more = true;
                    break;
                }
                keys.push(KvListKey {
                    name: name.to_owned(),
                    expiration: header.expiration,
                    metadata: header.metadata,
                });
            }
            let cursor = if more {
                keys.last().map(|key: &KvListKey| encode_cursor(&key.name))
            } else {
                None
            };
            Ok(KvPage { keys, cursor })
        })
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(value: &str, expiration: Option<u64>, metadata: Option<&str>) -> KvEntry {
        KvEntry {
            value: Bytes::from(value.to_owned()),
            expiration,
            metadata: metadata.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn namespaces_keys_expiry_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let kv = RedbKv::open(&dir.path().join("state/kv.redb")).unwrap();
        assert_eq!(kv.get("a", "k").await.unwrap(), None);
        kv.put("a", "k", entry("one", None, Some("{\"n\":1}")))
            .await
            .unwrap();
        kv.put("b", "k", entry("two", None, None)).await.unwrap();
        kv.put("a", "gone", entry("old", Some(unix_now() - 1), None))
            .await
            .unwrap();
        assert_eq!(
            kv.get("a", "k").await.unwrap(),
            Some(entry("one", None, Some("{\"n\":1}")))
        );
        assert_eq!(kv.get("b", "k").await.unwrap().unwrap().value, "two");
        assert_eq!(
            kv.get("a", "gone").await.unwrap(),
            None,
            "expired keys never read back"
        );

        for i in 0..5 {
            kv.put("a", &format!("p/{i}"), entry("x", None, None))
                .await
                .unwrap();
        }
        let first = kv.list("a", "p/", None, 2).await.unwrap();
        let names = |page: &KvPage| page.keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&first), ["p/0", "p/1"]);
        let second = kv
            .list("a", "p/", first.cursor.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(names(&second), ["p/2", "p/3"]);
        let last = kv
            .list("a", "p/", second.cursor.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(names(&last), ["p/4"]);
        assert_eq!(last.cursor, None);
        let all = kv.list("a", "", None, 1000).await.unwrap();
        assert_eq!(names(&all), ["k", "p/0", "p/1", "p/2", "p/3", "p/4"]);

        kv.delete("a", "k").await.unwrap();
        assert_eq!(kv.get("a", "k").await.unwrap(), None);
        assert!(kv.list("a", "", Some("not base64!"), 10).await.is_err());

        // Reopened, the data is there.
        drop(kv);
        let kv = RedbKv::open(&dir.path().join("state/kv.redb")).unwrap();
        assert_eq!(kv.get("b", "k").await.unwrap().unwrap().value, "two");
    }
}
