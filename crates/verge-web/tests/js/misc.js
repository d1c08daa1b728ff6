test('structuredClone: types, cycles, shared references', () => {
  const shared = { n: 1 };
  const v = { a: [shared, shared], d: new Date(5), r: /x/gi, m: new Map([[1, 'one']]), s: new Set([1]),
    u: new Uint16Array([1, 2]), big: 10n, e: new RangeError('bad'), nested: { deep: [undefined, null, NaN] } };
  v.self = v;
  const c = structuredClone(v);
  assert(c !== v && c.self === c);
  assert(c.a[0] === c.a[1] && c.a[0] !== shared);
  assertEquals([c.d.getTime(), c.r.source, c.r.flags, c.m.get(1), c.s.has(1), Array.from(c.u), c.big], [5, 'x', 'gi', 'one', true, [1, 2], 10n].map((x) => (typeof x === 'bigint' ? x : x)));
  assert(c.u instanceof Uint16Array);
  assert(c.e instanceof RangeError && c.e.message === 'bad');
  assert(Number.isNaN(c.nested.deep[2]));
});
test('structuredClone refuses what cannot be cloned', () => {
  const e = assertThrows(() => structuredClone({ f() {} }), DOMException);
  assertEquals(e.name, 'DataCloneError');
  assertThrows(() => structuredClone(Symbol('s')), DOMException);
  assertThrows(() => structuredClone(new Headers()), DOMException);
  assertThrows(() => structuredClone(new WeakMap()), DOMException);
  assertThrows(() => structuredClone(), TypeError);
});
test('crypto.getRandomValues and randomUUID', () => {
  const a = crypto.getRandomValues(new Uint8Array(32));
  const b = crypto.getRandomValues(new Uint8Array(32));
  assert(a.some((x, i) => x !== b[i]));
  const u32 = crypto.getRandomValues(new Uint32Array(4));
  assert(u32 instanceof Uint32Array);
  assertEquals(assertThrows(() => crypto.getRandomValues(new Float64Array(1)), DOMException).name, 'TypeMismatchError');
  assertEquals(assertThrows(() => crypto.getRandomValues(new Uint8Array(65537)), DOMException).name, 'QuotaExceededError');
  const ids = new Set(Array.from({ length: 100 }, () => crypto.randomUUID()));
  assertEquals(ids.size, 100);
  for (const id of ids) assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id), id);
});
test('DOMException', () => {
  const e = new DOMException('msg', 'NotFoundError');
  assertEquals([e.name, e.message, e.code], ['NotFoundError', 'msg', 8]);
  assert(e instanceof Error);
  assertEquals(DOMException.ABORT_ERR, 20);
  assertEquals(new DOMException().name, 'Error');
});
test('console prints objects readably', () => {
  takeConsole();
  console.log('str', 1, { a: 'x', b: [1, { c: null }] }, new Map([['k', 1]]), [undefined]);
  console.warn('%s is %d years', 'Ada', 36.5, 'extra');
  console.error(new TypeError('bad thing'));
  console.log(new Headers({ a: '1' }), new URL('https://e.com/'));
  const circular = { name: 'loop' };
  circular.self = circular;
  console.debug(circular);
  const lines = takeConsole();
  assertEquals(lines[0], "Log: str 1 { a: 'x', b: [ 1, { c: null } ] } Map(1) { 'k' => 1 } [ undefined ]");
  assertEquals(lines[1], 'Warn: Ada is 36.5 years extra');
  assert(lines[2].startsWith('Error: TypeError: bad thing'), lines[2]);
  assertEquals(lines[3], "Log: Headers(1) { 'a' => '1' } URL { 'https://e.com/' }");
  assertEquals(lines[4], "Debug: { name: 'loop', self: [Circular] }");
});
test('navigator and the global scope', () => {
  assertEquals(navigator.userAgent, 'Cloudflare-Workers');
  assertEquals(self, globalThis);
  assertEquals(Object.keys(globalThis).includes('Request'), false);
  assertEquals(typeof ops, 'undefined');
  assertEquals(typeof internals, 'undefined');
});
test('code generation from strings is refused with an EvalError', () => {
  for (const generate of [
    () => eval('1 + 1'),
    () => (0, eval)('1 + 1'),
    () => new Function('return 1'),
    () => Function('return 1'),
    () => (function () {}).constructor('return 1'),
    () => (async function () {}).constructor('return 1'),
    () => (function* () {}).constructor('yield 1'),
    () => Object.getPrototypeOf(async function* () {}).constructor('yield 1'),
    () => Reflect.construct(Function, ['return 1']),
  ]) {
    const error = assertThrows(generate, EvalError);
    assertEquals(error.message, 'Code generation from strings disallowed for this context');
  }
  assert((() => {}) instanceof Function);
  assertEquals(typeof Function.prototype.call, 'function');
  assertEquals(Function.name, 'Function');
});
