// node:diagnostics_channel — named channels that libraries publish to (undici, pg, fastify)
// and tools subscribe to; tracing channels for the start, end and errors of an operation.
(function (ops, internals) {
  const channels = new Map();

  class Channel {
    #subscribers = [];
    #stores = new Map();
    constructor(name) {
      this.name = name;
    }
    get hasSubscribers() {
      return this.#subscribers.length > 0 || this.#stores.size > 0;
    }
    subscribe(subscriber) {
      if (typeof subscriber !== 'function') throw internals.nodeError('ERR_INVALID_ARG_TYPE', 'subscription', 'of type function', subscriber);
      this.#subscribers = [...this.#subscribers, subscriber];
    }
    unsubscribe(subscriber) {
      const before = this.#subscribers.length;
      this.#subscribers = this.#subscribers.filter((fn) => fn !== subscriber);
      return this.#subscribers.length !== before;
    }
    publish(message) {
      for (const subscriber of this.#subscribers) {
        try {
          subscriber(message, this.name);
        } catch (error) {
          // A subscriber's error must not break the publisher: Node reports it asynchronously.
          queueMicrotask(() => { throw error; });
        }
      }
    }
    bindStore(store, transform) {
      this.#stores.set(store, transform);
    }
    unbindStore(store) {
      return this.#stores.delete(store);
    }
    runStores(message, fn, thisArg, ...args) {
      let run = () => {
        this.publish(message);
        return fn.apply(thisArg, args);
      };
      for (const [store, transform] of this.#stores) {
        const inner = run;
        run = () => store.run(transform ? transform(message) : message, inner);
      }
      return run();
    }
  }

  function channel(name) {
    if (typeof name !== 'string' && typeof name !== 'symbol') throw internals.nodeError('ERR_INVALID_ARG_TYPE', 'channel', 'of type string or symbol', name);
    let found = channels.get(name);
    if (!found) {
      found = new Channel(name);
      channels.set(name, found);
    }
    return found;
  }

  const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];
  class TracingChannel {
    constructor(nameOrChannels) {
      for (const event of EVENTS) {
        this[event] = typeof nameOrChannels === 'string' ? channel(`tracing:${nameOrChannels}:${event}`) : nameOrChannels[event];
      }
    }
    get hasSubscribers() {
      return EVENTS.some((event) => this[event].hasSubscribers);
    }
    subscribe(handlers) {
      for (const event of EVENTS) if (handlers[event]) this[event].subscribe(handlers[event]);
    }
    unsubscribe(handlers) {
      let all = true;
      for (const event of EVENTS) if (handlers[event] && !this[event].unsubscribe(handlers[event])) all = false;
      return all;
    }
    traceSync(fn, context = {}, thisArg, ...args) {
      return this.start.runStores(context, () => {
        try {
          context.result = fn.apply(thisArg, args);
          return context.result;
        } catch (error) {
          context.error = error;
          this.error.publish(context);
          throw error;
        } finally {
          this.end.publish(context);
        }
      });
    }
    tracePromise(fn, context = {}, thisArg, ...args) {
      return this.start.runStores(context, () => {
        try {
          const promise = Promise.resolve(fn.apply(thisArg, args));
          return promise.then((result) => {
            context.result = result;
            this.asyncStart.publish(context);
            this.asyncEnd.publish(context);
            return result;
          }, (error) => {
            context.error = error;
            this.error.publish(context);
            this.asyncStart.publish(context);
            this.asyncEnd.publish(context);
            throw error;
          });
        } catch (error) {
          context.error = error;
          this.error.publish(context);
          throw error;
        } finally {
          this.end.publish(context);
        }
      });
    }
    traceCallback(fn, position = -1, context = {}, thisArg, ...args) {
      const callback = args.at(position);
      const wrapped = (error, result) => {
        if (error) {
          context.error = error;
          this.error.publish(context);
        } else {
          context.result = result;
        }
        this.asyncStart.publish(context);
        try {
          return callback.call(thisArg, error, result);
        } finally {
          this.asyncEnd.publish(context);
        }
      };
      args.splice(position < 0 ? args.length + position : position, 1, wrapped);
      return this.traceSync(fn, context, thisArg, ...args);
    }
  }

  internals['node:diagnostics_channel'] = {
    channel,
    hasSubscribers: (name) => channels.get(name)?.hasSubscribers ?? false,
    subscribe: (name, subscriber) => channel(name).subscribe(subscriber),
    unsubscribe: (name, subscriber) => channel(name).unsubscribe(subscriber),
    tracingChannel: (nameOrChannels) => new TracingChannel(nameOrChannels),
    Channel,
  };
})
