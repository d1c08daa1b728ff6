// Service-worker syntax: `addEventListener('fetch' | 'scheduled' | 'queue', …)` on the global
// scope, FetchEvent, ScheduledEvent and QueueEvent.
// Loaded when a script first touches one of them (see install.js).
(function (ops, internals) {
  class FetchEvent extends Event {
    #request; #state; #ctx;
    constructor(type, init) {
      super(type);
      this.#request = init.request;
      this.#state = init.state;
      this.#ctx = new internals.ExecutionContext(init.state);
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

  class ScheduledEvent extends Event {
    #controller; #ctx;
    constructor(type, init) {
      super(type);
      this.#controller = init.controller;
      this.#ctx = new internals.ExecutionContext(init.state);
    }
    get cron() { return this.#controller.cron; }
    get scheduledTime() { return this.#controller.scheduledTime; }
    waitUntil(promise) { this.#ctx.waitUntil(promise); }
    noRetry() {}
  }
  internals.defineGlobal('ScheduledEvent', ScheduledEvent);

  // A batch of a queue's messages, as a 'queue' listener gets it.
  class QueueEvent extends Event {
    #batch; #ctx;
    constructor(type, init) {
      super(type);
      this.#batch = init.batch;
      this.#ctx = new internals.ExecutionContext(init.state);
    }
    get queue() { return this.#batch.queue; }
    get messages() { return this.#batch.messages; }
    ackAll() { this.#batch.ackAll(); }
    retryAll(options) { this.#batch.retryAll(options); }
    waitUntil(promise) { this.#ctx.waitUntil(promise); }
  }
  internals.defineGlobal('QueueEvent', QueueEvent);

  // Service-worker syntax: the global scope is the event target. Exceptions thrown by a fetch
  // listener must fail the request, so those listeners are called directly, not through
  // EventTarget's error reporting.
  const listeners = { fetch: [], scheduled: [], queue: [] };
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

  internals.hasFetchListeners = () => listeners.fetch.length > 0;
  internals.hasScheduledListeners = () => listeners.scheduled.length > 0;
  internals.hasQueueListeners = () => listeners.queue.length > 0;
  // Runs the queue listeners for `batch`; the host awaits what they gave `waitUntil`.
  internals.dispatchQueueEvent = (batch, state) => {
    if (listeners.queue.length === 0) throw new TypeError("The worker has no queue listener: addEventListener('queue', event => { … }).");
    const event = new QueueEvent('queue', { batch, state });
    for (const listener of listeners.queue) listener.call(globalThis, event);
  };
  // Runs the scheduled listeners; a promise of what they gave `waitUntil` is awaited by the host.
  internals.dispatchScheduledEvent = (controller, state) => {
    if (listeners.scheduled.length === 0) throw new TypeError("The worker has no scheduled listener: addEventListener('scheduled', event => { … }).");
    const event = new ScheduledEvent('scheduled', { controller, state });
    for (const listener of listeners.scheduled) listener.call(globalThis, event);
  };
  // Runs the fetch listeners for `request`; returns what one gave `respondWith`.
  internals.dispatchFetchEvent = (request, state) => {
    const event = new FetchEvent('fetch', { request, state });
    for (const listener of listeners.fetch) {
      listener.call(globalThis, event);
      if (state.responded) break;
    }
    if (listeners.fetch.length === 0) throw new TypeError("The worker has no fetch listener, only scheduled ones.");
    if (!state.responded) throw new Error('No fetch listener called event.respondWith(), so the worker did not respond.');
    return state.response;
  };
})
