// Durable Objects as Workers have them. The caller's side: a `durable_objects` binding's
// DurableObjectNamespace (ids from names, from strings or new; stubs), and the stub, whose
// fetch() goes to the object like a service binding's and whose other methods are JS RPC.
// The object's side: DurableObjectState (`ctx`: id, storage, blockConcurrencyWhile, waitUntil)
// and its storage — the key-value API and the SQL API — whose calls run synchronously in the
// host (mod.rs), so a storage promise is settled before any other event can reach the object:
// Cloudflare's input gate. Values are kept in structured serialization.
(function (ops, internals) {
  class DurableObjectId {
    #hex; #name;
    constructor(hex, name) { this.#hex = hex; this.#name = name; }
    toString() { return this.#hex; }
    toJSON() { return this.#hex; }
    equals(other) { return other instanceof DurableObjectId && other.#hex === this.#hex; }
    get name() { return this.#name; }
  }
  Object.defineProperty(DurableObjectId.prototype, Symbol.toStringTag, { value: 'DurableObjectId' });
  internals.makeObjectId = (hex, name) => new DurableObjectId(hex, name ?? undefined);

  // Where a stub's requests and calls go: the id, its locationHint and the name it was made
  // from, if any (`ID@HINT:NAME`).
  const target = (id, hint) => {
    const at = hint === undefined ? id.toString() : `${id.toString()}@${hint}`;
    return id.name === undefined ? at : `${at}:${id.name}`;
  };

  class DurableObjectStub {
    #fetcher; #id;
    constructor(fetcher, id) { this.#fetcher = fetcher; this.#id = id; }
    get id() { return this.#id; }
    get name() { return this.#id.name; }
    fetch(input, init = undefined) { return this.#fetcher.fetch(input, init); }
    connect() { throw new TypeError('connect() is not supported on a Durable Object stub.'); }
  }
  Object.defineProperty(DurableObjectStub.prototype, Symbol.toStringTag, { value: 'DurableObject' });

  class DurableObjectNamespace {
    #binding; #fetcherId;
    constructor(binding, fetcherId) { this.#binding = binding; this.#fetcherId = fetcherId; }
    idFromName(name) {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'idFromName': 1 argument required.");
      name = String(name);
      return new DurableObjectId(ops.objectIdFromName(this.#binding, name), name);
    }
    newUniqueId(options = undefined) {
      return new DurableObjectId(ops.objectNewUniqueId(this.#binding));
    }
    idFromString(text) {
      text = String(text);
      if (!ops.objectIdValid(this.#binding, text)) {
        throw new TypeError(`Invalid Durable Object ID: "${text}" is not an id of this namespace (64 hexadecimal digits, made by newUniqueId() or idFromName()).`);
      }
      return new DurableObjectId(text.toLowerCase());
    }
    get(id, options = undefined) {
      if (!(id instanceof DurableObjectId)) throw new TypeError("Failed to execute 'get' on 'DurableObjectNamespace': parameter 1 is not of type 'DurableObjectId'.");
      let hint = options?.locationHint;
      if (hint !== undefined) {
        hint = String(hint);
        ops.objectCheckHint(hint);
      }
      const to = target(id, hint);
      const stub = new DurableObjectStub(internals.makeFetcher(this.#fetcherId, to), id);
      const binding = this.#binding;
      return internals.rpcStub(stub, (method, args) => ops.objectCall(binding, to, method, args));
    }
    getByName(name, options = undefined) { return this.get(this.idFromName(name), options); }
    jurisdiction(name) { return this; }
  }
  Object.defineProperty(DurableObjectNamespace.prototype, Symbol.toStringTag, { value: 'DurableObjectNamespace' });
  internals.makeDurableObjectNamespace = (binding, fetcher) => new DurableObjectNamespace(binding, internals.fetcherId(fetcher));

  // The object's side.
  const settled = (run) => {
    try {
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const serialize = (value) => internals.structuredSerialize(value);
  const deserialize = (text) => (text == null ? undefined : internals.structuredDeserialize(text));
  const keyOf = (key) => String(key);
  const time = (value) => {
    const at = value instanceof Date ? value.getTime() : Number(value);
    // The range of a Date (ECMA-262 §21.4.1.22).
    if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) throw new TypeError('setAlarm() needs a Date or a number of milliseconds since the epoch.');
    return at;
  };

  class DurableObjectTransaction {
    #storage; #rolledBack = false;
    constructor(storage) { this.#storage = storage; }
    get(keys, options) { return this.#storage.get(keys, options); }
    put(key, value, options) { return this.#storage.put(key, value, options); }
    delete(keys, options) { return this.#storage.delete(keys, options); }
    list(options) { return this.#storage.list(options); }
    getAlarm(options) { return this.#storage.getAlarm(options); }
    setAlarm(at, options) { return this.#storage.setAlarm(at, options); }
    deleteAlarm(options) { return this.#storage.deleteAlarm(options); }
    rollback() { this.#rolledBack = true; }
    get rolledBack() { return this.#rolledBack; }
  }

  class SqlStorageCursor {
    #columns; #rows; #index = 0; #rowsRead; #rowsWritten;
    constructor([columns, rows, rowsRead, rowsWritten]) {
      this.#columns = columns; this.#rows = rows; this.#rowsRead = rowsRead; this.#rowsWritten = rowsWritten;
    }
    get columnNames() { return [...this.#columns]; }
    get rowsRead() { return this.#rowsRead; }
    get rowsWritten() { return this.#rowsWritten; }
    #object(row) {
      const object = {};
      this.#columns.forEach((column, i) => { object[column] = row[i]; });
      return object;
    }
    next() {
      if (this.#index >= this.#rows.length) return { done: true, value: undefined };
      return { done: false, value: this.#object(this.#rows[this.#index++]) };
    }
    toArray() {
      const rest = this.#rows.slice(this.#index).map((row) => this.#object(row));
      this.#index = this.#rows.length;
      return rest;
    }
    one() {
      const rest = this.toArray();
      if (rest.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${rest.length === 0 ? 'no results' : 'multiple results'}.`);
      return rest[0];
    }
    raw() {
      const rows = this.#rows;
      const cursor = this;
      return {
        next: () => (cursor.#index >= rows.length ? { done: true, value: undefined } : { done: false, value: [...rows[cursor.#index++]] }),
        toArray: () => { const rest = rows.slice(cursor.#index).map((row) => [...row]); cursor.#index = rows.length; return rest; },
        [Symbol.iterator]() { return this; },
      };
    }
    [Symbol.iterator]() { return this; }
  }

  class SqlStorage {
    #id;
    constructor(id) { this.#id = id; }
    exec(query, ...bindings) {
      if (typeof query !== 'string') throw new TypeError('sql.exec() needs the query as a string.');
      const params = bindings.map((value) => {
        if (typeof value === 'boolean') return value ? 1 : 0;
        if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return internals.toBytes(value, 'sql.exec');
        if (value === undefined) return null;
        if (value === null || typeof value === 'number' || typeof value === 'string') return value;
        // Ops take data, which has no bigints: one crosses as its decimal text, in a list.
        if (typeof value === 'bigint') return [String(value)];
        throw new TypeError(`sql.exec() cannot bind a value of type ${typeof value}.`);
      });
      return new SqlStorageCursor(ops.objectSql(this.#id, query, params));
    }
    get databaseSize() { return ops.objectSize(this.#id); }
  }

  class DurableObjectStorage {
    #id; #sql;
    constructor(id) { this.#id = id; this.#sql = new SqlStorage(id); }
    get sql() { return this.#sql; }
    get(keys, options = undefined) {
      return settled(() => {
        if (Array.isArray(keys)) {
          const names = keys.map(keyOf);
          const values = ops.objectGet(this.#id, names);
          const found = new Map();
          names.forEach((name, i) => { if (values[i] != null) found.set(name, deserialize(values[i])); });
          return found;
        }
        return deserialize(ops.objectGet(this.#id, [keyOf(keys)])[0]);
      });
    }
    put(keyOrEntries, value = undefined, options = undefined) {
      return settled(() => {
        const flat = [];
        if (typeof keyOrEntries === 'object' && keyOrEntries !== null) {
          for (const [key, entry] of Object.entries(keyOrEntries)) {
            if (entry === undefined) throw new TypeError(`put() cannot store undefined (key "${key}").`);
            flat.push(key, serialize(entry));
          }
        } else {
          if (value === undefined) throw new TypeError('put() needs a value: undefined cannot be stored.');
          flat.push(keyOf(keyOrEntries), serialize(value));
        }
        ops.objectPut(this.#id, flat);
      });
    }
    delete(keys, options = undefined) {
      return settled(() => {
        if (Array.isArray(keys)) return ops.objectDelete(this.#id, keys.map(keyOf));
        return ops.objectDelete(this.#id, [keyOf(keys)]) > 0;
      });
    }
    list(options = {}) {
      return settled(() => {
        const { start, startAfter, end, prefix, reverse, limit } = options ?? {};
        if (limit !== undefined && !(Number(limit) > 0)) throw new TypeError('list(): limit must be a positive number.');
        const text = (value) => (value === undefined ? null : String(value));
        const bounds = [text(start), text(startAfter), text(end), text(prefix)];
        const flat = ops.objectList(this.#id, bounds, Boolean(reverse), limit === undefined ? null : Math.floor(Number(limit)));
        const found = new Map();
        for (let i = 0; i < flat.length; i += 2) found.set(flat[i], deserialize(flat[i + 1]));
        return found;
      });
    }
    deleteAll(options = undefined) { return settled(() => { ops.objectDeleteAll(this.#id); }); }
    // While it runs, no other event reaches the object and nothing is committed (the host's
    // gate), so its savepoint is its own.
    async transaction(closure) {
      const transaction = new DurableObjectTransaction(this);
      ops.objectBlock(this.#id, 1);
      try {
        ops.objectTransaction(this.#id, 'begin');
        let result;
        try {
          result = await closure(transaction);
        } catch (error) {
          ops.objectTransaction(this.#id, 'rollback');
          throw error;
        }
        ops.objectTransaction(this.#id, transaction.rolledBack ? 'rollback' : 'commit');
        return result;
      } finally {
        ops.objectBlock(this.#id, -1);
      }
    }
    transactionSync(closure) {
      ops.objectTransaction(this.#id, 'begin');
      let result;
      try {
        result = closure();
      } catch (error) {
        ops.objectTransaction(this.#id, 'rollback');
        throw error;
      }
      ops.objectTransaction(this.#id, 'commit');
      return result;
    }
    sync() { return settled(() => { ops.objectCommit(this.#id); }); }
    getAlarm(options = undefined) { return settled(() => ops.objectAlarm(this.#id) ?? null); }
    setAlarm(at, options = undefined) { return settled(() => { ops.objectSetAlarm(this.#id, time(at)); }); }
    deleteAlarm(options = undefined) { return settled(() => { ops.objectSetAlarm(this.#id, null); }); }
  }
  Object.defineProperty(DurableObjectStorage.prototype, Symbol.toStringTag, { value: 'DurableObjectStorage' });

  class WebSocketRequestResponsePair {
    #request; #response;
    constructor(request, response) { this.#request = String(request); this.#response = String(response); }
    get request() { return this.#request; }
    get response() { return this.#response; }
  }
  internals.defineGlobal('WebSocketRequestResponsePair', WebSocketRequestResponsePair);

  class DurableObjectState {
    #id; #storage; #binding;
    constructor(binding, id) {
      this.#binding = binding;
      this.#id = id;
      this.#storage = new DurableObjectStorage(binding);
    }
    get id() { return this.#id; }
    get storage() { return this.#storage; }
    waitUntil(promise) { Promise.resolve(promise).catch(internals.reportError); }
    async blockConcurrencyWhile(callback) {
      ops.objectBlock(this.#binding, 1);
      try {
        return await callback();
      } finally {
        ops.objectBlock(this.#binding, -1);
      }
    }
    // The hibernation API: sockets the server holds, whose events reach the object's
    // webSocketMessage, webSocketClose and webSocketError — recreated if it was evicted.
    acceptWebSocket(ws, tags = []) {
      if (!(ws instanceof WebSocket)) throw new TypeError('acceptWebSocket() takes a WebSocket.');
      tags = [...tags].map(String);
      if (tags.length > 10) throw new RangeError('A WebSocket may have at most 10 tags.');
      internals.holdSocket(ws, this.#binding, tags);
    }
    getWebSockets(tag = undefined) {
      return ops.objectSockets(this.#binding, tag === undefined ? null : String(tag))
        .map(([number, tags, attachment]) => internals.heldSocket(this.#binding, number, tags, attachment));
    }
    getTags(ws) { return internals.heldSocketTags(ws); }
    setWebSocketAutoResponse(pair = undefined) {
      ops.objectAutoResponse(this.#binding, pair ? [String(pair.request), String(pair.response)] : null);
    }
    getWebSocketAutoResponse() {
      const pair = ops.objectGetAutoResponse(this.#binding);
      return pair ? new WebSocketRequestResponsePair(pair[0], pair[1]) : null;
    }
    setHibernatableWebSocketEventTimeout(ms) {}
    getHibernatableWebSocketEventTimeout() { return null; }
    abort(reason) { throw reason instanceof Error ? reason : new Error(String(reason ?? 'The Durable Object was aborted.')); }
  }
  Object.defineProperty(DurableObjectState.prototype, Symbol.toStringTag, { value: 'DurableObjectState' });
  internals.makeObjectState = (binding, hex, name) => {
    internals.objectStateBinding = binding;
    return new DurableObjectState(binding, new DurableObjectId(hex, name ?? undefined));
  };
})
