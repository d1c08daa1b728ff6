//! `/accounts/{account}/storage/kv/namespaces/…`: Workers KV as `wrangler kv` reaches it.
//!
//! Namespaces made here (`wrangler kv namespace create`) are listed in the KV store itself
//! ([`KV_NAMESPACES`], described by `{"title"}`). A worker's config may name any id, listed or
//! not, and its keys are reached here all the same; deleting a namespace deletes its keys.
//!
//! - `GET` / `POST {"title"}` on the namespaces; `DELETE`, `GET` and `PUT {"title"}` on one;
//! - `GET {id}/keys?prefix=&cursor=&limit=`: a page of keys, the cursor in `result_info`;
//! - `GET`, `PUT` (the body, or a form of `value` and `metadata`) and `DELETE` on
//!   `{id}/values/{key}`, with `expiration` / `expiration_ttl`; a value is answered raw;
//! - `PUT {id}/bulk` (`[{"key", "value", "base64"?, "expiration"?, "expiration_ttl"?,
//!   "metadata"?}]`) and `DELETE {id}/bulk` (`["key", …]`), each checked whole before a key
//!   is written.

use super::super::kv::{checked_entry, list_page, store_value};
use super::registry::{fresh_id, KV_NAMESPACES};
use super::{answer, failure, paged, query, read_body, read_json, Admin, AdminBody, Refusal};
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use verge_storage::{check_kv_key, kv_limits, KvStore};

/// Most keys one bulk request may carry, as Cloudflare's API allows.
const BULK_KEYS: usize = 10_000;

/// The largest bulk request, as Cloudflare's API allows.
const BULK_BYTES: usize = 100 * 1024 * 1024;

/// Answers `request` for `rest`, the path's segments after `namespaces`.
pub(super) async fn endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    rest: &[&str],
) -> Response<AdminBody> {
    let Some(store) = admin.kv.as_ref() else {
        return failure(StatusCode::NOT_FOUND, 10013, "this server has no KV store").into();
    };
    let method = request.method().clone();
    let outcome = match (&method, rest) {
        (&Method::GET, []) => return list_namespaces(store, &query(&request)).await,
        (&Method::POST, []) => create_namespace(store, request).await,
        (_, [id, ..]) if verge_config::is_reserved_kv_namespace(id) => Err(not_found(id)),
        (&Method::GET, [id]) => namespace(store, id).await,
        (&Method::PUT, [id]) => rename_namespace(store, id, request).await,
        (&Method::DELETE, [id]) => delete_namespace(store, id).await,
        (&Method::GET, [id, "keys"]) => {
            return match list_page(store, id, &query(&request)).await {
                Ok((keys, cursor)) => {
                    let count = keys.len();
                    paged(
                        keys,
                        json!({ "count": count, "cursor": cursor.unwrap_or_default() }),
                    )
                }
                Err((status, message)) => failure(status, 10001, message).into(),
            }
        }
        (_, [id, "values", key]) => return value(store, id, key, request).await,
        (&Method::PUT, [id, "bulk"]) => bulk_put(store, id, request).await,
        (&Method::DELETE, [id, "bulk"]) => bulk_delete(store, id, request).await,
        _ => return super::not_implemented(&method, request.uri().path()).into(),
    };
    answer(outcome)
}

type Outcome = Result<Value, Refusal>;

fn not_found(id: &str) -> Refusal {
    failure(
        StatusCode::NOT_FOUND,
        10013,
        format!("namespace {id:?} not found"),
    )
}

fn kv_failure((status, message): (StatusCode, String)) -> Refusal {
    failure(status, 10001, message)
}

/// Every namespace of the registry, as `{"id", "title", "supports_url_encoding"}`.
async fn registered(store: &Arc<dyn KvStore>) -> Result<Vec<Value>, Refusal> {
    Ok(KV_NAMESPACES
        .all(store)
        .await?
        .into_iter()
        .map(|(id, description)| {
            let title = description.get("title").cloned().unwrap_or_default();
            json!({ "id": id, "title": title, "supports_url_encoding": true })
        })
        .collect())
}

/// `GET namespaces?page=&per_page=&order=&direction=`: a page of the registry, by title or id.
/// A page past the end is empty, which is how wrangler knows it has them all.
async fn list_namespaces(
    store: &Arc<dyn KvStore>,
    query: &HashMap<String, String>,
) -> Response<AdminBody> {
    let mut namespaces = match registered(store).await {
        Ok(namespaces) => namespaces,
        Err(refusal) => return refusal.into(),
    };
    let field = match query.get("order").map(String::as_str) {
        Some("id") => "id",
        _ => "title",
    };
    namespaces.sort_by(|a, b| a[field].as_str().cmp(&b[field].as_str()));
    if query.get("direction").is_some_and(|d| d == "desc") {
        namespaces.reverse();
    }
    let total = namespaces.len();
    let (shown, page, per_page) = super::page_of(namespaces, query, 20, 1000);
    let count = shown.len();
    paged(
        shown,
        json!({ "page": page, "per_page": per_page, "count": count, "total_count": total }),
    )
}

#[derive(serde::Deserialize)]
struct Title {
    title: String,
}

/// A title as Cloudflare allows one: 1 to 512 characters.
fn check_title(title: &str) -> Result<(), Refusal> {
    if title.is_empty() || title.chars().count() > 512 {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            10019,
            "a namespace's title is 1 to 512 characters",
        ));
    }
    Ok(())
}

/// Writes `id`'s registry entry: its title.
async fn register(store: &Arc<dyn KvStore>, id: &str, title: &str) -> Result<(), Refusal> {
    let mut description = Map::new();
    description.insert("title".into(), title.into());
    KV_NAMESPACES.put(store, id, description).await
}

/// `POST namespaces {"title"}`: a new namespace with a fresh id; code 10014 if the title is
/// taken.
async fn create_namespace(store: &Arc<dyn KvStore>, request: Request<Incoming>) -> Outcome {
    let Title { title } = read_json(request, 64 * 1024, "the namespace").await?;
    check_title(&title)?;
    if registered(store)
        .await?
        .iter()
        .any(|n| n["title"] == title.as_str())
    {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            10014,
            format!("a namespace with this account ID and title already exists: {title:?}"),
        ));
    }
    let id = fresh_id()?;
    register(store, &id, &title).await?;
    tracing::info!(namespace = %id, %title, "KV namespace created");
    Ok(json!({ "id": id, "title": title, "supports_url_encoding": true }))
}

async fn namespace(store: &Arc<dyn KvStore>, id: &str) -> Outcome {
    registered(store)
        .await?
        .into_iter()
        .find(|n| n["id"] == id)
        .ok_or_else(|| not_found(id))
}

async fn rename_namespace(
    store: &Arc<dyn KvStore>,
    id: &str,
    request: Request<Incoming>,
) -> Outcome {
    namespace(store, id).await?;
    let Title { title } = read_json(request, 64 * 1024, "the namespace").await?;
    check_title(&title)?;
    register(store, id, &title).await?;
    Ok(Value::Null)
}

/// `DELETE namespaces/{id}`: its keys, then its registry entry (so that a failure part way
/// leaves it listed, to be deleted again).
async fn delete_namespace(store: &Arc<dyn KvStore>, id: &str) -> Outcome {
    namespace(store, id).await?;
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list(id, "", cursor.as_deref(), kv_limits::LIST_LIMIT)
            .await
            .map_err(|e| super::store_failure(10001, e))?;
        for key in page.keys {
            store
                .delete(id, &key.name)
                .await
                .map_err(|e| super::store_failure(10001, e))?;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    KV_NAMESPACES.remove(store, id).await?;
    tracing::info!(namespace = %id, "KV namespace deleted");
    Ok(Value::Null)
}

/// `{id}/values/{key}`: `GET` answers the value's bytes raw; `PUT` takes the body (or a form
/// of `value` and `metadata`, as `wrangler kv key put --metadata` sends); `DELETE`.
async fn value(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    key: &str,
    request: Request<Incoming>,
) -> Response<AdminBody> {
    if let Err(e) = check_kv_key(key) {
        return failure(StatusCode::BAD_REQUEST, 10019, e.to_string()).into();
    }
    let method = request.method().clone();
    let outcome: Outcome = match method {
        Method::GET => match store.get(namespace, key).await {
            Ok(Some(entry)) => {
                return super::super::reply_bytes(
                    StatusCode::OK,
                    "application/octet-stream",
                    entry.value,
                )
            }
            Ok(None) => Err(failure(
                StatusCode::NOT_FOUND,
                10009,
                format!("get: 'key not found': {key:?}"),
            )),
            Err(e) => Err(super::store_failure(10001, e)),
        },
        Method::PUT => {
            let query = query(&request);
            match put_body(request).await {
                Ok((value, metadata)) => {
                    store_value(store, namespace, key, &query, value, metadata)
                        .await
                        .map(|()| Value::Null)
                        .map_err(kv_failure)
                }
                Err(refusal) => Err(refusal),
            }
        }
        Method::DELETE => store
            .delete(namespace, key)
            .await
            .map(|()| Value::Null)
            .map_err(|e| super::store_failure(10001, e)),
        _ => return super::not_implemented(&method, request.uri().path()).into(),
    };
    answer(outcome)
}

/// A value's bytes and metadata from a `PUT`: the body itself, or the `value` and `metadata`
/// parts of a form.
async fn put_body(request: Request<Incoming>) -> Result<(Bytes, Option<String>), Refusal> {
    let boundary = super::form_boundary(&request);
    let too_large = || {
        failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            10011,
            format!("a value is at most {} bytes", kv_limits::VALUE_BYTES),
        )
    };
    let Some(boundary) = boundary else {
        let value = read_body(request, kv_limits::VALUE_BYTES + 1)
            .await
            .map_err(|_| too_large())?;
        return Ok((value, None));
    };
    let parts = super::form_parts(request, kv_limits::VALUE_BYTES + 64 * 1024, boundary).await?;
    let mut value = None;
    let mut metadata = None;
    for part in parts {
        match part.name.as_str() {
            "value" => value = Some(part.bytes),
            "metadata" => {
                metadata = Some(String::from_utf8(part.bytes.to_vec()).map_err(|_| {
                    failure(
                        StatusCode::BAD_REQUEST,
                        10026,
                        "the metadata part is not UTF-8",
                    )
                })?)
            }
            other => {
                return Err(failure(
                    StatusCode::BAD_REQUEST,
                    10026,
                    format!("unexpected form part {other:?}: a value takes `value` and `metadata`"),
                ))
            }
        }
    }
    let value = value.ok_or_else(|| {
        failure(
            StatusCode::BAD_REQUEST,
            10026,
            "the form has no `value` part",
        )
    })?;
    if value.len() > kv_limits::VALUE_BYTES {
        return Err(too_large());
    }
    Ok((value, metadata))
}

/// One entry of a bulk write.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkEntry {
    key: String,
    value: String,
    #[serde(default)]
    base64: bool,
    expiration: Option<u64>,
    expiration_ttl: Option<u64>,
    metadata: Option<Value>,
}

/// `PUT {id}/bulk`: every entry is checked (key, value, expiration, metadata) before the first
/// is written, so a bad one writes none.
async fn bulk_put(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    request: Request<Incoming>,
) -> Outcome {
    let entries: Vec<BulkEntry> = read_json(request, BULK_BYTES, "the bulk write").await?;
    if entries.len() > BULK_KEYS {
        return Err(failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            10011,
            format!(
                "a bulk write takes at most {BULK_KEYS} keys, not {}",
                entries.len()
            ),
        ));
    }
    let mut checked = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let BulkEntry {
            key,
            value,
            base64: encoded,
            expiration,
            expiration_ttl,
            metadata,
        } = entry;
        let bad = |message: String| {
            failure(
                StatusCode::BAD_REQUEST,
                10026,
                format!("entry {index} ({key:?}): {message}"),
            )
        };
        check_kv_key(&key).map_err(|e| bad(e.to_string()))?;
        let value = match encoded {
            true => base64::engine::general_purpose::STANDARD
                .decode(&value)
                .map_err(|e| bad(format!("the value is not base64: {e}")))?,
            false => value.into_bytes(),
        };
        let metadata = metadata.as_ref().map(Value::to_string);
        let kv_entry = checked_entry(Bytes::from(value), expiration, expiration_ttl, metadata)
            .map_err(|(_, message)| bad(message))?;
        checked.push((key, kv_entry));
    }
    let count = checked.len();
    for (key, entry) in checked {
        store
            .put(namespace, &key, entry)
            .await
            .map_err(|e| super::store_failure(10001, e))?;
    }
    Ok(json!({ "successful_key_count": count, "unsuccessful_keys": [] }))
}

/// `DELETE {id}/bulk`: the keys, each checked before the first is deleted.
async fn bulk_delete(
    store: &Arc<dyn KvStore>,
    namespace: &str,
    request: Request<Incoming>,
) -> Outcome {
    let keys: Vec<String> = read_json(request, BULK_BYTES, "the bulk delete").await?;
    if keys.len() > BULK_KEYS {
        return Err(failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            10011,
            format!(
                "a bulk delete takes at most {BULK_KEYS} keys, not {}",
                keys.len()
            ),
        ));
    }
    for key in &keys {
        check_kv_key(key)
            .map_err(|e| failure(StatusCode::BAD_REQUEST, 10026, format!("{key:?}: {e}")))?;
    }
    for key in &keys {
        store
            .delete(namespace, key)
            .await
            .map_err(|e| super::store_failure(10001, e))?;
    }
    Ok(json!({ "successful_key_count": keys.len(), "unsuccessful_keys": [] }))
}
