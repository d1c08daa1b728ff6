// Blob and File (File API §3-4): immutable bytes with a type; slice, text, arrayBuffer, bytes,
// stream.
(function (ops, internals) {
  const BYTES = Symbol('bytes');
  function normalizeType(type) {
    type = type === undefined ? '' : String(type);
    return /[^\x20-\x7e]/.test(type) ? '' : type.toLowerCase();
  }
  function partBytes(part, endings) {
    if (part instanceof Blob) return part[BYTES];
    if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) return internals.toBytes(part, 'Blob part').slice();
    let text = String(part);
    if (endings === 'native') text = text.replace(/\r\n|\r/g, '\n');
    return internals.utf8Encode(text);
  }
  class Blob {
    #type;
    constructor(parts = [], options = {}) {
      if (parts === null || typeof parts !== 'object' || typeof parts[Symbol.iterator] !== 'function') {
        if (parts !== undefined) throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
        parts = [];
      }
      const endings = options?.endings ?? 'transparent';
      if (endings !== 'transparent' && endings !== 'native') throw new TypeError(`Invalid endings '${endings}'`);
      const chunks = [];
      let total = 0;
      for (const part of parts) {
        const bytes = partBytes(part, endings);
        chunks.push(bytes);
        total += bytes.byteLength;
      }
      const bytes = chunks.length === 1 ? chunks[0] : new Uint8Array(total);
      if (chunks.length !== 1) {
        let offset = 0;
        for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
      }
      this[BYTES] = bytes;
      this.#type = normalizeType(options?.type);
    }
    get size() { return this[BYTES].byteLength; }
    get type() { return this.#type; }
    static { internals.setBlobType = (blob, type) => { blob.#type = type; }; }
    slice(start = 0, end = this.size, contentType = '') {
      const size = this.size;
      const clamp = (v) => (v < 0 ? Math.max(size + v, 0) : Math.min(v, size));
      const from = clamp(Math.trunc(Number(start)) || 0);
      const to = clamp(end === undefined ? size : Math.trunc(Number(end)) || 0);
      const blob = new Blob([], { type: contentType });
      blob[BYTES] = this[BYTES].subarray(from, Math.max(from, to));
      return blob;
    }
    text() { return Promise.resolve(internals.utf8Decode(this[BYTES])); }
    arrayBuffer() { const b = this[BYTES]; return Promise.resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); }
    bytes() { return Promise.resolve(this[BYTES].slice()); }
    stream() {
      const bytes = this[BYTES];
      let offset = 0;
      return new ReadableStream({
        type: 'bytes',
        pull(controller) {
          if (offset >= bytes.byteLength) { controller.close(); controller.byobRequest?.respond(0); return; }
          const end = Math.min(offset + 65536, bytes.byteLength);
          controller.enqueue(bytes.slice(offset, end));
          offset = end;
        },
      });
    }
  }
  Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: 'Blob' });
  class File extends Blob {
    #name; #lastModified;
    constructor(parts, name, options = {}) {
      if (arguments.length < 2) throw new TypeError("Failed to construct 'File': 2 arguments required.");
      super(parts, options);
      this.#name = String(name);
      this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
  }
  Object.defineProperty(File.prototype, Symbol.toStringTag, { value: 'File' });
  internals.blobBytes = (blob) => blob[BYTES];
  // A body's blob keeps its serialized MIME type as it is (Fetch §5 `blob()`), not lowercased.
  internals.makeBlob = (bytes, type) => {
    const blob = new Blob([]);
    blob[BYTES] = bytes;
    internals.setBlobType(blob, type);
    return blob;
  };
  internals.defineGlobal('Blob', Blob);
  internals.defineGlobal('File', File);
})
