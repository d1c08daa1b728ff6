// node:punycode — RFC 3492's Punycode, and IDNA's toASCII/toUnicode for domain names, label by
// label (deprecated in Node, still used by URL and e-mail packages).
(function (ops, internals) {
  const BASE = 36, T_MIN = 1, T_MAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128;
  const MAX = 0x7fffffff;
  const overflow = () => new RangeError('Overflow: input needs wider integers to process');

  function adapt(delta, points, first) {
    delta = first ? Math.floor(delta / DAMP) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    while (delta > ((BASE - T_MIN) * T_MAX) >> 1) {
      delta = Math.floor(delta / (BASE - T_MIN));
      k += BASE;
    }
    return k + Math.floor(((BASE - T_MIN + 1) * delta) / (delta + SKEW));
  }
  const digitOf = (code) => (code >= 48 && code <= 57 ? code - 22 : code >= 65 && code <= 90 ? code - 65 : code >= 97 && code <= 122 ? code - 97 : BASE);
  const charOf = (digit) => String.fromCharCode(digit + 22 + 75 * (digit < 26));
  const threshold = (k, bias) => (k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias);

  function ucs2decode(text) {
    return Array.from(text, (char) => char.codePointAt(0));
  }
  const ucs2encode = (points) => String.fromCodePoint(...points);

  function decode(input) {
    const output = [];
    const basicEnd = Math.max(input.lastIndexOf('-'), 0);
    for (let j = 0; j < basicEnd; j++) {
      if (input.charCodeAt(j) >= 0x80) throw new RangeError('Illegal input >= 0x80 (not a basic code point)');
      output.push(input.charCodeAt(j));
    }
    let n = INITIAL_N, bias = INITIAL_BIAS, i = 0;
    for (let index = basicEnd > 0 ? basicEnd + 1 : 0; index < input.length;) {
      const oldI = i;
      for (let w = 1, k = BASE; ; k += BASE) {
        if (index >= input.length) throw new RangeError('Invalid input');
        const digit = digitOf(input.charCodeAt(index++));
        if (digit >= BASE || digit > Math.floor((MAX - i) / w)) throw overflow();
        i += digit * w;
        const t = threshold(k, bias);
        if (digit < t) break;
        if (w > Math.floor(MAX / (BASE - t))) throw overflow();
        w *= BASE - t;
      }
      const size = output.length + 1;
      bias = adapt(i - oldI, size, oldI === 0);
      if (Math.floor(i / size) > MAX - n) throw overflow();
      n += Math.floor(i / size);
      i %= size;
      output.splice(i++, 0, n);
    }
    return String.fromCodePoint(...output);
  }

  function encode(text) {
    const input = ucs2decode(text);
    let output = input.filter((point) => point < 0x80).map((point) => String.fromCharCode(point)).join('');
    const basicLength = output.length;
    let handled = basicLength;
    if (basicLength) output += '-';
    let n = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
    while (handled < input.length) {
      const m = Math.min(...input.filter((point) => point >= n));
      if (m - n > Math.floor((MAX - delta) / (handled + 1))) throw overflow();
      delta += (m - n) * (handled + 1);
      n = m;
      for (const point of input) {
        if (point < n && ++delta > MAX) throw overflow();
        if (point !== n) continue;
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = threshold(k, bias);
          if (q < t) break;
          output += charOf(t + ((q - t) % (BASE - t)));
          q = Math.floor((q - t) / (BASE - t));
        }
        output += charOf(q);
        bias = adapt(delta, handled + 1, handled === basicLength);
        delta = 0;
        ++handled;
      }
      ++delta;
      ++n;
    }
    return output;
  }

  // Each label of a domain (or the part after an e-mail's @), mapped by `fn`.
  function mapDomain(domain, fn) {
    const at = domain.lastIndexOf('@');
    const local = at >= 0 ? domain.slice(0, at + 1) : '';
    const labels = domain.slice(at + 1).replace(/[\u3002\uFF0E\uFF61]/g, '.').split('.');
    return local + labels.map(fn).join('.');
  }
  const toASCII = (domain) => mapDomain(domain, (label) => (/[^\0-\x7F]/.test(label) ? `xn--${encode(label)}` : label));
  const toUnicode = (domain) => mapDomain(domain, (label) => (/^xn--/i.test(label) ? decode(label.slice(4).toLowerCase()) : label));

  internals['node:punycode'] = {
    version: '2.3.1',
    ucs2: { decode: ucs2decode, encode: ucs2encode },
    decode, encode, toASCII, toUnicode,
  };
})
