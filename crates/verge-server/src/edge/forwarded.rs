//! Where Durable Object events go ([`RoutedObjects`], the host every isolate is granted): to
//! the object's thread here, or — for an object another PoP holds — there ([`forward`]), to be
//! run by that PoP's router ([`handler`]), which answers with the response or result. On the
//! wire, an event or answer is a length-prefixed JSON head followed by the body's bytes,
//! bodies being buffered (at most [`MAX_FORWARDED_BODY`]).
//!
//! A WebSocket upgrade travels as a request whose answer is the object's WebSocket: the
//! requesting PoP opens a tunnel first (`verge_cluster::objects::Tunnel`) and names it in the
//! event; the holder joins the object's end of the socket to it ([`bridge`]), and so does the
//! requester with the end it hands the worker. Each end pings the other every
//! [`TUNNEL_PING`]; an end silent for [`TUNNEL_SILENCE`] (its PoP died) closes the socket with
//! 1011.
//!
//! A function or `RpcTarget` passed by reference in an RPC call's arguments or result stays
//! with the isolate that has it; a call through its stub at another PoP travels back the same
//! way ([`ClusterExports`]), as an event for the endpoint rather than for an object.

use super::objects::{log_key, Answer, Asked, Failure, ObjectRouter, Sent};
use super::Site;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use std::time::Duration;
use verge_cluster::objects::{ForwardError, Handler, Placement, Tunnel, TunnelEnd};
use verge_cluster::EdgeObjects;
use verge_runtime::{
    call_export, deeper, Body, CallFuture, ExportFuture, ExportedCall, Frame, HeaderList,
    HostSocket, ObjectAddress, ObjectHost, OpError, OutboundFuture, RedirectMode, RemoteExports,
    Request, Response,
};

/// How often each end of a WebSocket's tunnel tells the other it is there.
const TUNNEL_PING: Duration = Duration::from_secs(3);

/// How long an end waits for a word from the other before closing the socket.
const TUNNEL_SILENCE: Duration = Duration::from_secs(12);

/// The largest request or response body an event forwarded between PoPs carries (a NATS
/// message carries 1 MiB by default).
const MAX_FORWARDED_BODY: usize = 768 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireEvent {
    /// An event for a Durable Object the receiving PoP holds.
    Object {
        script: String,
        class: String,
        id: String,
        name: Option<String>,
        identity: String,
        asked: WireAsked,
    },
    /// A call through an RPC stub whose endpoint is at the receiving PoP.
    Export(ExportedCall),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireAsked {
    Fetch {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        cf: Option<String>,
        redirect: WireRedirect,
        depth: u32,
        /// The tunnel an upgrade's WebSocket is to travel through.
        tunnel: Option<String>,
    },
    Call {
        method: String,
        args: String,
        depth: u32,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireRedirect {
    Follow,
    Manual,
    Error,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireAnswer {
    Response {
        status: u16,
        status_text: String,
        headers: Vec<(String, String)>,
        /// Whether the object's WebSocket was joined to the event's tunnel.
        websocket: bool,
    },
    Reply(String),
    Failed(String),
    /// The PoP asked does not hold the object (any more).
    NotHere,
}

fn headers_of(list: &HeaderList) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn header_list(pairs: Vec<(String, String)>) -> HeaderList {
    let mut list = HeaderList::default();
    for (name, value) in pairs {
        list.push(name, value);
    }
    list
}

/// `head` as JSON behind its length, then `body`.
fn frame(head: &impl Serialize, body: &[u8]) -> Bytes {
    let head = serde_json::to_vec(head).unwrap_or_default();
    let mut framed = Vec::with_capacity(4 + head.len() + body.len());
    framed.extend_from_slice(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(&head);
    framed.extend_from_slice(body);
    framed.into()
}

fn unframe<T: for<'de> Deserialize<'de>>(framed: &Bytes) -> Result<(T, Bytes), String> {
    let length = framed
        .get(..4)
        .map(|prefix| u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize)
        .ok_or_else(|| "a message from another PoP is cut short".to_owned())?;
    let head = framed
        .get(4..4 + length)
        .ok_or_else(|| "a message from another PoP is cut short".to_owned())?;
    let head = serde_json::from_slice(head)
        .map_err(|e| format!("a message from another PoP is malformed: {e}"))?;
    Ok((head, framed.slice(4 + length..)))
}

/// `body` in full, if it is at most [`MAX_FORWARDED_BODY`] long.
async fn buffered(body: Body, what: &str) -> Result<Bytes, String> {
    let too_long = || {
        format!(
            "{what} is longer than the {MAX_FORWARDED_BODY} bytes a Durable Object event \
             forwarded to another PoP may carry"
        )
    };
    match body {
        Body::Empty => Ok(Bytes::new()),
        Body::Full(bytes) if bytes.len() > MAX_FORWARDED_BODY => Err(too_long()),
        Body::Full(bytes) => Ok(bytes),
        Body::Stream(mut stream) => {
            let mut collected = Vec::new();
            while let Some(frame) = stream.frame().await {
                let frame = frame.map_err(|e| format!("{what} could not be read: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    if collected.len() + data.len() > MAX_FORWARDED_BODY {
                        return Err(too_long());
                    }
                    collected.extend_from_slice(&data);
                }
            }
            Ok(collected.into())
        }
    }
}

/// The [`ObjectHost`] every isolate of this server is granted, with the site (whose workers'
/// migrations tell their classes' identities).
pub(super) struct RoutedObjects {
    pub(super) router: Arc<ObjectRouter>,
    pub(super) site: super::SiteHandle,
}

/// The identity of class `class` of worker `script` of `site`.
fn class_identity(site: &Site, script: &str, class: &str) -> String {
    match site.position(script) {
        Some(index) => verge_config::class_identity(&site.workers[index].config.migrations, class),
        None => class.to_owned(),
    }
}

impl ObjectHost for RoutedObjects {
    fn fetch(&self, object: ObjectAddress, mut request: Request) -> OutboundFuture {
        match deeper(request.depth) {
            Ok(depth) => request.depth = depth,
            Err(refused) => return Box::pin(async move { Err(OpError::Error(refused)) }),
        }
        let router = self.router.clone();
        Box::pin(async move {
            match ask(&router, object, Asked::Fetch(request.into())).await {
                Ok(Answer::Response(response)) => Ok(response),
                Ok(Answer::Reply(_)) => Err(OpError::Error(
                    "the Durable Object's fetch() answered no Response".into(),
                )),
                Err(failure) => Err(OpError::Error(failure)),
            }
        })
    }

    fn call(&self, object: ObjectAddress, method: String, args: String, depth: u32) -> CallFuture {
        let router = self.router.clone();
        let asked = Asked::Call {
            method,
            args,
            depth,
        };
        Box::pin(async move {
            match ask(&router, object, asked).await {
                Ok(Answer::Reply(reply)) => Ok(reply),
                Ok(Answer::Response(_)) => Err(OpError::Error(
                    "the Durable Object's method answered nothing".into(),
                )),
                Err(failure) => Err(OpError::Error(failure)),
            }
        })
    }

    fn class_identity(&self, script: &str, class: &str) -> String {
        class_identity(&self.site.current(), script, class)
    }
}

/// Runs `asked` on the object at `address`, wherever it is held: here, or forwarded to the
/// PoP that holds it.
async fn ask(
    router: &ObjectRouter,
    address: ObjectAddress,
    mut asked: Asked,
) -> Result<Answer, Failure> {
    let Some(network) = &router.network else {
        return router.ask_here(address, asked, None).await;
    };
    let key = log_key(&address);
    let hint = address.hint.as_deref();
    let placement = network.place(&key, hint).await;
    let mut placement = placement.map_err(|e| e.to_string())?;
    // The holder may move while the event travels: a few turns, then it fails.
    for _ in 0..4 {
        let (pop, lease) = match placement {
            Placement::Here { lease } => return router.ask_here(address, asked, Some(lease)).await,
            Placement::There { pop, lease } => (pop, lease),
        };
        placement = match forward(network, &pop, &address, &mut asked).await {
            Ok(Some(answer)) => return Ok(answer),
            // It no longer holds the object, which the hub will tell.
            Ok(None) => network.place(&key, None).await,
            Err(ForwardError::Unreachable(cause)) => {
                tracing::warn!(object = %address.id, "{cause}: waiting for its lease to lapse");
                network.place_after_loss(&key, lease).await
            }
            Err(ForwardError::Failed(cause)) => return Err(cause),
        }
        .map_err(|e| e.to_string())?;
    }
    Err(format!(
        "the Durable Object {} kept moving between PoPs; try again",
        address.id
    ))
}

/// Sends `asked` for the object at `address` to PoP `pop`: its answer, or `None` when that
/// PoP does not hold the object. A request's body is buffered into `asked` first, so that it
/// can be sent again elsewhere.
async fn forward(
    network: &EdgeObjects,
    pop: &str,
    address: &ObjectAddress,
    asked: &mut Asked,
) -> Result<Option<Answer>, ForwardError> {
    let mut tunnel = None;
    let (wire, body) = match asked {
        Asked::Fetch(sent) => {
            // An upgrade's tunnel listens before the holder can send anything through it.
            let upgrade = sent.headers.get("upgrade");
            if upgrade.is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
                let failed = |e: verge_storage::StorageError| ForwardError::Failed(e.to_string());
                let id = network.new_tunnel_id().map_err(failed)?;
                tunnel = Some((
                    network
                        .tunnel(&id, TunnelEnd::Client)
                        .await
                        .map_err(failed)?,
                    id,
                ));
            }
            let body = std::mem::replace(&mut sent.body, Body::Empty);
            let body = buffered(body, "the request's body")
                .await
                .map_err(ForwardError::Failed)?;
            sent.body = Body::Full(body.clone());
            let wire = WireAsked::Fetch {
                method: sent.method.clone(),
                url: sent.url.clone(),
                headers: headers_of(&sent.headers),
                cf: sent.cf.clone(),
                redirect: match sent.redirect {
                    RedirectMode::Follow => WireRedirect::Follow,
                    RedirectMode::Manual => WireRedirect::Manual,
                    RedirectMode::Error => WireRedirect::Error,
                },
                depth: sent.depth,
                tunnel: tunnel.as_ref().map(|(_, id)| id.clone()),
            };
            (wire, body)
        }
        Asked::Call {
            method,
            args,
            depth,
        } => {
            let wire = WireAsked::Call {
                method: method.clone(),
                args: args.clone(),
                depth: *depth,
            };
            (wire, Bytes::new())
        }
    };
    let event = WireEvent::Object {
        script: address.script.clone(),
        class: address.class.clone(),
        id: address.id.clone(),
        name: address.name.clone(),
        identity: address.identity.clone(),
        asked: wire,
    };
    let answer = network.forward(pop, frame(&event, &body)).await?;
    let (head, body) = unframe::<WireAnswer>(&answer).map_err(ForwardError::Failed)?;
    match head {
        WireAnswer::Response {
            status,
            status_text,
            headers,
            websocket,
        } => {
            let body = if body.is_empty() {
                Body::Empty
            } else {
                Body::Full(body)
            };
            let mut response = Response::new(status, header_list(headers), body);
            response.status_text = status_text;
            if let (true, Some((tunnel, _))) = (websocket, tunnel) {
                let (worker_end, tunnel_end) = HostSocket::pair();
                tokio::spawn(bridge(tunnel_end, tunnel));
                response.websocket = Some(worker_end);
            }
            Ok(Some(Answer::Response(response)))
        }
        WireAnswer::Reply(reply) => Ok(Some(Answer::Reply(reply))),
        WireAnswer::Failed(failure) => Err(ForwardError::Failed(failure)),
        WireAnswer::NotHere => Ok(None),
    }
}

/// What answers the events other PoPs forward to this one: each runs on the object here, if
/// this PoP holds it.
pub(super) fn handler(router: Weak<ObjectRouter>) -> Handler {
    Arc::new(move |event| {
        let router = router.clone();
        Box::pin(async move {
            let (head, body) = match run(router, event).await {
                Ok((Some(Answer::Response(response)), tunnel)) => respond(response, tunnel).await,
                Ok((Some(Answer::Reply(reply)), _)) => (WireAnswer::Reply(reply), Bytes::new()),
                Ok((None, _)) => (WireAnswer::NotHere, Bytes::new()),
                Err(failure) => (WireAnswer::Failed(failure), Bytes::new()),
            };
            let answer = frame(&head, &body);
            // NATS would drop a message over its limit, and the caller wait for nothing.
            if answer.len() > MAX_FORWARDED_BODY + 64 * 1024 {
                let refused = WireAnswer::Failed(format!(
                    "the Durable Object's answer is larger than the {MAX_FORWARDED_BODY} bytes \
                     an answer forwarded between PoPs may carry"
                ));
                return frame(&refused, &[]);
            }
            answer
        })
    })
}

/// Runs a forwarded event here, if this PoP holds its object: the answer (`None`: not held
/// here), and where a WebSocket in it is to go — the tunnel the event names, at this end.
async fn run(
    router: Weak<ObjectRouter>,
    event: Bytes,
) -> Result<(Option<Answer>, Option<(EdgeObjects, String)>), Failure> {
    let router = router
        .upgrade()
        .ok_or_else(|| "the server is stopping".to_owned())?;
    let network = router
        .network
        .as_ref()
        .ok_or_else(|| "this server is not a PoP of a cluster".to_owned())?;
    let (event, body) = unframe::<WireEvent>(&event)?;
    let (script, class, id, name, identity, asked) = match event {
        WireEvent::Object {
            script,
            class,
            id,
            name,
            identity,
            asked,
        } => (script, class, id, name, identity, asked),
        WireEvent::Export(call) => {
            return Ok((Some(Answer::Reply(call_export(call).await?)), None));
        }
    };
    let address = ObjectAddress {
        script,
        class,
        id,
        name,
        hint: None,
        identity,
    };
    let mut tunnel = None;
    let asked = match asked {
        WireAsked::Fetch {
            method,
            url,
            headers,
            cf,
            redirect,
            depth,
            tunnel: id,
        } => {
            tunnel = id.map(|id| (network.clone(), id));
            Asked::Fetch(Sent {
                method,
                url,
                headers: header_list(headers),
                body: if body.is_empty() {
                    Body::Empty
                } else {
                    Body::Full(body)
                },
                cf,
                redirect: match redirect {
                    WireRedirect::Follow => RedirectMode::Follow,
                    WireRedirect::Manual => RedirectMode::Manual,
                    WireRedirect::Error => RedirectMode::Error,
                },
                depth,
            })
        }
        WireAsked::Call {
            method,
            args,
            depth,
        } => Asked::Call {
            method,
            args,
            depth,
        },
    };
    let key = log_key(&address);
    match network.place(&key, None).await.map_err(|e| e.to_string())? {
        Placement::Here { lease } => {
            let answer = router.ask_here(address, asked, Some(lease)).await?;
            Ok((Some(answer), tunnel))
        }
        Placement::There { .. } => Ok((None, None)),
    }
}

/// The wire form of an object's response to a forwarded request, its WebSocket joined to
/// `tunnel`.
async fn respond(
    mut response: Response,
    tunnel: Option<(EdgeObjects, String)>,
) -> (WireAnswer, Bytes) {
    let websocket = match (response.websocket.take(), tunnel) {
        (None, _) => false,
        (Some(socket), Some((network, id))) => match network.tunnel(&id, TunnelEnd::Holder).await {
            Ok(tunnel) => {
                tokio::spawn(bridge(socket, tunnel));
                true
            }
            Err(e) => return (WireAnswer::Failed(e.to_string()), Bytes::new()),
        },
        (Some(_), None) => {
            let refused = "the Durable Object answered a request that asked for no WebSocket \
                           with one";
            return (WireAnswer::Failed(refused.into()), Bytes::new());
        }
    };
    match buffered(response.body, "the Durable Object's response body").await {
        Ok(body) => {
            let head = WireAnswer::Response {
                status: response.status,
                status_text: response.status_text,
                headers: headers_of(&response.headers),
                websocket,
            };
            (head, body)
        }
        Err(failure) => (WireAnswer::Failed(failure), Bytes::new()),
    }
}

/// A frame as a tunnel carries it: a kind byte (0 a ping, 1 text, 2 binary, 3 close with its
/// code), then the payload.
fn encode_frame(frame: Option<&Frame>) -> Bytes {
    let mut encoded = Vec::new();
    match frame {
        None => encoded.push(0),
        Some(Frame::Text(text)) => {
            encoded.push(1);
            encoded.extend_from_slice(text.as_bytes());
        }
        Some(Frame::Binary(bytes)) => {
            encoded.push(2);
            encoded.extend_from_slice(bytes);
        }
        Some(Frame::Close { code, reason }) => {
            encoded.push(3);
            encoded.extend_from_slice(&code.to_be_bytes());
            encoded.extend_from_slice(reason.as_bytes());
        }
    }
    encoded.into()
}

/// The frame a tunnel message carries (`Ok(None)`: a ping).
fn decode_frame(message: &Bytes) -> Result<Option<Frame>, ()> {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(drop);
    match message.first() {
        Some(0) => Ok(None),
        Some(1) => Ok(Some(Frame::Text(text(&message[1..])?))),
        Some(2) => Ok(Some(Frame::Binary(message.slice(1..)))),
        Some(3) if message.len() >= 3 => Ok(Some(Frame::Close {
            code: u16::from_be_bytes([message[1], message[2]]),
            reason: text(&message[3..])?,
        })),
        _ => Err(()),
    }
}

/// Joins `end` of a WebSocket to `tunnel` until both sides have closed, or the other end of the
/// tunnel falls silent, which closes `end` with 1011.
async fn bridge(end: HostSocket, tunnel: Tunnel) {
    let HostSocket { tx, mut rx } = end;
    let Tunnel {
        outgoing,
        mut incoming,
    } = tunnel;
    let mut ping = tokio::time::interval(TUNNEL_PING);
    let silence = tokio::time::sleep(TUNNEL_SILENCE);
    tokio::pin!(silence);
    let (mut sent_close, mut got_close) = (false, false);
    let gone = || Frame::Close {
        code: 1011,
        reason: "the PoP at the other end went away".to_owned(),
    };
    while !(sent_close && got_close) {
        tokio::select! {
            frame = rx.recv(), if !sent_close => {
                let frame = frame.unwrap_or(Frame::Close { code: 1006, reason: String::new() });
                sent_close = matches!(frame, Frame::Close { .. });
                if outgoing.send(encode_frame(Some(&frame))).await.is_err() {
                    break;
                }
            }
            message = incoming.recv() => {
                silence.as_mut().reset(tokio::time::Instant::now() + TUNNEL_SILENCE);
                match message.as_ref().map(decode_frame) {
                    Some(Ok(None)) => {}
                    Some(Ok(Some(frame))) => {
                        got_close = matches!(frame, Frame::Close { .. });
                        if tx.send(frame).await.is_err() && !sent_close {
                            break;
                        }
                    }
                    _ => {
                        let _ = tx.send(gone()).await;
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                let _ = outgoing.try_send(encode_frame(None));
            }
            () = &mut silence => {
                let _ = tx.send(gone()).await;
                break;
            }
        }
    }
}

/// Calls through RPC stubs whose endpoints are at other PoPs, sent there as events.
pub(super) struct ClusterExports(pub(super) EdgeObjects);

impl RemoteExports for ClusterExports {
    fn call(&self, server: &str, call: ExportedCall) -> ExportFuture {
        let (network, server) = (self.0.clone(), server.to_owned());
        Box::pin(async move {
            let answer = network
                .forward(&server, frame(&WireEvent::Export(call), &[]))
                .await
                .map_err(|error| match error {
                    ForwardError::Unreachable(cause) | ForwardError::Failed(cause) => cause,
                })?;
            match unframe::<WireAnswer>(&answer)?.0 {
                WireAnswer::Reply(reply) => Ok(reply),
                WireAnswer::Failed(failure) => Err(failure),
                _ => Err(format!("PoP {server} answered an RPC call with no result")),
            }
        })
    }
}
