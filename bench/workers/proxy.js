// The proxy worker the benchmark runs on every runtime: fetch the origin, add a header.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(env.ORIGIN + url.pathname + url.search);
    const response = new Response(upstream.body, upstream);
    response.headers.set('x-proxied-by', 'worker');
    return response;
  },
};
