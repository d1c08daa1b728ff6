// node:crypto's keys and what uses them: KeyObject (secret, public, private), reading PEM, DER
// and JWK keys, generating key pairs, Sign/Verify and crypto.sign/verify (RSA PKCS#1 v1.5 and
// PSS, ECDSA, Ed25519), RSA-OAEP encryption, and the key derivations (pbkdf2, hkdf, scrypt).
// Keys are held as crypto.subtle's ops hold them: PKCS#8 or SPKI DER.
(function (ops, internals) {
  const { Buffer } = internals['node:buffer'];
  const nodeError = internals.nodeError;

  const constants = {
    RSA_PKCS1_PADDING: 1, RSA_NO_PADDING: 3, RSA_PKCS1_OAEP_PADDING: 4, RSA_PKCS1_PSS_PADDING: 6,
    RSA_PSS_SALTLEN_DIGEST: -1, RSA_PSS_SALTLEN_MAX_SIGN: -2, RSA_PSS_SALTLEN_AUTO: -2,
    POINT_CONVERSION_COMPRESSED: 2, POINT_CONVERSION_UNCOMPRESSED: 4, POINT_CONVERSION_HYBRID: 6,
  };
  const HASHES = new Map([
    ['sha1', 'SHA-1'], ['sha256', 'SHA-256'], ['sha384', 'SHA-384'], ['sha512', 'SHA-512'],
  ]);
  const HASH_BYTES = { 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };
  // 'RSA-SHA256', 'sha256WithRSAEncryption', 'ecdsa-with-SHA256', 'SHA256' all name SHA-256.
  function digestNamed(algorithm) {
    const name = String(algorithm).toLowerCase().replace(/^(rsa-|ecdsa-with-)/, '').replace(/withrsaencryption$/, '').replace('-', '');
    const hash = HASHES.get(name);
    if (!hash) throw new Error(`Invalid digest: ${algorithm}`);
    return hash;
  }
  const CURVES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };
  const CURVE_ALIASES = {
    prime256v1: 'P-256', secp256r1: 'P-256', 'P-256': 'P-256',
    secp384r1: 'P-384', 'P-384': 'P-384', secp521r1: 'P-521', 'P-521': 'P-521',
  };
  const ASYMMETRIC_TYPE = { RSA: 'rsa', 'P-256': 'ec', 'P-384': 'ec', 'P-521': 'ec', Ed25519: 'ed25519', X25519: 'x25519' };
  const JWK_CURVE = { 'P-256': 'P-256', 'P-384': 'P-384', 'P-521': 'P-521', Ed25519: 'Ed25519', X25519: 'X25519' };

  const bytesOf = (data, encoding) => (typeof data === 'string' ? Buffer.from(data, encoding) : Uint8Array.from(internals.toBytes(data, 'crypto')));
  const asBuffer = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const encoded = (bytes, encoding) => (encoding && encoding !== 'buffer' ? asBuffer(bytes).toString(encoding) : asBuffer(bytes));
  const b64url = (bytes) => asBuffer(bytes).toString('base64url');
  // A failing op's message, as Node's OpenSSL-backed errors read.
  function native(fn) {
    try {
      return fn();
    } catch (error) {
      throw Object.assign(new Error(error.message), { code: 'ERR_CRYPTO_OPERATION_FAILED' });
    }
  }

  // --- KeyObject ---------------------------------------------------------------------------
  const kMake = Symbol('make');
  class KeyObject {
    #type; #kind; #data;
    constructor(type, handle) {
      if (handle !== kMake) throw new TypeError('Illegal constructor: use crypto.createSecretKey, createPublicKey or createPrivateKey');
      this.#type = type;
    }
    static #make(type, kind, data) {
      const key = new KeyObject(type, kMake);
      key.#kind = kind;
      key.#data = data;
      return key;
    }
    static secret(bytes) { return KeyObject.#make('secret', null, Uint8Array.from(bytes)); }
    static asymmetric(isPrivate, kind, der) { return KeyObject.#make(isPrivate ? 'private' : 'public', kind, der); }
    static dataOf(key) { return key.#data; }
    static kindOf(key) { return key.#kind; }
    static from(key) {
      throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'KeyObject.from');
    }

    get type() { return this.#type; }
    get asymmetricKeyType() { return this.#kind ? ASYMMETRIC_TYPE[this.#kind] : undefined; }
    get symmetricKeySize() { return this.#type === 'secret' ? this.#data.byteLength : undefined; }
    get asymmetricKeyDetails() {
      if (!this.#kind) return undefined;
      if (this.#kind === 'RSA') {
        const [n, e] = ops.keyParts('RSA', this.#type === 'private', this.#data);
        return { modulusLength: bitLength(n), publicExponent: e.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n) };
      }
      if (CURVES[this.#kind]) return { namedCurve: CURVES[this.#kind] };
      return {};
    }

    export(options = {}) {
      if (this.#type === 'secret') {
        if (options.format === 'jwk') return { kty: 'oct', k: b64url(this.#data) };
        return Buffer.from(this.#data);
      }
      const format = options.format ?? 'pem';
      if (format === 'jwk') return this.#jwk();
      const type = options.type ?? (this.#type === 'private' ? 'pkcs8' : 'spki');
      if (options.cipher !== undefined || options.passphrase !== undefined) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'KeyObject.export with a cipher');
      let der = this.#data;
      let label = this.#type === 'private' ? 'PRIVATE KEY' : 'PUBLIC KEY';
      if (type === 'pkcs1') {
        if (this.#kind !== 'RSA') throw nodeError('ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS', 'pkcs1', 'RSA keys');
        der = native(() => ops.keyPkcs1(this.#type === 'private', der));
        label = this.#type === 'private' ? 'RSA PRIVATE KEY' : 'RSA PUBLIC KEY';
      } else if ((type === 'pkcs8' && this.#type !== 'private') || (type === 'spki' && this.#type !== 'public') || !['pkcs8', 'spki'].includes(type)) {
        throw nodeError('ERR_INVALID_ARG_VALUE', 'options.type', type, `is invalid for a ${this.#type} key`);
      }
      if (format === 'der') return Buffer.from(der);
      if (format !== 'pem') throw nodeError('ERR_INVALID_ARG_VALUE', 'options.format', format);
      const body = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
      return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
    }

    #jwk() {
      const parts = ops.keyParts(this.#kind, this.#type === 'private', this.#data);
      if (this.#kind === 'RSA') {
        const names = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'];
        return Object.fromEntries([['kty', 'RSA'], ...parts.map((part, i) => [names[i], b64url(part)])]);
      }
      const jwk = CURVES[this.#kind] ? { kty: 'EC', crv: JWK_CURVE[this.#kind] } : { kty: 'OKP', crv: JWK_CURVE[this.#kind] };
      const names = CURVES[this.#kind]
        ? (this.#type === 'private' ? ['d', 'x', 'y'] : ['x', 'y'])
        : (this.#type === 'private' ? ['d', 'x'] : ['x']);
      parts.forEach((part, i) => { jwk[names[i]] = b64url(part); });
      return jwk;
    }

    equals(other) {
      if (!(other instanceof KeyObject)) throw nodeError('ERR_INVALID_ARG_TYPE', 'otherKeyObject', 'an instance of KeyObject', other);
      const mine = this.#data, theirs = KeyObject.dataOf(other);
      return this.type === other.type && mine.byteLength === theirs.byteLength && ops.timingSafeEqual(mine, theirs);
    }
  }
  const bitLength = (bytes) => {
    const first = bytes.findIndex((byte) => byte !== 0);
    return first < 0 ? 0 : (bytes.length - first) * 8 - Math.clz32(bytes[first]) + 24;
  };

  // --- reading keys ------------------------------------------------------------------------
  const PEM = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  const DER_LABELS = {
    private: { pkcs8: 'PRIVATE KEY', pkcs1: 'RSA PRIVATE KEY', sec1: 'EC PRIVATE KEY' },
    public: { spki: 'PUBLIC KEY', pkcs1: 'RSA PUBLIC KEY' },
  };

  // The key in a createPrivateKey/createPublicKey argument, as it is written: [label, der] or
  // a JWK.
  function keySource(input, want) {
    let key = input, format = 'pem', type, encoding;
    if (input && typeof input === 'object' && !ArrayBuffer.isView(input) && !(input instanceof ArrayBuffer) && !(input instanceof KeyObject)) {
      ({ key, format = 'pem', type, encoding } = input);
      if (input.passphrase !== undefined) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'encrypted private keys');
    }
    if (format === 'jwk') {
      if (!key || typeof key !== 'object') throw nodeError('ERR_INVALID_ARG_TYPE', 'key.key', 'of type object', key);
      return { jwk: key };
    }
    if (format === 'der') {
      const label = DER_LABELS[want]?.[type];
      if (!label) throw nodeError('ERR_INVALID_ARG_VALUE', 'key.type', type);
      return { label, der: bytesOf(key) };
    }
    if (format !== 'pem') throw nodeError('ERR_INVALID_ARG_VALUE', 'key.format', format);
    const text = typeof key === 'string' ? key : asBuffer(bytesOf(key, encoding)).toString('utf8');
    for (const [, label, body] of text.matchAll(PEM)) {
      if (label.endsWith('KEY') || label === 'CERTIFICATE') return { label, der: Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') };
    }
    throw Object.assign(new Error('error:1E08010C:DECODER routines::unsupported'), { code: 'ERR_OSSL_UNSUPPORTED' });
  }

  function fromJwk(jwk, want) {
    const part = (name) => Buffer.from(String(jwk[name] ?? ''), 'base64url');
    let kind, names;
    if (jwk.kty === 'RSA') {
      kind = 'RSA';
      names = want === 'private' ? ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'] : ['n', 'e'];
    } else if (jwk.kty === 'EC' && CURVE_ALIASES[jwk.crv]) {
      kind = CURVE_ALIASES[jwk.crv];
      names = want === 'private' ? ['d', 'x', 'y'] : ['x', 'y'];
    } else if (jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'X25519')) {
      kind = jwk.crv;
      names = want === 'private' ? ['d', 'x'] : ['x'];
    } else {
      throw nodeError('ERR_CRYPTO_INVALID_JWK', jwk.kty);
    }
    if (want === 'private' && jwk.d === undefined) throw nodeError('ERR_CRYPTO_INVALID_JWK');
    const [, der] = native(() => ops.keyFromParts(kind, names.map(part)));
    return KeyObject.asymmetric(want === 'private', kind, der);
  }

  function read(source) {
    if (source.label === 'CERTIFICATE') throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'createPublicKey from an X.509 certificate');
    const [kind, der] = native(() => ops.keyRead(source.label, source.der));
    return KeyObject.asymmetric(source.label.includes('PRIVATE'), kind, der);
  }

  function createPrivateKey(input) {
    if (input instanceof KeyObject) throw nodeError('ERR_INVALID_ARG_TYPE', 'key', 'of type string or an instance of ArrayBuffer, Buffer, TypedArray or DataView', input);
    const source = keySource(input, 'private');
    const key = source.jwk ? fromJwk(source.jwk, 'private') : read(source);
    if (key.type !== 'private') throw Object.assign(new Error('error:1E08010C:DECODER routines::unsupported'), { code: 'ERR_OSSL_UNSUPPORTED' });
    return key;
  }

  function createPublicKey(input) {
    if (input instanceof KeyObject) {
      if (input.type === 'private') return publicOf(input);
      throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', input.type, 'private');
    }
    const source = keySource(input, 'public');
    const key = source.jwk ? fromJwk(source.jwk, 'public') : read(source);
    return key.type === 'private' ? publicOf(key) : key;
  }

  // The public half of a private key, made from its public parts.
  function publicOf(key) {
    const kind = KeyObject.kindOf(key);
    const parts = ops.keyParts(kind, true, KeyObject.dataOf(key));
    const publicParts = kind === 'RSA' ? parts.slice(0, 2) : parts.slice(1);
    const [, der] = native(() => ops.keyFromParts(kind, publicParts));
    return KeyObject.asymmetric(false, kind, der);
  }

  function createSecretKey(key, encoding) {
    return KeyObject.secret(bytesOf(key, encoding));
  }

  // A key argument as the operation needs it: a KeyObject of `want` (private or public, a
  // private key standing for its public half), with the options it came with.
  function keyFor(input, want) {
    let key = input, options = {};
    if (input && typeof input === 'object' && !(input instanceof KeyObject) && !ArrayBuffer.isView(input) && 'key' in input) {
      options = input;
      key = input.key instanceof KeyObject ? input.key : input;
    }
    if (!(key instanceof KeyObject)) key = want === 'private' ? createPrivateKey(key) : createPublicKey(key);
    if (key.type === 'secret') throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', 'secret', want);
    if (want === 'public' && key.type === 'private') key = publicOf(key);
    if (want === 'private' && key.type !== 'private') throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', key.type, 'private');
    return { key, options };
  }

  // --- generating keys ---------------------------------------------------------------------
  function generateKeyPairSync(type, options = {}) {
    let kind, bits = 0, exponent = new Uint8Array([1, 0, 1]);
    switch (type) {
      case 'rsa':
        kind = 'RSA';
        bits = options.modulusLength;
        if (options.publicExponent !== undefined && options.publicExponent !== 65537) throw nodeError('ERR_INVALID_ARG_VALUE', 'options.publicExponent', options.publicExponent, 'is not supported (65537 is)');
        break;
      case 'ec':
        kind = CURVE_ALIASES[options.namedCurve];
        if (!kind) throw nodeError('ERR_INVALID_ARG_VALUE', 'options.namedCurve', options.namedCurve, 'is not a supported curve (prime256v1, secp384r1, secp521r1)');
        break;
      case 'ed25519': kind = 'Ed25519'; break;
      case 'x25519': kind = 'X25519'; break;
      default: throw nodeError('ERR_INVALID_ARG_VALUE', 'type', type, "must be a supported key type ('rsa', 'ec', 'ed25519' or 'x25519')");
    }
    const [pkcs8, spki] = native(() => ops.keyGenerate(kind, bits, exponent));
    const privateKey = KeyObject.asymmetric(true, kind, pkcs8);
    const publicKey = KeyObject.asymmetric(false, kind, spki);
    return {
      publicKey: options.publicKeyEncoding ? publicKey.export(options.publicKeyEncoding) : publicKey,
      privateKey: options.privateKeyEncoding ? privateKey.export(options.privateKeyEncoding) : privateKey,
    };
  }
  function generateKeyPair(type, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    internals.callBackLater(() => {
      const { publicKey, privateKey } = generateKeyPairSync(type, options);
      return [publicKey, privateKey];
    }, callback, 'callback', true);
  }
  function generateKeySync(type, { length } = {}) {
    if (type === 'hmac' ? !(length >= 8 && length <= 2 ** 31 - 1) : !(type === 'aes' && [128, 192, 256].includes(length))) {
      throw nodeError('ERR_INVALID_ARG_VALUE', 'options.length', length);
    }
    const bytes = new Uint8Array(Math.floor(length / 8));
    crypto.getRandomValues(bytes);
    return KeyObject.secret(bytes);
  }

  // --- signatures --------------------------------------------------------------------------
  // ECDSA signatures cross the ops as r‖s (IEEE P1363); Node's default is DER.
  function p1363ToDer(signature) {
    const half = signature.length / 2;
    const integer = (bytes) => {
      let start = 0;
      while (start < bytes.length - 1 && bytes[start] === 0) start++;
      const body = bytes[start] & 0x80 ? [0, ...bytes.subarray(start)] : [...bytes.subarray(start)];
      return [0x02, ...lengthBytes(body.length), ...body];
    };
    const body = [...integer(signature.subarray(0, half)), ...integer(signature.subarray(half))];
    return Buffer.from([0x30, ...lengthBytes(body.length), ...body]);
  }
  const lengthBytes = (length) => (length < 0x80 ? [length] : [0x81, length]);
  function derToP1363(der, size) {
    const fail = () => null;
    let at = 0;
    const readLength = () => {
      let length = der[at++];
      if (length === 0x81) length = der[at++];
      else if (length > 0x80) return -1;
      return length;
    };
    if (der[at++] !== 0x30 || readLength() < 0) return fail();
    const out = new Uint8Array(size * 2);
    for (let i = 0; i < 2; i++) {
      if (der[at++] !== 0x02) return fail();
      const length = readLength();
      if (length < 0 || at + length > der.length) return fail();
      let value = der.subarray(at, at + length);
      at += length;
      while (value.length > size && value[0] === 0) value = value.subarray(1);
      if (value.length > size) return fail();
      out.set(value, i * size + size - value.length);
    }
    return at === der.length ? out : fail();
  }
  const COORDINATE = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

  // [scheme, salt bytes] of an RSA key's options.
  function rsaScheme(options, hash, verifying) {
    const padding = options.padding ?? constants.RSA_PKCS1_PADDING;
    if (padding === constants.RSA_PKCS1_PADDING) return ['RSASSA-PKCS1-v1_5', 0];
    if (padding !== constants.RSA_PKCS1_PSS_PADDING) throw nodeError('ERR_INVALID_ARG_VALUE', 'options.padding', padding);
    const salt = options.saltLength ?? (verifying ? constants.RSA_PSS_SALTLEN_AUTO : constants.RSA_PSS_SALTLEN_MAX_SIGN);
    // Verge signs and verifies PSS with a salt as long as the digest (or none).
    return ['RSA-PSS', salt < 0 ? HASH_BYTES[hash] : salt];
  }

  function signWith(hash, data, input) {
    const { key, options } = keyFor(input, 'private');
    const kind = KeyObject.kindOf(key), der = KeyObject.dataOf(key);
    if (kind === 'Ed25519') return Buffer.from(native(() => ops.keySign(['Ed25519', 'Ed25519', 'SHA-256'], der, data, 0)));
    if (kind === 'X25519') throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', 'x25519', 'a signing key');
    hash ??= 'SHA-256';
    if (kind === 'RSA') {
      const [scheme, salt] = rsaScheme(options, hash, false);
      return Buffer.from(native(() => ops.keySign([scheme, 'RSA', hash], der, data, salt)));
    }
    const fixed = native(() => ops.keySign(['ECDSA', kind, hash], der, data, 0));
    return options.dsaEncoding === 'ieee-p1363' ? Buffer.from(fixed) : p1363ToDer(fixed);
  }
  function verifyWith(hash, data, input, signature) {
    const { key, options } = keyFor(input, 'public');
    const kind = KeyObject.kindOf(key), der = KeyObject.dataOf(key);
    if (kind === 'Ed25519') return native(() => ops.keyVerify(['Ed25519', 'Ed25519', 'SHA-256'], der, signature, data, 0));
    if (kind === 'X25519') throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', 'x25519', 'a verifying key');
    hash ??= 'SHA-256';
    if (kind === 'RSA') {
      const [scheme, salt] = rsaScheme(options, hash, true);
      return native(() => ops.keyVerify([scheme, 'RSA', hash], der, signature, data, salt));
    }
    const fixed = options.dsaEncoding === 'ieee-p1363' ? signature : derToP1363(signature, COORDINATE[kind]);
    if (!fixed || fixed.length !== COORDINATE[kind] * 2) return false;
    return native(() => ops.keyVerify(['ECDSA', kind, hash], der, fixed, data, 0));
  }

  // Sign and Verify gather data by update() (or as writable streams would, by write()).
  class Gatherer {
    #chunks = [];
    update(data, encoding) {
      this.#chunks.push(bytesOf(data, encoding));
      return this;
    }
    write(data, encoding) {
      this.update(data, encoding);
      return true;
    }
    end(data, encoding) {
      if (data !== undefined) this.update(data, encoding);
      return this;
    }
    gathered() {
      return this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    }
  }
  class Sign extends Gatherer {
    #hash;
    constructor(algorithm) {
      super();
      this.#hash = digestNamed(algorithm);
    }
    sign(key, outputEncoding) {
      return encoded(signWith(this.#hash, this.gathered(), key), outputEncoding);
    }
  }
  class Verify extends Gatherer {
    #hash;
    constructor(algorithm) {
      super();
      this.#hash = digestNamed(algorithm);
    }
    verify(key, signature, signatureEncoding) {
      return verifyWith(this.#hash, this.gathered(), key, bytesOf(signature, signatureEncoding));
    }
  }
  // crypto.sign/verify: synchronous without a callback, else called back.
  const oneShot = (work, callback) => (callback === undefined ? work() : internals.callBackLater(work, callback));

  // --- RSA-OAEP ----------------------------------------------------------------------------
  function oaep(encrypt, want, input, data) {
    const { key, options } = keyFor(input, want);
    if (KeyObject.kindOf(key) !== 'RSA') throw nodeError('ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE', key.asymmetricKeyType, 'rsa');
    const padding = options.padding ?? constants.RSA_PKCS1_OAEP_PADDING;
    if (padding !== constants.RSA_PKCS1_OAEP_PADDING) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'RSA encryption with padding other than OAEP');
    const hash = digestNamed(options.oaepHash ?? 'sha1');
    const label = options.oaepLabel ? bytesOf(options.oaepLabel) : new Uint8Array(0);
    return Buffer.from(native(() => ops.rsaOaep(encrypt, hash, KeyObject.dataOf(key), label, bytesOf(data))));
  }

  // --- key derivation ----------------------------------------------------------------------
  const secretBytes = (key, encoding) => (key instanceof KeyObject ? KeyObject.dataOf(key) : bytesOf(key, encoding));
  function pbkdf2Sync(password, salt, iterations, keylen, digest) {
    if (!Number.isInteger(iterations) || iterations < 1) throw nodeError('ERR_OUT_OF_RANGE', 'iterations', '>= 1', iterations);
    if (!Number.isInteger(keylen) || keylen < 0) throw nodeError('ERR_OUT_OF_RANGE', 'keylen', '>= 0', keylen);
    return Buffer.from(native(() => ops.pbkdf2(digestNamed(digest), secretBytes(password), secretBytes(salt), iterations, keylen)));
  }
  function hkdfSync(digest, key, salt, info, keylen) {
    return native(() => ops.hkdf(digestNamed(digest), secretBytes(key), secretBytes(salt), secretBytes(info), keylen)).buffer;
  }
  // scrypt's memory is 128·N·r bytes; past Node's default of 32 MiB it must be asked for, and
  // Verge refuses more than 256 MiB whatever is asked, so one request cannot take the host.
  const SCRYPT_MEMORY_CEILING = 256 * 1024 * 1024;
  function scryptSync(password, salt, keylen, options = {}) {
    const N = options.N ?? options.cost ?? 16384;
    const r = options.r ?? options.blockSize ?? 8;
    const p = options.p ?? options.parallelization ?? 1;
    const maxmem = Math.min(options.maxmem ?? 32 * 1024 * 1024, SCRYPT_MEMORY_CEILING);
    if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) throw nodeError('ERR_CRYPTO_INVALID_SCRYPT_PARAMS');
    if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1) throw nodeError('ERR_CRYPTO_INVALID_SCRYPT_PARAMS');
    if (!Number.isInteger(keylen) || keylen < 0) throw nodeError('ERR_OUT_OF_RANGE', 'keylen', '>= 0', keylen);
    if (128 * N * r > maxmem || 128 * r * p > maxmem) throw nodeError('ERR_CRYPTO_INVALID_SCRYPT_PARAMS', 'memory limit exceeded');
    return Buffer.from(native(() => ops.scrypt(secretBytes(password), secretBytes(salt), Math.log2(N), r, p, keylen)));
  }
  const later = internals.callBackLater;

  internals.nodeCryptoKeys = {
    KeyObject,
    createSecretKey,
    createPrivateKey,
    createPublicKey,
    generateKeyPairSync,
    generateKeyPair,
    generateKeySync,
    generateKey: (type, options, callback) => later(() => generateKeySync(type, options), callback),
    Sign,
    Verify,
    createSign: (algorithm) => new Sign(algorithm),
    createVerify: (algorithm) => new Verify(algorithm),
    sign: (algorithm, data, key, callback) => oneShot(() => signWith(algorithm == null ? undefined : digestNamed(algorithm), bytesOf(data), key), callback),
    verify: (algorithm, data, key, signature, callback) => oneShot(() => verifyWith(algorithm == null ? undefined : digestNamed(algorithm), bytesOf(data), key, bytesOf(signature)), callback),
    publicEncrypt: (key, data) => oaep(true, 'public', key, data),
    privateDecrypt: (key, data) => oaep(false, 'private', key, data),
    pbkdf2Sync,
    pbkdf2: (password, salt, iterations, keylen, digest, callback) => later(() => pbkdf2Sync(password, salt, iterations, keylen, digest), callback),
    hkdfSync,
    hkdf: (digest, key, salt, info, keylen, callback) => later(() => hkdfSync(digest, key, salt, info, keylen), callback),
    scryptSync,
    scrypt(password, salt, keylen, options, callback) {
      if (typeof options === 'function') {
        callback = options;
        options = {};
      }
      later(() => scryptSync(password, salt, keylen, options), callback);
    },
    getCurves: () => ['prime256v1', 'secp384r1', 'secp521r1'],
    constants,
    secretBytes,
  };
})
