// Cache API: GETs are answered from caches.default when they can be; a miss renders the page,
// answers at once and stores a copy after the response (ctx.waitUntil). DELETE purges.
async function render(url) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url.pathname));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `page ${url.pathname}, digest ${hex.slice(0, 16)}`;
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const cache = caches.default;
    const key = new Request(url.toString(), { method: 'GET' });
    if (request.method === 'DELETE') {
      return new Response(null, { status: (await cache.delete(key)) ? 204 : 404 });
    }
    if (request.method !== 'GET') return new Response(await render(url), { headers: { 'x-cache': 'BYPASS' } });

    const cached = await cache.match(key);
    if (cached) {
      const response = new Response(cached.body, cached);
      response.headers.set('x-cache', 'HIT');
      return response;
    }
    const response = new Response(await render(url), {
      headers: { 'content-type': 'text/plain', 'cache-control': 'public, max-age=300', 'x-cache': 'MISS' },
    });
    ctx.waitUntil(cache.put(key, response.clone()));
    return response;
  },
};
