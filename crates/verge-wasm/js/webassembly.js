// The WebAssembly JavaScript Interface (https://webassembly.github.io/spec/js-api/): the
// `WebAssembly` namespace, its classes and their argument checks. Modules come from the worker's
// deployed files (`internals.wasmModule`); compiling bytes at run time is refused, as on Workers.
// What runs Wasm is wasmtime, behind the `wasm*` ops (src/ops.rs): objects here hold the index of
// their host object.
(function (ops, internals) {
  const CODEGEN_REFUSED = 'WebAssembly.Module(): Wasm code generation disallowed by embedder';

  // Native errors of the namespace (JS API §5.1): subclasses of Error with their own names.
  function errorClass(name) {
    const ErrorClass = class extends Error {
      constructor(message, options) {
        super(message, options);
      }
    };
    Object.defineProperty(ErrorClass, 'name', { value: name });
    Object.defineProperty(ErrorClass.prototype, 'name', { value: name, writable: true, configurable: true });
    return ErrorClass;
  }
  const CompileError = errorClass('CompileError');
  const LinkError = errorClass('LinkError');
  const RuntimeError = errorClass('RuntimeError');
  const errors = { CompileError, LinkError, RuntimeError, RangeError, TypeError };
  internals.wasmError = (kind, message) => new (errors[kind] || RuntimeError)(message);

  // Objects made here, not by a script: the constructors take this first to wrap an index.
  const wrap = Symbol('wrap');

  // [EnforceRange] unsigned long.
  function enforceU32(value, what) {
    const number = Number(value);
    if (!Number.isFinite(number) || number < 0 || number > 0xffffffff) {
      throw new TypeError(`${what} must be an integer between 0 and 2^32-1`);
    }
    return Math.trunc(number);
  }

  function descriptorObject(descriptor, what) {
    if (descriptor === null || (typeof descriptor !== 'object' && typeof descriptor !== 'function')) {
      throw new TypeError(`${what}: the descriptor must be an object`);
    }
    return descriptor;
  }

  // A descriptor's `initial` (or its newer name, `minimum`) and `maximum`.
  function limits(descriptor, what, maxAllowed) {
    const initialValue = descriptor.initial;
    const minimumValue = descriptor.minimum;
    if (initialValue !== undefined && minimumValue !== undefined) {
      throw new TypeError(`${what}: give 'initial' or 'minimum', not both`);
    }
    const given = initialValue !== undefined ? initialValue : minimumValue;
    if (given === undefined) throw new TypeError(`${what}: the descriptor needs 'initial'`);
    const initial = enforceU32(given, `${what}: 'initial'`);
    let maximum;
    if (descriptor.maximum !== undefined) {
      maximum = enforceU32(descriptor.maximum, `${what}: 'maximum'`);
      if (maximum < initial) throw new RangeError(`${what}: 'maximum' is below 'initial'`);
      if (maximum > maxAllowed) throw new RangeError(`${what}: 'maximum' is above ${maxAllowed}`);
    }
    if (initial > maxAllowed) throw new RangeError(`${what}: 'initial' is above ${maxAllowed}`);
    return { initial, maximum };
  }

  const moduleIds = new WeakMap();
  function moduleId(module, what) {
    const id = moduleIds.get(module);
    if (id === undefined) throw new TypeError(`${what}: the argument must be a WebAssembly.Module`);
    return id;
  }

  class Module {
    constructor(bytes, id) {
      if (bytes !== wrap) {
        if (new.target === undefined) throw new TypeError("Constructor WebAssembly.Module requires 'new'");
        throw new CompileError(CODEGEN_REFUSED);
      }
      moduleIds.set(this, id);
    }

    static exports(module) {
      return ops.wasmModuleExports(moduleId(module, 'WebAssembly.Module.exports()'))
        .map(([name, kind]) => ({ name, kind }));
    }

    static imports(module) {
      return ops.wasmModuleImports(moduleId(module, 'WebAssembly.Module.imports()'))
        .map(([module, name, kind]) => ({ module, name, kind }));
    }

    static customSections(module, sectionName) {
      const id = moduleId(module, 'WebAssembly.Module.customSections()');
      if (arguments.length < 2) throw new TypeError('WebAssembly.Module.customSections() needs a section name');
      return ops.wasmCustomSections(id, String(sectionName));
    }
  }
  Object.defineProperty(Module.prototype, Symbol.toStringTag, { value: 'WebAssembly.Module', configurable: true });
  internals.wasmModule = (id) => new Module(wrap, id);

  // One object per host memory, table and global, however it is reached.
  const memories = new Map();
  const tables = new Map();
  const globals = new Map();
  const memoryIds = new WeakMap();
  const sharedMemoryIds = new WeakMap();
  const tableIds = new WeakMap();
  const globalIds = new WeakMap();
  function objectFor(cache, Class, id) {
    let object = cache.get(id);
    if (object === undefined) {
      object = new Class(wrap, id);
      cache.set(id, object);
    }
    return object;
  }
  function idOf(ids, object, what) {
    const id = ids.get(object);
    if (id === undefined) throw new TypeError(`${what} called on an object that is not one`);
    return id;
  }

  // A shared memory (`shared: true`) is a different host object, its buffer a SharedArrayBuffer;
  // no module can import one (src/store.rs says why).
  class Memory {
    constructor(descriptor, id) {
      if (descriptor === wrap) {
        memoryIds.set(this, id);
        return;
      }
      if (new.target === undefined) throw new TypeError("Constructor WebAssembly.Memory requires 'new'");
      descriptorObject(descriptor, 'WebAssembly.Memory()');
      const { initial, maximum } = limits(descriptor, 'WebAssembly.Memory()', 65536);
      if (descriptor.shared) {
        if (maximum === undefined) throw new TypeError("WebAssembly.Memory(): a shared memory needs 'maximum'");
        sharedMemoryIds.set(this, ops.wasmSharedMemoryNew(initial, maximum));
        return;
      }
      const memoryId = ops.wasmMemoryNew(initial, maximum);
      memoryIds.set(this, memoryId);
      memories.set(memoryId, this);
    }

    grow(delta) {
      delta = enforceU32(delta, 'WebAssembly.Memory.grow(): delta');
      const shared = sharedMemoryIds.get(this);
      if (shared !== undefined) return ops.wasmSharedMemoryGrow(shared, delta);
      return ops.wasmMemoryGrow(idOf(memoryIds, this, 'WebAssembly.Memory.prototype.grow'), delta);
    }

    get buffer() {
      const shared = sharedMemoryIds.get(this);
      if (shared !== undefined) return ops.wasmSharedMemoryBuffer(shared);
      return ops.wasmMemoryBuffer(idOf(memoryIds, this, 'WebAssembly.Memory.prototype.buffer'));
    }
  }
  Object.defineProperty(Memory.prototype, Symbol.toStringTag, { value: 'WebAssembly.Memory', configurable: true });

  const ELEMENTS = ['anyfunc', 'funcref', 'externref'];

  class Table {
    constructor(descriptor, value, id) {
      if (descriptor === wrap) {
        tableIds.set(this, value);
        return;
      }
      if (new.target === undefined) throw new TypeError("Constructor WebAssembly.Table requires 'new'");
      descriptorObject(descriptor, 'WebAssembly.Table()');
      const element = String(descriptor.element);
      if (!ELEMENTS.includes(element)) {
        throw new TypeError("WebAssembly.Table(): 'element' must be 'anyfunc' or 'externref'");
      }
      const { initial, maximum } = limits(descriptor, 'WebAssembly.Table()', 10000000);
      const init = arguments.length < 2 ? (element === 'externref' ? undefined : null) : value;
      const tableId = ops.wasmTableNew(element, initial, maximum, init);
      tableIds.set(this, tableId);
      tables.set(tableId, this);
    }

    get length() {
      return ops.wasmTableLength(idOf(tableIds, this, 'WebAssembly.Table.prototype.length'));
    }

    get(index) {
      const id = idOf(tableIds, this, 'WebAssembly.Table.prototype.get');
      return ops.wasmTableGet(id, enforceU32(index, 'WebAssembly.Table.get(): index'));
    }

    set(index, value) {
      const id = idOf(tableIds, this, 'WebAssembly.Table.prototype.set');
      index = enforceU32(index, 'WebAssembly.Table.set(): index');
      ops.wasmTableSet(id, index, arguments.length < 2 ? defaultElement(id) : value);
    }

    grow(delta, value) {
      const id = idOf(tableIds, this, 'WebAssembly.Table.prototype.grow');
      delta = enforceU32(delta, 'WebAssembly.Table.grow(): delta');
      return ops.wasmTableGrow(id, delta, arguments.length < 2 ? defaultElement(id) : value);
    }
  }
  Object.defineProperty(Table.prototype, Symbol.toStringTag, { value: 'WebAssembly.Table', configurable: true });

  // DefaultValue of a table's element type: `undefined` for externref, `null` for funcref.
  function defaultElement(id) {
    return ops.wasmTableElement(id) === 'externref' ? undefined : null;
  }

  const VALUE_TYPES = ['i32', 'i64', 'f32', 'f64', 'externref', 'anyfunc', 'funcref'];
  const DEFAULTS = { i32: 0, i64: 0n, f32: 0, f64: 0, externref: undefined, anyfunc: null, funcref: null };

  class Global {
    constructor(descriptor, value, id) {
      if (descriptor === wrap) {
        globalIds.set(this, value);
        return;
      }
      if (new.target === undefined) throw new TypeError("Constructor WebAssembly.Global requires 'new'");
      descriptorObject(descriptor, 'WebAssembly.Global()');
      const mutable = Boolean(descriptor.mutable);
      const type = String(descriptor.value);
      if (!VALUE_TYPES.includes(type)) {
        throw new TypeError(`WebAssembly.Global(): '${type}' is not a value type JavaScript can hold`);
      }
      const given = arguments.length < 2 || value === undefined ? DEFAULTS[type] : value;
      const globalId = ops.wasmGlobalNew(type, mutable, given);
      globalIds.set(this, globalId);
      globals.set(globalId, this);
    }

    get value() {
      return ops.wasmGlobalGet(idOf(globalIds, this, 'WebAssembly.Global.prototype.value'));
    }

    set value(value) {
      const id = idOf(globalIds, this, 'WebAssembly.Global.prototype.value');
      if (!ops.wasmGlobalType(id)[1]) throw new TypeError("WebAssembly.Global: can't set the value of an immutable global");
      ops.wasmGlobalSet(id, value);
    }

    valueOf() {
      return ops.wasmGlobalGet(idOf(globalIds, this, 'WebAssembly.Global.prototype.valueOf'));
    }
  }
  Object.defineProperty(Global.prototype, Symbol.toStringTag, { value: 'WebAssembly.Global', configurable: true });

  // Read the imports (JS API §3.1 "read the imports"): each import's value from the import
  // object, checked against its kind.
  function readImports(module, importObject) {
    const imports = Module.imports(module);
    if (imports.length > 0 && importObject === undefined) {
      throw new TypeError('WebAssembly.Instance(): the module has imports, but no import object was given');
    }
    if (importObject !== undefined && (importObject === null || typeof importObject !== 'object')) {
      throw new TypeError('WebAssembly.Instance(): the import object must be an object');
    }
    return imports.map(({ module: moduleName, name, kind }) => {
      const namespace = importObject[moduleName];
      if (namespace === null || (typeof namespace !== 'object' && typeof namespace !== 'function')) {
        throw new TypeError(`WebAssembly.Instance(): import module '${moduleName}' must be an object`);
      }
      const value = namespace[name];
      const where = `WebAssembly.Instance(): import ${moduleName}.${name}`;
      switch (kind) {
        case 'function':
          if (typeof value !== 'function') throw new LinkError(`${where} must be a function`);
          return ['function', value];
        case 'global':
          if (globalIds.has(value)) return ['global', globalIds.get(value)];
          if (typeof value === 'number' || typeof value === 'bigint') return ['value', value];
          throw new LinkError(`${where} must be a number, a BigInt or a WebAssembly.Global`);
        case 'memory':
          if (sharedMemoryIds.has(value)) return ['sharedMemory', sharedMemoryIds.get(value)];
          if (!memoryIds.has(value)) throw new LinkError(`${where} must be a WebAssembly.Memory`);
          return ['memory', memoryIds.get(value)];
        case 'table':
          if (!tableIds.has(value)) throw new LinkError(`${where} must be a WebAssembly.Table`);
          return ['table', tableIds.get(value)];
        default:
          throw new LinkError(`${where} is a ${kind}, which Verge does not support`);
      }
    });
  }

  function instantiate(module, importObject) {
    const id = moduleId(module, 'WebAssembly.Instance()');
    const exported = ops.wasmInstantiate(id, readImports(module, importObject));
    const exports = Object.create(null);
    for (const [name, kind, value] of exported) {
      switch (kind) {
        case 'function': exports[name] = value; break;
        case 'memory': exports[name] = objectFor(memories, Memory, value); break;
        case 'table': exports[name] = objectFor(tables, Table, value); break;
        case 'global': exports[name] = objectFor(globals, Global, value); break;
      }
    }
    return Object.freeze(exports);
  }

  const instanceExports = new WeakMap();
  class Instance {
    constructor(module, importObject) {
      if (new.target === undefined) throw new TypeError("Constructor WebAssembly.Instance requires 'new'");
      instanceExports.set(this, instantiate(module, importObject));
    }

    get exports() {
      const exports = instanceExports.get(this);
      if (exports === undefined) throw new TypeError('WebAssembly.Instance.prototype.exports called on an object that is not one');
      return exports;
    }
  }
  Object.defineProperty(Instance.prototype, Symbol.toStringTag, { value: 'WebAssembly.Instance', configurable: true });

  // The bytes a BufferSource views, as a Uint8Array.
  function bufferSource(bytes, what) {
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    throw new TypeError(`${what}: the argument must be an ArrayBuffer or a view of one`);
  }

  const refused = () => Promise.reject(new CompileError(CODEGEN_REFUSED));

  const WebAssembly = {
    Module,
    Instance,
    Memory,
    Table,
    Global,
    CompileError,
    LinkError,
    RuntimeError,
    validate(bytes) {
      return ops.wasmValidate(bufferSource(bytes, 'WebAssembly.validate()'));
    },
    compile: refused,
    compileStreaming: refused,
    // instantiate(module, imports) resolves to an Instance; instantiate(bytes, imports) would
    // compile, which is refused.
    instantiate(source, importObject) {
      if (!moduleIds.has(source)) return refused();
      return new Promise((resolve) => resolve(new Instance(source, importObject)));
    },
    instantiateStreaming: refused,
  };
  for (const name of Object.keys(WebAssembly)) {
    Object.defineProperty(WebAssembly, name, { enumerable: false });
  }
  Object.defineProperty(WebAssembly, Symbol.toStringTag, { value: 'WebAssembly', configurable: true });
  internals.defineGlobal('WebAssembly', WebAssembly);
})
