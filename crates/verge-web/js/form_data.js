// FormData (XHR §4.3) with multipart/form-data serialization and parsing (RFC 7578, as the
// HTML standard encodes it) and application/x-www-form-urlencoded parsing for Body.formData().
(function (ops, internals) {
  function entryValue(value, filename) {
    if (value instanceof Blob) {
      if (value instanceof File && filename === undefined) return value;
      return new File([value], filename === undefined ? (value instanceof File ? value.name : 'blob') : String(filename), { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
    }
    return String(value);
  }
  class FormData {
    #entries = [];
    constructor(form = undefined) {
      if (form !== undefined) throw new TypeError("Failed to construct 'FormData': there are no form elements in Workers.");
    }
    append(name, value, filename) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'append' on 'FormData': 2 arguments required.");
      this.#entries.push([String(name), entryValue(value, filename)]);
    }
    delete(name) { name = String(name); this.#entries = this.#entries.filter(([k]) => k !== name); }
    get(name) { name = String(name); return this.#entries.find(([k]) => k === name)?.[1] ?? null; }
    getAll(name) { name = String(name); return this.#entries.filter(([k]) => k === name).map(([, v]) => v); }
    has(name) { name = String(name); return this.#entries.some(([k]) => k === name); }
    set(name, value, filename) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'set' on 'FormData': 2 arguments required.");
      name = String(name);
      const entry = [name, entryValue(value, filename)];
      const index = this.#entries.findIndex(([k]) => k === name);
      if (index < 0) this.#entries.push(entry);
      else this.#entries = this.#entries.filter(([k], i) => i === index || k !== name).map((e, i) => (e[0] === name ? entry : e));
    }
    forEach(callback, thisArg) { for (const [k, v] of this.#entries.slice()) callback.call(thisArg, v, k, this); }
    entries() { return internals.makeIterator('FormData Iterator', () => this.#entries, 'entries'); }
    keys() { return internals.makeIterator('FormData Iterator', () => this.#entries, 'keys'); }
    values() { return internals.makeIterator('FormData Iterator', () => this.#entries, 'values'); }
    [Symbol.iterator]() { return this.entries(); }
  }
  Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: 'FormData' });

  const escapeName = (s) => s.replace(/\r\n|\r|\n/g, '\r\n').replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  // Serializes to { bytes, contentType }.
  internals.serializeFormData = function (form) {
    const boundary = `----VergeFormBoundary${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
    const parts = [];
    for (const [name, value] of form) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
      if (typeof value === 'string') {
        parts.push(`${head}\r\n\r\n${value.replace(/\r\n|\r|\n/g, '\r\n')}\r\n`);
      } else {
        head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`;
        parts.push(head, internals.blobBytes(value), '\r\n');
      }
    }
    parts.push(`--${boundary}--\r\n`);
    return { bytes: internals.blobBytes(new Blob(parts)), contentType: `multipart/form-data; boundary=${boundary}` };
  };

  function indexOf(haystack, needle, from) {
    outer: for (let i = from; i <= haystack.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  function parameter(header, name) {
    const match = new RegExp(`;\\s*${name}\\*?=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(header);
    if (!match) return undefined;
    return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
  }
  // Parses a body for Body.formData(): multipart/form-data or urlencoded, by content type.
  internals.parseFormData = function (bytes, contentType) {
    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    const form = new FormData();
    if (type === 'application/x-www-form-urlencoded') {
      for (const [k, v] of new URLSearchParams(internals.utf8Decode(bytes))) form.append(k, v);
      return form;
    }
    if (type !== 'multipart/form-data') throw new TypeError(`Unsupported content type for formData(): '${contentType ?? ''}'`);
    const boundary = parameter(contentType, 'boundary');
    if (!boundary) throw new TypeError('multipart/form-data without a boundary');
    const delimiter = internals.utf8Encode(`--${boundary}`);
    const crlf2 = internals.utf8Encode('\r\n\r\n');
    let position = indexOf(bytes, delimiter, 0);
    if (position < 0) throw new TypeError('malformed multipart/form-data: no boundary found');
    for (;;) {
      position += delimiter.length;
      if (bytes[position] === 45 && bytes[position + 1] === 45) break; // closing "--"
      if (bytes[position] === 13 && bytes[position + 1] === 10) position += 2;
      const headerEnd = indexOf(bytes, crlf2, position);
      if (headerEnd < 0) throw new TypeError('malformed multipart/form-data: part headers never end');
      const headers = new TextDecoder().decode(bytes.subarray(position, headerEnd)).split('\r\n');
      const next = indexOf(bytes, delimiter, headerEnd + 4);
      if (next < 0) throw new TypeError('malformed multipart/form-data: no closing boundary');
      const content = bytes.subarray(headerEnd + 4, next - 2);
      let disposition = '', partType = '';
      for (const line of headers) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        if (name === 'content-disposition') disposition = line.slice(colon + 1);
        if (name === 'content-type') partType = line.slice(colon + 1).trim();
      }
      const fieldName = parameter(disposition, 'name');
      if (fieldName === undefined) throw new TypeError('malformed multipart/form-data: a part has no name');
      const filename = parameter(disposition, 'filename');
      if (filename !== undefined) form.append(fieldName, new File([content], filename, { type: partType }));
      else form.append(fieldName, internals.utf8Decode(content));
      position = next;
    }
    return form;
  };
  internals.defineGlobal('FormData', FormData);
})
