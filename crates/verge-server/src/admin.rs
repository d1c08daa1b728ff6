//! The admin API of `verge serve`, on its own listener, every call authorized by a bearer token
//! (compared in constant time):
//!
//! - `GET /workers`: the deployed workers, their versions and routes;
//! - `PUT /workers/{name}`: deploy a version, `{"config_file": "wrangler.toml", "files":
//!   {"path": "<base64>", …}}`. The files are written under the data directory, the worker is
//!   loaded once to check that it compiles, the routes are checked against the other workers',
//!   and only then does the site switch: requests in flight finish on the old version, new ones
//!   get the new. A version that fails is refused with the message and the old one keeps serving;
//! - `DELETE /workers/{name}`;
//! - `PUT /workers/{name}/secrets/{key}` (the body is the value), `DELETE` of the same, and
//!   `GET /workers/{name}/secrets` (names only): each change is a new version of the worker,
//!   checked and switched to as a deploy is;
//! - `GET /workers/{name}/tail`: the worker's console output and exceptions as they happen, one
//!   JSON object per line (`{"level": …, "message": …}`), until the client goes away;
//! - `GET /metrics`: Prometheus text, labelled by worker.

use crate::edge::{check_workers_here, Deployed, EdgeOptions, Mode, Site, SiteHandle};
use crate::metrics::Metrics;
use crate::routes::RouteTable;
use crate::secrets;
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use verge_cluster::Cluster;
use verge_config::WorkerConfig;

/// The largest upload one deploy may send.
const MAX_UPLOAD: usize = 64 * 1024 * 1024;

/// What the admin API works on.
pub struct Admin {
    pub token: String,
    pub site: SiteHandle,
    pub metrics: Arc<Metrics>,
    pub options: EdgeOptions,
    /// Uploaded versions are kept under `<data_dir>/workers/<name>/<version>/`.
    pub data_dir: PathBuf,
    /// The cluster this server is a point of presence of, if any.
    pub cluster: Option<Arc<Cluster>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// The wrangler config among `files`.
    config_file: String,
    /// Path (relative to the project) to base64 contents.
    files: BTreeMap<String, String>,
}

/// Serves the admin API on `listener` from a thread of its own.
pub fn serve_admin(
    listener: std::net::TcpListener,
    admin: Admin,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("verge-admin".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return tracing::error!("cannot start the admin runtime: {e}"),
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => return tracing::error!("cannot listen for the admin API: {e}"),
                };
                let admin = Rc::new(admin);
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let admin = admin.clone();
                    tokio::task::spawn_local(async move {
                        let service = service_fn(move |request| {
                            let admin = admin.clone();
                            async move { Ok::<_, Infallible>(handle(&admin, request).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })
}

type AdminBody = UnsyncBoxBody<Bytes, Infallible>;

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<AdminBody> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
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
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    is_admin_token(presented.as_bytes(), admin.token.as_bytes())
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
    match (request.method().clone(), path.as_str(), name) {
        (Method::GET, "/metrics", _) => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            admin.metrics.render(),
        ),
        (Method::GET, "/cluster", _) => cluster_status(admin).await,
        (Method::GET, "/workers", _) => {
            let site = admin.site.current();
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
            tail(admin, name)
        }
        (Method::PUT, _, Some(name)) => match deploy(admin, &name, request).await {
            Ok(version) => json(
                StatusCode::OK,
                serde_json::json!({ "name": name, "version": version }),
            ),
            Err((status, message)) => {
                tracing::warn!(worker = %name, "deploy refused: {message}");
                error(status, message)
            }
        },
        (Method::DELETE, _, Some(name)) => {
            let site = admin.site.current();
            let Some(index) = site.position(&name) else {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no worker is named {name:?}"),
                );
            };
            let mut workers = site.workers.clone();
            workers.remove(index);
            match replace_site(admin, &site, workers) {
                Ok(()) => {
                    tracing::info!(worker = %name, "deleted");
                    json(StatusCode::OK, serde_json::json!({ "deleted": name }))
                }
                Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no such admin endpoint: {path}"),
        ),
    }
}

/// Streams worker `name`'s console output and exceptions, one JSON line per event.
fn tail(admin: &Admin, name: &str) -> Response<AdminBody> {
    if admin.site.current().position(name).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no worker is named {name:?}"),
        );
    }
    let receiver = admin.metrics.tail.subscribe(name);
    let hello = serde_json::json!({ "level": "info", "message": format!("tailing {name}") });
    let line = |value: serde_json::Value| Frame::data(Bytes::from(format!("{value}\n")));
    let first = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(line(hello))));
    let events = futures_util::stream::unfold(receiver, move |mut receiver| async move {
        use tokio::sync::broadcast::error::RecvError;
        let value = match receiver.recv().await {
            Ok(event) => serde_json::json!(event),
            Err(RecvError::Lagged(missed)) => serde_json::json!({
                "level": "warn",
                "message": format!("{missed} lines were dropped: the tail fell behind"),
            }),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(line(value)), receiver))
    });
    let mut response = Response::new(
        StreamBody::new(futures_util::StreamExt::chain(first, events)).boxed_unsync(),
    );
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// Deploys a new version of worker `name`; its version number on success.
async fn deploy(
    admin: &Admin,
    name: &str,
    request: Request<Incoming>,
) -> Result<u64, (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(format!(
            "invalid worker name {name:?}: letters, digits, '-' and '_'"
        )));
    }
    let body = Limited::new(request.into_body(), MAX_UPLOAD)
        .collect()
        .await
        .map_err(|e| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the upload could not be read (at most {MAX_UPLOAD} bytes): {e}"),
            )
        })?
        .to_bytes();
    let upload: Upload = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("the upload is not valid JSON for a deploy: {e}")))?;
    let site = admin.site.current();
    let version = next_version(&site);
    let dir = admin
        .data_dir
        .join("workers")
        .join(name)
        .join(version.to_string());
    write_files(&dir, &upload.files).map_err(bad)?;
    let config_path = dir.join(safe_path(&upload.config_file).map_err(bad)?);
    let secrets = secrets::load(&admin.data_dir, name).map_err(internal)?;
    switch_version(admin, &site, name, &config_path, &secrets, version).await?;
    tracing::info!(worker = %name, version, "deployed");
    Ok(version)
}

fn internal(message: String) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// The version number the next change to `site` takes: versions count changes server-wide.
fn next_version(site: &Site) -> u64 {
    site.workers.iter().map(|w| w.version).max().unwrap_or(0) + 1
}

/// Loads worker `name` from its wrangler config at `config_path` with `secrets`, checks that it
/// compiles (which fills its module cache) and switches the site to it as `version`.
async fn switch_version(
    admin: &Admin,
    site: &Site,
    name: &str,
    config_path: &Path,
    secrets: &BTreeMap<String, String>,
    version: u64,
) -> Result<(), (StatusCode, String)> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let mut config = WorkerConfig::from_config_file(config_path).map_err(|e| bad(e.to_string()))?;
    config.name = name.to_owned();
    secrets::apply(&mut config, secrets);
    let deployed = Deployed::new(Arc::new(config), version);
    check_workers_here(std::slice::from_ref(&deployed), &admin.options)
        .await
        .map_err(|(_, e)| bad(e.to_string()))?;
    let mut workers = site.workers.clone();
    match site.position(name) {
        Some(index) => workers[index] = deployed,
        None => workers.push(deployed),
    }
    replace_site(admin, site, workers).map_err(bad)
}

/// `/workers/{worker}/secrets[/{key}]`.
async fn secrets_endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    worker: &str,
    key: &str,
) -> Response<AdminBody> {
    let site = admin.site.current();
    let Some(deployed) = site.position(worker).map(|index| &site.workers[index]) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no worker is named {worker:?}"),
        );
    };
    let previous = match secrets::load(&admin.data_dir, worker) {
        Ok(secrets) => secrets,
        Err(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, message),
    };
    let mut secrets = previous.clone();
    let method = request.method().clone();
    if method == Method::GET && key.is_empty() {
        let names: Vec<&String> = secrets.keys().collect();
        return json(StatusCode::OK, serde_json::json!(names));
    }
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid secret name {key:?}: letters, digits and '_', not starting with a digit"
            ),
        );
    }
    match method {
        Method::PUT => {
            let value = match Limited::new(request.into_body(), 64 * 1024).collect().await {
                Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                Err(e) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the value could not be read (at most 64 KiB): {e}"),
                    )
                }
            };
            secrets.insert(key.to_owned(), value);
        }
        Method::DELETE => {
            if secrets.remove(key).is_none() {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("{worker} has no secret {key:?}"),
                );
            }
        }
        _ => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "secrets take PUT, DELETE or GET",
            )
        }
    }
    let Some(config_path) = deployed.config.config_file.clone() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{worker} has no wrangler config to load again"),
        );
    };
    let version = next_version(&site);
    // Stored first, so that a version serving them is never lost; put back if it is refused.
    if let Err(message) = secrets::store(&admin.data_dir, worker, &secrets) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, message);
    }
    let switched = switch_version(admin, &site, worker, &config_path, &secrets, version).await;
    if switched.is_err() {
        if let Err(message) = secrets::store(&admin.data_dir, worker, &previous) {
            tracing::error!(worker = %worker, "cannot restore the secrets: {message}");
        }
    }
    match switched {
        Ok(()) => {
            tracing::info!(worker = %worker, secret = %key, version, "secret changed");
            json(
                StatusCode::OK,
                serde_json::json!({ "name": worker, "version": version }),
            )
        }
        Err((status, message)) => error(status, message),
    }
}

/// `GET /cluster`: this PoP's name and every PoP's last heartbeat (its time, how long ago, and
/// the version of each worker it serves).
async fn cluster_status(admin: &Admin) -> Response<AdminBody> {
    let Some(cluster) = &admin.cluster else {
        return error(
            StatusCode::NOT_FOUND,
            "this server is one machine: verge.toml has no [cluster]",
        );
    };
    match cluster.status().await {
        Ok(reports) => {
            let pops: Vec<_> = reports
                .iter()
                .map(|report| {
                    serde_json::json!({
                        "pop": report.pop,
                        "heartbeat_ms": report.at_ms,
                        "age_ms": report.age_ms(),
                        "workers": report.workers,
                    })
                })
                .collect();
            json(
                StatusCode::OK,
                serde_json::json!({ "pop": cluster.pop(), "pops": pops }),
            )
        }
        Err(cause) => error(StatusCode::BAD_GATEWAY, cause.to_string()),
    }
}

/// Switches to a site with `workers`, keeping `current`'s zones and policy; refuses routes that
/// collide.
fn replace_site(admin: &Admin, current: &Site, workers: Vec<Deployed>) -> Result<(), String> {
    let routes = RouteTable::new(&workers)?;
    admin.site.replace(Site::new(
        workers,
        Mode::Serve(routes),
        current.zones.clone(),
        current.policy.clone(),
    ));
    Ok(())
}

/// A relative path inside a project: no `..`, no absolute paths, no empty names.
fn safe_path(path: &str) -> Result<PathBuf, String> {
    let candidate = Path::new(path);
    let normal = candidate
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if path.is_empty() || !normal || path.contains('\\') {
        return Err(format!("invalid file path {path:?} in the upload"));
    }
    Ok(candidate.to_owned())
}

fn write_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<(), String> {
    for (path, contents) in files {
        let relative = safe_path(path)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(contents)
            .map_err(|e| format!("{path}: the contents are not base64: {e}"))?;
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
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
