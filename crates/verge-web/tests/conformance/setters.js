// WPT url/url-setters.any.js, driven by setters_tests.json.
for (const [attribute, cases] of Object.entries(DATA)) {
  if (attribute === 'comment') continue;
  cases.forEach((t, i) => {
    test(`${attribute} #${i}: ${JSON.stringify(t.href)} = ${JSON.stringify(t.new_value)}`, () => {
      const url = new URL(t.href);
      url[attribute] = t.new_value;
      for (const [key, value] of Object.entries(t.expected)) assertEquals(url[key], value, key);
    });
  });
}
