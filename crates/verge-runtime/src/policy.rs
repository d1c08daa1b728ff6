//! Where a worker's `fetch()` may connect. Under `verge serve` only public addresses are
//! reachable: loopback, private, shared (CGNAT), link-local (cloud metadata lives there),
//! unique-local, multicast and unspecified addresses are refused unless the config allows them
//! by CIDR, as workerd's network allow lists do. `verge dev` allows everything.
//!
//! The check runs on the addresses a name resolves to, inside the connector, so a name that
//! resolves to a private address (DNS rebinding included) is refused at connect time; hosts
//! given as IP literals are checked before connecting.

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use ipnet::IpNet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The networks `fetch()` may reach.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    /// Everything is reachable (`verge dev`).
    pub allow_all: bool,
    /// Non-public networks that are reachable nevertheless.
    pub allow: Vec<IpNet>,
}

impl NetworkPolicy {
    /// Every address reachable, as under `verge dev`.
    pub fn open() -> Self {
        Self {
            allow_all: true,
            allow: Vec::new(),
        }
    }

    /// Public addresses and `allow`.
    pub fn public_only(allow: Vec<IpNet>) -> Self {
        Self {
            allow_all: false,
            allow,
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_all || is_public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (RFC 6598) and the benchmarking range (RFC 2544).
        || a == 100 && (64..128).contains(&b)
        || a == 198 && (18..20).contains(&b)
        || a >= 240)
}

/// The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address leads to: one of
/// those is as private as the address inside it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let octets = ip.octets();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ));
    }
    if segments[0] == 0x2002 {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7, including AWS's fd00:ec2::254 metadata) and link-local.
        || first & 0xfe00 == 0xfc00
        || first & 0xffc0 == 0xfe80
        // Documentation (2001:db8::/32).
        || first == 0x2001 && ip.segments()[1] == 0x0db8)
}

/// The message of a refused connection.
pub fn refusal(host: &str) -> String {
    format!(
        "{host} is not a public address; this server lets workers reach only public addresses \
         (allow a network with [outbound] allow in verge.toml)"
    )
}

/// The addresses `host` resolved to that `policy` permits; why it is refused if none.
pub fn permitted(
    policy: &NetworkPolicy,
    host: &str,
    addresses: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|address| policy.permits(address.ip()))
        .collect();
    if addresses.is_empty() {
        return Err(refusal(host));
    }
    Ok(addresses)
}

/// A DNS resolver that drops the addresses the policy refuses, and fails when none is left.
#[derive(Clone)]
pub struct PolicyResolver {
    inner: GaiResolver,
    policy: Arc<NetworkPolicy>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self {
            inner: GaiResolver::new(),
            policy,
        }
    }
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        let resolving = self.inner.call(name);
        Box::pin(async move {
            let addresses = permitted(&policy, &host, resolving.await?).map_err(|refused| {
                std::io::Error::new(std::io::ErrorKind::PermissionDenied, refused)
            })?;
            Ok(addresses.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass_unless_allowed() {
        let policy = NetworkPolicy::public_only(vec!["10.1.0.0/16"
            .parse()
            .unwrap_or_else(|_| unreachable!())]);
        let permits = |ip: &str| policy.permits(ip.parse().unwrap_or_else(|_| unreachable!()));
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            // NAT64 and 6to4 addresses of private IPv4 ones.
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ] {
            assert!(!permits(refused), "{refused} should be refused");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "10.1.2.3",
            "64:ff9b::101:101",
        ] {
            assert!(permits(allowed), "{allowed} should be allowed");
        }
        assert!(
            NetworkPolicy::open().permits("127.0.0.1".parse().unwrap_or_else(|_| unreachable!()))
        );
    }
}
