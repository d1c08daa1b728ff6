//! The Cache API's store on one machine: responses in memory, bounded in bytes, least recently
//! used evicted first. (Workers' cache is per data center and may drop anything at any time, so
//! a restart emptying it is within its contract.)

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use verge_storage::{unix_now_ms as now_ms, CacheStore, CachedResponse, Purge, StorageFuture};

type Key = (String, String);

struct Entry {
    response: CachedResponse,
    size: usize,
    /// When it was last used, in the store's own ticks.
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Entries by last use, oldest first.
    by_use: BTreeMap<u64, Key>,
    bytes: usize,
    tick: u64,
}

impl State {
    fn remove(&mut self, key: &Key) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                self.by_use.remove(&entry.used);
                self.bytes -= entry.size;
                true
            }
            None => false,
        }
    }

    fn touch(&mut self, key: &Key) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(entry) = self.entries.get_mut(key) {
            self.by_use.remove(&entry.used);
            entry.used = tick;
            self.by_use.insert(tick, key.clone());
        }
    }
}

/// A Cache API store in memory; cheap to clone.
#[derive(Clone)]
pub struct MemoryCache {
    state: Arc<Mutex<State>>,
    capacity: usize,
}

impl MemoryCache {
    /// A store holding at most `capacity` bytes of responses (headers and bodies).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Arc::default(),
            capacity,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// The bytes an entry counts for against a cache's bound: its URL, headers and body.
pub(crate) fn size_of(url: &str, response: &CachedResponse) -> usize {
    let headers: usize = response
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len())
        .sum();
    url.len() + headers + response.body.len()
}

impl CacheStore for MemoryCache {
    fn get(&self, cache: &str, url: &str) -> StorageFuture<Option<CachedResponse>> {
        let key = (cache.to_owned(), url.to_owned());
        let found = self.with(|state| {
            let expired = state
                .entries
                .get(&key)
                .map(|entry| entry.response.expires_ms.is_some_and(|at| at <= now_ms()))?;
            if expired {
                state.remove(&key);
                return None;
            }
            state.touch(&key);
            state.entries.get(&key).map(|entry| entry.response.clone())
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn put(&self, cache: &str, url: &str, response: CachedResponse) -> StorageFuture<()> {
        let key = (cache.to_owned(), url.to_owned());
        let size = size_of(url, &response);
        let capacity = self.capacity;
        self.with(|state| {
            state.remove(&key);
            // A response larger than the whole cache is not kept, as a full cache would drop it.
            if size > capacity {
                return;
            }
            while state.bytes + size > capacity {
                let Some((_, oldest)) = state.by_use.pop_first() else {
                    break;
                };
                if let Some(entry) = state.entries.remove(&oldest) {
                    state.bytes -= entry.size;
                }
            }
            state.tick += 1;
            let used = state.tick;
            state.by_use.insert(used, key.clone());
            state.bytes += size;
            state.entries.insert(
                key,
                Entry {
                    response,
                    size,
                    used,
                },
            );
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete(&self, cache: &str, url: &str) -> StorageFuture<bool> {
        let key = (cache.to_owned(), url.to_owned());
        let deleted = self.with(|state| state.remove(&key));
        Box::pin(std::future::ready(Ok(deleted)))
    }

    fn purge(&self, purge: &Purge) -> StorageFuture<usize> {
        let purged = self.with(|state| {
            let doomed: Vec<Key> = state
                .entries
                .keys()
                .filter(|(_, url)| purge.matches(url))
                .cloned()
                .collect();
            doomed.iter().filter(|key| state.remove(key)).count()
        });
        Box::pin(std::future::ready(Ok(purged)))
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
            vary: Vec::new(),
        }
    }

    #[tokio::test]
    async fn least_recently_used_go_first_and_expired_never_return() {
        let url = |i: usize| format!("https://a.example/{i}");
        let one = size_of(&url(0), &response(&"x".repeat(100), None));
        let cache = MemoryCache::new(one * 3);
        for i in 0..3 {
            cache
                .put("default", &url(i), response(&"x".repeat(100), None))
                .await
                .unwrap();
        }
        // Using 0 makes 1 the least recently used: a fourth entry evicts it.
        assert!(cache.get("default", &url(0)).await.unwrap().is_some());
        cache
            .put("default", &url(3), response(&"x".repeat(100), None))
            .await
            .unwrap();
        assert!(cache.get("default", &url(1)).await.unwrap().is_none());
        for i in [0, 2, 3] {
            assert!(
                cache.get("default", &url(i)).await.unwrap().is_some(),
                "{i}"
            );
        }
        // Caches are separate by name; an expired entry is gone.
        assert!(cache.get("other", &url(0)).await.unwrap().is_none());
        cache
            .put("default", &url(9), response("old", Some(now_ms() - 1)))
            .await
            .unwrap();
        assert!(cache.get("default", &url(9)).await.unwrap().is_none());
        assert!(cache.delete("default", &url(3)).await.unwrap());
        assert!(!cache.delete("default", &url(3)).await.unwrap());
        // Larger than the whole cache: not kept, nothing else evicted.
        cache
            .put("default", &url(5), response(&"y".repeat(one * 4), None))
            .await
            .unwrap();
        assert!(cache.get("default", &url(5)).await.unwrap().is_none());
        assert!(cache.get("default", &url(2)).await.unwrap().is_some());
    }
}
