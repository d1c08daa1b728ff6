//! `/kv/namespaces/{namespace}/…`: a server's Workers KV from outside its workers, as
//! Cloudflare's API has it, for `verge kv --server` — the same store the workers use (at a PoP,
//! the replica for reads and the hub for writes):
//!
//! - `GET keys?prefix=&cursor=&limit=`: `{"keys": [{"name", "expiration"?, "metadata"?}],
//!   "cursor": …}`, in key order, at most `limit` (1000) a page;
//! - `GET values/{key}`: the value's bytes (404 if there is none);
//! - `PUT values/{key}?expiration=&expiration_ttl=&metadata=`: the body becomes the value,
//!   checked against Workers KV's limits;
//! - `DELETE values/{key}`.

use super::{error, json, read_body, reply_bytes, AdminBody};
use crate::assets::percent_decode;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::sync::Arc;
use verge_storage::{
    check_kv_entry, check_kv_key, kv_expiration, kv_limits, unix_now, KvEntry, KvListKey, KvStore,
    StorageError,
};

/// Answers `request` for `rest`, the path after `/kv/namespaces/`.
pub(super) async fn endpoint(
    store: Option<&Arc<dyn KvStore>>,
    request: Request<Incoming>,
    rest: &str,
) -> Response<AdminBody> {
    let Some(store) = store else {
        return error(StatusCode::NOT_FOUND, "this server has no KV store");
    };
    let query = super::query_params(&request);
    let (namespace, what) = rest.split_once('/').unwrap_or((rest, ""));
    let namespace = percent_decode(namespace);
    if verge_config::is_reserved_kv_namespace(&namespace) {
        return error(
            StatusCode::NOT_FOUND,
            format!("namespace {namespace:?} is Verge's own"),
        );
    }
    let outcome = match (request.method().clone(), what.split_once('/')) {
        (Method::GET, None) if what == "keys" => list(store, &namespace, &query).await,
        (method, Some(("values", key))) => {
            let key = percent_decode(key);
            if let Err(e) = check_kv_key(&key) {
                return error(StatusCode::BAD_REQUEST, e.to_string());
            }
            match method {
                Method::GET => match store.get(&namespace, &key).await {
                    Ok(Some(entry)) => {
                        return reply_bytes(StatusCode::OK, "application/octet-stream", entry.value)
                    }
                    Ok(None) => Err((
                        StatusCode::NOT_FOUND,
                        format!("key {key:?} not found in namespace {namespace}"),
                    )),
                    Err(e) => Err(failed(e)),
                },
                Method::PUT => put(store, &namespace, &key, &query, request).await,
                Method::DELETE => match store.delete(&namespace, &key).await {
                    Ok(()) => Ok(serde_json::json!({ "deleted": key })),
                    Err(e) => Err(failed(e)),
                },
                _ => Err((
                    StatusCode::METHOD_NOT_ALLOWED,
                    "a value takes GET, PUT or DELETE".into(),
                )),
            }
        }
        _ => Err((
            StatusCode::NOT_FOUND,
            format!("no such KV endpoint: {what}"),
        )),
    };
    match outcome {
        Ok(value) => json(StatusCode::OK, value),
        Err((status, message)) => error(status, message),
    }
}

type Outcome = Result<serde_json::Value, (StatusCode, String)>;

/// A store's failure: the client's fault when it broke a rule, the hub's or the disk's else.
pub(super) fn failed(e: StorageError) -> (StatusCode, String) {
    let status = match e {
        StorageError::Invalid(_) => StatusCode::BAD_REQUEST,
        StorageError::Backend(_) | StorageError::Refused(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

async fn list(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    query: &HashMap<String, String>,
) -> Outcome {
    let (keys, cursor) = list_page(store, namespace, query).await?;
    Ok(serde_json::json!({ "keys": keys, "cursor": cursor }))
}

/// A page of `namespace`'s keys as `query` asks (`prefix`, `cursor`, `limit`), each as
/// [`listed_key`] shows it, and the cursor after it unless the list is complete.
pub(super) async fn list_page(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    query: &HashMap<String, String>,
) -> Result<(Vec<serde_json::Value>, Option<String>), (StatusCode, String)> {
    let limit = match query.get("limit").map(|limit| limit.parse::<usize>()) {
        None => kv_limits::LIST_LIMIT,
        Some(Ok(limit)) if (1..=kv_limits::LIST_LIMIT).contains(&limit) => limit,
        Some(_) => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("limit must be 1 to {}", kv_limits::LIST_LIMIT),
            ))
        }
    };
    let prefix = query.get("prefix").map_or("", String::as_str);
    let page = store
        .list(
            namespace,
            prefix,
            query.get("cursor").map(String::as_str),
            limit,
        )
        .await
        .map_err(failed)?;
    Ok((page.keys.into_iter().map(listed_key).collect(), page.cursor))
}

/// A listed key as Cloudflare's API and wrangler show it: its name, and its expiration and
/// metadata (as JSON, else as the text it is) when it has them.
pub fn listed_key(key: KvListKey) -> serde_json::Value {
    let mut shown = serde_json::json!({ "name": key.name });
    if let Some(at) = key.expiration {
        shown["expiration"] = at.into();
    }
    if let Some(metadata) = key.metadata {
        shown["metadata"] =
            serde_json::from_str(&metadata).unwrap_or(serde_json::Value::String(metadata));
    }
    shown
}

async fn put(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    key: &str,
    query: &HashMap<String, String>,
    request: Request<Incoming>,
) -> Outcome {
    let metadata = query.get("metadata").cloned();
    let value = read_body(request, kv_limits::VALUE_BYTES + 1)
        .await
        .map_err(|_| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a value is at most {} bytes", kv_limits::VALUE_BYTES),
            )
        })?;
    store_value(store, namespace, key, query, value, metadata).await?;
    Ok(serde_json::json!({ "stored": key }))
}

/// Stores `value` as `key` of `namespace`, with the expiration `query` gives (`expiration`,
/// `expiration_ttl`) and `metadata` (JSON text), checked against Workers KV's limits.
pub(super) async fn store_value(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    key: &str,
    query: &HashMap<String, String>,
    value: bytes::Bytes,
    metadata: Option<String>,
) -> Result<(), (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let number = |name: &str| {
        query
            .get(name)
            .map(|value| {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{name} is not a number")))
            })
            .transpose()
    };
    let entry = checked_entry(
        value,
        number("expiration")?,
        number("expiration_ttl")?,
        metadata,
    )?;
    store.put(namespace, key, entry).await.map_err(failed)
}

/// `value` as a KV entry, with its expiration (an absolute `expiration` or an
/// `expiration_ttl`) and `metadata` (JSON text), checked against Workers KV's limits.
pub(super) fn checked_entry(
    value: bytes::Bytes,
    expiration: Option<u64>,
    expiration_ttl: Option<u64>,
    metadata: Option<String>,
) -> Result<KvEntry, (StatusCode, String)> {
    let expiration = kv_expiration(expiration, expiration_ttl, unix_now()).map_err(failed)?;
    if let Some(metadata) = &metadata {
        serde_json::from_str::<serde_json::Value>(metadata).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("metadata is not JSON: {e}"),
            )
        })?;
    }
    let entry = KvEntry {
        value,
        expiration,
        metadata,
    };
    check_kv_entry(&entry).map_err(failed)?;
    Ok(entry)
}
