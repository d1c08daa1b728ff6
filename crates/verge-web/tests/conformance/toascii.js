// WPT url/toascii.window.js (the URL parts), driven by toascii.json.
for (const t of DATA) {
  if (typeof t === 'string') continue;
  test(`${JSON.stringify(t.input)} (host)`, () => {
    if (t.output === null) {
      assertThrows(() => new URL(`https://${t.input}/x`), TypeError);
    } else {
      const url = new URL(`https://${t.input}/x`);
      assertEquals(url.host, t.output, 'host');
      assertEquals(url.hostname, t.output, 'hostname');
      assertEquals(url.pathname, '/x', 'pathname');
      assertEquals(url.href, `https://${t.output}/x`, 'href');
    }
  });
  test(`${JSON.stringify(t.input)} (host setter)`, () => {
    const url = new URL('https://x/x');
    url.host = t.input;
    assertEquals(url.host, t.output ?? 'x', 'host');
  });
}
