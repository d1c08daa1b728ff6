//! KV namespaces in one redb file. A key is stored under `(namespace, key)`; its value carries
//! the expiration and metadata in front of the bytes. Writes go to one writer thread, which
//! commits every write waiting for it in one transaction (group commit: one fsync for many
//! scripts' writes) and only then resolves their promises, so an acknowledged write survives a
//! crash; a failed commit (a full disk) aborts and leaves what was stored as it was. Reads run
//! on tokio's blocking pool; no redb call runs on a serving thread. A second table indexes keys
//! by expiration, so the writer removes expired keys from the file every minute without
//! scanning the rest. After an I/O error (a full disk) redb refuses every later call until it is
//! reopened: the writer then reopens the file, so writes succeed again once there is room.

use base64::Engine as _;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use std::path::Path;
use std::sync::Arc;
use verge_storage::{unix_now, KvEntry, KvListKey, KvPage, KvStore, StorageError, StorageFuture};

const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv");
/// `(expiration, namespace, key)` of every key that expires.
const EXPIRIES: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("kv_expiries");

/// How often the writer removes expired keys, and the most it removes in one transaction.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const PURGE_BATCH: usize = 10_000;

type Entries = redb::ReadOnlyTable<(&'static str, &'static str), &'static [u8]>;

/// KV on a redb file; cheap to clone.
#[derive(Clone)]
pub struct RedbKv {
    // Field order matters: the writer thread, which holds the database too, is joined first.
    writer: Arc<Writer>,
    db: Slot,
}

/// The open database, shared by readers and the writer; empty while the writer reopens it.
type Slot = Arc<std::sync::RwLock<Option<Arc<Database>>>>;

/// The database in `slot`, or the error of one being reopened.
fn current(slot: &Slot) -> Result<Arc<Database>, StorageError> {
    slot.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .ok_or_else(|| backend("the KV store is being reopened after an I/O error"))
}

/// Closes the database in `slot` and opens `path` again, which clears redb's latched I/O
/// failure and repairs the file if a commit was cut short. Readers holding the old handle are
/// waited for (bounded): the file is locked while any handle is open.
fn reopen(slot: &Slot, path: &Path) {
    let taken = slot
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(mut old) = taken {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Arc::try_unwrap(old) {
                Ok(db) => break drop(db),
                Err(held) if std::time::Instant::now() < deadline => {
                    old = held;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(held) => {
                    tracing::warn!("the KV store could not be reopened: reads still hold it");
                    *slot
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(held);
                    return;
                }
            }
        }
    }
    match Database::create(path) {
        Ok(mut db) => {
            // A commit cut short by a full disk leaves the file grown by what it could write;
            // compacting gives that space back to the disk.
            if let Err(error) = db.compact() {
                tracing::warn!(
                    "the KV store {} could not be compacted: {error}",
                    path.display()
                );
            }
            *slot
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(db));
        }
        Err(error) => tracing::warn!(
            "the KV store {} could not be reopened: {error}",
            path.display()
        ),
    }
}

/// Whether redb failed on the file itself, after which it must be reopened.
fn is_io(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo)
}

enum Write {
    Put(String, String, KvEntry),
    Delete(String, String),
}

struct WriteJob {
    write: Write,
    done: tokio::sync::oneshot::Sender<Result<(), StorageError>>,
}

/// The writer thread and its queue; dropped with the last clone of the store, which closes the
/// queue and waits for the thread to commit what it holds and let go of the file.
struct Writer {
    queue: Option<std::sync::mpsc::Sender<WriteJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The most writes one transaction commits.
const MAX_BATCH: usize = 1024;

/// The writer thread: each round takes every write waiting (up to [`MAX_BATCH`]), commits them
/// in one transaction and tells each the outcome; every [`PURGE_EVERY`] it removes expired keys.
fn write_loop(slot: &Slot, path: &Path, queue: &std::sync::mpsc::Receiver<WriteJob>) {
    let mut next_purge = std::time::Instant::now() + PURGE_EVERY;
    loop {
        let wait = next_purge.saturating_duration_since(std::time::Instant::now());
        match queue.recv_timeout(wait) {
            Ok(first) => {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let outcome = match current(slot) {
                    Err(reopening) => {
                        reopen(slot, path);
                        Err(reopening)
                    }
                    Ok(db) => commit(&db, &batch).map_err(|error| {
                        if is_io(&error) {
                            drop(db);
                            reopen(slot, path);
                        }
                        write_error(error)
                    }),
                };
                for job in batch {
                    let _ = job.done.send(outcome.clone());
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if std::time::Instant::now() >= next_purge {
            if let Ok(db) = current(slot) {
                if let Err(error) = purge_expired(&db, unix_now()) {
                    tracing::warn!("expired KV keys could not be removed: {error}");
                }
            }
            next_purge = std::time::Instant::now() + PURGE_EVERY;
        }
    }
}

fn commit(db: &Database, batch: &[WriteJob]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(ENTRIES)?;
        let mut expiries = txn.open_table(EXPIRIES)?;
        for job in batch {
            let (namespace, key, replaced) = match &job.write {
                Write::Put(namespace, key, entry) => {
                    let old = table
                        .insert((namespace.as_str(), key.as_str()), encode(entry).as_slice())?
                        .and_then(|old| stored_expiration(old.value()));
                    if let Some(at) = entry.expiration {
                        expiries.insert((at, namespace.as_str(), key.as_str()), ())?;
                    }
                    (
                        namespace,
                        key,
                        old.filter(|&at| Some(at) != entry.expiration),
                    )
                }
                Write::Delete(namespace, key) => {
                    let old = table
                        .remove((namespace.as_str(), key.as_str()))?
                        .and_then(|old| stored_expiration(old.value()));
                    (namespace, key, old)
                }
            };
            if let Some(at) = replaced {
                expiries.remove((at, namespace.as_str(), key.as_str()))?;
            }
        }
    }
    Ok(txn.commit()?)
}

/// The expiration of a stored value, if it has one.
fn stored_expiration(stored: &[u8]) -> Option<u64> {
    decode_header(stored)
        .ok()
        .and_then(|header| header.expiration)
}

/// Removes keys that expired by `now` (at most [`PURGE_BATCH`]) from the file; returns how
/// many. A key written again with a later expiration since is left alone.
fn purge_expired(db: &Database, now: u64) -> Result<usize, redb::Error> {
    let txn = db.begin_write()?;
    let mut purged = 0;
    {
        let mut table = txn.open_table(ENTRIES)?;
        let mut expiries = txn.open_table(EXPIRIES)?;
        let due: Vec<(u64, String, String)> = expiries
            .range(..(now.saturating_add(1), "", ""))?
            .take(PURGE_BATCH)
            .map(|item| {
                let (due, _) = item?;
                let (at, namespace, key) = due.value();
                Ok((at, namespace.to_owned(), key.to_owned()))
            })
            .collect::<Result<_, redb::Error>>()?;
        for (at, namespace, key) in due {
            expiries.remove((at, namespace.as_str(), key.as_str()))?;
            let current = table
                .get((namespace.as_str(), key.as_str()))?
                .and_then(|stored| stored_expiration(stored.value()));
            if current == Some(at) {
                table.remove((namespace.as_str(), key.as_str()))?;
                purged += 1;
            }
        }
    }
    txn.commit()?;
    Ok(purged)
}

/// Indexes the expirations of a file written before the expiry table existed.
fn index_expirations(txn: &redb::WriteTransaction) -> Result<(), StorageError> {
    let table = txn.open_table(ENTRIES).map_err(write_error)?;
    let mut expiries = txn.open_table(EXPIRIES).map_err(write_error)?;
    for item in table.iter().map_err(write_error)? {
        let (stored_key, stored) = item.map_err(write_error)?;
        if let Some(at) = stored_expiration(stored.value()) {
            let (namespace, key) = stored_key.value();
            expiries
                .insert((at, namespace, key), ())
                .map_err(write_error)?;
        }
    }
    Ok(())
}

impl RedbKv {
    /// Opens the store at `path`, creating the file (and its directory) if need be.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| backend(format!("{}: {e}", path.display())))?;
        // Made now, so that no read meets a file without them.
        let created = db.begin_write().map_err(write_error)?;
        let indexed = created
            .list_tables()
            .map_err(write_error)?
            .any(|table| table.name() == EXPIRIES.name());
        created.open_table(ENTRIES).map_err(write_error)?;
        if !indexed {
            index_expirations(&created)?;
        }
        created.commit().map_err(write_error)?;
        let db: Slot = Arc::new(std::sync::RwLock::new(Some(Arc::new(db))));
        let (queue, jobs) = std::sync::mpsc::channel();
        let (writing, path) = (db.clone(), path.to_owned());
        let thread = std::thread::Builder::new()
            .name("verge-kv-writer".into())
            .spawn(move || write_loop(&writing, &path, &jobs))
            .map_err(|e| backend(format!("cannot start the KV writer: {e}")))?;
        let writer = Writer {
            queue: Some(queue),
            thread: Some(thread),
        };
        Ok(Self {
            writer: Arc::new(writer),
            db,
        })
    }

    /// Queues `write` for the writer thread; resolves once it is committed.
    fn write(&self, write: Write) -> StorageFuture<()> {
        let (done, committed) = tokio::sync::oneshot::channel();
        let queued = self
            .writer
            .queue
            .as_ref()
            .is_some_and(|queue| queue.send(WriteJob { write, done }).is_ok());
        Box::pin(async move {
            if !queued {
                return Err(backend("the KV writer has stopped"));
            }
            committed
                .await
                .map_err(|_| backend("the KV writer stopped before committing"))?
        })
    }

    /// Runs `job` on the blocking pool with the entries as a read transaction sees them.
    fn read<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Entries) -> Result<T, StorageError> + Send + 'static,
    ) -> StorageFuture<T> {
        let slot = self.db.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let entries = current(&slot)?
                    .begin_read()
                    .map_err(read_error)?
                    .open_table(ENTRIES)
                    .map_err(read_error)?;
                job(&entries)
            })
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
        self.read(move |table| {
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
        self.write(Write::Put(namespace.to_owned(), key.to_owned(), entry))
    }

    fn delete(&self, namespace: &str, key: &str) -> StorageFuture<()> {
        self.write(Write::Delete(namespace.to_owned(), key.to_owned()))
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
        self.read(move |table| {
            let after = after.transpose()?;
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

        // Many writes at once are committed together, and each is there.
        let writes: Vec<_> = (0..200)
            .map(|i| {
                kv.put(
                    "many",
                    &format!("k{i:03}"),
                    entry(&i.to_string(), None, None),
                )
            })
            .collect();
        for write in writes {
            write.await.unwrap();
        }
        let listed = kv.list("many", "", None, 1000).await.unwrap();
        assert_eq!(listed.keys.len(), 200);
        assert_eq!(kv.get("many", "k199").await.unwrap().unwrap().value, "199");

        // Expired keys leave the file: the one written expired, not the ones with a future.
        kv.put("a", "later", entry("x", Some(unix_now() + 3600), None))
            .await
            .unwrap();
        kv.put("a", "renewed", entry("x", Some(unix_now() - 5), None))
            .await
            .unwrap();
        kv.put("a", "renewed", entry("x", Some(unix_now() + 3600), None))
            .await
            .unwrap();
        assert_eq!(
            purge_expired(&current(&kv.db).unwrap(), unix_now()).unwrap(),
            1
        );
        let stored = |key: &str| {
            let read = current(&kv.db).unwrap().begin_read().unwrap();
            let table = read.open_table(ENTRIES).unwrap();
            table.get(("a", key)).unwrap().is_some()
        };
        assert!(!stored("gone") && stored("later") && stored("renewed"));
        assert_eq!(
            purge_expired(&current(&kv.db).unwrap(), unix_now() + 7200).unwrap(),
            2
        );

        // Reopened, the data is there.
        drop(kv);
        let kv = RedbKv::open(&dir.path().join("state/kv.redb")).unwrap();
        assert_eq!(kv.get("b", "k").await.unwrap().unwrap().value, "two");
    }

    #[tokio::test]
    async fn a_file_from_before_the_expiry_index_gets_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(ENTRIES).unwrap();
                let old = encode(&entry("x", Some(unix_now() - 10), None));
                table.insert(("a", "old"), old.as_slice()).unwrap();
                let kept = encode(&entry("y", None, None));
                table.insert(("a", "kept"), kept.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let kv = RedbKv::open(&path).unwrap();
        assert_eq!(
            purge_expired(&current(&kv.db).unwrap(), unix_now()).unwrap(),
            1
        );
        assert_eq!(kv.get("a", "kept").await.unwrap().unwrap().value, "y");
    }
}
