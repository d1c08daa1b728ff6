// How the other files reach the global scope: `defineGlobal`, and the lazy globals of the APIs
// that most requests never touch. A lazy API's names (globals, and the internals it provides)
// are not there at first: a fallback prototype (`ops.fallbackPrototype`, see verge-js's
// fallback.rs) between `globalThis` (and `internals`) and its prototype answers for them, and
// the first read of one loads its file (`ops.loadApi`, see src/lib.rs), whose `defineGlobal`
// calls put the real values in place. A new isolate so skips the files it may never need, most
// of the cost of a cold start; and the names live once per process, in Rust (`ops.lazyApi`),
// not in every isolate. An engine with no fallback prototype (JavaScriptCore's global object
// has an immutable prototype) gives `ops.lazyNames` instead, and each lazy name is an accessor
// pair of the global (or internals) object until its file loads. What differs there: deleting
// a lazy name before its file loads removes it for good, and a lazy name read while its own
// file loads (or one the file did not define) throws rather than reading undefined.
(function (ops, internals) {
  // Indices of the lazy APIs loaded.
  const loaded = new Set();
  // The getters of the lazy names that are own accessors (see `ops.lazyNames`).
  const lazyGetters = new WeakSet();
  const isLazy = (target, name) => lazyGetters.has(Object.getOwnPropertyDescriptor(target, name)?.get);
  // The value each name was given by `defineGlobal`: what internal type checks compare with,
  // whatever a script later does to the global.
  const defined = new Map();
  let loading = 0;

  internals.defineGlobal = (name, value) => {
    defined.set(name, value);
    // A script that assigned a lazy global before its file loaded keeps its own value.
    if (loading && Object.hasOwn(globalThis, name) && !isLazy(globalThis, name)) return;
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  };

  // The internal `name` if its file has loaded, without loading it: for a check that cannot
  // matter before then (no native body stream exists before native_body.js loads).
  internals.ifLoaded = (name) => (Object.hasOwn(internals, name) && !isLazy(internals, name) ? internals[name] : undefined);

  // `value instanceof` the class `defineGlobal` gave `name`; false before its file is loaded,
  // when no instance can exist yet, without loading it.
  internals.isA = (value, name) => {
    const type = defined.get(name);
    return type !== undefined && value instanceof type;
  };

  // Loads lazy API `index` (see `APIS` in src/lib.rs) unless it is loaded.
  function load(index) {
    if (loaded.has(index)) return;
    loaded.add(index);
    let init;
    try {
      init = ops.loadApi(index, ops);
    } catch (error) {
      // Refused before the file ran (an engine that cannot load it): the next use asks again.
      loaded.delete(index);
      throw error;
    }
    loading++;
    try {
      init(ops, internals);
    } finally {
      loading--;
    }
  }

  for (const [target, global] of [[globalThis, true], [internals, false]]) {
    // What a lookup that finds no own property of `target` meets next: a lazy name whose file
    // is not loaded (`ops.lazyApi` knows which file defines it) loads it on first read; one
    // assigned before that becomes the script's own.
    // The accessors of `name`, which lazy API `index` defines.
    const accessors = (name, index) => ({
      get() {
        load(index);
        if (!Object.hasOwn(target, name) || isLazy(target, name)) throw new TypeError(`${name} is unavailable: its file did not define it.`);
        return target[name];
      },
      set(value) {
        Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: false });
      },
    });
    const answer = (name, describe) => {
      if (typeof name !== 'string') return false;
      const index = ops.lazyApi(global, name);
      if (index === undefined || loaded.has(index)) return false;
      return !describe || accessors(name, index);
    };
    if (ops.lazyNames === undefined) {
      Object.setPrototypeOf(target, ops.fallbackPrototype(Object.getPrototypeOf(target), answer));
      continue;
    }
    for (const [name, index] of ops.lazyNames(global)) {
      const { get, set } = accessors(name, index);
      lazyGetters.add(get);
      Object.defineProperty(target, name, { get, set, configurable: true, enumerable: false });
    }
  }
  // The indices of the lazy APIs loaded so far.
  internals.loadedApis = () => [...loaded];
})
