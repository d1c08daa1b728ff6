// Compiled at build time and again at run time (see build.rs): the two must agree byte for byte.
(function (internals) {
  const pattern = /^(?<name>[a-z]+)=(\d{1,3})$/giu;
  class Probe {
    #secret = 'ÿ€𝄞';
    static #count = 0;
    constructor(value) { this.value = value ?? 2n ** 64n; Probe.#count++; }
    get secret() { return this.#secret; }
    async *pairs(list) { for (const [k, v] of list) yield await { k, v, big: 12345678901234567890n }; }
  }
  return { pattern, Probe, numbers: [0, -0, 1.5, 2 ** 53, NaN, -Infinity], text: `a${internals}b` };
})
