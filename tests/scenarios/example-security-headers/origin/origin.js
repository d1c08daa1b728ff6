export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    const headers = { 'x-powered-by': 'PHP/5.6', 'x-aspnet-version': '4.0', 'x-frame-options': 'ALLOWALL' };
    if (pathname === '/api') {
      return Response.json({ ok: true }, { headers });
    }
    return new Response('<p>home</p>', { status: pathname === '/' ? 200 : 404,
      headers: { ...headers, 'content-type': 'text/html; charset=utf-8' } });
  },
};
