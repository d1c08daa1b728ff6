//! Outbound TCP and DNS: `cloudflare:sockets`' connect() and `node:net`/`node:tls` on it
//! against a real echo server and real TLS servers (from the start and by STARTTLS),
//! `node:dns` against a real name server, and a real PostgreSQL (Debian's, started by the
//! test) queried by `pg` from npm, unmodified; under `verge serve`'s outbound policy, a
//! private address is refused unless `[outbound] allow` lists it.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use support::postgres::Postgres;
use support::{client, get, get_host, project, tenant, DevServer};

/// A TCP server on a free loopback port that answers each connection with what it reads,
/// upper-cased, and closes its side when the client closes its own; with the count of
/// connections whose client has gone.
fn echo_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = ended.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    if stream
                        .write_all(&buffer[..read].to_ascii_uppercase())
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    (port, ended)
}

const ECHO_WORKER: &str = r#"
import { connect } from 'cloudflare:sockets';
import net from 'node:net';
import tls from 'node:tls';

const PORT = Number(globalThis.ECHO_PORT ?? 0);
const text = (bytes) => new TextDecoder().decode(bytes);

async function viaSockets(port) {
  const socket = connect({ hostname: '127.0.0.1', port });
  const info = await socket.opened;
  const writer = socket.writable.getWriter();
  await writer.write(new TextEncoder().encode('hello, '));
  await writer.write('sockets');
  await writer.close();
  let received = '';
  for await (const chunk of socket.readable) received += text(chunk);
  await socket.closed;
  return { received, remote: info.remoteAddress, hasLocal: info.localAddress.startsWith('127.0.0.1:') };
}

function viaNet(port) {
  return new Promise((resolve) => {
    const events = [];
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      events.push('connect');
      socket.write('ping ');
      socket.end('pong');
    });
    socket.on('data', (data) => { received += data.toString(); });
    socket.on('end', () => events.push('end'));
    socket.on('error', (error) => events.push(`error ${error.code}`));
    socket.on('close', () => {
      events.push('close');
      resolve({ received, events, remotePort: socket.remotePort === port, bytesWritten: socket.bytesWritten });
    });
  });
}

function refusedByNet(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', (error) => resolve([error.code, error.syscall, error.message]));
  });
}

function tlsToPlain(port) {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost' });
    socket.on('secureConnect', () => resolve('connected'));
    socket.on('error', (error) => resolve(`error: ${/TLS/.test(error.message)}`));
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const port = Number(url.searchParams.get('port'));
    switch (url.pathname) {
      case '/sockets': return Response.json(await viaSockets(port));
      case '/net': return Response.json(await viaNet(port));
      case '/refused': {
        const socket = connect(`127.0.0.1:${port}`);
        const opened = await socket.opened.then(() => 'opened', (error) => error.message);
        const closed = await socket.closed.then(() => 'closed', (error) => error.message);
        return Response.json({ opened, closed, net: await refusedByNet(port) });
      }
      case '/tls': return Response.json(await tlsToPlain(port));
      case '/left-open': {
        // Opened, used, and never closed: the request's end closes it.
        const socket = connect({ hostname: '127.0.0.1', port });
        const writer = socket.writable.getWriter();
        await writer.write(new TextEncoder().encode('still here?'));
        const { value } = await socket.readable.getReader().read();
        return Response.json(text(value));
      }
      case '/limits': {
        const outcomes = [];
        for (const address of ['no port here', { hostname: '127.0.0.1', port: 25 }, { hostname: '127.0.0.1', port }, { hostname: '127.0.0.1', port }, { hostname: '127.0.0.1', port }]) {
          try { connect(address).close(); outcomes.push('ok'); } catch (error) { outcomes.push(`${error.name}: ${error.message}`); }
        }
        return Response.json(outcomes);
      }
    }
    return new Response('no such test', { status: 404 });
  },
};
"#;

#[test]
fn sockets_and_node_net_speak_tcp() {
    let (port, ended) = echo_server();
    let dir = project(&[
        (
            "wrangler.toml",
            "name = \"tcp\"\nmain = \"index.js\"\ncompatibility_flags = [\"nodejs_compat\"]\n[limits]\nsubrequests = 2\n",
        ),
        ("index.js", ECHO_WORKER),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();
    let ask = |path: &str| -> serde_json::Value {
        let reply = get(&agent, &format!("{}{path}?port={port}", server.base));
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap()
    };

    let sockets = ask("/sockets");
    assert_eq!(sockets["received"], "HELLO, SOCKETS");
    assert_eq!(sockets["remote"], format!("127.0.0.1:{port}"));
    assert_eq!(sockets["hasLocal"], true);

    let net = ask("/net");
    assert_eq!(net["received"], "PING PONG");
    assert_eq!(
        net["events"],
        serde_json::json!(["connect", "end", "close"])
    );
    assert_eq!(net["remotePort"], true);
    assert_eq!(net["bytesWritten"], 9);

    // A port nothing listens on: refused, as an error both ways.
    let unused = support::free_port();
    let reply = get(&agent, &format!("{}/refused?port={unused}", server.base));
    let refused: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(
        refused["opened"].as_str().unwrap().contains("refused"),
        "{refused}"
    );
    assert_eq!(refused["opened"], refused["closed"]);
    assert_eq!(refused["net"][0], "ECONNREFUSED");
    assert_eq!(refused["net"][1], "connect");
    assert_eq!(
        refused["net"][2],
        format!("connect ECONNREFUSED 127.0.0.1:{unused}")
    );

    // TLS to a server that does not speak it fails the handshake, as an error event.
    assert_eq!(ask("/tls"), "error: true");

    // A socket its request left open is closed when the request ends, as on Workers.
    let before = ended.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(ask("/left-open"), "STILL HERE?");
    assert!(
        support::wait_until(std::time::Duration::from_secs(5), || ended
            .load(std::sync::atomic::Ordering::SeqCst)
            > before),
        "the socket the request left open stayed open"
    );

    // A malformed address and port 25 are refused before connecting; then the subrequest
    // limit (2) stops the third connection.
    let limits = ask("/limits");
    assert_eq!(
        limits[0],
        "TypeError: connect(): \"no port here\" is not an address of the form host:port"
    );
    assert!(
        limits[1]
            .as_str()
            .unwrap()
            .contains("port 25 is not allowed"),
        "{limits}"
    );
    assert_eq!(limits[2], "ok");
    assert_eq!(limits[3], "ok");
    assert!(
        limits[4].as_str().unwrap().contains("Too many subrequests"),
        "{limits}"
    );
}

/// A certificate for `localhost` signed by a fresh authority: (authority PEM, cert PEM, key).
fn localhost_certificate() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Verge sockets test authority");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (ca_pem, cert.der().clone(), key)
}

/// A server on a free loopback port speaking TLS with `cert`: on a connection that starts
/// with TLS (`starttls` false) or after a plain `STARTTLS` line answered `GO` (true), it
/// answers each read upper-cased.
fn tls_echo_server(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    starttls: bool,
) -> u16 {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                if starttls {
                    let mut line = [0u8; 9];
                    if stream.read_exact(&mut line).is_err() || &line != b"STARTTLS\n" {
                        return;
                    }
                    let _ = stream.write_all(b"GO\n");
                }
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut buffer = [0u8; 4096];
                while let Ok(read) = tls.read(&mut buffer) {
                    if read == 0 || tls.write_all(&buffer[..read].to_ascii_uppercase()).is_err() {
                        break;
                    }
                }
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

const TLS_WORKER: &str = r#"
import { connect } from 'cloudflare:sockets';
import tls from 'node:tls';
const text = (bytes) => new TextDecoder().decode(bytes);
async function exchange(socket, message) {
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  await writer.write(new TextEncoder().encode(message));
  const { value } = await reader.read();
  writer.releaseLock();
  reader.releaseLock();
  return text(value);
}
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const port = Number(url.searchParams.get('port'));
    switch (url.pathname) {
      case '/on': {
        const socket = connect({ hostname: 'localhost', port }, { secureTransport: 'on' });
        const reply = await exchange(socket, 'over tls');
        await socket.close();
        return Response.json({ reply, secureTransport: socket.secureTransport });
      }
      case '/starttls': {
        const plain = connect({ hostname: 'localhost', port }, { secureTransport: 'starttls' });
        const go = await exchange(plain, 'STARTTLS\n');
        const secure = plain.startTls();
        const reply = await exchange(secure, 'upgraded');
        let again;
        try { secure.startTls(); } catch (error) { again = error.message; }
        await secure.close();
        return Response.json({ go, reply, upgraded: plain.upgraded, plainClosed: await plain.closed.then(() => 'closed'), again });
      }
      case '/node': {
        const reply = await new Promise((resolve, reject) => {
          const socket = tls.connect({ port, host: 'localhost', servername: 'localhost' }, () => socket.write('node tls'));
          socket.on('data', (data) => { resolve([data.toString(), socket.authorized, socket.encrypted]); socket.end(); });
          socket.on('error', reject);
        });
        return Response.json(reply);
      }
      case '/untrusted-name': {
        const socket = connect({ hostname: '127.0.0.1', port }, { secureTransport: 'on' });
        return Response.json(await socket.opened.then(() => 'opened', (error) => error.message));
      }
    }
    return new Response('no such test', { status: 404 });
  },
};
"#;

#[test]
fn tls_from_the_start_and_by_starttls() {
    let (ca_pem, cert, key) = localhost_certificate();
    let direct = tls_echo_server(cert.clone(), key.clone_key(), false);
    let upgraded = tls_echo_server(cert, key, true);
    let dir = project(&[
        (
            "wrangler.toml",
            "name = \"tls\"\nmain = \"index.js\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
        ),
        ("index.js", TLS_WORKER),
        ("ca.pem", &ca_pem),
    ]);
    // The worker trusts the test's authority as a machine trusts one it installed.
    let server = DevServer::start_with_env(
        dir.path(),
        &[],
        &[("SSL_CERT_FILE", dir.path().join("ca.pem"))],
    );
    let agent = client();
    let ask = |path: &str, port: u16| -> serde_json::Value {
        let reply = get(&agent, &format!("{}{path}?port={port}", server.base));
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap()
    };
    assert_eq!(
        ask("/on", direct),
        serde_json::json!({ "reply": "OVER TLS", "secureTransport": "on" })
    );
    assert_eq!(
        ask("/starttls", upgraded),
        serde_json::json!({
            "go": "GO\n",
            "reply": "UPGRADED",
            "upgraded": true,
            "plainClosed": "closed",
            "again": "startTls() needs a socket connected with secureTransport: 'starttls'",
        })
    );
    assert_eq!(
        ask("/node", direct),
        serde_json::json!(["NODE TLS", true, true])
    );
    // The certificate names localhost, not 127.0.0.1: the handshake fails, naming TLS.
    let mismatch = ask("/untrusted-name", direct);
    assert!(
        mismatch.as_str().unwrap().contains("TLS handshake failed"),
        "{mismatch}"
    );
}

/// A DNS server on a free loopback UDP port with a few records of the test zone: A records
/// of svc.test, an MX of mail.test, a TXT of two strings, an SRV; nothing (NODATA) at
/// empty.test; NXDOMAIN elsewhere.
fn dns_server() -> u16 {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::rdata::{A, MX, SRV, TXT};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        while let Ok((length, from)) = socket.recv_from(&mut buffer) {
            let Ok(query) = Message::from_vec(&buffer[..length]) else {
                continue;
            };
            let Some(question) = query.queries().first().cloned() else {
                continue;
            };
            let name = question.name().clone();
            let text = name.to_utf8();
            let record = |data: RData| Record::from_rdata(name.clone(), 60, data);
            let answers: Option<Vec<Record>> = match (text.as_str(), question.query_type()) {
                ("svc.test.", RecordType::A) => Some(vec![
                    record(RData::A(A::new(10, 1, 2, 3))),
                    record(RData::A(A::new(10, 1, 2, 4))),
                ]),
                ("mail.test.", RecordType::MX) => Some(vec![record(RData::MX(MX::new(
                    10,
                    Name::from_ascii("mx1.mail.test.").unwrap(),
                )))]),
                ("txt.test.", RecordType::TXT) => Some(vec![record(RData::TXT(TXT::new(vec![
                    "v=spf1".into(),
                    "-all".into(),
                ])))]),
                ("_sip._tcp.test.", RecordType::SRV) => Some(vec![record(RData::SRV(SRV::new(
                    1,
                    5,
                    5060,
                    Name::from_ascii("sip.test.").unwrap(),
                )))]),
                ("empty.test." | "svc.test.", _) => Some(Vec::new()),
                _ => None,
            };
            let mut response = Message::new();
            response
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_recursion_desired(true)
                .set_recursion_available(true)
                .add_query(question);
            match answers {
                Some(answers) => {
                    response.add_answers(answers);
                }
                None => {
                    response.set_response_code(ResponseCode::NXDomain);
                }
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), from);
        }
    });
    port
}

#[test]
fn node_dns_resolves_through_a_real_name_server() {
    let port = dns_server();
    let dir = project(&[
        (
            "wrangler.toml",
            "name = \"dns\"\nmain = \"index.js\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
        ),
        (
            "index.js",
            r#"import dns from 'node:dns';
import { Resolver } from 'node:dns/promises';
const failure = (promise) => promise.then(() => 'resolved', (error) => [error.code, error.syscall, error.hostname, error.message]);
export default {
  async fetch(request) {
    const server = new URL(request.url).searchParams.get('server');
    const resolver = new Resolver();
    resolver.setServers([server]);
    const callbacks = new dns.Resolver();
    callbacks.setServers([server]);
    return Response.json({
      servers: resolver.getServers(),
      a: await resolver.resolve4('svc.test'),
      aTtl: await resolver.resolve4('svc.test', { ttl: true }),
      generic: await resolver.resolve('svc.test', 'A'),
      mx: await resolver.resolveMx('mail.test'),
      txt: await resolver.resolveTxt('txt.test'),
      srv: await resolver.resolveSrv('_sip._tcp.test'),
      callback: await new Promise((resolve) => callbacks.resolveMx('mail.test', (error, records) => resolve([error, records]))),
      missing: await failure(resolver.resolve4('missing.test')),
      empty: await failure(resolver.resolve6('empty.test')),
      badServer: (() => { try { resolver.setServers(['not an address']); return 'set'; } catch (error) { return error.code; } })(),
    });
  },
};
"#,
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let reply = get(
        &client(),
        &format!("{}/?server=127.0.0.1:{port}", server.base),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        got,
        serde_json::json!({
            "servers": [format!("127.0.0.1:{port}")],
            "a": ["10.1.2.3", "10.1.2.4"],
            "aTtl": [{ "address": "10.1.2.3", "ttl": 60 }, { "address": "10.1.2.4", "ttl": 60 }],
            "generic": ["10.1.2.3", "10.1.2.4"],
            "mx": [{ "exchange": "mx1.mail.test", "priority": 10 }],
            "txt": [["v=spf1", "-all"]],
            "srv": [{ "name": "sip.test", "port": 5060, "priority": 1, "weight": 5 }],
            "callback": [null, [{ "exchange": "mx1.mail.test", "priority": 10 }]],
            "missing": ["ENOTFOUND", "queryA", "missing.test", "queryA ENOTFOUND missing.test"],
            "empty": ["ENODATA", "queryAaaa", "empty.test", "queryAaaa ENODATA empty.test"],
            "badServer": "ERR_INVALID_ARG_VALUE",
        })
    );
}

const PG_WORKER: &str = r#"
import pg from 'pg';

const PORT = Number(PG_PORT);
const connectTo = (host, port = PORT) => new pg.Client({ host, port, user: 'verge', database: 'postgres', connectionTimeoutMillis: 5000 });

async function withClient(work) {
  const client = connectTo('127.0.0.1');
  await client.connect();
  try { return await work(client); } finally { await client.end(); }
}

export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    try {
      switch (path) {
        case '/query': return Response.json(await withClient(async (client) => {
          const { rows, fields } = await client.query('SELECT $1::int * 2 AS doubled, $2::text AS echoed, now() IS NOT NULL AS has_time', [21, 'héllo']);
          return { rows, fields: fields.map((field) => field.name) };
        }));
        case '/transaction': return Response.json(await withClient(async (client) => {
          await client.query('CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)');
          await client.query('BEGIN');
          await client.query('INSERT INTO notes (body) VALUES ($1)', ['kept']);
          await client.query('COMMIT');
          await client.query('BEGIN');
          await client.query('INSERT INTO notes (body) VALUES ($1)', ['rolled back']);
          await client.query('ROLLBACK');
          return (await client.query('SELECT body FROM notes ORDER BY body')).rows.map((row) => row.body);
        }));
        case '/bad': return Response.json(await withClient(async (client) => {
          const failure = await client.query('SELEC 1').then(() => null, (error) => ({ message: error.message, code: error.code }));
          // The connection is still good after the error.
          const after = (await client.query('SELECT 1 AS one')).rows[0].one;
          return { failure, after };
        }));
        case '/refused': {
          const client = connectTo('127.0.0.1', Number(new URL(request.url).searchParams.get('port')));
          return Response.json(await client.connect().then(() => 'connected', (error) => error.message));
        }
        case '/private': {
          const client = connectTo('127.0.0.2');
          return Response.json(await client.connect().then(() => 'connected', (error) => error.message));
        }
      }
      return new Response('no such test', { status: 404 });
    } catch (error) {
      return new Response(`${error.stack ?? error}`, { status: 500 });
    }
  },
};
"#;

#[test]
fn pg_queries_a_real_postgresql() {
    let postgres = Postgres::start();
    let installed = support::repo_root().join(".ci/npm/node_modules");
    assert!(
        installed.join("pg/package.json").is_file(),
        "no pg in {}: run .ci/run (it installs it with npm)",
        installed.display()
    );
    let dir = tempfile::tempdir().unwrap();
    tenant(
        dir.path(),
        "db",
        &PG_WORKER.replace("PG_PORT", &postgres.port.to_string()),
        "compatibility_flags = [\"nodejs_compat\"]\nroute = \"db.test/*\"\n",
    );
    std::os::unix::fs::symlink(&installed, dir.path().join("db/node_modules")).unwrap();
    let config = dir.path().join("verge.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"db\"\n[outbound]\nallow = [\"127.0.0.1/32\"]\n",
    )
    .unwrap();
    let server = DevServer::serve(&config, &[]);
    let ask = |path: &str| -> serde_json::Value {
        let reply = get_host(&server.base, "db.test", path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap()
    };

    assert_eq!(
        ask("/query"),
        serde_json::json!({
            "rows": [{ "doubled": 42, "echoed": "héllo", "has_time": true }],
            "fields": ["doubled", "echoed", "has_time"],
        })
    );
    assert_eq!(ask("/transaction"), serde_json::json!(["kept"]));
    // What the worker committed is in the database, and only that.
    assert_eq!(
        postgres.psql("SELECT string_agg(body, ',') FROM notes"),
        "kept"
    );

    let bad = ask("/bad");
    assert_eq!(bad["failure"]["code"], "42601");
    assert_eq!(
        bad["failure"]["message"],
        "syntax error at or near \"SELEC\""
    );
    assert_eq!(bad["after"], 1);

    let unused = support::free_port();
    let refused = ask(&format!("/refused?port={unused}"));
    assert!(refused.as_str().unwrap().contains("refused"), "{refused}");
    // 127.0.0.2 is loopback too, but not in [outbound] allow.
    let private = ask("/private");
    assert!(
        private.as_str().unwrap().contains("not a public address"),
        "{private}"
    );
}
