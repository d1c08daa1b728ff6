// fetch() (Fetch §5.6) as Workers have it: the request is validated here (made a Request unless
// it is a URL alone), sent by the host's Outbound capability, and the response's body arrives
// as a native stream. An AbortSignal cancels the request in flight and errors a body still
// being read. A service binding is a Fetcher whose `fetch` goes the same way to another worker
// (`fetcher`: its id, see src/fetch.rs).
// A GET with `cf: { cacheTtl, cacheEverything, cacheKey }` goes through `caches.default`, where
// the platform has the Cache API (verge-bindings' cache.js; the Web platform alone has none).
(function (ops, internals) {
  // The cache options of `cf`, or null when it asks for none.
  function cacheOptions(cf) {
    if (cf === null || typeof cf !== 'object') return null;
    const { cacheTtl, cacheEverything, cacheKey } = cf;
    if (cacheTtl === undefined && !cacheEverything && cacheKey === undefined) return null;
    return { ttl: cacheTtl === undefined ? undefined : Number(cacheTtl), key: cacheKey };
  }

  // Answers from the cache, or sends and stores what the cache may keep: for `ttl` seconds
  // whatever the response's headers say (none if `ttl` <= 0), or else as they say.
  async function throughCache(request, options, send) {
    const key = options.key === undefined ? request.url : new URL(String(options.key), request.url).href;
    const cache = caches.default;
    const hit = await cache.match(key);
    if (hit) return hit;
    const response = await send();
    const bypass = options.ttl !== undefined && !(options.ttl > 0);
    if (!bypass && response.status !== 206) {
      const copy = response.clone();
      const stored = new Headers(copy.headers);
      if (options.ttl !== undefined) stored.set('cache-control', `max-age=${Math.floor(options.ttl)}`);
      const entry = new Response(copy.body, { status: copy.status, statusText: copy.statusText, headers: stored });
      // What the Cache API refuses (a no-store answer, Vary: *) is simply not kept.
      await cache.put(key, entry).catch(() => {});
    }
    const headers = new Headers(response.headers);
    headers.set('cf-cache-status', bypass ? 'BYPASS' : 'MISS');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }

  function fetchVia(fetcher, input, init, target = undefined) {
    // A URL alone, as most subrequests are, needs no Request to be sent: a GET with no headers,
    // no body, no signal and no `cf`.
    if (init === undefined && typeof input === 'string') {
      const href = internals.parseHref(input);
      if (href !== undefined && !href.startsWith('data:')) return sendParts(['GET', href, [], null, 'follow'], fetcher, target);
    }
    let request;
    try {
      request = new Request(input, init);
    } catch (error) {
      return Promise.reject(error);
    }
    const caching = fetcher === undefined && request.method === 'GET' ? cacheOptions(request.cf) : null;
    // Asked only now: `caches` loads its file on first use.
    if (caching && typeof caches !== 'undefined') {
      return throughCache(request, caching, () => send(fetcher, request));
    }
    return send(fetcher, request, target);
  }

  let nextFetch = 0;
  function send(fetcher, request, target = undefined) {
    const signal = internals.requestSignal(request);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (request.url.startsWith('data:')) return internals.fetchDataUrl(request);
    let parts;
    try {
      parts = [request.method, request.url, internals.headersToList(request.headers), internals.hostBody(request), request.redirect];
    } catch (error) {
      return Promise.reject(error);
    }
    if (!signal) return sendParts(parts, fetcher, target);
    // An id to cancel it by.
    const id = ++nextFetch;
    let sent;
    try {
      sent = ops.fetch(id, parts, fetcher, target);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      // The response's stream, once there is one: an abort errors it, even mid-read.
      let stream = null;
      const onAbort = () => {
        ops.fetchAbort(id);
        internals.abortNative(stream, signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sent.then((parts) => [fetched(parts), Array.isArray(parts[5])]).then(([response, streamed]) => {
        if (streamed) stream = response.body;
        resolve(response);
      }, (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      });
    });
  }

  // Sends a request no signal can cancel: [method, url, header list, host body, redirect mode].
  function sendParts(parts, fetcher, target) {
    try {
      return ops.fetch(0, parts, fetcher, target).then(fetched);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // The Response the `fetch` op's answer describes; a streamed body comes as ['native', id].
  // A WebSocket the response cannot take up (on an engine without them) is let go.
  function fetched([status, statusText, headerList, url, redirected, body, socket]) {
    try {
      if (Array.isArray(body)) body = internals.nativeStream(body[1]);
      return internals.fetchedResponse(status, statusText, headerList, body, url, redirected, socket);
    } catch (error) {
      if (socket !== undefined) ops.fetchSocketDrop(socket);
      throw error;
    }
  }

  internals.defineGlobal('fetch', function fetch(input, init = undefined) {
    return fetchVia(undefined, input, init);
  });

  // A Fetcher's binding, and the target behind it (a Durable Object's id) if it has several.
  const FETCHER = Symbol('fetcher');
  const TARGET = Symbol('target');
  class Fetcher {
    constructor(id, target) { this[FETCHER] = id; this[TARGET] = target; }
    fetch(input, init = undefined) { return fetchVia(this[FETCHER], input, init, this[TARGET]); }
  }
  Object.defineProperty(Fetcher.prototype, Symbol.toStringTag, { value: 'Fetcher' });
  internals.makeFetcher = (id, target = undefined) => new Fetcher(id, target);
  // A service binding on an engine without JS RPC yet (JavaScriptCore): its fetch() works, and
  // any other method says why it cannot.
  internals.makeServiceFetcher = (id) => new Proxy(new Fetcher(id), {
    get(fetcher, property) {
      if (typeof property === 'symbol' || property === 'then' || property === 'toJSON' || property in fetcher) {
        return Reflect.get(fetcher, property);
      }
      return () => Promise.reject(new TypeError(`${property}(): JS RPC through a service binding is not available on JavaScriptCore yet (its fetch() is)`));
    },
  });
  internals.fetcherId = (fetcher) => fetcher[FETCHER];
})
