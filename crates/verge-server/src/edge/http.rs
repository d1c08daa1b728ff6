//! The one place where hyper's requests and responses meet the worker's ([`Request`],
//! [`Response`]): the URL a worker sees, the client's address and `request.cf`, the request
//! body's bound, and the response made hyper's (its headers through `HeaderList`'s codec, its
//! framing hyper's own). Also the plain-text responses the server makes itself.

use super::{Connection, EdgeOptions};
use crate::geo::CfCache;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use verge_runtime::{Body, HeaderList, NativeBody, RedirectMode, Request, Response};

pub(super) fn request_host(request: &http::Request<Incoming>) -> String {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "localhost".into())
}

/// A client's request for `host` (see [`request_host`]), on `connection`, as its worker sees it.
pub(super) fn to_worker_request(
    request: http::Request<Incoming>,
    host: &str,
    connection: Connection,
    options: &EdgeOptions,
    cf_texts: &CfCache,
) -> Request {
    let peer = connection.peer;
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = match &options.origin {
        Some(origin) => format!("{}{path}", origin.origin().ascii_serialization()),
        None if connection.tls.is_some() => format!("https://{host}{path}"),
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
    let mut headers = HeaderList::from_http(&parts.headers);
    headers.retain(|name, _| {
        !matches!(
            name,
            "cf-connecting-ip" | "x-forwarded-for" | "cf-ipcountry"
        )
    });
    // As at Cloudflare's edge: the client's address, which the origin sees on a pass-through.
    headers.push("cf-connecting-ip", client_ip);
    let cf = options
        .geo
        .cf_text(cf_texts, &client, protocol, connection.tls);
    if let Some(country) = &cf.country {
        headers.push("cf-ipcountry", country.to_string());
    }
    headers.push("x-forwarded-for", forwarded_for);

    // The body streams into the worker as it arrives; one that outgrows the limit without
    // declaring its length fails the worker's read (one that declares it: `refuse_too_large`).
    let body = if body.is_end_stream() {
        Body::Empty
    } else {
        Body::Stream(Limited::new(body, options.max_request_body).boxed())
    };
    Request {
        method: parts.method.as_str().to_owned(),
        url,
        headers,
        body,
        cf: Some(cf.json),
        // As on Workers: a redirect the origin answers goes back to the client.
        redirect: RedirectMode::Manual,
        depth: 0,
    }
}

/// The 413 for a request whose declared body is over `max` bytes, before it reaches a worker or
/// an origin.
pub(super) fn refuse_too_large(request: &Request, max: usize) -> Option<Response> {
    let declared = request
        .headers
        .get("content-length")?
        .trim()
        .parse::<u64>()
        .ok()?;
    (declared > max as u64)
        .then(|| plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"))
}

/// `response` as hyper sends it, from the worker (or server) `from`: a header that HTTP cannot
/// carry is dropped and logged, and the framing is hyper's — but for the length that an answer
/// to a HEAD request (`head`) without a body states, which tells the client what a GET would
/// get.
pub(super) fn to_hyper(from: &str, response: Response, head: bool) -> http::Response<NativeBody> {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        tracing::warn!(worker = from, "invalid response status {}", response.status);
        let invalid = plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid response from worker\n",
        );
        return to_hyper(from, invalid, head);
    };
    let Response {
        headers: list,
        body,
        ..
    } = response;
    let stated_length = match body {
        Body::Empty if head => list
            .get("content-length")
            .and_then(|n| n.trim().parse::<u64>().ok()),
        _ => None,
    };
    let mut hyper_response = http::Response::new(body.into_native());
    *hyper_response.status_mut() = status;
    let headers = hyper_response.headers_mut();
    for header in list.to_http() {
        match header {
            Ok((name, value)) => {
                headers.append(name, value);
            }
            Err(invalid) => tracing::warn!(worker = from, "dropped a response header: {invalid}"),
        }
    }
    if let Some(length) = stated_length {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    hyper_response
}

/// Workers' error 1102, naming the limit.
pub(super) fn limit_exceeded(limit: &str) -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Error 1102: Worker exceeded resource limits: {limit}\n"),
    )
}

/// The 301 that sends a plain-HTTP request for `host` and `path` to HTTPS on `port`; a 400
/// for a Host that is not a host name or address (which would make the Location another
/// site's).
pub(super) fn redirect_to_https(host: &str, port: u16, path: &str) -> http::Response<NativeBody> {
    let host = crate::routes::strip_port(host);
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let is_literal = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || !(is_literal || host.chars().all(is_name)) {
        let refused = plain(StatusCode::BAD_REQUEST, "the Host header is not a host\n");
        return to_hyper("(redirect)", refused, false);
    }
    let location = match port {
        443 => format!("https://{host}{path}"),
        port => format!("https://{host}:{port}{path}"),
    };
    let mut response = plain(StatusCode::MOVED_PERMANENTLY, "");
    response.headers.push("location", location);
    to_hyper("(redirect)", response, false)
}

/// A response of `status` whose body is `text`, plain.
pub(crate) fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response {
    let mut headers = HeaderList::default();
    headers.push("content-type", "text/plain;charset=UTF-8");
    Response::new(status.as_u16(), headers, Body::Full(text.into()))
}

#[cfg(test)]
mod tests {
    use super::redirect_to_https;

    #[test]
    fn only_a_host_is_redirected_to() {
        let location = |host: &str| {
            let response = redirect_to_https(host, 8443, "/a?b=1");
            let location = response
                .headers()
                .get("location")
                .map(|v| v.as_bytes().to_vec());
            (response.status().as_u16(), location)
        };
        let expected = b"https://shop.test:8443/a?b=1".to_vec();
        assert_eq!(location("shop.test"), (301, Some(expected.clone())));
        assert_eq!(location("shop.test:80"), (301, Some(expected)));
        assert_eq!(location("[::1]:80").0, 301);
        for hostile in [
            "good.test@evil.test",
            "evil.test/x?",
            "a b",
            "",
            "evil.test\\x",
        ] {
            assert_eq!(location(hostile), (400, None), "{hostile}");
        }
    }
}
