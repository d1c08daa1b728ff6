// node:timers and node:timers/promises — Node's timer functions, whose handles are Timeout
// objects (ref, unref, refresh, and a number when coerced) over the global timers, and
// setImmediate as a zero-delay timer.
(function (ops, internals) {
  const webSetTimeout = globalThis.setTimeout, webSetInterval = globalThis.setInterval;
  const webClear = globalThis.clearTimeout;
  const AbortError = internals.NodeAbortError;

  class Timeout {
    #id; #callback; #delay; #args; #repeat; #ref = true;
    constructor(callback, delay, args, repeat) {
      if (typeof callback !== 'function') throw internals.nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
      this.#callback = callback;
      this.#delay = delay;
      this.#args = args;
      this.#repeat = repeat;
      this.#start();
    }
    #start() {
      const schedule = this.#repeat ? webSetInterval : webSetTimeout;
      this.#id = schedule(this.#callback, this.#delay, ...this.#args);
    }
    ref() { this.#ref = true; return this; }
    unref() { this.#ref = false; return this; }
    hasRef() { return this.#ref; }
    refresh() {
      webClear(this.#id);
      this.#start();
      return this;
    }
    close() {
      webClear(this.#id);
      return this;
    }
    [Symbol.toPrimitive]() { return this.#id; }
    [Symbol.dispose]() { this.close(); }
  }
  class Immediate extends Timeout {}

  const clear = (handle) => {
    if (handle instanceof Timeout) handle.close();
    else if (handle !== undefined && handle !== null) webClear(handle);
  };
  const setTimeout = (callback, delay, ...args) => new Timeout(callback, delay, args, false);
  const setInterval = (callback, delay, ...args) => new Timeout(callback, delay, args, true);
  const setImmediate = (callback, ...args) => new Immediate(callback, 0, args, false);

  // Rejects with Node's AbortError once `signal` aborts; returns what stops listening.
  function abortable(signal, reject, cleanup) {
    if (!signal) return () => {};
    const onabort = () => {
      cleanup();
      reject(new AbortError(undefined, { cause: signal.reason }));
    };
    signal.addEventListener('abort', onabort, { once: true });
    return () => signal.removeEventListener('abort', onabort);
  }
  function delayed(delay, value, options) {
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) return reject(new AbortError(undefined, { cause: signal.reason }));
      let stop = () => {};
      const timer = setTimeout(() => {
        stop();
        resolve(value);
      }, delay);
      stop = abortable(signal, reject, () => timer.close());
    });
  }
  async function* repeating(delay, value, options) {
    const signal = options?.signal;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    let due = 0;
    let wake = null;
    let failure = null;
    const timer = setInterval(() => {
      due++;
      wake?.();
    }, delay);
    const stop = abortable(signal, (error) => {
      failure = error;
      wake?.();
    }, () => timer.close());
    try {
      while (true) {
        if (failure) throw failure;
        if (due === 0) await new Promise((resolve) => { wake = resolve; });
        if (failure) throw failure;
        due--;
        yield value;
      }
    } finally {
      timer.close();
      stop();
    }
  }

  const promises = {
    setTimeout: delayed,
    setImmediate: (value, options) => delayed(0, value, options),
    setInterval: repeating,
    scheduler: {
      wait: (delay, options) => delayed(delay, undefined, options),
      yield: () => delayed(0),
    },
  };
  internals['node:timers'] = {
    setTimeout, setInterval, setImmediate,
    clearTimeout: clear, clearInterval: clear, clearImmediate: clear,
    promises,
    active() {},
    unenroll() {},
  };
  internals['node:timers/promises'] = promises;
})
