//! `verge-bindings` owns Workers' platform bindings: what a worker's config grants it on `env` —
//! KV namespaces, D1 databases, R2 buckets, queue producers, service bindings (with JS RPC),
//! Durable Object namespaces, its assets — and the Cache API's
//! `caches`, which reaches the server's cache in the worker's own scope.
//!
//! A binding kind is one folder and one line of [`KINDS`] (and a field of [`Stores`] when its
//! backend is a store of a kind no other binding uses): its config section (as
//! `verge-config` reads it from the wrangler config) → the capability it needs (a store trait
//! of `verge-storage`, which a backend implements, or a callback of the server's) → the
//! JavaScript object on `env`, whose file sits beside its ops. Each folder's README says which
//! Cloudflare API it follows and where Verge differs. A binding is granted, never ambient: a
//! worker reaches only what its config names, and a config that names a kind this server has no
//! backend for does not load, naming the binding.
//!
//! Lifecycle: [`bind`] runs once per isolate, when the worker loads; the ops run per call, each
//! finding its binding by the id its JavaScript object carries (`verge_web::bound`).

mod assets;
mod cache;
mod d1;
mod durable_objects;
mod kv;
mod queues;
mod r2;
mod service;

pub use durable_objects::{
    object_state, CallFuture, HeldSocket, HibernatableSockets, ObjectAddress, ObjectGate,
    ObjectHost, ObjectState,
};

use std::rc::Rc;
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_js::rquickjs::{self, Ctx, Object, Value};
use verge_storage::{
    BucketStore, CacheStore, KvStore, QueueStore, SqlStore, StorageError, StorageFuture,
};
use verge_web::{Api, Outbound};

/// One kind of binding.
pub struct Kind {
    /// Its JavaScript, if its objects have any.
    pub api: Option<Api>,
    /// Puts this kind's bindings of `config` in the isolate of `ctx`: on `env`, or (for
    /// `caches`) where its ops find them.
    pub bind:
        for<'js> fn(&Ctx<'js>, &WorkerConfig, &Capabilities, &Object<'js>) -> rquickjs::Result<()>,
}

/// Every binding kind, in the order their objects go on `env`.
pub const KINDS: &[Kind] = &[
    kv::KIND,
    d1::KIND,
    r2::KIND,
    queues::KIND,
    service::KIND,
    durable_objects::KIND,
    assets::KIND,
    cache::KIND,
];

/// The bindings' JavaScript, for a platform (see `verge_web::Platform`).
pub fn apis() -> impl Iterator<Item = &'static Api> {
    KINDS.iter().filter_map(|kind| kind.api.as_ref())
}

/// Puts every binding `config` names on `env`, reaching what `capabilities` grants; an error
/// names a binding whose backend this server lacks.
pub fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    KINDS
        .iter()
        .try_for_each(|kind| (kind.bind)(ctx, config, capabilities, env))
}

/// The stores a server's bindings reach, one per kind of storage, shared by every thread; cheap
/// to clone. A binding kind with a backend of a new kind adds its field here.
#[derive(Clone, Default)]
pub struct Stores {
    /// Where `kv_namespaces` keep their keys; `None`: a worker with KV bindings does not load.
    pub kv: Option<Arc<dyn KvStore>>,
    /// What the Cache API keeps responses in; `None`: `caches` fail with a TypeError.
    pub cache: Option<Arc<dyn CacheStore>>,
    /// Where `d1_databases` keep their tables; `None`: a worker with D1 bindings does not load.
    pub sql: Option<Arc<dyn SqlStore>>,
    /// Where `r2_buckets` keep their objects; `None`: a worker with R2 bindings does not load.
    pub buckets: Option<Arc<dyn BucketStore>>,
    /// Where Durable Objects keep their storage; `None`: their events fail, naming it.
    pub objects: Option<Arc<dyn verge_storage::ObjectStore>>,
    /// Where queues keep their messages; `None`: a worker with queue producers does not load.
    pub queues: Option<Arc<dyn QueueStore>>,
}

/// Another worker as a service binding reaches it: by request (`fetch`), or by a method call
/// on its entrypoint (JS RPC).
pub trait Service: Outbound {
    /// Calls `method` with the serialized `args`, for a request `depth` calls deep.
    fn call(&self, method: String, args: String, depth: u32) -> CallFuture;
}

/// An isolate that reaches nothing (one being checked) calls nothing either.
impl Service for verge_web::Refused {
    fn call(&self, _: String, _: String, _: u32) -> CallFuture {
        let message = self.0;
        Box::pin(async move { Err(verge_js::OpError::Type(message.into())) })
    }
}

impl ObjectHost for verge_web::Refused {
    fn fetch(&self, _: ObjectAddress, request: verge_web::Request) -> verge_web::OutboundFuture {
        Outbound::fetch(self, request)
    }

    fn call(&self, _: ObjectAddress, method: String, args: String, depth: u32) -> CallFuture {
        Service::call(self, method, args, depth)
    }
}

/// Where service bindings go: the [`Service`] that reaches a binding's worker and entrypoint.
pub type ServiceResolver = Rc<dyn Fn(&verge_config::ServiceBinding) -> Rc<dyn Service>>;

/// What one isolate's bindings reach, as the host grants it.
#[derive(Clone)]
pub struct Capabilities {
    pub stores: Stores,
    /// Where its service bindings (`services`) go.
    pub services: ServiceResolver,
    /// What its `[assets] binding` fetches from, if it has assets.
    pub assets: Option<Rc<dyn Outbound>>,
    /// Where its Durable Object bindings' objects run; `None`: a worker with such bindings
    /// does not load.
    pub objects: Option<Rc<dyn ObjectHost>>,
}

/// One namespace of a store as a worker's binding reaches it (a KV namespace, a D1 database, an
/// R2 bucket): what the id its JavaScript object carries stands for.
struct Namespace<S: ?Sized> {
    store: Arc<S>,
    name: String,
}

impl<S: ?Sized> Clone for Namespace<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            name: self.name.clone(),
        }
    }
}

/// A binding object an engine makes itself: `env[binding] = internals[maker](id)`.
pub struct BindingObject {
    pub binding: String,
    pub maker: &'static str,
    pub id: usize,
}

/// The bindings of `config` whose ops are written for every engine (KV namespaces, D1
/// databases, R2 buckets, queue producers, service bindings' `fetch()`, the `[assets]` binding, and the
/// worker's scope of the Cache API),
/// kept in `table`: for an engine that makes the objects itself (JavaScriptCore's).
/// Bindings with no store stop the worker loading, naming the first.
pub fn keep_engine_neutral(
    config: &WorkerConfig,
    capabilities: &Capabilities,
    table: &verge_web::BindingTable,
) -> Result<Vec<BindingObject>, String> {
    let kv = config.kv_namespaces.iter();
    let kv = kv.map(|kv| (kv.binding.as_str(), kv.namespace()));
    let d1 = config.d1_databases.iter();
    let d1 = d1.map(|d1| (d1.binding.as_str(), d1.database()));
    let mut kept = keep_namespaces(
        table,
        ("KV", "makeKvNamespace"),
        &capabilities.stores.kv,
        kv,
    )?;
    let sql = &capabilities.stores.sql;
    kept.extend(keep_namespaces(table, ("D1", "makeD1Database"), sql, d1)?);
    let r2 = config.r2_buckets.iter();
    let r2 = r2.map(|r2| (r2.binding.as_str(), r2.bucket()));
    let buckets = &capabilities.stores.buckets;
    kept.extend(keep_namespaces(table, ("R2", "makeR2Bucket"), buckets, r2)?);
    kept.extend(queues::keep(config, capabilities, table)?);
    cache::keep_scope(config, capabilities, table);
    // Fetch only: JS RPC is still QuickJS's (`service.js`).
    for service in &config.services {
        let outbound: Rc<dyn Outbound> = (capabilities.services)(service);
        kept.push(BindingObject {
            binding: service.binding.clone(),
            maker: "makeServiceFetcher",
            id: table.keep(outbound),
        });
    }
    let assets = config
        .assets
        .as_ref()
        .and_then(|assets| assets.binding.as_deref());
    if let (Some(binding), Some(assets)) = (assets, &capabilities.assets) {
        kept.push(BindingObject {
            binding: binding.to_owned(),
            maker: "makeFetcher",
            id: table.keep(assets.clone()),
        });
    }
    Ok(kept)
}

/// [`keep_engine_neutral`] for one kind of namespace binding (`kind`'s name, its maker).
fn keep_namespaces<'a, S: ?Sized + 'static>(
    table: &verge_web::BindingTable,
    (kind, maker): (&str, &'static str),
    store: &Option<Arc<S>>,
    bindings: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<BindingObject>, String> {
    bindings
        .map(|(binding, name)| {
            let store = store
                .clone()
                .ok_or_else(|| format!("{kind} binding {binding} has no store to use"))?;
            let namespace = Namespace {
                store,
                name: name.to_owned(),
            };
            Ok(BindingObject {
                binding: binding.to_owned(),
                maker,
                id: table.keep(namespace),
            })
        })
        .collect()
}

/// Puts on `env`, for each `(binding, namespace)` of a config section of bindings of `kind`, the
/// object `internals[maker]` makes for that namespace of `store`. Bindings with no store stop
/// the worker loading, naming the first.
fn bind_namespaces<'a, 'js, S: ?Sized + 'static>(
    ctx: &Ctx<'js>,
    env: &Object<'js>,
    kind: &str,
    store: &Option<Arc<S>>,
    maker: &'static str,
    bindings: impl Iterator<Item = (&'a str, &'a str)>,
) -> rquickjs::Result<()> {
    let throw = |message: &str| rquickjs::Exception::throw_type(ctx, message);
    let table = verge_js::with_host_state(ctx, |host: &verge_web::WebHost| host.bindings.clone())
        .ok_or_else(|| throw("the isolate has no host"))?;
    let objects = keep_namespaces(&table, (kind, maker), store, bindings).map_err(|m| throw(&m))?;
    let make: rquickjs::Function = verge_web::internals(ctx)?.get(maker)?;
    for object in objects {
        env.set(object.binding, make.call::<_, Value>((object.id,))?)?;
    }
    Ok(())
}

/// The store's future for one call on binding `id` of kind `B` kept in `table`, for an
/// engine-neutral op: a TypeError if there is no such binding, `checked`'s error if the
/// arguments broke a rule, else what the store's future `call(binding)` gives.
fn store_call<B: Clone + 'static, T: 'static>(
    table: &verge_web::BindingTable,
    id: usize,
    checked: Result<(), StorageError>,
    call: impl FnOnce(B) -> StorageFuture<T>,
) -> impl std::future::Future<Output = Result<T, verge_js::OpError>> {
    let binding = table
        .get(id)
        .ok_or_else(|| verge_js::OpError::Type("not a binding of this worker".into()));
    let pending = binding.map(|binding| checked.map(|()| call(binding)));
    async move {
        pending?
            .map_err(storage_error)?
            .await
            .map_err(storage_error)
    }
}

/// How a storage failure rejects a script's promise: a broken rule or limit as a TypeError, a
/// backend's failure or a store's refusal (an SQL error) as an Error, each with the storage's
/// message.
fn storage_error(error: StorageError) -> verge_js::OpError {
    match error {
        StorageError::Invalid(message) => verge_js::OpError::Type(message),
        StorageError::Backend(message) | StorageError::Refused(message) => {
            verge_js::OpError::Error(message)
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use verge_config::{D1Database, KvNamespace};
    use verge_js::{Isolate, IsolateLimits};
    use verge_web::{Platform, WebHost};

    static PLATFORM: Platform = Platform::new(|| verge_web::APIS.iter().chain(apis()).collect());

    /// What `bind` makes of `config` when the server grants `stores`: the names on `env`.
    fn bound_names(config: &WorkerConfig, stores: Stores) -> Result<Vec<String>, String> {
        let isolate = Isolate::new(IsolateLimits::default()).unwrap();
        verge_web::install(&isolate, WebHost::unreachable(), &PLATFORM).unwrap();
        let capabilities = Capabilities {
            stores,
            services: Rc::new(|_| Rc::new(verge_web::Refused("unreachable"))),
            assets: None,
            objects: None,
        };
        isolate
            .enter(|ctx| {
                let env = Object::new(ctx.clone())?;
                bind(ctx, config, &capabilities, &env)?;
                env.keys::<String>().collect()
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn a_binding_without_its_store_stops_the_worker_naming_it() {
        let config = WorkerConfig {
            kv_namespaces: vec![KvNamespace {
                binding: "SESSIONS".into(),
                id: None,
                preview_id: None,
            }],
            ..WorkerConfig::default()
        };
        let refused = bound_names(&config, Stores::default()).unwrap_err();
        assert!(
            refused.contains("KV binding SESSIONS has no store to use"),
            "{refused}"
        );
        let database = D1Database {
            binding: "DB".into(),
            database_name: None,
            database_id: None,
            preview_database_id: None,
            migrations_dir: None,
            migrations_table: None,
        };
        let config = WorkerConfig {
            d1_databases: vec![database],
            ..WorkerConfig::default()
        };
        let refused = bound_names(&config, Stores::default()).unwrap_err();
        assert!(
            refused.contains("D1 binding DB has no store to use"),
            "{refused}"
        );
        assert_eq!(
            bound_names(&WorkerConfig::default(), Stores::default()),
            Ok(vec![])
        );
    }
}
