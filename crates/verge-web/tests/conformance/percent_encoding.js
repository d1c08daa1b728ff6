// WPT url/percent-encoding.window.js, the UTF-8 half (Workers have no document encodings): a
// query string is percent-encoded as the data file says.
for (const t of DATA) {
  if (typeof t === 'string') continue;
  test(`${JSON.stringify(t.input)} in a query`, () => {
    const url = new URL(`https://doesnotmatter.invalid/?${t.input}#${t.input}`);
    assertEquals(url.search, `?${t.output['utf-8']}`, 'search');
  });
}
