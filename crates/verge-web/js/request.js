// Request (Fetch §5.4) as Workers shape it: absolute URLs only, `cf`, no browser-only modes.
(function (ops, internals) {
  const BODY = internals.bodyBytes;
  const TRUSTED = Symbol('trusted');
  const NORMALIZED = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function normalizeMethod(method) {
    method = String(method);
    if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
    const upper = method.toUpperCase();
    if (['CONNECT', 'TRACE', 'TRACK'].includes(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
    return NORMALIZED.includes(upper) ? upper : method;
  }

  class Request extends internals.BodyMixin {
    // An incoming request's `cf` stays JSON, and its headers the host's list, until a script
    // reads them: many never do.
    #method; #url; #headers; #headerList; #redirect; #signal; #cf; #cfJson;
    constructor(input, init = {}) {
      super();
      if (input === TRUSTED) {
        this.#method = init.method; this.#url = init.url; this.#headerList = init.headerList; this.#cfJson = init.cfJson;
        this.#redirect = 'follow'; this.#signal = null; this[BODY] = init.body;
        return;
      }
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
      init ??= {};
      let source = null;
      if (input instanceof Request) {
        source = input;
        this.#url = input.#url;
      } else {
        const href = internals.parseHref(input);
        if (href === undefined) throw new TypeError(`Invalid URL: ${String(input)}`);
        this.#url = href;
      }
      this.#method = init.method !== undefined ? normalizeMethod(init.method) : source ? source.#method : 'GET';
      const redirect = init.redirect ?? source?.#redirect ?? 'follow';
      if (!['follow', 'manual', 'error'].includes(redirect)) {
        throw new TypeError(`Invalid redirect value '${redirect}': must be 'follow', 'manual' or 'error'.`);
      }
      this.#redirect = redirect;
      this.#signal = init.signal ?? source?.#signal ?? null;
      this.#cf = init.cf ?? source?.cf;
      this.#headers = new Headers(init.headers ?? source?.#headerObject());
      let bytes = null;
      if (init.body !== undefined && init.body !== null) {
        if (this.#method === 'GET' || this.#method === 'HEAD') {
          throw new TypeError('Request with a GET or HEAD method cannot have a body.');
        }
        const extracted = internals.extractBody(init.body);
        bytes = extracted.bytes;
        if (extracted.contentType) internals.defaultContentType(this.#headers, extracted.contentType);
      } else if (source && source[BODY] !== null) {
        if (source.bodyUsed) throw new TypeError('Cannot construct a Request with a Request whose body has already been used.');
        bytes = source[BODY];
        internals.markBodyUsed(source);
      }
      if (bytes !== null && (this.#method === 'GET' || this.#method === 'HEAD')) {
        throw new TypeError('Request with a GET or HEAD method cannot have a body.');
      }
      this[BODY] = bytes;
    }
    get method() { return this.#method; }
    get url() { return this.#url; }
    get headers() { return this.#headerObject(); }
    #headerObject() {
      // An incoming request's headers are immutable, as on Workers.
      return (this.#headers ??= internals.headersFromList(this.#headerList, 'immutable'));
    }
    get redirect() { return this.#redirect; }
    get signal() { return (this.#signal ??= internals.newAbortSignal()); }
    static _signalIfAny(request) { return request.#signal; }
    get cf() {
      if (this.#cfJson !== undefined) {
        this.#cf = JSON.parse(this.#cfJson);
        this.#cfJson = undefined;
      }
      return this.#cf;
    }
    get keepalive() { return false; }
    get integrity() { return ''; }
    get fetcher() { return null; }
    clone() {
      if (this.bodyUsed) throw new TypeError('Cannot clone a Request whose body has already been used.');
      const copy = new Request(this.#url, {
        method: this.#method, headers: this.#headerObject(), redirect: this.#redirect, signal: this.#signal, cf: this.cf,
      });
      copy[BODY] = internals.cloneBody(this);
      return copy;
    }
  }
  Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: 'Request' });

  // An incoming request: trusted parts from the host (a valid method and absolute URL, header
  // names lower-cased), so none of the constructor's checks apply.
  // The signal a script gave, or null: fetch() need not make one just to listen to it.
  internals.requestSignal = Request._signalIfAny;
  delete Request._signalIfAny;
  internals.incomingRequest = (method, url, headerList, body, cfJson) =>
    new Request(TRUSTED, { method, url, headerList, body, cfJson });
  internals.defineGlobal('Request', Request);
})
