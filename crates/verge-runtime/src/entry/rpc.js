// The callee's side of JS RPC and of Durable Objects: the object an isolate of a Durable Object
// holds (constructed once, from the class its worker exports), and method calls — on that
// object, or on a new instance of a WorkerEntrypoint class that a service binding names — with
// arguments and results in structured serialization. A method's exception is the caller's to
// re-throw, so it travels in the reply, not as a failure of the event: the reply is the
// serialization of [true, result] or [false, error].
(function (ops, internals) {
  // The instance of this isolate's Durable Object, if it is one.
  let object = null;

  // Makes this isolate's Durable Object: `new (the entry module's className)(state, env)`.
  internals.constructObject = function (className, state, env) {
    const Class = internals.entryNamespace()?.[className];
    if (typeof Class !== 'function') {
      throw new TypeError(`The worker exports no class named ${className}, which a durable_objects binding names: export class ${className} extends DurableObject { … }`);
    }
    object = new Class(state, env);
    internals.setObjectEntry(object, className);
  };

  // Methods RPC may not reach: what every object has, and the handlers the platform calls.
  const RESERVED = new Set(['constructor', 'fetch', 'alarm', 'webSocketMessage', 'webSocketClose', 'webSocketError',
    'toString', 'toLocaleString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', '__proto__',
    '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

  // The receiver of a call: the Durable Object, or a new instance of the entrypoint class.
  function receiver(entrypoint, env, state) {
    if (object) return object;
    const namespace = internals.entryNamespace();
    const name = entrypoint ?? 'default';
    const Class = namespace?.[name];
    if (typeof Class !== 'function' || !(Class.prototype instanceof internals.WorkerEntrypoint)) {
      throw new TypeError(`The RPC receiver does not implement the method: ${entrypoint ? `the worker's export ${entrypoint}` : 'its default export'} is not a class extending WorkerEntrypoint.`);
    }
    return new Class(new internals.ExecutionContext(state), env);
  }

  const reply = (ok, value) => {
    try {
      return internals.structuredSerialize([ok, value], true);
    } catch (error) {
      return internals.structuredSerialize([false, error], true);
    }
  };

  // Functions and RpcTargets passed by reference (see exports.rs): what this isolate exports,
  // by an unguessable token, the oldest dropped past the limit; and the stubs it was given,
  // with what they stand for, so that a stub passed on is forwarded rather than re-exported.
  const MAX_EXPORTS = 10000;
  const exported = new Map();
  const imported = new WeakMap();
  let ownEndpoint = null;
  internals.isRpcStub = (value) => imported.has(value);
  internals.exportForRpc = (value) => {
    const forwarded = imported.get(value);
    if (forwarded) return forwarded;
    ownEndpoint ??= ops.rpcEndpoint();
    const token = ops.rpcToken();
    exported.set(token, value);
    if (exported.size > MAX_EXPORTS) exported.delete(exported.keys().next().value);
    return ['S', ownEndpoint, token, typeof value === 'function' ? 'f' : 't'];
  };

  // The stub of an export: a function, or an object whose methods are calls; this isolate's own
  // export, when it comes back, is itself.
  internals.importStub = (endpoint, token, kind) => {
    if (endpoint === ownEndpoint && exported.has(token)) return exported.get(token);
    const call = (method, argsText) => ops.rpcCallExport(endpoint, token, method, argsText);
    let stub;
    if (kind === 'f') {
      stub = (...args) => remoteCall(call, null, args);
    } else {
      stub = internals.rpcStub(Object.create(RpcStubPrototype), call);
    }
    imported.set(stub, ['S', endpoint, token, kind]);
    return stub;
  };

  // Runs a call that a stub of export `token` made: the function, or a method of the target.
  internals.callExport = function (token, method, argsText) {
    let result;
    try {
      const target = exported.get(token);
      if (target === undefined) throw new Error('The RPC stub has expired: what it stood for is no longer kept.');
      const args = internals.structuredDeserialize(argsText, true);
      if (method === null || method === undefined) {
        result = Promise.resolve(target(...args));
      } else {
        const fn = RESERVED.has(method) ? undefined : target[method];
        if (typeof fn !== 'function') throw new TypeError(`The RPC receiver does not implement the method "${method}".`);
        result = Promise.resolve(fn.apply(target, args));
      }
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then((value) => reply(true, value), (error) => reply(false, error));
  };

  // Runs method `method` with the arguments `argsText` serializes. Returns
  // `{ reply, done }` as a promise that never rejects (see fetch_event.js for `done`).
  internals.dispatchCall = function (entrypoint, method, argsText, env) {
    const state = { waitUntil: [], passThrough: false };
    const done = () => (state.waitUntil.length ? internals.drainWaitUntil(state.waitUntil).then(internals.reportFailures) : undefined);
    let result;
    try {
      const target = receiver(entrypoint, env, state);
      const fn = RESERVED.has(method) ? undefined : target[method];
      if (typeof fn !== 'function') {
        throw new TypeError(`The RPC receiver does not implement the method "${method}".`);
      }
      const args = internals.structuredDeserialize(argsText, true);
      result = Promise.resolve(fn.apply(target, args));
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then((value) => ({ reply: reply(true, value), done: done() }),
      (error) => ({ reply: reply(false, error), done: done() }));
  };

  // Runs the Durable Object's alarm() handler; `{ error }` if it threw (the host retries).
  internals.dispatchAlarm = function (retryCount) {
    let result;
    try {
      if (typeof object?.alarm !== 'function') throw new TypeError('The Durable Object sets an alarm but has no alarm() handler.');
      result = Promise.resolve(object.alarm({ retryCount, isRetry: retryCount > 0 }));
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(() => ({}), (error) => ({ error }));
  };

  // Delivers a frame of held socket `number` (see the hibernation API in durable_objects.js)
  // to the object's webSocketMessage, webSocketClose or webSocketError.
  internals.dispatchSocket = function (number, kind, data, tags, attachment) {
    let result;
    try {
      const ws = internals.heldSocket(internals.objectStateBinding, number, tags, attachment);
      // A socket accepted with accept(): its own listeners hear it.
      if (internals.heldSocketListening(ws)) {
        internals.heldSocketReceive(ws, kind, data);
        if (kind === 'close') internals.heldSocketClosed(ws);
        return Promise.resolve({});
      }
      let handler, args;
      if (kind === 'close') {
        const [code, reason] = data;
        internals.heldSocketClosed(ws);
        if (code === 1006 || code === 1002 || code === 1009) {
          handler = object?.webSocketError;
          args = [ws, new Error(`WebSocket closed with ${code}${reason ? `: ${reason}` : ''}`)];
          if (typeof handler === 'function') handler.apply(object, args);
        }
        handler = object?.webSocketClose;
        args = [ws, code, reason, code !== 1006];
      } else {
        handler = object?.webSocketMessage;
        args = [ws, data];
      }
      result = Promise.resolve(typeof handler === 'function' ? handler.apply(object, args) : undefined);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(() => ({}), (error) => ({ error }));
  };

  // The caller's side: what a reply stands for, or its error thrown.
  internals.rpcSettle = function (replyText) {
    const [ok, value] = internals.structuredDeserialize(replyText, true);
    if (!ok) throw value;
    return value;
  };

  // A stub whose unknown properties are RPC methods: `call(name, args)` runs one remotely.
  // `then` stays undefined, so that awaiting a stub does not call a method.
  // A call through a stub: `call(method, argsText)` with the arguments serialized for RPC, its
  // reply settled (an error thrown on the other side rejects here).
  function remoteCall(call, method, args) {
    let argsText;
    try {
      argsText = internals.structuredSerialize(args, true);
    } catch (error) {
      return Promise.reject(error);
    }
    return call(method, argsText).then(internals.rpcSettle);
  }

  const RpcStubPrototype = {};
  Object.defineProperty(RpcStubPrototype, Symbol.toStringTag, { value: 'RpcStub' });
  internals.rpcStub = function (base, call) {
    return new Proxy(base, {
      get(target, property) {
        if (typeof property === 'symbol' || property in target) {
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        if (property === 'then') return undefined;
        return (...args) => remoteCall(call, property, args);
      },
    });
  };
})
