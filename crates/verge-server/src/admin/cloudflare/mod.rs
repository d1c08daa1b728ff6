//! Cloudflare's v4 API — the part `wrangler` uses — under `/client/v4` on the admin listener,
//! so that the real `wrangler` deploys to Verge: `CLOUDFLARE_API_BASE_URL` names this prefix,
//! `CLOUDFLARE_API_TOKEN` is the admin token and `CLOUDFLARE_ACCOUNT_ID` any name (Verge is one
//! account; the id in a path is not checked).
//!
//! Every answer is Cloudflare's envelope, `{"success", "errors": [{"code", "message"}],
//! "messages", "result"}`, but for the raw bytes of a KV value. A missing token is a 401 and a
//! wrong one a 403, in the envelope; an endpoint Verge does not implement is a 404 with code
//! 7000 saying so. The endpoints are the admin API's own operations — the same releases and the
//! same KV store — in Cloudflare's shapes:
//!
//! - `GET /user/tokens/verify`, `/user`, `/accounts`, `/memberships`: `wrangler whoami`;
//! - `/accounts/{account}/storage/kv/namespaces/…`: Workers KV ([`kv`]);
//! - `/accounts/{account}/workers/…`: scripts, their deploys, routes and crons ([`workers`]),
//!   their `[assets]` ([`assets`], whose uploads a session's token authorizes) and tails
//!   ([`tail`], followed over a WebSocket its id authorizes);
//! - `/accounts/{account}/d1/database/…`: D1 databases and their queries ([`d1`]);
//! - `/accounts/{account}/r2/buckets/…`: R2 buckets and objects ([`r2`]);
//! - `GET /zones?name=` and `/zones/{zone}/workers/routes`: every host is a zone of its own,
//!   and its routes are the workers' routes under it.

mod assets;
mod d1;
mod kv;
mod r2;
mod registry;
mod tail;
mod workers;

use super::{is_admin_token, query_params as query, Admin, AdminBody};
use crate::assets::percent_decode;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyDataStream;
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Where the API sits on the admin listener, as `CLOUDFLARE_API_BASE_URL` names it.
pub(super) const PREFIX: &str = "/client/v4";

pub(crate) use assets::AssetSessions;
pub(crate) use d1::D1Imports;
pub(crate) use tail::Tails;

/// Verge's one account, as `/accounts` lists it.
const ACCOUNT: &str = "verge";

/// Answers `request`, whose path starts with [`PREFIX`].
pub(super) async fn endpoint(admin: &Admin, request: Request<Incoming>) -> Response<AdminBody> {
    if request.method() == Method::POST && request.uri().path().ends_with("/workers/assets/upload")
    {
        return answer(upload_assets(admin, request).await);
    }
    // The two URLs the API hands out (`handed_out`), which their own token (the path's last
    // part) authorizes.
    let capability = |route: &str| {
        let rest = request.uri().path().strip_prefix(PREFIX)?;
        rest.strip_prefix(route).map(str::to_owned)
    };
    if let (&Method::PUT, Some(token)) = (request.method(), capability(d1::IMPORTS)) {
        return d1::upload(admin, &token, request).await;
    }
    if let (&Method::GET, Some(id)) = (request.method(), capability(tail::TAILS)) {
        return tail::follow(admin, &id, request).await;
    }
    if let Err(refusal) = authenticate(admin, &request) {
        return refusal.into();
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Segments are decoded one by one: a KV key may hold an encoded `/`.
    let segments: Vec<String> = path
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let account = json!({ "id": ACCOUNT, "name": "Verge" });
    match (&method, segments.as_slice()) {
        (&Method::GET, ["user", "tokens", "verify"]) => {
            success(json!({ "id": "admin", "status": "active" }))
        }
        // Code 9109 is how Cloudflare answers a token that may not read its user: `wrangler
        // whoami` then shows the account alone.
        (&Method::GET, ["user"]) => failure(
            StatusCode::FORBIDDEN,
            9109,
            "Verge has accounts, not users: the admin token is the account's",
        )
        .into(),
        (&Method::GET, ["accounts"]) => listed(vec![account]),
        (&Method::GET, ["memberships"]) => listed(vec![json!({
            "id": ACCOUNT,
            "status": "accepted",
            "account": account,
            "roles": ["Administrator"],
        })]),
        (_, ["accounts", _, "storage", "kv", "namespaces", rest @ ..]) => {
            kv::endpoint(admin, request, rest).await
        }
        (_, ["accounts", _, "workers", rest @ ..]) => workers::endpoint(admin, request, rest).await,
        (_, ["accounts", _, "d1", "database", rest @ ..]) => {
            d1::endpoint(admin, request, rest).await
        }
        (_, ["accounts", _, "r2", "buckets", rest @ ..]) => {
            r2::endpoint(admin, request, rest, &path).await
        }
        (&Method::GET, ["zones"]) => zones(&request),
        (&Method::GET, ["zones", zone, "workers", "routes"]) => {
            workers::zone_routes(&admin.releases, zone)
        }
        _ => not_implemented(&method, &path).into(),
    }
}

/// Where the URLs of `route` on this listener begin, as `request` reached it, with `scheme`:
/// the API hands them out, each ending in the token that alone authorizes it. A request
/// naming no Host is refused with `code`.
fn handed_out(
    request: &Request<Incoming>,
    scheme: &str,
    route: &str,
    code: u32,
) -> Result<String, Refusal> {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| failure(StatusCode::BAD_REQUEST, code, "the request names no Host"))?;
    Ok(format!("{scheme}://{host}{PREFIX}{route}"))
}

/// `GET /zones?name=`: Verge keeps no zones; every host name is a zone of its own, named and
/// identified by itself, so that wrangler can look up the routes under it.
fn zones(request: &Request<Incoming>) -> Response<AdminBody> {
    let zones = match query(request).get("name") {
        Some(name) => vec![json!({
            "id": name, "name": name, "status": "active",
            "account": { "id": ACCOUNT, "name": "Verge" },
        })],
        None => Vec::new(),
    };
    listed(zones)
}

/// `POST /accounts/{account}/workers/assets/upload`: files of an asset upload session,
/// authorized by the session's token rather than the admin token, as Cloudflare's API does.
async fn upload_assets(admin: &Admin, request: Request<Incoming>) -> Result<Value, Refusal> {
    let token = super::bearer(&request)
        .map(str::to_owned)
        .filter(|token| admin.asset_sessions.is_open(token))
        .ok_or_else(|| {
            failure(
                StatusCode::FORBIDDEN,
                9109,
                "Invalid access token: not an open asset upload session's",
            )
        })?;
    let parts = read_form(
        request,
        super::MAX_UPLOAD,
        "an asset upload is a multipart/form-data body, one part per file",
    )
    .await?;
    admin
        .asset_sessions
        .stage(&admin.releases.data_dir(), &token, parts)
}

/// The admin token as Cloudflare's API takes a token, `Authorization: Bearer …`.
fn authenticate(admin: &Admin, request: &Request<Incoming>) -> Result<(), Refusal> {
    match super::bearer(request) {
        None => Err(failure(
            StatusCode::UNAUTHORIZED,
            10000,
            "Authentication error: send the admin token as `Authorization: Bearer <token>` \
             (wrangler's CLOUDFLARE_API_TOKEN)",
        )),
        Some(token) if is_admin_token(token.as_bytes(), admin.token.as_bytes()) => Ok(()),
        Some(_) => Err(failure(
            StatusCode::FORBIDDEN,
            9109,
            "Invalid access token: it is not this server's admin token",
        )),
    }
}

/// A successful answer carrying `result`.
pub(super) fn success(result: Value) -> Response<AdminBody> {
    super::json(
        StatusCode::OK,
        json!({ "success": true, "errors": [], "messages": [], "result": result }),
    )
}

/// A successful answer carrying one page of a list, with Cloudflare's `result_info`.
fn paged(result: Vec<Value>, result_info: Value) -> Response<AdminBody> {
    super::json(
        StatusCode::OK,
        json!({
            "success": true, "errors": [], "messages": [],
            "result": result, "result_info": result_info,
        }),
    )
}

/// A whole list as one page.
fn listed(result: Vec<Value>) -> Response<AdminBody> {
    let count = result.len();
    paged(
        result,
        json!({ "page": 1, "per_page": count.max(1), "count": count, "total_count": count }),
    )
}

/// A refusal as Cloudflare's API makes one: an HTTP status, and the API's error code with a
/// message.
pub(super) struct Refusal {
    status: StatusCode,
    code: u32,
    message: String,
}

/// A refusal: `status`, and Cloudflare's error `code` with `message`.
pub(super) fn failure(status: StatusCode, code: u32, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

impl From<Refusal> for Response<AdminBody> {
    fn from(
        Refusal {
            status,
            code,
            message,
        }: Refusal,
    ) -> Self {
        super::json(
            status,
            json!({
                "success": false,
                "errors": [{ "code": code, "message": message }],
                "messages": [],
                "result": null,
            }),
        )
    }
}

/// An answer: `result` in the envelope, or the refusal.
pub(super) fn answer(outcome: Result<Value, Refusal>) -> Response<AdminBody> {
    match outcome {
        Ok(result) => success(result),
        Err(refusal) => refusal.into(),
    }
}

/// Cloudflare's answer to a path it has no route for, saying that Verge lacks it.
fn not_implemented(method: &Method, path: &str) -> Refusal {
    failure(
        StatusCode::NOT_FOUND,
        7000,
        format!("No route for that URI: Verge does not implement {method} {path}"),
    )
}

/// The page of `items` that `query` asks for (`page` from 1, `per_page` up to `max`, else
/// `per_page`), and the page size used.
fn page_of<T>(
    items: Vec<T>,
    query: &HashMap<String, String>,
    per_page: usize,
    max: usize,
) -> (Vec<T>, usize, usize) {
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|value| value.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
    };
    let (page, per_page) = (number("page", 1), number("per_page", per_page).min(max));
    let shown = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    (shown, page, per_page)
}

/// One part of a form.
pub(super) struct Part {
    pub(super) name: String,
    pub(super) content_type: Option<String>,
    pub(super) bytes: Bytes,
}

/// The parts of `request`'s `multipart/form-data` body (split at `boundary`), at most `limit`
/// bytes in all; a malformed form is a 400 saying where.
pub(super) async fn form_parts(
    request: Request<Incoming>,
    limit: usize,
    boundary: String,
) -> Result<Vec<Part>, Refusal> {
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
    let stream =
        BodyDataStream::new(request.into_body()).map(|chunk| chunk.map_err(std::io::Error::other));
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    let bad = |e: multer::Error, index: usize| match e {
        multer::Error::StreamSizeExceeded { .. } => failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            10011,
            format!("the form is larger than {limit} bytes"),
        ),
        e => failure(
            StatusCode::BAD_REQUEST,
            10026,
            format!("the form is malformed at part {}: {e}", index + 1),
        ),
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(parts),
            Err(e) => return Err(bad(e, parts.len())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.map_err(|e| bad(e, parts.len()))?;
        parts.push(Part {
            name,
            content_type,
            bytes,
        });
    }
}

/// The parts of `request`'s form, up to `limit` bytes; a 400 saying what the body should be
/// (`expected`) when it is no form.
async fn read_form(
    request: Request<Incoming>,
    limit: usize,
    expected: &str,
) -> Result<Vec<Part>, Refusal> {
    let boundary =
        form_boundary(&request).ok_or_else(|| failure(StatusCode::BAD_REQUEST, 10026, expected))?;
    form_parts(request, limit, boundary).await
}

/// The boundary of a `multipart/form-data` body, if `request` carries one.
fn form_boundary(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.starts_with("multipart/form-data"))
        .and_then(|value| multer::parse_boundary(value).ok())
}

/// A store's failure as an API error with `code`: the client's fault when it broke a rule, the
/// hub's or the disk's else.
fn store_failure(code: u32, e: verge_storage::StorageError) -> Refusal {
    let (status, message) = super::kv::failed(e);
    failure(status, code, message)
}

/// The body of `request`, up to `limit` bytes; a 413 in the envelope beyond.
async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, Refusal> {
    super::body_within(request, limit)
        .await
        .map_err(|message| failure(StatusCode::PAYLOAD_TOO_LARGE, 10011, message))
}

/// The body of `request` as JSON of type `T`, up to `limit` bytes; a 400 naming what is wrong
/// (whatever its content type: wrangler sends some JSON as text/plain).
async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
    limit: usize,
    what: &str,
) -> Result<T, Refusal> {
    let body = read_body(request, limit).await?;
    serde_json::from_slice(&body).map_err(|e| {
        failure(
            StatusCode::BAD_REQUEST,
            10026,
            format!("{what} is not valid: {e}"),
        )
    })
}
