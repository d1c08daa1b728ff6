// A minimal test harness for the per-API unit tests: test(), assertions, and a runner the Rust
// side awaits. Tests may be async.
const __tests = [];
function test(name, fn) { __tests.push({ name, fn }); }
function show(v) {
  try { return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v); } catch { return String(v); }
}
function assert(condition, message = 'assertion failed') { if (!condition) throw new Error(message); }
function assertEquals(actual, expected, message = '') {
  const a = show(actual), e = show(expected);
  if (a !== e || (typeof actual !== typeof expected)) throw new Error(`${message} expected ${e} (${typeof expected}), got ${a} (${typeof actual})`);
}
function assertThrows(fn, type, message = '') {
  try { fn(); } catch (error) {
    if (type && !(error instanceof type) && error?.name !== type.name) throw new Error(`${message} threw ${error?.name}: ${error?.message}, expected ${type.name}`);
    return error;
  }
  throw new Error(`${message} did not throw`);
}
async function assertRejects(fn, type, message = '') {
  try { await fn(); } catch (error) {
    if (type && !(error instanceof type) && error?.name !== type.name) throw new Error(`${message} rejected with ${error?.name}: ${error?.message}, expected ${type.name}`);
    return error;
  }
  throw new Error(`${message} did not reject`);
}
async function __run() {
  const names = [], errors = [];
  for (const t of __tests) {
    names.push(t.name);
    try { await t.fn(); errors.push(null); } catch (error) { errors.push(`${error?.message ?? error}\n${error?.stack ?? ''}`.trimEnd()); }
  }
  return { names, errors };
}
