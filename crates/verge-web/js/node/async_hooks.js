// node:async_hooks — AsyncLocalStorage and AsyncResource.
//
// QuickJS tells the host nothing when an `await` resumes, so a store cannot travel with each
// continuation as in V8. What it can follow is the request: every entry into the isolate is on
// behalf of one (its tag, `ops.requestTag()`), and work a request started resumes under its
// tag. So the stores in effect are kept per request: `run(store, fn)` puts `store` in effect
// for the request running it until `fn` returns or, if `fn` returns a promise, until that
// settles — which covers how frameworks use it (a middleware wrapping the rest of a request).
// Callbacks given to `bind`/`snapshot`/`AsyncResource` carry the stores they were made under.
// The host keeps each request's context (a Map of storage -> store) and drops it with the
// request.
(function (ops, internals) {
  const EMPTY = new Map();

  const current = () => ops.asyncContext(ops.requestTag()) ?? EMPTY;
  function enter(context) {
    const tag = ops.requestTag();
    const previous = ops.asyncContext(tag);
    ops.setAsyncContext(tag, context.size ? context : undefined);
    return () => {
      // Only undo what is still in effect: a later run may have replaced it.
      if ((ops.asyncContext(tag) ?? EMPTY) !== context) return;
      ops.setAsyncContext(tag, previous);
    };
  }
  function runIn(context, fn, thisArg, args) {
    const leave = enter(context);
    let result;
    try {
      result = fn.apply(thisArg, args);
    } catch (error) {
      leave();
      throw error;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      Promise.resolve(result).then(leave, leave);
    } else {
      leave();
    }
    return result;
  }

  class AsyncLocalStorage {
    #enabled = true;
    static bind(fn) { return AsyncLocalStorage.snapshot().bind(null, fn); }
    static snapshot() {
      const context = current();
      return (fn, ...args) => runIn(context, fn, undefined, args);
    }
    getStore() { return this.#enabled ? current().get(this) : undefined; }
    run(store, fn, ...args) {
      this.#enabled = true;
      const context = new Map(current());
      context.set(this, store);
      return runIn(context, fn, undefined, args);
    }
    exit(fn, ...args) {
      const context = new Map(current());
      context.delete(this);
      return runIn(context, fn, undefined, args);
    }
    enterWith(store) {
      this.#enabled = true;
      const context = new Map(current());
      context.set(this, store);
      enter(context);
    }
    disable() {
      this.#enabled = false;
      const context = new Map(current());
      context.delete(this);
      enter(context);
    }
  }

  class AsyncResource {
    #context = current();
    constructor(type) { this.type = type; }
    static bind(fn, type, thisArg) { return new AsyncResource(type ?? fn.name ?? 'bound-anonymous-fn').bind(fn, thisArg); }
    runInAsyncScope(fn, thisArg, ...args) { return runIn(this.#context, fn, thisArg, args); }
    bind(fn, thisArg) {
      const resource = this;
      return function (...args) { return resource.runInAsyncScope(fn, thisArg ?? this, ...args); };
    }
    emitDestroy() { return this; }
    asyncId() { return 0; }
    triggerAsyncId() { return 0; }
  }

  internals['node:async_hooks'] = {
    AsyncLocalStorage,
    AsyncResource,
    executionAsyncId: () => 0,
    triggerAsyncId: () => 0,
    createHook: () => ({ enable() { return this; }, disable() { return this; } }),
  };
})
