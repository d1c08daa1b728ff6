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
    #status = 200; #statusText = ''; #type = 'default'; #url = ''; #redirected = false; #webSocket = null;
    // Made when first asked for: most responses are handed to the host with no more headers
    // than their body's content type, or than the host's list of a fetched response (which a
    // response made from one shares), kept apart until then; the list's Headers get its guard.
    #headers = null; #contentType = null; #headerList = null; #listGuard = 'none';
    constructor(body = null, init = undefined) {
      super();
      if (init !== undefined && init !== null) {
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
        if (#status in init && init.#headers === null && init.#headerList !== null && init.#contentType === null
          && Object.getPrototypeOf(init) === Response.prototype && !Object.hasOwn(init, 'headers')) {
          // A fetched response's headers, not yet made and read through the class's own
          // getter: its list serves this one too.
          this.#headerList = init.#headerList;
        } else {
          const headers = init.headers;
          if (headers !== undefined) this.#headers = new Headers(headers);
        }
      }
      if (body === null || body === undefined) {
        this[BODY] = null;
        return;
      }
      refuseBodyFor(this.#status);
      if (typeof body === 'string') {
        // extractBody's first case, without the object it returns.
        this[BODY] = body;
        this.#defaultContentType(internals.textContentType);
        return;
      }
      const extracted = internals.extractBody(body);
      this[BODY] = extracted.bytes;
      if (extracted.contentType) this.#defaultContentType(extracted.contentType);
    }
    #defaultContentType(value) {
      if (this.#headers === null) this.#contentType = value;
      else internals.defaultContentType(this.#headers, value);
    }
    #headersObject() {
      if (this.#headers === null) {
        const list = this.#headerList;
        this.#headers = list === null ? new Headers() : internals.headersFromList(list, this.#listGuard);
        this.#headerList = null;
        if (this.#contentType !== null) internals.defaultContentType(this.#headers, this.#contentType);
      }
      return this.#headers;
    }
    static json(data, init = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the value cannot be serialized as JSON.');
      // Initialized as the constructor would with a JSON body, but with one Headers, not one
      // made here and copied into the response.
      const response = new Response(null, init);
      refuseBodyFor(response.#status);
      response[BODY] = text;
      response.#defaultContentType('application/json');
      return response;
    }
    static redirect(url, status = 302) {
      const parsed = URL.parse(String(url));
      if (parsed === null) throw new TypeError(`Invalid URL: ${String(url)}`);
      status = Number(status);
      if (!REDIRECT_STATUS.includes(status)) throw new RangeError(`Invalid status code ${status}: a redirect must be 301, 302, 303, 307 or 308.`);
      const response = new Response(null, { status, headers: { location: parsed.href } });
      internals.setHeadersGuard(response.#headersObject(), 'immutable');
      return response;
    }
    static error() {
      const response = new Response(null, { status: 200 });
      response.#status = 0;
      response.#type = 'error';
      internals.setHeadersGuard(response.#headersObject(), 'immutable');
      return response;
    }
    get status() { return this.#status; }
    get statusText() { return this.#statusText; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get headers() { return this.#headersObject(); }
    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get webSocket() { return this.#webSocket; }
    clone() {
      if (this.bodyUsed) throw new TypeError('Cannot clone a Response whose body has already been used.');
      const copy = new Response(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers ?? undefined });
      copy.#contentType = this.#contentType;
      // The copy's headers are guarded as the original's are (immutable for a fetched one).
      copy.#headerList = this.#headerList;
      copy.#listGuard = this.#listGuard;
      if (this.#headers !== null && internals.headersGuard(this.#headers) === 'immutable') {
        internals.setHeadersGuard(copy.#headers, 'immutable');
      }
      copy.#redirected = this.#redirected;
      copy.#status = this.#status;
      copy.#type = this.#type;
      copy.#url = this.#url;
      copy[BODY] = internals.cloneBody(this);
      return copy;
    }
    static _fetched(status, statusText, headerList, body, url, redirected, socket) {
      const response = new Response(null);
      if (socket !== undefined) response.#webSocket = internals.socketFromHost(socket);
      response.#status = status;
      response.#statusText = statusText;
      response.#headerList = headerList;
      response.#listGuard = 'immutable';
      response.#url = url;
      response.#redirected = redirected;
      response[BODY] = body;
      return response;
    }
    // What the host takes of a response: a WebSocket in it is handed over (see websocket.js).
    static _parts(response) {
      const socket = response.#webSocket === null ? undefined : internals.exportSocket(response.#webSocket);
      let headers;
      if (response.#headers === null && response.#contentType === null) headers = response.#headerList ?? [];
      else if (response.#headers === null && response.#headerList === null) headers = ['content-type', response.#contentType];
      else headers = internals.headersToList(response.#headersObject());
      return [response.#status, response.#statusText, headers, internals.hostBody(response), socket];
    }
  }
  Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: 'Response' });
  internals.responseParts = Response._parts;
  internals.fetchedResponse = Response._fetched;
  delete Response._parts;
  delete Response._fetched;
  internals.defineGlobal('Response', Response);
})
