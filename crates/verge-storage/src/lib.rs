//! `verge-storage` owns the storage traits the bindings are written against, their data types,
//! errors and Workers' limits — no JavaScript and no backend. The embedded backends live in
//! `verge-store-embedded`; a distributed one implements the same traits (see docs/DESIGN.md).

mod bucket;
mod object;
mod queue;

pub use bucket::{
    check_r2_key, http_metadata, r2_limits, BucketStore, ByteStream, Conditions, GetOutcome,
    IndexChange, IndexCopy, IndexLog, ListOptions, NewObject, ObjectInfo, ObjectPage, ObjectRange,
    UploadedPart,
};

pub use queue::{
    queue_limits, queue_listing, ContentType, NewMessage, QueueCounts, QueueStore, QueuedMessage,
    Settlement,
};

pub use object::{
    check_object_keys, check_object_value, object_limits, ClosedStorage, KeyRange, MigrationStep,
    ObjectStorage, ObjectStore, StoredAlarm,
};

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// What a storage operation returns: a future that owns everything it needs, so a backend may
/// run it on a blocking pool or another machine.
pub type StorageFuture<T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send>>;

/// Why a storage operation failed; the message is for the script that asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The request broke one of Workers' limits or rules; says which.
    #[error("{0}")]
    Invalid(String),
    /// The backend could not do it (disk full, I/O error); nothing stored was changed.
    #[error("storage failed: {0}")]
    Backend(String),
    /// The store ran the operation and refused it (an SQL error); the message is the store's,
    /// whole, for the script to read.
    #[error("{0}")]
    Refused(String),
}

/// Workers KV's limits.
pub mod kv_limits {
    /// Bytes of a key, UTF-8 encoded.
    pub const KEY_BYTES: usize = 512;
    /// Bytes of a value.
    pub const VALUE_BYTES: usize = 25 * 1024 * 1024;
    /// Bytes of a key's metadata, serialized as JSON.
    pub const METADATA_BYTES: usize = 1024;
    /// The soonest an expiration may be, in seconds from now.
    pub const MIN_TTL_SECONDS: u64 = 60;
    /// The most keys one `list` returns.
    pub const LIST_LIMIT: usize = 1000;
}

/// A value as stored: its bytes, when it expires and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Bytes,
    /// Seconds since the Unix epoch after which the key reads as absent.
    pub expiration: Option<u64>,
    /// JSON text, as the script gave it.
    pub metadata: Option<String>,
}

/// One key of a `list` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvListKey {
    pub name: String,
    pub expiration: Option<u64>,
    pub metadata: Option<String>,
}

/// A page of keys in order; `cursor` continues after it unless the list is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPage {
    pub keys: Vec<KvListKey>,
    pub cursor: Option<String>,
}

/// A key-value store holding many namespaces. Keys read back as written until deleted or
/// expired; an expired key is never returned. A write is durable once its future resolves.
pub trait KvStore: Send + Sync {
    fn get(&self, namespace: &str, key: &str) -> StorageFuture<Option<KvEntry>>;
    fn put(&self, namespace: &str, key: &str, entry: KvEntry) -> StorageFuture<()>;
    fn delete(&self, namespace: &str, key: &str) -> StorageFuture<()>;
    /// Keys starting with `prefix`, in byte order, after `cursor` (from an earlier page), at
    /// most `limit` of them.
    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> StorageFuture<KvPage>;
}

/// A response as the Cache API keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Milliseconds since the Unix epoch after which it is stale and never returned.
    pub expires_ms: Option<u64>,
    /// The request headers its `Vary` names, with the values the storing request had.
    pub vary: Vec<(String, Option<String>)>,
}

/// An HTTP cache of responses by cache name and URL, bounded in size: the least recently used
/// entries go first, and an expired entry is never returned.
pub trait CacheStore: Send + Sync {
    fn get(&self, cache: &str, url: &str) -> StorageFuture<Option<CachedResponse>>;
    fn put(&self, cache: &str, url: &str, response: CachedResponse) -> StorageFuture<()>;
    /// Whether there was an entry to delete.
    fn delete(&self, cache: &str, url: &str) -> StorageFuture<bool>;
    /// Removes what `purge` names from every cache of the store; how many entries went.
    fn purge(&self, purge: &Purge) -> StorageFuture<usize>;
}

/// What a purge removes, as Cloudflare's purge API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    /// These URLs, exactly.
    Urls(Vec<String>),
    /// Every URL that starts with one of these; a prefix without a scheme (`example.com/blog`)
    /// matches both `http://` and `https://`.
    Prefixes(Vec<String>),
    Everything,
}

impl Purge {
    /// Whether `url` is one the purge removes.
    pub fn matches(&self, url: &str) -> bool {
        match self {
            Self::Urls(urls) => urls.iter().any(|purged| purged == url),
            Self::Prefixes(prefixes) => prefixes.iter().any(|prefix| {
                if prefix.contains("://") {
                    return url.starts_with(prefix.as_str());
                }
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"));
                rest.is_some_and(|rest| rest.starts_with(prefix.as_str()))
            }),
            Self::Everything => true,
        }
    }
}

/// A value of an SQL column or parameter, in SQLite's types.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Bytes),
}

/// One statement and the values bound to its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlQuery {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// What one statement did.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOutcome {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    /// Milliseconds the statement took in the store.
    pub duration_ms: f64,
    /// Rows it inserted, updated or deleted.
    pub changes: u64,
    /// The rowid of the last row inserted on this database (by any statement).
    pub last_row_id: i64,
    /// Whether the statement may write (it is not read-only, as SQLite judges it).
    pub wrote: bool,
    /// The database's size in bytes after the statement.
    pub size_after: u64,
}

impl SqlValue {
    /// The value as D1's API shows it: a blob as an array of its bytes.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SqlValue::Null => serde_json::Value::Null,
            SqlValue::Integer(n) => (*n).into(),
            SqlValue::Real(x) => (*x).into(),
            SqlValue::Text(text) => text.clone().into(),
            SqlValue::Blob(blob) => blob.to_vec().into(),
        }
    }

    /// A parameter as D1's API takes one (a string, number, boolean or null); anything else is
    /// given back.
    pub fn from_json(value: serde_json::Value) -> Result<Self, serde_json::Value> {
        match value {
            serde_json::Value::Null => Ok(SqlValue::Null),
            serde_json::Value::Bool(b) => Ok(SqlValue::Integer(i64::from(b))),
            serde_json::Value::Number(n) => Ok(match n.as_i64() {
                Some(n) => SqlValue::Integer(n),
                None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
            }),
            serde_json::Value::String(text) => Ok(SqlValue::Text(text)),
            other => Err(other),
        }
    }
}

impl SqlOutcome {
    /// One statement's outcome as D1's API returns it: its rows as objects, and its meta.
    pub fn to_d1_json(&self) -> serde_json::Value {
        let results: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(SqlValue::to_json))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::json!({
            "results": results,
            "success": true,
            "meta": {
                "duration": self.duration_ms,
                "changes": self.changes,
                "last_row_id": self.last_row_id,
                "changed_db": self.wrote,
                "size_after": self.size_after,
                "rows_read": self.rows.len(),
                "rows_written": self.changes,
            },
        })
    }
}

/// SQL databases by name (D1). Each call is one transaction: it takes effect whole or not at
/// all, and is durable once its future resolves. A statement the database refuses (a syntax
/// error, a constraint) fails the call with [`StorageError::Refused`] carrying its message.
pub trait SqlStore: Send + Sync {
    /// Runs `queries` in order and returns what each did.
    fn batch(&self, database: &str, queries: Vec<SqlQuery>) -> StorageFuture<Vec<SqlOutcome>>;
    /// Runs every statement of `script`, which binds no parameters, and returns what each did.
    fn exec(&self, database: &str, script: &str) -> StorageFuture<Vec<SqlOutcome>>;
}

/// Checks a key against Workers' rules: not empty, not `.` or `..`, at most 512 bytes.
pub fn check_kv_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::Invalid("KV key must not be empty.".into()));
    }
    if key == "." || key == ".." {
        return Err(StorageError::Invalid(format!(
            "Illegal key name \"{key}\". Please use a different name."
        )));
    }
    if key.len() > kv_limits::KEY_BYTES {
        return Err(StorageError::Invalid(format!(
            "KV key is {} bytes, over the limit of {} bytes.",
            key.len(),
            kv_limits::KEY_BYTES
        )));
    }
    Ok(())
}

/// Checks a value and its metadata against Workers' size limits.
pub fn check_kv_entry(entry: &KvEntry) -> Result<(), StorageError> {
    if entry.value.len() > kv_limits::VALUE_BYTES {
        return Err(StorageError::Invalid(format!(
            "KV value is {} bytes, over the limit of {} bytes.",
            entry.value.len(),
            kv_limits::VALUE_BYTES
        )));
    }
    if let Some(metadata) = &entry.metadata {
        if metadata.len() > kv_limits::METADATA_BYTES {
            return Err(StorageError::Invalid(format!(
                "KV metadata is {} bytes serialized, over the limit of {} bytes.",
                metadata.len(),
                kv_limits::METADATA_BYTES
            )));
        }
    }
    Ok(())
}

/// When a key put now expires, from an absolute expiration (seconds since the Unix epoch) or a
/// TTL in seconds, refused as Workers KV refuses either when it is sooner than
/// [`kv_limits::MIN_TTL_SECONDS`] from `now`. The expiration wins when both are given, as it
/// does for a script's `put` (`verge-bindings`' `kv.js`, which applies the same minimum).
pub fn kv_expiration(
    expiration: Option<u64>,
    ttl: Option<u64>,
    now: u64,
) -> Result<Option<u64>, StorageError> {
    let min = kv_limits::MIN_TTL_SECONDS;
    match (expiration, ttl) {
        (Some(at), _) if at < now.saturating_add(min) => Err(StorageError::Invalid(format!(
            "Invalid expiration of {at}. Please specify integer greater than the current number of seconds since the UNIX epoch plus {min}."
        ))),
        (Some(at), _) => Ok(Some(at)),
        (None, Some(ttl)) if ttl < min => Err(StorageError::Invalid(format!(
            "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {min}."
        ))),
        (None, ttl) => Ok(ttl.map(|ttl| now.saturating_add(ttl))),
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_purge_by_prefix_without_a_scheme_matches_both() {
        let purge = Purge::Prefixes(vec!["example.com/blog".into()]);
        assert!(purge.matches("https://example.com/blog/post"));
        assert!(purge.matches("http://example.com/blog"));
        assert!(!purge.matches("https://example.com/shop"));
        assert!(!purge.matches("https://other.example.com/blog"));
        let schemed = Purge::Prefixes(vec!["https://example.com/".into()]);
        assert!(schemed.matches("https://example.com/a"));
        assert!(!schemed.matches("http://example.com/a"));
        let exact = Purge::Urls(vec!["https://example.com/a".into()]);
        assert!(exact.matches("https://example.com/a"));
        assert!(!exact.matches("https://example.com/a?b"));
        assert!(Purge::Everything.matches("anything"));
    }

    #[test]
    fn keys_are_checked_as_workers_does() {
        assert!(check_kv_key("a").is_ok());
        assert!(check_kv_key(&"k".repeat(512)).is_ok());
        let long = check_kv_key(&"k".repeat(513)).unwrap_err().to_string();
        assert!(long.contains("513 bytes") && long.contains("512"), "{long}");
        assert!(check_kv_key("").is_err());
        assert!(check_kv_key("..").is_err());
    }

    #[test]
    fn expirations_sooner_than_a_minute_are_refused() {
        assert_eq!(kv_expiration(None, None, 1000).unwrap(), None);
        assert_eq!(kv_expiration(None, Some(60), 1000).unwrap(), Some(1060));
        assert_eq!(
            kv_expiration(Some(2000), Some(5), 1000).unwrap(),
            Some(2000)
        );
        assert_eq!(kv_expiration(Some(1060), None, 1000).unwrap(), Some(1060));
        let ttl = kv_expiration(None, Some(59), 1000).unwrap_err().to_string();
        assert!(ttl.contains("at least 60"), "{ttl}");
        let at = kv_expiration(Some(1059), None, 1000)
            .unwrap_err()
            .to_string();
        assert!(at.contains("plus 60"), "{at}");
    }

    #[test]
    fn values_and_metadata_are_bounded() {
        let entry = |value: usize, metadata: usize| KvEntry {
            value: Bytes::from(vec![0; value]),
            expiration: None,
            metadata: Some("x".repeat(metadata)),
        };
        assert!(check_kv_entry(&entry(10, 1024)).is_ok());
        let meta = check_kv_entry(&entry(10, 1025)).unwrap_err().to_string();
        assert!(meta.contains("metadata"), "{meta}");
        let big = check_kv_entry(&entry(kv_limits::VALUE_BYTES + 1, 0))
            .unwrap_err()
            .to_string();
        assert!(big.contains("value"), "{big}");
    }
}
