//! `verge-store-embedded` owns the storage backends that need no other server: KV in a redb
//! file ([`RedbKv`]) and the Cache API's responses in memory ([`MemoryCache`]).

mod cache;
mod kv;

pub use cache::MemoryCache;
pub use kv::RedbKv;
