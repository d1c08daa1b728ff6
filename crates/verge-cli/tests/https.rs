//! HTTPS at the edge: `verge serve` with `listen_tls` and two zones' certificates (made here by a
//! certificate authority of the test's own), reached with the real `curl` — the right
//! certificate for each name by SNI, HTTP/2 by ALPN, `request.cf.tlsVersion`; an unknown name
//! refused in the handshake; a replaced certificate served without a restart; plain HTTP
//! redirected; bad certificates refused at start, naming the file; a garbage ClientHello
//! harming nobody.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{verge, wait_until, DevServer};

/// Answers with the connection's facts as the worker sees them.
const WORKER: &str = r#"
export default {
  fetch(request) {
    const { tlsVersion, tlsCipher, httpProtocol } = request.cf;
    return Response.json({ url: request.url, tlsVersion, tlsCipher, httpProtocol });
  },
};
"#;

/// A certificate authority of the test's own, which signs the zones' certificates.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Named apart from the certificates it signs, which would otherwise look self-signed.
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Verge test authority");
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// Writes a certificate for `names` (valid from `days_from_now` for a year) and its key as
    /// `dir/<file>.pem` and `dir/<file>.key`.
    fn issue(&self, dir: &Path, file: &str, names: &[&str], days_from_now: i64) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        let start = time::OffsetDateTime::now_utc() + time::Duration::days(days_from_now);
        params.not_before = start - time::Duration::days(1);
        params.not_after = start + time::Duration::days(365);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    }
}

/// A project with the worker on `*/*`, HTTPS for alpha.test (and its subdomains) and beta.test,
/// and plain HTTP redirected; its verge.toml.
fn project(dir: &Path, authority: &Authority) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/index.js"), WORKER).unwrap();
    std::fs::write(
        dir.join("app/wrangler.toml"),
        "name = \"app\"\nmain = \"index.js\"\nroutes = [\"*/*\"]\n",
    )
    .unwrap();
    authority.issue(dir, "alpha", &["alpha.test", "*.alpha.test"], 0);
    authority.issue(dir, "beta", &["beta.test"], 0);
    let config = dir.join("verge.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_tls = \"127.0.0.1:0\"\nredirect_http = true\n\n\
         [[tls.certificates]]\ndomains = [\"alpha.test\", \"*.alpha.test\"]\n\
         cert = \"alpha.pem\"\nkey = \"alpha.key\"\n\n\
         [[tls.certificates]]\ndomains = [\"beta.test\"]\ncert = \"beta.pem\"\nkey = \"beta.key\"\n\n\
         [[workers]]\npath = \"app\"\n",
    )
    .unwrap();
    config
}

/// The HTTPS port `verge serve` printed.
fn https_port(server: &DevServer) -> u16 {
    let out = server.stdout();
    let line = out.lines().find(|l| l.starts_with("HTTPS on ")).unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// `curl` to `https://<name>:<port>/path` at 127.0.0.1, trusting only `ca`: (succeeded, what it
/// printed — the body, then the HTTP version on a line of its own).
fn curl(name: &str, port: u16, path: &str, ca: &Path) -> (bool, String) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--http2"])
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
        .arg("--cacert")
        .arg(ca)
        .args(["--write-out", "\n%{http_version}"])
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .expect("curl runs");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

/// The certificate the server presents for `name` (SNI) at `port`, its DER.
fn served_certificate(name: &str, port: u16, authority: &Authority) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(authority.pem.as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), server_name).unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut stream).unwrap();
    }
    connection.peer_certificates().unwrap()[0].to_vec()
}

/// The certificate in `dir/<zone>.pem`, its DER.
fn file_certificate(dir: &Path, zone: &str) -> Vec<u8> {
    let path = dir.join(format!("{zone}.pem"));
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

#[test]
fn https_serves_each_zone_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new();
    let config = project(dir.path(), &authority);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &authority.pem).unwrap();
    let server = DevServer::serve(&config, &[]);
    let port = https_port(&server);

    // Each name gets its own certificate, over HTTP/2 and TLS 1.3, which the worker sees.
    for name in ["alpha.test", "www.alpha.test", "beta.test"] {
        let (ok, said) = curl(name, port, "/hello", &ca);
        assert!(ok, "{name}: {said}");
        let zone = if name.ends_with("alpha.test") {
            "alpha"
        } else {
            "beta"
        };
        assert_eq!(
            served_certificate(name, port, &authority),
            file_certificate(dir.path(), zone)
        );
        let body = said.lines().next().unwrap();
        let facts: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(facts["url"], format!("https://{name}:{port}/hello"));
        assert_eq!(facts["tlsVersion"], "TLSv1.3");
        assert_eq!(facts["httpProtocol"], "HTTP/2");
        assert!(
            facts["tlsCipher"].as_str().unwrap().starts_with("TLS_"),
            "{facts}"
        );
        assert!(said.lines().any(|line| line == "2"), "not HTTP/2: {said}");
    }
    // A name no certificate is for is refused in the handshake, not given another's.
    let (ok, said) = curl("gamma.test", port, "/", &ca);
    assert!(!ok, "{said}");
    assert!(!said.contains("tlsVersion"), "{said}");

    // Plain HTTP is sent to HTTPS.
    let plain = support::send(
        &support::client(),
        http::Request::get(format!("{}/page?x=1", server.base))
            .header("host", "beta.test")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(plain.status, 301);
    assert_eq!(
        plain.headers["location"],
        format!("https://beta.test:{port}/page?x=1")
    );

    // Garbage where a ClientHello belongs harms no other client.
    for garbage in [
        &b"\x16\x03\x01\xff\xffnot a hello"[..],
        &[0u8; 4096][..],
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(garbage);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
    let (ok, said) = curl("beta.test", port, "/", &ca);
    assert!(ok, "{said}");

    // A replaced certificate is served without a restart.
    let before = file_certificate(dir.path(), "beta");
    authority.issue(dir.path(), "beta", &["beta.test"], 0);
    let after = file_certificate(dir.path(), "beta");
    assert_ne!(before, after);
    let picked_up = wait_until(Duration::from_secs(15), || {
        served_certificate("beta.test", port, &authority) == after
    });
    assert!(picked_up, "the replaced certificate was not picked up");
}

#[test]
fn a_certificate_that_cannot_serve_stops_the_start_naming_it() {
    let authority = Authority::new();
    let start = |prepare: &dyn Fn(&Path)| {
        let dir = tempfile::tempdir().unwrap();
        let config = project(dir.path(), &authority);
        prepare(dir.path());
        let output = verge()
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = start(&|dir| std::fs::remove_file(dir.join("beta.pem")).unwrap());
    assert!(missing.contains("beta.pem"), "{missing}");
    let expired = start(&|dir| authority.issue(dir, "beta", &["beta.test"], -800));
    assert!(expired.contains("beta.pem expired on"), "{expired}");
    let elsewhere = start(&|dir| authority.issue(dir, "beta", &["other.test"], 0));
    assert!(
        elsewhere.contains("beta.pem is not for beta.test (it names other.test)"),
        "{elsewhere}"
    );
    let mismatched = start(&|dir| {
        std::fs::copy(dir.join("alpha.key"), dir.join("beta.key")).unwrap();
    });
    assert!(
        mismatched.contains("do not belong together"),
        "{mismatched}"
    );
    let garbage = start(&|dir| std::fs::write(dir.join("beta.key"), "not a key").unwrap());
    assert!(garbage.contains("beta.key"), "{garbage}");
}
