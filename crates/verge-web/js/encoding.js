// TextEncoder and TextDecoder (Encoding §8). The codecs are encoding_rs, behind ops.
(function (ops, internals) {
  const toWellFormed = (s) => (typeof s.toWellFormed === 'function' ? s.toWellFormed() : s);
  internals.utf8Encode = (s) => ops.utf8Encode(toWellFormed(String(s)));
  internals.utf8Decode = (bytes) => ops.utf8Decode(bytes);
  internals.toBytes = function toBytes(input, what) {
    if (input instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && input instanceof SharedArrayBuffer)) {
      return new Uint8Array(input);
    }
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError(`${what}: the argument must be an ArrayBuffer or ArrayBufferView`);
  };

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return internals.utf8Encode(input); }
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError('encodeInto: destination must be a Uint8Array');
      source = toWellFormed(String(source));
      let read = 0, written = 0;
      const room = destination.length;
      for (const ch of source) {
        const cp = ch.codePointAt(0);
        const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (written + size > room) break;
        if (size === 1) destination[written] = cp;
        else if (size === 2) { destination[written] = 0xc0 | (cp >> 6); destination[written + 1] = 0x80 | (cp & 63); }
        else if (size === 3) {
          destination[written] = 0xe0 | (cp >> 12); destination[written + 1] = 0x80 | ((cp >> 6) & 63);
          destination[written + 2] = 0x80 | (cp & 63);
        } else {
          destination[written] = 0xf0 | (cp >> 18); destination[written + 1] = 0x80 | ((cp >> 12) & 63);
          destination[written + 2] = 0x80 | ((cp >> 6) & 63); destination[written + 3] = 0x80 | (cp & 63);
        }
        written += size;
        read += ch.length;
      }
      return { read, written };
    }
  }

  const registry = new FinalizationRegistry((id) => ops.decoderFree(id));
  class TextDecoder {
    #encoding; #fatal; #ignoreBOM; #id = 0;
    constructor(label = 'utf-8', options = {}) {
      const name = ops.encodingForLabel(String(label));
      if (name == null || name === 'replacement') throw new RangeError(`TextDecoder: the encoding label '${label}' is not supported`);
      this.#encoding = name;
      this.#fatal = !!options?.fatal;
      this.#ignoreBOM = !!options?.ignoreBOM;
    }
    get encoding() { return this.#encoding; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input, options = {}) {
      const bytes = input === undefined ? new Uint8Array(0) : internals.toBytes(input, 'TextDecoder.decode');
      const stream = !!options?.stream;
      if (this.#id === 0) {
        this.#id = ops.decoderNew(this.#encoding, this.#fatal, this.#ignoreBOM);
        registry.register(this, this.#id);
      }
      return ops.decode(this.#id, bytes, stream);
    }
  }
  internals.defineGlobal('TextEncoder', TextEncoder);
  internals.defineGlobal('TextDecoder', TextDecoder);
})
