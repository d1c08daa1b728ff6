//! The admin API of `verge serve`, on its own listener, every call authorized by a bearer token
//! (compared in constant time). It runs on the control thread, which makes every change to the
//! site ([`Releases`]):
//!
//! - `GET /workers`: the deployed workers, their versions and routes;
//! - `PUT /workers/{name}`: deploy a version, `{"config_file": "wrangler.toml", "files":
//!   {"path": "<base64>", …}}`. The worker is loaded once to check that it compiles and its
//!   routes are checked against the other workers' before the site switches: requests in flight
//!   finish on the old version, new ones get the new. A version that fails is refused with the
//!   message and the old one keeps serving;
//! - `POST /workers/{name}/rollback`, optionally `{"version": N}`: back to version N, or to the
//!   one before the current, as a new version;
//! - `DELETE /workers/{name}`;
//! - `PUT /workers/{name}/secrets/{key}` (the body is the value), `DELETE` of the same, and
//!   `GET /workers/{name}/secrets` (names only): each change is a new version of the worker;
//! - `GET /workers/{name}/tail`: the worker's console output and exceptions, one JSON object
//!   per line (`{"level": …, "message": …}`, and `"pop"` at a PoP, whose tail is every PoP's;
//!   a request's lines come when it has ended, in its `"trace"`), until the client goes away;
//! - `GET /cluster`: at a point of presence, every PoP's last heartbeat; `POST /cluster/drain`
//!   with `{"drain": true}` takes this PoP out of geo DNS answers (`false` puts it back);
//! - `GET /metrics`: Prometheus text, labelled by worker (and by queue);
//! - `GET /queues`, `DELETE /queues/{name}/messages`: the queues and their counts, a purge
//!   ([`queues`]);
//! - `/kv/namespaces/{namespace}/…`: Workers KV ([`kv`]);
//! - `POST /cache/purge`: the Cache API's purge ([`cache`]);
//! - `/client/v4/…`: Cloudflare's API, the part `wrangler` uses ([`cloudflare`]), on the
//!   same operations.
//!
//! At a PoP, every change goes through the cluster's hub and reaches every PoP; one made over a
//! change it did not see (made at another PoP meanwhile) is refused with 409, to be tried again.

mod cache;
mod cloudflare;
pub(crate) mod kv;
mod queues;

use crate::edge::Deployed;
use crate::metrics::Metrics;
use crate::releases::{ReleaseError, Releases, Uploader};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;
use verge_storage::{BucketStore, CacheStore, KvStore, QueueStore, SqlStore};

/// The address an admin request came from (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub std::net::SocketAddr);

/// The largest upload one deploy may send.
const MAX_UPLOAD: usize = 64 * 1024 * 1024;

/// The largest secret value.
const MAX_SECRET: usize = 64 * 1024;

/// What the admin API works on.
pub struct Admin {
    pub token: String,
    pub metrics: Arc<Metrics>,
    pub releases: Rc<Releases>,
    /// The workers' KV store, for `/kv/…`.
    pub kv: Option<Arc<dyn KvStore>>,
    /// The Cache API's store, for purges.
    pub cache: Option<Arc<dyn CacheStore>>,
    /// D1's and R2's stores, for Cloudflare's API.
    pub sql: Option<Arc<dyn SqlStore>>,
    pub buckets: Option<Arc<dyn BucketStore>>,
    /// The queues' store, for `/queues` and `/metrics`.
    pub queues: Option<Arc<dyn QueueStore>>,
    /// wrangler's `[assets]` upload sessions under way.
    pub(crate) asset_sessions: cloudflare::AssetSessions,
    /// `wrangler d1 execute --file` imports under way.
    pub(crate) d1_imports: cloudflare::D1Imports,
    /// `wrangler tail`s made.
    pub(crate) tails: cloudflare::Tails,
}

/// Serves the admin API on `listener`, inside the control thread's `LocalSet`.
pub async fn serve_admin(listener: tokio::net::TcpListener, admin: Admin) {
    let admin = Rc::new(admin);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let admin = admin.clone();
        tokio::task::spawn_local(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                let admin = admin.clone();
                request.extensions_mut().insert(Peer(peer));
                async move { Ok::<_, Infallible>(handle(&admin, request).await) }
            });
            // With upgrades: `wrangler tail` follows its tail over a WebSocket.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

type AdminBody = UnsyncBoxBody<Bytes, Infallible>;

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<AdminBody> {
    reply_bytes(status, content_type, Bytes::from(body))
}

fn reply_bytes(status: StatusCode, content_type: &str, body: Bytes) -> Response<AdminBody> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<AdminBody> {
    reply(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<AdminBody> {
    json(status, serde_json::json!({ "error": message.into() }))
}

fn authorized(admin: &Admin, request: &Request<Incoming>) -> bool {
    let presented = bearer(request).unwrap_or_default();
    is_admin_token(presented.as_bytes(), admin.token.as_bytes())
}

/// The token a request presents as `Authorization: Bearer <token>`.
fn bearer(request: &Request<Incoming>) -> Option<&str> {
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

/// A request's query parameters.
fn query_params(request: &Request<Incoming>) -> std::collections::HashMap<String, String> {
    request
        .uri()
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `presented` is the admin `token`, in a time that tells neither where they differ
/// nor how long the token is: both are hashed, and the digests compared without an early exit.
fn is_admin_token(presented: &[u8], token: &[u8]) -> bool {
    let digest = |bytes| ring::digest::digest(&ring::digest::SHA256, bytes);
    let (presented, token) = (digest(presented), digest(token));
    let difference = presented
        .as_ref()
        .iter()
        .zip(token.as_ref())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b));
    difference == 0
}

async fn handle(admin: &Admin, request: Request<Incoming>) -> Response<AdminBody> {
    let path = request.uri().path();
    if path == cloudflare::PREFIX || path.starts_with(&format!("{}/", cloudflare::PREFIX)) {
        return cloudflare::endpoint(admin, request).await;
    }
    if !authorized(admin, &request) {
        let mut response = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    let path = request.uri().path().to_owned();
    let name = path.strip_prefix("/workers/").map(str::to_owned);
    if let Some((worker, key)) = name.as_deref().and_then(|n| n.split_once("/secrets")) {
        let key = key.trim_start_matches('/');
        return secrets_endpoint(admin, request, worker, key).await;
    }
    if let Some(rest) = path.strip_prefix("/kv/namespaces/") {
        return kv::endpoint(admin.kv.as_ref(), request, rest).await;
    }
    let releases = &admin.releases;
    if request.method() == Method::POST && path == "/cache/purge" {
        return cache::purge(admin.cache.as_ref(), releases, request).await;
    }
    if let Some(queue) = path
        .strip_prefix("/queues/")
        .and_then(|rest| rest.strip_suffix("/messages"))
        .filter(|_| request.method() == Method::DELETE)
    {
        return queues::purge(admin.queues.as_ref(), queue).await;
    }
    match (request.method().clone(), path.as_str(), name) {
        (Method::GET, "/metrics", _) => {
            let mut text = admin.metrics.render();
            text.push_str(&queues::metrics(admin.queues.as_ref(), releases).await);
            reply(StatusCode::OK, "text/plain; version=0.0.4", text)
        }
        (Method::GET, "/queues", _) => queues::list(admin.queues.as_ref(), releases).await,
        (Method::GET, "/cluster", _) => cluster_status(admin).await,
        (Method::POST, "/cluster/drain", _) => drain(admin, request).await,
        (Method::GET, "/workers", _) => {
            let site = releases.site().current();
            let workers: Vec<_> = site
                .workers
                .iter()
                .map(|Deployed { config, version, .. }| {
                    let routes: Vec<&str> =
                        config.routes.iter().map(|r| r.pattern.as_str()).collect();
                    serde_json::json!({ "name": config.name, "version": version, "routes": routes })
                })
                .collect();
            json(StatusCode::OK, serde_json::json!(workers))
        }
        (Method::GET, _, Some(name)) if name.ends_with("/tail") => {
            let name = name.trim_end_matches("/tail");
            tail(admin, name).await
        }
        (Method::POST, _, Some(name)) if name.ends_with("/rollback") => {
            let name = name.trim_end_matches("/rollback");
            let version = match read_body(request, 4096).await {
                Ok(body) if body.iter().all(u8::is_ascii_whitespace) => None,
                Ok(body) => match serde_json::from_slice::<Rollback>(&body) {
                    Ok(rollback) => Some(rollback.version),
                    Err(e) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            format!("a rollback takes {{\"version\": N}} or nothing: {e}"),
                        )
                    }
                },
                Err(response) => return response,
            };
            changed(name, releases.rollback(name, version, None).await)
        }
        (Method::PUT, _, Some(name)) => match read_body(request, MAX_UPLOAD).await {
            Ok(body) => changed(&name, releases.deploy(&name, &body, Uploader::Verge).await),
            Err(response) => response,
        },
        (Method::DELETE, _, Some(name)) => match releases.delete(&name).await {
            Ok(()) => {
                tracing::info!(worker = %name, "deleted");
                json(StatusCode::OK, serde_json::json!({ "deleted": name }))
            }
            Err(e) => refused(&name, e),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no such admin endpoint: {path}"),
        ),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollback {
    version: u64,
}

/// The body of `request`, up to `limit` bytes; a 413 beyond.
async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, Response<AdminBody>> {
    body_within(request, limit)
        .await
        .map_err(|message| error(StatusCode::PAYLOAD_TOO_LARGE, message))
}

/// The body of `request`, up to `limit` bytes; else why it could not be read.
async fn body_within(request: Request<Incoming>, limit: usize) -> Result<Bytes, String> {
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) => Err(format!(
            "the body could not be read (at most {limit} bytes): {e}"
        )),
    }
}

/// The answer to a change of `worker` that made `version`, or was refused.
fn changed(worker: &str, version: Result<u64, ReleaseError>) -> Response<AdminBody> {
    match version {
        Ok(version) => json(
            StatusCode::OK,
            serde_json::json!({ "name": worker, "version": version }),
        ),
        Err(e) => refused(worker, e),
    }
}

fn refused(worker: &str, refusal: ReleaseError) -> Response<AdminBody> {
    let status = match &refusal {
        ReleaseError::Invalid(_) => StatusCode::BAD_REQUEST,
        ReleaseError::NoSuchWorker(_)
        | ReleaseError::NoSuchSecret { .. }
        | ReleaseError::NoSuchVersion { .. } => StatusCode::NOT_FOUND,
        ReleaseError::Hub(verge_cluster::ClusterError::Conflict(_)) => StatusCode::CONFLICT,
        ReleaseError::Hub(_) | ReleaseError::NotJoined(_) => StatusCode::SERVICE_UNAVAILABLE,
        ReleaseError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!(worker = %worker, "change refused: {refusal}");
    error(status, refusal.to_string())
}

/// Streams worker `name`'s console output and exceptions, one JSON line per event.
async fn tail(admin: &Admin, name: &str) -> Response<AdminBody> {
    if admin.releases.site().current().position(name).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no worker is named {name:?}"),
        );
    }
    let (hello, events) = match tail_events(admin, name).await {
        Ok(tail) => tail,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let line = |value: serde_json::Value| Ok(Frame::data(Bytes::from(format!("{value}\n"))));
    let hello = serde_json::json!({ "level": "info", "message": hello });
    let first = futures_util::stream::once(std::future::ready(line(hello)));
    let mut response = Response::new(StreamBody::new(first.chain(events.map(line))).boxed_unsync());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// Worker `name`'s console lines and exceptions as they happen, each `{"level", "message"}`
/// (and `"pop"`: at a PoP, every PoP's), and what the tail is of; why there is none, if the
/// hub cannot be reached.
async fn tail_events(
    admin: &Admin,
    name: &str,
) -> Result<
    (
        String,
        futures_util::stream::BoxStream<'static, serde_json::Value>,
    ),
    String,
> {
    match admin.releases.cluster() {
        // At a PoP, every PoP's lines, each with its PoP's name.
        Ok(Some(cluster)) => match cluster.tail(name).await {
            Ok(tail) => Ok((
                format!("tailing {name} at every PoP"),
                Box::pin(tail.map(|event| serde_json::json!(event))),
            )),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
        Ok(None) => {
            let receiver = admin.metrics.tail.subscribe(name);
            let events = futures_util::stream::unfold(receiver, move |mut receiver| async move {
                use tokio::sync::broadcast::error::RecvError;
                let value = match receiver.recv().await {
                    Ok(event) => serde_json::json!(event),
                    Err(RecvError::Lagged(missed)) => serde_json::json!({
                        "level": "warn",
                        "message": format!("{missed} events were dropped: the tail fell behind"),
                        "dropped": missed,
                    }),
                    Err(RecvError::Closed) => return None,
                };
                Some((value, receiver))
            });
            Ok((format!("tailing {name}"), Box::pin(events)))
        }
    }
}

/// `/workers/{worker}/secrets[/{key}]`.
async fn secrets_endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    worker: &str,
    key: &str,
) -> Response<AdminBody> {
    let releases = &admin.releases;
    if releases.site().current().position(worker).is_none() {
        return refused(worker, ReleaseError::NoSuchWorker(worker.to_owned()));
    }
    let method = request.method().clone();
    if method == Method::GET && key.is_empty() {
        return match releases.secrets_of(worker).await {
            Ok(secrets) => json(
                StatusCode::OK,
                serde_json::json!(secrets.keys().collect::<Vec<_>>()),
            ),
            Err(e) => refused(worker, e),
        };
    }
    if let Err(message) = check_secret_name(key) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let value = match method {
        Method::PUT => match read_body(request, MAX_SECRET).await {
            Ok(value) => Some(String::from_utf8_lossy(&value).into_owned()),
            Err(response) => return response,
        },
        Method::DELETE => None,
        _ => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "secrets take PUT, DELETE or GET",
            )
        }
    };
    let version = releases.set_secret(worker, key, value).await;
    if version.is_ok() {
        tracing::info!(worker = %worker, secret = %key, "secret changed");
    }
    changed(worker, version)
}

/// A secret's name as `env` can carry it: letters, digits and `_`, not starting with a digit.
fn check_secret_name(key: &str) -> Result<(), String> {
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match valid {
        true => Ok(()),
        false => Err(format!(
            "invalid secret name {key:?}: letters, digits and '_', not starting with a digit"
        )),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Drain {
    drain: bool,
}

/// `POST /cluster/drain`: this PoP out of geo DNS answers, or back in, from its next heartbeat.
async fn drain(admin: &Admin, request: Request<Incoming>) -> Response<AdminBody> {
    let cluster = match admin.releases.cluster() {
        Ok(Some(cluster)) => cluster,
        Ok(None) => return error(StatusCode::NOT_FOUND, "this server is one machine"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let body = match read_body(request, 1024).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match serde_json::from_slice::<Drain>(&body) {
        Ok(Drain { drain }) => {
            cluster.set_drain(drain);
            json(StatusCode::OK, serde_json::json!({ "drain": drain }))
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            format!("a drain takes {{\"drain\": true|false}}: {e}"),
        ),
    }
}

/// `GET /cluster`: this PoP's name, the hub's last KV revision, and every PoP's last heartbeat
/// (its time, how long ago, the version of each worker it serves, and its KV replica's revision
/// and lag — the changes it lacked as of that heartbeat).
async fn cluster_status(admin: &Admin) -> Response<AdminBody> {
    let cluster = match admin.releases.cluster() {
        Ok(Some(cluster)) => cluster,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "this server is one machine: verge.toml has no [cluster]",
            )
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let (reports, kv_revision) = match (cluster.status().await, cluster.kv_revision().await) {
        (Ok(reports), Ok(kv_revision)) => (reports, kv_revision),
        (Err(cause), _) | (_, Err(cause)) => {
            return error(StatusCode::BAD_GATEWAY, cause.to_string())
        }
    };
    let pops: Vec<_> = reports
        .iter()
        .map(|report| {
            serde_json::json!({
                "pop": report.pop,
                "heartbeat_ms": report.at_ms,
                "age_ms": report.age_ms(),
                "workers": report.workers,
                "kv_revision": report.kv_revision,
                "kv_lag": kv_revision.saturating_sub(report.kv_revision),
            })
        })
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({ "pop": cluster.pop(), "kv_revision": kv_revision, "pops": pops }),
    )
}

#[cfg(test)]
mod tests {
    use super::is_admin_token;

    #[test]
    fn only_the_whole_token_is_the_admin_token() {
        assert!(is_admin_token(b"s3cret-token", b"s3cret-token"));
        assert!(!is_admin_token(b"s3cret-tokem", b"s3cret-token"));
        assert!(!is_admin_token(b"s3cret", b"s3cret-token"));
        assert!(!is_admin_token(b"s3cret-token-and-more", b"s3cret-token"));
        assert!(!is_admin_token(b"", b"s3cret-token"));
    }
}
