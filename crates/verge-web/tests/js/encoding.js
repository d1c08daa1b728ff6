test('TextEncoder encodes UTF-8 and replaces lone surrogates', () => {
  const e = new TextEncoder();
  assertEquals(e.encoding, 'utf-8');
  assertEquals(Array.from(e.encode('aé€😀')), [97, 195, 169, 226, 130, 172, 240, 159, 152, 128]);
  assertEquals(Array.from(e.encode('\uD800')), [239, 191, 189]);
  assertEquals(e.encode().length, 0);
});
test('encodeInto reports read and written', () => {
  const dest = new Uint8Array(5);
  const { read, written } = new TextEncoder().encodeInto('a😀b', dest);
  assertEquals([read, written], [3, 5]);
  assertEquals(Array.from(dest), [97, 240, 159, 152, 128]);
});
test('TextDecoder labels, BOM and fatal mode', () => {
  assertEquals(new TextDecoder('latin1').encoding, 'windows-1252');
  assertEquals(new TextDecoder(' UTF8 ').encoding, 'utf-8');
  assertThrows(() => new TextDecoder('no-such-encoding'), RangeError);
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]);
  assertEquals(new TextDecoder().decode(bom), 'hi');
  assertEquals(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bom), '\uFEFFhi');
  assertEquals(new TextDecoder().decode(new Uint8Array([0xff, 0x41])), '\uFFFDA');
  assertThrows(() => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])), TypeError);
  assertEquals(new TextDecoder('windows-1252').decode(new Uint8Array([0x80, 0xe9])), '€é');
  assertEquals(new TextDecoder('shift_jis').decode(new Uint8Array([0x82, 0xa0])), 'あ');
  assertEquals(new TextDecoder('utf-16le').decode(new Uint8Array([0x3d, 0xd8, 0x00, 0xde])), '😀');
});
test('streaming decode joins split sequences', () => {
  const d = new TextDecoder();
  const bytes = new TextEncoder().encode('€😀');
  let out = '';
  for (const b of bytes) out += d.decode(new Uint8Array([b]), { stream: true });
  out += d.decode();
  assertEquals(out, '€😀');
  assertEquals(d.decode(new Uint8Array([0xe2, 0x82]), { stream: false }), '\uFFFD');
});
test('decode accepts ArrayBuffer and views', () => {
  const buf = new TextEncoder().encode('xyz').buffer;
  assertEquals(new TextDecoder().decode(buf), 'xyz');
  assertEquals(new TextDecoder().decode(new DataView(buf, 1)), 'yz');
  assertThrows(() => new TextDecoder().decode('str'), TypeError);
});
test('atob and btoa', () => {
  assertEquals(btoa('Hello, world'), 'SGVsbG8sIHdvcmxk');
  assertEquals(btoa('\xff\xfe'), '//4=');
  assertEquals(atob(' SGVs bG8= '), 'Hello');
  assertEquals(atob('//4='), '\xff\xfe');
  assertThrows(() => btoa('€'), DOMException);
  const error = assertThrows(() => atob('a'), DOMException);
  assertEquals(error.name, 'InvalidCharacterError');
  assertEquals(error.code, 5);
});
