// node:util — format, inspect, promisify and friends, types, and the deep equality that
// node:assert shares.
(function (ops, internals) {
  const inspect = (value, options) => internals.inspect(value, options);
  inspect.custom = Symbol.for('nodejs.util.inspect.custom');

  function format(first, ...args) {
    if (typeof first !== 'string') return [first, ...args].map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
    let index = 0;
    let out = first.replace(/%([sdifjoOc%])/g, (match, kind) => {
      if (kind === '%') return '%';
      if (index >= args.length) return match;
      const arg = args[index++];
      switch (kind) {
        case 's': return typeof arg === 'string' ? arg : typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'object' && arg !== null ? inspect(arg) : String(arg);
        case 'd': return typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'symbol' ? 'NaN' : String(Number(arg));
        case 'i': return typeof arg === 'bigint' ? `${arg}n` : String(parseInt(arg, 10));
        case 'f': return typeof arg === 'symbol' ? 'NaN' : String(parseFloat(arg));
        case 'j': try { return JSON.stringify(arg); } catch { return '[Circular]'; }
        case 'c': return '';
        default: return inspect(arg);
      }
    });
    for (; index < args.length; index++) out += ' ' + (typeof args[index] === 'string' ? args[index] : inspect(args[index]));
    return out;
  }

  const customPromisify = Symbol.for('nodejs.util.promisify.custom');
  function promisify(original) {
    if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function');
    if (original[customPromisify]) return original[customPromisify];
    function promisified(...args) {
      return new Promise((resolve, reject) => {
        original.call(this, ...args, (error, ...values) => (error ? reject(error) : resolve(values.length > 1 ? values : values[0])));
      });
    }
    Object.setPrototypeOf(promisified, Object.getPrototypeOf(original));
    return Object.defineProperties(promisified, Object.getOwnPropertyDescriptors(original));
  }
  promisify.custom = customPromisify;

  function callbackify(original) {
    if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function');
    return function (...args) {
      const callback = args.pop();
      if (typeof callback !== 'function') throw new TypeError('The last argument must be of type function');
      original.apply(this, args).then((value) => queueMicrotask(() => callback(null, value)), (error) => {
        const reason = error || Object.assign(new Error('Promise was rejected with a falsy value'), { reason: error });
        queueMicrotask(() => callback(reason));
      });
    };
  }

  function inherits(constructor, superConstructor) {
    if (typeof constructor !== 'function' || typeof superConstructor !== 'function') throw new TypeError('The "ctor" and "superCtor" arguments must be functions');
    Object.defineProperty(constructor, 'super_', { value: superConstructor, writable: true, configurable: true });
    Object.setPrototypeOf(constructor.prototype, superConstructor.prototype);
  }

  function deprecate(fn, message, code) {
    let warned = false;
    return function (...args) {
      if (!warned) {
        warned = true;
        console.warn(`DeprecationWarning${code ? ` [${code}]` : ''}: ${message}`);
      }
      return new.target ? Reflect.construct(fn, args, new.target) : fn.apply(this, args);
    };
  }

  const tag = (value) => Object.prototype.toString.call(value).slice(8, -1);
  const TypedArray = Object.getPrototypeOf(Uint8Array);
  const types = {
    isPromise: (v) => v instanceof Promise,
    isDate: (v) => v instanceof Date,
    isRegExp: (v) => v instanceof RegExp,
    isMap: (v) => v instanceof Map,
    isSet: (v) => v instanceof Set,
    isWeakMap: (v) => v instanceof WeakMap,
    isWeakSet: (v) => v instanceof WeakSet,
    isNativeError: (v) => v instanceof Error,
    isArrayBuffer: (v) => v instanceof ArrayBuffer,
    isSharedArrayBuffer: (v) => typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer,
    isAnyArrayBuffer: (v) => v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer),
    isArrayBufferView: (v) => ArrayBuffer.isView(v),
    isDataView: (v) => v instanceof DataView,
    isTypedArray: (v) => v instanceof TypedArray,
    isUint8Array: (v) => v instanceof Uint8Array,
    isAsyncFunction: (v) => typeof v === 'function' && tag(v) === 'AsyncFunction',
    isGeneratorFunction: (v) => typeof v === 'function' && /GeneratorFunction$/.test(tag(v)),
    isGeneratorObject: (v) => tag(v) === 'Generator',
    isBoxedPrimitive: (v) => v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt || v instanceof Symbol,
    isSymbolObject: (v) => v instanceof Symbol,
    isKeyObject: () => false,
    isCryptoKey: (v) => internals.isA(v, 'CryptoKey'),
  };

  // Deep equality as node:assert defines it: strict compares primitives with Object.is and
  // requires equal prototypes; loose compares primitives with ==.
  function isDeepEqual(a, b, strict, seen = new Map()) {
    if (strict ? Object.is(a, b) : a == b || (a !== a && b !== b)) return true; // eslint-disable-line eqeqeq
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (tag(a) !== tag(b)) return false;
    const pair = seen.get(a);
    if (pair === b) return true;
    seen.set(a, b);
    if (a instanceof Date) { if (a.getTime() !== b.getTime()) return false; }
    else if (a instanceof RegExp) { if (String(a) !== String(b) || a.lastIndex !== b.lastIndex) return false; }
    else if (a instanceof Error) { if (a.message !== b.message || a.name !== b.name) return false; }
    else if (ArrayBuffer.isView(a)) {
      if (a.byteLength !== b.byteLength) return false;
      const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    } else if (a instanceof ArrayBuffer) {
      if (!isDeepEqual(new Uint8Array(a), new Uint8Array(b), strict, seen)) return false;
    } else if (types.isBoxedPrimitive(a)) {
      if (!Object.is(a.valueOf(), b.valueOf())) return false;
    } else if (a instanceof Map) {
      if (a.size !== b.size) return false;
      outer: for (const [key, value] of a) {
        if (b.has(key)) { if (!isDeepEqual(value, b.get(key), strict, seen)) return false; continue; }
        for (const [otherKey, otherValue] of b) {
          if (isDeepEqual(key, otherKey, strict, seen) && isDeepEqual(value, otherValue, strict, seen)) continue outer;
        }
        return false;
      }
    } else if (a instanceof Set) {
      if (a.size !== b.size) return false;
      outer: for (const value of a) {
        if (b.has(value)) continue;
        if (typeof value === 'object' && value !== null) {
          for (const other of b) if (isDeepEqual(value, other, strict, seen)) continue outer;
        }
        return false;
      }
    }
    if (Array.isArray(a) && a.length !== b.length) return false;
    const keysA = Object.keys(a), keysB = Object.keys(b);
    if (keysA.length !== keysB.length) return false;
    for (const key of keysA) {
      if (!Object.prototype.hasOwnProperty.call(b, key) || !isDeepEqual(a[key], b[key], strict, seen)) return false;
    }
    if (strict) {
      const symbolsA = Object.getOwnPropertySymbols(a).filter((s) => Object.prototype.propertyIsEnumerable.call(a, s));
      const symbolsB = Object.getOwnPropertySymbols(b).filter((s) => Object.prototype.propertyIsEnumerable.call(b, s));
      if (symbolsA.length !== symbolsB.length) return false;
      for (const symbol of symbolsA) if (!isDeepEqual(a[symbol], b[symbol], strict, seen)) return false;
    }
    return true;
  }
  internals.isDeepEqual = isDeepEqual;

  internals['node:util'] = {
    format,
    formatWithOptions: (options, ...args) => format(...args),
    inspect,
    promisify,
    callbackify,
    inherits,
    deprecate,
    types,
    isDeepStrictEqual: (a, b) => isDeepEqual(a, b, true),
    isArray: Array.isArray,
    debuglog: () => Object.assign(() => {}, { enabled: false }),
    stripVTControlCharacters: (s) => String(s).replace(/\u001b\[[0-9;]*[A-Za-z]/g, ''),
    toUSVString: (s) => String(s).toWellFormed(),
    TextEncoder: globalThis.TextEncoder,
    TextDecoder: globalThis.TextDecoder,
  };
  internals['node:util/types'] = types;
})
