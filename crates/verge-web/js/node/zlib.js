// node:zlib — gzip, deflate (zlib and raw) and brotli, in Node's three forms: synchronous
// (gzipSync), callback (gzip) and Transform streams (createGzip), over the native coders that
// CompressionStream uses. Node's unzip reads either gzip or zlib; gunzip reads on past the
// first gzip member. zlib's tuning options (windowBits, memLevel, strategy) are accepted and
// have no effect; a dictionary is refused.
(function (ops, internals) {
  const { Buffer } = internals['node:buffer'];
  const { Transform } = internals['node:stream'];
  const nodeError = internals.nodeError;

  const constants = {
    Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5,
    Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
    Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
    Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
    Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2, Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, ZLIB_VERNUM: 4865,
    DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5, INFLATERAW: 6, UNZIP: 7,
    BROTLI_DECODE: 8, BROTLI_ENCODE: 9,
    Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15, Z_DEFAULT_WINDOWBITS: 15,
    Z_MIN_CHUNK: 64, Z_MAX_CHUNK: Infinity, Z_DEFAULT_CHUNK: 16384,
    Z_MIN_MEMLEVEL: 1, Z_MAX_MEMLEVEL: 9, Z_DEFAULT_MEMLEVEL: 8,
    Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1,
    BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2,
    BROTLI_OPERATION_EMIT_METADATA: 3,
    BROTLI_PARAM_MODE: 0, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1, BROTLI_MODE_FONT: 2,
    BROTLI_DEFAULT_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_MIN_QUALITY: 0, BROTLI_MAX_QUALITY: 11,
    BROTLI_DEFAULT_QUALITY: 11, BROTLI_PARAM_LGWIN: 2, BROTLI_MIN_WINDOW_BITS: 10,
    BROTLI_MAX_WINDOW_BITS: 24, BROTLI_LARGE_MAX_WINDOW_BITS: 30, BROTLI_DEFAULT_WINDOW: 22,
    BROTLI_PARAM_LGBLOCK: 3, BROTLI_MIN_INPUT_BLOCK_BITS: 16, BROTLI_MAX_INPUT_BLOCK_BITS: 24,
    BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING: 4, BROTLI_PARAM_SIZE_HINT: 5,
    BROTLI_PARAM_LARGE_WINDOW: 6, BROTLI_PARAM_NPOSTFIX: 7, BROTLI_PARAM_NDIRECT: 8,
    BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION: 0, BROTLI_DECODER_PARAM_LARGE_WINDOW: 1,
  };
  Object.freeze(constants);

  // Each kind: [native format, compress, the magic its input must start with].
  const KINDS = {
    Gzip: ['gzip', true], Gunzip: ['gzip-members', false], Deflate: ['deflate', true],
    Inflate: ['deflate', false], DeflateRaw: ['deflate-raw', true], InflateRaw: ['deflate-raw', false],
    Unzip: ['unzip', false], BrotliCompress: ['brotli', true], BrotliDecompress: ['brotli', false],
  };
  // What a Node buffer may hold at most (buffer.kMaxLength, 2^32 on 64-bit machines).
  const MAX_LENGTH = 2 ** 32;

  function levelOf(kind, options) {
    if (kind.startsWith('Brotli')) {
      const quality = options?.params?.[constants.BROTLI_PARAM_QUALITY];
      return quality === undefined ? -1 : quality;
    }
    const level = options?.level ?? -1;
    if (!Number.isInteger(level) || level < -1 || level > 9) throw nodeError('ERR_OUT_OF_RANGE', 'options.level', '>= -1 and <= 9', level);
    return level;
  }

  // Whether `head` (the input's first bytes) cannot start the stream `kind` decodes: zlib then
  // says "incorrect header check" before it reads any further.
  function badHeader(kind, head) {
    if (!head || head.length < 2) return false;
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const zlibHeader = (head[0] & 0x0f) === 8 && ((head[0] << 8) | head[1]) % 31 === 0;
    if (kind === 'Gunzip') return !gzip;
    if (kind === 'Inflate') return !zlibHeader;
    if (kind === 'Unzip') return !gzip && !zlibHeader;
    return false;
  }

  // A coder's failure as Node reports it: zlib's error code and number, brotli's own.
  function zlibError(error, kind, head) {
    if (error.code) return error;
    if (/larger than/.test(error.message)) return Object.assign(new RangeError(`Cannot create a Buffer larger than ${error.message.match(/\d+/)?.[0]} bytes`), { code: 'ERR_BUFFER_TOO_LARGE' });
    if (kind.startsWith('Brotli')) return Object.assign(new Error('Decompression failed'), { code: 'ERR__ERROR_FORMAT_PADDING_1', errno: -14 });
    const truncated = !badHeader(kind, head) && /unexpected end of file|truncated/i.test(error.message);
    const message = badHeader(kind, head) || /header/i.test(error.message) ? 'incorrect header check'
      : truncated ? 'unexpected end of file' : error.message.replace(/^The compressed data is invalid(?: or truncated)?: /, '');
    return Object.assign(new Error(message), truncated ? { code: 'Z_BUF_ERROR', errno: -5 } : { code: 'Z_DATA_ERROR', errno: -3 });
  }

  function inputOf(buffer) {
    if (typeof buffer === 'string') return Buffer.from(buffer);
    if (buffer instanceof ArrayBuffer || ArrayBuffer.isView(buffer)) return internals.toBytes(buffer, 'zlib');
    throw nodeError('ERR_INVALID_ARG_TYPE', 'buffer', 'of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer', buffer);
  }
  const asBuffer = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  function runSync(kind, buffer, options) {
    if (options?.dictionary) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'zlib with a dictionary');
    const [format, compress] = KINDS[kind];
    const input = inputOf(buffer);
    const limit = options?.maxOutputLength ?? MAX_LENGTH;
    const id = ops.coderNew(format, compress, levelOf(kind, options), Math.min(limit, MAX_LENGTH));
    try {
      const parts = [ops.coderWrite(id, input), ops.coderFinish(id)];
      const total = parts[0].byteLength + parts[1].byteLength;
      if (total > limit) throw Object.assign(new RangeError(`Cannot create a Buffer larger than ${limit} bytes`), { code: 'ERR_BUFFER_TOO_LARGE' });
      return parts[0].byteLength === 0 ? asBuffer(parts[1]) : Buffer.concat(parts.map(asBuffer), total);
    } catch (error) {
      throw zlibError(error, kind, input);
    } finally {
      ops.coderFree(id);
    }
  }

  // --- streams -----------------------------------------------------------------------------
  // A coder lives on the host; a stream dropped without being ended lets its coder go with it.
  const registry = new FinalizationRegistry((id) => ops.coderFree(id));
  // flush() writes this chunk, so the flush happens after what was written before it.
  const kFlush = Buffer.alloc(0);

  function ZlibBase(kind, options) {
    Transform.call(this, { ...options, objectMode: false, readableObjectMode: false, writableObjectMode: false });
    if (options?.dictionary) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'zlib with a dictionary');
    this._kind = kind;
    this._options = options;
    this._id = ops.coderNew(KINDS[kind][0], KINDS[kind][1], levelOf(kind, options), 0);
    registry.register(this, this._id, this);
    this.bytesWritten = 0;
    this._finishFlush = options?.finishFlush ?? constants.Z_FINISH;
  }
  Object.setPrototypeOf(ZlibBase.prototype, Transform.prototype);
  Object.setPrototypeOf(ZlibBase, Transform);
  Object.assign(ZlibBase.prototype, {
    _transform(chunk, encoding, callback) {
      try {
        if (chunk === kFlush) {
          const out = ops.coderFlush(this._id);
          if (out.byteLength) this.push(asBuffer(out));
          return callback();
        }
        this._head ??= chunk.subarray(0, 2);
        const out = ops.coderWrite(this._id, chunk);
        this.bytesWritten += chunk.length;
        if (out.byteLength) this.push(asBuffer(out));
        callback();
      } catch (error) {
        callback(zlibError(error, this._kind, this._head));
      }
    },
    _flush(callback) {
      try {
        const out = this._finishFlush === constants.Z_SYNC_FLUSH ? ops.coderFlush(this._id) : ops.coderFinish(this._id);
        if (out.byteLength) this.push(asBuffer(out));
        callback();
      } catch (error) {
        callback(zlibError(error, this._kind, this._head));
      }
    },
    _destroy(error, callback) {
      registry.unregister(this);
      ops.coderFree(this._id);
      callback(error);
    },
    flush(kind, callback) {
      if (typeof kind === 'function') callback = kind;
      if (this.writableEnded) {
        if (typeof callback === 'function') queueMicrotask(callback);
        return;
      }
      this.write(kFlush, typeof callback === 'function' ? () => callback() : undefined);
    },
    close(callback) {
      if (typeof callback === 'function') this.once('close', callback);
      this.destroy();
    },
    params(level, strategy, callback) {
      if (typeof callback === 'function') queueMicrotask(callback);
    },
    reset() {
      ops.coderFree(this._id);
      registry.unregister(this);
      const [format, compress] = KINDS[this._kind];
      this._id = ops.coderNew(format, compress, levelOf(this._kind, this._options), 0);
      registry.register(this, this._id, this);
    },
  });
  Object.defineProperty(ZlibBase.prototype, '_handle', { get() { return this.destroyed ? null : {}; }, configurable: true });

  const zlib = { constants, codes: { Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6 } };
  for (const [key, value] of Object.entries(zlib.codes)) zlib.codes[value] = key;
  for (const kind of Object.keys(KINDS)) {
    const Class = {
      [kind]: function (options) {
        if (!(this instanceof Class)) return new Class(options);
        ZlibBase.call(this, kind, options);
      },
    }[kind];
    Object.setPrototypeOf(Class.prototype, ZlibBase.prototype);
    Object.setPrototypeOf(Class, ZlibBase);
    zlib[kind] = Class;
    zlib[`create${kind}`] = (options) => new Class(options);
    const name = kind[0].toLowerCase() + kind.slice(1);
    const sync = (buffer, options) => runSync(kind, buffer, options);
    zlib[`${name}Sync`] = sync;
    zlib[name] = (buffer, options, callback) => {
      if (typeof options === 'function') {
        callback = options;
        options = {};
      }
      internals.callBackLater(() => sync(buffer, options), callback);
    };
  }

  // CRC-32 (IEEE), as zlib.crc32 computes it, continuing from `value`.
  let table;
  function crc32(data, value = 0) {
    if (!table) {
      table = new Int32Array(256);
      for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c;
      }
    }
    const bytes = inputOf(data);
    let crc = ~value;
    for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return ~crc >>> 0;
  }
  zlib.crc32 = crc32;

  internals['node:zlib'] = zlib;
})
