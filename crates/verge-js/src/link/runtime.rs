//! The registry a linked script carries: `define` for each module, then `start` for the entry.

/// Records modules (their imports and exports as arrays of pairs: an object literal's
/// `"__proto__"` key would set its prototype), instantiates them (each module's function is a
/// generator, stopped after it has handed over its getters) and evaluates them. A module's
/// exports are `[name, 0, local]` (a binding of its own, read through the getters its function hands over
/// first), `[name, 1, module, export]` (another module's export) or `[name, 2, module]`
/// (another's namespace), sorted by name.
pub(super) const RUNTIME: &str = r#"const records = new Map();
function define(id, deps, imports, exports, isAsync, body) {
  records.set(id, { id, deps, imports: new Map(imports), exports, isAsync, body, ns: null, locals: null, state: 0, done: undefined, error: undefined });
}
function record(id) {
  const found = records.get(id);
  if (found === undefined) throw new TypeError(`Cannot find module '${id}'`);
  return found;
}
function namespaceOf(record) {
  if (record.ns !== null) return record.ns;
  const ns = Object.create(null);
  record.ns = ns;
  for (const [name, kind, a, b] of record.exports) {
    let get;
    if (kind === 0) {
      get = () => {
        if (record.locals === null) throw new ReferenceError(`Cannot access '${name}' before initialization`);
        return record.locals[a]();
      };
    } else if (kind === 1) {
      get = () => namespaceOf(records.get(a))[b];
    } else {
      get = () => namespaceOf(records.get(a));
    }
    Object.defineProperty(ns, name, { get, set: undefined, enumerable: true, configurable: false });
  }
  Object.defineProperty(ns, Symbol.toStringTag, { value: 'Module' });
  Object.preventExtensions(ns);
  return ns;
}
function dynamicImport(from, specifier) {
  const id = from.imports.get(String(specifier));
  if (id === undefined) {
    return Promise.reject(new TypeError(`Cannot find module '${String(specifier)}' imported from ${from.id}`));
  }
  return Promise.resolve().then(() => evaluate(record(id))).then(() => namespaceOf(record(id)));
}
// Evaluates `record` after its dependencies; gives a promise when it or one of them waits.
function evaluate(record) {
  if (record.state === 2) {
    if (record.error !== undefined) throw record.error.value;
    return record.done;
  }
  if (record.state === 1) return undefined;
  record.state = 1;
  const waits = [];
  try {
    for (const dep of record.deps) {
      const done = evaluate(records.get(dep));
      if (done !== undefined) waits.push(done);
    }
  } catch (error) {
    record.state = 2;
    record.error = { value: error };
    throw error;
  }
  // The body, past the `yield` where instantiation stopped it.
  const run = () => record.isAsync ? record.body.next() : void record.body.next();
  const fail = (error) => {
    record.error = { value: error };
    throw error;
  };
  let done;
  try {
    if (waits.length > 0) done = Promise.all(waits).then(run).then(undefined, fail);
    else if (record.isAsync) done = run().then(undefined, fail);
    else run();
  } catch (error) {
    record.state = 2;
    fail(error);
  }
  record.state = 2;
  record.done = done;
  return done;
}
// Runs each module's function up to its `yield`: its bindings exist (function declarations
// initialized, the rest in their temporal dead zone) and its getters are handed over, before
// any module is evaluated, as instantiation does for real modules.
function instantiate() {
  for (const record of records.values()) {
    const deps = record.deps.map((dep) => namespaceOf(records.get(dep)));
    const meta = { url: record.id };
    record.body = record.body.call(undefined, deps, (locals) => { record.locals = locals; }, meta,
      (specifier) => dynamicImport(record, specifier));
    record.body.next();
  }
}
function start(id) {
  const entry = record(id);
  instantiate();
  return Promise.resolve().then(() => evaluate(entry)).then(() => namespaceOf(entry));
}
"#;
