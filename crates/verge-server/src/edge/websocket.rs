//! A client's WebSocket: the upgrade of an HTTP/1.1 request whose worker answered 101 with a
//! `WebSocketPair` end — the handshake answered here, and the connection, once hyper hands it
//! over, joined to the socket the worker gave (verge-web's `pump`), with its message-size
//! limit and close codes.

use super::http::{plain, to_hyper};
use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use verge_runtime::{NativeBody, Response};

/// A request's way to become a WebSocket: the key of its handshake, and the connection that
/// hyper gives up once the 101 is sent.
pub(crate) struct Upgrade {
    key: HeaderValue,
    connection: OnUpgrade,
}

impl Upgrade {
    /// The upgrade `request` asks for, if it is a WebSocket handshake (RFC 6455 §4.1).
    pub(crate) fn of(request: &mut http::Request<Incoming>) -> Option<Self> {
        let headers = request.headers();
        let has = |name: &str, token: &str| {
            headers.get_all(name).iter().any(|value| {
                value
                    .to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        if !(has("upgrade", "websocket") && has("connection", "upgrade")) {
            return None;
        }
        let key = headers.get("sec-websocket-key")?.clone();
        Some(Self {
            key,
            connection: hyper::upgrade::on(request),
        })
    }

    /// The handshake's key and the connection hyper gives up once the 101 is sent.
    pub(crate) fn into_parts(self) -> (HeaderValue, OnUpgrade) {
        (self.key, self.connection)
    }
}

/// What the client gets for a 101 from worker `from`: the switch to its WebSocket when the
/// request asked for one and the worker gave one, else a 500 that says which was missing.
pub(super) fn switch(
    from: &str,
    metrics: std::sync::Arc<crate::metrics::WorkerMetrics>,
    upgrade: Option<Upgrade>,
    mut response: Response,
) -> http::Response<NativeBody> {
    let (upgrade, socket) = match (upgrade, response.websocket.take()) {
        (Some(upgrade), Some(socket)) if response.status == 101 => (upgrade, socket),
        (None, Some(_)) => {
            tracing::error!(
                worker = from,
                "the worker answered a WebSocket to a request that asked for no upgrade"
            );
            let refused = plain(
                StatusCode::BAD_REQUEST,
                "Error: this URL expects a WebSocket upgrade request\n",
            );
            return to_hyper(from, refused, false);
        }
        (_, socket) => {
            let why = match socket {
                Some(_) => "answered a webSocket with a status other than 101",
                None => "answered 101 without a webSocket",
            };
            tracing::error!(worker = from, "the worker {why}");
            let failed = plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            );
            return to_hyper(from, failed, false);
        }
    };
    let accept = verge_runtime::websocket_accept_key(upgrade.key.as_bytes());
    response.headers.retain(|name, _| {
        !matches!(
            name,
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "upgrade"
                | "sec-websocket-accept"
        )
    });
    response.headers.push("upgrade", "websocket");
    response.headers.push("connection", "Upgrade");
    response.headers.push("sec-websocket-accept", accept);
    let name = from.to_owned();
    tokio::task::spawn_local(async move {
        match upgrade.connection.await {
            Ok(upgraded) => {
                use std::sync::atomic::Ordering;
                metrics.websockets.fetch_add(1, Ordering::Relaxed);
                metrics.open_websockets.fetch_add(1, Ordering::Relaxed);
                let stream = tokio_websockets::ServerBuilder::new()
                    .limits(verge_runtime::websocket_limits())
                    .serve(TokioIo::new(upgraded));
                verge_runtime::pump_websocket(stream, socket).await;
                metrics.open_websockets.fetch_sub(1, Ordering::Relaxed);
            }
            Err(error) => tracing::debug!(worker = %name, "the WebSocket upgrade failed: {error}"),
        }
    });
    to_hyper(from, response, false)
}
