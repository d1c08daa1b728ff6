export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/string') return 'not a response';
    if (pathname === '/error') return Response.error();
    if (pathname === '/reject') await Promise.reject(new Error('async failure'));
    if (pathname === '/throw-string') throw 'a bare string';
    if (pathname === '/floating') {
      Promise.reject(new Error('floating rejection'));
      const later = Promise.reject(new Error('handled later'));
      await null;
      later.catch(() => {});
      return new Response('floated');
    }
    if (pathname === '/bad-status') return new Response('x', { status: 99 });
    if (pathname === '/set-later') {
      // Read after the microtasks the handler queued, as reading through \`then\` would be.
      const response = new Response('later');
      Promise.resolve().then(() => response.headers.set('x-set', 'in a microtask'));
      return response;
    }
    return new Response('fine');
  },
};
