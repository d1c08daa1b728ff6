// The worker's entry points: ES-module `export default { fetch }` and service-worker
// `addEventListener('fetch', …)`, the ExecutionContext (`ctx.waitUntil`,
// `ctx.passThroughOnException`) and the hand-off of a finished Response to the host.
(function (ops, internals) {
  class ExecutionContext {
    #state;
    constructor(state) { this.#state = state; }
    waitUntil(promise) {
      this.#state.waitUntil.push(Promise.resolve(promise));
    }
    passThroughOnException() { this.#state.passThrough = true; }
    get props() { return {}; }
  }

  class FetchEvent extends Event {
    #request; #state; #ctx;
    constructor(type, init) {
      super(type);
      this.#request = init.request;
      this.#state = init.state;
      this.#ctx = new ExecutionContext(init.state);
    }
    get request() { return this.#request; }
    respondWith(response) {
      if (this.#state.responded) throw new DOMException('respondWith() was already called.', 'InvalidStateError');
      this.#state.responded = true;
      this.#state.response = response;
    }
    waitUntil(promise) { this.#ctx.waitUntil(promise); }
    passThroughOnException() { this.#ctx.passThroughOnException(); }
  }
  internals.defineGlobal('FetchEvent', FetchEvent);
  internals.defineGlobal('ExecutionContext', ExecutionContext);

  // Service-worker syntax: the global scope is the event target. Exceptions thrown by a fetch
  // listener must fail the request, so those listeners are called directly, not through
  // EventTarget's error reporting.
  const listeners = { fetch: [], scheduled: [] };
  const globalTarget = new EventTarget();
  internals.defineGlobal('addEventListener', (type, listener, options) => {
    if (type in listeners) {
      if (typeof listener === 'function' && !listeners[type].includes(listener)) listeners[type].push(listener);
    } else {
      globalTarget.addEventListener(type, listener, options);
    }
  });
  internals.defineGlobal('removeEventListener', (type, listener, options) => {
    if (type in listeners) listeners[type] = listeners[type].filter((l) => l !== listener);
    else globalTarget.removeEventListener(type, listener, options);
  });
  internals.defineGlobal('dispatchEvent', (event) => globalTarget.dispatchEvent(event));

  let moduleEntry = null;
  // Called once after the main module is evaluated. Returns the format, or throws naming what
  // is missing.
  internals.bindEntry = function (namespace) {
    const entry = namespace?.default;
    if (entry && typeof entry === 'object' && typeof entry.fetch === 'function') {
      moduleEntry = entry;
      return 'modules';
    }
    if (listeners.fetch.length) return 'service-worker';
    if (entry !== undefined) {
      throw new TypeError('The default export has no fetch() handler: export default { async fetch(request, env, ctx) { … } }');
    }
    throw new TypeError("The worker registers no fetch handler: use `export default { fetch(request, env, ctx) { … } }` or `addEventListener('fetch', event => event.respondWith(…))`.");
  };

  // Called by the host once the entry module has evaluated (with top-level await done).
  internals.finishLoad = async (evaluation, namespace) => {
    await evaluation;
    return internals.bindEntry(namespace);
  };

  function parts(value) {
    if (!(value instanceof Response)) {
      throw new TypeError("Incorrect type for Promise: the Promise did not resolve to 'Response'.");
    }
    return internals.responseParts(value);
  }
  const toParts = (response) => (response instanceof Promise ? response.then(parts) : Promise.resolve(response).then(parts));

  async function drainWaitUntil(list) {
    for (let done = 0; done < list.length;) {
      const batch = list.slice(done);
      done = list.length;
      for (const result of await Promise.allSettled(batch)) {
        if (result.status === 'rejected') internals.reportError(result.reason);
      }
    }
  }

  // Runs the fetch handler for one request. Returns a promise that never rejects, of
  // `{ parts, error, passThrough, done }`: the response's parts for the host (or the error that
  // failed the request), whether the worker asked to pass through to the origin on failure, and
  // a promise that settles once every `ctx.waitUntil` promise has.
  internals.dispatchFetch = function (method, url, headerList, body, cf, env) {
    const state = { waitUntil: [], passThrough: false, responded: false, response: undefined };
    let result;
    try {
      const request = internals.incomingRequest(method, url, headerList, body, cf);
      if (moduleEntry) {
        result = toParts(moduleEntry.fetch(request, env, new ExecutionContext(state)));
      } else {
        const event = new FetchEvent('fetch', { request, state });
        for (const listener of listeners.fetch) {
          listener.call(globalThis, event);
          if (state.responded) break;
        }
        if (!state.responded) throw new Error('No fetch listener called event.respondWith(), so the worker did not respond.');
        result = toParts(state.response);
      }
    } catch (error) {
      result = Promise.reject(error);
    }
    const done = () => (state.waitUntil.length ? drainWaitUntil(state.waitUntil) : undefined);
    return result.then(
      (parts) => ({ parts, passThrough: state.passThrough, done: done() }),
      (error) => ({ error, passThrough: state.passThrough, done: done() }));
  };
})
