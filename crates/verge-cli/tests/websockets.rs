//! WebSockets end to end (issue 22): a worker's `WebSocketPair` upgraded by the edge, a Durable
//! Object holding many clients' sockets, a WebSocket proxied through a worker to an origin, the
//! 1 MiB message limit, and a client sending garbage — closed with the right code while the
//! server goes on serving.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use support::{client, get, project, DevServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_websockets::{ClientBuilder, Message};

const ECHO: &str = r#"
export default {
  async fetch(request) {
    if (request.headers.get("upgrade") !== "websocket") return new Response("plain");
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    server.addEventListener("message", (event) => {
      if (event.data === "close") return server.close(4000, "asked to");
      const reply = typeof event.data === "string" ? `echo: ${event.data}` : event.data;
      server.send(reply);
    });
    server.addEventListener("close", (event) => console.log(`closed ${event.code}`));
    return new Response(null, { status: 101, webSocket: client });
  },
};
"#;

type Client =
    tokio_websockets::WebSocketStream<tokio_websockets::MaybeTlsStream<tokio::net::TcpStream>>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(url: &str) -> Client {
    let url = url.replacen("http://", "ws://", 1);
    let (stream, _) = tokio::time::timeout(
        Duration::from_secs(10),
        ClientBuilder::new().uri(&url).unwrap().connect(),
    )
    .await
    .expect("connect in time")
    .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    stream
}

/// The next text or close message, within a bound.
async fn next(stream: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a message in time")
            .expect("the stream goes on")
            .expect("a valid message");
        if message.is_text() || message.is_binary() || message.is_close() {
            return message;
        }
    }
}

async fn next_text(stream: &mut Client) -> String {
    let message = next(stream).await;
    message
        .as_text()
        .unwrap_or_else(|| panic!("{message:?}"))
        .to_owned()
}

/// A connection upgraded by hand, for frames no client library would send.
async fn raw_upgrade(address: &str) -> tokio::net::TcpStream {
    let mut raw = tokio::net::TcpStream::connect(address).await.unwrap();
    raw.write_all(
        format!("GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(raw.read(&mut byte).await.unwrap(), 1, "the head ends");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // RFC 6455 §1.3's example key and its answer.
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    raw
}

/// The code of the close frame the server sends next on `raw`.
async fn close_code(raw: &mut tokio::net::TcpStream) -> u16 {
    let mut reply = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), raw.read_exact(&mut reply))
        .await
        .expect("an answer in time")
        .expect("a close frame");
    assert_eq!(reply[0], 0x88, "a close frame: {reply:?}");
    u16::from_be_bytes([reply[2], reply[3]])
}

#[test]
fn a_worker_upgrades_echoes_and_closes() {
    let dir = project(&[("index.js", ECHO)]);
    let server = DevServer::start(&dir.path().join("index.js"), &[]);
    let base = server.base.clone();
    runtime().block_on(async {
        let mut ws = connect(&base).await;
        ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "echo: hello");
        ws.send(Message::binary(vec![0u8, 1, 255])).await.unwrap();
        let binary = next(&mut ws).await;
        assert!(binary.is_binary());
        assert_eq!(&binary.into_payload()[..], &[0u8, 1, 255]);
        ws.send(Message::text("close")).await.unwrap();
        let close = next(&mut ws).await;
        let (code, reason) = close.as_close().unwrap();
        assert_eq!((u16::from(code), reason), (4000, "asked to"));

        // A message over 1 MiB closes the connection with 1009: refused from its header.
        let address = base.trim_start_matches("http://");
        let mut raw = raw_upgrade(address).await;
        let length = (1024 * 1024 + 1u64).to_be_bytes();
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&length);
        header.extend_from_slice(&[1, 2, 3, 4]);
        raw.write_all(&header).await.unwrap();
        assert_eq!(close_code(&mut raw).await, 1009);

        // Garbage after the handshake: a frame with reserved bits set is a protocol error.
        let mut raw = raw_upgrade(address).await;
        raw.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
            .await
            .unwrap();
        assert_eq!(close_code(&mut raw).await, 1002);

        // The server serves on.
        let mut ws = connect(&base).await;
        ws.send(Message::text("still here")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "echo: still here");
    });
    assert_eq!(get(&client(), &base).body, "plain");
}

const PROXY: &str = r#"
export default {
  async fetch(request, env) {
    const upstream = await fetch(env.ORIGIN, { headers: { Upgrade: "websocket" } });
    const socket = upstream.webSocket;
    if (!socket) return new Response("no socket", { status: 502 });
    if (new URL(request.url).pathname === "/through") {
      // Handed on as it is: the client talks to the origin.
      return new Response(null, { status: 101, webSocket: socket });
    }
    // Accepted here: messages are relayed, changed on the way.
    socket.accept();
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    server.addEventListener("message", (event) => socket.send(`via proxy: ${event.data}`));
    socket.addEventListener("message", (event) => server.send(event.data));
    return new Response(null, { status: 101, webSocket: client });
  },
};
"#;

#[test]
fn a_websocket_is_proxied_to_an_origin() {
    let origin_dir = project(&[("index.js", ECHO)]);
    let origin = DevServer::start(&origin_dir.path().join("index.js"), &[]);
    let proxy_dir = project(&[("index.js", PROXY)]);
    let proxy = DevServer::start(
        &proxy_dir.path().join("index.js"),
        &["--var", &format!("ORIGIN:{}", origin.base)],
    );
    let base = proxy.base.clone();
    runtime().block_on(async {
        let mut ws = connect(&format!("{base}/relay")).await;
        ws.send(Message::text("one")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "echo: via proxy: one");
        let mut ws = connect(&format!("{base}/through")).await;
        ws.send(Message::text("two")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "echo: two");
    });

    // `verge dev --origin`: a worker that passes its requests on passes a WebSocket on too.
    let pass_dir = project(&[(
        "index.js",
        "export default { fetch: (request) => fetch(request) };\n",
    )]);
    let pass = DevServer::start(
        &pass_dir.path().join("index.js"),
        &["--origin", &origin.base],
    );
    let base = pass.base.clone();
    runtime().block_on(async {
        let mut ws = connect(&format!("{base}/")).await;
        ws.send(Message::text("three")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "echo: three");
    });
}

/// A chat client of examples/chat: connected to `room` as `name`, its history read.
async fn join(base: &str, room: &str, name: &str) -> (Client, serde_json::Value) {
    let mut ws = connect(&format!("{base}/ws?room={room}&name={name}")).await;
    let history: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(history["type"], "history", "{history}");
    (ws, history["messages"].clone())
}

/// The next chat event of `kind` on `ws`, skipping others.
async fn event(ws: &mut Client, kind: &str) -> serde_json::Value {
    loop {
        let event: serde_json::Value = serde_json::from_str(&next_text(ws).await).unwrap();
        if event["type"] == kind {
            return event;
        }
    }
}

#[test]
fn the_chat_example_keeps_its_history_across_a_restart() {
    let example = support::repo_root().join("examples/chat");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let debug = [("VERGE_LOG", std::path::PathBuf::from("verge_server=debug"))];
    let mut server = DevServer::start_with_env(
        &example,
        &["--persist-to", state_arg, "--threads", "2"],
        &debug,
    );
    let page = get(&client(), &format!("{}/", server.base));
    assert!(page.body.contains("Verge chat"), "{}", page.body);
    let base = server.base.clone();
    runtime().block_on(async {
        let (mut ana, history) = join(&base, "test", "ana").await;
        assert_eq!(history, serde_json::json!([]));
        let (mut bo, _) = join(&base, "test", "bo").await;
        let (mut cy, _) = join(&base, "test", "cy").await;
        assert_eq!(event(&mut ana, "joined").await["name"], "bo");
        ana.send(Message::text("hello from ana")).await.unwrap();
        let said = |event: serde_json::Value| {
            (
                event["name"].as_str().map(str::to_owned),
                event["text"].as_str().map(str::to_owned),
            )
        };
        let first = (Some("ana".to_owned()), Some("hello from ana".to_owned()));
        // Bo answers once he has heard Ana: everyone hears the two in that order.
        assert_eq!(said(event(&mut bo, "message").await), first);
        bo.send(Message::text("hi ana")).await.unwrap();
        let second = (Some("bo".to_owned()), Some("hi ana".to_owned()));
        assert_eq!(said(event(&mut bo, "message").await), second);
        for client in [&mut ana, &mut cy] {
            assert_eq!(said(event(client, "message").await), first);
            assert_eq!(said(event(client, "message").await), second);
        }
        // Answered by the server without the object.
        cy.send(Message::text("ping")).await.unwrap();
        assert_eq!(next_text(&mut cy).await, "pong");
        // Another room hears nothing of this one.
        let (_, other) = join(&base, "elsewhere", "dee").await;
        assert_eq!(other, serde_json::json!([]));
        cy.close().await.unwrap();
        assert_eq!(event(&mut ana, "left").await["name"], "cy");

        // Idle, the room hibernates: its isolate goes, its sockets and their attachments stay,
        // and the next message wakes it.
        let hibernated = support::wait_until(Duration::from_secs(30), || {
            server.stderr().contains("Durable Object hibernated")
        });
        assert!(hibernated, "{}", server.stderr());
        bo.send(Message::text("still there?")).await.unwrap();
        let woken = event(&mut ana, "message").await;
        assert_eq!(
            (woken["name"].as_str(), woken["text"].as_str()),
            (Some("bo"), Some("still there?"))
        );
    });
    server.kill();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());

    let server = DevServer::start(&example, &["--persist-to", state_arg]);
    runtime().block_on(async {
        let (_, history) = join(&server.base, "test", "ana").await;
        let said: Vec<(&str, &str)> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap(), m["text"].as_str().unwrap()))
            .collect();
        assert_eq!(
            said,
            [
                ("ana", "hello from ana"),
                ("bo", "hi ana"),
                ("bo", "still there?")
            ]
        );
    });
}

const ACCEPTING_OBJECT: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Tally extends DurableObject {
  fetch(request) {
    const { 0: client, 1: server } = new WebSocketPair();
    // accept(), not the hibernation API: the object's own listeners hear the socket.
    server.accept();
    server.addEventListener("message", async (event) => {
      const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
      await this.ctx.storage.put("n", n);
      server.send(`${n}: ${event.data}`);
    });
    return new Response(null, { status: 101, webSocket: client });
  }
}
export default { fetch: (request, env) => env.TALLY.getByName("one").fetch(request) };
"#;

#[test]
fn a_socket_an_object_accepts_is_heard_by_its_listeners_and_kept() {
    let config = "name = \"tally\"\nmain = \"index.js\"\n\
                  [[durable_objects.bindings]]\nname = \"TALLY\"\nclass_name = \"Tally\"\n";
    let dir = project(&[("wrangler.toml", config), ("index.js", ACCEPTING_OBJECT)]);
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let mut server = DevServer::start(dir.path(), &["--persist-to", state_arg, "--threads", "2"]);
    let base = server.base.clone();
    runtime().block_on(async {
        let mut ws = connect(&base).await;
        for (n, word) in ["a", "b", "c"].iter().enumerate() {
            ws.send(Message::text(*word)).await.unwrap();
            assert_eq!(next_text(&mut ws).await, format!("{}: {word}", n + 1));
        }
    });
    // Each reply left once its count was durable: a kill -9 now keeps all three.
    server.kill();
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let server = DevServer::start(dir.path(), &["--persist-to", state_arg]);
    runtime().block_on(async {
        let mut ws = connect(&server.base).await;
        ws.send(Message::text("d")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4: d");
    });
}
