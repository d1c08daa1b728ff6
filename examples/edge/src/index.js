import { withSecurityHeaders, corsHeaders } from './lib/headers.js';
import { chooseVariant, variantCookie } from './lib/ab.js';

const json = (data, init) => Response.json(data, init);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let sent = 0; // module state lives as long as the isolate

const routes = {
  '/': (request, env) =>
    withSecurityHeaders(new Response(`<!doctype html><title>${env.SITE_NAME}</title><h1>${env.SITE_NAME}</h1>`, {
      headers: { 'content-type': 'text/html;charset=UTF-8' },
    })),

  '/api/json': (request, env) => json({ site: env.SITE_NAME, experiment: env.EXPERIMENT, method: request.method }),

  '/api/cors': (request, env) => {
    const cors = corsHeaders(request.headers.get('origin'), env.ALLOWED_ORIGIN);
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
    return json({ ok: true }, { headers: cors });
  },

  '/ab': (request, env) => {
    const { variant, fresh } = chooseVariant(request, env.EXPERIMENT.split);
    const response = new Response(`variant: ${variant}\n`);
    if (fresh) response.headers.append('set-cookie', variantCookie(variant));
    response.headers.append('set-cookie', `last-seen=${Date.now()}; Path=/`);
    return response;
  },

  '/old-page': (request) => Response.redirect(new URL('/new-page', request.url).toString(), 301),

  '/api/echo': async (request) => {
    if (request.method !== 'POST') return json({ error: 'POST a JSON body' }, { status: 405, headers: { allow: 'POST' } });
    let body;
    try {
      body = await request.json();
    } catch (error) {
      return json({ error: `invalid JSON: ${error.message}` }, { status: 400 });
    }
    return json({ received: body, contentType: request.headers.get('content-type') });
  },

  '/encoding': () => {
    const bytes = new TextEncoder().encode('héllo, wörld ✓');
    const decoded = new TextDecoder().decode(bytes);
    const b64 = btoa('Verge:edge');
    return json({ bytes: bytes.length, decoded, b64, back: atob(b64) });
  },

  '/url': (request) => {
    const url = new URL(request.url);
    const base = url.searchParams.get('base') ?? 'https://example.com/docs/guide/';
    const relative = url.searchParams.get('path') ?? '../api/v2?x=1#top';
    const resolved = new URL(relative, base);
    return json({ href: resolved.href, host: resolved.host, pathname: resolved.pathname, search: resolved.search, hash: resolved.hash });
  },

  '/uuid': () => json({ id: crypto.randomUUID() }),

  '/timers': async () => {
    const order = [];
    const started = performance.now();
    const interval = setInterval(() => order.push('interval'), 5);
    setTimeout(() => order.push('timeout-20'), 20);
    const cancelled = setTimeout(() => order.push('never'), 10);
    clearTimeout(cancelled);
    queueMicrotask(() => order.push('microtask'));
    await sleep(40);
    clearInterval(interval);
    return json({ order, waitedAtLeast40: performance.now() - started >= 39 });
  },

  '/clone': () => {
    const original = { when: new Date(0), tags: new Set(['a', 'b']), nested: { map: new Map([['k', [1, 2]]]) } };
    original.self = original;
    const copy = structuredClone(original);
    return json({
      distinct: copy !== original && copy.nested !== original.nested,
      date: copy.when instanceof Date && copy.when.getTime() === 0,
      set: [...copy.tags],
      map: copy.nested.map.get('k'),
      cycle: copy.self === copy,
    });
  },

  '/abort': async () => {
    const controller = new AbortController();
    const events = [];
    controller.signal.addEventListener('abort', () => events.push('abort event'));
    setTimeout(() => controller.abort(new Error('too slow')), 5);
    const outcome = await new Promise((resolve) => {
      controller.signal.onabort = () => resolve(`aborted: ${controller.signal.reason.message}`);
    });
    const timeout = AbortSignal.timeout(5);
    await sleep(20);
    return json({ outcome, events, timeoutAborted: timeout.aborted, timeoutReason: timeout.reason.name });
  },

  '/wait-until': (request, env, ctx) => {
    ctx.waitUntil((async () => {
      await sleep(50);
      sent++;
      console.log(`background work done (${sent} so far)`);
    })());
    return json({ queued: true, completedBefore: sent });
  },

  '/throw': () => {
    throw new Error('this route always throws');
  },
};

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    const route = routes[pathname];
    if (!route) return new Response('Not found\n', { status: 404 });
    return route(request, env, ctx);
  },
};
