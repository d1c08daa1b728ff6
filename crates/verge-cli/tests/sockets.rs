//! Outbound TCP: `cloudflare:sockets`' connect() and `node:net`/`node:tls` on it, against a
//! real echo server and a real PostgreSQL (Debian's, started by the test) queried by `pg` from
//! npm, unmodified; under `verge serve`'s outbound policy, a private address is refused unless
//! `[outbound] allow` lists it.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use support::postgres::Postgres;
use support::{client, get, get_host, project, tenant, DevServer};

/// A TCP server on a free loopback port that answers each connection with what it reads,
/// upper-cased, and closes its side when the client closes its own.
fn echo_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
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
            });
        }
    });
    port
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
    let port = echo_server();
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
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reply = get(
        &agent,
        &format!("{}/refused?port={closed_port}", server.base),
    );
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
        format!("connect ECONNREFUSED 127.0.0.1:{closed_port}")
    );

    // TLS to a server that does not speak it fails the handshake, as an error event.
    assert_eq!(ask("/tls"), "error: true");

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

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = ask(&format!("/refused?port={closed_port}"));
    assert!(refused.as_str().unwrap().contains("refused"), "{refused}");
    // 127.0.0.2 is loopback too, but not in [outbound] allow.
    let private = ask("/private");
    assert!(
        private.as_str().unwrap().contains("not a public address"),
        "{private}"
    );
}
