//! `verge-store-embedded` owns the storage backends that need no other server: KV in a redb
//! file ([`RedbKv`]).

mod kv;

pub use kv::RedbKv;
