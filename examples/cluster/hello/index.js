// Answers with the PoP that served the request; `PUT /kv/<key>` stores the body in KV at any
// PoP, and `GET /kv/<key>` reads it back at any other.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/kv/')) {
      const key = decodeURIComponent(url.pathname.slice(4));
      if (request.method === 'PUT') {
        await env.NOTES.put(key, await request.text());
        return new Response(`stored ${key} at ${request.cf.colo}\n`);
      }
      const value = await env.NOTES.get(key);
      return new Response(value === null ? `no ${key} at ${request.cf.colo}\n` : `${value}\n`);
    }
    return new Response(`Hello from ${request.cf.colo} (version ${env.VERSION})\n`);
  },
};
