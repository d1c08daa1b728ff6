// fetch() (Fetch §5.6) as Workers have it: the request is built and validated here, sent by the
// host's Outbound capability, and the response's body arrives as a native stream. An AbortSignal
// cancels the request in flight and errors a body still being read. A service binding is a
// Fetcher whose `fetch` goes the same way to another worker (`fetcher`: its id, see src/fetch.rs).
(function (ops, internals) {
  function fetchVia(fetcher, input, init) {
    let request;
    try {
      request = new Request(input, init);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = internals.requestSignal(request);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (request.url.startsWith('data:')) return internals.fetchDataUrl(request);
    let parts;
    try {
      parts = [request.method, request.url, internals.headersToList(request.headers), internals.hostBody(request), request.redirect];
    } catch (error) {
      return Promise.reject(error);
    }
    let id, sent;
    try {
      [id, sent] = ops.fetch(parts, fetcher);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      let body = null;
      const onAbort = () => {
        ops.fetchAbort(id);
        if (body) body.cancel(signal.reason).catch(() => {});
        reject(signal.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      sent.then(([status, statusText, headerList, url, redirected, bodySource]) => {
        if (typeof bodySource === 'number') body = internals.nativeStream(bodySource);
        else body = bodySource;
        resolve(internals.fetchedResponse(status, statusText, headerList, body, url, redirected));
      }, (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      });
    });
  }

  internals.defineGlobal('fetch', function fetch(input, init = undefined) {
    return fetchVia(undefined, input, init);
  });

  const FETCHER = Symbol('fetcher');
  class Fetcher {
    constructor(id) { this[FETCHER] = id; }
    fetch(input, init = undefined) { return fetchVia(this[FETCHER], input, init); }
  }
  Object.defineProperty(Fetcher.prototype, Symbol.toStringTag, { value: 'Fetcher' });
  internals.makeFetcher = (id) => new Fetcher(id);
})
