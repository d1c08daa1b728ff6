//! Object buckets (R2): the [`BucketStore`] trait, the object's description every backend keeps,
//! and the rules every backend shares — R2's conditional operations, byte ranges and limits.

use crate::{StorageError, StorageFuture};
use bytes::Bytes;
use std::pin::Pin;

/// Bytes flowing into or out of a bucket, chunk by chunk.
pub type ByteStream = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// An object's HTTP metadata as the R2 binding keeps it (`r2.js`'s `HTTP_FIELDS`): JSON of
/// these fields, each from the header beside it, and `cacheExpiry` in ms from `expires`.
pub const HTTP_METADATA_FIELDS: [(&str, &str); 5] = [
    ("contentType", "content-type"),
    ("contentLanguage", "content-language"),
    ("contentDisposition", "content-disposition"),
    ("contentEncoding", "content-encoding"),
    ("cacheControl", "cache-control"),
];

/// The HTTP metadata JSON of an object whose headers `header` gives (by lowercase name).
pub fn http_metadata(header: impl Fn(&str) -> Option<String>) -> String {
    let mut metadata: serde_json::Map<String, serde_json::Value> = HTTP_METADATA_FIELDS
        .iter()
        .filter_map(|(field, name)| Some(((*field).to_owned(), header(name)?.into())))
        .collect();
    let expires = header("expires")
        .and_then(|date| chrono::DateTime::parse_from_rfc2822(&date).ok())
        .map(|date| date.timestamp_millis());
    if let Some(expires) = expires {
        metadata.insert("cacheExpiry".into(), expires.into());
    }
    serde_json::Value::Object(metadata).to_string()
}

/// R2's limits.
pub mod r2_limits {
    /// Bytes of a key, UTF-8 encoded.
    pub const KEY_BYTES: usize = 1024;
    /// Bytes of an object written in one `put` (5 GiB less 5 MiB).
    pub const PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024;
    /// Bytes of every part of a multipart upload but the last.
    pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
    /// The highest part number.
    pub const MAX_PARTS: u32 = 10_000;
    /// The most objects and prefixes one `list` returns.
    pub const LIST_LIMIT: usize = 1000;
}

/// An object as a bucket describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    /// Changes with every write of the key.
    pub version: String,
    pub size: u64,
    /// Hex digits, unquoted: the MD5 of the bytes, or for a multipart upload the MD5 of the
    /// parts' MD5s followed by `-` and the number of parts.
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub uploaded_ms: u64,
    /// The HTTP metadata, as JSON the script's side wrote; the store keeps it as it is.
    pub http_metadata: String,
    /// The custom metadata, as JSON the script's side wrote.
    pub custom_metadata: String,
    /// Checksums by algorithm (`md5`, `sha256`…) as JSON of hex strings.
    pub checksums: String,
}

/// What a new object is given besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewObject {
    pub http_metadata: String,
    pub custom_metadata: String,
    /// Checksums the script says the bytes have, by algorithm (`md5`, `sha1`, `sha256`,
    /// `sha384`, `sha512`), in hex: the write fails if the bytes disagree.
    pub expected: Vec<(String, String)>,
}

/// R2's conditions on an operation (`onlyIf`); an empty one always holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The etag must be one of these (`*`: any object).
    pub etag_matches: Option<Vec<String>>,
    /// The etag must be none of these (`*`: no object may exist).
    pub etag_does_not_match: Option<Vec<String>>,
    /// Uploaded strictly before this time (ms since the epoch).
    pub uploaded_before_ms: Option<u64>,
    /// Uploaded strictly after this time (ms since the epoch).
    pub uploaded_after_ms: Option<u64>,
    /// Compare upload times in whole seconds, as HTTP dates are.
    pub seconds_granularity: bool,
}

impl Conditions {
    /// Whether the operation may go ahead on `object` (`None`: the key has no object). As in
    /// HTTP (RFC 9110 §13.2.2), an etag condition makes the time condition of its kind moot.
    pub fn hold_for(&self, object: Option<&ObjectInfo>) -> bool {
        let listed = |list: &[String], object: &ObjectInfo| {
            list.iter().any(|etag| etag == "*" || *etag == object.etag)
        };
        let time = |ms: u64| {
            if self.seconds_granularity {
                ms / 1000
            } else {
                ms
            }
        };
        match (&self.etag_matches, object) {
            (Some(_), None) => return false,
            (Some(list), Some(object)) if !listed(list, object) => return false,
            (None, Some(object)) => {
                if let Some(before) = self.uploaded_before_ms {
                    if time(object.uploaded_ms) >= time(before) {
                        return false;
                    }
                }
            }
            _ => {}
        }
        let Some(object) = object else {
            return true;
        };
        match &self.etag_does_not_match {
            Some(list) => !listed(list, object),
            None => self
                .uploaded_after_ms
                .is_none_or(|after| time(object.uploaded_ms) > time(after)),
        }
    }
}

/// Which bytes of an object to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRange {
    /// From `offset`, `length` bytes or to the end.
    From { offset: u64, length: Option<u64> },
    /// The last `n` bytes.
    Suffix(u64),
}

impl ObjectRange {
    /// The byte span `(offset, length)` this range takes of an object of `size` bytes: a range
    /// running past the end stops there; one starting past it is refused, as R2 does.
    pub fn within(self, size: u64) -> Result<(u64, u64), StorageError> {
        match self {
            ObjectRange::From { offset, length } => {
                if offset > size {
                    return Err(StorageError::Invalid(format!(
                        "get: The requested range starts at byte {offset}, past the end of the \
                         object ({size} bytes). (10039)"
                    )));
                }
                let rest = size - offset;
                Ok((offset, length.map_or(rest, |length| length.min(rest))))
            }
            ObjectRange::Suffix(n) => {
                let length = n.min(size);
                Ok((size - length, length))
            }
        }
    }
}

/// What a `get` found.
pub enum GetOutcome {
    /// No object has the key.
    Missing,
    /// The object exists but the conditions do not hold: its description, no bytes.
    Unmet(ObjectInfo),
    /// The object and the bytes asked for, `(offset, length)` of it.
    Found {
        info: ObjectInfo,
        span: (u64, u64),
        body: ByteStream,
    },
}

/// Where to start and what to return in a `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub prefix: String,
    /// Keys holding this after the prefix are rolled up into one delimited prefix each.
    pub delimiter: Option<String>,
    /// From an earlier page.
    pub cursor: Option<String>,
    /// Only keys after this one.
    pub start_after: Option<String>,
    pub limit: usize,
}

/// A page of a listing in key order: objects and rolled-up prefixes, together at most the
/// limit; `cursor` continues after it unless the listing is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    pub objects: Vec<ObjectInfo>,
    pub delimited_prefixes: Vec<String>,
    pub cursor: Option<String>,
}

/// A bucket part of a multipart upload, as `complete` is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    pub etag: String,
}

/// Buckets of objects by name (R2). A write is durable once its future resolves; an object is
/// replaced whole, so readers see the old bytes or the new, never a mix.
pub trait BucketStore: Send + Sync {
    fn head(&self, bucket: &str, key: &str) -> StorageFuture<Option<ObjectInfo>>;
    fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ObjectRange>,
        only_if: Conditions,
    ) -> StorageFuture<GetOutcome>;
    /// Stores `body` under `key` unless `only_if` fails (then `None`, and nothing changes).
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        object: NewObject,
        only_if: Conditions,
    ) -> StorageFuture<Option<ObjectInfo>>;
    /// Removes the keys; ones with no object are no error.
    fn delete(&self, bucket: &str, keys: Vec<String>) -> StorageFuture<()>;
    fn list(&self, bucket: &str, options: ListOptions) -> StorageFuture<ObjectPage>;
    /// Starts a multipart upload to `key`; returns its id.
    fn create_multipart(&self, bucket: &str, key: &str, object: NewObject)
        -> StorageFuture<String>;
    /// Stores part `part_number` of an upload (again: replaces it); returns its etag.
    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> StorageFuture<String>;
    /// Joins the parts, in the order given, into the object.
    fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> StorageFuture<ObjectInfo>;
    fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> StorageFuture<()>;
}

/// One change to the index of buckets whose index is shared by several servers (a cluster):
/// `key` of `bucket` now names `object`, whose bytes are the blob named beside it in the shared
/// byte store — or names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexChange {
    pub bucket: String,
    pub key: String,
    pub object: Option<(ObjectInfo, String)>,
}

/// The log through which a shared index changes: every server applies its changes, in its
/// order, to its own copy of the index.
pub trait IndexLog: Send + Sync {
    /// Records `change`; resolves, once this server's own index has it, to the blob the key
    /// named before (which is no longer referenced), if it named one.
    fn record(&self, change: IndexChange) -> StorageFuture<Option<String>>;
}

/// A server's own copy of a shared index, to which the log's changes are applied.
pub trait IndexCopy: Send + Sync {
    /// The last revision of the log applied; 0 before the first.
    fn applied_revision(&self) -> StorageFuture<u64>;
    /// Applies `changes` in order and notes `revision` as applied, together.
    fn apply(&self, changes: Vec<IndexChange>, revision: u64) -> StorageFuture<()>;
}

/// Checks a key against R2's rules: not empty, at most 1024 bytes.
pub fn check_r2_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() || key.len() > r2_limits::KEY_BYTES {
        return Err(StorageError::Invalid(format!(
            "The specified object name is not valid: a key is 1 to {} bytes, this one {}. \
             (10020)",
            r2_limits::KEY_BYTES,
            key.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn object(etag: &str, uploaded_ms: u64) -> ObjectInfo {
        ObjectInfo {
            key: "k".into(),
            version: "v".into(),
            size: 10,
            etag: etag.into(),
            uploaded_ms,
            http_metadata: "{}".into(),
            custom_metadata: "{}".into(),
            checksums: "{}".into(),
        }
    }

    #[test]
    fn conditions_follow_http_precedence() {
        let found = object("abc", 10_500);
        let etags = |list: &[&str]| Some(list.iter().map(|e| (*e).to_owned()).collect());
        let holds =
            |conditions: Conditions, object: Option<&ObjectInfo>| conditions.hold_for(object);
        assert!(holds(Conditions::default(), None));
        let matches = Conditions {
            etag_matches: etags(&["x", "abc"]),
            // Moot: the etag condition decides.
            uploaded_before_ms: Some(1),
            ..Conditions::default()
        };
        assert!(holds(matches.clone(), Some(&found)));
        assert!(!holds(matches, None));
        let absent_only = Conditions {
            etag_does_not_match: etags(&["*"]),
            ..Conditions::default()
        };
        assert!(holds(absent_only.clone(), None));
        assert!(!holds(absent_only, Some(&found)));
        let after = |ms, seconds_granularity| Conditions {
            uploaded_after_ms: Some(ms),
            seconds_granularity,
            ..Conditions::default()
        };
        assert!(holds(after(10_000, false), Some(&found)));
        assert!(!holds(after(10_000, true), Some(&found)));
        let before = Conditions {
            uploaded_before_ms: Some(10_500),
            ..Conditions::default()
        };
        assert!(!holds(before, Some(&found)));
    }

    #[test]
    fn ranges_stop_at_the_end_and_refuse_to_start_past_it() {
        let from = |offset, length| ObjectRange::From { offset, length };
        assert_eq!(from(2, Some(3)).within(10).unwrap(), (2, 3));
        assert_eq!(from(8, Some(5)).within(10).unwrap(), (8, 2));
        assert_eq!(from(10, None).within(10).unwrap(), (10, 0));
        assert!(from(11, None).within(10).is_err());
        assert_eq!(ObjectRange::Suffix(4).within(10).unwrap(), (6, 4));
        assert_eq!(ObjectRange::Suffix(40).within(10).unwrap(), (0, 10));
    }
}
