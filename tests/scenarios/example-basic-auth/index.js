// Basic auth: /admin needs a user and password (the password a secret from .dev.vars), compared
// in constant time; /logout makes the browser forget them.
const encoder = new TextEncoder();

function timingSafeEqual(a, b) {
  const x = encoder.encode(a), y = encoder.encode(b);
  // Compare against itself on a length mismatch, so the time taken says nothing of the secret.
  return x.byteLength === y.byteLength
    ? crypto.subtle.timingSafeEqual(x, y)
    : !crypto.subtle.timingSafeEqual(x, x);
}

function unauthorized(reason) {
  return new Response(reason, {
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="admin", charset="UTF-8"' },
  });
}

export default {
  fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/logout') return new Response('Logged out', { status: 401 });
    if (!pathname.startsWith('/admin')) return new Response('Public page');

    const authorization = request.headers.get('authorization');
    if (!authorization) return unauthorized('You need to log in.');
    const [scheme, encoded] = authorization.split(' ');
    if (scheme !== 'Basic' || !encoded) return new Response('Malformed authorization header', { status: 400 });
    let decoded;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
    } catch {
      return new Response('Malformed authorization header', { status: 400 });
    }
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon), pass = decoded.slice(colon + 1);
    if (colon < 0 || !timingSafeEqual(user, env.BASIC_USER) || !timingSafeEqual(pass, env.BASIC_PASS)) {
      return unauthorized('Invalid credentials.');
    }
    return new Response(`Welcome, ${user}`, { headers: { 'cache-control': 'no-store' } });
  },
};
