//! fetch() decodes Content-Encoding (gzip, deflate, br) as Workers do, and drops the encoding and
//! length headers that no longer describe the body.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::net::TcpListener;
use support::*;

const TEXT: &str = "The quick brown fox jumps over the lazy dog. ";

fn encode(encoding: &str) -> Vec<u8> {
    let plain = TEXT.repeat(200);
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain.as_bytes()).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain.as_bytes()).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut plain.as_bytes(), &mut out, &Default::default()).unwrap();
            out
        }
    }
}

/// An origin that serves `/gzip`, `/deflate` and `/br`, each encoded so.
fn encoding_origin() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let head = read_request_head(&mut stream).unwrap_or_default();
            let encoding = head
                .split_whitespace()
                .nth(1)
                .unwrap_or("/gzip")
                .trim_start_matches('/')
                .to_owned();
            let body = encode(&encoding);
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-encoding: {encoding}\r\ncontent-length: {}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn gzip_deflate_and_br_bodies_arrive_decoded() {
    let origin = encoding_origin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.js"),
        r#"export default { async fetch(request, env) {
            const encoding = new URL(request.url).pathname;
            const r = await fetch(env.ORIGIN + encoding);
            const text = await r.text();
            return Response.json({ length: text.length, start: text.slice(0, 20),
              contentEncoding: r.headers.get('content-encoding'), contentLength: r.headers.get('content-length') });
        } }"#,
    )
    .unwrap();
    let server = DevServer::start(
        &dir.path().join("w.js"),
        &["--var", &format!("ORIGIN:{origin}")],
    );
    let agent = client();
    for encoding in ["gzip", "deflate", "br"] {
        let reply = get(&agent, &format!("{}/{encoding}", server.base));
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            json["length"],
            TEXT.len() * 200,
            "{encoding}: {}",
            reply.body
        );
        assert_eq!(json["start"], &TEXT[..20], "{encoding}");
        assert!(
            json["contentEncoding"].is_null() && json["contentLength"].is_null(),
            "{encoding}: {}",
            reply.body
        );
    }
}
