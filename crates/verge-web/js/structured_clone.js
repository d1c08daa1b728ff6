// structuredClone (HTML §2.7): the serializable built-ins, cycles and shared references kept,
// functions, symbols and platform objects refused with a DataCloneError.
(function (ops, internals) {
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  function fail(what) {
    throw new DOMException(`${what} could not be cloned.`, 'DataCloneError');
  }
  function clone(value, memory) {
    if (typeof value === 'function') fail(`function ${value.name || '(anonymous)'}`);
    if (typeof value === 'symbol') fail(value.toString());
    if (typeof value !== 'object' || value === null) return value;
    if (memory.has(value)) return memory.get(value);
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    let copy;
    switch (tag) {
      case 'Boolean': case 'Number': case 'String': case 'BigInt':
        copy = Object(value.valueOf()); break;
      case 'Date': copy = new Date(value.getTime()); break;
      case 'RegExp': copy = new RegExp(value.source, value.flags); break;
      case 'ArrayBuffer': copy = value.slice(0); break;
      case 'DataView': {
        const buffer = clone(value.buffer, memory);
        copy = new DataView(buffer, value.byteOffset, value.byteLength);
        break;
      }
      case 'Map':
        copy = new Map();
        memory.set(value, copy);
        for (const [k, v] of value) copy.set(clone(k, memory), clone(v, memory));
        return copy;
      case 'Set':
        copy = new Set();
        memory.set(value, copy);
        for (const v of value) copy.add(clone(v, memory));
        return copy;
      case 'Array':
        copy = new Array(value.length);
        memory.set(value, copy);
        for (const key of Object.keys(value)) copy[key] = clone(value[key], memory);
        return copy;
      case 'Error': {
        const name = Object.hasOwn(ERRORS, value.name) ? value.name : 'Error';
        copy = new ERRORS[name](value.message);
        if (value.stack !== undefined) copy.stack = String(value.stack);
        if ('cause' in value) copy.cause = clone(value.cause, memory);
        break;
      }
      case 'Object':
        if (value instanceof DOMException) { copy = new DOMException(value.message, value.name); break; }
        if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null &&
            !(value.constructor === Object)) {
          // Class instances lose their prototype, as in browsers; platform objects are refused.
          if (isPlatformObject(value)) fail(value.constructor.name);
        }
        copy = {};
        memory.set(value, copy);
        for (const key of Object.keys(value)) copy[key] = clone(value[key], memory);
        return copy;
      default:
        if (ArrayBuffer.isView(value)) {
          const buffer = clone(value.buffer, memory);
          copy = new value.constructor(buffer, value.byteOffset, value.length);
          break;
        }
        fail(tag);
    }
    memory.set(value, copy);
    return copy;
  }
  const platform = ['Request', 'Response', 'Headers', 'URL', 'URLSearchParams', 'AbortSignal', 'AbortController',
    'EventTarget', 'Event', 'TextEncoder', 'TextDecoder', 'WeakMap', 'WeakSet', 'Promise'];
  function isPlatformObject(value) {
    return platform.some((name) => typeof globalThis[name] === 'function' && value instanceof globalThis[name]);
  }
  internals.defineGlobal('structuredClone', function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone': 1 argument required.");
    if (options?.transfer?.length) fail('a transfer list');
    const tag = typeof value === 'object' && value !== null && Object.prototype.toString.call(value).slice(8, -1);
    if (tag === 'WeakMap' || tag === 'WeakSet' || tag === 'Promise' || tag === 'WeakRef') fail(tag);
    return clone(value, new Map());
  });
})
