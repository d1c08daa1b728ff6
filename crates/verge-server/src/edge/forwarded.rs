//! Durable Object events that cross PoPs: a request or RPC call for an object another PoP
//! holds is sent there ([`forward`]) and run by that PoP's router ([`handler`]), which answers
//! with the response or result. On the wire, an event or answer is a length-prefixed JSON head
//! followed by the body's bytes, bodies being buffered (at most [`MAX_FORWARDED_BODY`]).
//!
//! Not forwarded yet: a WebSocket an object returns (an upgrade for an object held elsewhere
//! fails, naming why), and RPC arguments passed by reference (functions, `RpcTarget`s), whose
//! stubs would call back into an isolate on the other PoP.

use super::objects::{Answer, Asked, Failure, ObjectRouter, Sent};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use verge_cluster::objects::{object_key, ForwardError, Handler, Placement};
use verge_cluster::EdgeObjects;
use verge_runtime::{Body, HeaderList, ObjectAddress, RedirectMode, Response};

/// The largest request or response body an event forwarded between PoPs carries (a NATS
/// message carries 1 MiB by default).
pub(super) const MAX_FORWARDED_BODY: usize = 768 * 1024;

#[derive(Serialize, Deserialize)]
struct WireEvent {
    script: String,
    class: String,
    id: String,
    name: Option<String>,
    asked: WireAsked,
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

/// Sends `asked` for the object at `address` to PoP `pop`: its answer, or `None` when that
/// PoP does not hold the object. A request's body is buffered into `asked` first, so that it
/// can be sent again elsewhere.
pub(super) async fn forward(
    network: &EdgeObjects,
    pop: &str,
    address: &ObjectAddress,
    asked: &mut Asked,
) -> Result<Option<Answer>, ForwardError> {
    let (wire, body) = match asked {
        Asked::Fetch(sent) => {
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
    let event = WireEvent {
        script: address.script.clone(),
        class: address.class.clone(),
        id: address.id.clone(),
        name: address.name.clone(),
        asked: wire,
    };
    let answer = network.forward(pop, frame(&event, &body)).await?;
    let (head, body) = unframe::<WireAnswer>(&answer).map_err(ForwardError::Failed)?;
    match head {
        WireAnswer::Response {
            status,
            status_text,
            headers,
        } => {
            let body = if body.is_empty() {
                Body::Empty
            } else {
                Body::Full(body)
            };
            let mut response = Response::new(status, header_list(headers), body);
            response.status_text = status_text;
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
                Ok(Some(Answer::Response(response))) => respond(response).await,
                Ok(Some(Answer::Reply(reply))) => (WireAnswer::Reply(reply), Bytes::new()),
                Ok(None) => (WireAnswer::NotHere, Bytes::new()),
                Err(failure) => (WireAnswer::Failed(failure), Bytes::new()),
            };
            frame(&head, &body)
        })
    })
}

async fn run(router: Weak<ObjectRouter>, event: Bytes) -> Result<Option<Answer>, Failure> {
    let router = router
        .upgrade()
        .ok_or_else(|| "the server is stopping".to_owned())?;
    let network = router
        .network
        .as_ref()
        .ok_or_else(|| "this server is not a PoP of a cluster".to_owned())?;
    let (event, body) = unframe::<WireEvent>(&event)?;
    let address = ObjectAddress {
        script: event.script,
        class: event.class,
        id: event.id,
        name: event.name,
    };
    let asked = match event.asked {
        WireAsked::Fetch {
            method,
            url,
            headers,
            cf,
            redirect,
            depth,
        } => Asked::Fetch(Sent {
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
        }),
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
    let key = object_key(&address.script, &address.class, &address.id);
    match network.place(&key).await.map_err(|e| e.to_string())? {
        Placement::Here { lease } => router.ask_here(address, asked, Some(lease)).await.map(Some),
        Placement::There { .. } => Ok(None),
    }
}

/// The wire form of an object's response to a forwarded request.
async fn respond(response: Response) -> (WireAnswer, Bytes) {
    if response.websocket.is_some() {
        let refused = "the Durable Object answered with a WebSocket, which is not forwarded \
                       between PoPs yet: connect to the PoP that holds the object";
        return (WireAnswer::Failed(refused.into()), Bytes::new());
    }
    match buffered(response.body, "the Durable Object's response body").await {
        Ok(body) => {
            let head = WireAnswer::Response {
                status: response.status,
                status_text: response.status_text,
                headers: headers_of(&response.headers),
            };
            (head, body)
        }
        Err(failure) => (WireAnswer::Failed(failure), Bytes::new()),
    }
}
