//! The WebSocket load generator of `bench/objects.py` (not part of Verge): `CLIENTS`
//! connections to `URL`, and then either an echo run — each client sends a message and waits
//! for its echo, again and again, for `SECONDS` — printing the messages echoed and the round
//! trip's p50 and p99 as JSON, or (`idle`) the connections held open, silent, until stdin
//! closes, with a line once all are open.
//!
//! `cargo run --release -p verge-cli --example ws_load -- URL CLIENTS SECONDS [echo|idle]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_websockets::{ClientBuilder, Message};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().expect("URL").clone();
    let clients: usize = args.get(1).map_or(100, |n| n.parse().expect("CLIENTS"));
    let seconds: u64 = args.get(2).map_or(10, |n| n.parse().expect("SECONDS"));
    let idle = args.get(3).is_some_and(|mode| mode == "idle");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut streams = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (stream, _) = ClientBuilder::new()
                .uri(&url)
                .unwrap()
                .connect()
                .await
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            streams.push(stream);
        }
        if idle {
            println!("connected {clients}");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            drop(streams);
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move {
                    let mut rtts = Vec::new();
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        stream
                            .send(Message::text("ping from the benchmark"))
                            .await
                            .unwrap();
                        loop {
                            match stream.next().await {
                                Some(Ok(message)) if message.is_text() => break,
                                Some(Ok(_)) => continue,
                                other => panic!("the echo stopped: {other:?}"),
                            }
                        }
                        rtts.push(sent.elapsed());
                    }
                    rtts
                })
            })
            .collect();
        let mut rtts = Vec::new();
        for task in tasks {
            rtts.extend(task.await.unwrap());
        }
        rtts.sort_unstable();
        let at = |q: f64| {
            rtts[((rtts.len() as f64 * q) as usize).min(rtts.len() - 1)].as_secs_f64() * 1000.0
        };
        println!(
            "{{\"messages\": {}, \"seconds\": {seconds}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
            rtts.len(),
            at(0.5),
            at(0.99)
        );
    });
}
