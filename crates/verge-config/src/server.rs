//! `verge.toml`, the config of `verge serve`: where to listen, the admin listener, the workers
//! (each a project directory with its own wrangler config), the zones and their origins, the
//! server-wide limits, the outbound network policy, where objects' bytes go and where
//! `request.cf` comes from. Unknown keys are errors, and every error
//! names the file, the key and the line.

use crate::{ConfigError, Engine, WorkerConfig};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `verge.toml`, resolved: worker paths are read, tokens taken from the environment.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub file: PathBuf,
    pub listen: SocketAddr,
    pub data_dir: Option<PathBuf>,
    /// Clients that do not send a whole request head within this time are disconnected.
    pub header_timeout: Duration,
    /// On SIGTERM, how long requests in flight may take to finish.
    pub drain_timeout: Duration,
    pub admin: Option<AdminConfig>,
    pub workers: Vec<WorkerConfig>,
    pub zones: Vec<Zone>,
    pub limits: ServerLimits,
    /// Networks `fetch()` may reach although they are not public (loopback, private, …).
    pub outbound_allow: Vec<ipnet::IpNet>,
    /// `[objects]`: where R2 buckets keep objects' bytes.
    pub objects: ObjectsConfig,
    /// This point of presence's name: `request.cf.colo`.
    pub colo: String,
    /// `[geo] database`: a GeoIP database in MaxMind's format for `request.cf`'s location.
    pub geo_database: Option<PathBuf>,
    /// `[geo] trusted_proxies`: peers whose `CF-Connecting-IP`, `X-Forwarded-For` and
    /// `CF-IPCountry` headers name the client and its country.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `[cluster]`: the hub this server joins as a point of presence; `None`: one machine.
    pub cluster: Option<ClusterConfig>,
    /// `[server] listen_tls` and `[tls]`: HTTPS beside plain HTTP; `None`: plain HTTP only.
    pub tls: Option<TlsConfig>,
    /// `[server] redirect_http`: plain-HTTP requests get a 301 to HTTPS.
    pub redirect_http: bool,
    /// `[dns]`: geo DNS, at a PoP.
    pub dns: Option<DnsConfig>,
}

/// HTTPS: where to listen, and the certificates, chosen by the name the client asks for (SNI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub listen: SocketAddr,
    pub certificates: Vec<CertificateConfig>,
    /// `[tls.acme]`: certificates obtained and renewed from an ACME directory.
    pub acme: Option<AcmeConfig>,
}

/// `[tls.acme]`: an ACME directory (Let's Encrypt's, or another) that issues a certificate for
/// `domains`, proved with HTTP-01 on `[server] listen`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    pub directory: String,
    pub email: String,
    pub domains: Vec<String>,
}

/// `[[tls.certificates]]`: one certificate chain and its key, for `domains` (`*.example.test`
/// for any one label under `example.test`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    pub domains: Vec<String>,
    /// PEM: the certificate, then its chain; relative to verge.toml.
    pub cert: PathBuf,
    /// PEM: the private key; relative to verge.toml.
    pub key: PathBuf,
}

/// `[cluster]`: a point of presence's hub (a NATS server or cluster with JetStream) and its
/// name among the others.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The hub's URLs (`nats://host:port`); any one of them will do.
    pub nats: Vec<String>,
    /// This PoP's name: lower-case letters, digits and `-`; also `request.cf.colo`.
    pub pop: String,
    /// A NATS credentials file (user JWT and seed), relative to verge.toml.
    pub credentials: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Whether the hub must be reached over TLS.
    #[serde(default)]
    pub tls: bool,
    /// How many of the hub's nodes keep each stored value (1 to 5): 3 on a hub of three nodes,
    /// so that a write survives the loss of one.
    #[serde(default = "one_replica")]
    pub replicas: usize,
    /// The primary PoP of D1 databases, by database id; the others' primary is the first PoP
    /// to use them.
    #[serde(default)]
    pub d1_primaries: std::collections::BTreeMap<String, String>,
    /// Where this PoP is, for geo DNS to send each client to the nearest.
    pub location: Option<Location>,
    /// The addresses geo DNS hands out for this PoP (A and AAAA records).
    #[serde(default)]
    pub addresses: Vec<std::net::IpAddr>,
    /// Whether geo DNS leaves this PoP out of its answers (it keeps serving who comes).
    #[serde(default)]
    pub drain: bool,
}

/// A place on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

impl Location {
    /// The great-circle distance to `other`, in kilometres (haversine).
    pub fn distance_km(self, other: Location) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (lat_a, lat_b) = (self.lat.to_radians(), other.lat.to_radians());
        let half_lat = (lat_b - lat_a) / 2.0;
        let half_lon = (other.lon - self.lon).to_radians() / 2.0;
        let h = half_lat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_lon.sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
    }
}

/// `[dns]`: the authoritative name server every PoP runs, answering each client with the
/// nearest healthy PoP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// UDP and TCP.
    pub listen: SocketAddr,
    /// The names answered for (each and every name under it); others are refused.
    pub zones: Vec<String>,
    #[serde(default = "default_dns_ttl")]
    pub ttl: u32,
    /// The PoP a client that cannot be located gets; by default, the answering one.
    pub default: Option<String>,
}

fn default_dns_ttl() -> u32 {
    30
}

fn one_replica() -> usize {
    1
}

impl ClusterConfig {
    /// Why this section cannot be used, if it cannot.
    fn problem(&self) -> Option<String> {
        if self.nats.is_empty() {
            return Some("[cluster] nats: name at least one hub URL".into());
        }
        let valid_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if self.pop.is_empty() || self.pop.len() > 32 || !self.pop.chars().all(valid_name) {
            return Some(format!(
                "[cluster] pop: \"{}\" is not a PoP name (1 to 32 of a-z, 0-9 and -)",
                self.pop
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Some(format!(
                "[cluster] replicas: {} is not 1 to 5 (a NATS stream's replicas)",
                self.replicas
            ));
        }
        match (&self.credentials, &self.user, &self.password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                Some("[cluster]: give credentials or user and password, not both".into())
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                Some("[cluster]: user and password go together".into())
            }
            _ => None,
        }
    }
}

/// `[objects]`: where R2 buckets keep objects' bytes — files under `data_dir/r2` (the
/// default), or an S3 bucket. Either way the index of keys stays in `data_dir/r2`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "lowercase")]
pub enum ObjectsConfig {
    #[default]
    Filesystem,
    /// An S3 bucket, or an S3-compatible server's. Credentials come from the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    S3 {
        bucket: String,
        /// Another server than AWS's, such as `http://127.0.0.1:9000`.
        endpoint: Option<String>,
        region: Option<String>,
        /// Whether `endpoint` may be plain `http://`.
        #[serde(default)]
        allow_http: bool,
    },
}

impl Zone {
    /// Whether `host` (without a port) is the zone's name or a subdomain of it.
    pub fn serves(&self, host: &str) -> bool {
        host == self.name
            || host
                .strip_suffix(self.name.as_str())
                .is_some_and(|sub| sub.ends_with('.'))
    }
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub token: String,
}

/// A zone: requests for its host (and subdomains) that no route claims go to its origin, and
/// workers' `fetch()` to its hosts reaches the origin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    pub origin: url::Url,
}

/// Server-wide defaults; a worker's own `[limits]` overrides `cpu_ms` and `subrequests`.
/// Defaults follow Workers' paid plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// CPU milliseconds per request.
    pub cpu_ms: u64,
    /// Heap per isolate, in MiB.
    pub memory_mib: u64,
    /// `fetch()` calls per request.
    pub subrequests: u32,
    /// Request bodies above this many bytes are refused with 413.
    pub max_request_body: u64,
    /// How long a request may wait for its worker's response (a promise that never settles).
    pub wall_ms: u64,
    /// An isolate unused for this long is dropped (re-created on the next request).
    pub isolate_idle_ms: u64,
    /// The JavaScript heap all isolates may hold together, in MiB; past it, the least recently
    /// used are dropped. 0: no budget.
    pub isolate_budget_mib: u64,
    /// What the Cache API may hold in memory, in MiB; past it, the least recently used go.
    pub cache_mib: u64,
    /// What the Cache API may hold on disk (`data_dir/cache.sqlite3`), in MiB, behind memory.
    /// 0: no disk tier.
    pub cache_disk_mib: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            cpu_ms: 30_000,
            memory_mib: 128,
            subrequests: 1000,
            max_request_body: 500 * 1000 * 1000,
            wall_ms: 120_000,
            isolate_idle_ms: 5 * 60 * 1000,
            isolate_budget_mib: 0,
            cache_mib: 256,
            cache_disk_mib: 1024,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServerConfig {
    server: RawServer,
    admin: Option<RawAdmin>,
    #[serde(default)]
    workers: Vec<RawWorker>,
    #[serde(default)]
    zones: Vec<Zone>,
    #[serde(default)]
    limits: ServerLimits,
    #[serde(default)]
    outbound: RawOutbound,
    #[serde(default)]
    objects: ObjectsConfig,
    #[serde(default)]
    geo: RawGeo,
    cluster: Option<ClusterConfig>,
    tls: Option<RawTls>,
    dns: Option<DnsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    certificates: Vec<CertificateConfig>,
    acme: Option<AcmeConfig>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeo {
    database: Option<PathBuf>,
    #[serde(default)]
    trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    header_timeout_ms: Option<u64>,
    drain_timeout_ms: Option<u64>,
    colo: Option<String>,
    listen_tls: Option<SocketAddr>,
    #[serde(default)]
    redirect_http: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: SocketAddr,
    token: Option<String>,
    token_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    path: PathBuf,
    #[serde(default)]
    engine: Engine,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    #[serde(default)]
    allow: Vec<ipnet::IpNet>,
}

impl ServerConfig {
    /// Reads `verge.toml` at `path` and every worker project it names.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let raw: RawServerConfig =
            toml::from_str(&text).map_err(|e| error(e.to_string().trim_end().to_owned()))?;
        let base = crate::parent_dir(path);
        let cluster = match raw.cluster {
            Some(cluster) => {
                if let Some(problem) = cluster.problem() {
                    return Err(error(problem));
                }
                Some(ClusterConfig {
                    credentials: cluster.credentials.map(|file| base.join(file)),
                    ..cluster
                })
            }
            None => None,
        };
        let admin = raw
            .admin
            .map(|admin| {
                let token = match (admin.token, admin.token_env) {
                    (Some(token), None) => token,
                    (None, Some(name)) => std::env::var(&name).map_err(|_| {
                        error(format!("[admin] token_env names {name}, which is not set"))
                    })?,
                    _ => {
                        return Err(error(
                            "[admin] needs exactly one of `token` and `token_env`".into(),
                        ))
                    }
                };
                if token.len() < 16 {
                    return Err(error(
                        "[admin] the token must be at least 16 characters".into(),
                    ));
                }
                Ok(AdminConfig {
                    listen: admin.listen,
                    token,
                })
            })
            .transpose()?;
        let mut workers: Vec<WorkerConfig> = Vec::new();
        // Each name's index in `workers`: thousands of workers are checked without a scan each.
        let mut named: std::collections::HashMap<String, usize> = Default::default();
        for (index, worker) in raw.workers.iter().enumerate() {
            let dir = base.join(&worker.path);
            let mut config = WorkerConfig::locate(&dir).map_err(|e| {
                error(format!(
                    "[[workers]] #{} (path = {:?}): {e}",
                    index + 1,
                    worker.path
                ))
            })?;
            config.engine = worker.engine;
            if let Some(&other) = named.get(&config.name) {
                return Err(error(format!(
                    "two workers are named {:?} ({} and {})",
                    config.name,
                    workers[other].root.display(),
                    config.root.display()
                )));
            }
            named.insert(config.name.clone(), workers.len());
            workers.push(config);
        }
        for zone in &raw.zones {
            if !matches!(zone.origin.scheme(), "http" | "https") || !zone.origin.has_host() {
                return Err(error(format!(
                    "[[zones]] {:?}: origin must be an http:// or https:// URL",
                    zone.name
                )));
            }
        }
        let tls = match (raw.server.listen_tls, raw.tls) {
            (Some(listen), Some(tls)) if !tls.certificates.is_empty() || tls.acme.is_some() => {
                if let Some(acme) = &tls.acme {
                    if acme.domains.is_empty() || acme.email.is_empty() {
                        return Err(error("[tls.acme] needs domains and an email".into()));
                    }
                    if let Some(wildcard) = acme.domains.iter().find(|d| d.contains('*')) {
                        return Err(error(format!(
                            "[tls.acme] domains: {wildcard} is a wildcard, which HTTP-01 cannot \
                             prove: give it as a [[tls.certificates]] file"
                        )));
                    }
                    if !acme.directory.starts_with("https://") {
                        return Err(error(format!(
                            "[tls.acme] directory: {:?} is not an https:// URL",
                            acme.directory
                        )));
                    }
                }
                let certificates = tls
                    .certificates
                    .into_iter()
                    .map(|certificate| {
                        if certificate.domains.is_empty() {
                            return Err(error(format!(
                                "[[tls.certificates]] {}: name its domains",
                                certificate.cert.display()
                            )));
                        }
                        Ok(CertificateConfig {
                            cert: base.join(&certificate.cert),
                            key: base.join(&certificate.key),
                            ..certificate
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Some(TlsConfig {
                    listen,
                    certificates,
                    acme: tls.acme,
                })
            }
            (Some(_), _) => {
                return Err(error(
                    "[server] listen_tls needs [[tls.certificates]] or [tls.acme]".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(error("[tls] needs [server] listen_tls to serve on".into()))
            }
            (None, None) => None,
        };
        if let Some(dns) = &raw.dns {
            if cluster.is_none() {
                return Err(error(
                    "[dns] needs [cluster]: it answers with the cluster's PoPs".into(),
                ));
            }
            if dns.zones.is_empty() {
                return Err(error("[dns] zones: name at least one zone".into()));
            }
        }
        if let Some(cluster) = &cluster {
            if raw.dns.is_some() && (cluster.location.is_none() || cluster.addresses.is_empty()) {
                return Err(error(
                    "[dns] needs [cluster] location and addresses: where this PoP is, and what to \
                     hand out for it"
                        .into(),
                ));
            }
        }
        if raw.server.redirect_http && tls.is_none() {
            return Err(error(
                "[server] redirect_http needs listen_tls to redirect to".into(),
            ));
        }
        Ok(Self {
            file: path.to_owned(),
            listen: raw.server.listen,
            tls,
            redirect_http: raw.server.redirect_http,
            dns: raw.dns,
            data_dir: raw.server.data_dir.map(|dir| base.join(dir)),
            header_timeout: Duration::from_millis(raw.server.header_timeout_ms.unwrap_or(10_000)),
            drain_timeout: Duration::from_millis(raw.server.drain_timeout_ms.unwrap_or(30_000)),
            admin,
            workers,
            zones: raw.zones,
            limits: raw.limits,
            outbound_allow: raw.outbound.allow,
            objects: raw.objects,
            // A PoP's name is its colo, as Cloudflare's data centers are named.
            colo: match &cluster {
                Some(cluster) => cluster.pop.clone(),
                None => raw.server.colo.unwrap_or_else(|| "verge".into()),
            },
            geo_database: raw.geo.database.map(|path| base.join(path)),
            trusted_proxies: raw.geo.trusted_proxies,
            cluster,
        })
    }
}
