//! The Cache API (`caches.default`, `caches.open`): not a config section but the server's
//! [`CacheStore`], each cache name scoped to the worker so that tenants never share entries.
//! These are the ops behind `cache.js`, where the HTTP semantics are (what may be stored, for
//! how long, conditional and range matches).

use crate::{storage_error, Capabilities, Kind};
use bytes::Bytes;
use rquickjs::{Ctx, Object};
use std::rc::Rc;
use std::sync::Arc;
use verge_config::WorkerConfig;
use verge_js::{async_data_op, rquickjs, AsyncDataOp, Data, IntoData, OpError};
use verge_storage::{CacheStore, CachedResponse};
use verge_web::{BindingTable, HeaderList, WebHost};

pub(crate) const KIND: Kind = Kind {
    api: Some(verge_web::api!("src/cache/cache.js", async_data ops;
        globals ["Cache", "CacheStorage", "caches"];
        internals [])),
    bind,
};

/// The cache a worker's `caches` reach, and the scope its cache names live in: the one value
/// of its kind in the isolate's binding table.
struct CacheScope {
    store: Arc<dyn CacheStore>,
    scope: String,
}

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    _env: &Object<'js>,
) -> rquickjs::Result<()> {
    verge_js::with_host_state(ctx, |host: &WebHost| {
        keep_scope(config, capabilities, &host.bindings);
    });
    Ok(())
}

/// Gives the worker its scope of the server's cache, if the server has one.
pub(crate) fn keep_scope(config: &WorkerConfig, capabilities: &Capabilities, table: &BindingTable) {
    if let Some(store) = capabilities.stores.cache.clone() {
        let scope = config.name.clone();
        table.keep(Rc::new(CacheScope { store, scope }));
    }
}

/// The store behind the worker's cache `name`, and that cache's name in it (in the worker's
/// scope).
fn cache_of(table: &BindingTable, name: &str) -> Result<(Arc<dyn CacheStore>, String), OpError> {
    let cache: Rc<CacheScope> = table
        .get(0)
        .ok_or_else(|| OpError::Type("this server has no cache".into()))?;
    Ok((cache.store.clone(), format!("{}/{name}", cache.scope)))
}

fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let (matching, put, delete) = (
        host.bindings.clone(),
        host.bindings.clone(),
        host.bindings.clone(),
    );
    vec![
        (
            // [status, header list, body bytes], or undefined.
            "cacheMatch",
            async_data_op(
                move |name: String, url: String, request_headers: Vec<String>| {
                    let found =
                        cache_of(&matching, &name).map(|(store, cache)| store.get(&cache, &url));
                    let request_headers = HeaderList::from_js(request_headers);
                    async move {
                        let found = found?.await.map_err(storage_error)?;
                        // A stored response matches only a request with the same values of the
                        // headers its Vary names.
                        let value_of = |name: &str| request_headers.get(name).map(str::to_owned);
                        let found = found.filter(|response| {
                            response
                                .vary
                                .iter()
                                .all(|(name, value)| value_of(name) == *value)
                        });
                        Ok(found.map_or(Data::Undefined, |response| {
                            let headers = HeaderList::from(response.headers).into_js();
                            Data::List(vec![
                                Data::Number(response.status.into()),
                                headers.into_data(),
                                Data::Bytes(response.body.to_vec()),
                            ])
                        }))
                    }
                },
            ),
        ),
        (
            // `parts`: status, header list, body bytes, expiry (ms since the epoch, or
            // undefined) and Vary's headers as name, value (or null: the request had none),
            // name, value….
            "cachePut",
            async_data_op(move |name: String, url: String, parts: Vec<Data>| {
                let stored = cache_of(&put, &name).and_then(|(store, cache)| {
                    let response = cached_response(parts)?;
                    Ok(store.put(&cache, &url, response))
                });
                async move { stored?.await.map_err(storage_error) }
            }),
        ),
        (
            "cacheDelete",
            async_data_op(move |name: String, url: String| {
                let deleted =
                    cache_of(&delete, &name).map(|(store, cache)| store.delete(&cache, &url));
                async move { deleted?.await.map_err(storage_error) }
            }),
        ),
    ]
}

/// The response `cachePut`'s parts describe.
fn cached_response(parts: Vec<Data>) -> Result<CachedResponse, OpError> {
    use verge_js::FromData;
    let malformed = || OpError::Type("cachePut(): malformed response parts".into());
    let [status, headers, body, expires_ms, vary]: [Data; 5] =
        parts.try_into().map_err(|_| malformed())?;
    let vary = Vec::<Option<String>>::from_data(vary)?;
    Ok(CachedResponse {
        status: u16::from_data(status)?,
        headers: HeaderList::from_js(Vec::from_data(headers)?).into(),
        body: Bytes::from(verge_js::Bytes::from_data(body)?.0),
        // Whole milliseconds since the epoch: the cast only drops a fraction.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        expires_ms: Option::<f64>::from_data(expires_ms)?.map(|ms| ms.max(0.0) as u64),
        vary: vary
            .chunks_exact(2)
            .map(|pair| (pair[0].clone().unwrap_or_default(), pair[1].clone()))
            .collect(),
    })
}
