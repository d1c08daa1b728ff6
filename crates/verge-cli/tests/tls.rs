//! fetch() over https: a certificate authority made here, trusted through the system store
//! (`SSL_CERT_FILE`), and a local TLS server signed by it.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use support::*;

/// A TLS configuration for `localhost` signed by a new authority, offering `alpn`, and the PEM
/// of that authority.
fn tls_config(alpn: &[&[u8]]) -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let mut config = config;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (Arc::new(config), ca_cert.pem())
}

/// Starts a TLS server for `localhost` that answers every request with "secure"; returns its
/// port and the PEM of the authority that signed it.
fn tls_origin() -> (u16, String) {
    let (config, ca_pem) = tls_config(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                if read_request_head(&mut tls).is_none() {
                    return;
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecure",
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, ca_pem)
}

/// Starts an HTTP/2 server (TLS, ALPN h2 only) that answers with the protocol it spoke.
fn h2_origin() -> (u16, String) {
    use hyper::service::service_fn;
    let (config, ca_pem) = tls_config(&[b"h2"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(
                        |request: hyper::Request<hyper::body::Incoming>| async move {
                            let body = format!("{:?}", request.version());
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(bytes::Bytes::from(body)),
                            ))
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
    });
    (port, ca_pem)
}

#[test]
fn fetch_speaks_http2_when_the_origin_offers_it() {
    let (port, ca_pem) = h2_origin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.path().join("w.js"), WORKER).unwrap();
    let server = DevServer::start_with_env(
        &dir.path().join("w.js"),
        &[],
        &[("SSL_CERT_FILE", dir.path().join("ca.pem"))],
    );
    let reply = get(
        &client(),
        &format!("{}/?to=https://localhost:{port}/", server.base),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, "200 HTTP/2.0"));
}

const WORKER: &str = r#"
export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('to');
    try {
      const response = await fetch(target);
      return new Response(`${response.status} ${await response.text()}`);
    } catch (error) {
      return new Response(`${error.name}: ${error.message}`, { status: 502 });
    }
  },
};
"#;

#[test]
fn https_to_a_server_signed_by_a_ca_in_the_system_store() {
    let (port, ca_pem) = tls_origin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.path().join("w.js"), WORKER).unwrap();
    let agent = client();

    // Without the CA, the certificate is refused, and the worker hears why.
    let untrusting = DevServer::start(&dir.path().join("w.js"), &[]);
    let reply = get(
        &agent,
        &format!("{}/?to=https://localhost:{port}/", untrusting.base),
    );
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.starts_with("TypeError: fetch failed")
            && reply.body.to_lowercase().contains("certificate"),
        "{}",
        reply.body
    );
    drop(untrusting);

    // With it in the system store (SSL_CERT_FILE), the same fetch succeeds.
    let trusting = DevServer::start_with_env(
        &dir.path().join("w.js"),
        &[],
        &[("SSL_CERT_FILE", dir.path().join("ca.pem"))],
    );
    let reply = get(
        &agent,
        &format!("{}/?to=https://localhost:{port}/", trusting.base),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, "200 secure"));
}
