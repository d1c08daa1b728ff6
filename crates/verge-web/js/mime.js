// MIME types (MIME Sniffing §4) and data: URLs (Fetch §4.4): parsing, serializing, extracting a
// body's MIME type from its Content-Type headers (Fetch §3.1.7), and fetching data: URLs.
(function (ops, internals) {
  const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const QUOTED_STRING_TOKEN = /^[\t\x20-\x7e\x80-\xff]*$/;

  // Collects an HTTP quoted string starting at `input[start]` (a '"'): [value, next position].
  function collectQuoted(input, start) {
    let value = '';
    let position = start + 1;
    for (;;) {
      while (position < input.length && input[position] !== '"' && input[position] !== '\\') {
        value += input[position++];
      }
      if (position >= input.length) break;
      const quoteOrBackslash = input[position++];
      if (quoteOrBackslash === '\\') {
        if (position >= input.length) {
          value += '\\';
          break;
        }
        value += input[position++];
      } else {
        break;
      }
    }
    return [value, position];
  }

  // Parses a MIME type into { type, subtype, parameters } or returns null (MIME Sniffing §4.4).
  function parseMimeType(input) {
    input = input.replace(HTTP_WHITESPACE, '');
    const slash = input.indexOf('/');
    if (slash <= 0) return null;
    const type = input.slice(0, slash);
    if (!TOKEN.test(type)) return null;
    let position = input.indexOf(';', slash + 1);
    if (position < 0) position = input.length;
    const subtype = input.slice(slash + 1, position).replace(/[\t\n\r ]+$/, '');
    if (!TOKEN.test(subtype)) return null;
    const mimeType = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };
    while (position < input.length) {
      position++; // the ';'
      while (/[\t\n\r ]/.test(input[position] ?? '')) position++;
      let end = position;
      while (end < input.length && input[end] !== ';' && input[end] !== '=') end++;
      const name = input.slice(position, end).toLowerCase();
      position = end;
      if (position < input.length) {
        if (input[position] === ';') continue;
        position++; // the '='
      }
      if (position >= input.length) break;
      let value;
      if (input[position] === '"') {
        [value, position] = collectQuoted(input, position);
        while (position < input.length && input[position] !== ';') position++;
      } else {
        end = input.indexOf(';', position);
        if (end < 0) end = input.length;
        value = input.slice(position, end).replace(/[\t\n\r ]+$/, '');
        position = end;
        if (value === '') continue;
      }
      if (name !== '' && TOKEN.test(name) && QUOTED_STRING_TOKEN.test(value) &&
          !mimeType.parameters.has(name)) {
        mimeType.parameters.set(name, value);
      }
    }
    return mimeType;
  }

  function serializeMimeType({ type, subtype, parameters }) {
    let serialized = `${type}/${subtype}`;
    for (const [name, value] of parameters) {
      const quoted = value === '' || !TOKEN.test(value);
      serialized += `;${name}=${quoted ? `"${value.replace(/["\\]/g, '\\$&')}"` : value}`;
    }
    return serialized;
  }

  // Splits a combined header value on commas outside quoted strings (Fetch §2.2 "get, decode,
  // and split").
  function splitHeaderValue(value) {
    const values = [];
    let position = 0;
    let current = '';
    while (position <= value.length) {
      while (position < value.length && value[position] !== '"' && value[position] !== ',') {
        current += value[position++];
      }
      if (position < value.length && value[position] === '"') {
        const [, next] = collectQuoted(value, position);
        current += value.slice(position, next);
        position = next;
        if (position < value.length) continue;
      }
      values.push(current.replace(/^[\t ]+|[\t ]+$/g, ''));
      current = '';
      position++;
    }
    return values;
  }

  // The MIME type of a body from its headers' Content-Type, serialized, or '' (Fetch §3.1.7).
  internals.bodyMimeType = function bodyMimeType(headers) {
    const combined = headers.get('content-type');
    if (combined === null) return '';
    let charset = null;
    let essence = null;
    let mimeType = null;
    for (const value of splitHeaderValue(combined)) {
      const parsed = parseMimeType(value);
      if (parsed === null || (parsed.type === '*' && parsed.subtype === '*')) continue;
      mimeType = parsed;
      const parsedEssence = `${parsed.type}/${parsed.subtype}`;
      if (parsedEssence !== essence) {
        charset = parsed.parameters.get('charset') ?? null;
        essence = parsedEssence;
      } else if (!parsed.parameters.has('charset') && charset !== null) {
        parsed.parameters.set('charset', charset);
      }
    }
    return mimeType === null ? '' : serializeMimeType(mimeType);
  };

  function percentDecode(text) {
    const bytes = internals.utf8Encode(text);
    const out = new Uint8Array(bytes.length);
    let length = 0;
    const hex = (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) && hex(bytes[i + 2])) {
        out[length++] = parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
        i += 2;
      } else {
        out[length++] = bytes[i];
      }
    }
    return out.subarray(0, length);
  }

  // The data: URL processor (Fetch §4.4.1): [serialized MIME type, body bytes] or null.
  function processDataUrl(href) {
    const input = href.slice('data:'.length).split('#')[0];
    const comma = input.indexOf(',');
    if (comma < 0) return null;
    let mimeType = input.slice(0, comma).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '');
    let body = percentDecode(input.slice(comma + 1));
    const base64 = /;[ ]*base64$/i.exec(mimeType);
    if (base64) {
      let text = '';
      for (let i = 0; i < body.length; i += 8192) {
        text += String.fromCharCode.apply(null, body.subarray(i, i + 8192));
      }
      const decoded = ops.atob(text);
      if (decoded == null) return null;
      body = Uint8Array.from(decoded, (c) => c.charCodeAt(0));
      mimeType = mimeType.slice(0, base64.index);
    }
    if (mimeType.startsWith(';')) mimeType = `text/plain${mimeType}`;
    const parsed = parseMimeType(mimeType);
    return [parsed === null ? 'text/plain;charset=US-ASCII' : serializeMimeType(parsed), body];
  }

  // fetch() of a data: URL: its response, or a TypeError when the URL is malformed.
  internals.fetchDataUrl = function fetchDataUrl(request) {
    const processed = processDataUrl(request.url);
    if (processed === null) {
      return Promise.reject(new TypeError(`fetch failed: ${request.url} is not a valid data: URL`));
    }
    const [contentType, body] = processed;
    return Promise.resolve(internals.fetchedResponse(200, 'OK', ['content-type', contentType],
      body, request.url, false));
  };
})
