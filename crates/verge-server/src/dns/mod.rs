//! Geo DNS at a PoP: an authoritative name server for `[dns] zones` on UDP and TCP, every PoP
//! answering alike, so that any of them can be listed as a name server. Each answer names the
//! nearest healthy PoP ([`answer`]); a PoP is healthy while its heartbeats reach this one
//! ([`Directory`], fed by [`follow_heartbeats`]) and it does not ask to be drained.
//!
//! Bad input: a packet that is not DNS gets FORMERR (or nothing: too short for an id, or a
//! response); each source (an IPv4 address, an IPv6 /64) is limited to [`QUERIES_PER_SECOND`],
//! past which it gets no answer, so a forged source can be sent little; UDP answers fit what
//! the client accepts, else are truncated; TCP takes [`TCP_CONNECTIONS`] connections at once,
//! each bounded in time, and messages of [`TCP_QUERY_MAX`] bytes at most.

mod answer;

use crate::geo::Geo;
use answer::{answer, Answering};
use futures_util::StreamExt as _;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use verge_cluster::{Cluster, PopReport};
use verge_config::{DnsConfig, Location};

/// A PoP whose last heartbeat arrived longer ago than this is left out of answers (heartbeats
/// come every second).
const HEALTHY_WITHIN: Duration = Duration::from_secs(3);

/// Queries one source address may send per second, and the burst it may save up.
pub const QUERIES_PER_SECOND: f64 = 200.0;
const QUERY_BURST: f64 = 400.0;

/// Sources whose allowance is tracked before the oldest are forgotten.
const TRACKED_SOURCES: usize = 65_536;

/// How long a TCP client may take over each message.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// The most TCP connections served at once, and the largest query one may send (a question is
/// a few dozen bytes).
pub const TCP_CONNECTIONS: usize = 512;
pub const TCP_QUERY_MAX: usize = 4096;

/// A PoP geo DNS may answer with: its name, place and addresses.
#[derive(Debug, PartialEq)]
pub(crate) struct Candidate {
    pub pop: String,
    pub location: Location,
    pub addresses: Vec<IpAddr>,
}

impl Candidate {
    /// The candidate `report` makes, unless it is draining or lacks a place or an address.
    fn of(report: PopReport) -> Option<Self> {
        let usable = !report.drain && !report.addresses.is_empty();
        Some(Self {
            location: report.location.filter(|_| usable)?,
            pop: report.pop,
            addresses: report.addresses,
        })
    }
}

/// Every PoP geo DNS may answer with, as this one last heard of it: what each answer needs,
/// no more, as it is read for every query.
#[derive(Default)]
pub struct Directory {
    pops: RwLock<HashMap<String, (Arc<Candidate>, Instant)>>,
}

impl Directory {
    /// Notes `pop`'s heartbeat `report` (none: it left).
    fn heard(&self, pop: String, report: Option<PopReport>) {
        let mut pops = self.pops.write().unwrap_or_else(|p| p.into_inner());
        match report.and_then(Candidate::of) {
            Some(candidate) => pops.insert(pop, (Arc::new(candidate), Instant::now())),
            None => pops.remove(&pop),
        };
    }

    /// The PoPs to answer with: heard from lately, in order of name, so that every PoP answers
    /// alike. When none was heard from lately — this PoP has lost the hub, not every PoP its
    /// life — the last known are answered with.
    fn healthy(&self) -> Vec<Arc<Candidate>> {
        let pops = self.pops.read().unwrap_or_else(|p| p.into_inner());
        let pick = |fresh_only: bool| {
            let mut picked: Vec<Arc<Candidate>> = pops
                .values()
                .filter(|(_, heard)| !fresh_only || heard.elapsed() < HEALTHY_WITHIN)
                .map(|(candidate, _)| candidate.clone())
                .collect();
            picked.sort_by(|a, b| a.pop.cmp(&b.pop));
            picked
        };
        let fresh = pick(true);
        if fresh.is_empty() {
            pick(false)
        } else {
            fresh
        }
    }
}

/// Keeps `directory` up to date with every PoP's heartbeat, for as long as the server runs.
/// Heartbeats come every second: a watch silent for [`HEALTHY_WITHIN`] is made anew.
pub async fn follow_heartbeats(cluster: Arc<Cluster>, directory: Arc<Directory>) {
    loop {
        match cluster.heartbeats().await {
            Ok(heartbeats) => {
                let mut heartbeats = std::pin::pin!(heartbeats);
                while let Ok(Some((pop, report))) =
                    tokio::time::timeout(HEALTHY_WITHIN, heartbeats.next()).await
                {
                    directory.heard(pop, report);
                }
            }
            Err(e) => tracing::debug!("cannot follow the heartbeats: {e}"),
        }
        tokio::time::sleep(verge_cluster::FOLLOW_AGAIN_AFTER).await;
    }
}

/// A running name server's address.
pub struct DnsServer {
    pub local_addr: SocketAddr,
}

/// Binds `config.listen` (UDP and TCP) and answers there, on a thread of its own, for as long
/// as the server runs; `here` is this PoP's name.
pub fn serve_dns(
    config: DnsConfig,
    geo: Arc<Geo>,
    directory: Arc<Directory>,
    here: String,
) -> std::io::Result<DnsServer> {
    let zones = (config.zones.iter())
        .map(|zone| {
            hickory_proto::rr::Name::from_ascii(zone)
                .map(|name| name.to_lowercase())
                .map_err(|e| std::io::Error::other(format!("[dns] zone {zone:?}: {e}")))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let udp = std::net::UdpSocket::bind(config.listen)?;
    let local_addr = udp.local_addr()?;
    let tcp = std::net::TcpListener::bind(local_addr)?;
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("verge-dns".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return tracing::error!("cannot start the DNS runtime: {e}"),
            };
            let shared = Arc::new(Shared {
                zones,
                config,
                geo,
                directory,
                here,
                allowance: Mutex::default(),
            });
            runtime.block_on(async move {
                let (udp, tcp) = match (
                    tokio::net::UdpSocket::from_std(udp),
                    tokio::net::TcpListener::from_std(tcp),
                ) {
                    (Ok(udp), Ok(tcp)) => (udp, tcp),
                    (Err(e), _) | (_, Err(e)) => return tracing::error!("cannot serve DNS: {e}"),
                };
                tokio::spawn(serve_tcp(tcp, shared.clone()));
                serve_udp(udp, shared).await;
            });
        })?;
    Ok(DnsServer { local_addr })
}

struct Shared {
    config: DnsConfig,
    /// `config.zones`, parsed.
    zones: Vec<hickory_proto::rr::Name>,
    geo: Arc<Geo>,
    directory: Arc<Directory>,
    here: String,
    /// Each source's query allowance: what it has left, and when that was counted.
    allowance: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Shared {
    fn answer(&self, query: &[u8], source: IpAddr, udp: bool) -> Option<Vec<u8>> {
        if !self.allows(source) {
            return None;
        }
        let answering = Answering {
            config: &self.config,
            zones: &self.zones,
            geo: &self.geo,
            directory: &self.directory,
            here: &self.here,
        };
        answer(query, source, udp, &answering)
    }

    /// Whether `source` may have one more answer now (a token bucket per IPv4 address, per
    /// IPv6 /64).
    fn allows(&self, source: IpAddr) -> bool {
        let source = match source {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
            v4 => v4,
        };
        let mut allowance = self.allowance.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if allowance.len() >= TRACKED_SOURCES && !allowance.contains_key(&source) {
            // Sources whose allowance has refilled lose nothing by being forgotten.
            let refill = Duration::from_secs_f64(QUERY_BURST / QUERIES_PER_SECOND);
            allowance.retain(|_, (_, counted)| now.duration_since(*counted) < refill);
            if allowance.len() >= TRACKED_SOURCES {
                return false;
            }
        }
        let (left, counted) = allowance.entry(source).or_insert((QUERY_BURST, now));
        let earned = now.duration_since(*counted).as_secs_f64() * QUERIES_PER_SECOND;
        *left = (*left + earned).min(QUERY_BURST);
        *counted = now;
        if *left < 1.0 {
            return false;
        }
        *left -= 1.0;
        true
    }
}

async fn serve_udp(socket: tokio::net::UdpSocket, shared: Arc<Shared>) {
    // The largest datagram there is: anything longer was cut, and is malformed anyway.
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (length, peer) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!("a DNS datagram could not be read: {e}");
                continue;
            }
        };
        if let Some(reply) = shared.answer(&buffer[..length], peer.ip(), true) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let connections = Arc::new(tokio::sync::Semaphore::new(TCP_CONNECTIONS));
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(TCP_TIMEOUT * 4, serve_stream(stream, peer, shared)).await;
            drop(permit);
        });
    }
}

/// Answers each length-prefixed message on `stream` until it ends or stalls.
async fn serve_stream(mut stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    loop {
        let mut length = [0u8; 2];
        match tokio::time::timeout(TCP_TIMEOUT, stream.read_exact(&mut length)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let length = usize::from(u16::from_be_bytes(length));
        if length > TCP_QUERY_MAX {
            return;
        }
        let mut query = vec![0u8; length];
        match tokio::time::timeout(TCP_TIMEOUT, stream.read_exact(&mut query)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Some(reply) = shared.answer(&query, peer.ip(), false) else {
            return;
        };
        let Ok(length) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_all(&length.to_be_bytes()).await.is_err()
            || stream.write_all(&reply).await.is_err()
        {
            return;
        }
    }
}
