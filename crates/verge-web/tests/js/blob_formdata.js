test('Blob joins parts and slices', async () => {
  const blob = new Blob(['ab', new Uint8Array([99]), new Blob(['d'])], { type: 'Text/Plain' });
  assertEquals([blob.size, blob.type], [4, 'text/plain']);
  assertEquals(await blob.text(), 'abcd');
  assertEquals(await blob.slice(1, 3).text(), 'bc');
  assertEquals(await blob.slice(-2).text(), 'cd');
  assertEquals(blob.slice(0, 1, 'x/y').type, 'x/y');
  assertEquals(Array.from(await blob.bytes()), [97, 98, 99, 100]);
  assertEquals(new Uint8Array(await blob.arrayBuffer()).length, 4);
  assertEquals(new Blob(['a\r\nb'], { endings: 'native' }).size, 3);
  assertThrows(() => new Blob('not a sequence'), TypeError);
});
test('Blob.stream reads the bytes', async () => {
  const chunks = [];
  for await (const c of new Blob(['x'.repeat(70000)]).stream()) chunks.push(c.byteLength);
  assertEquals(chunks, [65536, 4464]);
});
test('File has a name and lastModified', () => {
  const f = new File(['hi'], 'a.txt', { type: 'text/plain', lastModified: 42 });
  assertEquals([f.name, f.lastModified, f.size, f.type], ['a.txt', 42, 2, 'text/plain']);
  assert(f instanceof Blob);
  assertThrows(() => new File(['x']), TypeError);
});
test('FormData entries', () => {
  const form = new FormData();
  form.append('a', '1');
  form.append('a', '2');
  form.append('file', new Blob(['x']), 'x.bin');
  form.set('b', 3);
  assertEquals(form.getAll('a'), ['1', '2']);
  assertEquals(form.get('b'), '3');
  assertEquals(form.get('file').name, 'x.bin');
  assert(form.get('file') instanceof File);
  form.set('a', 'only');
  assertEquals([...form.keys()], ['a', 'file', 'b']);
  form.delete('file');
  assert(!form.has('file'));
});
test('multipart/form-data round trip through Request', async () => {
  const form = new FormData();
  form.append('name', 'Ada "the first"\nLovelace');
  form.append('upload', new File([new Uint8Array([0, 255, 10, 13])], 'data.bin', { type: 'application/octet-stream' }));
  const request = new Request('https://e.com/', { method: 'POST', body: form });
  assert(request.headers.get('content-type').startsWith('multipart/form-data; boundary='));
  const parsed = await request.formData();
  assertEquals(parsed.get('name'), 'Ada "the first"\r\nLovelace');
  const file = parsed.get('upload');
  assertEquals([file.name, file.type, Array.from(await file.bytes())], ['data.bin', 'application/octet-stream', [0, 255, 10, 13]]);
});
test('urlencoded formData and blob() on Response', async () => {
  const form = await new Response('a=1&b=x+y', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }).formData();
  assertEquals([...form], [['a', '1'], ['b', 'x y']]);
  await assertRejects(() => new Response('x', { headers: { 'content-type': 'text/plain' } }).formData(), TypeError);
  const blob = await new Response('hello', { headers: { 'content-type': 'text/plain' } }).blob();
  assertEquals([blob.type, await blob.text()], ['text/plain', 'hello']);
  const fromBlob = new Response(new Blob(['b'], { type: 'image/png' }));
  assertEquals(fromBlob.headers.get('content-type'), 'image/png');
});
test('Response.body streams strings and bytes; stream bodies read once', async () => {
  const r = new Response('streamed');
  const reader = r.body.getReader();
  const { value } = await reader.read();
  assertEquals(new TextDecoder().decode(value), 'streamed');
  assert(r.bodyUsed);
  const s = new Response(ReadableStream.from([new Uint8Array([97]), new Uint8Array([98])]));
  assertEquals(await s.text(), 'ab');
  await assertRejects(() => s.text(), TypeError);
  await assertRejects(() => new Response(ReadableStream.from(['not bytes'])).text(), TypeError);
  const consumed = new Response('x');
  await consumed.text();
  assert(consumed.bodyUsed);
  assertThrows(() => consumed.body.getReader(), TypeError);
  const c = new Response(ReadableStream.from([new Uint8Array([104, 105])]));
  const copy = c.clone();
  assertEquals([await c.text(), await copy.text()], ['hi', 'hi']);
  assertEquals(new Response(null).body, null);
});
