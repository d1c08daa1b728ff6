//! WebSockets as the host moves them. A WebSocket is two ends; a [`HostSocket`] is one end as
//! Rust holds it — the frames it sends and the frames sent to it — so that it can cross threads
//! (a Durable Object answers on its own thread) and isolates (a worker returns the socket of
//! the object it fetched). [`pump`] joins an end to a connection (a client upgraded by the
//! edge, or an origin reached by `fetch()`); the ops join an end to a `WebSocket` object of
//! `websocket.js`, delivering what arrives to it as events.
//!
//! Limits: a message over [`MAX_MESSAGE`] closes the connection with 1009, a frame that breaks
//! the protocol with 1002; the network is read only as fast as the isolate takes messages
//! (the channel toward it is bounded).

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rquickjs::{Ctx, Function, TypedArray, Value};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_websockets::{CloseCode, Message, WebSocketStream};
use verge_js::{rquickjs, IdTable, IsolateHandle, Ops};

use crate::WebHost;

/// The largest message either side may send (Workers: 1 MiB).
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// How long a peer has to answer a close frame before its connection is dropped.
const CLOSE_ANSWER: Duration = Duration::from_secs(10);

/// Frames queued toward one end before its sender waits (or, from JavaScript, fails).
const QUEUED_FRAMES: usize = 4096;

/// The most WebSockets one isolate may have open through the host.
const MAX_SOCKETS: usize = 32_768;

/// One WebSocket message, or its closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Bytes),
    Close { code: u16, reason: String },
}

/// One end of a WebSocket: what it sends goes out on `tx`, what is sent to it arrives on `rx`.
#[derive(Debug)]
pub struct HostSocket {
    pub tx: mpsc::Sender<Frame>,
    pub rx: mpsc::Receiver<Frame>,
}

impl HostSocket {
    /// The two ends of a new WebSocket.
    pub fn pair() -> (Self, Self) {
        let (a_tx, b_rx) = mpsc::channel(QUEUED_FRAMES);
        let (b_tx, a_rx) = mpsc::channel(QUEUED_FRAMES);
        (Self { tx: a_tx, rx: a_rx }, Self { tx: b_tx, rx: b_rx })
    }
}

/// The limits every connection this host speaks WebSocket on keeps.
pub fn limits() -> tokio_websockets::Limits {
    tokio_websockets::Limits::default().max_payload_len(Some(MAX_MESSAGE))
}

/// Joins `end` to the connection `stream` until either closes: what the connection's peer
/// sends reaches `end`, what `end` is sent goes to the peer. A peer that breaks the protocol
/// or sends too much is closed with the code that says so, and `end` hears of it.
pub async fn pump<S>(mut stream: WebSocketStream<S>, end: HostSocket)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let HostSocket { tx, mut rx } = end;
    let mut closing = false;
    // Once this side has closed, how long the peer has to answer with its close frame.
    let answer_by = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(answer_by);
    loop {
        tokio::select! {
            () = &mut answer_by, if closing => break,
            outgoing = rx.recv(), if !closing => {
                let message = match outgoing {
                    Some(Frame::Text(text)) => Message::text(text),
                    Some(Frame::Binary(bytes)) => Message::binary(bytes),
                    Some(Frame::Close { code, reason }) => close_message(code, &reason),
                    // The isolate's end is gone (its object was reset): the peer is told.
                    None => Message::close(Some(CloseCode::GOING_AWAY), ""),
                };
                if message.is_close() {
                    closing = true;
                    answer_by.as_mut().reset(tokio::time::Instant::now() + CLOSE_ANSWER);
                }
                if stream.send(message).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let frame = match incoming {
                    Some(Ok(message)) if message.is_text() => {
                        Frame::Text(message.as_text().unwrap_or_default().to_owned())
                    }
                    Some(Ok(message)) if message.is_binary() => {
                        Frame::Binary(Bytes::from(message.into_payload()))
                    }
                    Some(Ok(message)) => match message.as_close() {
                        Some((code, reason)) => Frame::Close {
                            code: u16::from(code),
                            reason: reason.to_owned(),
                        },
                        // Pings and pongs: tokio-websockets answers pings itself.
                        None => continue,
                    },
                    Some(Err(error)) => {
                        let (code, reason) = match error {
                            tokio_websockets::Error::PayloadTooLong { .. } => {
                                (1009, "message too big")
                            }
                            tokio_websockets::Error::Protocol(_) => (1002, "protocol error"),
                            _ => (1006, ""),
                        };
                        if code != 1006 {
                            let _ = stream.send(close_message(code, reason)).await;
                        }
                        let _ = tx.send(Frame::Close { code, reason: reason.to_owned() }).await;
                        break;
                    }
                    None => {
                        let _ = tx.send(Frame::Close { code: 1006, reason: String::new() }).await;
                        break;
                    }
                };
                let closed = matches!(frame, Frame::Close { .. });
                if tx.send(frame).await.is_err() || (closed && closing) {
                    break;
                }
                // The peer closed first: tokio-websockets has answered its close frame.
                if closed {
                    break;
                }
            }
        }
    }
    let _ = stream.close().await;
}

/// The `Sec-WebSocket-Accept` that answers a handshake's `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine;
    let mut input = key.to_vec();
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// A new `Sec-WebSocket-Key`: 16 random bytes in base64.
pub fn new_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    // Without randomness the key is still a valid one; it only guards against caches.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn close_message(code: u16, reason: &str) -> Message {
    let code = CloseCode::try_from(code)
        .ok()
        .filter(|code| !code.is_reserved());
    Message::close(code, reason)
}

/// An isolate's WebSocket ends that the host holds, by id: in its [`WebHost`].
#[derive(Default)]
pub struct Sockets {
    ends: IdTable<Slot>,
    open: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Sockets {
    /// Keeps `slot`: its id, unless the isolate has [`MAX_SOCKETS`] open already.
    fn insert(&self, slot: Slot) -> Result<u32, String> {
        if self.open.get() >= MAX_SOCKETS {
            return Err(format!(
                "an isolate may have at most {MAX_SOCKETS} WebSockets open"
            ));
        }
        self.open.set(self.open.get() + 1);
        Ok(self.ends.insert(slot))
    }

    pub(crate) fn remove(&self, id: u32) {
        if self.ends.remove(id).is_some() {
            self.open.set(self.open.get().saturating_sub(1));
        }
    }

    /// Keeps `socket`, a fetched response's: its id, for the `WebSocket` object that stands
    /// for it.
    pub(crate) fn park(&self, socket: HostSocket) -> Result<u32, String> {
        self.insert(Slot {
            tx: None,
            parked: Some(socket),
        })
    }
}

/// One end: where a `WebSocket` object's frames go once it is live, and the end a response
/// will hand to the host (the other end of an exported pair, or a fetched socket not taken up).
struct Slot {
    tx: Option<mpsc::Sender<Frame>>,
    parked: Option<HostSocket>,
}

/// How many WebSockets the isolate of `ctx` has open through the host, as it changes: what
/// keeps an isolate from being dropped while idle.
pub fn open_sockets(ctx: &Ctx<'_>) -> rquickjs::Result<std::rc::Rc<std::cell::Cell<usize>>> {
    verge_js::with_host_state(ctx, |host: &WebHost| host.sockets.open.clone())
        .ok_or_else(|| crate::type_error(ctx, "the isolate's sockets are unavailable"))
}

/// Keeps `socket`, a fetched response's, for the isolate of `ctx`: its id, for the
/// `WebSocket` object that stands for it.
pub fn park_socket(ctx: &Ctx<'_>, socket: HostSocket) -> rquickjs::Result<u32> {
    with_sockets(ctx, |sockets| sockets.park(socket))?
        .map_err(|why| rquickjs::Exception::throw_range(ctx, &why))
}

/// Keeps `slot` in the isolate's table: its id; a RangeError past the limit.
fn keep(ctx: &Ctx<'_>, slot: Slot) -> rquickjs::Result<u32> {
    with_sockets(ctx, |sockets| sockets.insert(slot))?
        .map_err(|why| rquickjs::Exception::throw_range(ctx, &why))
}

/// Runs `f` with the isolate's [`Sockets`].
fn with_sockets<R>(ctx: &Ctx<'_>, f: impl FnOnce(&Sockets) -> R) -> rquickjs::Result<R> {
    verge_js::with_host_state(ctx, |host: &WebHost| f(&host.sockets))
        .ok_or_else(|| crate::type_error(ctx, "the isolate's sockets are unavailable"))
}

/// Takes the end that socket `id` hands to the host (in a 101 response), if it has one; a
/// fetched socket handed on so is forgotten here.
pub fn take_socket(ctx: &Ctx<'_>, id: u32) -> Option<HostSocket> {
    verge_js::with_host_state(ctx, |host: &WebHost| {
        let sockets = &host.sockets;
        let (socket, live) = sockets
            .ends
            .with(id, |slot| (slot.parked.take(), slot.tx.is_some()))?;
        if !live {
            sockets.remove(id);
        }
        socket
    })
    .flatten()
}

/// `frame` as a script receives it: its kind (`text`, `binary`, `close`) and its data (a
/// string, an ArrayBuffer, `[code, reason]`).
pub fn frame_to_js<'js>(
    ctx: &Ctx<'js>,
    frame: Frame,
) -> rquickjs::Result<(&'static str, Value<'js>)> {
    Ok(match frame {
        Frame::Text(text) => (
            "text",
            rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
        ),
        Frame::Binary(bytes) => (
            "binary",
            TypedArray::<u8>::new_copy(ctx.clone(), &bytes[..])?
                .arraybuffer()?
                .into_value(),
        ),
        Frame::Close { code, reason } => {
            let close = rquickjs::Array::new(ctx.clone())?;
            close.set(0, code)?;
            close.set(1, reason)?;
            ("close", close.into_value())
        }
    })
}

/// Delivers what arrives on `rx` to the `WebSocket` of socket `id`, through
/// `internals.wsDeliver`, until it closes.
fn deliver(ctx: &Ctx<'_>, id: u32, mut rx: mpsc::Receiver<Frame>) -> rquickjs::Result<()> {
    let isolate = IsolateHandle::of(ctx)?;
    tokio::task::spawn_local(async move {
        loop {
            let frame = rx.recv().await.unwrap_or(Frame::Close {
                code: 1006,
                reason: String::new(),
            });
            let closed = matches!(frame, Frame::Close { .. });
            let delivered = isolate.enter(|ctx| {
                let deliver: Function = crate::internals(ctx)?.get("wsDeliver")?;
                let (kind, data) = frame_to_js(ctx, frame)?;
                deliver.call::<_, ()>((id, kind, data))
            });
            match delivered {
                None => break,
                Some(Err(error)) => {
                    tracing::error!(target: "verge::js", "a WebSocket event handler failed: {error}")
                }
                Some(Ok(())) => {}
            }
            if closed {
                break;
            }
        }
        isolate.enter(|ctx| {
            verge_js::with_host_state(ctx, |host: &WebHost| host.sockets.remove(id));
            Ok(())
        });
    });
    Ok(())
}

/// The frame a script sends: `kind` is `text`, `binary` (bytes) or `close` (`[code, reason]`).
pub fn frame_of<'js>(kind: &str, data: Value<'js>) -> rquickjs::Result<Frame> {
    Ok(match kind {
        "text" => Frame::Text(data.get()?),
        "close" => {
            let close: rquickjs::Array = data.get()?;
            Frame::Close {
                code: close.get(0)?,
                reason: close.get(1)?,
            }
        }
        _ => {
            let bytes: TypedArray<u8> = data.get()?;
            Frame::Binary(Bytes::from(verge_js::bytes_of(&bytes)))
        }
    })
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    // An end of a pair handed to the host: the other end of a new host WebSocket goes out with
    // the response, frames for this end's peer arrive here.
    ops.add("wsExport", |ctx: Ctx<'js>| {
        let (inside, outside) = HostSocket::pair();
        let slot = Slot {
            tx: Some(inside.tx),
            parked: Some(outside),
        };
        let id = keep(&ctx, slot)?;
        deliver(&ctx, id, inside.rx)?;
        Ok::<_, rquickjs::Error>(id)
    })?;
    // A fetched socket accepted here: its frames arrive here, and this isolate sends on it.
    ops.add("wsStart", |ctx: Ctx<'js>, id: u32| {
        let socket = verge_js::with_host_state(&ctx, |host: &WebHost| {
            host.sockets
                .ends
                .with(id, |slot| {
                    let socket = slot.parked.take()?;
                    slot.tx = Some(socket.tx);
                    Some(socket.rx)
                })
                .flatten()
        })
        .flatten()
        .ok_or_else(|| crate::type_error(&ctx, "This WebSocket was already handed on."))?;
        deliver(&ctx, id, socket)
    })?;
    ops.add(
        "wsSend",
        |ctx: Ctx<'js>, id: u32, kind: String, data: Value<'js>| {
            let frame = frame_of(&kind, data)?;
            let sent = verge_js::with_host_state(&ctx, |host: &WebHost| {
                host.sockets
                    .ends
                    .with(id, |slot| slot.tx.as_ref().map(|tx| tx.try_send(frame)))
                    .flatten()
            })
            .flatten();
            match sent {
                Some(Ok(())) | Some(Err(mpsc::error::TrySendError::Closed(_))) | None => Ok(()),
                Some(Err(mpsc::error::TrySendError::Full(_))) => Err(rquickjs::Exception::throw_range(
                    &ctx,
                    &format!("WebSocket send() failed: over {QUEUED_FRAMES} messages are waiting to be sent"),
                )),
            }
        },
    )
}
