//! `verge-store-embedded` owns the storage backends that need no other server: KV in a redb
//! file ([`RedbKv`]), SQL databases in SQLite files ([`SqliteSql`]), object buckets in files
//! or S3 with an SQLite index ([`ObjectBuckets`]), Durable Objects' storage in an
//! SQLite file per object ([`ObjectFiles`]), the Cache API's responses in memory
//! ([`MemoryCache`]) in front of an SQLite file ([`DiskCache`], [`TieredCache`]), and queues'
//! messages in an SQLite file ([`SqliteQueues`]).

mod bucket;
mod cache;
mod disk_cache;
mod kv;
mod queue;
mod sql;

pub use bucket::{Blobs, ObjectBuckets};
pub use cache::MemoryCache;
pub use disk_cache::{DiskCache, TieredCache};
pub use kv::RedbKv;
pub use queue::SqliteQueues;
pub use sql::{ObjectFiles, SqlLimits, SqliteSql};
