//! `/accounts/{account}/workers/…`: scripts as `wrangler deploy` uploads them, their versions
//! and deployments, and the routes and crons it sets apart from the code.
//!
//! An upload is a form: a `metadata` part (the entry module, bindings, compatibility date and
//! flags, Durable Object migrations) and one part per module, already bundled by wrangler. It
//! becomes the same upload `verge deploy` sends — a `wrangler.json` written from the metadata,
//! beside the modules — and is deployed by the same [`Releases::deploy`], so it is checked,
//! versioned, kept and (in a cluster) published like any other; a refused upload leaves the
//! running version as it was. Routes (`PUT …/routes`) and crons (`PUT …/schedules`) are kept
//! with the release apart from its code, as Cloudflare keeps them, and carried to the next.
//!
//! A version is numbered by the server; to wrangler it is the UUID-shaped [`version_id`], and
//! each is stamped with when and by what it was made (`upload`, `secret`, `rollback`,
//! `triggers`) and the message given. Verge deploys each version whole as it is made, so the
//! deployments are the versions; deploying an older one (`wrangler rollback`) makes it a new
//! version. Secrets (`PUT`, `DELETE …/secrets`) are the admin API's, listed by name only.
//! Verge serves no `workers.dev`: a script's subdomain is answered as disabled, and asking to
//! enable it is refused with what to do instead.

use super::assets;
use super::{
    answer, failure, listed, not_implemented, read_json, success, Admin, AdminBody, Refusal,
};
use crate::releases::{ReleaseError, Releases, Uploader};
use base64::Engine as _;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use verge_cluster::Release;
use verge_config::Route;

/// The largest upload one deploy may send (as the admin API's own deploys).
const MAX_UPLOAD: usize = super::super::MAX_UPLOAD;

/// The config file an upload's metadata becomes.
const CONFIG_FILE: &str = "wrangler.json";

/// Answers `request` for `rest`, the path's segments after `workers`.
pub(super) async fn endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    rest: &[&str],
) -> Response<AdminBody> {
    let releases = &admin.releases;
    let method = request.method().clone();
    match (&method, rest) {
        (&Method::GET, ["services", name]) => service(releases, name),
        (&Method::GET, ["subdomain"]) => success(json!({ "subdomain": "verge" })),
        (&Method::GET, ["workers", name]) => match current(releases, name) {
            Some(_) => success(json!({ "subdomain": no_subdomain() })),
            None => not_found(name).into(),
        },
        (&Method::POST, ["scripts", _, "assets-upload-session"]) => {
            answer(match super::read_body(request, 64 * 1024 * 1024).await {
                Ok(body) => admin.asset_sessions.open(&releases.data_dir(), &body),
                Err(refusal) => Err(refusal),
            })
        }
        (&Method::PUT, ["scripts", name]) | (&Method::POST, ["scripts", name, "versions"]) => {
            match deploy(admin, name, request).await {
                Ok(version) => success(json!({
                    "id": version_id(version),
                    "deployment_id": version_id(version),
                    "number": version,
                    "startup_time_ms": 0,
                    "resources": { "script": { "etag": version_id(version) } },
                })),
                Err(refusal) => refusal.into(),
            }
        }
        (&Method::DELETE, ["scripts", name]) => match releases.delete(name).await {
            Ok(()) => success(Value::Null),
            Err(refusal) => refused(name, refusal).into(),
        },
        (&Method::GET, ["scripts", name, "deployments"]) => {
            answer(versions(releases, name).await.map(|versions| {
                let deployments: Vec<Value> = versions
                    .iter()
                    .rev()
                    .map(|(n, release)| deployment(*n, release))
                    .collect();
                json!({ "deployments": deployments })
            }))
        }
        (&Method::GET, ["scripts", name, "versions"]) => {
            answer(versions(releases, name).await.map(|versions| {
                let items: Vec<Value> = versions
                    .iter()
                    .map(|(n, release)| version_item(*n, release))
                    .collect();
                json!({ "items": items })
            }))
        }
        (&Method::GET, ["scripts", name, "versions", id]) => {
            answer(versions(releases, name).await.and_then(|versions| {
                versions
                    .iter()
                    .find(|(n, _)| Some(*n) == version_number(id))
                    .map(|(n, release)| version_item(*n, release))
                    .ok_or_else(|| no_version(name, id))
            }))
        }
        (&Method::PUT, ["scripts", name, "secrets"]) => {
            answer(put_secret(releases, name, request).await)
        }
        (&Method::DELETE, ["scripts", name, "secrets", key]) => answer(
            releases
                .set_secret(name, key, None)
                .await
                .map(|_| Value::Null)
                .map_err(|refusal| refused(name, refusal)),
        ),
        (&Method::POST, ["scripts", name, "deployments"]) => {
            answer(deploy_version(releases, name, request).await)
        }
        (&Method::GET, ["scripts", name, "secrets"]) => match current(releases, name) {
            None => not_found(name).into(),
            Some(_) => match releases.secrets_of(name).await {
                Ok(secrets) => success(Value::Array(
                    secrets
                        .keys()
                        .map(|key| json!({ "name": key, "type": "secret_text" }))
                        .collect(),
                )),
                Err(refusal) => refused(name, refusal).into(),
            },
        },
        (&Method::POST, ["scripts", name, "tails"]) => answer(match current(releases, name) {
            Some(_) => admin.tails.open(name, request).await,
            None => Err(not_found(name)),
        }),
        (&Method::DELETE, ["scripts", name, "tails", id]) => answer(admin.tails.delete(name, id)),
        (&Method::POST, ["scripts", name, "subdomain"]) => {
            answer(subdomain(releases, name, request).await)
        }
        (&Method::GET, ["scripts", name, "routes"]) => match config_of(releases, name) {
            Some(config) => success(Value::Array(
                config
                    .routes
                    .iter()
                    .map(|route| route_json(&route.pattern, name))
                    .collect(),
            )),
            None => not_found(name).into(),
        },
        (&Method::PUT, ["scripts", name, "routes"]) => {
            answer(set_routes(releases, name, request).await)
        }
        (&Method::GET, ["scripts", name, "schedules"]) => match config_of(releases, name) {
            Some(config) => success(json!({ "schedules": schedules(&config.crons) })),
            None => not_found(name).into(),
        },
        (&Method::PUT, ["scripts", name, "schedules"]) => {
            answer(set_schedules(releases, name, request).await)
        }
        _ => not_implemented(&method, request.uri().path()).into(),
    }
}

/// `GET /zones/{zone}/workers/routes`: the routes of every worker whose host is `zone` or
/// under it.
pub(super) fn zone_routes(releases: &Releases, zone: &str) -> Response<AdminBody> {
    let site = releases.site().current();
    let under = |pattern: &str| {
        let host = pattern
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_start_matches('*');
        let host = host.trim_start_matches('.');
        host == zone || host.ends_with(&format!(".{zone}"))
    };
    let routes = site
        .workers
        .iter()
        .flat_map(|worker| {
            worker
                .config
                .routes
                .iter()
                .filter(|route| under(&route.pattern))
                .map(|route| route_json(&route.pattern, &worker.config.name))
        })
        .collect();
    listed(routes)
}

type Outcome = Result<Value, Refusal>;

/// A route of `script` as Cloudflare's API lists one (its pattern is its id here).
fn route_json(pattern: &str, script: &str) -> Value {
    json!({ "id": pattern, "pattern": pattern, "script": script })
}

/// The version id wrangler shows for version `number`: UUID-shaped, the number in its last
/// group, so that it reads back ([`version_number`]).
pub(super) fn version_id(number: u64) -> String {
    format!("00000000-0000-4000-8000-{number:012x}")
}

fn version_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("00000000-0000-4000-8000-")?;
    (digits.len() == 12)
        .then(|| u64::from_str_radix(digits, 16).ok())
        .flatten()
}

fn no_subdomain() -> Value {
    json!({ "enabled": false, "previews_enabled": false })
}

#[derive(serde::Deserialize)]
struct SubdomainRequest {
    enabled: bool,
}

/// `POST scripts/{name}/subdomain`: Verge serves no `workers.dev`, so asking for it is refused
/// with what to do instead (the worker itself is deployed by then); not asking is answered.
async fn subdomain(releases: &Releases, name: &str, request: Request<Incoming>) -> Outcome {
    current(releases, name).ok_or_else(|| not_found(name))?;
    let SubdomainRequest { enabled } = read_json(request, 64 * 1024, "the subdomain").await?;
    if enabled {
        return Err(invalid(format!(
            "{name} is deployed, but Verge serves no workers.dev URL: reach it by its routes \
             (set workers_dev = false and routes in wrangler.toml)"
        )));
    }
    Ok(no_subdomain())
}

/// Cloudflare's "no such script", which wrangler takes for a worker to create.
fn not_found(name: &str) -> Refusal {
    failure(
        StatusCode::NOT_FOUND,
        10007,
        format!("workers.api.error.script_not_found: no worker is named {name:?}"),
    )
}

/// The version of `name` serving now, if it is deployed.
fn current(releases: &Releases, name: &str) -> Option<u64> {
    let site = releases.site().current();
    site.position(name).map(|index| site.workers[index].version)
}

fn config_of(
    releases: &Releases,
    name: &str,
) -> Option<std::sync::Arc<verge_config::WorkerConfig>> {
    let site = releases.site().current();
    site.position(name)
        .map(|index| site.workers[index].config.clone())
}

/// `GET services/{name}`: the worker, if deployed, with its last migration's tag, after which
/// wrangler sends only the new steps.
fn service(releases: &Releases, name: &str) -> Response<AdminBody> {
    let Some(config) = config_of(releases, name) else {
        return failure(
            StatusCode::NOT_FOUND,
            10090,
            format!("workers.api.error.service_not_found: no worker is named {name:?}"),
        )
        .into();
    };
    let migration_tag = config
        .migrations
        .last()
        .map(|migration| migration.tag.clone());
    success(json!({
        "id": name,
        "default_environment": {
            "environment": "production",
            "script": {
                "id": name, "tag": name, "tags": [], "last_deployed_from": "wrangler",
                "migration_tag": migration_tag,
            },
        },
    }))
}

/// The versions of `name` Verge keeps, oldest first; 10007 if there is no such worker.
async fn versions(releases: &Releases, name: &str) -> Result<Vec<(u64, Release)>, Refusal> {
    if current(releases, name).is_none() {
        return Err(not_found(name));
    }
    releases
        .versions(name)
        .await
        .map_err(|refusal| refused(name, refusal))
}

fn no_version(name: &str, id: &str) -> Refusal {
    failure(
        StatusCode::NOT_FOUND,
        10007,
        format!("no version {id:?} of {name} is kept"),
    )
}

/// When `release` was made, as Cloudflare writes times; the epoch for one never stamped.
fn created_on(release: &Release) -> String {
    let at_ms = release.made.as_ref().map_or(0, |made| made.at_ms);
    chrono::DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What made `release` and the message given with it, as wrangler's annotations.
fn annotations(release: &Release) -> Value {
    let mut annotations = Map::new();
    if let Some(made) = &release.made {
        annotations.insert("workers/triggered_by".into(), made.by.clone().into());
        if let Some(message) = &made.message {
            annotations.insert("workers/message".into(), message.clone().into());
        }
    }
    Value::Object(annotations)
}

/// Version `number` as `wrangler versions list` reads one.
fn version_item(number: u64, release: &Release) -> Value {
    json!({
        "id": version_id(number),
        "number": number,
        "metadata": { "created_on": created_on(release), "source": "api", "author_email": "" },
        "annotations": annotations(release),
    })
}

/// The deployment of version `number`: each version Verge makes serves whole when it is made.
fn deployment(number: u64, release: &Release) -> Value {
    json!({
        "id": version_id(number),
        "created_on": created_on(release),
        "source": "api",
        "author_email": "",
        "strategy": "percentage",
        "annotations": annotations(release),
        "versions": [{ "version_id": version_id(number), "percentage": 100 }],
    })
}

/// A refused change in Cloudflare's envelope.
fn refused(name: &str, refusal: ReleaseError) -> Refusal {
    let (status, code) = match &refusal {
        ReleaseError::Invalid(_) => (StatusCode::BAD_REQUEST, 10021),
        ReleaseError::NoSuchWorker(_) => return not_found(name),
        ReleaseError::NoSuchSecret { .. } | ReleaseError::NoSuchVersion { .. } => {
            (StatusCode::NOT_FOUND, 10007)
        }
        ReleaseError::Hub(verge_cluster::ClusterError::Conflict(_)) => {
            (StatusCode::CONFLICT, 10001)
        }
        ReleaseError::Hub(_) | ReleaseError::NotJoined(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, 10001)
        }
        ReleaseError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, 10001),
    };
    tracing::warn!(worker = %name, "change refused: {refusal}");
    failure(status, code, refusal.to_string())
}

/// What an upload's `metadata` part says; keys Verge has no use for are ignored.
#[derive(serde::Deserialize)]
struct Metadata {
    main_module: Option<String>,
    body_part: Option<String>,
    #[serde(default)]
    bindings: Vec<Value>,
    compatibility_date: Option<String>,
    #[serde(default)]
    compatibility_flags: Vec<String>,
    migrations: Option<Migrations>,
    limits: Option<Value>,
    assets: Option<Value>,
    annotations: Option<Map<String, Value>>,
}

/// An upload's Durable Object migrations: the steps after `old_tag`, up to `new_tag`.
#[derive(serde::Deserialize)]
struct Migrations {
    old_tag: Option<String>,
    new_tag: Option<String>,
    #[serde(default)]
    steps: Vec<Map<String, Value>>,
}

/// Deploys the form `request` carries as a new version of `name`; that version.
async fn deploy(admin: &Admin, name: &str, request: Request<Incoming>) -> Result<u64, Refusal> {
    let parts = super::read_form(
        request,
        MAX_UPLOAD,
        "an upload is a multipart/form-data body with a `metadata` part",
    )
    .await?;
    let (upload, message) = upload(admin, name, parts)?;
    admin
        .releases
        .deploy(name, &upload, Uploader::Wrangler { message })
        .await
        .map_err(|refusal| refused(name, refusal))
}

/// The message wrangler gives with a change (`--message`), among its annotations.
fn message_in(annotations: Option<Map<String, Value>>) -> Option<String> {
    annotations?
        .remove("workers/message")?
        .as_str()
        .map(str::to_owned)
}

fn invalid(message: String) -> Refusal {
    failure(StatusCode::BAD_REQUEST, 10021, message)
}

/// The upload `verge deploy` would send for the form's `parts`: the modules, a
/// `wrangler.json` written from the metadata, and the assets of the upload session it names.
fn upload(
    admin: &Admin,
    name: &str,
    parts: Vec<super::Part>,
) -> Result<(Vec<u8>, Option<String>), Refusal> {
    let mut metadata = None;
    let mut files = BTreeMap::new();
    let mut rules: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for part in parts {
        if part.name == "metadata" {
            metadata = Some(
                serde_json::from_slice::<Metadata>(&part.bytes)
                    .map_err(|e| invalid(format!("the metadata part is not valid: {e}")))?,
            );
            continue;
        }
        let content_type = part.content_type.as_deref().unwrap_or_default();
        let kind = match content_type.split(';').next().unwrap_or_default().trim() {
            "application/javascript+module" => Some("ESModule"),
            "application/javascript" | "text/javascript" => Some("CommonJS"),
            "text/plain" => Some("Text"),
            "application/octet-stream" => Some("Data"),
            "application/wasm" => Some("CompiledWasm"),
            // Kept beside the module it maps; not a module.
            "application/source-map" => None,
            other => {
                return Err(invalid(format!(
                    "part {:?}: Verge does not take modules of type {other:?}",
                    part.name
                )))
            }
        };
        if part.name == CONFIG_FILE || part.name.starts_with(&format!("{}/", assets::DIRECTORY)) {
            return Err(invalid(format!(
                "part {:?}: that name is Verge's own, for the config or the assets it writes",
                part.name
            )));
        }
        if let Some(kind) = kind.filter(|kind| *kind != "ESModule") {
            // A rule's globs are patterns: the name is escaped to match itself alone.
            rules
                .entry(kind)
                .or_default()
                .push(globset::escape(&part.name));
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&part.bytes);
        files.insert(part.name, encoded);
    }
    let mut metadata =
        metadata.ok_or_else(|| invalid("the upload has no `metadata` part".into()))?;
    let message = message_in(metadata.annotations.take());
    let token = metadata
        .assets
        .as_ref()
        .and_then(|assets| assets.get("jwt"))
        .and_then(Value::as_str);
    if let Some(token) = token {
        let data_dir = admin.releases.data_dir();
        for (path, bytes) in admin.asset_sessions.take(&data_dir, token)? {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            files.insert(format!("{}/{path}", assets::DIRECTORY), encoded);
        }
        let config = metadata
            .assets
            .as_ref()
            .and_then(|assets| assets.get("config"));
        for (file, text) in assets::rule_files(config) {
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            files.insert(format!("{}/{file}", assets::DIRECTORY), encoded);
        }
    }
    let history = config_of(&admin.releases, name)
        .map(|current| current.migrations.clone())
        .unwrap_or_default();
    let config = config(name, metadata, rules, &history)?;
    let config = serde_json::to_vec_pretty(&config)
        .map_err(|e| invalid(format!("the config could not be written: {e}")))?;
    files.insert(
        CONFIG_FILE.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(config),
    );
    let upload = serde_json::to_vec(&json!({ "config_file": CONFIG_FILE, "files": files }))
        .map_err(|e| invalid(format!("the upload could not be written: {e}")))?;
    Ok((upload, message))
}

/// The wrangler config an upload's metadata means, with module `rules` for the modules that
/// are not ES modules, after the worker's migration `history`.
fn config(
    name: &str,
    metadata: Metadata,
    rules: BTreeMap<&str, Vec<String>>,
    history: &[verge_config::Migration],
) -> Result<Value, Refusal> {
    if metadata.body_part.is_some() {
        return Err(invalid(
            "Verge takes ES module workers from wrangler: a service-worker script (body_part) \
             is not implemented"
                .into(),
        ));
    }
    if metadata.main_module.is_none() && metadata.assets.is_none() {
        return Err(invalid("the metadata names no main_module".into()));
    }
    let mut config = json!({
        "name": name,
        "compatibility_flags": metadata.compatibility_flags,
        "rules": rules
            .into_iter()
            .map(|(kind, globs)| json!({ "type": kind, "globs": globs }))
            .collect::<Vec<_>>(),
    });
    if let Some(main) = metadata.main_module {
        config["main"] = main.into();
    }
    if let Some(date) = metadata.compatibility_date {
        config["compatibility_date"] = date.into();
    }
    if let Some(cpu_ms) = metadata
        .limits
        .as_ref()
        .and_then(|limits| limits.get("cpu_ms"))
    {
        config["limits"] = json!({ "cpu_ms": cpu_ms });
    }
    let mut vars = Map::new();
    let mut keyed: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut assets_binding = None;
    for binding in &metadata.bindings {
        let field = |key: &str| binding.get(key).cloned().unwrap_or(Value::Null);
        let name = binding
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = binding
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(invalid(format!("a binding has no name: {binding}")));
        }
        let (list, entry) = match kind {
            "plain_text" => {
                vars.insert(name.to_owned(), field("text"));
                continue;
            }
            "json" => {
                vars.insert(name.to_owned(), field("json"));
                continue;
            }
            "assets" => {
                assets_binding = Some(name.to_owned());
                continue;
            }
            "kv_namespace" => (
                "kv_namespaces",
                json!({ "binding": name, "id": field("namespace_id") }),
            ),
            "d1" => (
                "d1_databases",
                json!({ "binding": name, "database_id": field("id"), "database_name": field("database_name") }),
            ),
            "r2_bucket" => (
                "r2_buckets",
                json!({ "binding": name, "bucket_name": field("bucket_name") }),
            ),
            "service" => (
                "services",
                json!({ "binding": name, "service": field("service"), "entrypoint": field("entrypoint") }),
            ),
            "durable_object_namespace" => (
                "durable_objects",
                json!({ "name": name, "class_name": field("class_name"), "script_name": field("script_name") }),
            ),
            other => {
                return Err(invalid(format!(
                    "binding {name:?}: Verge does not implement bindings of type {other:?} \
                     through wrangler"
                )))
            }
        };
        let mut entry = entry;
        if let Some(object) = entry.as_object_mut() {
            object.retain(|_, value| !value.is_null());
        }
        keyed.entry(list).or_default().push(entry);
    }
    config["vars"] = Value::Object(vars);
    if let Some(uploaded) = &metadata.assets {
        config["assets"] = assets::config(uploaded.get("config"), assets_binding.as_deref());
    }
    for (list, entries) in keyed {
        config[list] = match list {
            "durable_objects" => json!({ "bindings": entries }),
            _ => Value::Array(entries),
        };
    }
    // The worker's migration history so far (wrangler, told its last tag, sends only the
    // steps after it), then those steps, each a migration whose tag is fixed from now on.
    let last_tag = history.last().map(|migration| migration.tag.clone());
    let mut migrations = serde_json::to_value(history)
        .map_err(|e| invalid(format!("the migration history could not be written: {e}")))?;
    if let (Some(added), Value::Array(migrations)) = (metadata.migrations, &mut migrations) {
        if added.old_tag != last_tag {
            return Err(invalid(format!(
                "the upload's migrations follow tag {:?}, but the worker's last is {last_tag:?}: \
                 deploy again",
                added.old_tag
            )));
        }
        let tag = added.new_tag.unwrap_or_else(|| "v1".into());
        let count = added.steps.len();
        for (index, mut step) in added.steps.into_iter().enumerate() {
            let step_tag = match index + 1 == count {
                true => tag.clone(),
                false => format!("{tag}.{index}"),
            };
            step.insert("tag".into(), step_tag.into());
            migrations.push(Value::Object(step));
        }
    }
    config["migrations"] = migrations;
    Ok(config)
}

#[derive(serde::Deserialize)]
struct DeploymentRequest {
    versions: Vec<DeployedVersion>,
    annotations: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize)]
struct DeployedVersion {
    version_id: String,
    percentage: f64,
}

/// `POST scripts/{name}/deployments`: one version at 100%. The version serving now is left
/// serving; an older one is rolled back to (as a new version). Gradual deployments, two
/// versions at once, are not implemented.
async fn deploy_version(releases: &Releases, name: &str, request: Request<Incoming>) -> Outcome {
    let requested: DeploymentRequest = read_json(request, 64 * 1024, "the deployment").await?;
    let only = match requested.versions.as_slice() {
        [only] if only.percentage == 100.0 => only,
        _ => {
            return Err(invalid(
                "Verge deploys one version at 100%: gradual deployments are not implemented".into(),
            ))
        }
    };
    let version = version_number(&only.version_id).ok_or_else(|| {
        failure(
            StatusCode::NOT_FOUND,
            10007,
            format!("no version {:?} of {name}", only.version_id),
        )
    })?;
    let serving = current(releases, name).ok_or_else(|| not_found(name))?;
    let message = message_in(requested.annotations);
    let deployed = match version == serving {
        true => serving,
        false => releases
            .rollback(name, Some(version), message)
            .await
            .map_err(|refusal| refused(name, refusal))?,
    };
    let kept = releases
        .versions(name)
        .await
        .map_err(|refusal| refused(name, refusal))?;
    let (number, release) = kept
        .iter()
        .find(|(number, _)| *number == deployed)
        .ok_or_else(|| no_version(name, &version_id(deployed)))?;
    Ok(deployment(*number, release))
}

#[derive(serde::Deserialize)]
struct SecretRequest {
    name: String,
    text: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `PUT scripts/{name}/secrets`: a `secret_text`, as a new version. Its value is never logged
/// nor shown again.
async fn put_secret(releases: &Releases, name: &str, request: Request<Incoming>) -> Outcome {
    let SecretRequest {
        name: key,
        text,
        kind,
    } = read_json(request, super::super::MAX_SECRET + 1024, "the secret").await?;
    if kind != "secret_text" {
        return Err(invalid(format!(
            "secret {key:?}: Verge keeps secrets of type \"secret_text\", not {kind:?}"
        )));
    }
    super::super::check_secret_name(&key).map_err(invalid)?;
    if text.len() > super::super::MAX_SECRET {
        return Err(invalid(format!(
            "secret {key:?} is larger than {} bytes",
            super::super::MAX_SECRET
        )));
    }
    releases
        .set_secret(name, &key, Some(text))
        .await
        .map_err(|refusal| refused(name, refusal))?;
    Ok(json!({ "name": key, "type": "secret_text" }))
}

/// One of the routes `PUT scripts/{name}/routes` takes: a pattern, or a table.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RouteRequest {
    Pattern(String),
    Table {
        pattern: String,
        zone_name: Option<String>,
        zone_id: Option<String>,
        #[serde(default)]
        custom_domain: bool,
    },
}

async fn set_routes(releases: &Releases, name: &str, request: Request<Incoming>) -> Outcome {
    let requested: Vec<RouteRequest> = read_json(request, 1024 * 1024, "the routes").await?;
    let routes: Vec<Route> = requested
        .into_iter()
        .map(|route| match route {
            RouteRequest::Pattern(pattern) => Route {
                pattern,
                zone_name: None,
                custom_domain: false,
            },
            RouteRequest::Table {
                pattern,
                zone_name,
                zone_id,
                custom_domain,
            } => Route {
                pattern,
                zone_name: zone_name.or(zone_id),
                custom_domain,
            },
        })
        .collect();
    let shown: Vec<Value> = routes
        .iter()
        .map(|route| route_json(&route.pattern, name))
        .collect();
    releases
        .set_triggers(name, Some(routes), None)
        .await
        .map_err(|refusal| refused(name, refusal))?;
    Ok(Value::Array(shown))
}

#[derive(serde::Deserialize)]
struct Schedule {
    cron: String,
}

fn schedules(crons: &[String]) -> Vec<Value> {
    crons.iter().map(|cron| json!({ "cron": cron })).collect()
}

async fn set_schedules(releases: &Releases, name: &str, request: Request<Incoming>) -> Outcome {
    let requested: Vec<Schedule> = read_json(request, 64 * 1024, "the schedules").await?;
    let mut crons = Vec::with_capacity(requested.len());
    for Schedule { cron } in requested {
        if let Err(e) = cron.parse::<croner::Cron>() {
            return Err(invalid(format!("{cron:?} is not a cron expression: {e}")));
        }
        crons.push(cron);
    }
    let shown = schedules(&crons);
    releases
        .set_triggers(name, None, Some(crons))
        .await
        .map_err(|refusal| refused(name, refusal))?;
    Ok(json!({ "schedules": shown }))
}

#[cfg(test)]
mod tests {
    use super::{version_id, version_number};

    #[test]
    fn a_version_id_reads_back_as_its_number() {
        for number in [1, 42, 0xffff_ffff_ffff] {
            assert_eq!(version_number(&version_id(number)), Some(number));
        }
        assert_eq!(version_number("00000000-0000-4000-8000-00000000000g"), None);
        assert_eq!(version_number("6f1a2b3c-0000-4000-8000-000000000001"), None);
    }
}
