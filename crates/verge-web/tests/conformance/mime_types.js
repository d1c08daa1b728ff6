// WPT mimesniff/mime-types/parsing.any.js, driven by mime-types.json and
// generated-mime-types.json: the MIME type parser and serializer through Blob/File types and the
// `blob()` of a Request or Response carrying the input as its Content-Type.
const seen = new Map();
const unique = (name) => { const n = (seen.get(name) ?? 0) + 1; seen.set(name, n); return n === 1 ? name : `${name} (${n})`; };

function byteCompatibility(input) {
  if (/^[\u0009\u0020\u000A\u000D]+|[\u0009\u0020\u000A\u000D]+$/.test(input)) return 'header-value-incompatible';
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code > 0xff) return 'incompatible';
    if (code === 0x00 || code === 0x0a || code === 0x0d) return 'header-value-error';
  }
  return 'compatible';
}

for (const t of DATA) {
  if (typeof t === 'string') continue;
  const output = t.output === null ? '' : t.output;
  test(unique(`${JSON.stringify(t.input)} (Blob/File)`), () => {
    assertEquals(new Blob([], { type: t.input }).type, output, 'Blob');
    assertEquals(new File([], 'noname', { type: t.input }).type, output, 'File');
  });
  const compatibility = byteCompatibility(t.input);
  if (compatibility === 'header-value-incompatible') continue;
  test(unique(`${JSON.stringify(t.input)} (Request/Response)`), async () => {
    const headers = [['Content-Type', t.input]];
    if (compatibility !== 'compatible') {
      assertThrows(() => new Request('about:blank', { headers }), TypeError);
      assertThrows(() => new Response(null, { headers }), TypeError);
      return;
    }
    assertEquals((await new Request('about:blank', { headers }).blob()).type, output, 'Request');
    assertEquals((await new Response(null, { headers }).blob()).type, output, 'Response');
  });
}
