//! Bodies stream end to end: hundreds of MiB pass through a worker's TransformStream, both ways,
//! while the server's memory stays bounded (its peak RSS is read from /proc).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read;
use support::*;

const MIB: u64 = 1024 * 1024;
/// Peak RSS the proxy may reach while streaming; far below the sizes streamed.
const RSS_BOUND_KIB: u64 = 160 * 1024;

const ORIGIN: &str = r#"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/big') {
      const chunks = Number(url.searchParams.get('mib')) * 16;
      const chunk = new Uint8Array(65536).fill(120);
      let sent = 0;
      return new Response(new ReadableStream({
        pull(controller) { if (sent++ < chunks) controller.enqueue(chunk); else controller.close(); },
      }, { highWaterMark: 0 }));
    }
    let total = 0;
    for await (const chunk of request.body) total += chunk.byteLength;
    return new Response(String(total));
  },
};
"#;

const PROXY: &str = r#"
const passThrough = () => new TransformStream({ transform(chunk, controller) { controller.enqueue(chunk); } });
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/down') {
      const upstream = await fetch(`${env.ORIGIN}/big?mib=${url.searchParams.get('mib')}`);
      return new Response(upstream.body.pipeThrough(passThrough()), { headers: { 'x-streamed': 'yes' } });
    }
    const upstream = await fetch(`${env.ORIGIN}/count`, { method: 'POST', body: request.body.pipeThrough(passThrough()), duplex: 'half' });
    return new Response(upstream.body, upstream);
  },
};
"#;

/// A reader producing `len` bytes without holding them.
struct Zeros(u64);

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        buf[..n].fill(0);
        self.0 -= n as u64;
        Ok(n)
    }
}

#[test]
fn hundreds_of_mib_stream_through_a_worker_in_bounded_memory() {
    let (_dir, _origin, proxy) = origin_and_proxy(ORIGIN, PROXY);
    // Hundreds of MiB through a debug build: bounded, but not by the usual 30 s.
    let agent = client_with_timeout(std::time::Duration::from_secs(180));

    // 512 MiB down: origin → fetch → TransformStream → client.
    let mut response = agent
        .get(format!("{}/down?mib=512", proxy.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("x-streamed").unwrap(), "yes");
    let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
    let received = std::io::copy(&mut body, &mut std::io::sink()).unwrap();
    assert_eq!(received, 512 * MIB);

    // 256 MiB up: client → worker → TransformStream → fetch → origin, which counts.
    let sent = 256 * MIB;
    let mut response = agent
        .post(format!("{}/up", proxy.base))
        .send(ureq::SendBody::from_owned_reader(Zeros(sent)))
        .unwrap();
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        sent.to_string()
    );

    let peak = proxy.peak_rss_kib();
    assert!(
        peak < RSS_BOUND_KIB,
        "the proxy's peak RSS was {peak} KiB while streaming"
    );
    eprintln!(
        "streamed 512 MiB down and 256 MiB up; proxy peak RSS {} MiB",
        peak / 1024
    );
}

/// Streams a worker writes that stop: one whose client goes while it is quiet, and one whose
/// JavaScript is stopped at the CPU limit between chunks.
const STOPPING: &str = r#"
let cancelled = 0;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/quiet') {
      return new Response(new ReadableStream({
        start(controller) { controller.enqueue(new TextEncoder().encode('first')); },
        cancel() { cancelled++; },
      }));
    }
    if (url.pathname === '/cancelled') return new Response(String(cancelled));
    if (url.pathname === '/spin') {
      let sent = 0;
      return new Response(new ReadableStream({
        async pull(controller) {
          if (sent++ === 0) return controller.enqueue(new TextEncoder().encode('first'));
          // Well after the response went out.
          await new Promise((resolve) => setTimeout(resolve, 200));
          for (;;) {}
        },
      }));
    }
    return new Response('no such path', { status: 404 });
  },
};
"#;

#[test]
fn a_stream_ends_with_its_client_or_its_worker() {
    for engine in ENGINES {
        ends_with_its_client_or_its_worker(engine);
    }
}

fn ends_with_its_client_or_its_worker(engine: &[&str]) {
    let dir = project(&[
        ("index.js", STOPPING),
        (
            "wrangler.toml",
            "name = \"stopping\"\nmain = \"index.js\"\n[limits]\ncpu_ms = 50\n",
        ),
    ]);
    let server = DevServer::start(dir.path(), engine);
    let address = server.base.trim_start_matches("http://").to_owned();

    // The client reads the first chunk and goes while the stream waits for a second that
    // never comes: the stream is cancelled at once, not at its next chunk.
    let mut reader = std::net::TcpStream::connect(&address).unwrap();
    std::io::Write::write_all(
        &mut reader,
        b"GET /quiet HTTP/1.1\r\nhost: verge.test\r\n\r\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("first") {
        let read = reader.read(&mut buffer).unwrap();
        assert!(read > 0, "{engine:?}: the stream ended early");
        seen.extend_from_slice(&buffer[..read]);
    }
    drop(reader);
    let agent = client();
    let cancelled = wait_until(std::time::Duration::from_secs(5), || {
        get(&agent, &format!("{}/cancelled", server.base)).body == "1"
    });
    assert!(cancelled, "{engine:?}: the quiet stream was not cancelled");

    // Stopped at the CPU limit after its first chunk went out, the stream's body fails: the
    // client sees it cut off, not a hang and not a complete body.
    let started = std::time::Instant::now();
    let quick = client_with_timeout(std::time::Duration::from_secs(20));
    let read = quick
        .get(format!("{}/spin", server.base))
        .call()
        .map_err(|error| error.to_string())
        .and_then(|response| {
            response
                .into_body()
                .read_to_string()
                .map_err(|error| error.to_string())
        });
    assert!(
        read.is_err(),
        "{engine:?}: a cut-off body looked complete: {read:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{engine:?}: the cut-off body took {:?} to fail",
        started.elapsed()
    );
}
