// A worker in front of an origin: header edits both ways, redaction with an out-of-band alert,
// redirects, fan-out, pass-through on exception, and fetch's errors.
const SENSITIVE = /\b\d{3}-\d{2}-\d{4}\b|\b(?:\d{4} ){3}\d{4}\b/g;

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const origin = env.ORIGIN;
    switch (url.pathname) {
      case '/page': {
        const response = await fetch(`${origin}/page`);
        const html = await response.text();
        const found = html.match(SENSITIVE) ?? [];
        if (found.length) {
          ctx.waitUntil(fetch(`${origin}/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ path: url.pathname, matches: found.length }),
          }));
        }
        return new Response(html.replace(SENSITIVE, '[REDACTED]'), response);
      }
      case '/follow': {
        const response = await fetch(`${origin}/redirect`);
        return Response.json({ status: response.status, redirected: response.redirected, url: response.url, body: await response.json() });
      }
      case '/see-other': {
        const response = await fetch(`${origin}/see-other`, { method: 'POST', body: 'dropped on 303' });
        return Response.json(await response.json());
      }
      case '/manual': {
        const response = await fetch(`${origin}/redirect`, { redirect: 'manual' });
        return Response.json({ status: response.status, location: response.headers.get('location'), redirected: response.redirected });
      }
      case '/redirect-error':
        try {
          await fetch(`${origin}/redirect`, { redirect: 'error' });
          return new Response('no error');
        } catch (error) {
          return Response.json({ name: error.name }, { status: 502 });
        }
      case '/fanout': {
        const results = await Promise.all(['a', 'b', 'c'].map((id) => fetch(`${origin}/item/${id}`).then((r) => r.json())));
        return Response.json(results.map((r) => r.path));
      }
      case '/bad-url':
        try {
          await fetch('not a url');
          return new Response('no error');
        } catch (error) {
          return Response.json({ name: error.name, isTypeError: error instanceof TypeError, message: error.message }, { status: 400 });
        }
      case '/unreachable':
        try {
          await fetch('http://127.0.0.1:1/');
          return new Response('no error');
        } catch (error) {
          return Response.json({ name: error.name, message: error.message }, { status: 502 });
        }
      case '/pass-through':
        ctx.passThroughOnException();
        throw new Error('the worker fails; the origin answers');
      case '/no-pass-through':
        throw new Error('the worker fails without pass-through');
    }
    // Everything else: to the origin, with headers edited on the way in and out.
    const upstream = new Request(request, { headers: new Headers(request.headers) });
    upstream.headers.set('x-edge-in', 'added');
    upstream.headers.delete("x-secret");
    const response = await fetch(upstream);
    const out = new Response(response.body, response);
    out.headers.set('x-edge-out', 'added');
    out.headers.delete('x-origin');
    return out;
  },
};
