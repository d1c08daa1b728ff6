//! The HTTP client behind a worker's `fetch()`: HTTP/1.1 and HTTP/2 over TCP or TLS (rustls with
//! the system's roots, falling back to the webpki roots), pooled connections, redirects followed
//! as the Fetch standard says, and `Content-Encoding` decoded as Workers do. It also opens
//! `cloudflare:sockets`' TCP connections, under the same policy and TLS roots.
//!
//! Lifecycle: one client per serving thread, shared by every worker on it.

use crate::policy::{refusal, NetworkPolicy, PolicyResolver};
use futures_util::TryStreamExt;
use http::{Method, StatusCode};
use http_body_util::{BodyDataStream, BodyExt, StreamBody};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::io::{ReaderStream, StreamReader};
use url::Url;
use verge_config::Zone;
use verge_js::OpError;
use verge_web::{
    Body, BoxError, ConnectFuture, Connected, HeaderList, NativeBody, Outbound, OutboundFuture,
    RedirectMode, Request, Response, SocketIo, UpgradeFuture,
};

/// The most redirects one fetch follows (Fetch §4.4, step 5).
const MAX_REDIRECTS: usize = 20;

type Pooled = Client<HttpsConnector<HttpConnector<PolicyResolver>>, NativeBody>;

/// One per serving thread. The connection pool and TLS roots are built on the first request
/// that needs them: reading the system certificate store costs milliseconds that a worker which
/// never fetches should not pay at start-up.
#[derive(Clone)]
pub struct HttpClient {
    client: Rc<std::cell::OnceCell<Pooled>>,
    /// For zone origins, which the operator configured: not subject to `policy`.
    trusted: Rc<std::cell::OnceCell<Pooled>>,
    /// For WebSocket handshakes, which need HTTP/1.1 (an upgrade cannot happen on HTTP/2):
    /// subject to `policy`, and for zone origins.
    upgrades: Rc<std::cell::OnceCell<Pooled>>,
    trusted_upgrades: Rc<std::cell::OnceCell<Pooled>>,
    policy: Arc<NetworkPolicy>,
    /// TLS for fetch's pools and sockets' connections, made (reading the system's certificate
    /// store) on the first that asks for it.
    tls: Rc<std::cell::OnceCell<Arc<rustls::ClientConfig>>>,
    /// Zones whose hosts are served by an origin (`verge serve`'s `[[zones]]`): a request to
    /// the zone's host (or a subdomain) goes to the origin, with the host it named.
    zones: Rc<Vec<Zone>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client that reaches every address (`verge dev`).
    pub fn new() -> Self {
        Self::with_policy(NetworkPolicy::open(), Vec::new())
    }

    /// A client limited by `policy`, with `zones` routed to their origins.
    pub fn with_policy(policy: NetworkPolicy, zones: Vec<Zone>) -> Self {
        Self {
            client: Rc::default(),
            trusted: Rc::default(),
            upgrades: Rc::default(),
            trusted_upgrades: Rc::default(),
            policy: Arc::new(policy),
            tls: Rc::default(),
            zones: Rc::new(zones),
        }
    }

    /// The pool for a request to an operator's zone origin (`trusted`) or a worker's
    /// destination, and for a WebSocket handshake (`upgrade`) or not.
    fn pooled(&self, trusted: bool, upgrade: bool) -> Pooled {
        let (cell, http2) = match (trusted, upgrade) {
            (false, false) => (&self.client, true),
            (true, false) => (&self.trusted, true),
            (false, true) => (&self.upgrades, false),
            (true, true) => (&self.trusted_upgrades, false),
        };
        let policy = || match trusted {
            true => Arc::new(NetworkPolicy::open()),
            false => self.policy.clone(),
        };
        cell.get_or_init(|| build_client(policy(), self.tls(), http2))
            .clone()
    }

    /// Where a request for `url` goes instead, when a zone serves its host: the zone origin's
    /// URL and the host header to send there.
    fn zone_route(&self, url: &Url) -> Option<(Url, String)> {
        let host = url.host_str()?;
        let zone = self.zones.iter().find(|zone| zone.serves(host))?;
        let mut target = zone.origin.clone();
        target.set_path(url.path());
        target.set_query(url.query());
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Some((target, host_header))
    }
}

fn build_client(policy: Arc<NetworkPolicy>, tls: Arc<rustls::ClientConfig>, http2: bool) -> Pooled {
    let mut http = HttpConnector::new_with_resolver(PolicyResolver::new(policy));
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1();
    let https = if http2 {
        https.enable_http2().wrap_connector(http)
    } else {
        https.wrap_connector(http)
    };
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https)
}

impl HttpClient {
    /// Sends `request`, following redirects as its mode says.
    pub async fn send(&self, request: Request) -> Result<Response, OpError> {
        let Request {
            method,
            url,
            headers,
            mut body,
            redirect,
            ..
        } = request;
        let mut url = parse_url(&url)?;
        let mut method = Method::from_bytes(method.as_bytes())
            .map_err(|_| OpError::Type(format!("invalid method {method:?}")))?;
        let mut headers = headers;
        for redirects in 0..=MAX_REDIRECTS {
            // A streamed body can be sent once; a redirect that must resend it fails below.
            let replay = body.replay();
            let sent = std::mem::replace(&mut body, Body::Empty);
            let response = self.send_once(&method, &url, &headers, sent).await?;
            let status = response.status();
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok());
            let is_redirect =
                matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) && location.is_some();
            if !is_redirect || redirect == RedirectMode::Manual {
                return Ok(into_response(response, &url, redirects > 0));
            }
            if redirect == RedirectMode::Error {
                return Err(OpError::Type(format!(
                    "fetch failed: {url} redirected while redirect is \"error\""
                )));
            }
            let location = location.unwrap_or_default();
            let next = url.join(location).map_err(|_| {
                OpError::Type(format!(
                    "fetch failed: invalid redirect location {location:?}"
                ))
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(OpError::Type(format!(
                    "fetch failed: redirect to unsupported scheme {}",
                    next.scheme()
                )));
            }
            // 303, and 301/302 after a POST, become a GET without a body (Fetch §4.4, step 12).
            if status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status.as_u16(), 301 | 302) && method == Method::POST
            {
                method = Method::GET;
                body = Body::Empty;
                headers.retain(|name, _| !is_request_body_header(name));
            } else {
                body = replay.ok_or_else(|| {
                    OpError::Type(
                        "fetch failed: cannot follow a redirect that must resend a streamed body"
                            .into(),
                    )
                })?;
            }
            if next.origin() != url.origin() {
                headers.retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
            }
            url = next;
        }
        Err(OpError::Type(format!(
            "fetch failed: more than {MAX_REDIRECTS} redirects"
        )))
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderList,
        body: Body,
    ) -> Result<http::Response<hyper::body::Incoming>, OpError> {
        let routed = self.zone_route(url);
        let (target, host_header) = match &routed {
            Some((target, host)) => (target, Some(host)),
            None => (url, None),
        };
        let literal = match target.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        // A zone's origin is the operator's own: the policy limits workers' other requests.
        let trusted = routed.is_some();
        if !trusted && literal.is_some_and(|ip| !self.policy.permits(ip)) {
            let host = target.host_str().unwrap_or_default();
            return Err(OpError::Type(format!(
                "fetch failed: {url}: {}",
                refusal(host)
            )));
        }
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(target.as_str());
        if let Some(host) = host_header {
            builder = builder.header(http::header::HOST, host.as_str());
        }
        for header in headers.to_http() {
            let (name, value) = header.map_err(|e| OpError::Type(e.to_string()))?;
            // The host comes from the URL, as on Workers.
            if name != http::header::HOST {
                builder = builder.header(name, value);
            }
        }
        // A WebSocket handshake's Connection header, which the header list leaves to the
        // connection; and a connection of HTTP/1.1, where an upgrade can happen.
        let upgrade = headers.get("upgrade").is_some();
        if upgrade {
            builder = builder.header(http::header::CONNECTION, "upgrade");
        }
        if headers.get("accept-encoding").is_none() {
            builder = builder.header(http::header::ACCEPT_ENCODING, "gzip, deflate, br");
        }
        let request = builder
            .body(body.into_native())
            .map_err(|e| OpError::Type(format!("fetch failed: {e}")))?;
        self.pooled(trusted, upgrade)
            .request(request)
            .await
            .map_err(|e| {
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    message = format!("{message}: {inner}");
                    source = inner.source();
                }
                OpError::Type(format!("fetch failed: {url}: {message}"))
            })
    }
}

impl HttpClient {
    /// A WebSocket to `request`'s URL (a request with `Upgrade: websocket`): the handshake over
    /// HTTP/1.1, and then a 101 response whose socket is joined to the connection.
    async fn connect_websocket(&self, request: Request) -> Result<Response, OpError> {
        let url = parse_url(&request.url)?;
        let key = verge_web::new_websocket_key();
        let mut headers = request.headers;
        headers.retain(|name, _| {
            !matches!(
                name,
                "connection" | "upgrade" | "sec-websocket-key" | "sec-websocket-version"
            )
        });
        headers.push("upgrade", "websocket");
        headers.push("sec-websocket-version", "13");
        headers.push("sec-websocket-key", key.clone());
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| OpError::Type(format!("Invalid method {}", request.method)))?;
        let mut response = self.send_once(&method, &url, &headers, Body::Empty).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Ok(into_response(response, &url, false));
        }
        let accepted = response
            .headers()
            .get("sec-websocket-accept")
            .is_some_and(|accept| {
                accept.as_bytes() == verge_web::websocket_accept_key(key.as_bytes()).as_bytes()
            });
        if !accepted {
            return Err(OpError::Type(format!(
                "fetch failed: {url}: the server's WebSocket handshake has no valid Sec-WebSocket-Accept"
            )));
        }
        let headers = HeaderList::from_http(response.headers());
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(|e| OpError::Type(format!("fetch failed: {url}: {e}")))?;
        let stream = tokio_websockets::ClientBuilder::new()
            .limits(verge_web::websocket_limits())
            .take_over(hyper_util::rt::TokioIo::new(upgraded));
        let (ours, theirs) = verge_web::HostSocket::pair();
        tokio::task::spawn_local(verge_web::pump_websocket(stream, ours));
        Ok(Response {
            url: url.to_string(),
            websocket: Some(theirs),
            ..Response::new(101, headers, Body::Empty)
        })
    }
}

/// How long a socket's TCP connection and TLS handshake may take.
const SOCKET_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpClient {
    /// A TCP connection to `host`:`port` for `cloudflare:sockets`, to the first address the
    /// policy permits that answers.
    async fn open_socket(
        policy: Arc<NetworkPolicy>,
        host: String,
        port: u16,
    ) -> Result<tokio::net::TcpStream, OpError> {
        let failed = |why: String| OpError::Error(format!("{host}:{port}: {why}"));
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<std::net::SocketAddr> = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| failed(format!("could not resolve the host: {e}")))?
                .collect(),
        };
        let permitted = crate::policy::permitted(&policy, bare, addresses).map_err(failed)?;
        let connecting = tokio::net::TcpStream::connect(&permitted[..]);
        let stream = tokio::time::timeout(SOCKET_CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| failed("the connection timed out".into()))?
            .map_err(|e| failed(e.to_string()))?;
        // Without this, each small protocol message would wait for the last one's ACK.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.get_or_init(|| Arc::new(tls_config())).clone()
    }

    fn socket_tls(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.tls())
    }
}

/// The name servers a worker set (`ip`, `ip:port` or `[ipv6]:port`), each one the policy
/// permits: a worker must not reach a private network by way of DNS.
fn name_servers(
    policy: &NetworkPolicy,
    servers: &[String],
) -> Result<Vec<std::net::SocketAddr>, OpError> {
    servers
        .iter()
        .take(crate::dns::MAX_SERVERS)
        .map(|server| {
            let address = server
                .parse::<std::net::SocketAddr>()
                .or_else(|_| server.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
                .map_err(|_| OpError::Type(format!("Invalid IP address: {server}")))?;
            if !policy.permits(address.ip()) {
                return Err(OpError::Type(refusal(&address.ip().to_string())));
            }
            Ok(address)
        })
        .collect()
}

/// TLS to `host` over `io`, the server's certificate checked against the roots `fetch()`
/// trusts.
async fn tls_over(
    connector: tokio_rustls::TlsConnector,
    io: Box<dyn SocketIo>,
    host: String,
) -> Result<Box<dyn SocketIo>, OpError> {
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let name = rustls::pki_types::ServerName::try_from(bare.clone())
        .map_err(|_| OpError::Type(format!("startTls(): {host} is not a valid server name")))?;
    let handshake = connector.connect(name, io);
    let tls = tokio::time::timeout(SOCKET_CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| OpError::Error(format!("{bare}: the TLS handshake timed out")))?
        .map_err(|e| OpError::Error(format!("{bare}: TLS handshake failed: {e}")))?;
    Ok(Box::new(tls))
}

impl Outbound for HttpClient {
    fn lookup(
        &self,
        host: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, OpError>>>> {
        Box::pin(async move {
            let found = crate::dns::lookup(&host).await?;
            Ok(found.iter().map(ToString::to_string).collect())
        })
    }

    fn resolve(
        &self,
        servers: Vec<String>,
        name: String,
        kind: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<verge_js::Data, OpError>>>> {
        let policy = self.policy.clone();
        Box::pin(async move {
            let servers = if servers.is_empty() {
                crate::dns::system_servers()
            } else {
                name_servers(&policy, &servers)?
            };
            crate::dns::resolve(&servers, &name, &kind).await
        })
    }

    fn connect(&self, host: String, port: u16, secure: bool) -> ConnectFuture {
        let policy = self.policy.clone();
        let tls = secure.then(|| self.socket_tls());
        Box::pin(async move {
            let stream = Self::open_socket(policy, host.clone(), port).await?;
            let address = |found: std::io::Result<std::net::SocketAddr>| {
                found.map(|a| a.to_string()).unwrap_or_default()
            };
            let (remote, local) = (address(stream.peer_addr()), address(stream.local_addr()));
            let io: Box<dyn SocketIo> = match tls {
                Some(connector) => tls_over(connector, Box::new(stream), host).await?,
                None => Box::new(stream),
            };
            Ok(Connected { io, remote, local })
        })
    }

    fn start_tls(&self, io: Box<dyn SocketIo>, host: String) -> UpgradeFuture {
        Box::pin(tls_over(self.socket_tls(), io, host))
    }

    fn fetch(&self, request: Request) -> OutboundFuture {
        let client = self.clone();
        let upgrade = request
            .headers
            .get("upgrade")
            .is_some_and(|upgrade| upgrade.trim().eq_ignore_ascii_case("websocket"));
        if upgrade {
            return Box::pin(async move { client.connect_websocket(request).await });
        }
        Box::pin(async move { client.send(request).await })
    }
}

/// TLS trusting the webpki roots (Mozilla's) plus the system's store, so that a private CA
/// installed on the machine works as it does for other programs there.
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!("skipping part of the system certificate store: {error}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        "trusting the webpki roots and {added} system certificates ({ignored} unparsable)"
    );
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // Only reachable if ring supported no protocol version at all.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    }
}

fn parse_url(url: &str) -> Result<Url, OpError> {
    let parsed = Url::parse(url).map_err(|_| OpError::Type(format!("Invalid URL: {url}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(OpError::Type(format!(
            "Fetch API cannot load {url}: scheme {:?} is not supported",
            parsed.scheme()
        )));
    }
    Ok(parsed)
}

fn is_request_body_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-encoding"
            | "content-language"
            | "content-location"
            | "content-length"
    )
}

fn into_response(
    response: http::Response<hyper::body::Incoming>,
    url: &Url,
    redirected: bool,
) -> Response {
    let (parts, body) = response.into_parts();
    let encoding = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let body = body.map_err(|e| -> BoxError { Box::new(e) }).boxed();
    let (body, drop_framing) = match encoding.as_deref() {
        Some(encoding @ ("gzip" | "x-gzip" | "deflate" | "br")) => (decode(body, encoding), true),
        _ => (body, false),
    };
    let mut headers = HeaderList::from_http(&parts.headers);
    if drop_framing {
        headers.retain(|name, _| name != "content-encoding" && name != "content-length");
    }
    Response {
        status: parts.status.as_u16(),
        status_text: parts.status.canonical_reason().unwrap_or("").to_owned(),
        headers,
        url: url.to_string(),
        redirected,
        body: Body::Stream(body),
        websocket: None,
    }
}

/// A body decoding `encoding` (gzip, deflate or br) on the fly.
fn decode(body: NativeBody, encoding: &str) -> NativeBody {
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
    let reader = StreamReader::new(BodyDataStream::new(body).map_err(std::io::Error::other));
    let decoded: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send + Sync>> = match encoding {
        "gzip" | "x-gzip" => Box::pin(GzipDecoder::new(reader)),
        "deflate" => Box::pin(ZlibDecoder::new(reader)),
        _ => Box::pin(BrotliDecoder::new(reader)),
    };
    let frames = ReaderStream::new(decoded)
        .map_ok(http_body::Frame::data)
        .map_err(|e| -> BoxError { Box::new(e) });
    StreamBody::new(frames).boxed()
}
