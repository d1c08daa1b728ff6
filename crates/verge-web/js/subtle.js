// crypto.subtle (WebCrypto §14): digest (SHA-1/256/384/512); HMAC (sign, verify); AES-GCM
// (encrypt, decrypt; 128- and 256-bit keys, 96-bit IVs, 128-bit tags); PBKDF2 and HKDF (deriveBits,
// deriveKey); generateKey, importKey and exportKey (raw, jwk) for the secret keys; Workers'
// timingSafeEqual. Other algorithms reject with NotSupportedError naming them. Key material lives
// in a WeakMap no script can reach.
(function (ops, internals) {
  const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  const HASH_BLOCK_BITS = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
  const JWK_ALG = { 'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512' };
  const AES_JWK_ALG = { 128: 'A128GCM', 192: 'A192GCM', 256: 'A256GCM' };
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

  // How each secret-key algorithm is imported, generated and exported.
  const KEY_KINDS = {
    HMAC: {
      usages: ['sign', 'verify'],
      algorithm(alg, bits, op) {
        const hash = normalizeHash(alg.hash, op);
        return { name: 'HMAC', hash: { name: hash }, length: hmacLength(alg, bits, op) };
      },
      generateBits: (alg, op) => (alg.length === undefined ? HASH_BLOCK_BITS[normalizeHash(alg.hash, op)] : Number(alg.length)),
      jwkAlg: (algorithm) => JWK_ALG[algorithm.hash.name],
    },
    'AES-GCM': {
      usages: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
      algorithm(alg, bits) {
        if (![128, 192, 256].includes(bits)) throw error('DataError', `AES keys are 128, 192 or 256 bits, not ${bits}`);
        return { name: 'AES-GCM', length: bits };
      },
      generateBits(alg) {
        const length = Number(alg.length);
        if (![128, 192, 256].includes(length)) throw error('OperationError', 'generateKey: AES-GCM length must be 128, 192 or 256');
        return length;
      },
      jwkAlg: (algorithm) => AES_JWK_ALG[algorithm.length],
    },
    PBKDF2: { usages: ['deriveBits', 'deriveKey'], rawOnly: true, algorithm: () => ({ name: 'PBKDF2' }) },
    HKDF: { usages: ['deriveBits', 'deriveKey'], rawOnly: true, algorithm: () => ({ name: 'HKDF' }) },
  };
  const KINDS = Object.keys(KEY_KINDS);

  function importSecret(format, keyData, algorithm, extractable, usages, op) {
    const alg = normalize(algorithm, KINDS, op);
    if (alg.name === 'HMAC') normalizeHash(alg.hash, op);
    const kind = KEY_KINDS[alg.name];
    const allowed = checkUsages(usages, kind.usages, op);
    if (kind.rawOnly && extractable) throw error('SyntaxError', `${op}: ${alg.name} keys cannot be extractable`);
    let material;
    if (format === 'raw') {
      material = bytes(keyData, op);
    } else if (format === 'jwk' && !kind.rawOnly) {
      if (typeof keyData !== 'object' || keyData === null || ArrayBuffer.isView(keyData)) throw new TypeError(`${op}: a JWK must be an object`);
      if (keyData.kty !== 'oct') throw error('DataError', `${op}: a secret-key JWK must have kty 'oct'`);
      material = base64url.decode(keyData.k);
      if (keyData.use !== undefined && keyData.use !== (alg.name === 'HMAC' ? 'sig' : 'enc')) throw error('DataError', `${op}: JWK use '${keyData.use}' does not fit ${alg.name}`);
      if (keyData.key_ops !== undefined && !allowed.every((u) => keyData.key_ops.includes(u))) throw error('DataError', `${op}: JWK key_ops does not allow these usages`);
      if (keyData.ext === false && extractable) throw error('DataError', `${op}: the JWK is not extractable`);
    } else {
      throw error('NotSupportedError', `${op}: format '${format}' is not supported for ${alg.name}`);
    }
    if (material.length === 0 && alg.name === 'HMAC') throw error('DataError', `${op}: an HMAC key cannot be empty`);
    const keyAlgorithm = kind.algorithm(alg, material.length * 8, op);
    if (format === 'jwk' && keyData.alg !== undefined && keyData.alg !== kind.jwkAlg(keyAlgorithm)) {
      throw error('DataError', `${op}: JWK alg '${keyData.alg}' does not match`);
    }
    return makeKey('secret', !!extractable, keyAlgorithm, allowed, material);
  }

  // The bits deriveBits makes for `algorithm` from `key` (PBKDF2 or HKDF).
  function derive(algorithm, key, length, op) {
    const alg = normalize(algorithm, ['PBKDF2', 'HKDF'], op);
    const s = slot(key);
    if (s.algorithm.name !== alg.name) throw error('InvalidAccessError', `${op}: the key is for ${s.algorithm.name}, not ${alg.name}`);
    if (length === null || length === undefined) throw error('OperationError', `${op}: a length is required`);
    length = Number(length);
    if (length % 8 !== 0) throw error('OperationError', `${op}: the length must be a multiple of 8`);
    const hash = normalizeHash(alg.hash, op);
    const salt = bytes(alg.salt, op);
    const iterations = Number(alg.iterations);
    if (alg.name === 'PBKDF2' && !(iterations > 0)) throw error('OperationError', `${op}: iterations must be positive`);
    const info = alg.name === 'HKDF' ? bytes(alg.info, op) : null;
    try {
      return alg.name === 'PBKDF2'
        ? ops.pbkdf2(hash, s.material, salt, iterations, length / 8)
        : ops.hkdf(hash, s.material, salt, info, length / 8);
    } catch (e) {
      throw error('OperationError', `${op}: ${e.message}`);
    }
  }

  function aesGcm(encrypt, algorithm, key, data, op) {
    // Every encryption algorithm is recognized, so that a key of the wrong kind is an
    // InvalidAccessError (WebCrypto §14.3.1 steps 9-10) before an unsupported one is refused.
    const alg = normalize(algorithm, ['RSA-OAEP', 'AES-CTR', 'AES-CBC', 'AES-GCM'], op);
    const s = usable(key, alg.name, encrypt ? 'encrypt' : 'decrypt', op);
    if (alg.name !== 'AES-GCM') throw error('NotSupportedError', `${op}: ${alg.name} is not supported yet`);
    const iv = bytes(alg.iv, op);
    const tagLength = alg.tagLength === undefined ? 128 : Number(alg.tagLength);
    if (![32, 64, 96, 104, 112, 120, 128].includes(tagLength)) throw error('OperationError', `${op}: invalid tagLength ${tagLength}`);
    if (tagLength !== 128) throw error('NotSupportedError', `${op}: only 128-bit AES-GCM tags are supported`);
    if (iv.length !== 12) throw error('NotSupportedError', `${op}: only 96-bit AES-GCM IVs are supported`);
    if (s.material.length === 24) throw error('NotSupportedError', `${op}: 192-bit AES keys are not supported`);
    const aad = alg.additionalData === undefined ? new Uint8Array(0) : bytes(alg.additionalData, op);
    try {
      return toBuffer(ops.aesGcm(encrypt, s.material, iv, aad, bytes(data, op)));
    } catch (e) {
      throw error('OperationError', `${op}: ${e.message}`);
    }
  }

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
        const alg = normalize(algorithm, ['HMAC', 'AES-GCM'], 'generateKey');
        if (alg.name === 'HMAC') normalizeHash(alg.hash, 'generateKey');
        const kind = KEY_KINDS[alg.name];
        const allowed = checkUsages(usages, kind.usages, 'generateKey');
        const length = kind.generateBits(alg, 'generateKey');
        if (!(length > 0)) throw error('OperationError', 'generateKey: length must be positive');
        const material = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 8)));
        if (length % 8) material[material.length - 1] &= 0xff << (8 - (length % 8));
        const keyAlgorithm = alg.name === 'HMAC' ? { name: 'HMAC', hash: { name: normalizeHash(alg.hash, 'generateKey') }, length } : { name: alg.name, length };
        return makeKey('secret', !!extractable, keyAlgorithm, allowed, material);
      });
    }
    importKey(format, keyData, algorithm, extractable, usages) {
      return promised(() => importSecret(format, keyData, algorithm, extractable, usages, 'importKey'));
    }
    exportKey(format, key) {
      return promised(() => {
        const s = slot(key);
        if (!s.extractable) throw error('InvalidAccessError', 'exportKey: the key is not extractable');
        if (format === 'raw') return toBuffer(s.material);
        const kind = KEY_KINDS[s.algorithm.name];
        if (format === 'jwk' && kind && !kind.rawOnly) {
          return { kty: 'oct', k: base64url.encode(s.material), alg: kind.jwkAlg(s.algorithm), key_ops: [...s.usages], ext: true };
        }
        throw error('NotSupportedError', `exportKey: format '${format}' is not supported for ${s.algorithm.name}`);
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
    encrypt(algorithm, key, data) { return promised(() => aesGcm(true, algorithm, key, data, 'encrypt')); }
    decrypt(algorithm, key, data) { return promised(() => aesGcm(false, algorithm, key, data, 'decrypt')); }
    deriveBits(algorithm, baseKey, length) {
      return promised(() => {
        usable(baseKey, slot(baseKey).algorithm.name, 'deriveBits', 'deriveBits');
        return toBuffer(derive(algorithm, baseKey, length, 'deriveBits'));
      });
    }
    deriveKey(algorithm, baseKey, derivedKeyType, extractable, usages) {
      return promised(() => {
        usable(baseKey, slot(baseKey).algorithm.name, 'deriveKey', 'deriveKey');
        const target = normalize(derivedKeyType, ['HMAC', 'AES-GCM'], 'deriveKey');
        const length = KEY_KINDS[target.name].generateBits(target, 'deriveKey');
        const bits = derive(algorithm, baseKey, length, 'deriveKey');
        return importSecret('raw', bits, target, extractable, usages, 'deriveKey');
      });
    }
    // Workers' extension: compares two buffers in time that depends only on their length.
    timingSafeEqual(a, b) {
      const x = internals.toBytes(a, 'timingSafeEqual'), y = internals.toBytes(b, 'timingSafeEqual');
      if (x.byteLength !== y.byteLength) throw new TypeError('timingSafeEqual: the two buffers must have the same length');
      return ops.timingSafeEqual(x, y);
    }
  }
  for (const method of ['wrapKey', 'unwrapKey']) {
    SubtleCrypto.prototype[method] = function () {
      return Promise.reject(error('NotSupportedError', `crypto.subtle.${method} is not supported yet`));
    };
  }
  Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: 'SubtleCrypto' });
  internals.subtle = new SubtleCrypto(internals);
  internals.defineGlobal('SubtleCrypto', SubtleCrypto);
  internals.defineGlobal('CryptoKey', CryptoKey);
})
