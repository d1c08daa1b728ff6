//! The Cache API's native half (`caches.default`, `caches.open`): ops over the host's
//! [`CacheStore`], each cache name scoped to the worker so that tenants never share entries.
//! HTTP semantics (what may be stored, for how long, conditional and range matches) live in
//! `js/cache.js`.

use crate::message::HeaderList;
use crate::storage_error;
use crate::WebHost;
use bytes::Bytes;
use rquickjs::{Array, Ctx, TypedArray, Value};
use std::sync::Arc;
use verge_js::{rquickjs, Ops};
use verge_storage::{CacheStore, CachedResponse};

/// The cache a worker's `caches` reach, and the scope its cache names live in.
#[derive(Clone)]
pub struct CacheBinding {
    pub store: Arc<dyn CacheStore>,
    pub scope: String,
}

/// The store behind the worker's cache `name`, and that cache's name in it (in the worker's
/// scope).
fn cache_of(
    ctx: &Ctx<'_>,
    host: &WebHost,
    name: &str,
) -> rquickjs::Result<(Arc<dyn CacheStore>, String)> {
    let CacheBinding { store, scope } = host
        .cache
        .clone()
        .ok_or_else(|| crate::type_error(ctx, "this server has no cache"))?;
    Ok((store, format!("{scope}/{name}")))
}

pub(crate) fn register<'js>(ops: &Ops<'js>, host: &WebHost) -> rquickjs::Result<()> {
    let matching = host.clone();
    ops.add(
        "cacheMatch",
        move |ctx: Ctx<'js>, name: String, url: String, request_headers: Vec<String>| {
            let (store, cache) = cache_of(&ctx, &matching, &name)?;
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
    let putting = host.clone();
    ops.add(
        "cachePut", // `parts`: status, header list, body bytes, expiry (ms since the epoch, or undefined)
        // and Vary's headers as name, value (or null: the request had none), name, value….
        move |ctx: Ctx<'js>, name: String, url: String, parts: Array<'js>| {
            let (store, cache) = cache_of(&ctx, &putting, &name)?;
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
    let deleting = host.clone();
    ops.add(
        "cacheDelete",
        move |ctx: Ctx<'js>, name: String, url: String| {
            let (store, cache) = cache_of(&ctx, &deleting, &name)?;
            let deleted = store.delete(&cache, &url);
            verge_js::spawn_promise(
                &ctx,
                async move { deleted.await.map_err(storage_error) },
                |ctx, deleted| Ok(Value::new_bool(ctx.clone(), deleted)),
            )
        },
    )
}
