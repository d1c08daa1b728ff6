// Headers (Fetch §5.2): case-insensitive names, combined values, Set-Cookie kept apart, guards.
(function (ops, internals) {
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const INVALID_VALUE = /[\0\r\n]|[^\x00-\xff]/;
  // Names already checked, lower-cased: a worker sets the same few names on every request, and
  // a regular expression costs a microsecond in QuickJS. Bounded, as names come from anyone.
  const checkedNames = new Map();
  const isWhitespace = (code) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
  function checkName(name) {
    name = String(name);
    let lower = checkedNames.get(name);
    if (lower === undefined) {
      if (!TOKEN.test(name)) throw new TypeError(`Invalid header name: '${name}'`);
      lower = name.toLowerCase();
      if (checkedNames.size < 1024) checkedNames.set(name, lower);
    }
    return lower;
  }
  // Strips leading and trailing HTTP whitespace, the common case (none) without a copy.
  function normalize(value) {
    value = String(value);
    let start = 0, end = value.length;
    while (start < end && isWhitespace(value.charCodeAt(start))) start++;
    while (end > start && isWhitespace(value.charCodeAt(end - 1))) end--;
    return start === 0 && end === value.length ? value : value.slice(start, end);
  }
  // Short values already checked, normalized: the same few recur too (cache-control, content
  // types). Bounded, and only short ones, as values come from anyone.
  const checkedValues = new Set();
  function checkValue(value, name) {
    value = String(value);
    // One met before is valid and normalized already: no scan.
    if (checkedValues.has(value)) return value;
    value = normalize(value);
    if (INVALID_VALUE.test(value)) throw new TypeError(`Invalid header value for '${name}'`);
    if (value.length <= 64 && checkedValues.size < 128) checkedValues.add(value);
    return value;
  }

  class Headers {
    // lower-cased name -> array of values, in insertion order of first appearance
    #map = new Map();
    #guard = 'none';
    // The sorted and combined list, kept until the headers change: an iterator asks for it at
    // every step (WebIDL §3.7.10.1), which would sort the whole list again each time.
    #sortedList = null;
    constructor(init = undefined) {
      if (init === undefined) return;
      if (init === null) throw new TypeError("Failed to construct 'Headers': null is not a valid initializer.");
      if (init instanceof Headers && init[Symbol.iterator] === Headers.prototype[Symbol.iterator]) {
        const map = this.#map;
        init.#map.forEach((values, name) => { map.set(name, values.slice()); });
      } else if (typeof init === 'object' || typeof init === 'function') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            if (typeof pair !== 'object' || pair === null || typeof pair[Symbol.iterator] !== 'function') {
              throw new TypeError("Failed to construct 'Headers': The provided value cannot be converted to a sequence.");
            }
            const entry = [...pair];
            if (entry.length !== 2) throw new TypeError("Failed to construct 'Headers': Invalid value");
            this.#append(entry[0], entry[1], false);
          }
        } else {
          // A record: its own enumerable string keys, in order.
          const keys = Object.keys(init);
          for (let i = 0; i < keys.length; i++) this.#append(keys[i], init[keys[i]], false);
        }
      } else {
        throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
      }
    }
    static _guard(headers, guard) { headers.#guard = guard; }
    static _guardOf(headers) { return headers.#guard; }
    // A body's own content type, a constant the runtime knows valid: set unless one is there.
    static _defaultContentType(headers, value) {
      if (!headers.#map.has('content-type')) {
        headers.#map.set('content-type', [value]);
        headers.#sortedList = null;
      }
    }
    static _fromList(list, guard) {
      // Trusted input from the host (valid HTTP, names lower-cased as `http::HeaderName` and
      // this class keep them): no validation.
      const headers = new Headers();
      for (let i = 0; i < list.length; i += 2) {
        const name = list[i];
        const values = headers.#map.get(name);
        if (values) values.push(list[i + 1]); else headers.#map.set(name, [list[i + 1]]);
      }
      headers.#guard = guard;
      return headers;
    }
    static _toList(headers) {
      // forEach, not for-of: no entry arrays nor iterators made for every response.
      const list = [];
      headers.#map.forEach((values, name) => {
        for (let i = 0; i < values.length; i++) list.push(name, values[i]);
      });
      return list;
    }
    #mutable() {
      if (this.#guard === 'immutable') throw new TypeError("Can't modify immutable headers.");
    }
    append(name, value) { this.#append(name, value, true); }
    // The constructor appends here, not through the prototype's `append`, which a script may
    // have replaced, and a new object has no guard to check.
    #append(name, value, guarded) {
      const key = checkName(name);
      value = checkValue(value, name);
      if (guarded) this.#mutable();
      const values = this.#map.get(key);
      if (values) values.push(value); else this.#map.set(key, [value]);
      this.#sortedList = null;
    }
    delete(name) {
      const key = checkName(name);
      this.#mutable();
      this.#map.delete(key);
      this.#sortedList = null;
    }
    get(name) {
      const values = this.#map.get(checkName(name));
      if (values === undefined) return null;
      return values.length === 1 ? values[0] : values.join(', ');
    }
    getSetCookie() { return (this.#map.get('set-cookie') ?? []).slice(); }
    getAll(name) {
      // Workers-only API, limited there to Set-Cookie.
      const key = checkName(name);
      if (key !== 'set-cookie') throw new TypeError('getAll() can only be used with the header name "Set-Cookie".');
      return this.getSetCookie();
    }
    has(name) { return this.#map.has(checkName(name)); }
    set(name, value) {
      const key = checkName(name);
      value = checkValue(value, name);
      this.#mutable();
      this.#map.set(key, [value]);
      this.#sortedList = null;
    }
    #sorted() {
      if (this.#sortedList !== null) return this.#sortedList;
      const names = [...this.#map.keys()].sort();
      const out = [];
      for (let i = 0; i < names.length; i++) {
        const name = names[i], values = this.#map.get(name);
        if (name === 'set-cookie') for (let j = 0; j < values.length; j++) out.push([name, values[j]]);
        else out.push([name, values.length === 1 ? values[0] : values.join(', ')]);
      }
      return (this.#sortedList = out);
    }
    forEach(callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'Headers': parameter 1 is not of type 'Function'.");
      // The list as it is at each step: a callback may change the headers (WebIDL §3.7.10.1).
      for (let i = 0; i < this.#sorted().length; i++) {
        const pair = this.#sorted()[i];
        callback.call(thisArg, pair[1], pair[0], this);
      }
    }
    // Iterators see the list as it is at each step (WebIDL §3.7.10.1: the index is kept, the
    // sorted list recomputed), so changes made while iterating show.
    entries() { return internals.makeIterator('Headers Iterator', () => this.#sorted(), 'entries'); }
    keys() { return internals.makeIterator('Headers Iterator', () => this.#sorted(), 'keys'); }
    values() { return internals.makeIterator('Headers Iterator', () => this.#sorted(), 'values'); }
    [Symbol.iterator]() { return this.entries(); }
  }
  Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: 'Headers' });
  internals.setHeadersGuard = Headers._guard;
  internals.headersGuard = Headers._guardOf;
  internals.defaultContentType = Headers._defaultContentType;
  internals.headersFromList = Headers._fromList;
  internals.headersToList = Headers._toList;
  delete Headers._guard; delete Headers._guardOf; delete Headers._defaultContentType; delete Headers._fromList; delete Headers._toList;
  internals.defineGlobal('Headers', Headers);
})
