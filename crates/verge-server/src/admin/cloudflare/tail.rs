//! `wrangler tail`: a tail made with `POST scripts/{name}/tails {"filters"}` and followed over a
//! WebSocket (subprotocol `trace-v1`) at the URL it answers, authorized by the tail's id as
//! Cloudflare's tail URLs are, until the client goes or `DELETE …/tails/{id}`.
//!
//! Each of the worker's console lines and exceptions (every PoP's, at a PoP: the admin API's
//! own tail, `tail_events`) is sent as one trace event: `logs` or `exceptions`, `outcome`,
//! `scriptName`, `eventTimestamp`. Verge does not yet group a request's lines into one event
//! with the request, so `event` is null and the filters that need the request (`--method`,
//! `--header`, `--ip`) are refused by name; `--status`, `--search` and `--sampling-rate` apply.
//!
//! The WebSocket is read leniently: wrangler sends its first frame unmasked, which RFC 6455
//! forbids a client and a strict server refuses. Frames are read with or without a mask;
//! pings are answered, a close ends the tail.

use super::{failure, read_json, Admin, AdminBody, Refusal};
use bytes::{Buf as _, BytesMut};
use futures_util::StreamExt as _;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Where a tail is followed, under [`super::PREFIX`]: `GET {TAILS}{id}`.
pub(super) const TAILS: &str = "/verge/tails/";

/// How long a tail may be followed, as Cloudflare's expire.
const TAIL_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// The largest frame a client may send: wrangler sends small JSON and pings.
const MAX_FRAME: u64 = 64 * 1024;

/// The tails made and not deleted, by id.
#[derive(Default)]
pub(crate) struct Tails {
    tails: RefCell<HashMap<String, Tail>>,
}

#[derive(Clone)]
struct Tail {
    worker: String,
    filters: Filters,
    opened: Instant,
}

/// What a tail lets through.
#[derive(Clone, Default)]
struct Filters {
    /// Outcomes let through (`ok`, `exception`…); none: all.
    outcomes: Option<Vec<String>>,
    /// Text a line must contain.
    query: Option<String>,
    /// The share of events sent, in (0, 1].
    sampling_rate: Option<f64>,
}

#[derive(serde::Deserialize)]
struct TailRequest {
    #[serde(default)]
    filters: Vec<serde_json::Map<String, Value>>,
}

fn invalid(message: String) -> Refusal {
    failure(StatusCode::BAD_REQUEST, 10026, message)
}

impl Tails {
    /// `POST scripts/{worker}/tails`: a tail of `worker` with the request's filters; its id,
    /// the URL to follow it at (on this listener, as the client reached it) and its expiry.
    pub(super) async fn open(
        &self,
        worker: &str,
        request: Request<Incoming>,
    ) -> Result<Value, Refusal> {
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| invalid("the request names no Host".into()))?;
        let TailRequest { filters: requested } = read_json(request, 64 * 1024, "the tail").await?;
        let mut filters = Filters::default();
        for filter in requested {
            for (name, value) in filter {
                match name.as_str() {
                    "outcome" => {
                        let outcomes = serde_json::from_value(value).map_err(|e| {
                            invalid(format!("the outcome filter is not a list: {e}"))
                        })?;
                        filters.outcomes = Some(outcomes);
                    }
                    "query" => filters.query = value.as_str().map(str::to_owned),
                    "sampling_rate" => {
                        let rate = value.as_f64().filter(|rate| *rate > 0.0 && *rate <= 1.0);
                        filters.sampling_rate =
                            Some(rate.ok_or_else(|| {
                                invalid(format!("{value} is not a sampling rate"))
                            })?);
                    }
                    // One version serves at a time.
                    "scriptVersion" => {}
                    "method" | "header" | "client_ip" => {
                        return Err(invalid(format!(
                            "Verge's tail does not yet know each line's request: the {name} \
                             filter is not implemented"
                        )))
                    }
                    other => return Err(invalid(format!("unknown tail filter {other:?}"))),
                }
            }
        }
        let id = super::registry::fresh_id()?;
        let mut tails = self.tails.borrow_mut();
        tails.retain(|_, tail| tail.opened.elapsed() < TAIL_LIFETIME);
        tails.insert(
            id.clone(),
            Tail {
                worker: worker.to_owned(),
                filters,
                opened: Instant::now(),
            },
        );
        let expires = chrono::Utc::now() + TAIL_LIFETIME;
        Ok(json!({
            "id": id,
            "url": format!("ws://{host}{}{TAILS}{id}", super::PREFIX),
            "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }))
    }

    /// `DELETE scripts/{worker}/tails/{id}`.
    pub(super) fn delete(&self, id: &str) {
        self.tails.borrow_mut().remove(id);
    }

    fn get(&self, id: &str) -> Option<Tail> {
        self.tails
            .borrow()
            .get(id)
            .filter(|tail| tail.opened.elapsed() < TAIL_LIFETIME)
            .cloned()
    }
}

/// `GET {TAILS}{id}`, a WebSocket handshake: switches to the tail's events.
pub(super) async fn follow(
    admin: &Admin,
    id: &str,
    mut request: Request<Incoming>,
) -> Response<AdminBody> {
    let Some(tail) = admin.tails.get(id) else {
        return failure(
            StatusCode::NOT_FOUND,
            10007,
            "no such tail: it expired or was deleted",
        )
        .into();
    };
    let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
        return failure(
            StatusCode::BAD_REQUEST,
            10026,
            "a tail is followed over a WebSocket",
        )
        .into();
    };
    let (_, events) = match super::super::tail_events(admin, &tail.worker).await {
        Ok(events) => events,
        Err(e) => return failure(StatusCode::SERVICE_UNAVAILABLE, 10001, e).into(),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let worker = tail.worker.clone();
    tokio::task::spawn_local(async move {
        if let Ok(connection) = upgrade.await {
            stream(TokioIo::new(connection), &worker, &tail.filters, events).await;
        }
    });
    let mut response = Response::new(Empty::new().boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("trace-v1"),
    );
    let accept = verge_runtime::websocket_accept_key(key.as_bytes());
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", accept);
    }
    response
}

/// A console line (`{"level", "message"}`) of `worker` as a trace event, if `filters` let it
/// through.
fn trace_event(worker: &str, line: &Value, filters: &Filters) -> Option<Value> {
    let level = line["level"].as_str().unwrap_or("log");
    let message = line["message"].as_str().unwrap_or_default();
    let outcome = match level {
        "exception" => "exception",
        _ => "ok",
    };
    if filters
        .outcomes
        .as_ref()
        .is_some_and(|outcomes| !outcomes.iter().any(|o| o == outcome))
    {
        return None;
    }
    if filters
        .query
        .as_ref()
        .is_some_and(|query| !message.contains(query.as_str()))
    {
        return None;
    }
    if let Some(rate) = filters.sampling_rate {
        let mut byte = [0u8; 1];
        use ring::rand::SecureRandom as _;
        let _ = ring::rand::SystemRandom::new().fill(&mut byte);
        if f64::from(byte[0]) / 256.0 >= rate {
            return None;
        }
    }
    let now = chrono::Utc::now().timestamp_millis();
    let (logs, exceptions) = match outcome {
        "exception" => (
            json!([]),
            json!([{ "name": "Error", "message": message, "timestamp": now }]),
        ),
        _ => (
            json!([{ "message": [message], "level": level, "timestamp": now }]),
            json!([]),
        ),
    };
    Some(json!({
        "outcome": outcome,
        "scriptName": worker,
        "eventTimestamp": now,
        "logs": logs,
        "exceptions": exceptions,
        "event": null,
    }))
}

/// Sends `events` to the client on `connection` as trace events, answering its pings, until
/// it closes or goes.
async fn stream<S>(
    connection: S,
    worker: &str,
    filters: &Filters,
    mut events: futures_util::stream::BoxStream<'static, Value>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(connection);
    let mut buffer = BytesMut::new();
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(line) = event else { break };
                let Some(trace) = trace_event(worker, &line, filters) else { continue };
                if writer.write_all(&frame(0x1, trace.to_string().as_bytes())).await.is_err() {
                    break;
                }
            }
            read = reader.read_buf(&mut buffer) => {
                if !matches!(read, Ok(n) if n > 0) {
                    break;
                }
                let mut closed = false;
                loop {
                    match next_frame(&mut buffer) {
                        Ok(Some((0x9, payload))) => {
                            if writer.write_all(&frame(0xA, &payload)).await.is_err() {
                                closed = true;
                            }
                        }
                        Ok(Some((0x8, _))) | Err(()) => {
                            let _ = writer.write_all(&frame(0x8, &1000u16.to_be_bytes())).await;
                            closed = true;
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                    }
                    if closed {
                        break;
                    }
                }
                if closed {
                    break;
                }
            }
        }
    }
    let _ = writer.shutdown().await;
}

/// A server's frame (unmasked, final) of `opcode` carrying `payload`.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        length @ 0..=125 => frame.push(length as u8),
        length @ 126..=0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(length as u16).to_be_bytes());
        }
        length => {
            frame.push(127);
            frame.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// The next whole frame in `buffer` (its opcode and unmasked payload), taken out of it; `None`
/// while it is incomplete; an error for one larger than [`MAX_FRAME`].
fn next_frame(buffer: &mut BytesMut) -> Result<Option<(u8, Vec<u8>)>, ()> {
    let [first, second, ..] = buffer[..] else {
        return Ok(None);
    };
    let opcode = first & 0x0f;
    let masked = second & 0x80 != 0;
    let (length, mut at) = match second & 0x7f {
        126 => match buffer.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buffer
            .get(2..10)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        {
            Some(bytes) => (u64::from_be_bytes(bytes), 10),
            None => return Ok(None),
        },
        length => (u64::from(length), 2),
    };
    if length > MAX_FRAME {
        return Err(());
    }
    let mask = match masked {
        true => match buffer
            .get(at..at + 4)
            .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        {
            Some(mask) => {
                at += 4;
                Some(mask)
            }
            None => return Ok(None),
        },
        false => None,
    };
    let end = at + length as usize;
    let Some(payload) = buffer.get(at..end) else {
        return Ok(None);
    };
    let mut payload = payload.to_vec();
    if let Some(mask) = mask {
        for (index, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[index % 4];
        }
    }
    buffer.advance(end);
    Ok(Some((opcode, payload)))
}

#[cfg(test)]
mod tests {
    use super::{frame, next_frame};
    use bytes::BytesMut;

    #[test]
    fn frames_are_read_masked_or_not_and_whole() {
        let mut buffer = BytesMut::from(&frame(0x1, b"{\"debug\":false}")[..]);
        assert_eq!(
            next_frame(&mut buffer),
            Ok(Some((0x1, b"{\"debug\":false}".to_vec())))
        );
        assert!(buffer.is_empty());
        // A client's ping, masked, arriving in two pieces.
        let mask = [1, 2, 3, 4];
        let mut masked = vec![0x89, 0x80 | 4];
        masked.extend_from_slice(&mask);
        masked.extend(b"ping".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let mut buffer = BytesMut::from(&masked[..5]);
        assert_eq!(next_frame(&mut buffer), Ok(None));
        buffer.extend_from_slice(&masked[5..]);
        assert_eq!(next_frame(&mut buffer), Ok(Some((0x9, b"ping".to_vec()))));
        // A frame larger than allowed is refused before it is read.
        let mut buffer = BytesMut::from(&[0x82u8, 127, 0, 0, 0, 1, 0, 0, 0, 0][..]);
        assert_eq!(next_frame(&mut buffer), Err(()));
    }
}
