// Signed requests: /generate/<path> hands out a link to /<path> carrying an expiry and an
// HMAC-SHA-256 of both; any other path needs a valid, unexpired one.
const encoder = new TextEncoder();

const toBase64Url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64Url = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

function key(env, usage) {
  return crypto.subtle.importKey('raw', encoder.encode(env.SIGNING_KEY), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/generate/')) {
      const path = url.pathname.slice('/generate'.length);
      // The expiry may be given (for reproducible links); else an hour from now.
      const expiry = Number(url.searchParams.get('exp') ?? Math.floor(Date.now() / 1000) + 3600);
      const mac = await crypto.subtle.sign('HMAC', await key(env, 'sign'), encoder.encode(`${path}@${expiry}`));
      const signed = new URL(path, url);
      signed.searchParams.set('verify', `${expiry}-${toBase64Url(mac)}`);
      return Response.json({ url: signed.href, expires: new Date(expiry * 1000).toISOString() });
    }

    const verify = url.searchParams.get('verify');
    if (!verify) return new Response('Missing query parameter', { status: 403 });
    const dash = verify.indexOf('-');
    const expiry = verify.slice(0, dash), mac = verify.slice(dash + 1);
    let signature;
    try {
      signature = fromBase64Url(mac);
    } catch {
      return new Response('Invalid MAC', { status: 403 });
    }
    const valid = await crypto.subtle.verify('HMAC', await key(env, 'verify'), signature, encoder.encode(`${url.pathname}@${expiry}`));
    if (!valid) return new Response('Invalid MAC', { status: 403 });
    if (Date.now() / 1000 > Number(expiry)) {
      return new Response(`URL expired at ${new Date(Number(expiry) * 1000).toISOString()}`, { status: 403 });
    }
    return new Response(`Fetched ${url.pathname} with a valid signature`);
  },
};
