//! The Cache API (`caches.default`, `caches.open`): not a config section but the server's
//! [`CacheStore`], each cache name scoped to the worker so that tenants never share entries.
//! These are the ops behind `cache.js`, where the HTTP semantics are (what may be stored, for
//! how long, conditional and range matches).

use crate::{storage_error, Capabilities, Kind};
use bytes::Bytes;
use rquickjs::{Array, Ctx, Object, TypedArray, Value};
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_js::{rquickjs, Ops};
use verge_storage::{CacheStore, CachedResponse};
use verge_web::{HeaderList, WebHost};

pub(crate) const KIND: Kind = Kind {
    api: Some(verge_web::api!("src/cache/cache.js", quickjs register;
        globals ["Cache", "CacheStorage", "caches"];
        internals [])),
    bind,
};

/// The cache a worker's `caches` reach, and the scope its cache names live in.
struct CacheScope {
    store: Arc<dyn CacheStore>,
    scope: String,
}

/// Gives the worker its scope of the server's cache, if the server has one.
fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    _env: &Object<'js>,
) -> rquickjs::Result<()> {
    let Some(store) = capabilities.stores.cache.clone() else {
        return Ok(());
    };
    let scope = config.name.clone();
    verge_js::store_host_state(ctx, CacheScope { store, scope })
}

/// The store behind the worker's cache `name`, and that cache's name in it (in the worker's
/// scope).
fn cache_of(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<(Arc<dyn CacheStore>, String)> {
    verge_js::with_host_state(ctx, |cache: &CacheScope| {
        (cache.store.clone(), format!("{}/{name}", cache.scope))
    })
    .ok_or_else(|| rquickjs::Exception::throw_type(ctx, "this server has no cache"))
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add(
        "cacheMatch",
        move |ctx: Ctx<'js>, name: String, url: String, request_headers: Vec<String>| {
            let (store, cache) = cache_of(&ctx, &name)?;
            let found = store.get(&cache, &url);
            let request_headers = HeaderList::from_js(request_headers);
            verge_js::spawn_promise(
                &ctx,
                async move { found.await.map_err(storage_error) },
                move |ctx, found| {
                    // A stored response matches only a request with the same values of the
                    // headers its Vary names.
                    let value_of = |name: &str| request_headers.get(name).map(str::to_owned);
                    let found = found.filter(|response| {
                        response
                            .vary
                            .iter()
                            .all(|(name, value)| value_of(name) == *value)
                    });
                    let Some(response) = found else {
                        return Ok(Value::new_undefined(ctx.clone()));
                    };
                    let out = Array::new(ctx.clone())?;
                    out.set(0, response.status)?;
                    out.set(1, HeaderList::from(response.headers).into_js())?;
                    out.set(
                        2,
                        TypedArray::<u8>::new_copy(ctx.clone(), &response.body[..])?,
                    )?;
                    Ok(out.into_value())
                },
            )
        },
    )?;
    ops.add(
        "cachePut", // `parts`: status, header list, body bytes, expiry (ms since the epoch, or undefined)
        // and Vary's headers as name, value (or null: the request had none), name, value….
        move |ctx: Ctx<'js>, name: String, url: String, parts: Array<'js>| {
            let (store, cache) = cache_of(&ctx, &name)?;
            let body: TypedArray<'js, u8> = parts.get(2)?;
            let expires_ms: Option<f64> = parts.get(3)?;
            let vary: Vec<Option<String>> = parts.get(4)?;
            let response = CachedResponse {
                status: parts.get(0)?,
                headers: HeaderList::from_js(parts.get(1)?).into(),
                body: Bytes::from(verge_js::bytes_of(&body)),
                // Whole milliseconds since the epoch: the cast only drops a fraction.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                expires_ms: expires_ms.map(|ms| ms.max(0.0) as u64),
                vary: vary
                    .chunks_exact(2)
                    .map(|pair| (pair[0].clone().unwrap_or_default(), pair[1].clone()))
                    .collect(),
            };
            let stored = store.put(&cache, &url, response);
            verge_js::spawn_promise(
                &ctx,
                async move { stored.await.map_err(storage_error) },
                |ctx, ()| Ok(Value::new_undefined(ctx.clone())),
            )
        },
    )?;
    ops.add(
        "cacheDelete",
        move |ctx: Ctx<'js>, name: String, url: String| {
            let (store, cache) = cache_of(&ctx, &name)?;
            let deleted = store.delete(&cache, &url);
            verge_js::spawn_promise(
                &ctx,
                async move { deleted.await.map_err(storage_error) },
                |ctx, deleted| Ok(Value::new_bool(ctx.clone(), deleted)),
            )
        },
    )
}
