//! The buckets' SQLite index (`index.sqlite3`): which file holds each `(bucket, key)`, with the
//! object's description; multipart uploads and their parts; listings in key order, with
//! delimited keys rolled up into prefixes and a cursor that resumes after the last one returned.

use super::backend;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension as _};
use verge_storage::{r2_limits, ListOptions, ObjectInfo, ObjectPage, StorageError, UploadedPart};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, version TEXT NOT NULL, uploaded INTEGER NOT NULL,
  http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL, checksums TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
  http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS replica (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,
  size INTEGER NOT NULL, etag TEXT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
";

pub(super) const OBJECT_COLUMNS: &str =
    "key, version, size, etag, uploaded, http_metadata, custom_metadata, checksums, blob";

/// An object's row: its description and the file holding its bytes.
pub(super) struct Row {
    pub(super) info: ObjectInfo,
    pub(super) blob: String,
}

pub(super) fn object_row(
    index: &Connection,
    bucket: &str,
    key: &str,
) -> rusqlite::Result<Option<Row>> {
    index
        .query_row(
            &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
            params![bucket, key],
            read_row,
        )
        .optional()
}

pub(super) fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        info: ObjectInfo {
            key: row.get(0)?,
            version: row.get(1)?,
            size: row.get(2)?,
            etag: row.get(3)?,
            uploaded_ms: row.get(4)?,
            http_metadata: row.get(5)?,
            custom_metadata: row.get(6)?,
            checksums: row.get(7)?,
        },
        blob: row.get(8)?,
    })
}

fn upsert(index: &Connection, bucket: &str, info: &ObjectInfo, blob: &str) -> rusqlite::Result<()> {
    index.execute(
        "INSERT OR REPLACE INTO objects (bucket, key, blob, size, etag, version, uploaded, \
         http_metadata, custom_metadata, checksums) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            bucket,
            info.key,
            blob,
            info.size,
            info.etag,
            info.version,
            info.uploaded_ms,
            info.http_metadata,
            info.custom_metadata,
            info.checksums
        ],
    )?;
    Ok(())
}

/// `(bucket, key, upload id)`, owned for the index's thread.
pub(super) type UploadKey = (String, String, String);

pub(super) fn upload_key(bucket: &str, key: &str, upload_id: &str) -> UploadKey {
    (bucket.to_owned(), key.to_owned(), upload_id.to_owned())
}

/// The upload's HTTP and custom metadata, or R2's error if no such upload is in progress.
pub(super) fn check_upload(
    index: &Connection,
    upload: &UploadKey,
) -> Result<(String, String), StorageError> {
    index
        .query_row(
            "SELECT http_metadata, custom_metadata FROM uploads \
             WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3",
            params![upload.2, upload.0, upload.1],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(backend)?
        .ok_or_else(|| {
            StorageError::Invalid(
                "The specified multipart upload does not exist. (10024)".to_owned(),
            )
        })
}

pub(super) struct StoredPart {
    pub(super) part_number: u32,
    pub(super) blob: String,
    pub(super) size: u64,
    pub(super) etag: String,
}

pub(super) fn upload_parts(
    index: &Connection,
    upload_id: &str,
) -> rusqlite::Result<Vec<StoredPart>> {
    let mut statement = index.prepare(
        "SELECT part_number, blob, size, etag FROM parts WHERE upload_id = ?1 ORDER BY part_number",
    )?;
    let parts = statement.query_map([upload_id], |row| {
        Ok(StoredPart {
            part_number: row.get(0)?,
            blob: row.get(1)?,
            size: row.get(2)?,
            etag: row.get(3)?,
        })
    })?;
    parts.collect()
}

/// Forgets upload `upload_id`; the blobs of its parts, which nothing references any more.
pub(super) fn take_upload(index: &Connection, upload_id: &str) -> rusqlite::Result<Vec<String>> {
    let parts = upload_parts(index, upload_id)?;
    index.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
    index.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
    Ok(parts.into_iter().map(|part| part.blob).collect())
}

/// Points `key` of `bucket` at `object` (its description and blob), or at nothing; the blob it
/// named before, if any.
pub(super) fn set_object(
    index: &Connection,
    bucket: &str,
    key: &str,
    object: Option<(&ObjectInfo, &str)>,
) -> rusqlite::Result<Option<String>> {
    let before: Option<String> = index
        .query_row(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING blob",
            params![bucket, key],
            |row| row.get(0),
        )
        .optional()?;
    if let Some((info, blob)) = object {
        upsert(index, bucket, info, blob)?;
    }
    Ok(before)
}

/// The stored parts `complete` names, in its order, checked as R2 checks them.
pub(super) fn choose_parts<'a>(
    stored: &'a [StoredPart],
    parts: &[UploadedPart],
) -> Result<Vec<&'a StoredPart>, StorageError> {
    let invalid = |message: &str| Err(StorageError::Invalid(message.to_owned()));
    if parts.is_empty() {
        return invalid("completeMultipartUpload: No parts were given. (10025)");
    }
    let mut chosen: Vec<&StoredPart> = Vec::with_capacity(parts.len());
    for part in parts {
        if chosen
            .last()
            .is_some_and(|last| last.part_number >= part.part_number)
        {
            return invalid(
                "completeMultipartUpload: The parts must be listed in ascending order of part \
                 number. (10025)",
            );
        }
        let etag = part.etag.trim_matches('"');
        match stored
            .iter()
            .find(|s| s.part_number == part.part_number && s.etag == etag)
        {
            Some(found) => chosen.push(found),
            None => {
                return invalid(&format!(
                    "completeMultipartUpload: Part {} with etag {etag} was not uploaded. (10025)",
                    part.part_number
                ))
            }
        }
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|part| part.size < r2_limits::MIN_PART_BYTES)
    {
        return invalid(
            "completeMultipartUpload: Your proposed upload is smaller than the minimum allowed \
             object size: every part but the last must be at least 5 MiB. (10011)",
        );
    }
    Ok(chosen)
}

/// A listing: see [`ListOptions`]. The cursor names the last key or rolled-up prefix returned.
pub(super) fn list(
    index: &Connection,
    bucket: &str,
    options: &ListOptions,
) -> Result<ObjectPage, StorageError> {
    let resume = match &options.cursor {
        Some(cursor) => Some(decode_cursor(cursor)?),
        None => options.start_after.clone().map(Resume::After),
    };
    let start = match &resume {
        Some(Resume::After(key) | Resume::Past(key)) if key.as_str() > options.prefix.as_str() => {
            key.clone()
        }
        _ => options.prefix.clone(),
    };
    let mut statement = index
        .prepare_cached(&format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2 ORDER BY key"
        ))
        .map_err(backend)?;
    let mut rows = statement.query(params![bucket, start]).map_err(backend)?;
    let mut page = ObjectPage::default();
    let mut last: Option<Resume> = None;
    let mut taken = 0;
    while let Some(row) = rows.next().map_err(backend)? {
        let row = read_row(row).map_err(backend)?;
        let key = row.info.key.as_str();
        if !key.starts_with(&options.prefix) {
            break;
        }
        let skipped = match &resume {
            Some(Resume::After(after)) => key <= after.as_str(),
            Some(Resume::Past(prefix)) => key.starts_with(prefix.as_str()),
            None => false,
        };
        let rolled_up = options.delimiter.as_deref().and_then(|delimiter| {
            let rest = &key[options.prefix.len()..];
            rest.find(delimiter)
                .map(|at| key[..options.prefix.len() + at + delimiter.len()].to_owned())
        });
        if skipped || matches!((&rolled_up, &last), (Some(p), Some(Resume::Past(q))) if p == q) {
            continue;
        }
        if taken == options.limit {
            page.cursor = last.as_ref().map(encode_cursor);
            return Ok(page);
        }
        taken += 1;
        match rolled_up {
            Some(prefix) => {
                page.delimited_prefixes.push(prefix.clone());
                last = Some(Resume::Past(prefix));
            }
            None => {
                last = Some(Resume::After(row.info.key.clone()));
                page.objects.push(row.info);
            }
        }
    }
    Ok(page)
}

/// Where a listing resumes: after a key, or past every key under a rolled-up prefix.
pub(super) enum Resume {
    After(String),
    Past(String),
}

pub(super) fn encode_cursor(resume: &Resume) -> String {
    let text = match resume {
        Resume::After(key) => format!("k{key}"),
        Resume::Past(prefix) => format!("p{prefix}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

pub(super) fn decode_cursor(cursor: &str) -> Result<Resume, StorageError> {
    let invalid = || StorageError::Invalid(format!("list: Invalid cursor \"{cursor}\". (10050)"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split_at_checked(1) {
        Some(("k", key)) => Ok(Resume::After(key.to_owned())),
        Some(("p", prefix)) => Ok(Resume::Past(prefix.to_owned())),
        _ => Err(invalid()),
    }
}
