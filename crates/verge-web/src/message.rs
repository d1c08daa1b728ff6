//! Requests and responses as they cross between the host and a worker, whichever way they go: a
//! client's request to a worker and its response, or a worker's `fetch()` to the network, to
//! another worker or to its assets. One [`Request`] and one [`Response`] for all of them, so a
//! call that never leaves the process is never translated to `http`'s types and back.
//!
//! Header values are byte sequences (Fetch §2.2.2); a worker sees each as a string of one
//! character per byte (WebIDL's ByteString), which is how [`HeaderList`] holds them. This module
//! is the one place that turns them into `http`'s headers and back, Latin-1 both ways, so no
//! value loses a byte, UTF-8 or not.

use crate::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::rc::Rc;

/// `Request.redirect` (Fetch §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectMode {
    #[default]
    Follow,
    Manual,
    Error,
}

/// A request between the host and a worker.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Absolute, as Workers' requests are.
    pub url: String,
    pub headers: HeaderList,
    pub body: Body,
    /// `request.cf` as JSON text, for a request a worker receives; `None`: it has none.
    pub cf: Option<Rc<str>>,
    pub redirect: RedirectMode,
    /// Through how many service bindings it came (0: from a client, or the worker's own).
    pub depth: u32,
}

impl Request {
    /// A request with no body, headers or `cf`, following redirects.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: HeaderList::default(),
            body: Body::Empty,
            cf: None,
            redirect: RedirectMode::Follow,
            depth: 0,
        }
    }

    /// The same request again, to send once more (a redirect, a pass-through to the origin);
    /// `None` when its body streams and so can be sent only once.
    pub fn replay(&self) -> Option<Self> {
        Some(Self {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.replay()?,
            cf: self.cf.clone(),
            redirect: self.redirect,
            depth: self.depth,
        })
    }
}

/// A response between the host and a worker.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The reason phrase; empty for the status's usual one.
    pub status_text: String,
    pub headers: HeaderList,
    pub body: Body,
    /// The URL it was fetched from, after redirects; empty for one a worker or this server made.
    pub url: String,
    /// Whether a redirect was followed to get it.
    pub redirected: bool,
    /// The WebSocket a 101 response hands over: the client's end of it.
    pub websocket: Option<crate::websocket::HostSocket>,
}

impl Response {
    /// A response with `status`, `headers` and `body`, made here rather than fetched.
    pub fn new(status: u16, headers: HeaderList, body: Body) -> Self {
        Self {
            status,
            status_text: String::new(),
            headers,
            body,
            url: String::new(),
            redirected: false,
            websocket: None,
        }
    }
}

/// A header list as the Fetch standard has it: lower-case names, values of one character per
/// byte, in order, a name repeated as often as it came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(Vec<(String, String)>);

/// A header that `http` cannot carry: a name that is no token, or a value with a character
/// above U+00FF or a byte that no header value may hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHeader {
    #[error("invalid header name {0:?}")]
    Name(String),
    #[error("invalid value for header {0}")]
    Value(String),
}

impl HeaderList {
    /// The first value of `name`, compared without regard to ASCII case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Keeps only the headers for which `keep(name, value)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(name, value)| keep(name, value));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The headers of `map`, each value's bytes read as Latin-1.
    pub fn from_http(map: &HeaderMap) -> Self {
        Self(
            map.iter()
                .map(|(name, value)| (name.as_str().to_owned(), latin1_string(value)))
                .collect(),
        )
    }

    /// The headers as `http` carries them, but for those of one connection's framing
    /// ([`is_hop_by_hop`]), which the connection that sends them derives from the body itself.
    pub fn to_http(
        &self,
    ) -> impl Iterator<Item = Result<(HeaderName, HeaderValue), InvalidHeader>> + '_ {
        self.0
            .iter()
            .filter(|(name, _)| !is_hop_by_hop(name))
            .map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| InvalidHeader::Name(name.clone()))?;
                let value =
                    latin1_value(value).ok_or_else(|| InvalidHeader::Value(header.to_string()))?;
                Ok((header, value))
            })
    }

    /// A list as JavaScript hands it over, `[name, value, name, value, …]`.
    pub fn from_js(list: Vec<String>) -> Self {
        let mut list = list.into_iter();
        let mut pairs = Vec::with_capacity(list.len() / 2);
        while let (Some(name), Some(value)) = (list.next(), list.next()) {
            pairs.push((name, value));
        }
        Self(pairs)
    }

    /// The list as JavaScript takes it, `[name, value, name, value, …]`.
    pub fn into_js(self) -> Vec<String> {
        self.0
            .into_iter()
            .flat_map(|(name, value)| [name, value])
            .collect()
    }
}

impl From<Vec<(String, String)>> for HeaderList {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

impl From<HeaderList> for Vec<(String, String)> {
    fn from(list: HeaderList) -> Self {
        list.0
    }
}

/// Whether header `name` frames a message on one connection (its length, its transfer coding,
/// the connection's own options), so that a hop which re-frames the body must not pass it on.
pub fn is_hop_by_hop(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
    ]
    .iter()
    .any(|framing| name.eq_ignore_ascii_case(framing))
}

/// A value's bytes as a string of one character per byte.
fn latin1_string(value: &HeaderValue) -> String {
    let bytes = value.as_bytes();
    if bytes.is_ascii() {
        // Latin-1 and UTF-8 agree on ASCII, the common case: one copy.
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// A string of one character per byte as a header value; `None` if a character is above
/// U+00FF or the bytes are no header value.
fn latin1_value(value: &str) -> Option<HeaderValue> {
    if value.is_ascii() {
        return HeaderValue::from_str(value).ok();
    }
    let bytes: Option<Vec<u8>> = value.chars().map(|c| u8::try_from(c).ok()).collect();
    HeaderValue::from_bytes(&bytes?).ok()
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_header_value_crosses_as_latin1_byte_for_byte() {
        let mut map = HeaderMap::new();
        map.append("x-ascii", HeaderValue::from_static("plain; q=1"));
        // "é" in UTF-8 is two bytes: a worker sees two Latin-1 characters, as on Workers.
        map.append(
            "x-utf8",
            HeaderValue::from_bytes("café".as_bytes()).unwrap(),
        );
        map.append("x-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let list = HeaderList::from_http(&map);
        assert_eq!(list.get("X-Ascii"), Some("plain; q=1"));
        assert_eq!(list.get("x-utf8"), Some("caf\u{c3}\u{a9}"));
        assert_eq!(list.get("x-latin1"), Some("caf\u{e9}"));
        let back: HeaderMap = list.to_http().map(Result::unwrap).collect();
        assert_eq!(back, map);
    }

    #[test]
    fn framing_is_left_to_the_connection_and_bad_headers_are_named() {
        let list = HeaderList::from(vec![
            ("Content-Length".to_owned(), "3".to_owned()),
            ("transfer-encoding".to_owned(), "chunked".to_owned()),
            ("x-kept".to_owned(), "yes".to_owned()),
        ]);
        let sent: Vec<_> = list.to_http().map(Result::unwrap).collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "x-kept");
        let wide = HeaderList::from(vec![("x-wide".to_owned(), "\u{100}".to_owned())]);
        let refused = wide.to_http().next().unwrap().unwrap_err();
        assert_eq!(refused, InvalidHeader::Value("x-wide".into()));
        let newline = HeaderList::from(vec![("x-nl".to_owned(), "a\nb".to_owned())]);
        assert!(newline.to_http().next().unwrap().is_err());
        let name = HeaderList::from(vec![("bad name".to_owned(), "v".to_owned())]);
        assert_eq!(
            name.to_http().next().unwrap().unwrap_err(),
            InvalidHeader::Name("bad name".into())
        );
    }

    #[test]
    fn a_javascript_list_pairs_names_with_values() {
        let list = HeaderList::from_js(vec!["a".into(), "1".into(), "b".into(), "2".into()]);
        assert_eq!(list.get("b"), Some("2"));
        assert_eq!(list.into_js(), ["a", "1", "b", "2"]);
    }
}
