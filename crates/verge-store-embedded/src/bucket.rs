//! Object buckets (R2): an SQLite index on this machine, and the objects' bytes in files under
//! `blobs/` or in an S3 bucket ([`Blobs`]), both through `object_store`. An object's bytes are
//! written under a fresh random name, hashed as they stream in (and, as files, synced); then
//! one SQLite transaction points `(bucket, key)` at them with the object's description, and
//! only then are the bytes it replaced removed. So a reader sees the old object or the new whole, a write that resolved survives a
//! crash, and a crash mid-write leaves at most an unreferenced file. Keys map to rows, not
//! paths: `a` and `a/b` are both objects, and no key can name a file outside the directory.

use crate::sql::open_synced;
use base64::Engine as _;
use futures_util::StreamExt as _;
use md5::Digest as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as BlobPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, WriteMultipart};
use rusqlite::{params, Connection, OptionalExtension as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use verge_storage::{
    r2_limits, unix_now_ms as now_ms, BucketStore, ByteStream, Conditions, GetOutcome, ListOptions,
    NewObject, ObjectInfo, ObjectPage, ObjectRange, StorageError, StorageFuture, UploadedPart,
};

const SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,
  size INTEGER NOT NULL, etag TEXT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
";

/// How a file is written: in chunks of this many bytes, at most this many chunks at once — the
/// most memory one upload holds. To S3, parts are of the least size it takes.
const WRITE_CHUNK_BYTES: usize = 1024 * 1024;
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
const WRITES_IN_FLIGHT: usize = 2;

const OBJECT_COLUMNS: &str =
    "key, version, size, etag, uploaded, http_metadata, custom_metadata, checksums, blob";

/// The buckets whose index is in one directory (`index.sqlite3`).
#[derive(Clone)]
pub struct ObjectBuckets {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    blobs: Arc<dyn ObjectStore>,
    /// Whether the bytes are files under `dir`, synced once written.
    local: bool,
    /// The size of each part the bytes are written in.
    chunk_bytes: usize,
    index: Mutex<Connection>,
}

/// Where objects' bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blobs {
    /// Files under the index's directory, in `blobs/`.
    Local,
    /// An S3 bucket (or an S3-compatible server's), credentials from the environment.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: bool,
    },
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

/// A file of bytes that was written, hashed and synced.
struct Blob {
    name: String,
    size: u64,
    md5: [u8; 16],
}

impl ObjectBuckets {
    /// The buckets in `dir`, bytes and index, created if need be.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        Self::open_with(dir, Blobs::Local)
    }

    /// The buckets whose index is in `dir` (created if need be) and whose bytes go to `blobs`.
    pub fn open_with(dir: &Path, blobs: Blobs) -> Result<Self, StorageError> {
        let files = if blobs == Blobs::Local {
            dir.join("blobs")
        } else {
            dir.to_owned()
        };
        std::fs::create_dir_all(&files)
            .map_err(|e| backend(format!("{}: {e}", files.display())))?;
        let (store, local, chunk_bytes): (Arc<dyn ObjectStore>, bool, usize) = match blobs {
            Blobs::Local => (
                Arc::new(LocalFileSystem::new_with_prefix(dir).map_err(backend)?),
                true,
                WRITE_CHUNK_BYTES,
            ),
            Blobs::S3 {
                bucket,
                endpoint,
                region,
                allow_http,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_allow_http(allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(region) = region {
                    builder = builder.with_region(region);
                }
                // S3 takes parts of at least 5 MiB, but the last.
                let store = builder.build().map_err(backend)?;
                (Arc::new(store), false, S3_PART_BYTES)
            }
        };
        let index = open_synced(&dir.join("index.sqlite3"))
            .and_then(|conn| conn.execute_batch(SCHEMA).map(|()| conn))
            .map_err(|e| backend(format!("{}: {e}", dir.join("index.sqlite3").display())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                blobs: store,
                local,
                chunk_bytes,
                index: Mutex::new(index),
            }),
        })
    }

    /// Runs `work` on the index, on the blocking pool.
    async fn index<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut index = inner.index.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut index)
        })
        .await
        .map_err(|e| backend(format!("the index task failed: {e}")))?
    }

    /// Streams `body` into a new file, at most `max` bytes, checking it against `expected`;
    /// returns it with the checksums it has, or removes it and fails.
    async fn write_blob(
        &self,
        mut body: ByteStream,
        expected: &[(String, String)],
        max: u64,
    ) -> Result<(Blob, String), StorageError> {
        let name = format!("blobs/{}", random_id());
        let path = BlobPath::from(name.as_str());
        let upload = self
            .inner
            .blobs
            .put_multipart(&path)
            .await
            .map_err(backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.inner.chunk_bytes);
        let mut hashes = Hashes::new(expected)?;
        let mut size = 0u64;
        let failure = loop {
            let chunk = match body.next().await {
                None => break None,
                Some(Err(error)) => break Some(error),
                Some(Ok(chunk)) => chunk,
            };
            size += chunk.len() as u64;
            if size > max {
                break Some(StorageError::Invalid(format!(
                    "put: The object is over the limit of {max} bytes for one write; use a \
                     multipart upload. (100100)"
                )));
            }
            hashes.update(&chunk);
            if let Err(error) = writer.wait_for_capacity(WRITES_IN_FLIGHT).await {
                break Some(backend(error));
            }
            writer.put(chunk);
        };
        if let Some(error) = failure {
            let _ = writer.abort().await;
            return Err(error);
        }
        writer.finish().await.map_err(backend)?;
        let blob = Blob {
            name,
            size,
            md5: hashes.md5(),
        };
        let checked = hashes.check(expected).and_then(|checksums| {
            self.sync(&blob.name)?;
            Ok(checksums)
        });
        match checked {
            Ok(checksums) => Ok((blob, checksums)),
            Err(error) => {
                self.remove_blobs(vec![blob.name]).await;
                Err(error)
            }
        }
    }

    /// Puts a written file on the disk for good: its bytes and its name in the directory. (An
    /// S3 store has them durable once the upload completes.)
    fn sync(&self, name: &str) -> Result<(), StorageError> {
        if !self.inner.local {
            return Ok(());
        }
        let path = self.inner.dir.join(name);
        let synced = std::fs::File::open(&path)
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::File::open(self.inner.dir.join("blobs")))
            .and_then(|dir| dir.sync_all());
        synced.map_err(|e| backend(format!("{}: {e}", path.display())))
    }

    /// Removes files no row points at any more; a failure leaves an unreferenced file.
    async fn remove_blobs(&self, names: Vec<String>) {
        for name in names {
            if let Err(error) = self
                .inner
                .blobs
                .delete(&BlobPath::from(name.as_str()))
                .await
            {
                tracing::warn!("an unreferenced object file {name} stays: {error}");
            }
        }
    }

    async fn head_row(&self, bucket: &str, key: &str) -> Result<Option<Row>, StorageError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.index(move |index| object_row(index, &bucket, &key).map_err(backend))
            .await
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ObjectRange>,
        only_if: &Conditions,
    ) -> Result<GetOutcome, StorageError> {
        // A write may replace the file between reading the row and opening it: then the row
        // read again names the new one.
        for _ in 0..3 {
            let Some(row) = self.head_row(bucket, key).await? else {
                return Ok(GetOutcome::Missing);
            };
            if !only_if.hold_for(Some(&row.info)) {
                return Ok(GetOutcome::Unmet(row.info));
            }
            let (offset, length) = match range {
                Some(range) => range.within(row.info.size)?,
                None => (0, row.info.size),
            };
            if length == 0 {
                let body: ByteStream = Box::pin(futures_util::stream::empty());
                return Ok(GetOutcome::Found {
                    info: row.info,
                    span: (offset, 0),
                    body,
                });
            }
            let options = GetOptions {
                range: Some(GetRange::Bounded(offset..offset + length)),
                ..GetOptions::default()
            };
            let path = BlobPath::from(row.blob.as_str());
            match self.inner.blobs.get_opts(&path, options).await {
                Ok(found) => {
                    let body: ByteStream =
                        Box::pin(found.into_stream().map(|c| c.map_err(backend)));
                    return Ok(GetOutcome::Found {
                        info: row.info,
                        span: (offset, length),
                        body,
                    });
                }
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(error) => return Err(backend(error)),
            }
        }
        Err(backend(format!("{key} kept changing while it was read")))
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        object: NewObject,
        only_if: Conditions,
    ) -> Result<Option<ObjectInfo>, StorageError> {
        let (blob, checksums) = self
            .write_blob(body, &object.expected, r2_limits::PUT_BYTES)
            .await?;
        let info = ObjectInfo {
            key: key.to_owned(),
            version: random_id(),
            size: blob.size,
            etag: hex(&blob.md5),
            uploaded_ms: now_ms(),
            http_metadata: object.http_metadata,
            custom_metadata: object.custom_metadata,
            checksums,
        };
        let (bucket, name) = (bucket.to_owned(), blob.name);
        let stored = info.clone();
        let new_blob = name.clone();
        let replaced = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                let current = object_row(&tx, &bucket, &stored.key).map_err(backend)?;
                if !only_if.hold_for(current.as_ref().map(|row| &row.info)) {
                    return Ok(None);
                }
                upsert(&tx, &bucket, &stored, &name).map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(Some(current.map(|row| row.blob)))
            })
            .await;
        match replaced {
            Ok(Some(old)) => {
                self.remove_blobs(old.into_iter().collect()).await;
                Ok(Some(info))
            }
            Ok(None) => {
                self.remove_blobs(vec![new_blob]).await;
                Ok(None)
            }
            Err(error) => {
                self.remove_blobs(vec![new_blob]).await;
                Err(error)
            }
        }
    }

    async fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<(), StorageError> {
        let bucket = bucket.to_owned();
        let removed = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                let mut removed = Vec::new();
                for key in &keys {
                    let blob: Option<String> = tx
                        .query_row(
                            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING blob",
                            params![bucket, key],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(backend)?;
                    removed.extend(blob);
                }
                tx.commit().map_err(backend)?;
                Ok(removed)
            })
            .await?;
        self.remove_blobs(removed).await;
        Ok(())
    }

    async fn upload_part_blob(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<String, StorageError> {
        if !(1..=r2_limits::MAX_PARTS).contains(&part_number) {
            return Err(StorageError::Invalid(format!(
                "uploadPart: Part number must be between 1 and {} (inclusive). (10023)",
                r2_limits::MAX_PARTS
            )));
        }
        let upload = upload_key(bucket, key, upload_id);
        self.index(move |index| check_upload(index, &upload))
            .await?;
        let (blob, _) = self.write_blob(body, &[], r2_limits::PUT_BYTES).await?;
        let etag = hex(&blob.md5);
        let upload = upload_key(bucket, key, upload_id);
        let (name, stored_etag) = (blob.name.clone(), etag.clone());
        let replaced = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                check_upload(&tx, &upload)?;
                let old: Option<String> = tx
                    .query_row(
                        "SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2",
                        params![upload.2, part_number],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                tx.execute(
                    "INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![upload.2, part_number, name, blob.size, stored_etag],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(old)
            })
            .await;
        match replaced {
            Ok(old) => {
                self.remove_blobs(old.into_iter().collect()).await;
                Ok(etag)
            }
            Err(error) => {
                self.remove_blobs(vec![blob.name]).await;
                Err(error)
            }
        }
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectInfo, StorageError> {
        let upload = upload_key(bucket, key, upload_id);
        let (stored, metadata) = self
            .index(move |index| {
                let metadata = check_upload(index, &upload)?;
                Ok((upload_parts(index, &upload.2).map_err(backend)?, metadata))
            })
            .await?;
        let chosen = choose_parts(&stored, &parts)?;
        // The parts' bytes, in order, into one new file.
        let inner = self.inner.clone();
        let names: Vec<String> = chosen.iter().map(|part| part.blob.clone()).collect();
        let body: ByteStream = Box::pin(
            futures_util::stream::iter(names)
                .then(move |name| {
                    let blobs = inner.blobs.clone();
                    async move {
                        let path = BlobPath::from(name.as_str());
                        let found = blobs.get(&path).await.map_err(backend)?;
                        Ok::<_, StorageError>(found.into_stream().map(|c| c.map_err(backend)))
                    }
                })
                .map(|opened| match opened {
                    Ok(stream) => stream.boxed(),
                    Err(error) => futures_util::stream::once(async { Err(error) }).boxed(),
                })
                .flatten(),
        );
        let (blob, _) = self.write_blob(body, &[], u64::MAX).await?;
        let mut md5s = md5::Md5::new();
        for part in &chosen {
            md5s.update(unhex(&part.etag));
        }
        let info = ObjectInfo {
            key: key.to_owned(),
            version: random_id(),
            size: blob.size,
            etag: format!("{}-{}", hex(&md5s.finalize()), chosen.len()),
            uploaded_ms: now_ms(),
            http_metadata: metadata.0,
            custom_metadata: metadata.1,
            checksums: "{}".into(),
        };
        let upload = upload_key(bucket, key, upload_id);
        let (stored_info, name) = (info.clone(), blob.name.clone());
        let replaced = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                check_upload(&tx, &upload)?;
                let old = object_row(&tx, &upload.0, &upload.1).map_err(backend)?;
                let parts = upload_parts(&tx, &upload.2).map_err(backend)?;
                upsert(&tx, &upload.0, &stored_info, &name).map_err(backend)?;
                forget_upload(&tx, &upload.2).map_err(backend)?;
                tx.commit().map_err(backend)?;
                let mut unreferenced: Vec<String> = parts.into_iter().map(|p| p.blob).collect();
                unreferenced.extend(old.map(|row| row.blob));
                Ok(unreferenced)
            })
            .await;
        match replaced {
            Ok(unreferenced) => {
                self.remove_blobs(unreferenced).await;
                Ok(info)
            }
            Err(error) => {
                self.remove_blobs(vec![blob.name]).await;
                Err(error)
            }
        }
    }

    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StorageError> {
        let upload = upload_key(bucket, key, upload_id);
        let removed = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                if check_upload(&tx, &upload).is_err() {
                    return Ok(Vec::new());
                }
                let parts = upload_parts(&tx, &upload.2).map_err(backend)?;
                forget_upload(&tx, &upload.2).map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(parts.into_iter().map(|part| part.blob).collect())
            })
            .await?;
        self.remove_blobs(removed).await;
        Ok(())
    }
}

/// An object's row: its description and the file holding its bytes.
struct Row {
    info: ObjectInfo,
    blob: String,
}

fn object_row(index: &Connection, bucket: &str, key: &str) -> rusqlite::Result<Option<Row>> {
    index
        .query_row(
            &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
            params![bucket, key],
            read_row,
        )
        .optional()
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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
type UploadKey = (String, String, String);

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> UploadKey {
    (bucket.to_owned(), key.to_owned(), upload_id.to_owned())
}

/// The upload's HTTP and custom metadata, or R2's error if no such upload is in progress.
fn check_upload(index: &Connection, upload: &UploadKey) -> Result<(String, String), StorageError> {
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

struct StoredPart {
    part_number: u32,
    blob: String,
    size: u64,
    etag: String,
}

fn upload_parts(index: &Connection, upload_id: &str) -> rusqlite::Result<Vec<StoredPart>> {
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

fn forget_upload(index: &Connection, upload_id: &str) -> rusqlite::Result<()> {
    index.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
    index.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
    Ok(())
}

/// The stored parts `complete` names, in its order, checked as R2 checks them.
fn choose_parts<'a>(
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
fn list(
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
enum Resume {
    After(String),
    Past(String),
}

fn encode_cursor(resume: &Resume) -> String {
    let text = match resume {
        Resume::After(key) => format!("k{key}"),
        Resume::Past(prefix) => format!("p{prefix}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Result<Resume, StorageError> {
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

/// The digests of bytes as they stream in: MD5 always (the etag), and the algorithms a
/// script gave checksums for.
struct Hashes {
    md5: md5::Md5,
    others: Vec<(String, ring::digest::Context)>,
}

impl Hashes {
    fn new(expected: &[(String, String)]) -> Result<Self, StorageError> {
        let mut others = Vec::new();
        for (name, _) in expected {
            let algorithm = match name.as_str() {
                "md5" => continue,
                "sha1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                "sha256" => &ring::digest::SHA256,
                "sha384" => &ring::digest::SHA384,
                "sha512" => &ring::digest::SHA512,
                other => {
                    return Err(StorageError::Invalid(format!(
                        "put: Unknown checksum algorithm {other}."
                    )))
                }
            };
            others.push((name.clone(), ring::digest::Context::new(algorithm)));
        }
        Ok(Self {
            md5: md5::Md5::new(),
            others,
        })
    }

    fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        for (_, context) in &mut self.others {
            context.update(bytes);
        }
    }

    fn md5(&self) -> [u8; 16] {
        self.md5.clone().finalize().into()
    }

    /// The checksums as JSON, or R2's error for the first that disagrees with `expected`.
    fn check(self, expected: &[(String, String)]) -> Result<String, StorageError> {
        let mut computed = vec![("md5".to_owned(), hex(&self.md5()))];
        for (name, context) in self.others {
            computed.push((name, hex(context.finish().as_ref())));
        }
        for (name, hex_digest) in expected {
            let actual = computed.iter().find(|(n, _)| n == name).map(|(_, d)| d);
            if actual.map(|d| d.eq_ignore_ascii_case(hex_digest)) != Some(true) {
                return Err(StorageError::Invalid(format!(
                    "put: The {name} checksum you specified did not match what we received. \
                     (10037)"
                )));
            }
        }
        let json: serde_json::Map<String, serde_json::Value> = computed
            .into_iter()
            .map(|(name, digest)| (name, digest.into()))
            .collect();
        Ok(serde_json::Value::Object(json).to_string())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// 128 random bits as hex: a version, an upload id or a file name.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS's randomness, a clock-derived name still never repeats in this process.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    hex(&bytes)
}

impl BucketStore for ObjectBuckets {
    fn head(&self, bucket: &str, key: &str) -> StorageFuture<Option<ObjectInfo>> {
        let (this, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        Box::pin(async move { Ok(this.head_row(&bucket, &key).await?.map(|row| row.info)) })
    }

    fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ObjectRange>,
        only_if: Conditions,
    ) -> StorageFuture<GetOutcome> {
        let (this, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        Box::pin(async move { this.get_object(&bucket, &key, range, &only_if).await })
    }

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        object: NewObject,
        only_if: Conditions,
    ) -> StorageFuture<Option<ObjectInfo>> {
        let (this, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        Box::pin(async move { this.put_object(&bucket, &key, body, object, only_if).await })
    }

    fn delete(&self, bucket: &str, keys: Vec<String>) -> StorageFuture<()> {
        let (this, bucket) = (self.clone(), bucket.to_owned());
        Box::pin(async move { this.delete_objects(&bucket, keys).await })
    }

    fn list(&self, bucket: &str, options: ListOptions) -> StorageFuture<ObjectPage> {
        let (this, bucket) = (self.clone(), bucket.to_owned());
        Box::pin(async move {
            this.index(move |index| list(index, &bucket, &options))
                .await
        })
    }

    fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        object: NewObject,
    ) -> StorageFuture<String> {
        let (this, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        Box::pin(async move {
            let upload_id = random_id();
            let id = upload_id.clone();
            this.index(move |index| {
                index
                    .execute(
                        "INSERT INTO uploads (upload_id, bucket, key, http_metadata, \
                         custom_metadata) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            id,
                            bucket,
                            key,
                            object.http_metadata,
                            object.custom_metadata
                        ],
                    )
                    .map_err(backend)
            })
            .await?;
            Ok(upload_id)
        })
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> StorageFuture<String> {
        let (this, upload) = (self.clone(), upload_key(bucket, key, upload_id));
        Box::pin(async move {
            this.upload_part_blob(&upload.0, &upload.1, &upload.2, part_number, body)
                .await
        })
    }

    fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> StorageFuture<ObjectInfo> {
        let (this, upload) = (self.clone(), upload_key(bucket, key, upload_id));
        Box::pin(async move {
            this.complete_upload(&upload.0, &upload.1, &upload.2, parts)
                .await
        })
    }

    fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> StorageFuture<()> {
        let (this, upload) = (self.clone(), upload_key(bucket, key, upload_id));
        Box::pin(async move { this.abort_upload(&upload.0, &upload.1, &upload.2).await })
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use bytes::Bytes;

    fn body(bytes: &[u8]) -> ByteStream {
        // Two chunks, as a stream would bring them.
        let (a, b) = bytes.split_at(bytes.len() / 2);
        let chunks = vec![Ok(Bytes::copy_from_slice(a)), Ok(Bytes::copy_from_slice(b))];
        Box::pin(futures_util::stream::iter(chunks))
    }

    async fn read(outcome: GetOutcome) -> (ObjectInfo, (u64, u64), Vec<u8>) {
        let GetOutcome::Found { info, span, body } = outcome else {
            panic!("expected the object");
        };
        let chunks: Vec<Bytes> = body.map(Result::unwrap).collect().await;
        (info, span, chunks.concat())
    }

    async fn put(store: &ObjectBuckets, key: &str, bytes: &[u8]) -> ObjectInfo {
        store
            .put(
                "b",
                key,
                body(bytes),
                NewObject::default(),
                Conditions::default(),
            )
            .await
            .unwrap()
            .unwrap()
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir.join("blobs")).unwrap().count()
    }

    #[tokio::test]
    async fn objects_are_replaced_whole_and_read_by_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectBuckets::open(dir.path()).unwrap();
        let first = put(&store, "a", b"hello world").await;
        // The MD5 of "hello world".
        assert_eq!(first.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        put(&store, "a/b", b"nested").await;
        let second = put(&store, "a", b"HELLO WORLD").await;
        assert_ne!(first.version, second.version);
        assert_eq!(files(dir.path()), 2, "the replaced file is removed");

        let whole = store
            .get("b", "a", None, Conditions::default())
            .await
            .unwrap();
        assert_eq!(read(whole).await.2, b"HELLO WORLD");
        let range = Some(ObjectRange::From {
            offset: 6,
            length: Some(3),
        });
        let part = store
            .get("b", "a", range, Conditions::default())
            .await
            .unwrap();
        let (_, span, bytes) = read(part).await;
        assert_eq!((span, bytes.as_slice()), ((6, 3), &b"WOR"[..]));
        let suffix = store
            .get(
                "b",
                "a",
                Some(ObjectRange::Suffix(2)),
                Conditions::default(),
            )
            .await
            .unwrap();
        assert_eq!(read(suffix).await.2, b"LD");

        let stale = Conditions {
            etag_matches: Some(vec![first.etag.clone()]),
            ..Conditions::default()
        };
        let unmet = store.get("b", "a", None, stale.clone()).await.unwrap();
        assert!(matches!(unmet, GetOutcome::Unmet(info) if info.etag == second.etag));
        let refused = store
            .put("b", "a", body(b"x"), NewObject::default(), stale)
            .await
            .unwrap();
        assert!(refused.is_none());
        assert_eq!(files(dir.path()), 2, "a refused write leaves no file");

        let wrong_sum = NewObject {
            expected: vec![("sha256".into(), "00".repeat(32))],
            ..NewObject::default()
        };
        let error = store
            .put("b", "c", body(b"x"), wrong_sum, Conditions::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("sha256 checksum"), "{error}");
        assert!(store.head("b", "c").await.unwrap().is_none());

        store
            .delete("b", vec!["a".into(), "nothing".into()])
            .await
            .unwrap();
        assert!(store.head("b", "a").await.unwrap().is_none());
        assert!(store.head("b", "a/b").await.unwrap().is_some());
        assert!(store.head("other", "a/b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn listings_roll_up_prefixes_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectBuckets::open(dir.path()).unwrap();
        for key in ["p/a", "p/d/1", "p/d/2", "p/e/1", "p/z", "q"] {
            put(&store, key, b"x").await;
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let options = ListOptions {
                prefix: "p/".into(),
                delimiter: Some("/".into()),
                cursor: cursor.clone(),
                limit: 2,
                ..ListOptions::default()
            };
            let page = store.list("b", options).await.unwrap();
            let mut names: Vec<String> = page.objects.iter().map(|o| o.key.clone()).collect();
            names.extend(page.delimited_prefixes.iter().map(|p| format!("{p}*")));
            seen.push(names);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Objects first, then prefixes, per page; the last page is the one with no cursor.
        assert_eq!(seen, [["p/a", "p/d/*"], ["p/z", "p/e/*"]]);
        let after = ListOptions {
            start_after: Some("p/d/1".into()),
            limit: 10,
            ..ListOptions::default()
        };
        let page = store.list("b", after).await.unwrap();
        let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["p/d/2", "p/e/1", "p/z", "q"]);
        assert!(store
            .list(
                "b",
                ListOptions {
                    cursor: Some("!".into()),
                    limit: 1,
                    ..ListOptions::default()
                }
            )
            .await
            .is_err());
    }

    #[tokio::test]
    async fn multipart_uploads_join_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectBuckets::open(dir.path()).unwrap();
        let upload = store
            .create_multipart("b", "big", NewObject::default())
            .await
            .unwrap();
        let first = vec![1u8; r2_limits::MIN_PART_BYTES as usize];
        let one = store
            .upload_part("b", "big", &upload, 1, body(&first))
            .await
            .unwrap();
        let two = store
            .upload_part("b", "big", &upload, 2, body(b"tail"))
            .await
            .unwrap();
        let parts = |list: &[(u32, &str)]| {
            list.iter()
                .map(|(part_number, etag)| UploadedPart {
                    part_number: *part_number,
                    etag: (*etag).into(),
                })
                .collect::<Vec<_>>()
        };
        let unordered = store
            .complete_multipart("b", "big", &upload, parts(&[(2, &two), (1, &one)]))
            .await;
        assert!(unordered.unwrap_err().to_string().contains("ascending"));
        let small = store
            .upload_part("b", "small", &upload, 1, body(b"x"))
            .await
            .unwrap_err();
        assert!(small.to_string().contains("does not exist"), "{small}");
        let info = store
            .complete_multipart("b", "big", &upload, parts(&[(1, &one), (2, &two)]))
            .await
            .unwrap();
        assert_eq!(info.size, first.len() as u64 + 4);
        assert!(info.etag.ends_with("-2"), "{}", info.etag);
        let tail = store
            .get(
                "b",
                "big",
                Some(ObjectRange::Suffix(5)),
                Conditions::default(),
            )
            .await
            .unwrap();
        assert_eq!(read(tail).await.2, b"\x01tail");
        assert_eq!(files(dir.path()), 1, "the parts' files are removed");
        let again = store
            .complete_multipart("b", "big", &upload, parts(&[(1, &one)]))
            .await;
        assert!(again.is_err());
    }
}
