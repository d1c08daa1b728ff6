// How the other files reach the global scope: `defineGlobal`, and the lazy globals of the APIs
// that most requests never touch. A lazy API's names (globals, and the internals it provides)
// are not there at first: a fallback prototype (`ops.fallbackPrototype`, see verge-js's
// fallback.rs) between `globalThis` (and `internals`) and its prototype answers for them, and
// the first read of one loads its file (`ops.loadApi`, see src/lib.rs), whose `defineGlobal`
// calls put the real values in place. A new isolate so skips the files it may never need, most
// of the cost of a cold start; and one object per isolate holds the names, not an accessor pair
// per name.
(function (ops, internals) {
  const loaded = new Set();
  // The value each name was given by `defineGlobal`: what internal type checks compare with,
  // whatever a script later does to the global.
  const defined = new Map();
  let loading = 0;

  internals.defineGlobal = (name, value) => {
    defined.set(name, value);
    // A script that assigned a lazy global before its file loaded keeps its own value.
    if (loading && Object.hasOwn(globalThis, name)) return;
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  };

  // `value instanceof` the class `defineGlobal` gave `name`; false before its file is loaded,
  // when no instance can exist yet, without loading it.
  internals.isA = (value, name) => {
    const type = defined.get(name);
    return type !== undefined && value instanceof type;
  };

  // For `globalThis` and `internals`: each lazy name not yet loaded, to the file defining it.
  const pending = new Map([[globalThis, new Map()], [internals, new Map()]]);

  function load(index, file) {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const names of pending.values()) {
      for (const [name, lazy] of names) if (lazy.file === file) names.delete(name);
    }
    loading++;
    try {
      ops.loadApi(index, ops)(ops, internals);
    } finally {
      loading--;
    }
  }

  for (const [target, names] of pending) {
    // What a lookup that finds no own property of `target` meets next: a lazy name there loads
    // its file on first read; one assigned before that becomes the script's own.
    const answer = (name, describe) => {
      const lazy = names.get(name);
      if (lazy === undefined) return false;
      return !describe || {
        get() {
          load(lazy.index, lazy.file);
          if (!Object.hasOwn(target, name)) {
            throw new TypeError(`${name} is unavailable: ${lazy.file} did not define it.`);
          }
          return target[name];
        },
        set(value) {
          Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: false });
        },
      };
    };
    Object.setPrototypeOf(target, ops.fallbackPrototype(Object.getPrototypeOf(target), answer));
  }

  internals.defineLazy = (index, file, globals, internalNames) => {
    const lazy = { index, file };
    for (const name of globals) {
      // The engine's own version of a name (QuickJS has a `performance`) gives way to ours.
      delete globalThis[name];
      pending.get(globalThis).set(name, lazy);
    }
    for (const name of internalNames) pending.get(internals).set(name, lazy);
  };
  internals.loadedApis = () => [...loaded];
})
