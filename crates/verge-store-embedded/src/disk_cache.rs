//! The Cache API's disk tier: responses in an SQLite file, bounded in bytes, least recently
//! used evicted first, with the memory store in front ([`TieredCache`]). Entries are not synced
//! on every write (`synchronous=NORMAL`): a cache may lose its newest entries in a power cut,
//! as Workers' may drop anything at any time, but the file is never corrupt.

use crate::sql::open_synced;
use crate::MemoryCache;
use rusqlite::{params, Connection, OptionalExtension as _};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use verge_storage::{
    unix_now_ms as now_ms, CacheStore, CachedResponse, Purge, StorageError, StorageFuture,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS responses (
  cache TEXT NOT NULL, url TEXT NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL,
  vary TEXT NOT NULL, body BLOB NOT NULL, expires INTEGER, size INTEGER NOT NULL,
  used INTEGER NOT NULL, UNIQUE (cache, url)
);
CREATE INDEX IF NOT EXISTS responses_by_use ON responses (used);
";

/// How stale an entry's last use may be before a read records a new one: reads mostly stay
/// reads.
const USE_GRANULARITY_MS: u64 = 60_000;

/// A Cache API store in an SQLite file; cheap to clone.
#[derive(Clone)]
pub struct DiskCache {
    state: Arc<Mutex<State>>,
    capacity: u64,
}

struct State {
    conn: Connection,
    /// Bytes of every entry, as [`entry_size`] counts them.
    bytes: u64,
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("the cache's disk: {error}"))
}

/// [`size_of`](crate::cache::size_of), as the disk tier counts in.
fn entry_size(url: &str, response: &CachedResponse) -> u64 {
    crate::cache::size_of(url, response) as u64
}

impl DiskCache {
    /// The cache in the file at `path` (created if need be), holding at most `capacity` bytes.
    pub fn open(path: &Path, capacity: u64) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let conn = open_synced(path)
            .and_then(|conn| {
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.execute_batch(SCHEMA)?;
                Ok(conn)
            })
            .map_err(|e| backend(format!("{}: {e}", path.display())))?;
        let bytes: u64 = conn
            .query_row("SELECT coalesce(sum(size), 0) FROM responses", [], |row| {
                row.get(0)
            })
            .map_err(backend)?;
        Ok(Self {
            state: Arc::new(Mutex::new(State { conn, bytes })),
            capacity,
        })
    }

    /// Runs `work` on the file, on the blocking pool.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State, u64) -> rusqlite::Result<T> + Send + 'static,
    ) -> StorageFuture<T> {
        let (state, capacity) = (self.state.clone(), self.capacity);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                work(&mut state, capacity).map_err(backend)
            })
            .await
            .map_err(|e| backend(format!("the cache task failed: {e}")))?
        })
    }
}

impl State {
    fn remove(&mut self, cache: &str, url: &str) -> rusqlite::Result<bool> {
        let size: Option<u64> = self
            .conn
            .query_row(
                "DELETE FROM responses WHERE cache = ?1 AND url = ?2 RETURNING size",
                params![cache, url],
                |row| row.get(0),
            )
            .optional()?;
        self.bytes -= size.unwrap_or(0).min(self.bytes);
        Ok(size.is_some())
    }

    /// Drops expired entries, then the least recently used, until `incoming` more bytes fit.
    fn make_room(&mut self, incoming: u64, capacity: u64) -> rusqlite::Result<()> {
        if self.bytes + incoming <= capacity {
            return Ok(());
        }
        self.delete_sizes(
            "DELETE FROM responses WHERE expires <= ?1 RETURNING size",
            [now_ms()],
        )?;
        while self.bytes + incoming > capacity {
            let deleted = self.delete_sizes(
                "DELETE FROM responses WHERE rowid IN \
                 (SELECT rowid FROM responses ORDER BY used, rowid LIMIT 1) RETURNING size",
                [],
            )?;
            if deleted == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Runs a `DELETE … RETURNING size`, takes the sizes off the count and returns how many
    /// entries went.
    fn delete_sizes(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<usize> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let sizes = statement
            .query_map(params, |row| row.get::<_, u64>(0))?
            .collect::<rusqlite::Result<Vec<u64>>>()?;
        self.bytes -= sizes.iter().sum::<u64>().min(self.bytes);
        Ok(sizes.len())
    }
}

impl CacheStore for DiskCache {
    fn get(&self, cache: &str, url: &str) -> StorageFuture<Option<CachedResponse>> {
        let (cache, url) = (cache.to_owned(), url.to_owned());
        self.run(move |state, _| {
            let found = state
                .conn
                .prepare_cached(
                    "SELECT status, headers, vary, body, expires, used FROM responses \
                     WHERE cache = ?1 AND url = ?2",
                )?
                .query_row(params![cache, url], |row| {
                    let headers: String = row.get(1)?;
                    let vary: String = row.get(2)?;
                    Ok((
                        CachedResponse {
                            status: row.get(0)?,
                            headers: serde_json::from_str(&headers).unwrap_or_default(),
                            vary: serde_json::from_str(&vary).unwrap_or_default(),
                            body: row.get::<_, Vec<u8>>(3)?.into(),
                            expires_ms: row.get(4)?,
                        },
                        row.get::<_, u64>(5)?,
                    ))
                })
                .optional()?;
            let Some((response, used)) = found else {
                return Ok(None);
            };
            let now = now_ms();
            if response.expires_ms.is_some_and(|at| at <= now) {
                state.remove(&cache, &url)?;
                return Ok(None);
            }
            if used + USE_GRANULARITY_MS < now {
                state.conn.execute(
                    "UPDATE responses SET used = ?3 WHERE cache = ?1 AND url = ?2",
                    params![cache, url, now],
                )?;
            }
            Ok(Some(response))
        })
    }

    fn put(&self, cache: &str, url: &str, response: CachedResponse) -> StorageFuture<()> {
        let (cache, url) = (cache.to_owned(), url.to_owned());
        self.run(move |state, capacity| {
            state.remove(&cache, &url)?;
            let size = entry_size(&url, &response);
            // Larger than the whole cache: not kept, as a full cache would drop it.
            if size > capacity {
                return Ok(());
            }
            state.make_room(size, capacity)?;
            let headers = serde_json::to_string(&response.headers).unwrap_or_default();
            let vary = serde_json::to_string(&response.vary).unwrap_or_default();
            state.conn.execute(
                "INSERT INTO responses (cache, url, status, headers, vary, body, expires, size, \
                 used) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    cache,
                    url,
                    response.status,
                    headers,
                    vary,
                    &response.body[..],
                    response.expires_ms,
                    size,
                    now_ms()
                ],
            )?;
            state.bytes += size;
            Ok(())
        })
    }

    fn delete(&self, cache: &str, url: &str) -> StorageFuture<bool> {
        let (cache, url) = (cache.to_owned(), url.to_owned());
        self.run(move |state, _| state.remove(&cache, &url))
    }

    fn purge(&self, purge: &Purge) -> StorageFuture<usize> {
        let purge = purge.clone();
        self.run(move |state, _| {
            if purge == Purge::Everything {
                return state.delete_sizes("DELETE FROM responses RETURNING size", []);
            }
            let doomed: Vec<i64> = {
                let mut statement = state.conn.prepare("SELECT rowid, url FROM responses")?;
                let rows = statement.query_map([], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?;
                let mut doomed = Vec::new();
                for row in rows {
                    let (rowid, url) = row?;
                    if purge.matches(&url) {
                        doomed.push(rowid);
                    }
                }
                doomed
            };
            let mut purged = 0;
            for rowid in doomed {
                purged += state.delete_sizes(
                    "DELETE FROM responses WHERE rowid = ?1 RETURNING size",
                    [rowid],
                )?;
            }
            Ok(purged)
        })
    }
}

/// Memory in front of disk: a read that misses memory and finds the entry on disk brings it
/// back into memory; writes and deletes reach both. A read that brought back an entry while a
/// delete or purge ran takes it out of memory again: it may have read the entry from disk just
/// before the purge removed it there, and would otherwise keep it alive in memory.
#[derive(Clone)]
pub struct TieredCache {
    memory: MemoryCache,
    disk: DiskCache,
    /// Moved on as each delete or purge starts and ends.
    removals: Arc<std::sync::atomic::AtomicU64>,
}

impl TieredCache {
    pub fn new(memory: MemoryCache, disk: DiskCache) -> Self {
        Self {
            memory,
            disk,
            removals: Arc::default(),
        }
    }

    /// The removal (a delete or a purge of both tiers) `start` starts, with
    /// [`TieredCache::removals`] moved on before it starts and after it ends.
    fn removing<T: Send + 'static>(
        &self,
        start: impl FnOnce() -> StorageFuture<T>,
    ) -> StorageFuture<T> {
        use std::sync::atomic::Ordering;
        let removals = self.removals.clone();
        removals.fetch_add(1, Ordering::SeqCst);
        let removal = start();
        Box::pin(async move {
            let result = removal.await;
            removals.fetch_add(1, Ordering::SeqCst);
            result
        })
    }
}

impl CacheStore for TieredCache {
    fn get(&self, cache: &str, url: &str) -> StorageFuture<Option<CachedResponse>> {
        use std::sync::atomic::Ordering;
        let (memory, disk) = (self.memory.clone(), self.disk.clone());
        let removals = self.removals.clone();
        let (cache, url) = (cache.to_owned(), url.to_owned());
        Box::pin(async move {
            if let Some(found) = memory.get(&cache, &url).await? {
                return Ok(Some(found));
            }
            let before = removals.load(Ordering::SeqCst);
            let found = disk.get(&cache, &url).await?;
            if let Some(found) = &found {
                memory.put(&cache, &url, found.clone()).await?;
                if removals.load(Ordering::SeqCst) != before {
                    memory.delete(&cache, &url).await?;
                }
            }
            Ok(found)
        })
    }

    fn put(&self, cache: &str, url: &str, response: CachedResponse) -> StorageFuture<()> {
        let in_memory = self.memory.put(cache, url, response.clone());
        let on_disk = self.disk.put(cache, url, response);
        Box::pin(async move {
            in_memory.await?;
            on_disk.await
        })
    }

    fn delete(&self, cache: &str, url: &str) -> StorageFuture<bool> {
        self.removing(|| {
            let in_memory = self.memory.delete(cache, url);
            let on_disk = self.disk.delete(cache, url);
            Box::pin(async move { Ok(in_memory.await? | on_disk.await?) })
        })
    }

    /// How many entries went from the tier that lost more (an entry is in both, or only one).
    fn purge(&self, purge: &Purge) -> StorageFuture<usize> {
        self.removing(|| {
            let in_memory = self.memory.purge(purge);
            let on_disk = self.disk.purge(purge);
            Box::pin(async move { Ok(in_memory.await?.max(on_disk.await?)) })
        })
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn response(body: &str, expires_ms: Option<u64>) -> CachedResponse {
        CachedResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.to_owned().into(),
            expires_ms,
            vary: vec![("accept".into(), Some("text/html".into()))],
        }
    }

    #[tokio::test]
    async fn the_disk_tier_is_bounded_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite3");
        let url = |i: usize| format!("https://a.example/{i}");
        let one = entry_size(&url(0), &response(&"x".repeat(1000), None));
        // Room for three, and a small one.
        let capacity = one * 3 + 100;
        let disk = DiskCache::open(&path, capacity).unwrap();
        for i in 0..4 {
            disk.put("default", &url(i), response(&"x".repeat(1000), None))
                .await
                .unwrap();
        }
        // The oldest went to make room for the fourth.
        assert!(disk.get("default", &url(0)).await.unwrap().is_none());
        assert_eq!(
            disk.get("default", &url(3)).await.unwrap(),
            Some(response(&"x".repeat(1000), None))
        );
        disk.put("default", &url(9), response("old", Some(now_ms() - 1)))
            .await
            .unwrap();
        assert!(disk.get("default", &url(9)).await.unwrap().is_none());
        assert!(disk.delete("default", &url(3)).await.unwrap());
        drop(disk);

        // Reopened, with memory in front: a disk hit comes back into memory.
        let disk = DiskCache::open(&path, capacity).unwrap();
        assert_eq!(disk.state.lock().unwrap().bytes, one * 2);
        let memory = MemoryCache::new(usize::try_from(one * 10).unwrap());
        let tiered = TieredCache::new(memory.clone(), disk.clone());
        assert!(memory.get("default", &url(2)).await.unwrap().is_none());
        assert!(tiered.get("default", &url(2)).await.unwrap().is_some());
        assert!(memory.get("default", &url(2)).await.unwrap().is_some());
        assert!(tiered.delete("default", &url(2)).await.unwrap());
        assert!(disk.get("default", &url(2)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_purge_empties_both_tiers_of_what_it_names_in_every_cache() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskCache::open(&dir.path().join("cache.sqlite3"), 1 << 20).unwrap();
        let tiers = TieredCache::new(MemoryCache::new(1 << 20), disk.clone());
        let response = CachedResponse {
            status: 200,
            headers: Vec::new(),
            body: "x".into(),
            expires_ms: None,
            vary: Vec::new(),
        };
        for (cache, url) in [
            ("default", "https://a.test/blog/1"),
            ("named", "http://a.test/blog/2"),
            ("default", "https://a.test/shop"),
            ("default", "https://b.test/blog/1"),
        ] {
            tiers.put(cache, url, response.clone()).await.unwrap();
        }
        let purged = tiers
            .purge(&Purge::Prefixes(vec!["a.test/blog".into()]))
            .await
            .unwrap();
        assert_eq!(purged, 2);
        assert!(tiers
            .get("named", "http://a.test/blog/2")
            .await
            .unwrap()
            .is_none());
        assert!(disk
            .get("default", "https://a.test/blog/1")
            .await
            .unwrap()
            .is_none());
        assert!(tiers
            .get("default", "https://a.test/shop")
            .await
            .unwrap()
            .is_some());
        let exact = Purge::Urls(vec!["https://a.test/shop".into()]);
        assert_eq!(tiers.purge(&exact).await.unwrap(), 1);
        assert_eq!(tiers.purge(&Purge::Everything).await.unwrap(), 1);
        assert!(tiers
            .get("default", "https://b.test/blog/1")
            .await
            .unwrap()
            .is_none());
    }
}
