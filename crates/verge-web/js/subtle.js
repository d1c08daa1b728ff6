// crypto.subtle (WebCrypto §14): digest (SHA-1/256/384/512) and HMAC (generateKey, importKey and
// exportKey as raw or jwk, sign, verify), plus Workers' timingSafeEqual. Other algorithms reject
// with NotSupportedError naming them. Key material lives in a WeakMap no script can reach.
(function (ops, internals) {
  const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  const HASH_BLOCK_BITS = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
  const JWK_ALG = { 'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512' };
  const error = (name, message) => new DOMException(message, name);
  const bytes = (data, what) => internals.toBytes(data, what).slice();
  const toBuffer = (view) => view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);

  // Normalizes an AlgorithmIdentifier to { name, ...members } (WebCrypto §18.4).
  function normalize(algorithm, supported, op) {
    if (typeof algorithm === 'string') algorithm = { name: algorithm };
    if (typeof algorithm !== 'object' || algorithm === null) throw new TypeError(`${op}: the algorithm must be a string or an object with a name`);
    if (algorithm.name === undefined) throw new TypeError(`${op}: the algorithm has no name`);
    const wanted = String(algorithm.name).toUpperCase();
    const name = supported.find((s) => s.toUpperCase() === wanted);
    if (!name) throw error('NotSupportedError', `${op}: unrecognized or unsupported algorithm name '${algorithm.name}'`);
    return { ...algorithm, name };
  }
  const normalizeHash = (hash, op) => normalize(hash, HASHES, op).name;

  const keys = new WeakMap();
  class CryptoKey {
    constructor() { throw new TypeError('Illegal constructor'); }
    get type() { return slot(this).type; }
    get extractable() { return slot(this).extractable; }
    get algorithm() { return slot(this).algorithm; }
    get usages() { return slot(this).usages; }
  }
  Object.defineProperty(CryptoKey.prototype, Symbol.toStringTag, { value: 'CryptoKey' });
  function slot(key) {
    const s = keys.get(key);
    if (!s) throw new TypeError('not a CryptoKey');
    return s;
  }
  function makeKey(type, extractable, algorithm, usages, material) {
    const key = Object.create(CryptoKey.prototype);
    keys.set(key, { type, extractable, algorithm: Object.freeze(algorithm), usages: Object.freeze([...usages]), material });
    return key;
  }
  function checkUsages(usages, allowed, op) {
    const list = [...usages].map(String);
    for (const usage of list) {
      if (!allowed.includes(usage)) throw error('SyntaxError', `${op}: usage '${usage}' is not valid for this key`);
    }
    if (list.length === 0) throw error('SyntaxError', `${op}: a secret key needs at least one usage`);
    return [...new Set(list)];
  }
  function hmacLength(algorithm, materialBits, op) {
    if (algorithm.length === undefined) return materialBits;
    const length = Number(algorithm.length);
    if (length === 0 || length > materialBits || length <= materialBits - 8) {
      throw error('DataError', `${op}: length ${length} does not match the key's ${materialBits} bits`);
    }
    return length;
  }
  function usable(key, name, usage, op) {
    const s = slot(key);
    if (s.algorithm.name !== name) throw error('InvalidAccessError', `${op}: the key is for ${s.algorithm.name}, not ${name}`);
    if (!s.usages.includes(usage)) throw error('InvalidAccessError', `${op}: the key does not allow '${usage}'`);
    return s;
  }
  const base64url = {
    encode: (view) => btoa(String.fromCharCode(...view)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    decode: (text) => {
      if (typeof text !== 'string' || /[^A-Za-z0-9_-]/.test(text)) throw error('DataError', 'JWK: invalid base64url');
      return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    },
  };

  // Runs `body` and turns what it throws into a rejection, as every SubtleCrypto method must.
  const promised = (body) => new Promise((resolve) => resolve(body()));

  class SubtleCrypto {
    constructor(key) { if (key !== internals) throw new TypeError('Illegal constructor'); }
    digest(algorithm, data) {
      return promised(() => {
        const { name } = normalize(algorithm, HASHES, 'digest');
        return toBuffer(ops.digest(name, bytes(data, 'digest')));
      });
    }
    generateKey(algorithm, extractable, usages) {
      return promised(() => {
        const alg = normalize(algorithm, ['HMAC'], 'generateKey');
        const hash = normalizeHash(alg.hash, 'generateKey');
        const allowed = checkUsages(usages, ['sign', 'verify'], 'generateKey');
        const length = alg.length === undefined ? HASH_BLOCK_BITS[hash] : Number(alg.length);
        if (!(length > 0)) throw error('OperationError', 'generateKey: length must be positive');
        const material = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 8)));
        if (length % 8) material[material.length - 1] &= 0xff << (8 - (length % 8));
        return makeKey('secret', !!extractable, { name: 'HMAC', hash: { name: hash }, length }, allowed, material);
      });
    }
    importKey(format, keyData, algorithm, extractable, usages) {
      return promised(() => {
        const alg = normalize(algorithm, ['HMAC'], 'importKey');
        const hash = normalizeHash(alg.hash, 'importKey');
        const allowed = checkUsages(usages, ['sign', 'verify'], 'importKey');
        let material;
        if (format === 'raw') {
          material = bytes(keyData, 'importKey');
        } else if (format === 'jwk') {
          if (typeof keyData !== 'object' || keyData === null || ArrayBuffer.isView(keyData)) throw new TypeError('importKey: a JWK must be an object');
          if (keyData.kty !== 'oct') throw error('DataError', "importKey: an HMAC JWK must have kty 'oct'");
          material = base64url.decode(keyData.k);
          if (keyData.alg !== undefined && keyData.alg !== JWK_ALG[hash]) throw error('DataError', `importKey: JWK alg '${keyData.alg}' does not match ${hash}`);
          if (keyData.use !== undefined && keyData.use !== 'sig') throw error('DataError', "importKey: JWK use must be 'sig'");
          if (keyData.key_ops !== undefined && !allowed.every((u) => keyData.key_ops.includes(u))) throw error('DataError', 'importKey: JWK key_ops does not allow these usages');
          if (keyData.ext === false && extractable) throw error('DataError', 'importKey: the JWK is not extractable');
        } else {
          throw error('NotSupportedError', `importKey: format '${format}' is not supported for HMAC`);
        }
        if (material.length === 0) throw error('DataError', 'importKey: an HMAC key cannot be empty');
        const length = hmacLength(alg, material.length * 8, 'importKey');
        return makeKey('secret', !!extractable, { name: 'HMAC', hash: { name: hash }, length }, allowed, material);
      });
    }
    exportKey(format, key) {
      return promised(() => {
        const s = slot(key);
        if (!s.extractable) throw error('InvalidAccessError', 'exportKey: the key is not extractable');
        if (format === 'raw') return toBuffer(s.material);
        if (format === 'jwk') {
          return { kty: 'oct', k: base64url.encode(s.material), alg: JWK_ALG[s.algorithm.hash.name], key_ops: [...s.usages], ext: true };
        }
        throw error('NotSupportedError', `exportKey: format '${format}' is not supported for HMAC`);
      });
    }
    sign(algorithm, key, data) {
      return promised(() => {
        const { name } = normalize(algorithm, ['HMAC'], 'sign');
        const s = usable(key, name, 'sign', 'sign');
        return toBuffer(ops.hmacSign(s.algorithm.hash.name, s.material, bytes(data, 'sign')));
      });
    }
    verify(algorithm, key, signature, data) {
      return promised(() => {
        const { name } = normalize(algorithm, ['HMAC'], 'verify');
        const s = usable(key, name, 'verify', 'verify');
        return ops.hmacVerify(s.algorithm.hash.name, s.material, bytes(signature, 'verify'), bytes(data, 'verify'));
      });
    }
    // Workers' extension: compares two buffers in time that depends only on their length.
    timingSafeEqual(a, b) {
      const x = internals.toBytes(a, 'timingSafeEqual'), y = internals.toBytes(b, 'timingSafeEqual');
      if (x.byteLength !== y.byteLength) throw new TypeError('timingSafeEqual: the two buffers must have the same length');
      return ops.timingSafeEqual(x, y);
    }
  }
  for (const method of ['encrypt', 'decrypt', 'deriveBits', 'deriveKey', 'wrapKey', 'unwrapKey']) {
    SubtleCrypto.prototype[method] = function () {
      return Promise.reject(error('NotSupportedError', `crypto.subtle.${method} is not supported yet`));
    };
  }
  Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: 'SubtleCrypto' });
  internals.subtle = new SubtleCrypto(internals);
  internals.defineGlobal('SubtleCrypto', SubtleCrypto);
  internals.defineGlobal('CryptoKey', CryptoKey);
})
