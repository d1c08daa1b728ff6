test('parses and exposes components', () => {
  const u = new URL('https://user:pw@例え.jp:8080/a/../b/./c?x=1&y=%20#frag');
  assertEquals(u.href, 'https://user:pw@xn--r8jz45g.jp:8080/b/c?x=1&y=%20#frag');
  assertEquals([u.protocol, u.username, u.password, u.host, u.hostname, u.port], ['https:', 'user', 'pw', 'xn--r8jz45g.jp:8080', 'xn--r8jz45g.jp', '8080']);
  assertEquals([u.pathname, u.search, u.hash, u.origin], ['/b/c', '?x=1&y=%20', '#frag', 'https://xn--r8jz45g.jp:8080']);
  assertEquals(JSON.stringify({ u }), '{"u":"https://user:pw@xn--r8jz45g.jp:8080/b/c?x=1&y=%20#frag"}');
});
test('relative resolution and failures', () => {
  assertEquals(new URL('../x?q', 'http://h/a/b/c').href, 'http://h/a/x?q');
  assertEquals(new URL('//other/p', 'https://h/').href, 'https://other/p');
  assertThrows(() => new URL('nope'), TypeError);
  assertThrows(() => new URL('/p', 'not a base'), TypeError);
  assertEquals(URL.canParse('x', 'https://a/'), true);
  assertEquals(URL.canParse('x'), false);
  assertEquals(URL.parse('http://[::1'), null);
});
test('setters follow the URL standard', () => {
  const u = new URL('http://example.com/path');
  u.protocol = 'https';
  u.port = '443';
  assertEquals(u.href, 'https://example.com/path');
  u.port = '8443';
  u.hostname = 'other.test';
  u.pathname = 'a b';
  u.hash = 'h';
  u.search = 'q=1';
  assertEquals(u.href, 'https://other.test:8443/a%20b?q=1#h');
  u.protocol = 'mailto';
  assertEquals(u.protocol, 'https:');
});
test('searchParams stay linked to the URL', () => {
  const u = new URL('https://e.com/?a=1&b=2&a=3');
  assertEquals(u.searchParams.getAll('a'), ['1', '3']);
  u.searchParams.append('c', 'x y');
  assertEquals(u.search, '?a=1&b=2&a=3&c=x+y');
  u.searchParams.delete('a');
  assertEquals(u.href, 'https://e.com/?b=2&c=x+y');
  u.search = '?z=9';
  assertEquals([...u.searchParams], [['z', '9']]);
  u.searchParams.delete('z');
  assertEquals(u.href, 'https://e.com/');
});
test('URLSearchParams API', () => {
  const p = new URLSearchParams('?b=2&a=1&b=1&c=%F0%9F%98%80+x');
  assertEquals(p.get('c'), '😀 x');
  assertEquals(p.size, 4);
  p.sort();
  assertEquals(p.toString(), 'a=1&b=2&b=1&c=%F0%9F%98%80+x');
  p.set('b', '3');
  assertEquals(p.getAll('b'), ['3']);
  assert(p.has('a', '1') && !p.has('a', '2'));
  p.delete('a', '2');
  assert(p.has('a'));
  assertEquals(new URLSearchParams([['x', '1'], ['y', '2']]).toString(), 'x=1&y=2');
  assertEquals(new URLSearchParams({ k: 'v&w' }).toString(), 'k=v%26w');
  assertThrows(() => new URLSearchParams([['x']]), TypeError);
});
