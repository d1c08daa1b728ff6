// The Body mixin (Fetch §5.3) shared by Request and Response: extracting a body from what a
// script passes in, and reading it once as text, JSON, bytes or an ArrayBuffer.
(function (ops, internals) {
  // Returns { bytes: Uint8Array | null, contentType: string | null }.
  internals.extractBody = function extractBody(init) {
    if (init === undefined || init === null) return { bytes: null, contentType: null };
    if (typeof init === 'string') return { bytes: internals.utf8Encode(init), contentType: 'text/plain;charset=UTF-8' };
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
    // Subclasses store the body as a Uint8Array (or null) in this[internals.bodyBytes].
    get bodyUsed() { return !!this[used]; }
    #consume(kind) {
      if (this[used]) return Promise.reject(new TypeError(`${kind}: Body has already been used. It can only be used once.`));
      const bytes = this[internals.bodyBytes];
      if (bytes !== null) this[used] = true;
      return Promise.resolve(bytes ?? new Uint8Array(0));
    }
    text() { return this.#consume('text()').then((b) => internals.utf8Decode(b)); }
    json() { return this.#consume('json()').then((b) => JSON.parse(internals.utf8Decode(b))); }
    arrayBuffer() {
      return this.#consume('arrayBuffer()').then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    bytes() { return this.#consume('bytes()').then((b) => b.slice()); }
  };
  internals.bodyBytes = Symbol('bodyBytes');
  internals.markBodyUsed = (body) => { body[used] = true; };
})
