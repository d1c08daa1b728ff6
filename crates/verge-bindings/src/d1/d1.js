// SQL databases (the D1 API): what a `d1_databases` binding puts on `env`. Statements run in the
// store (mod.rs beside this file), a batch as one transaction; SQL errors reject with D1's `D1_ERROR: …`.
(function (ops, internals) {
  const ID = Symbol('d1Database');

  // A bound value as the store takes it, or D1's type error.
  function param(value) {
    switch (typeof value) {
      case 'string':
      case 'number':
        return value;
      case 'bigint':
        // Ops take data, which has no bigints: one crosses as its decimal text, in a list.
        return [String(value)];
      case 'boolean':
        return value ? 1 : 0;
      case 'object':
        if (value === null) return null;
        if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return internals.toBytes(value, 'D1 bind');
        break;
    }
    throw new TypeError(`D1_TYPE_ERROR: Type '${typeof value}' not supported for value '${String(value)}'`);
  }

  // The store's rejection as D1 throws it: the message prefixed, the original as its cause.
  async function d1Call(call) {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TypeError) throw error;
      throw new Error(`D1_ERROR: ${error.message}`, { cause: error });
    }
  }

  // Runs `queries` as one batch; BLOBs come as bytes and are given as D1 gives them, arrays of
  // byte values (made here, in the isolate's metered heap).
  async function runBatch(id, queries) {
    const outcomes = await d1Call(() => ops.d1Batch(id, queries));
    for (const [, rows] of outcomes) {
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) if (row[i] instanceof Uint8Array) row[i] = Array.from(row[i]);
      }
    }
    return outcomes;
  }

  function result([columns, rows, [duration, changes, lastRowId, wrote, size]], shape) {
    const results = shape === 'raw' ? rows : rows.map((row) => rowObject(columns, row));
    return {
      success: true,
      meta: {
        served_by: 'verge',
        duration,
        changes,
        last_row_id: lastRowId,
        changed_db: wrote,
        size_after: size,
        rows_read: rows.length,
        rows_written: changes,
      },
      results,
    };
  }

  function rowObject(columns, row) {
    const object = {};
    for (let i = 0; i < columns.length; i++) object[columns[i]] = row[i];
    return object;
  }

  class D1PreparedStatement {
    #id;
    #sql;
    #params;
    constructor(id, sql, params) {
      this.#id = id;
      this.#sql = sql;
      this.#params = params;
    }

    bind(...values) {
      return new D1PreparedStatement(this.#id, this.#sql, values.map(param));
    }

    // `[sql, params]`, for batch(): only statements of the same database may go together.
    static query(statement, id) {
      if (!(#id in Object(statement))) throw new TypeError('D1 batch() takes an array of prepared statements.');
      if (statement.#id !== id) throw new TypeError('A D1 batch may only hold statements of its own database.');
      return [statement.#sql, statement.#params];
    }

    async #run() {
      const [outcome] = await runBatch(this.#id, [[this.#sql, this.#params]]);
      return outcome;
    }

    async first(column = undefined) {
      const [columns, rows] = await this.#run();
      if (rows.length === 0) return null;
      const row = rowObject(columns, rows[0]);
      if (column === undefined) return row;
      if (!columns.includes(column)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
      return row[column];
    }

    async all() {
      return result(await this.#run(), 'objects');
    }

    async run() {
      return result(await this.#run(), 'objects');
    }

    async raw(options = undefined) {
      const [columns, rows] = await this.#run();
      return options?.columnNames ? [columns, ...rows] : rows;
    }
  }
  Object.defineProperty(D1PreparedStatement.prototype, Symbol.toStringTag, { value: 'D1PreparedStatement' });

  class D1Database {
    constructor(id) { this[ID] = id; }

    prepare(query) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'prepare' on 'D1Database': 1 argument required.");
      return new D1PreparedStatement(this[ID], String(query), []);
    }

    async batch(statements) {
      if (!Array.isArray(statements)) throw new TypeError('D1 batch() takes an array of prepared statements.');
      const queries = statements.map((statement) => D1PreparedStatement.query(statement, this[ID]));
      if (queries.length === 0) return [];
      const outcomes = await runBatch(this[ID], queries);
      return outcomes.map((outcome) => result(outcome, 'objects'));
    }

    // As on D1, each line is a statement of its own (a statement may not span lines); all of
    // them run in one transaction here. A `;` on a line between them ends each line's last
    // statement, even one that ends in a comment.
    async exec(query) {
      const script = String(query).trim().split('\n').join('\n;\n');
      const [count, duration] = await d1Call(() => ops.d1Exec(this[ID], script));
      return { count, duration };
    }

    // Sessions order reads after writes across replicas; one database has one copy, so a
    // session is the database itself, with no bookmark to carry.
    withSession(_constraint = undefined) {
      const db = this;
      return {
        prepare: (query) => db.prepare(query),
        batch: (statements) => db.batch(statements),
        getBookmark: () => null,
      };
    }

    async dump() {
      throw new Error('D1_ERROR: dump() is not supported; copy the database file instead.');
    }
  }
  Object.defineProperty(D1Database.prototype, Symbol.toStringTag, { value: 'D1Database' });

  internals.makeD1Database = (id) => new D1Database(id);
})
