// KV namespaces (Workers KV): the object a `kv_namespaces` binding puts on `env`. Values are
// bytes in the store (mod.rs beside this file); `get` decodes them as the caller asks.
(function (ops, internals) {
  const ID = Symbol('kvNamespace');
  const TYPES = ['text', 'json', 'arrayBuffer', 'stream'];
  // verge-storage's kv_limits::MIN_TTL_SECONDS, the rule `verge kv put` applies too.
  const MIN_TTL = 60;
  const MIN_CACHE_TTL = 30;

  function readOptions(options) {
    const { type = 'text', cacheTtl } = typeof options === 'string' ? { type: options } : (options ?? {});
    if (!TYPES.includes(type)) throw new TypeError(`Unknown response type "${type}": use one of ${TYPES.join(', ')}.`);
    if (cacheTtl !== undefined && !(Number(cacheTtl) >= MIN_CACHE_TTL)) {
      throw new TypeError(`Invalid cacheTtl of ${cacheTtl}: it must be at least ${MIN_CACHE_TTL} seconds.`);
    }
    return type;
  }

  function decode(bytes, type) {
    switch (type) {
      case 'text': return internals.utf8Decode(bytes);
      case 'json': return JSON.parse(internals.utf8Decode(bytes));
      case 'arrayBuffer': return bytes.buffer.byteLength === bytes.byteLength ? bytes.buffer : bytes.slice().buffer;
      default: return new Response(bytes).body;
    }
  }

  const parseMetadata = (text) => (text == null ? null : JSON.parse(text));

  async function valueBytes(value) {
    if (typeof value === 'string') return internals.utf8Encode(value);
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return internals.toBytes(value, 'KV put').slice();
    if (internals.isA(value, 'ReadableStream')) return new Uint8Array(await new Response(value).arrayBuffer());
    throw new TypeError('KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.');
  }

  function expirationOf(options) {
    const now = Math.floor(Date.now() / 1000);
    if (options?.expiration !== undefined) {
      const at = Math.floor(Number(options.expiration));
      if (!(at >= now + MIN_TTL) || !Number.isSafeInteger(at)) {
        throw new TypeError(`KV PUT failed: 400 Invalid expiration of ${options.expiration}. Please specify integer greater than the current number of seconds since the UNIX epoch plus ${MIN_TTL}.`);
      }
      return at;
    }
    if (options?.expirationTtl !== undefined) {
      const ttl = Math.floor(Number(options.expirationTtl));
      if (!(ttl >= MIN_TTL) || !Number.isSafeInteger(now + ttl)) {
        throw new TypeError(`KV PUT failed: 400 Invalid expiration_ttl of ${options.expirationTtl}. Expiration TTL must be at least ${MIN_TTL}.`);
      }
      return now + ttl;
    }
    return undefined;
  }

  class KVNamespace {
    constructor(id) { this[ID] = id; }

    async #getOne(key, type) {
      const found = await ops.kvGet(this[ID], String(key));
      if (found === null) return { value: null, metadata: null };
      return { value: decode(found[0], type), metadata: parseMetadata(found[1]) };
    }

    async #getMany(keys, type) {
      if (type !== 'text' && type !== 'json') throw new TypeError(`A bulk get supports only the text and json types, not "${type}".`);
      if (keys.length > 100) throw new TypeError('A bulk get may ask for at most 100 keys.');
      const found = await Promise.all(keys.map((key) => this.#getOne(key, type)));
      return new Map(keys.map((key, i) => [String(key), found[i]]));
    }

    async get(key, options = undefined) {
      const type = readOptions(options);
      if (Array.isArray(key)) {
        const found = await this.#getMany(key, type);
        return new Map([...found].map(([k, { value }]) => [k, value]));
      }
      return (await this.#getOne(key, type)).value;
    }

    async getWithMetadata(key, options = undefined) {
      const type = readOptions(options);
      if (Array.isArray(key)) return this.#getMany(key, type);
      return { ...(await this.#getOne(key, type)), cacheStatus: null };
    }

    async put(key, value, options = undefined) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'put' on 'KvNamespace': 2 arguments required.");
      const expiration = expirationOf(options);
      const metadata = options?.metadata === undefined ? undefined : JSON.stringify(options.metadata);
      await ops.kvPut(this[ID], String(key), await valueBytes(value), expiration, metadata);
    }

    async delete(key) {
      await ops.kvDelete(this[ID], String(key));
    }

    async list(options = undefined) {
      const prefix = options?.prefix == null ? '' : String(options.prefix);
      const limit = options?.limit === undefined ? 1000 : Math.floor(Number(options.limit));
      if (!(limit >= 1 && limit <= 1000)) throw new TypeError(`Invalid list limit of ${options.limit}: it must be between 1 and 1000.`);
      const cursor = options?.cursor == null || options.cursor === '' ? undefined : String(options.cursor);
      const [entries, next] = await ops.kvList(this[ID], prefix, cursor, limit);
      const keys = entries.map(([name, metadata, expiration]) => {
        const key = { name };
        if (expiration != null) key.expiration = expiration;
        if (metadata != null) key.metadata = JSON.parse(metadata);
        return key;
      });
      return next == null
        ? { keys, list_complete: true, cacheStatus: null }
        : { keys, list_complete: false, cursor: next, cacheStatus: null };
    }
  }
  Object.defineProperty(KVNamespace.prototype, Symbol.toStringTag, { value: 'KvNamespace' });

  internals.makeKvNamespace = (id) => new KVNamespace(id);
})
