// The worker's entry points: ES-module `export default { fetch, scheduled }` and service-worker
// `addEventListener('fetch' | 'scheduled', …)` (the listeners live in service_worker.js), the
// ExecutionContext (`ctx.waitUntil`, `ctx.passThroughOnException`), and the hand-off of a
// finished Response to the host. A cron trigger's side is scheduled.js.
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

  internals.ExecutionContext = ExecutionContext;
  // The built-in, as it was before any worker code ran.
  const PROMISE = Promise.prototype;
  internals.defineGlobal('ExecutionContext', ExecutionContext);

  // The default export of an ES-module worker (or what stands for it: see `classEntry` and
  // `setObjectEntry`); null for a service worker.
  let moduleEntry = null;
  internals.moduleEntry = () => moduleEntry;
  // The entry module's namespace, where RPC finds entrypoint classes.
  let entryNamespace = null;
  internals.entryNamespace = () => entryNamespace;

  // The handlers of a WorkerEntrypoint class exported as default: each event gets a new
  // instance, constructed with the event's ctx and env.
  function classEntry(Class) {
    const entry = {};
    for (const name of ['fetch', 'scheduled', 'queue']) {
      if (typeof Class.prototype[name] === 'function') {
        entry[name] = (event, env, ctx) => new Class(ctx, env)[name](event);
      }
    }
    return entry;
  }

  // The handlers of the WorkerEntrypoint class the entry module exports as `name`.
  function namedEntry(name) {
    const Class = entryNamespace?.[name];
    if (typeof Class !== 'function' || !(Class.prototype instanceof internals.WorkerEntrypoint)) {
      throw new TypeError(`The worker exports no WorkerEntrypoint class named ${name}.`);
    }
    return classEntry(Class);
  }

  // In a Durable Object's isolate, requests go to the object (see rpc.js).
  internals.setObjectEntry = function (object, className) {
    moduleEntry = {
      fetch(request) {
        if (typeof object.fetch !== 'function') throw new TypeError(`The Durable Object class ${className} has no fetch() method.`);
        return object.fetch(request);
      },
    };
  };

  // Called once after the main module is evaluated. Returns the format, or throws naming what
  // is missing.
  internals.bindEntry = function (namespace) {
    entryNamespace = namespace ?? null;
    let entry = namespace?.default;
    if (typeof entry === 'function' && entry.prototype instanceof internals.WorkerEntrypoint) entry = classEntry(entry);
    const handles = (name) => typeof entry?.[name] === 'function';
    if (entry && typeof entry === 'object' && (handles('fetch') || handles('scheduled') || handles('queue'))) {
      moduleEntry = entry;
      return 'modules';
    }
    // A module of classes alone (Durable Objects, entrypoints) is reached by RPC and stubs.
    if (entry === undefined && namespace && Object.values(namespace).some((value) => typeof value === 'function')) {
      moduleEntry = {};
      return 'modules';
    }
    // Checked only now: a module worker never loads the service-worker globals.
    if (internals.hasFetchListeners() || internals.hasScheduledListeners() || internals.hasQueueListeners()) return 'service-worker';
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

  // Waits for every `ctx.waitUntil` promise, those added meanwhile included; the reasons of
  // those that rejected.
  async function drainWaitUntil(list) {
    const failures = [];
    for (let done = 0; done < list.length;) {
      const batch = list.slice(done);
      done = list.length;
      for (const result of await Promise.allSettled(batch)) {
        if (result.status === 'rejected') failures.push(result.reason);
      }
    }
    return failures;
  }
  const reportFailures = (failures) => failures.forEach(internals.reportError);
  internals.drainWaitUntil = drainWaitUntil;
  internals.reportFailures = reportFailures;

  // The end of an event that lasts until its `ctx.waitUntil` work is done too (a cron
  // trigger's, a queue batch's): settles once the handler's `result` and that work have,
  // rejecting with the handler's error, else with the first of that work's; the rest are
  // reported.
  internals.eventEnd = (result, state) => result.then(
    async () => {
      const [first, ...rest] = await drainWaitUntil(state.waitUntil);
      reportFailures(rest);
      if (first !== undefined) throw first;
    },
    async (error) => {
      reportFailures(await drainWaitUntil(state.waitUntil));
      throw error;
    },
  );

  // Runs the fetch handler for one request. Returns `{ parts, error, passThrough, done }`, or a
  // promise of it that never rejects: the response's parts for the host (or the error that
  // failed the request), whether the worker asked to pass through to the origin on failure, and
  // a promise that settles once every `ctx.waitUntil` promise has.
  // `entrypoint`: the named WorkerEntrypoint class a service binding names, if any.
  internals.dispatchFetch = function (method, url, headerList, body, cfJson, env, entrypoint) {
    const state = { waitUntil: [], passThrough: false, responded: false, response: undefined };
    let result;
    try {
      const request = internals.incomingRequest(method, url, headerList, body, cfJson);
      const entry = entrypoint == null ? moduleEntry : namedEntry(entrypoint);
      if (entry) {
        if (typeof entry.fetch !== 'function') throw new TypeError(`The worker's ${entrypoint ?? 'default export'} has no fetch() handler.`);
        const response = entry.fetch(request, env, new ExecutionContext(state));
        // An async handler that did not await is answered already, where the engine can tell
        // (a plain promise only: a subclass's own `then` is called, as reading through it would).
        const plain = !(response instanceof Promise) || Object.getPrototypeOf(response) === PROMISE;
        const answer = ops.fulfilled && plain ? ops.fulfilled(response) : response;
        result = answer instanceof Response ? { parts: parts(answer) } : toParts(response);
      } else {
        result = toParts(internals.dispatchFetchEvent(request, state));
      }
    } catch (error) {
      result = Promise.reject(error);
    }
    const done = () => (state.waitUntil.length ? drainWaitUntil(state.waitUntil).then(reportFailures) : undefined);
    if (result.parts !== undefined) {
      // A handler that returned its Response at once: the host reads it now, with no promise
      // jobs to wait through.
      return { parts: result.parts, passThrough: state.passThrough, done: done() };
    }
    return result.then(
      (parts) => ({ parts, passThrough: state.passThrough, done: done() }),
      (error) => ({ error, passThrough: state.passThrough, done: done() }));
  };
})
