//! A fetched body the worker never reads is dropped when its request ends, closing the origin
//! connection, rather than holding it until the garbage collector runs.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// An origin that answers with a long body it sends only the start of, and counts the
/// connections still open.
fn counting_origin() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let open = counter.clone();
            open.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n";
                let _ = stream.write_all(head);
                let _ = stream.write_all(&[b'x'; 16384]);
                // Wait for the client to hang up.
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (base, open)
}

#[test]
fn unread_fetch_bodies_release_their_connections_when_the_request_ends() {
    let (origin, open) = counting_origin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.js"),
        "export default { async fetch(request, env) { const r = await fetch(env.ORIGIN); return new Response(`status ${r.status}`); } }",
    )
    .unwrap();
    let server = DevServer::start(
        &dir.path().join("w.js"),
        &["--var", &format!("ORIGIN:{origin}/")],
    );
    let agent = client();
    for _ in 0..40 {
        assert_eq!(get(&agent, &server.base).body, "status 200");
    }
    let released = wait_until(Duration::from_secs(10), || open.load(Ordering::SeqCst) <= 2);
    assert!(
        released,
        "{} origin connections are still open after 40 requests",
        open.load(Ordering::SeqCst)
    );
}
