// Security headers: every response from the origin leaves with a strict set of security headers,
// HTML gets a content security policy, and headers that reveal the origin's software are removed.
const SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cross-origin-opener-policy': 'same-origin',
};
const REVEALING = ['x-powered-by', 'server', 'x-aspnet-version'];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(env.ORIGIN + url.pathname + url.search, request);
    const response = new Response(upstream.body, upstream);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      response.headers.set(name, value);
    }
    if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
      response.headers.set('content-security-policy', "default-src 'self'; upgrade-insecure-requests");
    }
    for (const name of REVEALING) response.headers.delete(name);
    return response;
  },
};
