//! One DNS answer, from a query's bytes to the response's: authoritative for the configured
//! zones (every name under them), refusing others. A and AAAA name the nearest healthy PoP to
//! the client — the address its resolver sends as EDNS Client Subnet (whose scope the answer
//! echoes), else the resolver's own — by great-circle distance; `ns-<pop>.<zone>` names that
//! PoP; the apex has SOA and NS (one per healthy PoP). Nothing here does I/O.

use super::{Candidate, Directory};
use crate::geo::Geo;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::IpAddr;
use std::sync::Arc;
use verge_config::DnsConfig;

/// The most a UDP answer may be without EDNS, and the most it may be at all (RFC 9715's
/// advice, which keeps answers from fragmenting).
const PLAIN_UDP: usize = 512;
const EDNS_UDP_MAX: usize = 1232;

/// What answering needs besides the query.
pub(super) struct Answering<'a> {
    pub config: &'a DnsConfig,
    /// The zones, parsed.
    pub zones: &'a [Name],
    pub geo: &'a Geo,
    pub directory: &'a Directory,
    /// The answering PoP's name: the fallback for clients that cannot be located.
    pub here: &'a str,
}

/// The response to `query` from `source`, or nothing for what deserves none (a response, or
/// bytes too short to hold an id). Over UDP (`udp`), an answer too large for the client is cut
/// to its header and question with the TC bit set.
pub(super) fn answer(query: &[u8], source: IpAddr, udp: bool, at: &Answering) -> Option<Vec<u8>> {
    let request = match Message::from_vec(query) {
        Ok(request) => request,
        // A header can be read, of a query (not a response): say the rest was malformed.
        Err(_) if query.len() >= 12 && query[2] & 0x80 == 0 => {
            let id = u16::from_be_bytes([query[0], query[1]]);
            return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
        Err(_) => return None,
    };
    if request.message_type() != MessageType::Query {
        return None;
    }
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired());
    let edns = request.extensions().as_ref();
    if request.op_code() != OpCode::Query {
        response.set_response_code(ResponseCode::NotImp);
        return encode(response, udp, edns);
    }
    let [query] = request.queries() else {
        response.set_response_code(ResponseCode::FormErr);
        return encode(response, udp, edns);
    };
    response.add_query(query.clone());
    let name = query.name().to_lowercase();
    let Some(zone) = at.zones.iter().find(|zone| zone.zone_of(&name)).cloned() else {
        response.set_response_code(ResponseCode::Refused);
        return encode(response, udp, edns);
    };
    response.set_authoritative(true);
    let subnet = edns.and_then(|edns| match edns.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(subnet)) => Some(*subnet),
        _ => None,
    });
    let client = subnet.map_or(source, |subnet| subnet.addr());
    records(&mut response, query, &name, &zone, client, at);
    let mut reply_edns = edns.map(|_| {
        let mut reply = Edns::new();
        reply.set_max_payload(EDNS_UDP_MAX as u16);
        reply
    });
    if let (Some(reply), Some(subnet)) = (&mut reply_edns, subnet) {
        // The answer holds for the whole subnet the resolver named.
        let scope = ClientSubnet::new(
            subnet.addr(),
            subnet.source_prefix(),
            subnet.source_prefix(),
        );
        reply.options_mut().insert(EdnsOption::Subnet(scope));
    }
    if let Some(reply) = reply_edns {
        response.set_edns(reply);
    }
    encode(response, udp, edns)
}

/// Adds what `query` for `name` in `zone` asks, for a client at `client`.
fn records(
    response: &mut Message,
    query: &Query,
    name: &Name,
    zone: &Name,
    client: IpAddr,
    at: &Answering,
) {
    let ttl = at.config.ttl;
    let healthy = at.directory.healthy();
    let apex = name == zone;
    let named_pop = healthy
        .iter()
        .find(|pop| ns_name(pop, zone).as_ref() == Some(name));
    let answers: Vec<RData> = match query.query_type() {
        RecordType::A | RecordType::AAAA => {
            let chosen = named_pop.or_else(|| nearest(&healthy, client, at));
            let want_v4 = query.query_type() == RecordType::A;
            (chosen.into_iter())
                .flat_map(|pop| pop.addresses.iter())
                .filter_map(|address| match address {
                    IpAddr::V4(v4) if want_v4 => Some(RData::A(A(*v4))),
                    IpAddr::V6(v6) if !want_v4 => Some(RData::AAAA(AAAA(*v6))),
                    _ => None,
                })
                .collect()
        }
        RecordType::SOA if apex => vec![RData::SOA(soa(zone))],
        RecordType::NS if apex => healthy
            .iter()
            .filter_map(|pop| ns_name(pop, zone))
            .map(|ns| RData::NS(NS(ns)))
            .collect(),
        _ => Vec::new(),
    };
    if answers.is_empty() {
        // No data for this type: the SOA says for how long that holds.
        response.add_name_server(Record::from_rdata(zone.clone(), ttl, RData::SOA(soa(zone))));
    }
    for rdata in answers {
        response.add_answer(Record::from_rdata(name.clone(), ttl, rdata));
    }
}

/// The zone's SOA: `ns.<zone>` its primary name server (a name, not one of the NS set, as
/// every PoP is alike), the serial the time.
fn soa(zone: &Name) -> SOA {
    let ns = Name::from_ascii("ns").and_then(|ns| ns.append_domain(zone));
    let hostmaster = Name::from_ascii("hostmaster").and_then(|h| h.append_domain(zone));
    let serial = (verge_storage::unix_now() % u64::from(u32::MAX)) as u32;
    SOA::new(
        ns.unwrap_or_else(|_| zone.clone()),
        hostmaster.unwrap_or_else(|_| zone.clone()),
        serial,
        3600,
        600,
        86_400,
        30,
    )
}

/// `ns-<pop>.<zone>`, the name of PoP `pop` as a name server of `zone`.
fn ns_name(pop: &Candidate, zone: &Name) -> Option<Name> {
    Name::from_ascii(format!("ns-{}", pop.pop))
        .and_then(|ns| ns.append_domain(zone))
        .ok()
}

/// The healthy PoP nearest to `client`; when it cannot be located, `[dns] default` (or the
/// answering PoP) if healthy, else any.
fn nearest<'p>(
    healthy: &'p [Arc<Candidate>],
    client: IpAddr,
    at: &Answering,
) -> Option<&'p Arc<Candidate>> {
    if let Some(here) = at.geo.coordinates(client) {
        return healthy
            .iter()
            .map(|pop| (pop, here.distance_km(pop.location)))
            .min_by(|(_, a), (_, b)| a.total_cmp(b))
            .map(|(pop, _)| pop);
    }
    let fallback = at.config.default.as_deref().unwrap_or(at.here);
    healthy
        .iter()
        .find(|pop| pop.pop == fallback)
        .or_else(|| healthy.first())
}

/// `response` as bytes: over UDP no larger than the client takes, else truncated.
fn encode(mut response: Message, udp: bool, edns: Option<&Edns>) -> Option<Vec<u8>> {
    let bytes = response.to_vec().ok()?;
    let limit = match edns {
        Some(edns) => usize::from(edns.max_payload()).clamp(PLAIN_UDP, EDNS_UDP_MAX),
        None => PLAIN_UDP,
    };
    if !udp || bytes.len() <= limit {
        return Some(bytes);
    }
    response.take_answers();
    response.take_name_servers();
    response.take_additionals();
    response.set_truncated(true);
    response.to_vec().ok()
}
