// node:querystring — Node's form of `a=1&b=2`: parse() and stringify() with their separator,
// assignment and encoding options, repeated keys as arrays.
(function (ops, internals) {
  // What encodeURIComponent leaves alone, plus what Node's escape() also keeps.
  const UNRESERVED = /[A-Za-z0-9\-_.!~*'()]/;

  function escape(text) {
    if (typeof text !== 'string') text = typeof text === 'object' ? String(text) : `${text}`;
    let out = '';
    for (const char of text) {
      if (UNRESERVED.test(char)) out += char;
      else {
        const code = char.codePointAt(0);
        // A lone surrogate cannot be UTF-8: Node throws URIError here.
        if (code >= 0xd800 && code <= 0xdfff) throw new URIError('URI malformed');
        out += encodeURIComponent(char);
      }
    }
    return out;
  }

  function unescape(text) {
    try {
      return decodeURIComponent(text);
    } catch {
      return unescapeLeniently(text);
    }
  }
  // Decodes every valid %XX and keeps the rest, as Node's unescapeBuffer does.
  function unescapeLeniently(text) {
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 0x25 && i + 2 < text.length && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(...new TextEncoder().encode(text[i]));
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }

  const primitive = (value) => {
    switch (typeof value) {
      case 'string': return value;
      case 'number': return Number.isFinite(value) ? `${value}` : '';
      case 'bigint': return `${value}`;
      case 'boolean': return value ? 'true' : 'false';
      default: return '';
    }
  };

  function stringify(object, sep = '&', eq = '=', options) {
    sep ||= '&';
    eq ||= '=';
    const encode = options?.encodeURIComponent ?? escape;
    if (object === null || typeof object !== 'object') return '';
    const parts = [];
    for (const key of Object.keys(object)) {
      const value = object[key];
      const name = encode(primitive(key)) + eq;
      if (Array.isArray(value)) {
        for (const item of value) parts.push(name + encode(primitive(item)));
      } else {
        parts.push(name + encode(primitive(value)));
      }
    }
    return parts.join(sep);
  }

  function parse(text, sep = '&', eq = '=', options) {
    const result = Object.create(null);
    if (typeof text !== 'string' || text.length === 0) return result;
    sep ||= '&';
    eq ||= '=';
    const maxKeys = options?.maxKeys ?? 1000;
    const decode = options?.decodeURIComponent ?? unescape;
    let pairs = text.split(sep);
    if (maxKeys > 0) pairs = pairs.slice(0, maxKeys);
    for (const pair of pairs) {
      if (pair.length === 0) continue;
      const at = pair.indexOf(eq);
      const rawKey = at >= 0 ? pair.slice(0, at) : pair;
      const rawValue = at >= 0 ? pair.slice(at + eq.length) : '';
      const key = decodePart(rawKey, decode);
      const value = decodePart(rawValue, decode);
      if (!(key in result)) result[key] = value;
      else if (Array.isArray(result[key])) result[key].push(value);
      else result[key] = [result[key], value];
    }
    return result;
  }
  function decodePart(text, decode) {
    const spaced = text.replace(/\+/g, ' ');
    try {
      return decode(spaced);
    } catch {
      return unescape(spaced);
    }
  }

  internals['node:querystring'] = {
    parse, stringify, escape, unescape,
    decode: parse,
    encode: stringify,
    unescapeBuffer: (text) => internals['node:buffer'].Buffer.from(unescapeLeniently(String(text))),
  };
})
