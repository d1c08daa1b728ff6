// WPT url/url-constructor.any.js and url-origin.any.js, driven by urltestdata.json.
const seen = new Map();
const unique = (name) => { const n = (seen.get(name) ?? 0) + 1; seen.set(name, n); return n === 1 ? name : `${name} (${n})`; };
for (const t of DATA) {
  if (typeof t === 'string') continue;
  test(unique(`${JSON.stringify(t.input)} against ${JSON.stringify(t.base)}`), () => {
    const make = () => (t.base === null ? new URL(t.input) : new URL(t.input, t.base));
    if (t.failure) {
      assertThrows(make, TypeError);
      assertEquals(URL.canParse(t.input, t.base ?? undefined), false, 'canParse');
      return;
    }
    const url = make();
    for (const key of ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) {
      assertEquals(url[key], t[key], key);
    }
    if ('origin' in t) assertEquals(url.origin, t.origin, 'origin');
    if ('searchParams' in t) assertEquals(url.searchParams.toString(), t.searchParams, 'searchParams');
  });
}
