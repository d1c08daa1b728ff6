test('names are case-insensitive and values combine', () => {
  const h = new Headers({ 'Content-Type': 'text/plain' });
  h.append('X-Multi', 'a');
  h.append('x-multi', 'b');
  assertEquals(h.get('content-type'), 'text/plain');
  assertEquals(h.get('X-MULTI'), 'a, b');
  assert(h.has('x-multi'));
  h.delete('X-Multi');
  assertEquals(h.get('x-multi'), null);
});
test('Set-Cookie values stay apart', () => {
  const h = new Headers();
  h.append('Set-Cookie', 'a=1; Path=/');
  h.append('Set-Cookie', 'b=2, with comma');
  assertEquals(h.getSetCookie(), ['a=1; Path=/', 'b=2, with comma']);
  assertEquals([...h], [['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2, with comma']]);
  assertEquals(h.getAll('set-cookie').length, 2);
  assertThrows(() => h.getAll('x-other'), TypeError);
});
test('iteration is sorted and lower-cased', () => {
  const h = new Headers([['B', '2'], ['a', '1'], ['C', '3']]);
  assertEquals([...h.keys()], ['a', 'b', 'c']);
  assertEquals([...h.values()], ['1', '2', '3']);
  const seen = [];
  h.forEach((value, name) => seen.push(name + '=' + value));
  assertEquals(seen, ['a=1', 'b=2', 'c=3']);
});
test('values are trimmed; invalid names and values throw', () => {
  const h = new Headers();
  h.set('x', '  padded\t');
  assertEquals(h.get('x'), 'padded');
  assertThrows(() => h.set('bad name', 'x'), TypeError);
  assertThrows(() => h.set('x', 'a\r\nb'), TypeError);
  assertThrows(() => new Headers([['only-one']]), TypeError);
  assertThrows(() => new Headers(42), TypeError);
});
test('copying from Headers and records', () => {
  const a = new Headers({ x: '1' });
  const b = new Headers(a);
  b.set('x', '2');
  assertEquals(a.get('x'), '1');
  assertEquals(Object.prototype.toString.call(a), '[object Headers]');
});
test('the constructor appends without the prototype\'s append', () => {
  const original = Headers.prototype.append;
  Headers.prototype.append = () => { throw new Error('replaced append called'); };
  try {
    const h = new Headers([['a', '1'], ['A', '2']]);
    assertEquals(h.get('a'), '1, 2');
    assertEquals(new Headers({ b: ' 3 ' }).get('b'), '3');
    assertThrows(() => new Headers({ 'bad name': 'x' }), TypeError);
  } finally {
    Headers.prototype.append = original;
  }
});
