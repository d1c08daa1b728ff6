test('Request defaults and normalization', () => {
  const r = new Request('https://example.com/a?b', { method: 'post', body: 'x' });
  assertEquals(r.method, 'POST');
  assertEquals(r.url, 'https://example.com/a?b');
  assertEquals(r.redirect, 'follow');
  assertEquals(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assertEquals(new Request('https://e.com', { method: 'patch' }).method, 'PATCH');
  assertEquals(new Request('https://e.com', { method: 'custom' }).method, 'custom');
});
test('Request rejects bad input', () => {
  assertThrows(() => new Request('/relative'), TypeError);
  assertThrows(() => new Request('https://e.com', { method: 'GET', body: 'x' }), TypeError);
  assertThrows(() => new Request('https://e.com', { method: 'bad method' }), TypeError);
  assertThrows(() => new Request('https://e.com', { method: 'CONNECT' }), TypeError);
  assertThrows(() => new Request('https://e.com', { redirect: 'nope' }), TypeError);
});
test('Request from Request copies and consumes', async () => {
  const a = new Request('https://e.com/', { method: 'PUT', body: 'data', headers: { x: '1' } });
  const b = new Request(a, { headers: { y: '2' } });
  assertEquals(b.method, 'PUT');
  assertEquals(b.headers.get('y'), '2');
  assertEquals(b.headers.get('x'), null);
  assertEquals(await b.text(), 'data');
  assert(a.bodyUsed);
});
test('Request.clone keeps the body readable twice', async () => {
  const a = new Request('https://e.com/', { method: 'POST', body: '{"k":1}' });
  const b = a.clone();
  assertEquals(await a.json(), { k: 1 });
  assertEquals(await b.text(), '{"k":1}');
  assertThrows(() => a.clone(), TypeError);
});
test('Response basics', async () => {
  const r = new Response('hi', { status: 201, statusText: 'Created', headers: { a: 'b' } });
  assertEquals([r.status, r.statusText, r.ok, r.type, r.url, r.redirected], [201, 'Created', true, 'default', '', false]);
  assertEquals(await r.text(), 'hi');
  assert(r.bodyUsed);
  await assertRejects(() => r.text(), TypeError);
  const empty = new Response();
  assertEquals(empty.status, 200);
  assertEquals(await empty.text(), '');
  assertEquals(empty.bodyUsed, false);
});
test('Response validates status and null-body statuses', () => {
  assertThrows(() => new Response('x', { status: 199 }), RangeError);
  assertThrows(() => new Response('x', { status: 600 }), RangeError);
  assertThrows(() => new Response('x', { status: 204 }), TypeError);
  assertEquals(new Response(null, { status: 204 }).status, 204);
  assertThrows(() => new Response('x', { statusText: 'bad\n' }), TypeError);
});
test('Response.json, redirect and error', async () => {
  const j = Response.json({ a: [1] }, { status: 202, headers: { 'x-y': 'z' } });
  assertEquals(j.status, 202);
  assertEquals(j.headers.get('content-type'), 'application/json');
  assertEquals(j.headers.get('x-y'), 'z');
  assertEquals(await j.json(), { a: [1] });
  assertEquals(Response.json('x', { headers: { 'content-type': 'application/vnd.api+json' } }).headers.get('content-type'), 'application/vnd.api+json');
  assertThrows(() => Response.json(undefined), TypeError);
  assertThrows(() => Response.json({}, { status: 204 }), TypeError);
  assertThrows(() => Response.json({}, { status: 99 }), RangeError);
  const headers = new Headers({ 'x-y': 'z' });
  const fromHeaders = Response.json('é', { headers, statusText: 'Fine' });
  assertEquals([fromHeaders.statusText, fromHeaders.headers.get('x-y'), await fromHeaders.text()], ['Fine', 'z', '"é"']);
  assertEquals(headers.has('content-type'), false);
  const r = Response.redirect('https://e.com/next', 301);
  assertEquals([r.status, r.headers.get('location')], [301, 'https://e.com/next']);
  assertEquals(Response.redirect('https://e.com/').status, 302);
  assertThrows(() => Response.redirect('https://e.com/', 200), RangeError);
  assertThrows(() => r.headers.set('x', 'y'), TypeError);
  const e = Response.error();
  assertEquals([e.status, e.type], [0, 'error']);
});
test('bodies from buffers, views and URLSearchParams', async () => {
  const bytes = new Uint8Array([104, 105, 33]);
  assertEquals(await new Response(bytes).text(), 'hi!');
  assertEquals(await new Response(bytes.buffer).text(), 'hi!');
  assertEquals(await new Response(new DataView(bytes.buffer, 1)).text(), 'i!');
  const copy = new Uint8Array(await new Response('héllo').arrayBuffer());
  assertEquals(copy.length, 6);
  assertEquals(Array.from(await new Response('ab').bytes()), [97, 98]);
  const form = new Response(new URLSearchParams({ a: '1 2', b: 'é' }));
  assertEquals(form.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
  assertEquals(await form.text(), 'a=1+2&b=%C3%A9');
  await assertRejects(() => new Response('{bad').json(), SyntaxError);
});
test('Response.clone tees the body', async () => {
  const a = new Response('twice');
  const b = a.clone();
  assertEquals(await a.text(), 'twice');
  assertEquals(await b.text(), 'twice');
});
