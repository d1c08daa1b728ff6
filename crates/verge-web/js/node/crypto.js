// node:crypto — hashes, HMACs, AES ciphers and random values, over the same native primitives
// as crypto.subtle, synchronous as Node's are; keys, signatures and key derivation are in
// crypto_keys.js.
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
    constructor(algorithm, key, options) {
      const hash = hashNamed(algorithm);
      if (hash === 'MD5') throw new Error('HMAC with MD5 is not supported; use sha256');
      const secret = Uint8Array.from(keys().secretBytes(key, options?.encoding));
      super((data) => ops.hmacSign(hash, secret, data));
    }
  }

  // --- ciphers: AES in CBC, CTR and GCM ----------------------------------------------------
  // [mode, key bytes, iv bytes]; GCM takes any IV length, 12 by default.
  const CIPHERS = {};
  for (const bits of [128, 192, 256]) {
    CIPHERS[`aes-${bits}-cbc`] = ['cbc', bits / 8, 16];
    CIPHERS[`aes-${bits}-ctr`] = ['ctr', bits / 8, 16];
    CIPHERS[`aes-${bits}-gcm`] = ['gcm', bits / 8, 12];
    CIPHERS[`id-aes${bits}-gcm`] = ['gcm', bits / 8, 12];
  }
  CIPHERS.aes128 = CIPHERS['aes-128-cbc'];
  CIPHERS.aes192 = CIPHERS['aes-192-cbc'];
  CIPHERS.aes256 = CIPHERS['aes-256-cbc'];
  const EMPTY = new Uint8Array(0);

  // CBC and CTR give their output as update() is called, as Node's do: CTR byte for byte, CBC
  // in whole blocks (decryption holding back the last, which may be padding). GCM gathers its
  // input and gives it all from final(), where the tag is made or checked.
  class Cipheriv {
    #encrypt; #mode; #key; #iv; #chunks = []; #aad = EMPTY; #tag = null; #tagLength = 16;
    #done = false; #padding = true;
    // CBC: input not yet in a whole block. CTR: how far into its current block the key
    // stream is.
    #pending = EMPTY; #offset = 0;
    constructor(encrypt, algorithm, key, iv, options) {
      const cipher = CIPHERS[String(algorithm).toLowerCase()];
      if (!cipher) throw internals.nodeError('ERR_CRYPTO_UNKNOWN_CIPHER');
      const [mode, keyLength, ivLength] = cipher;
      this.#encrypt = encrypt;
      this.#mode = mode;
      this.#key = Uint8Array.from(keys().secretBytes(key));
      if (this.#key.length !== keyLength) throw internals.nodeError('ERR_CRYPTO_INVALID_KEYLEN');
      this.#iv = Uint8Array.from(toBytes(iv ?? EMPTY));
      if (mode === 'gcm' ? this.#iv.length === 0 : this.#iv.length !== ivLength) throw internals.nodeError('ERR_CRYPTO_INVALID_IV');
      if (options?.authTagLength !== undefined) this.#tagLength = options.authTagLength;
    }
    update(data, inputEncoding, outputEncoding) {
      if (this.#done) throw internals.nodeError('ERR_CRYPTO_INVALID_STATE', 'update');
      const bytes = Uint8Array.from(toBytes(data, inputEncoding));
      switch (this.#mode) {
        case 'ctr': return finish(this.#ctr(bytes), outputEncoding);
        case 'cbc': return finish(this.#cbc(bytes), outputEncoding);
        default:
          this.#chunks.push(bytes);
          return finish(EMPTY, outputEncoding);
      }
    }
    final(outputEncoding) {
      if (this.#done) throw internals.nodeError('ERR_CRYPTO_INVALID_STATE', 'final');
      this.#done = true;
      switch (this.#mode) {
        case 'ctr': return finish(EMPTY, outputEncoding);
        case 'cbc': return finish(this.#cbcFinal(), outputEncoding);
        default: return finish(this.#gcm(join(this.#chunks.length ? this.#chunks : [EMPTY])), outputEncoding);
      }
    }
    // The key stream picks up where the last update left it, mid-block or not.
    #ctr(bytes) {
      if (bytes.length === 0) return EMPTY;
      const padded = join([new Uint8Array(this.#offset), bytes]);
      const out = ops.aesCtr(this.#key, this.#iv, 128, padded).subarray(this.#offset);
      const total = this.#offset + bytes.length;
      this.#iv = addToCounter(this.#iv, Math.floor(total / 16));
      this.#offset = total % 16;
      return out;
    }
    #cbc(bytes) {
      const all = join([this.#pending, bytes]);
      let whole = all.length - (all.length % 16);
      if (!this.#encrypt && this.#padding && whole === all.length) whole -= 16;
      if (whole <= 0) {
        this.#pending = all;
        return EMPTY;
      }
      const blocks = all.subarray(0, whole);
      const out = this.#cbcBlocks(blocks);
      this.#iv = Uint8Array.from((this.#encrypt ? out : blocks).subarray(whole - 16));
      this.#pending = Uint8Array.from(all.subarray(whole));
      return out;
    }
    #cbcFinal() {
      const rest = this.#pending;
      if (!this.#padding) {
        if (rest.length) throw new Error('wrong final block length');
        return EMPTY;
      }
      if (!this.#encrypt && rest.length !== 16) throw new Error('wrong final block length');
      try {
        return ops.aesCbc(this.#encrypt, this.#key, this.#iv, rest);
      } catch {
        throw new Error('bad decrypt');
      }
    }
    // Whole blocks through the padded op: a whole-block input encrypts to the same blocks plus
    // one of padding, and a padding block can be made for any ciphertext.
    #cbcBlocks(blocks) {
      if (this.#encrypt) return ops.aesCbc(true, this.#key, this.#iv, blocks).subarray(0, blocks.length);
      const last = blocks.subarray(blocks.length - 16);
      const padding = ops.aesCbc(true, this.#key, last, new Uint8Array(16).fill(16)).subarray(0, 16);
      return ops.aesCbc(false, this.#key, this.#iv, join([blocks, padding]));
    }
    #gcm(data) {
      const key = this.#key, iv = this.#iv;
      const fail = () => new Error('Unsupported state or unable to authenticate data');
      if (this.#encrypt) {
        const sealed = ops.aesGcm(true, key, iv, this.#aad, data, this.#tagLength * 8);
        this.#tag = sealed.slice(sealed.length - this.#tagLength);
        return sealed.subarray(0, sealed.length - this.#tagLength);
      }
      if (!this.#tag) throw fail();
      try {
        return ops.aesGcm(false, key, iv, this.#aad, join([data, this.#tag]), this.#tag.length * 8);
      } catch {
        throw fail();
      }
    }
    setAAD(aad) {
      if (this.#mode !== 'gcm' || this.#done) throw internals.nodeError('ERR_CRYPTO_INVALID_STATE', 'setAAD');
      this.#aad = Uint8Array.from(toBytes(aad));
      return this;
    }
    getAuthTag() {
      if (!this.#encrypt || !this.#tag) throw internals.nodeError('ERR_CRYPTO_INVALID_STATE', 'getAuthTag');
      return Buffer.from(this.#tag);
    }
    setAuthTag(tag) {
      if (this.#encrypt || this.#mode !== 'gcm' || this.#done) throw internals.nodeError('ERR_CRYPTO_INVALID_STATE', 'setAuthTag');
      const bytes = Uint8Array.from(toBytes(tag));
      if (![4, 8, 12, 13, 14, 15, 16].includes(bytes.length)) throw internals.nodeError('ERR_CRYPTO_INVALID_AUTH_TAG', bytes.length);
      this.#tag = bytes;
      return this;
    }
    setAutoPadding(padding = true) {
      this.#padding = !!padding;
      return this;
    }
  }
  // A 128-bit big-endian counter `blocks` further on.
  function addToCounter(counter, blocks) {
    const next = Uint8Array.from(counter);
    let carry = blocks;
    for (let i = 15; i >= 0 && carry > 0; i--) {
      const sum = next[i] + (carry % 256);
      next[i] = sum % 256;
      carry = Math.floor(carry / 256) + (sum >= 256 ? 1 : 0);
    }
    return next;
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

  const keys = () => internals.nodeCryptoKeys;
  const { secretBytes: _secretBytes, ...keyExports } = keys();
  internals['node:crypto'] = {
    ...keyExports,
    createHash: (algorithm) => new Hash(algorithm),
    hash: (algorithm, data, outputEncoding = 'hex') => new Hash(algorithm).update(data).digest(outputEncoding),
    createHmac: (algorithm, key, options) => new Hmac(algorithm, key, options),
    createCipheriv: (algorithm, key, iv, options) => new Cipheriv(true, algorithm, key, iv, options),
    createDecipheriv: (algorithm, key, iv, options) => new Cipheriv(false, algorithm, key, iv, options),
    Cipheriv,
    Decipheriv: Cipheriv,
    getCiphers: () => Object.keys(CIPHERS),
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
    getFips: () => 0,
    setFips() {},
    secureHeapUsed: () => ({ total: 0, min: 0, used: 0, utilization: 0 }),
    webcrypto: globalThis.crypto,
    subtle: globalThis.crypto.subtle,
  };
})
