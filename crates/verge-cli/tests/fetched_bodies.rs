//! A fetch() response's body is a stream whose source is set up only when something reads,
//! cancels or tees it (streams.js' `deferredByteStream`): every way of reading one still works
//! as on a stream made at once, on both engines, and one handed on whole reaches the client.
//! A URL alone goes out without a Request (fetch.js' fast path) as a plain GET. A fetched
//! response keeps the host's header list until a script asks for its headers, and a response
//! made from it shares the list (response.js): each still sees the headers it should.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::*;

const ORIGIN: &str = r#"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/echo') {
      return Response.json({ method: request.method, headers: [...request.headers.keys()] });
    }
    if (url.pathname === '/stalled') {
      // One chunk, then nothing until the client goes away.
      return new Response(new ReadableStream({
        start(controller) { controller.enqueue(new TextEncoder().encode('first')); },
      }));
    }
    let sent = 0;
    return new Response(new ReadableStream({
      pull(controller) {
        if (sent++ < 3) controller.enqueue(new TextEncoder().encode(`part ${sent};`));
        else controller.close();
      },
    }, { highWaterMark: 0 }), { headers: { 'x-origin': 'yes' } });
  },
};
"#;

const PROXY: &str = r#"
const BODY = 'part 1;part 2;part 3;';
const decode = (chunks) => new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
const ways = {
  async byob(response) {
    const reader = response.body.getReader({ mode: 'byob' });
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(4));
      if (done) return decode(chunks);
      chunks.push(value);
    }
  },
  async default(response) {
    const reader = response.body.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return decode(chunks);
      chunks.push(value);
    }
  },
  async iterate(response) {
    const chunks = [];
    for await (const chunk of response.body) chunks.push(chunk);
    return decode(chunks);
  },
  async tee(response) {
    const [a, b] = response.body.tee();
    const [first, second] = await Promise.all([new Response(a).text(), new Response(b).text()]);
    return first === second ? first : `${first} != ${second}`;
  },
  async text(response) { return response.text(); },
  async piped(response) {
    const chunks = [];
    await response.body.pipeTo(new WritableStream({ write(chunk) { chunks.push(chunk); } }));
    return decode(chunks);
  },
  async cancel(response) {
    const before = [response.body.locked, response.bodyUsed];
    await response.body.cancel('enough');
    return JSON.stringify([before, response.bodyUsed]);
  },
};
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const way = url.searchParams.get('way');
    if (url.pathname === '/read') return new Response(await ways[way](await fetch(`${env.ORIGIN}/parts`)));
    if (url.pathname === '/whole') {
      const upstream = await fetch(`${env.ORIGIN}/parts`);
      if (upstream.body.locked || upstream.bodyUsed) return new Response('touched', { status: 500 });
      return new Response(upstream.body, upstream);
    }
    if (url.pathname === '/headers') {
      const fetched = await fetch(`${env.ORIGIN}/parts`);
      // Made before the fetched response's own headers are.
      const copy = new Response(null, fetched);
      const text = new Response('text', fetched);
      const fromText = new Response(null, text);
      const clone = fetched.clone();
      const setting = (headers) => { try { headers.set('x-set', '1'); return 'set'; } catch (error) { return error.name; } };
      copy.headers.set('x-copy', '1');
      const immutable = setting(fetched.headers);
      // A clone made once the fetched response's headers exist.
      const later = fetched.clone();
      return Response.json({
        fetched: [fetched.headers.get('x-origin'), fetched.headers.get('x-copy'), immutable],
        copy: [copy.headers.get('x-origin'), copy.headers.get('x-copy')],
        text: [text.headers.get('x-origin'), text.headers.get('content-type'), fromText.headers.get('content-type')],
        clone: [clone.headers.get('x-origin'), setting(clone.headers), await clone.text()],
        later: [later.headers.get('x-origin'), setting(later.headers)],
      });
    }
    if (url.pathname === '/aborted') {
      const controller = new AbortController();
      const response = await fetch(`${env.ORIGIN}/stalled`, { signal: controller.signal });
      controller.abort(new Error('stopped by the worker'));
      return new Response(await response.text().then(() => 'read', (error) => `rejected: ${error.message}`));
    }
    if (url.pathname === '/urls') {
      // A URL alone, and the same through a Request (an init, however empty, takes that way).
      const alone = await (await fetch(`${env.ORIGIN}/echo`)).json();
      const request = await (await fetch(`${env.ORIGIN}/echo`, {})).json();
      const data = await (await fetch('data:text/plain,inline')).text();
      const invalid = await fetch('not a url').then(() => 'sent', (error) => `${error.name}: ${error.message}`);
      return Response.json({ alone, request, data, invalid });
    }
    return new Response('no such test', { status: 404 });
  },
};
"#;

fn check_every_way(proxy: &DevServer) {
    let agent = client();
    for way in ["byob", "default", "iterate", "tee", "text", "piped"] {
        let reply = get(&agent, &format!("{}/read?way={way}", proxy.base));
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "part 1;part 2;part 3;"),
            "{way}"
        );
    }
    let reply = get(&agent, &format!("{}/read?way=cancel", proxy.base));
    assert_eq!(reply.body, "[[false,false],true]");

    let reply = get(&agent, &format!("{}/whole", proxy.base));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "part 1;part 2;part 3;")
    );
    assert_eq!(reply.headers["x-origin"], "yes");

    let reply = get(&agent, &format!("{}/headers", proxy.base));
    let headers: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let text = "text/plain;charset=UTF-8";
    assert_eq!(
        headers,
        serde_json::json!({
            "fetched": ["yes", null, "TypeError"],
            "copy": ["yes", "1"],
            "text": ["yes", text, text],
            "clone": ["yes", "TypeError", "part 1;part 2;part 3;"],
            "later": ["yes", "TypeError"],
        })
    );

    let reply = get(&agent, &format!("{}/aborted", proxy.base));
    assert_eq!(reply.body, "rejected: stopped by the worker");

    let reply = get(&agent, &format!("{}/urls", proxy.base));
    let urls: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(urls["alone"]["method"], "GET");
    assert_eq!(urls["alone"], urls["request"]);
    assert_eq!(urls["data"], "inline");
    assert_eq!(urls["invalid"], "TypeError: Invalid URL: not a url");
}

#[test]
fn every_way_of_reading_a_fetched_body_works_on_quickjs() {
    let (_dir, _origin, proxy) = origin_and_proxy(ORIGIN, PROXY);
    check_every_way(&proxy);
}

#[test]
fn every_way_of_reading_a_fetched_body_works_on_javascriptcore() {
    let (_dir, _origin, proxy) = origin_and_proxy_with(ORIGIN, PROXY, &["--engine", "jsc"]);
    check_every_way(&proxy);
}
