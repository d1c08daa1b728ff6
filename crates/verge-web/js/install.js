// How the other files reach the global scope: `defineGlobal`, and the lazy globals of the APIs
// that most requests never touch. A lazy API's globals (and the internals it provides) start as
// accessors; the first use of any of them loads its file (`ops.loadApi`, see src/lib.rs), whose
// `defineGlobal` calls put the real values in their place. A new isolate so skips the files it
// may never need: most of the cost of a cold start.
(function (ops, internals) {
  const LAZY = Symbol('lazy');
  const loaded = new Set();
  // The value each name was given by `defineGlobal`: what internal type checks compare with,
  // whatever a script later does to the global.
  const defined = new Map();
  let loading = 0;

  internals.defineGlobal = (name, value) => {
    // A script that assigned a lazy global before its file loaded keeps its own value.
    const current = Object.getOwnPropertyDescriptor(globalThis, name);
    defined.set(name, value);
    if (loading && current !== undefined && !current.get?.[LAZY]) return;
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  };

  // `value instanceof` the class `defineGlobal` gave `name`; false before its file is loaded,
  // when no instance can exist yet, without loading it.
  internals.isA = (value, name) => {
    const type = defined.get(name);
    return type !== undefined && value instanceof type;
  };

  function load(index, file) {
    if (loaded.has(file)) return;
    loaded.add(file);
    loading++;
    try {
      ops.loadApi(index, ops)(ops, internals);
    } finally {
      loading--;
    }
  }

  function lazyProperty(target, name, index, file, enumerable) {
    const get = function () {
      load(index, file);
      const now = Object.getOwnPropertyDescriptor(target, name);
      if (now?.get === get) throw new TypeError(`${name} is unavailable: ${file} did not define it.`);
      return target[name];
    };
    get[LAZY] = true;
    Object.defineProperty(target, name, {
      get,
      set(value) { Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable }); },
      configurable: true,
      enumerable,
    });
  }

  internals.defineLazy = (index, file, globals, internalNames) => {
    for (const name of globals) lazyProperty(globalThis, name, index, file, false);
    for (const name of internalNames) lazyProperty(internals, name, index, file, true);
  };
  internals.loadedApis = () => [...loaded];
})
