//! `POST /cache/purge`: empties the Cache API of what the body names, as Cloudflare's purge
//! API takes it — `{"files": [url, …]}`, `{"prefixes": ["example.com/blog", …]}` or
//! `{"purge_everything": true}` — here and, at a PoP, at every PoP (through the hub, which
//! must be reachable for it).

use super::{error, json, read_body, AdminBody};
use crate::releases::Releases;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;
use verge_storage::{CacheStore, Purge};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    purge_everything: bool,
}

pub(super) async fn purge(
    cache: Option<&Arc<dyn CacheStore>>,
    releases: &Releases,
    request: Request<Incoming>,
) -> Response<AdminBody> {
    let Some(cache) = cache else {
        return error(StatusCode::NOT_FOUND, "this server has no cache");
    };
    let body = match read_body(request, 1024 * 1024).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let asked: PurgeRequest = match serde_json::from_slice(&body) {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a purge request: {e}")),
    };
    let purge = match (asked.files, asked.prefixes, asked.purge_everything) {
        (files, prefixes, false) if !files.is_empty() && prefixes.is_empty() => Purge::Urls(files),
        (files, prefixes, false) if files.is_empty() && !prefixes.is_empty() => {
            Purge::Prefixes(prefixes)
        }
        (files, prefixes, true) if files.is_empty() && prefixes.is_empty() => Purge::Everything,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "a purge names one of files, prefixes or purge_everything",
            )
        }
    };
    match releases.cluster() {
        Ok(Some(cluster)) => {
            if let Err(e) = cluster.publish_purge(&purge).await {
                return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            }
        }
        Ok(None) => {}
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
    // Here at once, whatever the follower of the hub's purges does after.
    match cache.purge(&purge).await {
        Ok(purged) => json(StatusCode::OK, serde_json::json!({ "purged": purged })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
