//! Name resolution for `node:dns`: `lookup` through the system's resolver (getaddrinfo, as
//! Node's `dns.lookup` does), and `resolve*` as DNS queries over UDP, retried over TCP when the
//! answer was truncated, to the name servers of /etc/resolv.conf or those a worker set with
//! `setServers` (which the outbound policy must permit).

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verge_js::{Data, OpError};

/// How long one server has to answer one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one `resolve` may take over every server it asks.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most name servers one `resolve` asks, in turn.
pub(crate) const MAX_SERVERS: usize = 4;

/// Node's error codes, which `node:dns` puts on its errors.
fn code(code: &str) -> OpError {
    OpError::Error(code.to_owned())
}

/// The addresses `host` resolves to, as getaddrinfo gives them.
pub(crate) async fn lookup(host: &str) -> Result<Vec<IpAddr>, OpError> {
    let found = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| code("ENOTFOUND"))?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address.ip()) {
            addresses.push(address.ip());
        }
    }
    if addresses.is_empty() {
        return Err(code("ENOTFOUND"));
    }
    Ok(addresses)
}

/// The name servers of /etc/resolv.conf (the local resolver if it names none).
pub(crate) fn system_servers() -> Vec<SocketAddr> {
    let configured: Vec<SocketAddr> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if configured.is_empty() {
        return vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53)];
    }
    configured
}

/// `name`'s records of type `kind` (A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, CAA), asked of
/// `servers` in turn: each record as a list of its parts (see `record_data`).
pub(crate) async fn resolve(
    servers: &[SocketAddr],
    name: &str,
    kind: &str,
) -> Result<Data, OpError> {
    let record_type = match kind {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "CNAME" => RecordType::CNAME,
        "MX" => RecordType::MX,
        "NS" => RecordType::NS,
        "PTR" => RecordType::PTR,
        "SOA" => RecordType::SOA,
        "SRV" => RecordType::SRV,
        "TXT" => RecordType::TXT,
        "CAA" => RecordType::CAA,
        _ => return Err(OpError::Type(format!("Unknown rrtype: {kind}"))),
    };
    let name = Name::from_utf8(name).map_err(|_| code("EBADNAME"))?;
    let mut query = Message::new();
    query
        .set_id(rand_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, record_type));
    let bytes = query.to_vec().map_err(|_| code("EBADNAME"))?;
    let asking = async {
        let mut last = code("ECONNREFUSED");
        for server in servers.iter().take(MAX_SERVERS) {
            match ask(*server, &bytes, query.id()).await {
                Ok(answer) => return answers(&answer, record_type),
                Err(error) => last = error,
            }
        }
        Err(last)
    };
    tokio::time::timeout(RESOLVE_TIMEOUT, asking)
        .await
        .map_err(|_| code("ETIMEOUT"))?
}

fn rand_id() -> u16 {
    let mut id = [0u8; 2];
    // An id guessed by an off-path attacker could forge an answer; a fixed one on failure
    // still works.
    let _ = getrandom::fill(&mut id);
    u16::from_le_bytes(id)
}

/// One server's answer to `query` (over UDP, then TCP if it was truncated).
async fn ask(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, OpError> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|_| code("ECONNREFUSED"))?;
    socket
        .send_to(query, server)
        .await
        .map_err(|_| code("ECONNREFUSED"))?;
    let mut buffer = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
    let answer = loop {
        let (length, from) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer))
            .await
            .map_err(|_| code("ETIMEOUT"))?
            .map_err(|_| code("ECONNREFUSED"))?;
        // Anything but the server's answer to this query is ignored.
        if from != server {
            continue;
        }
        match Message::from_vec(&buffer[..length]) {
            Ok(message) if message.id() == id => break message,
            _ => continue,
        }
    };
    if !answer.truncated() {
        return Ok(answer);
    }
    over_tcp(server, query).await
}

async fn over_tcp(server: SocketAddr, query: &[u8]) -> Result<Message, OpError> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server).await?;
        let length = u16::try_from(query.len()).unwrap_or(u16::MAX).to_be_bytes();
        stream.write_all(&[&length[..], query].concat()).await?;
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).await?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer).await?;
        std::io::Result::Ok(answer)
    };
    let answer = tokio::time::timeout(QUERY_TIMEOUT, exchange)
        .await
        .map_err(|_| code("ETIMEOUT"))?
        .map_err(|_| code("ECONNREFUSED"))?;
    Message::from_vec(&answer).map_err(|_| code("EBADRESP"))
}

fn answers(answer: &Message, record_type: RecordType) -> Result<Data, OpError> {
    match answer.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err(code("ENOTFOUND")),
        ResponseCode::Refused => return Err(code("EREFUSED")),
        ResponseCode::FormErr => return Err(code("EFORMERR")),
        _ => return Err(code("ESERVFAIL")),
    }
    let records: Vec<Data> = answer
        .answers()
        .iter()
        .filter(|record| record.record_type() == record_type)
        .filter_map(|record| record_data(record.data(), record.ttl()))
        .collect();
    if records.is_empty() {
        return Err(code("ENODATA"));
    }
    Ok(Data::List(records))
}

/// A name as Node writes it: without the root's dot.
fn name_text(name: &Name) -> Data {
    Data::String(name.to_utf8().trim_end_matches('.').to_owned())
}

/// One record's parts: A/AAAA `[address, ttl]`; CNAME/NS/PTR `[name]`; MX `[priority,
/// exchange]`; TXT `[[chunks…]]`; SRV `[priority, weight, port, name]`; SOA `[nsname,
/// hostmaster, serial, refresh, retry, expire, minttl]`; CAA `[critical, tag, value]`.
fn record_data(data: &RData, ttl: u32) -> Option<Data> {
    let number = |n: f64| Data::Number(n);
    Some(Data::List(match data {
        RData::A(a) => vec![Data::String(a.0.to_string()), number(ttl.into())],
        RData::AAAA(a) => vec![Data::String(a.0.to_string()), number(ttl.into())],
        RData::CNAME(name) => vec![name_text(&name.0)],
        RData::NS(name) => vec![name_text(&name.0)],
        RData::PTR(name) => vec![name_text(&name.0)],
        RData::MX(mx) => vec![number(mx.preference().into()), name_text(mx.exchange())],
        RData::TXT(txt) => vec![Data::List(
            txt.txt_data()
                .iter()
                .map(|chunk| Data::String(String::from_utf8_lossy(chunk).into_owned()))
                .collect(),
        )],
        RData::SRV(srv) => vec![
            number(srv.priority().into()),
            number(srv.weight().into()),
            number(srv.port().into()),
            name_text(srv.target()),
        ],
        RData::SOA(soa) => vec![
            name_text(soa.mname()),
            name_text(soa.rname()),
            number(soa.serial().into()),
            number(soa.refresh().into()),
            number(soa.retry().into()),
            number(soa.expire().into()),
            number(soa.minimum().into()),
        ],
        RData::CAA(caa) => vec![
            number(if caa.issuer_critical() { 128.0 } else { 0.0 }),
            Data::String(caa.tag().as_str().to_owned()),
            Data::String(String::from_utf8_lossy(caa.raw_value()).into_owned()),
        ],
        _ => return None,
    }))
}
