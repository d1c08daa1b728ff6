// Queues (Cloudflare Queues): the object a `[[queues.producers]]` binding puts on `env`. A
// message's body is encoded here, by its content type; the limits are checked beside the
// store (mod.rs beside this file), where the messages are made durable.
(function (ops, internals) {
  const ID = Symbol('queue');
  const TYPES = ['json', 'text', 'bytes', 'v8'];
  // verge-config's queue_limits::MAX_DELAY_SECONDS.
  const MAX_DELAY = 43200;

  function encode(body, contentType) {
    switch (contentType) {
      case 'json': {
        const text = JSON.stringify(body);
        if (text === undefined) throw new TypeError('A json message must be a value JSON.stringify() can write: undefined, a function or a symbol cannot be sent.');
        return internals.utf8Encode(text);
      }
      case 'text':
        if (typeof body !== 'string') throw new TypeError(`A text message must be a string, not ${typeof body}.`);
        return internals.utf8Encode(body);
      case 'bytes':
        if (!(body instanceof ArrayBuffer || ArrayBuffer.isView(body))) throw new TypeError('A bytes message must be an ArrayBuffer or an ArrayBufferView.');
        return internals.toBytes(body, 'Queue send').slice();
      case 'v8':
        return internals.utf8Encode(internals.structuredSerialize(body));
      default:
        throw new TypeError(`Unknown queue content type "${contentType}": use one of ${TYPES.join(', ')}.`);
    }
  }

  function delayOf(options) {
    if (options?.delaySeconds === undefined) return null;
    const delay = Number(options.delaySeconds);
    if (!(Number.isInteger(delay) && delay >= 0 && delay <= MAX_DELAY)) {
      throw new TypeError(`Invalid delaySeconds of ${options.delaySeconds}: a whole number of seconds from 0 to ${MAX_DELAY}.`);
    }
    return delay;
  }

  class WorkerQueue {
    constructor(id) { this[ID] = id; }

    async send(body, options = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'send' on 'WorkerQueue': 1 argument required.");
      const contentType = options?.contentType ?? 'json';
      await ops.queueSend(this[ID], [encode(body, contentType)], [contentType], [delayOf(options)]);
    }

    async sendBatch(messages, options = undefined) {
      if (messages == null || typeof messages[Symbol.iterator] !== 'function') {
        throw new TypeError("Failed to execute 'sendBatch' on 'WorkerQueue': the messages must be an iterable of { body, contentType, delaySeconds }.");
      }
      const batchDelay = delayOf(options);
      const bodies = [];
      const types = [];
      const delays = [];
      for (const message of messages) {
        if (message === null || typeof message !== 'object' || !('body' in message)) {
          throw new TypeError('Each message of sendBatch() must be an object with a body.');
        }
        const contentType = message.contentType ?? 'json';
        bodies.push(encode(message.body, contentType));
        types.push(contentType);
        const own = delayOf(message);
        delays.push(own ?? batchDelay);
      }
      await ops.queueSend(this[ID], bodies, types, delays);
    }
  }
  Object.defineProperty(WorkerQueue.prototype, Symbol.toStringTag, { value: 'WorkerQueue' });

  internals.makeQueue = (id) => new WorkerQueue(id);
})
