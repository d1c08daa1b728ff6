// The Body mixin (Fetch §5.3) shared by Request and Response: extracting a body from what a
// script passes in, and reading it once as text, JSON, bytes or an ArrayBuffer.
(function (ops, internals) {
  // Returns { bytes: Uint8Array | null, contentType: string | null }.
  internals.extractBody = function extractBody(init) {
    if (init === undefined || init === null) return { bytes: null, contentType: null };
    // A string stays a string until someone needs its bytes: most are handed straight to the host.
    if (typeof init === 'string') return { bytes: init, contentType: 'text/plain;charset=UTF-8' };
    if (init instanceof URLSearchParams) {
      return { bytes: internals.utf8Encode(init.toString()), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
    if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) {
      return { bytes: internals.toBytes(init, 'body').slice(), contentType: null };
    }
    if (internals.isBodySource?.(init)) return internals.bodySource(init);
    return { bytes: internals.utf8Encode(String(init)), contentType: 'text/plain;charset=UTF-8' };
  };

  const used = Symbol('bodyUsed');
  internals.BodyMixin = class Body {
    // Subclasses store the body as a Uint8Array, a string (UTF-8 when encoded) or null in
    // this[internals.bodyBytes].
    get bodyUsed() { return !!this[used]; }
    // Resolves to the body as a Uint8Array, or as a string if it was given as one.
    #consume(kind) {
      if (this[used]) return Promise.reject(new TypeError(`${kind}: Body has already been used. It can only be used once.`));
      const body = this[internals.bodyBytes];
      if (body !== null) this[used] = true;
      return Promise.resolve(body ?? new Uint8Array(0));
    }
    #consumeBytes(kind) {
      return this.#consume(kind).then((b) => (typeof b === 'string' ? internals.utf8Encode(b) : b));
    }
    text() { return this.#consume('text()').then((b) => (typeof b === 'string' ? b : internals.utf8Decode(b))); }
    json() { return this.text().then(JSON.parse); }
    arrayBuffer() {
      return this.#consumeBytes('arrayBuffer()').then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    bytes() { return this.#consumeBytes('bytes()').then((b) => (b === this[internals.bodyBytes] ? b.slice() : b)); }
  };
  internals.bodyBytes = Symbol('bodyBytes');
  internals.markBodyUsed = (body) => { body[used] = true; };
})
