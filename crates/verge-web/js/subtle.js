// crypto.subtle (WebCrypto, with the Secure Curves additions): every method, for SHA-1/256/384/512
// digests, HMAC, AES-CBC/CTR/GCM/KW, PBKDF2, HKDF, ECDSA and ECDH on P-256/384/521, Ed25519,
// X25519, RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP; keys as raw, jwk, spki and pkcs8; plus Workers'
// timingSafeEqual. This file normalizes algorithms, keeps CryptoKeys and applies the spec's
// checks and error names; the cryptography is native (src/subtle/). Key material lives in a
// WeakMap no script can reach: bytes for secret keys, DER (PKCS#8 or SPKI) for the others.
(function (ops, internals) {
  const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  const HASH_BLOCK_BITS = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
  const HASH_SUFFIX = { 'SHA-1': '1', 'SHA-256': '256', 'SHA-384': '384', 'SHA-512': '512' };
  const CURVES = ['P-256', 'P-384', 'P-521'];
  const CURVE_BITS = { 'P-256': 256, 'P-384': 384, 'P-521': 528 };
  const error = (name, message) => new DOMException(message, name);
  const bytes = (data, what) => internals.toBytes(data, what).slice();
  const toBuffer = (view) => view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  const EMPTY = new Uint8Array(0);

  // Runs a native op; its plain errors become the DOMException `name` (NotSupportedError when
  // the op says the case is not supported).
  function native(name, op, body) {
    try {
      return body();
    } catch (e) {
      if (e instanceof DOMException || e instanceof TypeError) throw e;
      const message = String(e?.message ?? e);
      throw error(/not supported/.test(message) ? 'NotSupportedError' : name, `${op}: ${message}`);
    }
  }

  // --- Algorithm normalization (WebCrypto §18.4) ---------------------------------------------

  function enforceRange(value, max, what) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`${what} must be a finite number`);
    const t = Math.trunc(n);
    if (t < 0 || t > max) throw new TypeError(`${what} is out of range`);
    return t;
  }
  const CONVERT = {
    hash: (v, op) => ({ name: normalize('digest', v, op).name }),
    buffer: (v, op, what) => bytes(v, `${op}: ${what}`),
    octet: (v, op, what) => enforceRange(v, 0xff, `${op}: ${what}`),
    ushort: (v, op, what) => enforceRange(v, 0xffff, `${op}: ${what}`),
    ulong: (v, op, what) => enforceRange(v, 0xffffffff, `${op}: ${what}`),
    bigint: (v, op, what) => {
      if (!(v instanceof Uint8Array)) throw new TypeError(`${op}: ${what} must be a Uint8Array`);
      return v.slice();
    },
    string: (v) => String(v),
    key: (v, op, what) => {
      if (!keys.has(v)) throw new TypeError(`${op}: ${what} must be a CryptoKey`);
      return v;
    },
  };
  // The members each operation's algorithm dictionaries have; '?' marks an optional one.
  const AES = ['AES-CBC', 'AES-CTR', 'AES-GCM', 'AES-KW'];
  const RSA = ['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'RSA-OAEP'];
  const OKP = ['Ed25519', 'X25519'];
  const members = (names, dictionary) => Object.fromEntries(names.map((n) => [n, dictionary]));
  const REGISTERED = {
    digest: members(HASHES, {}),
    generateKey: {
      ...members(AES, { length: 'ushort' }),
      HMAC: { hash: 'hash', 'length?': 'ulong' },
      ...members(RSA, { modulusLength: 'ulong', publicExponent: 'bigint', hash: 'hash' }),
      ECDSA: { namedCurve: 'string' },
      ECDH: { namedCurve: 'string' },
      ...members(OKP, {}),
    },
    importKey: {
      ...members(AES, {}),
      HMAC: { hash: 'hash', 'length?': 'ulong' },
      ...members(RSA, { hash: 'hash' }),
      ECDSA: { namedCurve: 'string' },
      ECDH: { namedCurve: 'string' },
      ...members(OKP, {}),
      PBKDF2: {},
      HKDF: {},
    },
    sign: {
      HMAC: {}, 'RSASSA-PKCS1-v1_5': {}, 'RSA-PSS': { saltLength: 'ulong' },
      ECDSA: { hash: 'hash' }, Ed25519: {},
    },
    encrypt: {
      'AES-CBC': { iv: 'buffer' },
      'AES-CTR': { counter: 'buffer', length: 'octet' },
      'AES-GCM': { iv: 'buffer', 'additionalData?': 'buffer', 'tagLength?': 'octet' },
      'RSA-OAEP': { 'label?': 'buffer' },
    },
    deriveBits: {
      ECDH: { public: 'key' }, X25519: { public: 'key' },
      HKDF: { hash: 'hash', salt: 'buffer', info: 'buffer' },
      PBKDF2: { hash: 'hash', salt: 'buffer', iterations: 'ulong' },
    },
    wrapKey: { 'AES-KW': {} },
    getKeyLength: {
      ...members(AES, { length: 'ushort' }),
      HMAC: { hash: 'hash', 'length?': 'ulong' },
      HKDF: {}, PBKDF2: {},
    },
  };
  REGISTERED.verify = REGISTERED.sign;
  REGISTERED.decrypt = REGISTERED.encrypt;
  REGISTERED.unwrapKey = REGISTERED.wrapKey;

  // Normalizes an AlgorithmIdentifier for `op` to { name, ...converted members }.
  function normalize(op, algorithm, caller = op) {
    if (typeof algorithm === 'string') algorithm = { name: algorithm };
    if (typeof algorithm !== 'object' || algorithm === null) {
      throw new TypeError(`${caller}: the algorithm must be a string or an object with a name`);
    }
    if (algorithm.name === undefined) throw new TypeError(`${caller}: the algorithm has no name`);
    const registered = REGISTERED[op];
    const wanted = String(algorithm.name).toUpperCase();
    const name = Object.keys(registered).find((n) => n.toUpperCase() === wanted);
    if (!name) {
      throw error('NotSupportedError', `${caller}: unrecognized or unsupported algorithm name '${algorithm.name}'`);
    }
    const result = { name };
    for (const [member, type] of Object.entries(registered[name])) {
      const optional = member.endsWith('?');
      const key = optional ? member.slice(0, -1) : member;
      const value = algorithm[key];
      if (value === undefined) {
        if (!optional) throw new TypeError(`${caller}: ${name} requires '${key}'`);
        continue;
      }
      result[key] = CONVERT[type](value, caller, key);
    }
    return result;
  }

  // --- CryptoKey --------------------------------------------------------------------------

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
  // `data` is the secret bytes, or the DER of an asymmetric key of `kind` ('P-256', 'RSA', …).
  function makeKey(type, extractable, algorithm, usages, data, kind) {
    const key = Object.create(CryptoKey.prototype);
    keys.set(key, {
      type, extractable: Boolean(extractable), algorithm, usages: [...usages], data, kind,
    });
    return key;
  }
  // The usages in `requested` (deduplicated, in the spec's order), or a SyntaxError if any is
  // not in `allowed`.
  const ALL_USAGES = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];
  function checkUsages(requested, allowed, op) {
    const list = [...requested].map(String);
    for (const usage of list) {
      if (!allowed.includes(usage)) throw error('SyntaxError', `${op}: usage '${usage}' is not valid for this key`);
    }
    return ALL_USAGES.filter((u) => list.includes(u));
  }
  function requireUsages(key, op) {
    const s = slot(key);
    if ((s.type === 'secret' || s.type === 'private') && s.usages.length === 0) {
      throw error('SyntaxError', `${op}: a ${s.type} key needs at least one usage`);
    }
    return key;
  }
  function usable(key, name, usage, op) {
    const s = slot(key);
    if (s.algorithm.name !== name) throw error('InvalidAccessError', `${op}: the key is for ${s.algorithm.name}, not ${name}`);
    if (!s.usages.includes(usage)) throw error('InvalidAccessError', `${op}: the key does not allow '${usage}'`);
    return s;
  }

  const base64url = {
    encode(view) {
      let text = '';
      for (let i = 0; i < view.length; i += 8192) text += String.fromCharCode.apply(null, view.subarray(i, i + 8192));
      return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
    decode(text, member) {
      if (typeof text !== 'string' || /[^A-Za-z0-9_-]/.test(text)) {
        throw error('DataError', `JWK: '${member}' is missing or not base64url`);
      }
      return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    },
  };

  // The checks every JWK import makes (WebCrypto §14.3.9 and each algorithm's import steps).
  function checkJwk(jwk, kty, use, usages, extractable, op) {
    if (typeof jwk !== 'object' || jwk === null || ArrayBuffer.isView(jwk) || jwk instanceof ArrayBuffer) {
      throw new TypeError(`${op}: a JWK must be an object`);
    }
    if (jwk.kty !== kty) throw error('DataError', `${op}: the JWK's kty must be '${kty}'`);
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
      throw error('DataError', `${op}: JWK use '${jwk.use}' does not fit this key`);
    }
    if (jwk.key_ops !== undefined) {
      const opsList = [...jwk.key_ops].map(String);
      if (new Set(opsList).size !== opsList.length || !usages.every((u) => opsList.includes(u))) {
        throw error('DataError', `${op}: JWK key_ops does not allow these usages`);
      }
    }
    if (jwk.ext === false && extractable) throw error('DataError', `${op}: the JWK is not extractable`);
  }
  const jwkBase = (s) => ({ key_ops: [...s.usages], ext: s.extractable });

  // --- Secret keys: AES, HMAC, PBKDF2, HKDF ----------------------------------------------------

  const AES_JWK_MODE = { 'AES-CBC': 'CBC', 'AES-CTR': 'CTR', 'AES-GCM': 'GCM', 'AES-KW': 'KW' };
  const AES_USAGES = {
    'AES-CBC': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
    'AES-CTR': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
    'AES-GCM': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
    'AES-KW': ['wrapKey', 'unwrapKey'],
  };

  function aesAlgorithm(name) {
    const usagesOf = AES_USAGES[name];
    const jwkAlg = (bits) => `A${bits}${AES_JWK_MODE[name]}`;
    const checkLength = (bits, errorName, op) => {
      if (![128, 192, 256].includes(bits)) throw error(errorName, `${op}: AES keys are 128, 192 or 256 bits, not ${bits}`);
      return bits;
    };
    return {
      generate(alg, extractable, usages, op) {
        const allowed = checkUsages(usages, usagesOf, op);
        const length = checkLength(alg.length, 'OperationError', op);
        const material = crypto.getRandomValues(new Uint8Array(length / 8));
        return makeKey('secret', extractable, { name, length }, allowed, material);
      },
      import(format, keyData, alg, extractable, usages, op) {
        const allowed = checkUsages(usages, usagesOf, op);
        let material;
        if (format === 'raw') {
          material = bytes(keyData, op);
        } else if (format === 'jwk') {
          checkJwk(keyData, 'oct', 'enc', allowed, extractable, op);
          material = base64url.decode(keyData.k, 'k');
        } else {
          throw error('NotSupportedError', `${op}: format '${format}' is not supported for ${name}`);
        }
        const length = checkLength(material.length * 8, 'DataError', op);
        if (format === 'jwk' && keyData.alg !== undefined && keyData.alg !== jwkAlg(length)) {
          throw error('DataError', `${op}: JWK alg '${keyData.alg}' does not match`);
        }
        return makeKey('secret', extractable, { name, length }, allowed, material);
      },
      export(format, s) {
        if (format === 'raw') return toBuffer(s.data);
        if (format === 'jwk') return { kty: 'oct', k: base64url.encode(s.data), alg: jwkAlg(s.algorithm.length), ...jwkBase(s) };
        throw error('NotSupportedError', `exportKey: format '${format}' is not supported for ${name}`);
      },
      keyLength: (alg, op) => checkLength(alg.length, 'OperationError', op),
    };
  }

  function hmacLength(alg, materialBits, op) {
    if (alg.length === undefined) return materialBits;
    const length = alg.length;
    if (length === 0 || length > materialBits || length <= materialBits - 8) {
      throw error('DataError', `${op}: length ${length} does not match the key's ${materialBits} bits`);
    }
    return length;
  }
  const hmacJwkAlg = (hash) => `HS${HASH_SUFFIX[hash]}`;
  const HMAC = {
    generate(alg, extractable, usages, op) {
      const allowed = checkUsages(usages, ['sign', 'verify'], op);
      const length = HMAC.keyLength(alg, op);
      const material = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 8)));
      if (length % 8) material[material.length - 1] &= 0xff << (8 - (length % 8));
      return makeKey('secret', extractable, { name: 'HMAC', hash: alg.hash, length }, allowed, material);
    },
    import(format, keyData, alg, extractable, usages, op) {
      const allowed = checkUsages(usages, ['sign', 'verify'], op);
      let material;
      if (format === 'raw') {
        material = bytes(keyData, op);
      } else if (format === 'jwk') {
        checkJwk(keyData, 'oct', 'sig', allowed, extractable, op);
        material = base64url.decode(keyData.k, 'k');
        if (keyData.alg !== undefined && keyData.alg !== hmacJwkAlg(alg.hash.name)) {
          throw error('DataError', `${op}: JWK alg '${keyData.alg}' does not match`);
        }
      } else {
        throw error('NotSupportedError', `${op}: format '${format}' is not supported for HMAC`);
      }
      if (material.length === 0) throw error('DataError', `${op}: an HMAC key cannot be empty`);
      const length = hmacLength(alg, material.length * 8, op);
      return makeKey('secret', extractable, { name: 'HMAC', hash: alg.hash, length }, allowed, material);
    },
    export(format, s) {
      if (format === 'raw') return toBuffer(s.data);
      if (format === 'jwk') return { kty: 'oct', k: base64url.encode(s.data), alg: hmacJwkAlg(s.algorithm.hash.name), ...jwkBase(s) };
      throw error('NotSupportedError', `exportKey: format '${format}' is not supported for HMAC`);
    },
    sign: (alg, s, data) => ops.hmacSign(s.algorithm.hash.name, s.data, data),
    verify: (alg, s, signature, data) => ops.hmacVerify(s.algorithm.hash.name, s.data, signature, data),
    keyLength(alg, op) {
      if (alg.length === undefined) return HASH_BLOCK_BITS[alg.hash.name];
      if (alg.length === 0) throw error('OperationError', `${op}: an HMAC key cannot be 0 bits`);
      return alg.length;
    },
  };

  function kdfAlgorithm(name) {
    return {
      import(format, keyData, alg, extractable, usages, op) {
        const allowed = checkUsages(usages, ['deriveKey', 'deriveBits'], op);
        if (format !== 'raw') throw error('NotSupportedError', `${op}: ${name} keys are imported as 'raw'`);
        if (extractable) throw error('SyntaxError', `${op}: ${name} keys cannot be extractable`);
        return makeKey('secret', false, { name }, allowed, bytes(keyData, op));
      },
      deriveBits(alg, s, length, op) {
        if (length === null) throw error('OperationError', `${op}: a length is required`);
        if (length % 8 !== 0) throw error('OperationError', `${op}: the length must be a multiple of 8`);
        if (name === 'PBKDF2' && alg.iterations === 0) throw error('OperationError', `${op}: iterations must be positive`);
        return native('OperationError', op, () => (name === 'PBKDF2'
          ? ops.pbkdf2(alg.hash.name, s.data, alg.salt, alg.iterations, length / 8)
          : ops.hkdf(alg.hash.name, s.data, alg.salt, alg.info, length / 8)));
      },
      keyLength: () => null,
    };
  }

  // --- Asymmetric keys: EC, OKP, RSA -----------------------------------------------------------

  // The usages each half of a key pair may have.
  const PAIR_USAGES = {
    ECDSA: [['verify'], ['sign']],
    Ed25519: [['verify'], ['sign']],
    'RSASSA-PKCS1-v1_5': [['verify'], ['sign']],
    'RSA-PSS': [['verify'], ['sign']],
    ECDH: [[], ['deriveKey', 'deriveBits']],
    X25519: [[], ['deriveKey', 'deriveBits']],
    'RSA-OAEP': [['encrypt', 'wrapKey'], ['decrypt', 'unwrapKey']],
  };

  function pairAlgorithm(name, spec) {
    const [publicUsages, privateUsages] = PAIR_USAGES[name];
    const makePair = (alg, kind, [privateDer, publicDer], extractable, usages, algorithm) => ({
      publicKey: makeKey('public', true, algorithm, usages.filter((u) => publicUsages.includes(u)), publicDer, kind),
      privateKey: makeKey('private', extractable, algorithm, usages.filter((u) => privateUsages.includes(u)), privateDer, kind),
    });
    return {
      generate(alg, extractable, usages, op) {
        const allowed = checkUsages(usages, [...publicUsages, ...privateUsages], op);
        const kind = spec.kind(alg, op);
        const der = native('OperationError', op, () => ops.keyGenerate(kind, alg.modulusLength ?? 0, alg.publicExponent ?? EMPTY));
        return makePair(alg, kind, der, extractable, allowed, spec.algorithm(alg, kind, der[1]));
      },
      import(format, keyData, alg, extractable, usages, op) {
        const kind = spec.kind(alg, op);
        let imported;
        if (format === 'jwk') {
          checkJwk(keyData, spec.kty, spec.use, [...usages].map(String), extractable, op);
          spec.checkJwk(keyData, alg, kind, op);
          const parts = spec.jwkParts(keyData).map(([member, optional]) => (
            optional && keyData[member] === undefined ? undefined : base64url.decode(keyData[member], member)));
          imported = native('DataError', op, () => ops.keyFromParts(kind, parts.filter((p) => p !== undefined)));
        } else if (['raw', 'spki', 'pkcs8'].includes(format) && spec.formats.includes(format)) {
          imported = native('DataError', op, () => ops.keyImport(kind, format, bytes(keyData, op)));
        } else {
          throw error('NotSupportedError', `${op}: format '${format}' is not supported for ${name}`);
        }
        const [isPrivate, der] = imported;
        const allowed = checkUsages(usages, isPrivate ? privateUsages : publicUsages, op);
        return makeKey(isPrivate ? 'private' : 'public', extractable, spec.algorithm(alg, kind, der, isPrivate), allowed, der, kind);
      },
      export(format, s) {
        const isPrivate = s.type === 'private';
        if (format === 'spki' || format === 'pkcs8') {
          if ((format === 'pkcs8') !== isPrivate) {
            throw error('InvalidAccessError', `exportKey: a ${s.type} key cannot be exported as ${format}`);
          }
          return toBuffer(s.data);
        }
        if (format === 'raw' && spec.formats.includes('raw')) {
          if (isPrivate) throw error('InvalidAccessError', 'exportKey: only public keys are exported raw');
          const parts = ops.keyParts(s.kind, false, s.data);
          return toBuffer(parts.length === 2 ? new Uint8Array([4, ...parts[0], ...parts[1]]) : parts[0]);
        }
        if (format === 'jwk') {
          const parts = ops.keyParts(s.kind, isPrivate, s.data);
          return { ...spec.toJwk(s, parts, isPrivate), ...jwkBase(s) };
        }
        throw error('NotSupportedError', `exportKey: format '${format}' is not supported for ${name}`);
      },
    };
  }

  const EC_SPEC = (name) => ({
    kty: 'EC',
    use: name === 'ECDSA' ? 'sig' : 'enc',
    formats: ['raw', 'spki', 'pkcs8'],
    kind(alg) {
      if (!CURVES.includes(alg.namedCurve)) throw error('NotSupportedError', `${name}: unsupported namedCurve '${alg.namedCurve}'`);
      return alg.namedCurve;
    },
    algorithm: (alg, kind) => ({ name, namedCurve: kind }),
    checkJwk(jwk, alg, kind, op) {
      if (jwk.crv !== kind) throw error('DataError', `${op}: the JWK's crv is not ${kind}`);
      const expected = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[kind];
      if (name === 'ECDSA' && jwk.alg !== undefined && jwk.alg !== expected) {
        throw error('DataError', `${op}: JWK alg '${jwk.alg}' does not fit ${kind}`);
      }
    },
    jwkParts: (jwk) => (jwk.d === undefined ? [['x'], ['y']] : [['d'], ['x'], ['y']]),
    toJwk(s, parts, isPrivate) {
      const [d, x, y] = isPrivate ? parts : [undefined, ...parts];
      const jwk = { kty: 'EC', crv: s.kind, x: base64url.encode(x), y: base64url.encode(y) };
      if (isPrivate) jwk.d = base64url.encode(d);
      return jwk;
    },
  });

  const OKP_SPEC = (name) => ({
    kty: 'OKP',
    use: name === 'Ed25519' ? 'sig' : 'enc',
    formats: ['raw', 'spki', 'pkcs8'],
    kind: () => name,
    algorithm: () => ({ name }),
    checkJwk(jwk, alg, kind, op) {
      if (jwk.crv !== name) throw error('DataError', `${op}: the JWK's crv is not ${name}`);
      if (name === 'Ed25519' && jwk.alg !== undefined && !['Ed25519', 'EdDSA'].includes(jwk.alg)) {
        throw error('DataError', `${op}: JWK alg '${jwk.alg}' does not fit Ed25519`);
      }
    },
    jwkParts: (jwk) => (jwk.d === undefined ? [['x']] : [['d'], ['x']]),
    toJwk(s, parts, isPrivate) {
      const jwk = { kty: 'OKP', crv: name, x: base64url.encode(parts[isPrivate ? 1 : 0]) };
      if (isPrivate) jwk.d = base64url.encode(parts[0]);
      if (name === 'Ed25519') jwk.alg = 'Ed25519';
      return jwk;
    },
  });

  const RSA_JWK_PREFIX = { 'RSASSA-PKCS1-v1_5': 'RS', 'RSA-PSS': 'PS' };
  const rsaJwkAlg = (name, hash) => (name === 'RSA-OAEP'
    ? (hash === 'SHA-1' ? 'RSA-OAEP' : `RSA-OAEP-${HASH_SUFFIX[hash]}`)
    : `${RSA_JWK_PREFIX[name]}${HASH_SUFFIX[hash]}`);
  const RSA_MEMBERS = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'];
  function bitLength(bigEndian) {
    let i = 0;
    while (i < bigEndian.length && bigEndian[i] === 0) i++;
    return i === bigEndian.length ? 0 : (bigEndian.length - i) * 8 - Math.clz32(bigEndian[i]) + 24;
  }
  const RSA_SPEC = (name) => ({
    kty: 'RSA',
    use: name === 'RSA-OAEP' ? 'enc' : 'sig',
    formats: ['spki', 'pkcs8'],
    kind: () => 'RSA',
    algorithm(alg, kind, der, isPrivate = false) {
      const [n, e] = ops.keyParts('RSA', isPrivate, der);
      return { name, modulusLength: bitLength(n), publicExponent: e, hash: alg.hash };
    },
    checkJwk(jwk, alg, kind, op) {
      if (jwk.alg !== undefined && jwk.alg !== rsaJwkAlg(name, alg.hash.name)) {
        throw error('DataError', `${op}: JWK alg '${jwk.alg}' does not fit ${name} with ${alg.hash.name}`);
      }
      if (jwk.oth !== undefined) throw error('NotSupportedError', `${op}: multi-prime RSA keys are not supported`);
    },
    jwkParts: (jwk) => (jwk.d === undefined ? [['n'], ['e']] : RSA_MEMBERS.map((m) => [m])),
    toJwk(s, parts) {
      const jwk = { kty: 'RSA', alg: rsaJwkAlg(name, s.algorithm.hash.name) };
      parts.forEach((part, i) => { jwk[RSA_MEMBERS[i]] = base64url.encode(part); });
      return jwk;
    },
  });

  const ALGORITHMS = {
    'AES-CBC': aesAlgorithm('AES-CBC'),
    'AES-CTR': aesAlgorithm('AES-CTR'),
    'AES-GCM': aesAlgorithm('AES-GCM'),
    'AES-KW': aesAlgorithm('AES-KW'),
    HMAC,
    PBKDF2: kdfAlgorithm('PBKDF2'),
    HKDF: kdfAlgorithm('HKDF'),
    ECDSA: pairAlgorithm('ECDSA', EC_SPEC('ECDSA')),
    ECDH: pairAlgorithm('ECDH', EC_SPEC('ECDH')),
    Ed25519: pairAlgorithm('Ed25519', OKP_SPEC('Ed25519')),
    X25519: pairAlgorithm('X25519', OKP_SPEC('X25519')),
    'RSASSA-PKCS1-v1_5': pairAlgorithm('RSASSA-PKCS1-v1_5', RSA_SPEC('RSASSA-PKCS1-v1_5')),
    'RSA-PSS': pairAlgorithm('RSA-PSS', RSA_SPEC('RSA-PSS')),
    'RSA-OAEP': pairAlgorithm('RSA-OAEP', RSA_SPEC('RSA-OAEP')),
  };

  // Signing for the asymmetric schemes: [scheme, key type, hash] and the PSS salt.
  function signature(alg, s) {
    const hash = alg.name === 'ECDSA' ? alg.hash.name : (s.algorithm.hash?.name ?? 'SHA-256');
    return [[alg.name, s.kind, hash], alg.saltLength ?? 0];
  }
  for (const name of ['ECDSA', 'Ed25519', 'RSASSA-PKCS1-v1_5', 'RSA-PSS']) {
    ALGORITHMS[name].sign = (alg, s, data, op) => {
      const [scheme, salt] = signature(alg, s);
      return native('OperationError', op, () => ops.keySign(scheme, s.data, data, salt));
    };
    ALGORITHMS[name].verify = (alg, s, sig, data, op) => {
      const [scheme, salt] = signature(alg, s);
      return native('OperationError', op, () => ops.keyVerify(scheme, s.data, sig, data, salt));
    };
  }
  for (const name of ['ECDH', 'X25519']) {
    ALGORITHMS[name].deriveBits = (alg, s, length, op) => {
      const peer = slot(alg.public);
      if (peer.type !== 'public') throw error('InvalidAccessError', `${op}: 'public' must be a public key`);
      if (peer.algorithm.name !== name || peer.kind !== s.kind) {
        throw error('InvalidAccessError', `${op}: 'public' is not a ${name} key on the same curve`);
      }
      if (s.type !== 'private') throw error('InvalidAccessError', `${op}: the base key must be private`);
      const secret = native('OperationError', op, () => ops.keyDerive(s.kind, s.data, peer.data));
      if (length === null) return secret;
      if (length > secret.length * 8) throw error('OperationError', `${op}: ${length} bits is more than the secret's ${secret.length * 8}`);
      const out = secret.slice(0, Math.ceil(length / 8));
      if (length % 8) out[out.length - 1] &= 0xff << (8 - (length % 8));
      return out;
    };
  }

  // Encryption: the AES modes and RSA-OAEP.
  ALGORITHMS['AES-CBC'].crypt = (encrypt, alg, s, data, op) => {
    if (alg.iv.length !== 16) throw error('OperationError', `${op}: the AES-CBC iv must be 16 bytes`);
    return native('OperationError', op, () => ops.aesCbc(encrypt, s.data, alg.iv, data));
  };
  ALGORITHMS['AES-CTR'].crypt = (encrypt, alg, s, data, op) => {
    if (alg.counter.length !== 16) throw error('OperationError', `${op}: the AES-CTR counter must be 16 bytes`);
    if (alg.length === 0 || alg.length > 128) throw error('OperationError', `${op}: the counter length must be 1 to 128 bits`);
    return native('OperationError', op, () => ops.aesCtr(s.data, alg.counter, alg.length, data));
  };
  ALGORITHMS['AES-GCM'].crypt = (encrypt, alg, s, data, op) => {
    const tagLength = alg.tagLength ?? 128;
    if (![32, 64, 96, 104, 112, 120, 128].includes(tagLength)) throw error('OperationError', `${op}: invalid tagLength ${tagLength}`);
    if (!encrypt && data.length < tagLength / 8) throw error('OperationError', `${op}: the data is shorter than the tag`);
    return native('OperationError', op, () => ops.aesGcm(encrypt, s.data, alg.iv, alg.additionalData ?? EMPTY, data, tagLength));
  };
  ALGORITHMS['RSA-OAEP'].crypt = (encrypt, alg, s, data, op) => {
    if (s.type !== (encrypt ? 'public' : 'private')) {
      throw error('InvalidAccessError', `${op}: RSA-OAEP ${encrypt ? 'encrypts with a public' : 'decrypts with a private'} key`);
    }
    return native('OperationError', op, () => ops.rsaOaep(encrypt, s.algorithm.hash.name, s.data, alg.label ?? EMPTY, data));
  };
  ALGORITHMS['AES-KW'].wrap = (wrap, alg, s, data, op) => native('OperationError', op, () => ops.aesKw(wrap, s.data, data));

  // Runs `body` and turns what it throws into a rejection, as every SubtleCrypto method must.
  const promised = (body) => new Promise((resolve) => resolve(body()));

  function importKey(format, keyData, algorithm, extractable, usages, op) {
    format = String(format);
    if (!['raw', 'spki', 'pkcs8', 'jwk'].includes(format)) throw new TypeError(`${op}: unknown key format '${format}'`);
    const alg = normalize('importKey', algorithm, op);
    if (format !== 'jwk') keyData = bytes(keyData, op);
    const key = ALGORITHMS[alg.name].import(format, keyData, alg, Boolean(extractable), usages, op);
    return requireUsages(key, op);
  }

  function exportKey(format, key, op) {
    format = String(format);
    const s = slot(key);
    if (!s.extractable) throw error('InvalidAccessError', `${op}: the key is not extractable`);
    const algorithm = ALGORITHMS[s.algorithm.name];
    if (!algorithm.export) throw error('NotSupportedError', `${op}: ${s.algorithm.name} keys cannot be exported`);
    return algorithm.export(format, s);
  }

  function crypt(encrypt, algorithm, key, data, op) {
    const alg = normalize(encrypt ? 'encrypt' : 'decrypt', algorithm, op);
    data = bytes(data, op);
    const s = usable(key, alg.name, encrypt ? 'encrypt' : 'decrypt', op);
    return toBuffer(ALGORITHMS[alg.name].crypt(encrypt, alg, s, data, op));
  }

  class SubtleCrypto {
    constructor(key) { if (key !== internals) throw new TypeError('Illegal constructor'); }
    digest(algorithm, data) {
      return promised(() => {
        const { name } = normalize('digest', algorithm);
        return toBuffer(ops.digest(name, bytes(data, 'digest')));
      });
    }
    generateKey(algorithm, extractable, usages) {
      return promised(() => {
        const alg = normalize('generateKey', algorithm);
        const result = ALGORITHMS[alg.name].generate(alg, Boolean(extractable), usages, 'generateKey');
        requireUsages(keys.has(result) ? result : result.privateKey, 'generateKey');
        return result;
      });
    }
    importKey(format, keyData, algorithm, extractable, usages) {
      return promised(() => importKey(format, keyData, algorithm, extractable, usages, 'importKey'));
    }
    exportKey(format, key) {
      return promised(() => exportKey(format, key, 'exportKey'));
    }
    sign(algorithm, key, data) {
      return promised(() => {
        const alg = normalize('sign', algorithm);
        data = bytes(data, 'sign');
        const s = usable(key, alg.name, 'sign', 'sign');
        return toBuffer(ALGORITHMS[alg.name].sign(alg, s, data, 'sign'));
      });
    }
    verify(algorithm, key, signature, data) {
      return promised(() => {
        const alg = normalize('verify', algorithm);
        signature = bytes(signature, 'verify');
        data = bytes(data, 'verify');
        const s = usable(key, alg.name, 'verify', 'verify');
        return ALGORITHMS[alg.name].verify(alg, s, signature, data, 'verify');
      });
    }
    encrypt(algorithm, key, data) { return promised(() => crypt(true, algorithm, key, data, 'encrypt')); }
    decrypt(algorithm, key, data) { return promised(() => crypt(false, algorithm, key, data, 'decrypt')); }
    deriveBits(algorithm, baseKey, length = null) {
      return promised(() => {
        const alg = normalize('deriveBits', algorithm);
        if (length !== null) length = enforceRange(length, 0xffffffff, 'deriveBits: length');
        const s = usable(baseKey, alg.name, 'deriveBits', 'deriveBits');
        return toBuffer(ALGORITHMS[alg.name].deriveBits(alg, s, length, 'deriveBits'));
      });
    }
    deriveKey(algorithm, baseKey, derivedKeyType, extractable, usages) {
      return promised(() => {
        const alg = normalize('deriveBits', algorithm, 'deriveKey');
        const importAlg = normalize('importKey', derivedKeyType, 'deriveKey');
        const lengthAlg = normalize('getKeyLength', derivedKeyType, 'deriveKey');
        const s = usable(baseKey, alg.name, 'deriveKey', 'deriveKey');
        const length = ALGORITHMS[lengthAlg.name].keyLength(lengthAlg, 'deriveKey');
        const secret = ALGORITHMS[alg.name].deriveBits(alg, s, length, 'deriveKey');
        return importKey('raw', secret, importAlg, extractable, usages, 'deriveKey');
      });
    }
    wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      return promised(() => {
        const op = 'wrapKey';
        let alg;
        try {
          alg = normalize('wrapKey', wrapAlgorithm, op);
        } catch (e) {
          if (e?.name !== 'NotSupportedError') throw e;
          alg = normalize('encrypt', wrapAlgorithm, op);
        }
        const s = usable(wrappingKey, alg.name, 'wrapKey', op);
        const exported = exportKey(format, key, op);
        const data = format === 'jwk' ? internals.utf8Encode(JSON.stringify(exported)) : new Uint8Array(exported);
        const wrapped = alg.name === 'AES-KW'
          ? ALGORITHMS[alg.name].wrap(true, alg, s, data, op)
          : ALGORITHMS[alg.name].crypt(true, alg, s, data, op);
        return toBuffer(wrapped);
      });
    }
    unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, usages) {
      return promised(() => {
        const op = 'unwrapKey';
        let alg;
        try {
          alg = normalize('unwrapKey', unwrapAlgorithm, op);
        } catch (e) {
          if (e?.name !== 'NotSupportedError') throw e;
          alg = normalize('decrypt', unwrapAlgorithm, op);
        }
        const importAlg = normalize('importKey', unwrappedKeyAlgorithm, op);
        const data = bytes(wrappedKey, op);
        const s = usable(unwrappingKey, alg.name, 'unwrapKey', op);
        const unwrapped = alg.name === 'AES-KW'
          ? ALGORITHMS[alg.name].wrap(false, alg, s, data, op)
          : ALGORITHMS[alg.name].crypt(false, alg, s, data, op);
        let keyData = unwrapped;
        if (format === 'jwk') {
          try {
            keyData = JSON.parse(internals.utf8Decode(unwrapped));
          } catch {
            throw error('DataError', `${op}: the unwrapped data is not a JWK`);
          }
        }
        return importKey(format, keyData, importAlg, extractable, usages, op);
      });
    }
    // Workers' extension: compares two buffers in time that depends only on their length.
    timingSafeEqual(a, b) {
      const x = internals.toBytes(a, 'timingSafeEqual'), y = internals.toBytes(b, 'timingSafeEqual');
      if (x.byteLength !== y.byteLength) throw new TypeError('timingSafeEqual: the two buffers must have the same length');
      return ops.timingSafeEqual(x, y);
    }
  }
  Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: 'SubtleCrypto' });
  internals.subtle = new SubtleCrypto(internals);
  internals.defineGlobal('SubtleCrypto', SubtleCrypto);
  internals.defineGlobal('CryptoKey', CryptoKey);
})
