// The origin behind the proxy scenario: echoes requests, redirects, serves a page with
// sensitive data, and records alerts posted to it.
const alerts = [];
export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/redirect': return Response.redirect(new URL('/final?from=redirect', request.url).href, 302);
      case '/see-other': return new Response(null, { status: 303, headers: { location: '/final?from=303' } });
      case '/page':
        return new Response('<p>Customer: Ada, SSN: 123-45-6789, card 4111 1111 1111 1111</p>', {
          headers: { 'content-type': 'text/html' },
        });
      case '/alerts':
        if (request.method === 'POST') {
          alerts.push(await request.json());
          return new Response(null, { status: 204 });
        }
        return Response.json(alerts);
    }
    const body = ['GET', 'HEAD'].includes(request.method) ? null : await request.text();
    return Response.json(
      { method: request.method, path: url.pathname + url.search, headers: Object.fromEntries(request.headers), body },
      { headers: { 'x-origin': 'yes', 'set-cookie': 'origin-session=1; Path=/' } },
    );
  },
};
