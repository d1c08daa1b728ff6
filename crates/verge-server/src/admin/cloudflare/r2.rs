//! `/accounts/{account}/r2/buckets/…`: R2 as `wrangler r2` reaches it, on the store workers'
//! bindings use.
//!
//! A bucket of Verge's R2 exists once named (a binding writes into it as it is); the buckets
//! made here (`wrangler r2 bucket create`) are listed in [`R2_BUCKETS`] with their creation
//! date, and one is deleted only when empty, as on Cloudflare.
//!
//! - `GET` and `POST {"name"}` on the buckets; `GET` (whether it exists: any valid name does)
//!   and `DELETE` on one;
//! - `PUT`, `GET` and `DELETE` on `{bucket}/objects/{key}`: the body streamed in, with its
//!   `content-type`, `content-disposition`, `content-encoding`, `content-language`,
//!   `cache-control` and `expires` kept as the object's HTTP metadata; the bytes streamed out.

use super::registry::{kv_store, now, R2_BUCKETS};
use super::{
    answer, failure, not_implemented, read_json, store_failure, Admin, AdminBody, Refusal,
};
use crate::assets::percent_decode;
use futures_util::StreamExt as _;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyDataStream, BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use verge_storage::{
    check_r2_key, http_metadata, BucketStore, ByteStream, Conditions, GetOutcome, ListOptions,
    NewObject, StorageError,
};

/// Answers `request` for `rest`, the path's segments after `buckets` (`raw_path`: the whole
/// path, from which an object's key is read as it was sent, `/` and all).
pub(super) async fn endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    rest: &[&str],
    raw_path: &str,
) -> Response<AdminBody> {
    let method = request.method().clone();
    match (&method, rest) {
        (&Method::GET, []) => answer(list(admin).await),
        (&Method::POST, []) => answer(create(admin, request).await),
        (&Method::GET, [bucket]) => answer(check_name(bucket).map(|()| json!({ "name": bucket }))),
        (&Method::DELETE, [bucket]) => answer(delete(admin, bucket).await),
        (_, [bucket, "objects", _, ..]) => {
            // The key is read from the path as sent, by position: a path with empty segments
            // would put it elsewhere.
            if raw_path.contains("//") {
                return failure(
                    StatusCode::BAD_REQUEST,
                    10020,
                    "the path has an empty segment",
                )
                .into();
            }
            let key = object_key(raw_path);
            let store = match buckets(admin).and_then(|store| {
                check_name(bucket)?;
                check_r2_key(&key)
                    .map_err(|e| failure(StatusCode::BAD_REQUEST, 10020, e.to_string()))?;
                Ok(store)
            }) {
                Ok(store) => store,
                Err(refusal) => return refusal.into(),
            };
            match method {
                Method::PUT => answer(put(store, bucket, &key, request).await),
                Method::GET => get(store, bucket, &key).await,
                Method::DELETE => answer(
                    store
                        .delete(bucket, vec![key.clone()])
                        .await
                        .map(|()| Value::Null)
                        .map_err(|e| store_failure(10001, e)),
                ),
                _ => not_implemented(&method, raw_path).into(),
            }
        }
        _ => not_implemented(&method, raw_path).into(),
    }
}

/// An object's key: the rest of the path as sent, `/` and all, after
/// `/client/v4/accounts/{account}/r2/buckets/{bucket}/objects/` (whatever those are named).
fn object_key(raw_path: &str) -> String {
    raw_path
        .splitn(10, '/')
        .nth(9)
        .map(percent_decode)
        .unwrap_or_default()
}

fn buckets(admin: &Admin) -> Result<&Arc<dyn BucketStore>, Refusal> {
    admin
        .buckets
        .as_ref()
        .ok_or_else(|| failure(StatusCode::NOT_FOUND, 10006, "this server has no R2 store"))
}

/// A bucket name as R2 allows one: 3 to 63 lowercase letters, digits and hyphens, not
/// starting or ending with a hyphen.
pub(super) fn check_name(bucket: &str) -> Result<(), Refusal> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-');
    match valid {
        true => Ok(()),
        false => Err(failure(
            StatusCode::BAD_REQUEST,
            10005,
            format!(
                "{bucket:?} is not a bucket name: 3 to 63 lowercase letters, digits and \
                 hyphens, not starting or ending with a hyphen"
            ),
        )),
    }
}

async fn list(admin: &Admin) -> Result<Value, Refusal> {
    let kv = kv_store(admin.kv.as_ref())?;
    let buckets: Vec<Value> = R2_BUCKETS
        .all(kv)
        .await?
        .into_iter()
        .map(|(name, description)| {
            json!({ "name": name, "creation_date": description.get("creation_date") })
        })
        .collect();
    Ok(json!({ "buckets": buckets }))
}

#[derive(serde::Deserialize)]
struct NewBucket {
    name: String,
}

/// `POST buckets {"name"}`: code 10004 if it is listed already.
async fn create(admin: &Admin, request: Request<Incoming>) -> Result<Value, Refusal> {
    let kv = kv_store(admin.kv.as_ref())?;
    // wrangler sends this JSON as text/plain.
    let NewBucket { name } = read_json(request, 64 * 1024, "the bucket").await?;
    check_name(&name)?;
    if R2_BUCKETS.get(kv, &name).await?.is_some() {
        return Err(failure(
            StatusCode::CONFLICT,
            10004,
            format!("The bucket you tried to create already exists: {name}"),
        ));
    }
    let created = now();
    let mut description = Map::new();
    description.insert("creation_date".into(), created.clone().into());
    R2_BUCKETS.put(kv, &name, description).await?;
    tracing::info!(bucket = %name, "R2 bucket created");
    Ok(json!({ "name": name, "creation_date": created }))
}

/// `DELETE buckets/{name}`: only an empty bucket (code 10008 otherwise), listed or not.
async fn delete(admin: &Admin, bucket: &str) -> Result<Value, Refusal> {
    check_name(bucket)?;
    let kv = kv_store(admin.kv.as_ref())?;
    let store = buckets(admin)?;
    let options = ListOptions {
        limit: 1,
        ..ListOptions::default()
    };
    let page = store
        .list(bucket, options)
        .await
        .map_err(|e| store_failure(10001, e))?;
    if !page.objects.is_empty() {
        return Err(failure(
            StatusCode::CONFLICT,
            10008,
            format!("The bucket you tried to delete is not empty: {bucket}"),
        ));
    }
    if R2_BUCKETS.get(kv, bucket).await?.is_none() {
        return Err(failure(
            StatusCode::NOT_FOUND,
            10006,
            format!("The specified bucket does not exist: {bucket}"),
        ));
    }
    R2_BUCKETS.remove(kv, bucket).await?;
    tracing::info!(%bucket, "R2 bucket deleted");
    Ok(Value::Null)
}

/// `PUT objects/{key}`: the body, streamed into the store, and its HTTP metadata.
async fn put(
    store: &Arc<dyn BucketStore>,
    bucket: &str,
    key: &str,
    request: Request<Incoming>,
) -> Result<Value, Refusal> {
    let headers = request.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let object = NewObject {
        http_metadata: http_metadata(header),
        custom_metadata: "{}".into(),
        expected: Vec::new(),
    };
    let body: ByteStream = Box::pin(BodyDataStream::new(request.into_body()).map(|chunk| {
        chunk.map_err(|e| StorageError::Invalid(format!("the upload broke off: {e}")))
    }));
    let stored = store
        .put(bucket, key, body, object, Conditions::default())
        .await
        .map_err(|e| store_failure(10001, e))?
        .ok_or_else(|| failure(StatusCode::CONFLICT, 10001, "the object was not stored"))?;
    Ok(json!({
        "key": stored.key,
        "size": stored.size,
        "etag": stored.etag,
        "version": stored.version,
    }))
}

/// `GET objects/{key}`: the bytes, streamed; 404 in the envelope when there is no object.
async fn get(store: &Arc<dyn BucketStore>, bucket: &str, key: &str) -> Response<AdminBody> {
    match store.get(bucket, key, None, Conditions::default()).await {
        Ok(GetOutcome::Found { body, info, span }) => {
            // A store that fails part way ends the body early, short of its Content-Length,
            // which the client sees as the error it is.
            let frames = body
                .take_while(|chunk| std::future::ready(chunk.is_ok()))
                .filter_map(|chunk| {
                    std::future::ready(chunk.ok().map(|bytes| Ok(Frame::data(bytes))))
                });
            let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
            response.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(span.1),
            );
            if let Ok(etag) = http::HeaderValue::from_str(&format!("\"{}\"", info.etag)) {
                response.headers_mut().insert(http::header::ETAG, etag);
            }
            response
        }
        Ok(GetOutcome::Missing | GetOutcome::Unmet(_)) => failure(
            StatusCode::NOT_FOUND,
            10007,
            format!("The specified key does not exist: {key}"),
        )
        .into(),
        Err(e) => store_failure(10001, e).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_name, object_key};

    #[test]
    fn an_objects_key_is_the_whole_rest_of_its_path() {
        let key = |bucket: &str, rest: &str| {
            object_key(&format!(
                "/client/v4/accounts/objects/r2/buckets/{bucket}/objects/{rest}"
            ))
        };
        assert_eq!(key("files", "a/b.txt"), "a/b.txt");
        assert_eq!(key("objects", "objects/a"), "objects/a");
        assert_eq!(key("files", "with%20space/%2F"), "with space//");
    }

    #[test]
    fn bucket_names_are_r2s() {
        assert!(check_name("my-bucket-1").is_ok());
        for bad in ["ab", "-ab", "ab-", "Upper", "a_b", "a.b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
