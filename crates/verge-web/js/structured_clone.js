// structuredClone (HTML §2.7), and the structured serialization that carries values out of an
// isolate (Durable Object storage, RPC between workers): the serializable built-ins, cycles and
// shared references kept; functions, symbols and platform objects refused with a
// DataCloneError. One walk, `serialize`, makes a tree of JSON values that `revive` turns back
// into a value; structuredClone is the two in a row, and `structuredSerialize` is the tree as
// JSON text.
//
// The tree: a string, boolean, null or finite number (not -0) stands for itself; anything else
// is an array whose first element says what it is — ['u'] undefined, ['n', text] a number JSON
// cannot hold, ['b', digits] a BigInt, ['r', index] the index-th object met before (cycles and
// shared references), and for objects ['o', k, v, …], ['a', length, k, v, …], ['d', time],
// ['x', source, flags], ['B', bytes as Latin-1], ['V', type, buffer, offset, length],
// ['m', k, v, …], ['s', v, …], ['e', name, message, stack, cause?], ['P', type, value],
// ['D', message, name]. In RPC's serialization (`rpc`), a function, an RpcTarget or a stub is
// not copied but exported by the isolate that has it: ['S', endpoint, export, kind] (see
// verge-runtime's rpc.js).
(function (ops, internals) {
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const VIEWS = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
  };
  function fail(what) {
    throw new DOMException(`${what} could not be cloned.`, 'DataCloneError');
  }
  const platform = ['Request', 'Response', 'Headers', 'URL', 'URLSearchParams', 'AbortSignal', 'AbortController',
    'EventTarget', 'Event', 'TextEncoder', 'TextDecoder', 'WeakMap', 'WeakSet', 'Promise'];
  function isPlatformObject(value) {
    return platform.some((name) => typeof globalThis[name] === 'function' && value instanceof globalThis[name]);
  }
  const latin1 = (bytes) => {
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return text;
  };

  function serialize(value, memory, rpc) {
    if (rpc && (typeof value === 'function' || (typeof value === 'object' && value !== null &&
        (internals.isRpcTarget(value) || internals.isRpcStub(value))))) {
      return internals.exportForRpc(value);
    }
    switch (typeof value) {
      case 'string': case 'boolean': return value;
      case 'number': return Number.isFinite(value) && !Object.is(value, -0) ? value : ['n', Object.is(value, -0) ? '-0' : String(value)];
      case 'undefined': return ['u'];
      case 'bigint': return ['b', value.toString()];
      case 'function': return fail(`function ${value.name || '(anonymous)'}`);
      case 'symbol': return fail(value.toString());
    }
    if (value === null) return null;
    if (memory.has(value)) return ['r', memory.get(value)];
    memory.set(value, memory.size);
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    const entries = (out, pairs) => {
      for (const [k, v] of pairs) out.push(serialize(k, memory, rpc), serialize(v, memory, rpc));
      return out;
    };
    switch (tag) {
      case 'Boolean': case 'Number': case 'String': case 'BigInt':
        return ['P', tag, serialize(value.valueOf(), memory, rpc)];
      case 'Date': return ['d', serialize(value.getTime(), memory, rpc)];
      case 'RegExp': return ['x', value.source, value.flags];
      case 'ArrayBuffer': return ['B', latin1(new Uint8Array(value))];
      case 'Map': return entries(['m'], value);
      case 'Set': return [...value].reduce((out, v) => (out.push(serialize(v, memory, rpc)), out), ['s']);
      case 'Array': {
        const out = ['a', value.length];
        for (const key of Object.keys(value)) out.push(key, serialize(value[key], memory, rpc));
        return out;
      }
      case 'Error': {
        const name = Object.hasOwn(ERRORS, value.name) ? value.name : 'Error';
        const out = ['e', name, String(value.message), value.stack === undefined ? null : String(value.stack)];
        if ('cause' in value) out.push(serialize(value.cause, memory, rpc));
        return out;
      }
      case 'WeakMap': case 'WeakSet': case 'Promise': case 'WeakRef': return fail(tag);
    }
    if (ArrayBuffer.isView(value)) {
      const type = tag === 'DataView' ? 'DataView' : value.constructor.name;
      if (!Object.hasOwn(VIEWS, type)) fail(tag);
      const length = type === 'DataView' ? value.byteLength : value.length;
      return ['V', type, serialize(value.buffer, memory, rpc), value.byteOffset, length];
    }
    if (tag !== 'Object') fail(tag);
    if (value instanceof DOMException) return ['D', value.message, value.name];
    // Class instances lose their prototype, as in browsers; platform objects are refused, and
    // so are RpcTargets and stubs outside RPC.
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      if (isPlatformObject(value)) fail(value.constructor.name);
      if (internals.isRpcTarget(value) || internals.isRpcStub(value)) fail('an RpcTarget or RPC stub');
    }
    return entries(['o'], Object.keys(value).map((key) => [key, value[key]]));
  }

  function revive(tree, memory, rpc) {
    if (!Array.isArray(tree)) return tree;
    const kind = tree[0];
    const keep = (made) => (memory.push(made), made);
    const fill = (start, set) => {
      for (let i = start; i < tree.length; i += 2) set(revive(tree[i], memory, rpc), revive(tree[i + 1], memory, rpc));
    };
    switch (kind) {
      case 'u': return undefined;
      case 'n': return tree[1] === '-0' ? -0 : Number(tree[1]);
      case 'b': return BigInt(tree[1]);
      case 'r': return memory[tree[1]];
      case 'P': {
        const slot = memory.push(undefined) - 1;
        return (memory[slot] = Object(revive(tree[2], memory, rpc)));
      }
      case 'd': {
        const slot = memory.push(undefined) - 1;
        return (memory[slot] = new Date(revive(tree[1], memory, rpc)));
      }
      case 'x': return keep(new RegExp(tree[1], tree[2]));
      case 'B': {
        const text = tree[1];
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
        return keep(bytes.buffer);
      }
      case 'V': {
        const slot = memory.push(undefined) - 1;
        const buffer = revive(tree[2], memory, rpc);
        return (memory[slot] = new VIEWS[tree[1]](buffer, tree[3], tree[4]));
      }
      case 'm': { const map = keep(new Map()); fill(1, (k, v) => map.set(k, v)); return map; }
      case 's': {
        const set = keep(new Set());
        for (let i = 1; i < tree.length; i++) set.add(revive(tree[i], memory, rpc));
        return set;
      }
      case 'a': { const array = keep(new Array(tree[1])); fill(2, (k, v) => { array[k] = v; }); return array; }
      case 'o': { const object = keep({}); fill(1, (k, v) => { object[k] = v; }); return object; }
      case 'e': {
        const error = keep(new (ERRORS[tree[1]] ?? Error)(tree[2]));
        if (tree[3] !== null) error.stack = tree[3];
        if (tree.length > 4) error.cause = revive(tree[4], memory, rpc);
        return error;
      }
      case 'D': return keep(new DOMException(tree[1], tree[2]));
      case 'S':
        if (!rpc) break;
        return internals.importStub(tree[1], tree[2], tree[3]);
    }
    throw new TypeError(`Cannot deserialize a value tagged ${JSON.stringify(kind)}.`);
  }

  internals.structuredSerialize = (value, rpc = false) => JSON.stringify(serialize(value, new Map(), rpc));
  internals.structuredDeserialize = (text, rpc = false) => revive(JSON.parse(text), [], rpc);

  internals.defineGlobal('structuredClone', function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone': 1 argument required.");
    if (options?.transfer?.length) fail('a transfer list');
    return revive(serialize(value, new Map()), []);
  });
})
