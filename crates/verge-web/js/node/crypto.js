// node:crypto — hashes, HMACs and random values, over the same native primitives as
// crypto.subtle, synchronous as Node's are.
(function (ops, internals) {
  const { Buffer } = internals['node:buffer'];
  const HASHES = new Map([
    ['md5', 'MD5'], ['sha1', 'SHA-1'], ['sha-1', 'SHA-1'], ['sha256', 'SHA-256'], ['sha-256', 'SHA-256'],
    ['sha384', 'SHA-384'], ['sha-384', 'SHA-384'], ['sha512', 'SHA-512'], ['sha-512', 'SHA-512'],
  ]);
  function hashNamed(algorithm) {
    const name = HASHES.get(String(algorithm).toLowerCase());
    if (!name) throw new Error(`Digest method not supported: ${algorithm}`);
    return name;
  }
  const toBytes = (data, encoding) => (typeof data === 'string' ? Buffer.from(data, encoding) : internals.toBytes(data, 'crypto'));
  const finish = (bytes, encoding) => {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return encoding === undefined || encoding === 'buffer' ? buffer : buffer.toString(encoding);
  };
  const join = (chunks) => (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));

  // What Hash and Hmac share: data gathered by update(), digested once by `compute`.
  const kChunks = Symbol('chunks');
  class Digester {
    #chunks = []; #done = false; #compute;
    constructor(compute) { this.#compute = compute; }
    update(data, encoding) {
      if (this.#done) throw new Error('Digest already called');
      this.#chunks.push(Uint8Array.from(toBytes(data, encoding)));
      return this;
    }
    digest(encoding) {
      if (this.#done) throw new Error('Digest already called');
      this.#done = true;
      return finish(this.#compute(join(this.#chunks.length ? this.#chunks : [new Uint8Array(0)])), encoding);
    }
    [kChunks]() { return this.#chunks; }
  }

  class Hash extends Digester {
    #name;
    constructor(algorithm) {
      const hash = hashNamed(algorithm);
      super((data) => (hash === 'MD5' ? ops.md5(data) : ops.digest(hash, data)));
      this.#name = algorithm;
    }
    copy() {
      const copy = new Hash(this.#name);
      for (const chunk of this[kChunks]()) copy.update(chunk);
      return copy;
    }
  }

  class Hmac extends Digester {
    constructor(algorithm, key) {
      const hash = hashNamed(algorithm);
      if (hash === 'MD5') throw new Error('HMAC with MD5 is not supported; use sha256');
      const secret = Uint8Array.from(toBytes(key));
      super((data) => ops.hmacSign(hash, secret, data));
    }
  }

  function randomBytes(size, callback) {
    if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1) throw new RangeError(`The value of "size" is out of range. Received ${size}`);
    const buffer = Buffer.alloc(size);
    for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(buffer.subarray(offset, offset + 65536));
    if (typeof callback === 'function') { queueMicrotask(() => callback(null, buffer)); return undefined; }
    return buffer;
  }

  function randomInt(min, max, callback) {
    if (max === undefined || typeof max === 'function') { callback = max; max = min; min = 0; }
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min) throw new RangeError(`The value of "max" is out of range. It must be greater than "min". Received ${max}`);
    const range = max - min;
    // Rejection sampling over 48 bits, so every value is equally likely.
    const limit = 2 ** 48 - (2 ** 48 % range);
    let value;
    do {
      const bytes = randomBytes(6);
      value = bytes.readUInt32BE(0) * 65536 + bytes.readUInt16BE(4);
    } while (value >= limit);
    const result = min + (value % range);
    if (typeof callback === 'function') { queueMicrotask(() => callback(null, result)); return undefined; }
    return result;
  }

  function timingSafeEqual(a, b) {
    const x = toBytes(a), y = toBytes(b);
    if (x.byteLength !== y.byteLength) throw new RangeError('Input buffers must have the same byte length');
    return crypto.subtle.timingSafeEqual(x, y);
  }

  internals['node:crypto'] = {
    createHash: (algorithm) => new Hash(algorithm),
    createHmac: (algorithm, key) => new Hmac(algorithm, key),
    Hash,
    Hmac,
    randomBytes,
    randomFillSync(buffer, offset = 0, size = buffer.byteLength - offset) {
      crypto.getRandomValues(new Uint8Array(buffer.buffer ?? buffer, (buffer.byteOffset ?? 0) + offset, size));
      return buffer;
    },
    randomInt,
    randomUUID: () => crypto.randomUUID(),
    getRandomValues: (array) => crypto.getRandomValues(array),
    timingSafeEqual,
    getHashes: () => ['md5', 'sha1', 'sha256', 'sha384', 'sha512'],
    webcrypto: globalThis.crypto,
    subtle: globalThis.crypto.subtle,
  };
})
