// The Body mixin (Fetch §5.3) shared by Request and Response: extracting a body from what a
// script passes in, and reading it once as text, JSON, bytes or an ArrayBuffer.
(function (ops, internals) {
  const TEXT = 'text/plain;charset=UTF-8';
  internals.textContentType = TEXT;
  // Returns { bytes, contentType }: bytes is null, a string, a Uint8Array or a ReadableStream.
  internals.extractBody = function extractBody(init) {
    if (init === undefined || init === null) return { bytes: null, contentType: null };
    // A string stays a string until someone needs its bytes: most are handed straight to the host.
    if (typeof init === 'string') return { bytes: init, contentType: TEXT };
    if (internals.isA(init, 'URLSearchParams')) {
      return { bytes: internals.utf8Encode(init.toString()), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
    if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) {
      return { bytes: internals.toBytes(init, 'body').slice(), contentType: null };
    }
    if (internals.isA(init, 'ReadableStream')) {
      if (init.locked || internals.isDisturbed(init)) throw new TypeError('The ReadableStream body is locked or was already read.');
      return { bytes: init, contentType: null };
    }
    if (internals.isA(init, 'Blob')) return { bytes: internals.blobBytes(init), contentType: init.type || null };
    if (internals.isA(init, 'FormData')) return internals.serializeFormData(init);
    return { bytes: internals.utf8Encode(String(init)), contentType: TEXT };
  };

  const used = Symbol('bodyUsed');
  const BODY = Symbol('body');
  internals.bodyBytes = BODY;
  internals.BodyMixin = class Body {
    // Subclasses store the body in this[internals.bodyBytes]: null, a string (UTF-8 when
    // encoded), a Uint8Array or a ReadableStream. Strings and bytes become a stream only when
    // a script asks for `body`.
    get body() {
      const body = this[BODY];
      if (body === null || internals.isA(body, 'ReadableStream')) return body;
      if (this[used]) {
        // Consumed without a stream ever being made: report one that is already disturbed.
        const spent = new ReadableStream({ start(c) { c.close(); } });
        spent.getReader().read();
        this[BODY] = spent;
        return spent;
      }
      const bytes = typeof body === 'string' ? internals.utf8Encode(body) : body;
      const stream = new ReadableStream({
        type: 'bytes',
        start(controller) {
          if (bytes.byteLength) controller.enqueue(bytes);
          controller.close();
        },
      });
      this[BODY] = stream;
      return stream;
    }
    get bodyUsed() {
      const body = this[BODY];
      return !!this[used] || (internals.isA(body, 'ReadableStream') && internals.isDisturbed(body));
    }
    // Resolves to the body as a Uint8Array, or as a string if it was given as one.
    #consume(kind) {
      if (this.bodyUsed) return Promise.reject(new TypeError(`${kind}: Body has already been used. It can only be used once.`));
      const body = this[BODY];
      if (body === null) return Promise.resolve(new Uint8Array(0));
      this[used] = true;
      if (internals.isA(body, 'ReadableStream')) {
        if (body.locked) return Promise.reject(new TypeError(`${kind}: the body stream is locked.`));
        return internals.ifLoaded('readAllNative')?.(body) ?? internals.readAllBytes(body);
      }
      return Promise.resolve(body);
    }
    #consumeBytes(kind) {
      return this.#consume(kind).then((b) => (typeof b === 'string' ? internals.utf8Encode(b) : b));
    }
    text() { return this.#consume('text()').then((b) => (typeof b === 'string' ? b : internals.utf8Decode(b))); }
    json() { return this.text().then(JSON.parse); }
    arrayBuffer() {
      return this.#consumeBytes('arrayBuffer()').then((b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    }
    bytes() { return this.#consumeBytes('bytes()').then((b) => (b === this[BODY] ? b.slice() : b)); }
    blob() {
      const type = internals.bodyMimeType(this.headers);
      return this.#consumeBytes('blob()').then((b) => internals.makeBlob(b === this[BODY] ? b.slice() : b, type));
    }
    formData() {
      const type = this.headers.get('content-type');
      return this.#consumeBytes('formData()').then((b) => internals.parseFormData(b, type));
    }
  };
  internals.markBodyUsed = (body) => { body[used] = true; };
  // For clone(): the body to give the copy. A stream is teed, and the original keeps one branch.
  internals.cloneBody = (owner) => {
    const body = owner[BODY];
    if (!internals.isA(body, 'ReadableStream')) return body;
    const [mine, theirs] = body.tee();
    owner[BODY] = mine;
    return theirs;
  };

  // The body as the host takes it: null, a string, bytes, or ['native', id]: the native body
  // of a stream no script has touched, or one the stream is piped into (see native_body.js).
  internals.hostBody = (owner) => {
    const body = owner[BODY];
    if (!internals.isA(body, 'ReadableStream')) return typeof body === 'string' ? body.toWellFormed() : body;
    const native = internals.ifLoaded('untouchedNativeBody')?.(body);
    if (native !== undefined) return ['native', native];
    if (body.locked || internals.isDisturbed(body)) throw new TypeError('The response body stream is locked or was already read.');
    return ['native', internals.pipeToHost(body)];
  };
})
