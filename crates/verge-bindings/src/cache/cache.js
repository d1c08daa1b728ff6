// The Cache API as Workers have it (`caches.default`, `caches.open(name)`): `put`, `match` and
// `delete` with HTTP caching semantics. What may be stored and for how long follows the
// response's Cache-Control (s-maxage, then max-age; no-store and private are not stored) or
// Expires; Set-Cookie responses are not stored; Vary is honoured; a match answers
// If-None-Match / If-Modified-Since with 304 and a single byte Range with 206.
(function (ops, internals) {
  function directives(value) {
    const found = new Map();
    for (const part of (value ?? '').split(',')) {
      const [name, arg] = part.split('=');
      if (name.trim()) found.set(name.trim().toLowerCase(), arg?.trim().replace(/^"|"$/g, ''));
    }
    return found;
  }

  // When the response goes stale (ms since the epoch); undefined: no bound; null: already stale.
  function expiry(headers) {
    const cc = directives(headers.get('cache-control'));
    const seconds = cc.get('s-maxage') ?? cc.get('max-age');
    if (seconds !== undefined) {
      const n = Number(seconds);
      return Number.isFinite(n) && n > 0 ? Date.now() + n * 1000 : null;
    }
    const expires = headers.get('expires');
    if (expires !== null) {
      const at = Date.parse(expires);
      return Number.isFinite(at) && at > Date.now() ? at : null;
    }
    return undefined;
  }

  const toRequest = (request) => (request instanceof Request ? request : new Request(request));
  const stripWeak = (tag) => tag.trim().replace(/^W\//, '');

  function conditional(request, headers) {
    const etag = headers.get('etag');
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch !== null) {
      return etag !== null && ifNoneMatch.split(',').some((t) => t.trim() === '*' || stripWeak(t) === stripWeak(etag));
    }
    const since = Date.parse(request.headers.get('if-modified-since') ?? '');
    const modified = Date.parse(headers.get('last-modified') ?? '');
    return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
  }

  function ranged(range, bytes, headers) {
    const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    const size = bytes.byteLength;
    if (!match || (match[1] === '' && match[2] === '')) return null;
    let start, end;
    if (match[1] === '') {
      start = Math.max(0, size - Number(match[2]));
      end = size - 1;
    } else {
      start = Number(match[1]);
      end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    }
    if (start >= size || start > end) {
      headers.set('content-range', `bytes */${size}`);
      return new Response(null, { status: 416, headers });
    }
    headers.set('content-range', `bytes ${start}-${end}/${size}`);
    headers.set('content-length', String(end - start + 1));
    return new Response(bytes.subarray(start, end + 1), { status: 206, headers });
  }

  class Cache {
    #name;
    constructor(name) { this.#name = name; }

    async match(request, options = undefined) {
      request = toRequest(request);
      if (request.method !== 'GET' && !options?.ignoreMethod) return undefined;
      const found = await ops.cacheMatch(this.#name, request.url, internals.headersToList(request.headers));
      if (found === undefined) return undefined;
      const [status, headerList, bytes] = found;
      const headers = new Headers();
      for (let i = 0; i < headerList.length; i += 2) headers.append(headerList[i], headerList[i + 1]);
      headers.set('cf-cache-status', 'HIT');
      if (conditional(request, headers)) return new Response(null, { status: 304, headers });
      const range = request.headers.get('range');
      if (range !== null && status === 200) {
        const partial = ranged(range, bytes, headers);
        if (partial) return partial;
      }
      return new Response(status === 204 || status === 304 ? null : bytes, { status, headers });
    }

    async put(request, response) {
      request = toRequest(request);
      if (!(response instanceof Response)) throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
      if (request.method !== 'GET') throw new TypeError('Cannot cache response to non-GET request.');
      if (response.status === 206) throw new TypeError('Cannot cache response to a range request (206 Partial Content).');
      const vary = (response.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
      if (vary.includes('*')) throw new TypeError("Cannot cache response with 'Vary: *' header.");
      if (response.bodyUsed) throw new TypeError('Cannot cache a response whose body was already used.');
      const bytes = new Uint8Array(await response.arrayBuffer());
      const cc = directives(response.headers.get('cache-control'));
      const privateFields = cc.get('private');
      if (cc.has('no-store') || (cc.has('private') && !privateFields)) return;
      if (response.headers.has('set-cookie') && !/(^|,)\s*set-cookie\s*(,|$)/i.test(privateFields ?? '')) return;
      const expires = expiry(response.headers);
      if (expires === null) return;
      // A cookie is for one client: with private=Set-Cookie the rest is stored, the cookie not.
      const list = internals.headersToList(response.headers);
      const headerList = [];
      for (let i = 0; i < list.length; i += 2) {
        if (list[i] !== 'set-cookie') headerList.push(list[i], list[i + 1]);
      }
      const varied = vary.flatMap((name) => [name, request.headers.get(name)]);
      await ops.cachePut(this.#name, request.url, [response.status, headerList, bytes, expires, varied]);
    }

    async delete(request, options = undefined) {
      request = toRequest(request);
      if (request.method !== 'GET' && !options?.ignoreMethod) return false;
      return ops.cacheDelete(this.#name, request.url);
    }
  }

  class CacheStorage {
    #default = new Cache('default');
    get default() { return this.#default; }
    async open(name) {
      name = String(name);
      if (name === 'default') throw new TypeError('"default" is the name of caches.default: open another.');
      return new Cache(`named:${name}`);
    }
  }

  internals.defineGlobal('Cache', Cache);
  internals.defineGlobal('CacheStorage', CacheStorage);
  internals.defineGlobal('caches', new CacheStorage());
})
