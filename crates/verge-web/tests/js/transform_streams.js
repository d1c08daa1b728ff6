const collect = async (stream) => { const out = []; for await (const c of stream) out.push(c); return out; };
const concat = (chunks) => { const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0)); let o = 0; for (const c of chunks) { out.set(c, o); o += c.byteLength; } return out; };
test('TextEncoderStream joins surrogate pairs split across chunks', async () => {
  const s = ReadableStream.from(['a\uD83D', '\uDE00b']).pipeThrough(new TextEncoderStream());
  assertEquals(Array.from(concat(await collect(s))), [97, 240, 159, 152, 128, 98]);
});
test('TextDecoderStream decodes multi-byte sequences split across chunks', async () => {
  const bytes = new TextEncoder().encode('€😀');
  const s = ReadableStream.from(Array.from(bytes, (b) => new Uint8Array([b]))).pipeThrough(new TextDecoderStream());
  assertEquals((await collect(s)).join(''), '€😀');
});
for (const format of ['gzip', 'deflate', 'deflate-raw']) {
  test(`${format}: compress then decompress round-trips`, async () => {
    const input = new TextEncoder().encode('hello '.repeat(10000));
    const compressed = concat(await collect(new Blob([input]).stream().pipeThrough(new CompressionStream(format))));
    assert(compressed.byteLength < input.byteLength / 10, `compressed to ${compressed.byteLength}`);
    const restored = concat(await collect(new Blob([compressed]).stream().pipeThrough(new DecompressionStream(format))));
    assertEquals(restored.byteLength, input.byteLength);
    assertEquals(new TextDecoder().decode(restored.subarray(0, 12)), 'hello hello ');
  });
}
test('corrupt or truncated input errors the stream', async () => {
  const corrupt = ReadableStream.from([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])]).pipeThrough(new DecompressionStream('gzip'));
  await assertRejects(() => collect(corrupt), TypeError);
  const whole = concat(await collect(ReadableStream.from([new TextEncoder().encode('abc'.repeat(100))]).pipeThrough(new CompressionStream('gzip'))));
  const truncated = ReadableStream.from([whole.subarray(0, whole.byteLength - 6)]).pipeThrough(new DecompressionStream('gzip'));
  await assertRejects(() => collect(truncated), TypeError);
  assertThrows(() => new CompressionStream('zip'), TypeError);
});
