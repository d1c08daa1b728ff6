//! Origins that misbehave: a body cut off mid-stream, malformed and oversized headers. Each is
//! a raw TCP server here; the worker sees an error it can handle, the client a well-formed
//! failure, and the server keeps serving.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use support::*;

/// Serves every connection with `reply`, after reading the request head.
fn raw_origin(reply: &'static [u8], then_close: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = read_request_head(&mut stream);
            let _ = stream.write_all(reply);
            if then_close {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    });
    base
}

const PROXY: &str = r#"
export default {
  async fetch(request, env) {
    const target = new URL(request.url).searchParams.get('to');
    try {
      const response = await fetch(target);
      return new Response(response.body, response);
    } catch (error) {
      return Response.json({ name: error.name, message: error.message }, { status: 502 });
    }
  },
};
"#;

fn proxy() -> (tempfile::TempDir, DevServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proxy.js"), PROXY).unwrap();
    let server = DevServer::start(&dir.path().join("proxy.js"), &[]);
    (dir, server)
}

#[test]
fn an_origin_that_resets_mid_body_aborts_the_client_response_only() {
    static CUT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nonly the beginning";
    let origin = raw_origin(CUT, true);
    let (_dir, server) = proxy();
    let agent = client();
    let mut response = agent
        .get(format!("{}/?to={origin}/", server.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = Vec::new();
    let read = response.body_mut().as_reader().read_to_end(&mut body);
    assert!(
        read.is_err() || body.len() < 1_000_000,
        "the client must see the body cut short"
    );
    // The server is unharmed.
    let healthy = raw_origin(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true);
    assert_eq!(
        get(&agent, &format!("{}/?to={healthy}/", server.base)).body,
        "ok"
    );
}

#[test]
fn malformed_and_oversized_origin_headers_are_errors_the_worker_handles() {
    let (_dir, server) = proxy();
    let agent = client();
    let malformed = raw_origin(b"HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n", true);
    let reply = get(&agent, &format!("{}/?to={malformed}/", server.base));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.contains("\"name\":\"TypeError\"") && reply.body.contains("fetch failed"),
        "{}",
        reply.body
    );

    let huge: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nx-huge: {}\r\n\r\n",
            "a".repeat(2 * 1024 * 1024)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let oversized = raw_origin(huge, true);
    let reply = get(&agent, &format!("{}/?to={oversized}/", server.base));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("TypeError"), "{}", reply.body);

    let garbage = raw_origin(b"\x00\x01\x02 definitely not HTTP\r\n\r\n", true);
    assert_eq!(
        get(&agent, &format!("{}/?to={garbage}/", server.base)).status,
        502
    );
    assert!(!server.stderr().contains("panicked"));
}
