// Response (Fetch §5.5), with the statics json, redirect and error.
(function (ops, internals) {
  const BODY = internals.bodyBytes;
  const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
  const REDIRECT_STATUS = [301, 302, 303, 307, 308];
  const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
  function refuseBodyFor(status) {
    if (NULL_BODY_STATUS.includes(status)) {
      throw new TypeError(`Response with null body status (${status}) cannot have a body.`);
    }
  }

  class Response extends internals.BodyMixin {
    #status = 200; #statusText = ''; #headers; #type = 'default'; #url = ''; #redirected = false; #webSocket = null;
    constructor(body = null, init = {}) {
      super();
      init ??= {};
      if (typeof init !== 'object') throw new TypeError("Failed to construct 'Response': init must be an object.");
      const status = init.status === undefined ? 200 : Number(init.status);
      if (init.webSocket != null) {
        if (status !== 101) throw new RangeError('Responses with a WebSocket must have status code 101.');
        this.#webSocket = init.webSocket;
      } else if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`Failed to construct 'Response': The status provided (${init.status}) is outside the range [200, 599].`);
      }
      const statusText = init.statusText === undefined ? '' : String(init.statusText);
      if (statusText !== '' && !REASON.test(statusText)) throw new TypeError("Failed to construct 'Response': Invalid statusText.");
      this.#status = status;
      this.#statusText = statusText;
      this.#headers = new Headers(init.headers);
      let bytes = null;
      if (body !== null && body !== undefined) {
        refuseBodyFor(status);
        const extracted = internals.extractBody(body);
        bytes = extracted.bytes;
        if (extracted.contentType) internals.defaultContentType(this.#headers, extracted.contentType);
      }
      this[BODY] = bytes;
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the value cannot be serialized as JSON.');
      // Initialized as the constructor would with a JSON body, but with one Headers, not one
      // made here and copied into the response.
      const response = new Response(null, init);
      refuseBodyFor(response.#status);
      response[BODY] = internals.extractBody(text).bytes;
      internals.defaultContentType(response.#headers, 'application/json');
      return response;
    }
    static redirect(url, status = 302) {
      const parsed = URL.parse(String(url));
      if (parsed === null) throw new TypeError(`Invalid URL: ${String(url)}`);
      status = Number(status);
      if (!REDIRECT_STATUS.includes(status)) throw new RangeError(`Invalid status code ${status}: a redirect must be 301, 302, 303, 307 or 308.`);
      const response = new Response(null, { status, headers: { location: parsed.href } });
      internals.setHeadersGuard(response.#headers, 'immutable');
      return response;
    }
    static error() {
      const response = new Response(null, { status: 200 });
      response.#status = 0;
      response.#type = 'error';
      internals.setHeadersGuard(response.#headers, 'immutable');
      return response;
    }
    get status() { return this.#status; }
    get statusText() { return this.#statusText; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get headers() { return this.#headers; }
    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get webSocket() { return this.#webSocket; }
    clone() {
      if (this.bodyUsed) throw new TypeError('Cannot clone a Response whose body has already been used.');
      const copy = new Response(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers });
      copy.#status = this.#status;
      copy.#type = this.#type;
      copy.#url = this.#url;
      copy[BODY] = internals.cloneBody(this);
      return copy;
    }
    static _fetched(status, statusText, headerList, body, url, redirected, socket) {
      const response = new Response(null, { status: 200 });
      if (socket !== undefined) response.#webSocket = internals.socketFromHost(socket);
      response.#status = status;
      response.#statusText = statusText;
      response.#headers = internals.headersFromList(headerList, 'immutable');
      response.#url = url;
      response.#redirected = redirected;
      response[BODY] = body;
      return response;
    }
    // What the host takes of a response: a WebSocket in it is handed over (see websocket.js).
    static _parts(response) {
      const socket = response.#webSocket === null ? undefined : internals.exportSocket(response.#webSocket);
      return [response.#status, response.#statusText, internals.headersToList(response.#headers), internals.hostBody(response), socket];
    }
  }
  Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: 'Response' });
  internals.responseParts = Response._parts;
  internals.fetchedResponse = Response._fetched;
  delete Response._parts;
  delete Response._fetched;
  internals.defineGlobal('Response', Response);
})
