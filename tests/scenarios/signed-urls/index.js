// Private content behind signed URLs: /private/... needs ?exp=<unix seconds>&sig=<base64url
// HMAC-SHA256 of "<path>:<exp>">, checked in constant time, refused once expired.
// /sign issues such URLs (a real deployment would sign on its application server).
const encoder = new TextEncoder();
const base64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64url = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

async function hmac(secret, message) {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', key, encoder.encode(message));
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/sign') {
      const path = url.searchParams.get('path');
      const exp = Math.floor(Date.now() / 1000) + Number(url.searchParams.get('ttl') ?? 60);
      const sig = base64url(await hmac(env.SIGNING_KEY, `${path}:${exp}`));
      return Response.json({ url: `${path}?exp=${exp}&sig=${sig}` });
    }
    if (!url.pathname.startsWith('/private/')) return new Response('Not found', { status: 404 });
    const exp = Number(url.searchParams.get('exp'));
    const sig = url.searchParams.get('sig');
    if (!sig || !Number.isInteger(exp)) return new Response('Missing signature', { status: 403 });
    if (exp < Date.now() / 1000) return new Response('Link expired', { status: 403 });
    let given;
    try {
      given = fromBase64url(sig);
    } catch {
      return new Response('Malformed signature', { status: 403 });
    }
    const expected = new Uint8Array(await hmac(env.SIGNING_KEY, `${url.pathname}:${exp}`));
    const valid = given.byteLength === expected.byteLength && crypto.subtle.timingSafeEqual(given, expected);
    if (!valid) return new Response('Invalid signature', { status: 403 });
    return new Response(`private content of ${url.pathname}`, { headers: { 'cache-control': 'private, no-store' } });
  },
};
