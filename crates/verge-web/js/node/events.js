// node:events — EventEmitter, and `once` as a promise.
(function (ops, internals) {
  const kListeners = Symbol('listeners');
  const errorMonitor = Symbol('events.errorMonitor');

  function listenersOf(emitter) {
    if (!Object.prototype.hasOwnProperty.call(emitter, kListeners)) {
      Object.defineProperty(emitter, kListeners, { value: new Map(), configurable: true });
    }
    return emitter[kListeners];
  }
  function checkListener(listener) {
    if (typeof listener !== 'function') throw new TypeError(`The "listener" argument must be of type function. Received ${listener === null ? 'null' : typeof listener}`);
  }

  function EventEmitter(options) {
    if (!(this instanceof EventEmitter)) throw new TypeError("Class constructor EventEmitter cannot be invoked without 'new'");
    listenersOf(this);
    this._maxListeners = undefined;
    void options;
  }
  EventEmitter.prototype._maxListeners = undefined;

  function add(emitter, name, listener, prepend) {
    checkListener(listener);
    const all = listenersOf(emitter);
    if (all.has('newListener')) emitter.emit('newListener', name, listener.listener ?? listener);
    const list = all.get(name) ?? [];
    all.set(name, prepend ? [listener, ...list] : [...list, listener]);
    const max = emitter.getMaxListeners();
    if (max > 0 && all.get(name).length > max && !all.get(name).warned) {
      all.get(name).warned = true;
      console.warn(`MaxListenersExceededWarning: Possible EventEmitter memory leak detected. ${all.get(name).length} ${String(name)} listeners added. Use emitter.setMaxListeners() to increase limit`);
    }
    return emitter;
  }
  function onceWrapper(emitter, name, listener) {
    const wrapped = function (...args) {
      emitter.removeListener(name, wrapped);
      return listener.apply(this, args);
    };
    wrapped.listener = listener;
    return wrapped;
  }

  Object.assign(EventEmitter.prototype, {
    on(name, listener) { return add(this, name, listener, false); },
    addListener(name, listener) { return add(this, name, listener, false); },
    prependListener(name, listener) { return add(this, name, listener, true); },
    // Through on() and prependListener(), so that subclasses that watch listeners being added
    // (a stream's 'data' and 'readable') see these too.
    once(name, listener) { checkListener(listener); return this.on(name, onceWrapper(this, name, listener)); },
    prependOnceListener(name, listener) { checkListener(listener); return this.prependListener(name, onceWrapper(this, name, listener)); },
    off(name, listener) { return this.removeListener(name, listener); },
    removeListener(name, listener) {
      checkListener(listener);
      const all = listenersOf(this);
      const list = all.get(name);
      if (!list) return this;
      const index = list.findLastIndex((l) => l === listener || l.listener === listener);
      if (index < 0) return this;
      const rest = list.filter((_, i) => i !== index);
      if (rest.length) all.set(name, rest); else all.delete(name);
      if (all.has('removeListener')) this.emit('removeListener', name, listener);
      return this;
    },
    removeAllListeners(name) {
      const all = listenersOf(this);
      if (name === undefined) all.clear(); else all.delete(name);
      return this;
    },
    emit(name, ...args) {
      const all = listenersOf(this);
      if (name === 'error' && all.has(errorMonitor)) for (const l of all.get(errorMonitor)) l.apply(this, args);
      const list = all.get(name);
      if (!list) {
        if (name === 'error') {
          const error = args[0];
          if (error instanceof Error) throw error;
          const wrapped = new Error(`Unhandled error. (${String(error)})`);
          wrapped.context = error;
          throw wrapped;
        }
        return false;
      }
      for (const listener of list) listener.apply(this, args);
      return true;
    },
    listeners(name) { return (listenersOf(this).get(name) ?? []).map((l) => l.listener ?? l); },
    rawListeners(name) { return [...(listenersOf(this).get(name) ?? [])]; },
    listenerCount(name) { return listenersOf(this).get(name)?.length ?? 0; },
    eventNames() { return [...listenersOf(this).keys()]; },
    setMaxListeners(n) {
      if (typeof n !== 'number' || n < 0 || Number.isNaN(n)) throw new RangeError(`The value of "n" is out of range. It must be a non-negative number. Received ${n}`);
      this._maxListeners = n;
      return this;
    },
    getMaxListeners() { return this._maxListeners ?? EventEmitter.defaultMaxListeners; },
  });

  function once(emitter, name, options = {}) {
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) return reject(signal.reason);
      const onEvent = (...args) => { cleanup(); resolve(args); };
      const onError = (error) => { cleanup(); reject(error); };
      const onAbort = () => { cleanup(); reject(signal.reason); };
      function cleanup() {
        if (typeof emitter.removeListener === 'function') {
          emitter.removeListener(name, onEvent);
          if (name !== 'error') emitter.removeListener('error', onError);
        } else {
          emitter.removeEventListener(name, onEvent);
        }
        signal?.removeEventListener('abort', onAbort);
      }
      if (typeof emitter.once === 'function') {
        emitter.once(name, onEvent);
        if (name !== 'error') emitter.once('error', onError);
      } else {
        emitter.addEventListener(name, onEvent, { once: true });
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  Object.assign(EventEmitter, {
    EventEmitter,
    once,
    errorMonitor,
    captureRejectionSymbol: Symbol.for('nodejs.rejection'),
    init() { listenersOf(this); },
    defaultMaxListeners: 10,
    captureRejections: false,
    listenerCount: (emitter, name) => emitter.listenerCount(name),
    getEventListeners: (emitter, name) => emitter.listeners(name),
    setMaxListeners(n = 10, ...targets) {
      if (targets.length === 0) EventEmitter.defaultMaxListeners = n;
      for (const target of targets) target.setMaxListeners?.(n);
    },
  });
  internals['node:events'] = EventEmitter;
})
