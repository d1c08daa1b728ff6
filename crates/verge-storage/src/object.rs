//! Durable Object storage: one store per object, reached only from the thread where the object
//! lives, so its calls are synchronous — which is what lets an object's events see Cloudflare's
//! input gate (a storage call settles before any other event can be delivered). Writes gather
//! in an open transaction that [`ObjectStorage::commit`] makes durable; the runtime commits
//! before a response or RPC result leaves the object (the output gate).
//!
//! Values are bytes: the runtime stores structured-serialized JavaScript values.
//!
//! Replication (a cluster, where another server may take an object over): an object's storage
//! is then a copy of its *log*, which the cluster keeps. After each commit the storage hands
//! out what the commits changed since the last time ([`ObjectStorage::unreplicated`]), as one
//! opaque log entry; the runtime appends it to the log before the output gate opens, and tells
//! the storage where it landed. Another server rebuilds the object from the log's entries
//! ([`ObjectStore::open_replica`]); a snapshot entry ([`ObjectStorage::snapshot`]) lets the log
//! drop the entries before it.

use crate::{SqlOutcome, SqlValue, StorageError};

/// Cloudflare's limits on the key-value API of a Durable Object's storage.
pub mod object_limits {
    /// The longest key, in bytes (2 KiB).
    pub const KEY_BYTES: usize = 2 * 1024;
    /// The largest serialized value, in bytes (128 KiB).
    pub const VALUE_BYTES: usize = 128 * 1024;
    /// The most keys one `get`, `put` or `delete` may name.
    pub const KEYS_PER_CALL: usize = 128;
}

/// Which keys a `list()` visits: Cloudflare's `start`, `startAfter`, `end`, `prefix`,
/// `reverse` and `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// The first key (inclusive).
    pub start: Option<String>,
    /// The key just before the first (exclusive); wins over `start`.
    pub start_after: Option<String>,
    /// The key after the last (exclusive).
    pub end: Option<String>,
    pub prefix: Option<String>,
    /// Descending order.
    pub reverse: bool,
    pub limit: Option<usize>,
}

/// The storage of one Durable Object, used on one thread.
pub trait ObjectStorage {
    /// The values of `keys`, in order (`None` for a missing key).
    fn get(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StorageError>;
    fn put(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), StorageError>;
    /// Deletes `keys`; how many of them existed.
    fn delete(&mut self, keys: &[String]) -> Result<u64, StorageError>;
    /// The entries in `range`, in key order (reversed if it says so).
    fn list(&mut self, range: &KeyRange) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
    /// Deletes every key, every table of the SQL API and the alarm.
    fn delete_all(&mut self) -> Result<(), StorageError>;
    /// Runs `sql` (one statement, or several when it binds nothing) with `params`: what its last
    /// statement did.
    fn exec(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlOutcome, StorageError>;
    /// Opens a nested transaction, which [`ObjectStorage::end_transaction`] closes.
    fn begin_transaction(&mut self) -> Result<(), StorageError>;
    /// Closes the innermost nested transaction, keeping its writes or undoing them.
    fn end_transaction(&mut self, keep: bool) -> Result<(), StorageError>;
    /// When the alarm is set for, in ms since the epoch.
    fn alarm(&mut self) -> Result<Option<f64>, StorageError>;
    fn set_alarm(&mut self, at: Option<f64>) -> Result<(), StorageError>;
    /// Makes every write so far durable.
    fn commit(&mut self) -> Result<(), StorageError>;
    /// Drops the writes not committed yet, and the storage with them (its replacement must be
    /// the only one writing the object).
    fn discard(self: Box<Self>) {}
    /// Whether writes are waiting for [`ObjectStorage::commit`], or, when replicated, for
    /// [`ObjectStorage::replicated`].
    fn has_uncommitted_writes(&self) -> bool;
    /// When replicated: what the commits since the last call changed, as one log entry
    /// (`None` when nothing did, or the storage is not replicated).
    fn unreplicated(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(None)
    }
    /// When replicated and every commit is: the whole storage as one log entry, which a copy
    /// can be rebuilt from alone (the entries before it may then be dropped). `None` when
    /// commits are still unreplicated, or the storage is not replicated.
    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(None)
    }
    /// Records that the entry [`ObjectStorage::unreplicated`] last gave is entry `position` of
    /// the object's log — or, with `None`, that it could not be appended: this copy then holds
    /// writes the log lacks, and is rebuilt from the log when next opened.
    fn replicated(&mut self, _position: Option<u64>) -> Result<(), StorageError> {
        Ok(())
    }
    /// Whether a nested transaction is open (which a commit would end).
    fn in_transaction(&self) -> bool;
    /// Bytes the storage takes.
    fn size(&mut self) -> Result<u64, StorageError>;
}

/// Where Durable Objects keep their storage, shared by every thread.
pub trait ObjectStore: Send + Sync {
    /// The storage of object `id` (64 hex digits) of class `class` of worker `script`, created
    /// empty on first use. A class is named by its identity (`verge_config::class_identity`),
    /// which renames keep; so are the classes [`ObjectStore::alarms`] lists.
    fn open(
        &self,
        script: &str,
        class: &str,
        id: &str,
    ) -> Result<Box<dyn ObjectStorage>, StorageError>;
    /// Applies the steps of `script`'s `[[migrations]]` not applied before, in order, and
    /// records them: a deletion deletes the objects of its classes (storage, alarms and all).
    /// Steps already recorded are skipped, so that a class deleted and later created again
    /// keeps its new objects. A rename moves nothing: storage knows a class by its identity.
    fn migrate(&self, script: &str, steps: &[MigrationStep]) -> Result<(), StorageError>;
    /// Moves the objects of `script` stored under class name `from` to `to`, unless `to` has
    /// objects already: what an older store did on a rename (it moved them to the new name)
    /// undone, now that objects stay under their class's identity.
    fn relocate(&self, _script: &str, _from: &str, _to: &str) -> Result<(), StorageError> {
        Ok(())
    }
    /// The objects whose committed storage had an alarm set, last time it was committed: where
    /// a restarted server looks for alarms to run. (Each object's own storage is the truth.)
    fn alarms(&self) -> Result<Vec<StoredAlarm>, StorageError>;
    /// The position in its log of the last entry this server's copy of the object holds, if
    /// the copy is exactly that: `Some(0)` for an object this server never held, `None` for a
    /// copy that may hold writes its log lacks (or none that can be told), which
    /// [`ObjectStore::open_replica`] must rebuild from the start.
    fn replica_position(
        &self,
        script: &str,
        class: &str,
        id: &str,
    ) -> Result<Option<u64>, StorageError>;
    /// Brings this server's copy of an object (script, class, id) up to date with `entries` of its log (the ones
    /// after [`ObjectStore::replica_position`], or all of them into an empty copy when
    /// `from_start`) and opens it, replicated, as being at position `position` of the log.
    fn open_replica(
        &self,
        object: (&str, &str, &str),
        from_start: bool,
        entries: &[bytes::Bytes],
        position: u64,
    ) -> Result<Box<dyn ObjectStorage>, StorageError>;
}

/// One of `[[migrations]]`, as storage applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStep {
    pub tag: String,
    /// The classes it deletes, by identity.
    pub deleted: Vec<String>,
}

/// An object with an alarm set, as [`ObjectStore::alarms`] finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlarm {
    pub script: String,
    pub class: String,
    pub id: String,
    /// When, in ms since the epoch.
    pub at: f64,
}

/// Checks the keys of one call: at most [`object_limits::KEYS_PER_CALL`] of them, each at most
/// [`object_limits::KEY_BYTES`] long.
pub fn check_object_keys<'a>(
    keys: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), StorageError> {
    if keys.len() > object_limits::KEYS_PER_CALL {
        return Err(StorageError::Invalid(format!(
            "Durable Object storage: a call may name at most {} keys, not {}",
            object_limits::KEYS_PER_CALL,
            keys.len()
        )));
    }
    for key in keys {
        if key.len() > object_limits::KEY_BYTES {
            return Err(StorageError::Invalid(format!(
                "Durable Object storage: keys are limited to {} bytes; this one has {}",
                object_limits::KEY_BYTES,
                key.len()
            )));
        }
    }
    Ok(())
}

/// Checks a serialized value against [`object_limits::VALUE_BYTES`].
pub fn check_object_value(key: &str, value: &[u8]) -> Result<(), StorageError> {
    if value.len() > object_limits::VALUE_BYTES {
        return Err(StorageError::Invalid(format!(
            "Durable Object storage: values are limited to {} bytes when serialized; the value \
             of \"{key}\" has {}",
            object_limits::VALUE_BYTES,
            value.len()
        )));
    }
    Ok(())
}

/// The storage of an object that was reset: every call fails, naming why.
pub struct ClosedStorage;

fn closed<T>() -> Result<T, StorageError> {
    Err(StorageError::Backend(
        "the Durable Object was reset: its storage is closed".into(),
    ))
}

impl ObjectStorage for ClosedStorage {
    fn get(&mut self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        closed()
    }
    fn put(&mut self, _: &[(String, Vec<u8>)]) -> Result<(), StorageError> {
        closed()
    }
    fn delete(&mut self, _: &[String]) -> Result<u64, StorageError> {
        closed()
    }
    fn list(&mut self, _: &KeyRange) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        closed()
    }
    fn delete_all(&mut self) -> Result<(), StorageError> {
        closed()
    }
    fn exec(&mut self, _: &str, _: &[SqlValue]) -> Result<SqlOutcome, StorageError> {
        closed()
    }
    fn begin_transaction(&mut self) -> Result<(), StorageError> {
        closed()
    }
    fn end_transaction(&mut self, _: bool) -> Result<(), StorageError> {
        closed()
    }
    fn alarm(&mut self) -> Result<Option<f64>, StorageError> {
        closed()
    }
    fn set_alarm(&mut self, _: Option<f64>) -> Result<(), StorageError> {
        closed()
    }
    fn commit(&mut self) -> Result<(), StorageError> {
        closed()
    }
    fn has_uncommitted_writes(&self) -> bool {
        false
    }
    fn in_transaction(&self) -> bool {
        false
    }
    fn size(&mut self) -> Result<u64, StorageError> {
        closed()
    }
}
