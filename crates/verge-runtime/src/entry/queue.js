// A queue consumer's side of the entry points: the MessageBatch handed to
// `queue(batch, env, ctx)` (or a 'queue' listener's event), and what the host learns from it.
// Loaded on a worker's first batch.
(function (ops, internals) {
  // How each message's body was encoded, by its content type (bindings' queue.js).
  function decode(bytes, contentType) {
    switch (contentType) {
      case 'json': return JSON.parse(internals.utf8Decode(bytes));
      case 'text': return internals.utf8Decode(bytes);
      case 'v8': return internals.structuredDeserialize(internals.utf8Decode(bytes));
      default: return bytes.buffer.byteLength === bytes.byteLength ? bytes.buffer : bytes.slice().buffer;
    }
  }

  function delayOf(options) {
    if (options?.delaySeconds === undefined) return null;
    const delay = Number(options.delaySeconds);
    if (!(Number.isInteger(delay) && delay >= 0 && delay <= 43200)) {
      throw new TypeError(`Invalid delaySeconds of ${options.delaySeconds}: a whole number of seconds from 0 to 43200.`);
    }
    return delay;
  }

  // A handler's failure as the host logs it.
  const describe = (error) => (error instanceof Error ? `${error.name}: ${error.message}` : `Uncaught ${String(error)}`);

  // What the batch's handler decided: of each message (the first call for it stands), and of
  // the batch as a whole (ackAll, retryAll; the first stands).
  class Decisions {
    each = new Map();
    all = null;
    decide(id, decision) { if (!this.each.has(id)) this.each.set(id, decision); }
    decideAll(decision) { if (this.all === null) this.all = decision; }
  }

  class Message {
    #id; #timestamp; #body; #attempts; #decisions;
    constructor(id, timestamp, body, attempts, decisions) {
      this.#id = id; this.#timestamp = new Date(timestamp); this.#body = body;
      this.#attempts = attempts; this.#decisions = decisions;
    }
    get id() { return this.#id; }
    get timestamp() { return this.#timestamp; }
    get body() { return this.#body; }
    get attempts() { return this.#attempts; }
    ack() { this.#decisions.decide(this.#id, ['ack']); }
    retry(options = undefined) { this.#decisions.decide(this.#id, ['retry', delayOf(options)]); }
  }
  Object.defineProperty(Message.prototype, Symbol.toStringTag, { value: 'Message' });

  class MessageBatch {
    #queue; #messages; #decisions;
    constructor(queue, messages, decisions) { this.#queue = queue; this.#messages = Object.freeze(messages); this.#decisions = decisions; }
    get queue() { return this.#queue; }
    get messages() { return this.#messages; }
    ackAll() { this.#decisions.decideAll(['ack']); }
    retryAll(options = undefined) { this.#decisions.decideAll(['retry', delayOf(options)]); }
  }
  Object.defineProperty(MessageBatch.prototype, Symbol.toStringTag, { value: 'MessageBatch' });

  // Runs the queue handler for a batch of `queue`'s `messages` (each `[id, sentMs, bytes,
  // contentType, attempts]`). Returns a promise that never rejects, of `{ reply }`: JSON of
  // `{ each: [[id, decision]…], all, error }`, each decision `['ack']` or `['retry', delay]`,
  // and the handler's failure as text. As on Workers, the event lasts until its
  // `ctx.waitUntil` work is done too.
  internals.dispatchQueue = function (queue, messages, env) {
    const state = { waitUntil: [], passThrough: false };
    const decisions = new Decisions();
    const entry = internals.moduleEntry();
    let result;
    try {
      const batch = new MessageBatch(queue, messages.map(([id, sent, bytes, contentType, attempts]) =>
        new Message(id, sent, decode(bytes, contentType), attempts, decisions)), decisions);
      if (entry) {
        if (typeof entry.queue !== 'function') throw new TypeError('The worker has no queue() handler: export default { async queue(batch, env, ctx) { … } }');
        result = Promise.resolve(entry.queue(batch, env, new internals.ExecutionContext(state)));
      } else {
        result = Promise.resolve(internals.dispatchQueueEvent(batch, state));
      }
    } catch (error) {
      result = Promise.reject(error);
    }
    const reply = (error) => ({
      reply: JSON.stringify({
        each: [...decisions.each],
        all: decisions.all,
        error: error === undefined ? null : describe(error),
      }),
    });
    return internals.eventEnd(result, state).then(() => reply(undefined), (error) => reply(error ?? null));
  };
})
