// WPT html/webappapis/atob/base64.any.js, driven by fetch/data-urls/resources/base64.json.
for (const [input, output] of DATA) {
  test(`atob(${JSON.stringify(input)})`, () => {
    if (output === null) {
      const error = assertThrows(() => atob(input), DOMException);
      assertEquals(error.name, 'InvalidCharacterError');
    } else {
      assertEquals(Array.from(atob(input), (c) => c.charCodeAt(0)), output);
    }
  });
}
