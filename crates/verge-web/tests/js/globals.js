// The lazy globals (see js/install.js) behave as the own properties they become. This file runs
// in a fresh isolate: nothing below is loaded before its first test touches it.
test('a lazy global is there before its file loads, and loads on first use', () => {
  assert('TextEncoder' in globalThis);
  assert(Reflect.has(globalThis, 'TextDecoder'));
  assertEquals(typeof URLSearchParams, 'function');
  const url = Object.getOwnPropertyDescriptor(globalThis, 'URL');
  assertEquals([url.writable, url.enumerable, url.configurable], [true, false, true]);
  assertEquals(new URL('/a?b', 'https://x.example').href, 'https://x.example/a?b');
});
test('a script that assigns a lazy global first keeps its own value', () => {
  globalThis.atob = (s) => `mine: ${s}`;
  assertEquals(btoa('hi'), 'aGk=');
  assertEquals(atob('x'), 'mine: x');
});
test('the engine\'s own globals of the same name give way to the Workers ones', () => {
  assert(performance instanceof Performance);
  assert(performance.timeOrigin > 1.6e12);
});
test('names nobody defines are still missing', () => {
  assertEquals(typeof NoSuchGlobal, 'undefined');
  assertThrows(() => NoSuchGlobal, ReferenceError);
  assert(!('NoSuchGlobal' in globalThis));
  assertEquals(globalThis.hasOwnProperty, Object.prototype.hasOwnProperty);
});
test('a loaded global that a script deletes is gone, as any other', () => {
  assertEquals(typeof URL, 'function');
  delete globalThis.URL;
  assertThrows(() => URL, ReferenceError);
  assert(!('URL' in globalThis));
});
