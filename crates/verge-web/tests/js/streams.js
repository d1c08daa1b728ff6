const collect = async (stream) => { const out = []; for await (const c of stream) out.push(c); return out; };
test('ReadableStream: enqueue, close, read in order', async () => {
  const s = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
  assertEquals(await collect(s), ['a', 'b']);
});
test('pull is driven by demand (backpressure)', async () => {
  let pulls = 0;
  const s = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); if (pulls === 5) c.close(); } }, { highWaterMark: 2 });
  await new Promise((r) => setTimeout(r, 5));
  assertEquals(pulls, 2, 'pulled only up to the high-water mark before any read');
  assertEquals(await collect(s), [1, 2, 3, 4, 5]);
});
test('reader locking and releaseLock', async () => {
  const s = new ReadableStream();
  const r = s.getReader();
  assert(s.locked);
  assertThrows(() => s.getReader(), TypeError);
  r.releaseLock();
  assert(!s.locked);
  await assertRejects(() => r.read(), TypeError);
});
test('errors reach readers; cancel calls the source', async () => {
  const s = new ReadableStream({ start(c) { c.error(new RangeError('bad')); } });
  await assertRejects(() => s.getReader().read(), RangeError);
  let reason;
  const t = new ReadableStream({ cancel(r) { reason = r; } });
  await t.cancel('stop');
  assertEquals(reason, 'stop');
});
test('tee gives both branches every chunk', async () => {
  const s = ReadableStream.from(['x', 'y', 'z']);
  const [a, b] = s.tee();
  const [ra, rb] = await Promise.all([collect(a), collect(b)]);
  assertEquals([ra, rb], [['x', 'y', 'z'], ['x', 'y', 'z']]);
});
test('ReadableStream.from async generators', async () => {
  async function* gen() { yield 1; await null; yield 2; }
  assertEquals(await collect(ReadableStream.from(gen())), [1, 2]);
  assertThrows(() => ReadableStream.from(5), TypeError);
});
test('async iteration with break cancels the stream', async () => {
  let cancelled = false;
  const s = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel() { cancelled = true; } });
  for await (const v of s) { assertEquals(v, 1); break; }
  assert(cancelled);
});
test('WritableStream with backpressure and close', async () => {
  const written = [];
  const w = new WritableStream({
    write(chunk) { return new Promise((r) => setTimeout(() => { written.push(chunk); r(); }, 1)); },
  }, { highWaterMark: 2 });
  const writer = w.getWriter();
  assertEquals(writer.desiredSize, 2);
  writer.write('a'); writer.write('b');
  assertEquals(writer.desiredSize, 0);
  await writer.ready;
  await writer.write('c');
  await writer.close();
  assertEquals(written, ['a', 'b', 'c']);
  await writer.closed;
});
test('WritableStream errors reject writes', async () => {
  const w = new WritableStream({ write() { throw new TypeError('sink failed'); } });
  const writer = w.getWriter();
  await assertRejects(() => writer.write('x'), TypeError);
  await assertRejects(() => writer.closed, TypeError);
});
test('pipeTo and pipeThrough a TransformStream', async () => {
  const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); }, flush(c) { c.enqueue('!'); } });
  const out = [];
  await ReadableStream.from(['a', 'b']).pipeThrough(upper).pipeTo(new WritableStream({ write(c) { out.push(c); } }));
  assertEquals(out, ['A', 'B', '!']);
});
test('pipeTo with an AbortSignal', async () => {
  const controller = new AbortController();
  const s = new ReadableStream({ pull(c) { c.enqueue(1); } });
  const p = s.pipeTo(new WritableStream({ write() { controller.abort(new Error('enough')); } }), { signal: controller.signal });
  const e = await assertRejects(() => p, Error);
  assertEquals(e.message, 'enough');
});
test('byte streams: default and BYOB readers', async () => {
  const s = new ReadableStream({
    type: 'bytes',
    start(c) { c.enqueue(new Uint8Array([1, 2, 3, 4, 5])); c.close(); },
  });
  const reader = s.getReader({ mode: 'byob' });
  const first = await reader.read(new Uint8Array(3));
  assertEquals(Array.from(first.value), [1, 2, 3]);
  const second = await reader.read(new Uint8Array(3));
  assertEquals(Array.from(second.value), [4, 5]);
  const end = await reader.read(new Uint8Array(3));
  assert(end.done);
});
test('byte streams: byobRequest with autoAllocateChunkSize', async () => {
  let n = 0;
  const s = new ReadableStream({
    type: 'bytes', autoAllocateChunkSize: 4,
    pull(c) {
      const view = c.byobRequest.view;
      view[0] = ++n;
      c.byobRequest.respond(1);
      if (n === 3) c.close();
    },
  });
  const chunks = await collect(s);
  assertEquals(chunks.map((c) => Array.from(c)), [[1], [2], [3]]);
});
test('queuing strategies', () => {
  assertEquals(new ByteLengthQueuingStrategy({ highWaterMark: 16 }).size(new Uint8Array(5)), 5);
  assertEquals(new CountQueuingStrategy({ highWaterMark: 2 }).size('x'), 1);
  assertThrows(() => new ReadableStream({}, { highWaterMark: -1 }), RangeError);
});
