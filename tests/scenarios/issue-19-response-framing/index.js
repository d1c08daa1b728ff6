// A worker's own framing headers: the server frames the body itself, and keeps a length a worker
// states only where there is no body to take it from (the answer to a HEAD).
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case '/stated':
        return new Response(null, { headers: { 'content-length': '14' } });
      case '/not-a-number':
        return new Response(null, { headers: { 'content-length': 'fourteen' } });
      case '/stale':
        return new Response('hello', {
          headers: { 'content-length': '99', 'transfer-encoding': 'chunked', connection: 'close' },
        });
      default:
        return new Response('not found', { status: 404 });
    }
  },
};
