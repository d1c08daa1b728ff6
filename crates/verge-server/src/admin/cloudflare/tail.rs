//! `wrangler tail`: a tail made with `POST scripts/{name}/tails {"filters"}` and followed over a
//! WebSocket (subprotocol `trace-v1`) at the URL it answers, authorized by the tail's id as
//! Cloudflare's tail URLs are.
//!
//! Each of the worker's requests, cron events and queue batches (every PoP's, at a PoP: the
//! admin API's own tail, `tail_events`) is sent once it has ended as one trace event: `event`
//! (the request's method, URL, headers and response status, the cron and its time, or the
//! queue and the batch's size), `outcome`, and the
//! `logs` and `exceptions` it made; a line outside any event (a module's top level) is sent
//! alone, with `event` null. The filters apply as on Cloudflare: `--status`, `--method`,
//! `--header` (a name, or `name: value`), `--ip` (addresses, or `self`: the address the tail
//! was made from), `--search` (text in a line or exception) and `--sampling-rate`. A filter of
//! the request passes no event that is not one; a notice that events were lost always
//! passes.
//!
//! The WebSocket is read leniently: wrangler sends its first frame unmasked, which RFC 6455
//! forbids a client and a strict server refuses. Frames are read with or without a mask;
//! pings are answered, a close ends the follow. A tail has one follower at a time (a new one
//! ends the old), and a follow ends at the tail's expiry, at its `DELETE`, when a write waits
//! longer than [`WRITE_TIMEOUT`], or when the client sends nothing (not even the pong to the
//! server's ping every [`PING_EVERY`]) for [`SILENCE`].

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
use tokio_util::sync::CancellationToken;

/// Where a tail is followed, under [`super::PREFIX`]: `GET {TAILS}{id}`.
pub(super) const TAILS: &str = "/verge/tails/";

/// How long a tail may be followed, as Cloudflare's expire.
const TAIL_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// Tails one worker may have at once.
const TAILS_PER_WORKER: usize = 16;

/// The largest frame a client may send: wrangler sends small JSON and pings.
const MAX_FRAME: u64 = 64 * 1024;

/// How long one frame may take to be written to the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the server pings the client, and how long it waits to hear anything from it.
const PING_EVERY: Duration = Duration::from_secs(30);
const SILENCE: Duration = Duration::from_secs(90);

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
    /// Ends the follow under way, if any.
    follower: CancellationToken,
}

/// What a tail lets through.
#[derive(Clone, Default)]
struct Filters {
    /// Outcomes let through (`ok`, `exception`…); none: all.
    outcomes: Option<Vec<String>>,
    /// Request methods let through, upper-case.
    methods: Option<Vec<String>>,
    /// A request header that must be present (lower-case), and the value it must have.
    header: Option<(String, Option<String>)>,
    /// Client addresses let through.
    client_ips: Option<Vec<String>>,
    /// Text a line or exception must contain.
    query: Option<String>,
    /// The share of events sent, in (0, 1].
    sampling_rate: Option<f64>,
}

/// A `header` filter as wrangler sends it.
#[derive(serde::Deserialize)]
struct HeaderFilter {
    key: String,
    query: Option<String>,
}

#[derive(serde::Deserialize)]
struct TailRequest {
    #[serde(default)]
    filters: Vec<serde_json::Map<String, Value>>,
}

fn invalid(message: String) -> Refusal {
    failure(StatusCode::BAD_REQUEST, 10026, message)
}

impl Filters {
    /// The filters of a `POST …/tails` made from `peer` (for `--ip self`), each refused by
    /// name if malformed.
    fn of(
        requested: Vec<serde_json::Map<String, Value>>,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Self, Refusal> {
        let mut filters = Filters::default();
        for (name, value) in requested.into_iter().flatten() {
            match name.as_str() {
                "outcome" => {
                    let outcomes = serde_json::from_value(value)
                        .map_err(|e| invalid(format!("the outcome filter is not a list: {e}")))?;
                    filters.outcomes = Some(outcomes);
                }
                "query" => {
                    let query = value.as_str().map(str::to_owned);
                    filters.query =
                        Some(query.ok_or_else(|| invalid(format!("{value} is not a search")))?);
                }
                "sampling_rate" => {
                    let rate = value.as_f64().filter(|rate| *rate > 0.0 && *rate <= 1.0);
                    filters.sampling_rate = Some(
                        rate.ok_or_else(|| invalid(format!("{value} is not a sampling rate")))?,
                    );
                }
                "method" => {
                    let methods: Vec<String> = serde_json::from_value(value)
                        .map_err(|e| invalid(format!("the method filter is not a list: {e}")))?;
                    filters.methods = Some(methods.iter().map(|m| m.to_uppercase()).collect());
                }
                "header" => {
                    let HeaderFilter { key, query } = serde_json::from_value(value)
                        .map_err(|e| invalid(format!("the header filter is malformed: {e}")))?;
                    filters.header = Some((key.trim().to_lowercase(), query));
                }
                "client_ip" => {
                    let ips: Vec<String> = serde_json::from_value(value)
                        .map_err(|e| invalid(format!("the client_ip filter is not a list: {e}")))?;
                    let ips = ips.into_iter().map(|ip| match (ip.as_str(), peer) {
                        ("self", Some(peer)) => Ok(peer.to_canonical().to_string()),
                        ("self", None) => Err(invalid("the tail's own address is unknown".into())),
                        _ => Ok(ip),
                    });
                    filters.client_ips = Some(ips.collect::<Result<_, _>>()?);
                }
                // One version serves at a time.
                "scriptVersion" => {}
                other => return Err(invalid(format!("unknown tail filter {other:?}"))),
            }
        }
        Ok(filters)
    }

    /// Whether an event passes: one of `outcome`, made by `request` (its method and headers)
    /// if it was one, whose lines and exceptions are `texts`.
    fn pass<'t>(
        &self,
        outcome: &str,
        request: Option<&Value>,
        mut texts: impl Iterator<Item = &'t str>,
    ) -> bool {
        if self
            .outcomes
            .as_ref()
            .is_some_and(|outcomes| !outcomes.iter().any(|o| o == outcome))
        {
            return false;
        }
        let asks_for_request =
            self.methods.is_some() || self.header.is_some() || self.client_ips.is_some();
        if let Some(request) = request {
            let method = request["method"].as_str().unwrap_or_default();
            if self
                .methods
                .as_ref()
                .is_some_and(|methods| !methods.iter().any(|m| m == method))
            {
                return false;
            }
            let headers = &request["headers"];
            if let Some((name, wanted)) = &self.header {
                match (headers[name.as_str()].as_str(), wanted) {
                    (None, _) => return false,
                    (Some(value), Some(wanted)) if value != wanted => return false,
                    _ => {}
                }
            }
            let client = headers["cf-connecting-ip"].as_str().unwrap_or_default();
            if self
                .client_ips
                .as_ref()
                .is_some_and(|ips| !ips.iter().any(|ip| ip == client))
            {
                return false;
            }
        } else if asks_for_request {
            return false;
        }
        if self
            .query
            .as_ref()
            .is_some_and(|query| !texts.any(|text| text.contains(query.as_str())))
        {
            return false;
        }
        match self.sampling_rate {
            None => true,
            Some(rate) => {
                use ring::rand::SecureRandom as _;
                let mut bytes = [0u8; 4];
                let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
                f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) < rate
            }
        }
    }
}

impl Tails {
    /// `POST scripts/{worker}/tails`: a tail of `worker` with the request's filters; its id,
    /// the URL to follow it at (on this listener, as the client reached it) and its expiry.
    pub(super) async fn open(
        &self,
        worker: &str,
        request: Request<Incoming>,
    ) -> Result<Value, Refusal> {
        let follows = super::handed_out(&request, "ws", TAILS, 10026)?;
        let peer = request
            .extensions()
            .get::<crate::admin::Peer>()
            .map(|peer| peer.0.ip());
        let TailRequest { filters } = read_json(request, 64 * 1024, "the tail").await?;
        let filters = Filters::of(filters, peer)?;
        let id = super::registry::fresh_id()?;
        let mut tails = self.tails.borrow_mut();
        tails.retain(|_, tail| tail.opened.elapsed() < TAIL_LIFETIME);
        if tails.values().filter(|tail| tail.worker == worker).count() >= TAILS_PER_WORKER {
            return Err(failure(
                StatusCode::TOO_MANY_REQUESTS,
                10057,
                format!("{worker} has {TAILS_PER_WORKER} tails already: delete one first"),
            ));
        }
        tails.insert(
            id.clone(),
            Tail {
                worker: worker.to_owned(),
                filters,
                opened: Instant::now(),
                follower: CancellationToken::new(),
            },
        );
        let expires = chrono::Utc::now() + TAIL_LIFETIME;
        Ok(json!({
            "id": id,
            "url": format!("{follows}{id}"),
            "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }))
    }

    /// `DELETE scripts/{worker}/tails/{id}`: the tail, and its follow under way.
    pub(super) fn delete(&self, worker: &str, id: &str) -> Result<Value, Refusal> {
        let mut tails = self.tails.borrow_mut();
        match tails.get(id).filter(|tail| tail.worker == worker) {
            Some(tail) => tail.follower.cancel(),
            None => return Err(failure(StatusCode::NOT_FOUND, 10007, "no such tail")),
        }
        tails.remove(id);
        Ok(Value::Null)
    }

    /// Tail `id`, if it is live, with a fresh follower token: a follow under way ends.
    fn follow(&self, id: &str) -> Option<Tail> {
        let mut tails = self.tails.borrow_mut();
        let tail = tails
            .get_mut(id)
            .filter(|tail| tail.opened.elapsed() < TAIL_LIFETIME)?;
        tail.follower.cancel();
        tail.follower = CancellationToken::new();
        Some(tail.clone())
    }
}

/// `GET {TAILS}{id}`, a WebSocket handshake offering `trace-v1`: switches to the tail's events.
pub(super) async fn follow(
    admin: &Admin,
    id: &str,
    mut request: Request<Incoming>,
) -> Response<AdminBody> {
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .any(|protocol| protocol.trim() == "trace-v1")
        });
    let upgrade = match crate::edge::websocket::Upgrade::of(&mut request) {
        Some(upgrade) if offered => upgrade,
        _ => {
            return failure(
                StatusCode::BAD_REQUEST,
                10026,
                "a tail is followed over a WebSocket with the subprotocol trace-v1",
            )
            .into()
        }
    };
    let Some(tail) = admin.tails.follow(id) else {
        return failure(
            StatusCode::NOT_FOUND,
            10007,
            "no such tail: it expired or was deleted",
        )
        .into();
    };
    let (_, events) = match super::super::tail_events(admin, &tail.worker).await {
        Ok(events) => events,
        Err(e) => return failure(StatusCode::SERVICE_UNAVAILABLE, 10001, e).into(),
    };
    let (key, upgrade) = upgrade.into_parts();
    let ends = tokio::time::Instant::from_std(tail.opened + TAIL_LIFETIME);
    tokio::task::spawn_local(async move {
        if let Ok(connection) = upgrade.await {
            let follow = stream(
                TokioIo::new(connection),
                &tail.worker,
                &tail.filters,
                events,
            );
            tokio::select! {
                () = follow => {}
                () = tail.follower.cancelled() => {}
                () = tokio::time::sleep_until(ends) => {}
            }
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

/// What the admin API's tail sends (a line, `{"level", "message"}`; a traced event, with
/// `"trace"`; a notice of events lost, with `"dropped"`) as a trace event of `worker`, if
/// `filters` let it through.
fn trace_event(worker: &str, sent: &Value, filters: &Filters) -> Option<Value> {
    let Some(trace) = sent.get("trace") else {
        return line_event(worker, sent, filters);
    };
    let outcome = trace["outcome"].as_str().unwrap_or("unknown");
    let request = trace["event"].get("request");
    let logs = trace["logs"].as_array().map_or(&[][..], Vec::as_slice);
    let exceptions = trace["exceptions"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let texts = logs
        .iter()
        .chain(exceptions)
        .filter_map(|line| line["message"].as_str());
    if !filters.pass(outcome, request, texts) {
        return None;
    }
    let event = match (request, trace["event"].get("scheduled")) {
        (Some(request), _) => json!({
            "request": {
                "url": request["url"],
                "method": request["method"],
                "headers": request["headers"],
            },
            "response": request["status"].as_u64().map(|status| json!({ "status": status })),
        }),
        (None, Some(scheduled)) => json!({
            "cron": scheduled["cron"],
            "scheduledTime": scheduled["scheduled_ms"],
        }),
        (None, None) => match trace["event"].get("queue") {
            Some(queue) => json!({ "queue": queue["queue"], "batchSize": queue["batch_size"] }),
            None => Value::Null,
        },
    };
    let mut logs: Vec<Value> = logs
        .iter()
        .map(|line| {
            json!({
                "message": [line["message"]],
                "level": line["level"],
                "timestamp": line["at_ms"],
            })
        })
        .collect();
    if let Some(dropped) = trace["dropped"].as_u64().filter(|dropped| *dropped > 0) {
        logs.push(json!({
            "message": [format!("{dropped} more lines were left out of this event: it logged too much")],
            "level": "warn",
            "timestamp": trace["at_ms"],
        }));
    }
    let exceptions: Vec<Value> = exceptions
        .iter()
        .map(|exception| {
            let stack = exception["stack"]
                .as_str()
                .filter(|stack| !stack.is_empty());
            json!({
                "name": exception["name"],
                "message": exception["message"],
                "stack": stack,
                "timestamp": exception["at_ms"],
            })
        })
        .collect();
    Some(json!({
        "outcome": outcome,
        "scriptName": worker,
        "eventTimestamp": trace["at_ms"],
        "logs": logs,
        "exceptions": exceptions,
        "event": event,
    }))
}

/// A line outside any event (or a notice of events lost, which always passes) as a trace
/// event of `worker` with `event` null, if `filters` let it through.
fn line_event(worker: &str, line: &Value, filters: &Filters) -> Option<Value> {
    let level = line["level"].as_str().unwrap_or("log");
    let message = line["message"].as_str().unwrap_or_default();
    let outcome = match level {
        "exception" => "exception",
        _ => "ok",
    };
    if line.get("dropped").is_none() && !filters.pass(outcome, None, std::iter::once(message)) {
        return None;
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

/// Why a follow ends.
enum Ended {
    /// The client closed, went, or broke the protocol: it is told with this close code, if
    /// it can still hear.
    Client(Option<u16>),
    /// The tail's source ended.
    Source,
}

/// Sends `events` to the client on `connection` as trace events, answering its pings and
/// pinging it, until it closes, goes silent or cannot keep up, or the events end.
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
    let mut pings = tokio::time::interval(PING_EVERY);
    let mut heard = tokio::time::Instant::now();
    let ended = loop {
        let outgoing: Vec<(u8, Vec<u8>)> = tokio::select! {
            event = events.next() => match event {
                None => break Ended::Source,
                Some(line) => trace_event(worker, &line, filters)
                    .map(|trace| (0x1, trace.to_string().into_bytes()))
                    .into_iter()
                    .collect(),
            },
            _ = pings.tick() => {
                if heard.elapsed() > SILENCE {
                    break Ended::Client(Some(1001));
                }
                vec![(0x9, Vec::new())]
            }
            read = reader.read_buf(&mut buffer) => {
                if !matches!(read, Ok(n) if n > 0) {
                    break Ended::Client(None);
                }
                heard = tokio::time::Instant::now();
                // Every whole frame read: pings answered, a close or a frame too large ends.
                let mut answers = Vec::new();
                let closing = loop {
                    match next_frame(&mut buffer) {
                        Ok(Some((0x9, payload))) => answers.push((0xA, payload)),
                        Ok(Some((0x8, _))) => break Some(1000),
                        Err(()) => break Some(1009),
                        Ok(Some(_)) => {}
                        Ok(None) => break None,
                    }
                };
                if let Some(code) = closing {
                    break Ended::Client(Some(code));
                }
                answers
            }
        };
        let mut written = true;
        for (opcode, payload) in outgoing {
            written = written && send(&mut writer, opcode, &payload).await;
        }
        if !written {
            break Ended::Client(None);
        }
    };
    let code = match ended {
        Ended::Client(code) => code,
        Ended::Source => Some(1000),
    };
    if let Some(code) = code {
        send(&mut writer, 0x8, &code.to_be_bytes()).await;
    }
}

/// Writes one frame within [`WRITE_TIMEOUT`]; whether it was written.
async fn send<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    opcode: u8,
    payload: &[u8],
) -> bool {
    let frame = frame(opcode, payload);
    let written = tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&frame)).await;
    matches!(written, Ok(Ok(())))
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
    use super::{frame, next_frame, stream, Filters};
    use bytes::BytesMut;
    use futures_util::StreamExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// The frames the client has received by now (reading until none comes for a moment).
    async fn received(
        client: &mut tokio::io::DuplexStream,
        buffer: &mut BytesMut,
    ) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Ok(Ok(read @ 1..)) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            client.read_buf(buffer),
        )
        .await
        {
            let _ = read;
            while let Ok(Some(frame)) = next_frame(buffer) {
                frames.push(frame);
            }
        }
        frames
    }

    #[tokio::test]
    async fn a_follow_answers_pings_sends_lines_and_ends_at_a_close() {
        let (server, mut client) = tokio::io::duplex(64 * 1024);
        let lines = futures_util::stream::iter([
            serde_json::json!({ "level": "log", "message": "seen /a" }),
            serde_json::json!({ "level": "log", "message": "noise" }),
        ])
        .chain(futures_util::stream::pending())
        .boxed();
        let filters = Filters {
            query: Some("seen".into()),
            ..Filters::default()
        };
        let follow = stream(server, "w", &filters, lines);
        let talk = async {
            let mut buffer = BytesMut::new();
            // wrangler's first frame, unmasked; then a masked ping.
            client
                .write_all(&frame(0x1, b"{\"debug\":false}"))
                .await
                .unwrap();
            let mask = [9, 8, 7, 6];
            let mut ping = vec![0x89, 0x80 | 1];
            ping.extend_from_slice(&mask);
            ping.push(b'p' ^ mask[0]);
            client.write_all(&ping).await.unwrap();
            let frames = received(&mut client, &mut buffer).await;
            let texts: Vec<String> = frames
                .iter()
                .filter(|(opcode, _)| *opcode == 0x1)
                .map(|(_, payload)| String::from_utf8_lossy(payload).into_owned())
                .collect();
            assert_eq!(texts.len(), 1, "{texts:?}");
            assert!(texts[0].contains("seen /a") && texts[0].contains("\"scriptName\":\"w\""));
            assert!(
                frames.contains(&(0xA, b"p".to_vec())),
                "no pong: {frames:?}"
            );
            client
                .write_all(&frame(0x8, &1000u16.to_be_bytes()))
                .await
                .unwrap();
            received(&mut client, &mut buffer).await
        };
        let ((), after_close) = tokio::join!(follow, talk);
        assert!(
            after_close.iter().any(|(opcode, _)| *opcode == 0x8),
            "{after_close:?}"
        );
    }

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
