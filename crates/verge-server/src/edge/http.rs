//! Translation between hyper's requests and responses and the worker's: the URL a worker sees,
//! the client's address and `request.cf`, the request body's bound, and the response headers
//! that hyper's own framing replaces. Also the plain-text responses the server makes itself.

use super::EdgeOptions;
use crate::geo::CfCache;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use std::net::SocketAddr;
use verge_runtime::{header_pair, Body, NativeBody, WorkerRequest};

pub(super) fn request_host(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "localhost".into())
}

pub(super) fn to_worker_request(
    request: Request<Incoming>,
    peer: SocketAddr,
    options: &EdgeOptions,
    cf_texts: &CfCache,
) -> Result<WorkerRequest, (StatusCode, &'static str)> {
    let host = request_host(&request);
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = match &options.origin {
        Some(origin) => format!("{}{path}", origin.origin().ascii_serialization()),
        None => format!("http://{host}{path}"),
    };
    let client = options.geo.client(peer.ip(), &parts.headers);
    let protocol = match parts.version {
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let client_ip = client.ip.to_string();
    // The chain of addresses a request came through, ending with the peer that sent it here.
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "cf-connecting-ip" | "x-forwarded-for" | "cf-ipcountry"
            )
        })
        .map(|(name, value)| header_pair(name, value))
        .collect();
    // As at Cloudflare's edge: the client's address, which the origin sees on a pass-through.
    headers.push(("cf-connecting-ip".into(), client_ip.clone()));
    let cf = options.geo.cf_text(cf_texts, &client, protocol);
    if let Some(country) = &cf.country {
        headers.push(("cf-ipcountry".into(), country.to_string()));
    }
    headers.push(("x-forwarded-for".into(), forwarded_for));

    let max_body = options.max_request_body;
    let declared_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_body as u64) {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large
",
        ));
    }
    // The body streams into the worker as it arrives; one that outgrows the limit without
    // declaring its length fails the worker's read.
    let body = if body.is_end_stream() {
        Body::Empty
    } else {
        Body::Stream(Limited::new(body, max_body).boxed())
    };
    Ok(WorkerRequest {
        method: parts.method.as_str().to_owned(),
        url,
        headers,
        body,
        cf: cf.json,
        depth: 0,
    })
}

pub(super) fn to_hyper(
    worker: &str,
    status: u16,
    headers: &[(String, String)],
    body: Body,
) -> Response<NativeBody> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        // hyper frames the body itself; a worker's framing headers would contradict it.
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            latin1_header_value(value),
        ) {
            (Ok(name), Some(value)) => builder = builder.header(name, value),
            _ => tracing::warn!(worker, "dropped an invalid response header {name:?}"),
        }
    }
    let body = match body {
        Body::Empty => Empty::new().map_err(|never| match never {}).boxed(),
        Body::Full(bytes) => Full::new(bytes).map_err(|never| match never {}).boxed(),
        Body::Stream(stream) => stream,
    };
    builder.body(body).unwrap_or_else(|_| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid response from worker\n",
        )
    })
}

/// A header value from the worker, whose strings hold bytes as Latin-1 code points (ByteString).
fn latin1_header_value(value: &str) -> Option<HeaderValue> {
    let bytes: Option<Vec<u8>> = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    HeaderValue::from_bytes(&bytes?).ok()
}

/// Workers' error 1102, naming the limit.
pub(super) fn limit_exceeded(limit: &str) -> Response<NativeBody> {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Error 1102: Worker exceeded resource limits: {limit}\n"),
    )
}

pub(crate) fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<NativeBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}
