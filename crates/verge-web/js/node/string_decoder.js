// node:string_decoder — bytes to text across chunk boundaries: a multi-byte character split
// between two writes is held back until its last byte arrives.
(function (ops, internals) {
  const { Buffer } = internals['node:buffer'];

  function normalize(encoding) {
    const name = String(encoding ?? 'utf8').toLowerCase();
    switch (name) {
      case 'utf8': case 'utf-8': return 'utf8';
      case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
      case 'latin1': case 'binary': return 'latin1';
      case 'base64': case 'base64url': case 'hex': case 'ascii': return name;
      default: throw internals.nodeError('ERR_UNKNOWN_ENCODING', encoding);
    }
  }

  // How many bytes the UTF-8 sequence that `byte` starts has (0 for a continuation byte).
  const utf8Length = (byte) => (byte < 0x80 ? 1 : byte >> 5 === 0x06 ? 2 : byte >> 4 === 0x0e ? 3 : byte >> 3 === 0x1e ? 4 : 0);

  class StringDecoder {
    #held = new Uint8Array(0);
    constructor(encoding) {
      this.encoding = normalize(encoding);
    }

    write(chunk) {
      if (typeof chunk === 'string') return chunk;
      if (!ArrayBuffer.isView(chunk)) throw internals.nodeError('ERR_INVALID_ARG_TYPE', 'buf', 'an instance of Buffer, TypedArray, or DataView', chunk);
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const all = this.#held.length ? Buffer.concat([this.#held, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const whole = this.#completeLength(all);
      this.#held = Uint8Array.from(all.subarray(whole));
      return all.toString(this.encoding, 0, whole);
    }

    end(chunk) {
      let text = chunk === undefined ? '' : this.write(chunk);
      if (this.#held.length) {
        // What is left is an incomplete character: UTF-8 and UTF-16 show it as U+FFFD.
        text += this.encoding === 'utf8' ? '\ufffd' : Buffer.from(this.#held).toString(this.encoding);
        this.#held = new Uint8Array(0);
      }
      return text;
    }

    text(chunk, start) {
      return this.write(chunk.subarray(start));
    }

    get lastNeed() {
      return this.#held.length ? this.#needed(this.#held) : 0;
    }

    // How many leading bytes of `bytes` decode without splitting a character.
    #completeLength(bytes) {
      const length = bytes.length;
      switch (this.encoding) {
        case 'utf8': {
          for (let back = 1; back <= Math.min(3, length); back++) {
            const size = utf8Length(bytes[length - back]);
            if (size === 0) continue;
            return size > back ? length - back : length;
          }
          return length;
        }
        case 'utf16le': {
          let whole = length - (length % 2);
          // A high surrogate waits for its low half.
          if (whole >= 2) {
            const last = bytes[whole - 2] | (bytes[whole - 1] << 8);
            if (last >= 0xd800 && last <= 0xdbff) whole -= 2;
          }
          return whole;
        }
        case 'base64': case 'base64url': return length - (length % 3);
        default: return length;
      }
    }

    #needed(held) {
      switch (this.encoding) {
        case 'utf8': return utf8Length(held[0]) - held.length;
        case 'utf16le': return held.length % 2 ? 1 : 2;
        default: return 3 - held.length;
      }
    }
  }

  internals['node:string_decoder'] = { StringDecoder };
})
