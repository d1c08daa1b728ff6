//! HTTPS at the edge: the certificates of `[[tls.certificates]]`, each chosen by the name the
//! client asks for (SNI) — `*.example.test` serving any one label under `example.test` — with
//! an unknown name (or none) refused in the handshake rather than given another zone's
//! certificate. A certificate that is missing, unreadable, expired, not yet valid, not for the
//! domains it is listed for, or not matching its key is an error at start, naming it. Replaced
//! files are read again within [`RELOAD_EVERY`], without a restart; a replacement that fails
//! those checks is logged and the certificate in use stays.
//!
//! TLS 1.2 and 1.3 (rustls, ring), HTTP/2 or HTTP/1.1 by ALPN, sessions resumed by ticket or
//! by id.

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use verge_config::CertificateConfig;

/// How often the certificate files are looked at for a change.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The certificates in use, by the names they serve.
#[derive(Debug)]
pub struct Certificates {
    sources: Vec<CertificateConfig>,
    names: RwLock<Arc<Names>>,
    /// Certificates obtained through ACME, by the names they serve, after the files'.
    obtained: RwLock<Arc<Names>>,
    /// When each source's files last changed, as last read.
    stamps: RwLock<Vec<Stamp>>,
}

#[derive(Debug, Default)]
struct Names {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// By the domain under the `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

/// The modification times of a certificate's two files.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

fn stamp(source: &CertificateConfig) -> Stamp {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(&source.cert), modified(&source.key))
}

impl Certificates {
    /// Reads every certificate of `sources`; the first that cannot serve is the error.
    pub fn load(sources: Vec<CertificateConfig>) -> Result<Arc<Self>, String> {
        let stamps = sources.iter().map(stamp).collect();
        let names = names(&sources)?;
        Ok(Arc::new(Self {
            sources,
            names: RwLock::new(Arc::new(names)),
            obtained: RwLock::default(),
            stamps: RwLock::new(stamps),
        }))
    }

    /// Reads the certificates again if a file changed. A set that fails is logged, and the
    /// one in use stays.
    pub fn reload_if_changed(&self) {
        let now: Vec<Stamp> = self.sources.iter().map(stamp).collect();
        let changed = *self.stamps.read().unwrap_or_else(|p| p.into_inner()) != now;
        if !changed {
            return;
        }
        *self.stamps.write().unwrap_or_else(|p| p.into_inner()) = now;
        match names(&self.sources) {
            Ok(names) => {
                *self.names.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(names);
                tracing::info!("certificates read again");
            }
            Err(e) => tracing::error!("the changed certificates are not used: {e}"),
        }
    }

    /// Looks for changed certificate files every [`RELOAD_EVERY`], on a thread of its own, for
    /// as long as the server runs.
    pub fn watch(self: &Arc<Self>) {
        let certificates = Arc::downgrade(self);
        let watching = std::thread::Builder::new()
            .name("verge-certificates".into())
            .spawn(move || loop {
                std::thread::sleep(RELOAD_EVERY);
                let Some(certificates) = certificates.upgrade() else {
                    return;
                };
                certificates.reload_if_changed();
            });
        if let Err(e) = watching {
            tracing::warn!("replaced certificates will need a restart: {e}");
        }
    }

    /// Serves `chain` and `key` (PEM, as an ACME directory issued them) for `domains` from now
    /// on, in place of what was obtained before; when the certificate expires, in seconds since
    /// the Unix epoch.
    pub fn install_obtained(
        &self,
        domains: &[String],
        chain: &str,
        key: &str,
    ) -> Result<i64, String> {
        let (certified, expires) = certified(
            "obtained by ACME",
            "obtained by ACME",
            chain.as_bytes(),
            key.as_bytes(),
            domains,
        )?;
        let certified = Arc::new(certified);
        let mut names = Names::default();
        for domain in domains {
            names.insert(domain, &certified);
        }
        *self.obtained.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(names);
        Ok(expires)
    }

    /// The TLS configuration that serves these certificates.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| format!("TLS: {e}"))?;
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        let files = self.names.read().unwrap_or_else(|p| p.into_inner()).clone();
        let obtained = self
            .obtained
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        files.find(&name).or_else(|| obtained.find(&name))
    }
}

impl Names {
    /// The certificate for `name`: its own, else its parent's wildcard.
    fn find(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        if let Some(found) = self.exact.get(name) {
            return Some(found.clone());
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent).cloned()
    }

    fn insert(&mut self, domain: &str, certified: &Arc<CertifiedKey>) {
        let domain = domain.to_ascii_lowercase();
        match domain.strip_prefix("*.") {
            Some(parent) => self.wildcard.insert(parent.to_owned(), certified.clone()),
            None => self.exact.insert(domain, certified.clone()),
        };
    }
}

/// Every name `sources` serve, each certificate read and checked.
fn names(sources: &[CertificateConfig]) -> Result<Names, String> {
    let mut names = Names::default();
    for source in sources {
        let certified = Arc::new(read(source)?);
        for domain in &source.domains {
            names.insert(domain, &certified);
        }
    }
    Ok(names)
}

/// `source`'s certificate and key, checked: readable, valid now, for its domains, matching.
fn read(source: &CertificateConfig) -> Result<CertifiedKey, String> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
    };
    let chain = read(&source.cert, "certificate")?;
    let key = read(&source.key, "key")?;
    let label = source.cert.display().to_string();
    let key_label = source.key.display().to_string();
    certified(&label, &key_label, &chain, &key, &source.domains).map(|(certified, _)| certified)
}

/// The PEM `chain` (named `label` in errors) and PEM `key` (named `key_label`), checked as
/// [`read`] does; and when the certificate expires, in seconds since the Unix epoch.
pub(crate) fn certified(
    label: &str,
    key_label: &str,
    chain: &[u8],
    key: &[u8],
    domains: &[String],
) -> Result<(CertifiedKey, i64), String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate {label}: {e}"))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "certificate {label}: the file holds no certificate"
        ));
    };
    let expires = check_leaf(leaf, label, domains)?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("key {key_label}: {e}"))?;
    let key = any_supported_type(&key).map_err(|e| format!("key {key_label}: {e}"))?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().map_err(|e| {
        format!("certificate {label} and key {key_label} do not belong together: {e}")
    })?;
    Ok((certified, expires))
}

/// Whether `leaf` (named `label`) is valid now and names every one of `domains`; when it
/// expires, in seconds since the Unix epoch.
fn check_leaf(leaf: &CertificateDer<'_>, label: &str, domains: &[String]) -> Result<i64, String> {
    use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};
    let (_, parsed) = X509Certificate::from_der(leaf)
        .map_err(|e| format!("certificate {label}: not an X.509 certificate: {e}"))?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if validity.not_after < now {
        return Err(format!(
            "certificate {label} expired on {}",
            validity.not_after
        ));
    }
    if now < validity.not_before {
        return Err(format!(
            "certificate {label} is not valid before {}",
            validity.not_before
        ));
    }
    let named: Vec<String> = match parsed.subject_alternative_name() {
        Ok(Some(names)) => (names.value.general_names.iter())
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for domain in domains {
        if !named.contains(&domain.to_ascii_lowercase()) {
            return Err(format!(
                "certificate {label} is not for {domain} (it names {})",
                if named.is_empty() {
                    "no DNS name".to_owned()
                } else {
                    named.join(", ")
                }
            ));
        }
    }
    Ok(validity.not_after.timestamp())
}

/// What `request.cf` tells of a TLS connection: its version and cipher suite, as Workers name
/// them (`TLSv1.3`, `TLS_AES_128_GCM_SHA256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsFacts {
    pub version: &'static str,
    pub cipher: &'static str,
}

impl TlsFacts {
    /// The facts of an established connection.
    pub fn of(connection: &rustls::ServerConnection) -> Self {
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "",
        };
        use rustls::CipherSuite;
        let cipher = match connection.negotiated_cipher_suite().map(|s| s.suite()) {
            // rustls prefixes TLS 1.3's suites TLS13_; their IANA names, as clients know them:
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256) => "TLS_AES_128_GCM_SHA256",
            Some(CipherSuite::TLS13_AES_256_GCM_SHA384) => "TLS_AES_256_GCM_SHA384",
            Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256) => "TLS_CHACHA20_POLY1305_SHA256",
            Some(suite) => suite.as_str().unwrap_or(""),
            None => "",
        };
        Self { version, cipher }
    }
}
