// URL and URLSearchParams (URL Standard). Parsing and setters are the `url` crate, behind ops;
// this file keeps the WebIDL surface and the link between a URL and its searchParams.
(function (ops, internals) {
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6,
    PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;
  const toUSV = (s) => { s = String(s); return typeof s.toWellFormed === 'function' ? s.toWellFormed() : s; };

  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (init instanceof URLSearchParams) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (typeof init === 'object' && init !== null || typeof init === 'function') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const entry = [...pair];
            if (entry.length !== 2) throw new TypeError("Failed to construct 'URLSearchParams': Sequence initializer must only contain pair elements");
            this.#list.push([toUSV(entry[0]), toUSV(entry[1])]);
          }
        } else {
          for (const k of Reflect.ownKeys(init)) {
            const desc = Reflect.getOwnPropertyDescriptor(init, k);
            if (desc?.enumerable && typeof k === 'string') this.#list.push([toUSV(k), toUSV(init[k])]);
          }
        }
      } else {
        let s = toUSV(init);
        if (s.startsWith('?')) s = s.slice(1);
        this.#list = ops.formDecode(s);
      }
    }
    static _link(params, url, query) {
      params.#url = url;
      params.#list = query ? ops.formDecode(query) : [];
    }
    static _reparse(params, query) { params.#list = query ? ops.formDecode(query) : []; }
    #update() {
      if (this.#url) internals.setUrlQuery(this.#url, this.toString());
    }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([toUSV(name), toUSV(value)]); this.#update(); }
    delete(name, value) {
      name = toUSV(name);
      if (value === undefined) this.#list = this.#list.filter(([k]) => k !== name);
      else { value = toUSV(value); this.#list = this.#list.filter(([k, v]) => k !== name || v !== value); }
      this.#update();
    }
    get(name) { name = toUSV(name); return this.#list.find(([k]) => k === name)?.[1] ?? null; }
    getAll(name) { name = toUSV(name); return this.#list.filter(([k]) => k === name).map(([, v]) => v); }
    has(name, value) {
      name = toUSV(name);
      if (value === undefined) return this.#list.some(([k]) => k === name);
      value = toUSV(value);
      return this.#list.some(([k, v]) => k === name && v === value);
    }
    set(name, value) {
      name = toUSV(name); value = toUSV(value);
      const index = this.#list.findIndex(([k]) => k === name);
      if (index < 0) this.#list.push([name, value]);
      else {
        this.#list[index][1] = value;
        this.#list = this.#list.filter(([k], i) => i <= index || k !== name);
      }
      this.#update();
    }
    sort() {
      // A stable sort by UTF-16 code units, as the spec asks.
      this.#list = this.#list.map((e, i) => [e, i]).sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j)).map(([e]) => e);
      this.#update();
    }
    forEach(callback, thisArg) {
      for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
    }
    entries() { return internals.makeIterator(ParamsIterator, () => this.#list, 'entries'); }
    keys() { return internals.makeIterator(ParamsIterator, () => this.#list, 'keys'); }
    values() { return internals.makeIterator(ParamsIterator, () => this.#list, 'values'); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return ops.formEncode(this.#list); }
  }
  Object.defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams' });
  const ParamsIterator = internals.iteratorPrototype('URLSearchParams Iterator');
  const linkParams = URLSearchParams._link, reparseParams = URLSearchParams._reparse;
  delete URLSearchParams._link; delete URLSearchParams._reparse;

  class URL {
    #parts;
    #params = null;
    constructor(url, base) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'URL': 1 argument required, but only 0 present.");
      const parts = ops.urlParse(toUSV(url), base === undefined ? undefined : toUSV(base));
      if (parts == null) throw new TypeError(`Invalid URL: ${String(url)}`);
      this.#parts = parts;
    }
    static canParse(url, base) {
      return ops.urlParse(toUSV(url), base === undefined ? undefined : toUSV(base)) != null;
    }
    static parse(url, base) {
      try { return new URL(url, base); } catch { return null; }
    }
    static _setQuery(url, query) {
      url.#parts = ops.urlSet(url.#parts[HREF], 'search', query);
    }
    #set(name, value) {
      this.#parts = ops.urlSet(this.#parts[HREF], name, toUSV(value));
    }
    get href() { return this.#parts[HREF]; }
    set href(value) {
      const parts = ops.urlParse(toUSV(value), undefined);
      if (parts == null) throw new TypeError(`Invalid URL: ${String(value)}`);
      this.#parts = parts;
      if (this.#params) reparseParams(this.#params, parts[SEARCH].slice(1));
    }
    get origin() { return this.#parts[ORIGIN]; }
    get protocol() { return this.#parts[PROTOCOL]; }
    set protocol(v) { this.#set('protocol', v); }
    get username() { return this.#parts[USERNAME]; }
    set username(v) { this.#set('username', v); }
    get password() { return this.#parts[PASSWORD]; }
    set password(v) { this.#set('password', v); }
    get host() { return this.#parts[HOST]; }
    set host(v) { this.#set('host', v); }
    get hostname() { return this.#parts[HOSTNAME]; }
    set hostname(v) { this.#set('hostname', v); }
    get port() { return this.#parts[PORT]; }
    set port(v) { this.#set('port', v); }
    get pathname() { return this.#parts[PATHNAME]; }
    set pathname(v) { this.#set('pathname', v); }
    get search() { return this.#parts[SEARCH]; }
    set search(v) {
      this.#set('search', v);
      if (this.#params) reparseParams(this.#params, this.#parts[SEARCH].slice(1));
    }
    get searchParams() {
      if (!this.#params) {
        this.#params = new URLSearchParams();
        linkParams(this.#params, this, this.#parts[SEARCH].slice(1));
      }
      return this.#params;
    }
    get hash() { return this.#parts[HASH]; }
    set hash(v) { this.#set('hash', v); }
    toString() { return this.#parts[HREF]; }
    toJSON() { return this.#parts[HREF]; }
  }
  Object.defineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL' });
  // The serialized URL, or undefined if `input` does not parse: for Request, which needs no more.
  internals.parseHref = (input) => ops.urlHref(toUSV(input));
  internals.setUrlQuery = URL._setQuery;
  delete URL._setQuery;
  internals.defineGlobal('URL', URL);
  internals.defineGlobal('URLSearchParams', URLSearchParams);
})
