// node:buffer — Buffer, a Uint8Array with Node's encodings and byte accessors.
(function (ops, internals) {
  const ENCODINGS = new Map([
    ['utf8', 'utf8'], ['utf-8', 'utf8'], ['hex', 'hex'], ['base64', 'base64'], ['base64url', 'base64url'],
    ['latin1', 'latin1'], ['binary', 'latin1'], ['ascii', 'ascii'],
    ['utf16le', 'utf16le'], ['utf-16le', 'utf16le'], ['ucs2', 'utf16le'], ['ucs-2', 'utf16le'],
  ]);
  function encodingOf(encoding) {
    if (encoding === undefined || encoding === null) return 'utf8';
    const name = ENCODINGS.get(String(encoding).toLowerCase());
    if (!name) throw new TypeError(`Unknown encoding: ${encoding}`);
    return name;
  }

  function stringToBytes(string, encoding) {
    switch (encoding) {
      case 'utf8': return internals.utf8Encode(string);
      case 'utf16le': {
        const bytes = new Uint8Array(string.length * 2);
        for (let i = 0; i < string.length; i++) {
          const unit = string.charCodeAt(i);
          bytes[i * 2] = unit & 0xff;
          bytes[i * 2 + 1] = unit >> 8;
        }
        return bytes;
      }
      default: return ops.bufferFromString(string, encoding);
    }
  }

  function bytesToString(bytes, encoding) {
    switch (encoding) {
      case 'utf8': return internals.utf8Decode(bytes);
      case 'utf16le': {
        let out = '';
        for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
        return out;
      }
      default: return ops.bufferToString(bytes, encoding);
    }
  }

  const view = (bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const clampIndex = (value, length, fallback) => {
    if (value === undefined) return fallback;
    const n = Math.trunc(Number(value)) || 0;
    return n < 0 ? Math.max(length + n, 0) : Math.min(n, length);
  };

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === 'string') return Buffer.#wrap(stringToBytes(value, encodingOf(encodingOrOffset)));
      if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) {
        const offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset);
        const size = length === undefined ? value.byteLength - offset : Number(length);
        if (offset < 0 || offset > value.byteLength) throw new RangeError('"offset" is outside of buffer bounds');
        if (size < 0 || offset + size > value.byteLength) throw new RangeError('"length" is outside of buffer bounds');
        return new Buffer(value, offset, size);
      }
      if (ArrayBuffer.isView(value)) {
        // A typed array of wider elements converts element by element, as Node does.
        if (!(value instanceof Uint8Array) && !(value instanceof DataView)) return Buffer.#wrap(Uint8Array.from(value, (x) => Number(x) & 0xff));
        const copy = new Buffer(value.byteLength);
        copy.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        return copy;
      }
      if (value && typeof value === 'object') {
        if (value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.#wrap(Uint8Array.from(value.data));
        if (typeof value.length === 'number' || Array.isArray(value)) return Buffer.#wrap(Uint8Array.from(value, (x) => Number(x) & 0xff));
        const primitive = value[Symbol.toPrimitive]?.('string') ?? value.valueOf?.();
        if (primitive !== value && primitive != null) return Buffer.from(primitive, encodingOrOffset, length);
      }
      throw new TypeError('The first argument must be of type string, Buffer, ArrayBuffer, Array, or Array-like Object');
    }
    static #wrap(bytes) { return new Buffer(bytes.buffer, bytes.byteOffset, bytes.byteLength); }
    static alloc(size, fill, encoding) {
      const buffer = new Buffer(Buffer.#size(size));
      if (fill !== undefined && fill !== 0) buffer.fill(fill, 0, buffer.length, encoding);
      return buffer;
    }
    static allocUnsafe(size) { return new Buffer(Buffer.#size(size)); }
    static allocUnsafeSlow(size) { return new Buffer(Buffer.#size(size)); }
    static #size(size) {
      if (typeof size !== 'number' || !(size >= 0) || size > kMaxLength) throw new RangeError(`The argument 'size' is invalid. Received ${size}`);
      return Math.floor(size);
    }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(encoding) { return typeof encoding === 'string' && ENCODINGS.has(encoding.toLowerCase()); }
    static byteLength(value, encoding) {
      if (typeof value !== 'string') {
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
        throw new TypeError('The "string" argument must be of type string or an instance of Buffer or ArrayBuffer');
      }
      return stringToBytes(value, encodingOf(encoding)).byteLength;
    }
    static concat(list, totalLength) {
      if (!Array.isArray(list)) throw new TypeError('The "list" argument must be an instance of Array');
      const total = totalLength ?? list.reduce((sum, item) => sum + item.length, 0);
      const result = Buffer.alloc(total);
      let offset = 0;
      for (const item of list) {
        if (!(item instanceof Uint8Array)) throw new TypeError('The "list" argument must contain only Buffer or Uint8Array');
        if (offset >= total) break;
        const room = Math.min(item.length, total - offset);
        if (room === 0) continue;
        result.set(room === item.length ? item : item.subarray(0, room), offset);
        offset += room;
      }
      return result;
    }
    static compare(a, b) {
      if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw new TypeError('The arguments must be Buffers or Uint8Arrays');
      const length = Math.min(a.length, b.length);
      for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
    }
    static get [Symbol.species]() { return Buffer; }

    toString(encoding, start, end) {
      const s = clampIndex(start, this.length, 0), e = clampIndex(end, this.length, this.length);
      if (e <= s) return '';
      return bytesToString(view(this).subarray(s, e), encodingOf(encoding));
    }
    toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
    equals(other) {
      if (!(other instanceof Uint8Array)) throw new TypeError('The "otherBuffer" argument must be a Buffer or Uint8Array');
      return Buffer.compare(this, other) === 0;
    }
    compare(target, targetStart = 0, targetEnd = target.length, sourceStart = 0, sourceEnd = this.length) {
      return Buffer.compare(this.subarray(sourceStart, sourceEnd), target.subarray(targetStart, targetEnd));
    }
    copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
      const source = view(this).subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
      target.set(source, targetStart);
      return source.length;
    }
    slice(start, end) { return this.subarray(start, end); }
    write(string, offset, length, encoding) {
      if (typeof offset === 'string') { encoding = offset; offset = 0; length = undefined; }
      else if (typeof length === 'string') { encoding = length; length = undefined; }
      offset = offset === undefined ? 0 : offset;
      const bytes = stringToBytes(String(string), encodingOf(encoding));
      const count = Math.min(bytes.length, this.length - offset, length ?? Infinity);
      this.set(bytes.subarray(0, count), offset);
      return count;
    }
    fill(value, offset = 0, end = this.length, encoding) {
      if (typeof offset === 'string') { encoding = offset; offset = 0; end = this.length; }
      if (typeof value === 'number') return super.fill(value & 0xff, offset, end);
      const pattern = typeof value === 'string' ? stringToBytes(value, encodingOf(encoding)) : view(value);
      if (pattern.length === 0) return super.fill(0, offset, end);
      for (let i = offset, j = 0; i < end; i++, j = (j + 1) % pattern.length) this[i] = pattern[j];
      return this;
    }
    indexOf(value, byteOffset = 0, encoding) {
      if (typeof value === 'number') return super.indexOf(value & 0xff, byteOffset);
      const needle = typeof value === 'string' ? stringToBytes(value, encodingOf(encoding)) : view(value);
      const start = byteOffset < 0 ? Math.max(this.length + byteOffset, 0) : byteOffset;
      outer: for (let i = start; i <= this.length - needle.length; i++) {
        for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    lastIndexOf(value, byteOffset = this.length, encoding) {
      if (typeof value === 'number') return super.lastIndexOf(value & 0xff, byteOffset);
      const needle = typeof value === 'string' ? stringToBytes(value, encodingOf(encoding)) : view(value);
      outer: for (let i = Math.min(byteOffset, this.length - needle.length); i >= 0; i--) {
        for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    includes(value, byteOffset, encoding) { return this.indexOf(value, byteOffset, encoding) !== -1; }
    swap16() { for (let i = 0; i + 1 < this.length; i += 2) [this[i], this[i + 1]] = [this[i + 1], this[i]]; return this; }
    [Symbol.for('nodejs.util.inspect.custom')]() {
      const shown = Array.from(this.subarray(0, 50), (b) => b.toString(16).padStart(2, '0')).join(' ');
      return `<Buffer${shown ? ' ' + shown : ''}${this.length > 50 ? ` ... ${this.length - 50} more bytes` : ''}>`;
    }
  }

  // read/write accessors for every width and byte order, by DataView.
  const dataView = (buffer) => new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const ACCESSORS = [
    ['UInt8', 'Uint8', 1], ['Int8', 'Int8', 1],
    ['UInt16', 'Uint16', 2], ['Int16', 'Int16', 2], ['UInt32', 'Uint32', 4], ['Int32', 'Int32', 4],
    ['Float', 'Float32', 4], ['Double', 'Float64', 8], ['BigUInt64', 'BigUint64', 8], ['BigInt64', 'BigInt64', 8],
  ];
  for (const [name, type, size] of ACCESSORS) {
    const orders = size === 1 ? [''] : ['LE', 'BE'];
    for (const order of orders) {
      const little = order === 'LE';
      const check = (buffer, offset) => {
        if (!Number.isInteger(offset) || offset < 0 || offset + size > buffer.length) {
          throw new RangeError(`The value of "offset" is out of range. It must be >= 0 and <= ${buffer.length - size}. Received ${offset}`);
        }
      };
      const read = function (offset = 0) { check(this, offset); return dataView(this)[`get${type}`](offset, little); };
      const write = function (value, offset = 0) { check(this, offset); dataView(this)[`set${type}`](offset, value, little); return offset + size; };
      for (const alias of new Set([name, name.replace('UInt', 'Uint')])) {
        Object.defineProperty(Buffer.prototype, `read${alias}${order}`, { value: read, writable: true, configurable: true });
        Object.defineProperty(Buffer.prototype, `write${alias}${order}`, { value: write, writable: true, configurable: true });
      }
    }
  }

  const kMaxLength = 2 ** 32 - 1;
  // Node's Buffer functions are enumerable, and packages copy them with for…in (safer-buffer,
  // which body-parser's iconv-lite uses).
  for (const name of Object.getOwnPropertyNames(Buffer)) {
    if (['length', 'name', 'prototype'].includes(name)) continue;
    Object.defineProperty(Buffer, name, { enumerable: true });
  }

  internals['node:buffer'] = {
    Buffer, kMaxLength, kStringMaxLength: 2 ** 29 - 24,
    constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 },
    SlowBuffer: Buffer, INSPECT_MAX_BYTES: 50,
    atob: globalThis.atob, btoa: globalThis.btoa, Blob: globalThis.Blob, File: globalThis.File,
    isUtf8(input) {
      try { new TextDecoder('utf-8', { fatal: true }).decode(input); return true; } catch { return false; }
    },
    isAscii(input) { return internals.toBytes(input, 'isAscii').every((b) => b < 0x80); },
  };
})
