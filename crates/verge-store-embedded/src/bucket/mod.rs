//! Object buckets (R2): an SQLite index on this machine, and the objects' bytes in files under
//! `blobs/` or in an S3 bucket ([`Blobs`]), both through `object_store`. An object's bytes are
//! written under a fresh random name, hashed as they stream in (and, as files, synced); then
//! one SQLite transaction points `(bucket, key)` at them with the object's description, and
//! only then are the bytes it replaced removed. So a reader sees the old object or the new whole, a write that resolved survives a
//! crash, and a crash mid-write leaves at most an unreferenced file. Keys map to rows, not
//! paths: `a` and `a/b` are both objects, and no key can name a file outside the directory.

mod digest;
mod index;

use crate::sql::open_synced;
use digest::{hex, random_id, unhex, Hashes};
use futures_util::StreamExt as _;
use index::{
    check_upload, choose_parts, list, object_row, set_object, take_upload, upload_key,
    upload_parts, Row, SCHEMA,
};
use md5::Digest as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as BlobPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, WriteMultipart};
use rusqlite::{params, Connection, OptionalExtension as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use verge_storage::{
    r2_limits, unix_now_ms as now_ms, BucketStore, ByteStream, Conditions, GetOutcome, IndexChange,
    IndexCopy, IndexLog, ListOptions, NewObject, ObjectInfo, ObjectPage, ObjectRange, StorageError,
    StorageFuture, UploadedPart,
};

/// How a file is written: in chunks of this many bytes, at most this many chunks at once — the
/// most memory one upload holds. To S3, parts are of the least size it takes.
const WRITE_CHUNK_BYTES: usize = 1024 * 1024;
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
const WRITES_IN_FLIGHT: usize = 2;

/// How long the bytes an object had stay after a shared index replaces it: the other servers'
/// copies of the index may point at them until they apply the change.
const SHARED_BLOB_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

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
    /// The log every change to the objects goes through when the index is shared.
    log: Option<Arc<dyn IndexLog>>,
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
        Self::open_inner(dir, blobs, None)
    }

    /// Buckets shared by several servers: the bytes in `blobs` (which they share), and the
    /// index in `dir` a copy, changed only by what its [`IndexCopy`] side is given from `log`,
    /// through which every write goes. Reads and lists are the copy's; a conditional write is
    /// judged by it, so two servers may both pass the same condition at once.
    pub fn open_shared(
        dir: &Path,
        blobs: Blobs,
        log: Arc<dyn IndexLog>,
    ) -> Result<Self, StorageError> {
        Self::open_inner(dir, blobs, Some(log))
    }

    fn open_inner(
        dir: &Path,
        blobs: Blobs,
        log: Option<Arc<dyn IndexLog>>,
    ) -> Result<Self, StorageError> {
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
                log,
            }),
        })
    }

    /// Applies `changes` of the shared index to this copy, in order, and notes `revision` as
    /// the last applied — all in one transaction.
    async fn apply_changes(
        &self,
        changes: Vec<IndexChange>,
        revision: u64,
    ) -> Result<(), StorageError> {
        self.index(move |index| {
            let tx = index.transaction().map_err(backend)?;
            for change in &changes {
                let object = change
                    .object
                    .as_ref()
                    .map(|(info, blob)| (info, blob.as_str()));
                set_object(&tx, &change.bucket, &change.key, object).map_err(backend)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO replica (name, value) VALUES ('revision', ?1)",
                [revision],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    /// The last revision of the shared index this copy has applied; 0 before the first.
    async fn revision_applied(&self) -> Result<u64, StorageError> {
        self.index(|index| {
            index
                .query_row(
                    "SELECT value FROM replica WHERE name = 'revision'",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map(Option::unwrap_or_default)
                .map_err(backend)
        })
        .await
    }

    /// Points `key` of `bucket` at `object` (or at nothing) if `holds` accepts the object it
    /// names now; the blob it named before (if any), or `None` when `holds` refused. With a
    /// shared index, `holds` judges this server's copy, the change goes through the log, and
    /// the blob the log says it replaced is removed a while later, once every server's copy
    /// has moved on (a restart in that while leaves it unreferenced in the store).
    async fn repoint(
        &self,
        bucket: &str,
        key: &str,
        object: Option<(ObjectInfo, String)>,
        holds: impl FnOnce(Option<&ObjectInfo>) -> bool + Send + 'static,
    ) -> Result<Option<Option<String>>, StorageError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let Some(log) = &self.inner.log else {
            return self
                .index(move |index| {
                    let tx = index.transaction().map_err(backend)?;
                    let current = object_row(&tx, &bucket, &key).map_err(backend)?;
                    if !holds(current.as_ref().map(|row| &row.info)) {
                        return Ok(None);
                    }
                    let object = object.as_ref().map(|(info, blob)| (info, blob.as_str()));
                    let before = set_object(&tx, &bucket, &key, object).map_err(backend)?;
                    tx.commit().map_err(backend)?;
                    Ok(Some(before))
                })
                .await;
        };
        let current = self.head_row(&bucket, &key).await?;
        if !holds(current.as_ref().map(|row| &row.info)) {
            return Ok(None);
        }
        let replaced = log
            .record(IndexChange {
                bucket,
                key,
                object,
            })
            .await?;
        if let Some(old) = replaced {
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(SHARED_BLOB_GRACE).await;
                this.remove_blobs(vec![old]).await;
            });
        }
        Ok(Some(None))
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
        let new_blob = blob.name;
        let object = Some((info.clone(), new_blob.clone()));
        let replaced = self
            .repoint(bucket, key, object, move |current| {
                only_if.hold_for(current)
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
            // A shared index's log may have recorded what it reports as failed: the bytes stay.
            Err(error) if self.inner.log.is_some() => Err(error),
            Err(error) => {
                self.remove_blobs(vec![new_blob]).await;
                Err(error)
            }
        }
    }

    async fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<(), StorageError> {
        if self.inner.log.is_some() {
            for key in keys {
                self.repoint(bucket, &key, None, |_| true).await?;
            }
            return Ok(());
        }
        let bucket = bucket.to_owned();
        let removed = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                let mut removed = Vec::new();
                for key in &keys {
                    removed.extend(set_object(&tx, &bucket, key, None).map_err(backend)?);
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
        if self.inner.log.is_some() {
            // The object through the shared index, then the upload, which is this server's.
            let object = Some((info.clone(), blob.name.clone()));
            self.repoint(bucket, key, object, |_| true).await?;
            let parts = self
                .index(move |index| {
                    let tx = index.transaction().map_err(backend)?;
                    let parts = take_upload(&tx, &upload.2).map_err(backend)?;
                    tx.commit().map_err(backend)?;
                    Ok(parts)
                })
                .await?;
            self.remove_blobs(parts).await;
            return Ok(info);
        }
        let (stored_info, name) = (info.clone(), blob.name.clone());
        let replaced = self
            .index(move |index| {
                let tx = index.transaction().map_err(backend)?;
                check_upload(&tx, &upload)?;
                let object = Some((&stored_info, name.as_str()));
                let old = set_object(&tx, &upload.0, &upload.1, object).map_err(backend)?;
                let mut unreferenced = take_upload(&tx, &upload.2).map_err(backend)?;
                tx.commit().map_err(backend)?;
                unreferenced.extend(old);
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
                let parts = take_upload(&tx, &upload.2).map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(parts)
            })
            .await?;
        self.remove_blobs(removed).await;
        Ok(())
    }
}

impl IndexCopy for ObjectBuckets {
    fn applied_revision(&self) -> StorageFuture<u64> {
        let this = self.clone();
        Box::pin(async move { this.revision_applied().await })
    }

    fn apply(&self, changes: Vec<IndexChange>, revision: u64) -> StorageFuture<()> {
        let this = self.clone();
        Box::pin(async move { this.apply_changes(changes, revision).await })
    }
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
mod tests;
