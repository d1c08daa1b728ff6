//! HTMLRewriter streams: a 100 MiB page from an origin is rewritten on its way to the client
//! (every link changed, a banner injected) while the server's memory stays bounded.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read;
use std::time::Duration;
use support::*;

const MIB: usize = 1024 * 1024;
/// Peak RSS the rewriting proxy may reach; far below the page's size.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// Serves `/page?mib=N`: N MiB of HTML in 64 KiB chunks, each holding 16 links to the old host.
const ORIGIN: &str = r#"
const encoder = new TextEncoder();
function block(n) {
  let html = '';
  for (let i = 0; i < 16; i++) {
    html += `<p>Paragraph ${n}.${i}: <a href="http://old.example/${n}/${i}">link</a> `;
    html += 'filler text '.repeat(320) + '</p>\n';
  }
  return html;
}
export default {
  fetch(request) {
    const mib = Number(new URL(request.url).searchParams.get('mib'));
    const head = encoder.encode('<!DOCTYPE html><html><body>\n');
    let sent = 0, n = 0;
    const total = mib * 1024 * 1024;
    return new Response(new ReadableStream({
      start(controller) { controller.enqueue(head); sent += head.length; },
      pull(controller) {
        if (sent >= total) { controller.enqueue(encoder.encode('</body></html>')); return controller.close(); }
        const chunk = encoder.encode(block(n++));
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 }), { headers: { 'content-type': 'text/html' } });
  },
};
"#;

const PROXY: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(`${env.ORIGIN}/page${url.search}`);
    return new HTMLRewriter()
      .on('a[href]', {
        element(a) { a.setAttribute('href', a.getAttribute('href').replace('http://old.example/', 'https://new.example/')); },
      })
      .on('body', { element(body) { body.prepend('<div id="banner">Rewritten at the edge</div>', { html: true }); } })
      .transform(upstream);
  },
};
"#;

/// Counts needles in a stream without holding it: keeps only a needle's length of overlap.
struct Counter {
    needles: Vec<&'static [u8]>,
    counts: Vec<usize>,
    tail: Vec<u8>,
    total: usize,
}

impl Counter {
    fn new(needles: &[&'static str]) -> Self {
        Self {
            needles: needles.iter().map(|n| n.as_bytes()).collect(),
            counts: vec![0; needles.len()],
            tail: Vec::new(),
            total: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.total += chunk.len();
        let keep = self.tail.len();
        self.tail.extend_from_slice(chunk);
        for (needle, count) in self.needles.iter().zip(&mut self.counts) {
            // Count matches that end inside the new bytes only.
            *count += self
                .tail
                .windows(needle.len())
                .enumerate()
                .filter(|(start, w)| w == needle && start + needle.len() > keep)
                .count();
        }
        let longest = self.needles.iter().map(|n| n.len()).max().unwrap_or(0);
        let cut = self.tail.len().saturating_sub(longest - 1);
        self.tail.drain(..cut);
    }
}

#[test]
fn a_100_mib_page_is_rewritten_while_streaming_in_bounded_memory() {
    let (_dir, _origin, proxy) = origin_and_proxy(ORIGIN, PROXY);

    // 100 MiB through a debug build: bounded, but not by the usual 30 s.
    let mut response = client_with_timeout(Duration::from_secs(180))
        .get(format!("{}/?mib=100", proxy.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut counter = Counter::new(&[
        "https://new.example/",
        "http://old.example/",
        "<div id=\"banner\">",
    ]);
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = body.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        counter.feed(&buffer[..n]);
    }

    assert!(
        counter.total >= 100 * MIB,
        "received {} bytes",
        counter.total
    );
    let [new, old, banners] = counter.counts[..] else {
        unreachable!()
    };
    assert_eq!(old, 0, "links left unrewritten");
    assert_eq!(banners, 1);
    // Each 64 KiB block holds 16 links; the page is at least 100 MiB of such blocks.
    assert!(
        new >= 100 * MIB / (64 * 1024) * 16,
        "only {new} links rewritten"
    );
    let peak = proxy.peak_rss_kib();
    assert!(
        peak < RSS_BOUND_KIB,
        "the proxy's peak RSS was {peak} KiB while rewriting"
    );
    eprintln!(
        "rewrote {} MiB ({new} links); proxy peak RSS {} MiB",
        counter.total / MIB,
        peak / 1024
    );
}
