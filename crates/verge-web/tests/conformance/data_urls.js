// WPT fetch/data-urls/processing.any.js, driven by fetch/data-urls/resources/data-urls.json.
const seen = new Map();
const unique = (name) => { const n = (seen.get(name) ?? 0) + 1; seen.set(name, n); return n === 1 ? name : `${name} (${n})`; };
for (const [input, mimeType, body] of DATA) {
  test(unique(`fetch(${JSON.stringify(input)})`), async () => {
    if (mimeType === null) {
      await assertRejects(() => fetch(input), TypeError);
      return;
    }
    const response = await fetch(input);
    assertEquals(Array.from(new Uint8Array(await response.arrayBuffer())), body, 'body');
    assertEquals(response.headers.get('content-type'), mimeType, 'content-type');
  });
}
