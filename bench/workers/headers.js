// A typical small worker: read headers and cookies, decide, answer JSON with headers and a cookie.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const cookies = Object.fromEntries(
      (request.headers.get('cookie') ?? '').split(';').filter(Boolean).map((pair) => {
        const [name, ...rest] = pair.trim().split('=');
        return [name, decodeURIComponent(rest.join('='))];
      }),
    );
    const body = {
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      agent: request.headers.get('user-agent'),
      language: (request.headers.get('accept-language') ?? 'en').split(',')[0],
      session: cookies.session ?? null,
      visits: Number(cookies.visits ?? 0) + 1,
    };
    const response = Response.json(body, {
      headers: { 'cache-control': 'private, max-age=0', 'x-frame-options': 'DENY' },
    });
    response.headers.append('set-cookie', `visits=${body.visits}; Path=/; HttpOnly; SameSite=Lax`);
    return response;
  },
};
