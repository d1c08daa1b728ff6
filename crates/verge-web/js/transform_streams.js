// The platform's TransformStreams: TextEncoderStream and TextDecoderStream (Encoding §7),
// CompressionStream and DecompressionStream (Compression Streams §5).
(function (ops, internals) {
  class TextEncoderStream {
    #transform;
    constructor() {
      let pendingHigh = '';
      this.#transform = new TransformStream({
        transform(chunk, controller) {
          let text = pendingHigh + String(chunk);
          pendingHigh = '';
          // A lead surrogate at the end may pair with the next chunk's first code unit.
          const last = text.charCodeAt(text.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) { pendingHigh = text.slice(-1); text = text.slice(0, -1); }
          if (text.length) controller.enqueue(internals.utf8Encode(text));
        },
        flush(controller) { if (pendingHigh) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd])); },
      });
    }
    get encoding() { return 'utf-8'; }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  class TextDecoderStream {
    #decoder; #transform;
    constructor(label = 'utf-8', options = {}) {
      const decoder = (this.#decoder = new TextDecoder(label, options));
      this.#transform = new TransformStream({
        transform(chunk, controller) {
          const text = decoder.decode(internals.toBytes(chunk, 'TextDecoderStream'), { stream: true });
          if (text) controller.enqueue(text);
        },
        flush(controller) { const text = decoder.decode(); if (text) controller.enqueue(text); },
      });
    }
    get encoding() { return this.#decoder.encoding; }
    get fatal() { return this.#decoder.fatal; }
    get ignoreBOM() { return this.#decoder.ignoreBOM; }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  const registry = new FinalizationRegistry((id) => ops.coderFree(id));
  function coderStream(format, compress) {
    if (format === undefined) throw new TypeError('a compression format is required');
    if (!['gzip', 'deflate', 'deflate-raw'].includes(String(format))) throw new TypeError(`Unsupported compression format: '${format}' (gzip, deflate or deflate-raw)`);
    const id = ops.coderNew(String(format), compress, -1, 0);
    const transform = new TransformStream({
      transform(chunk, controller) {
        const out = ops.coderWrite(id, internals.toBytes(chunk, compress ? 'CompressionStream' : 'DecompressionStream'));
        if (out.byteLength) controller.enqueue(out);
      },
      flush(controller) {
        const out = ops.coderFinish(id);
        if (out.byteLength) controller.enqueue(out);
      },
      cancel() { ops.coderFree(id); },
    });
    // The TransformStream lives as long as either of its sides; when both are gone, so is the coder.
    registry.register(transform, id);
    return transform;
  }
  class CompressionStream {
    #transform;
    constructor(format) { this.#transform = coderStream(format, true); }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  class DecompressionStream {
    #transform;
    constructor(format) { this.#transform = coderStream(format, false); }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  for (const [name, value] of Object.entries({ TextEncoderStream, TextDecoderStream, CompressionStream, DecompressionStream })) {
    internals.defineGlobal(name, value);
  }
})
