// URL (URL Standard). Parsing and setters are the `url` crate, behind ops; this file keeps the
// WebIDL surface. URLSearchParams is url_search_params.js, loaded when a script first uses it
// (or a URL's searchParams).
(function (ops, internals) {
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6,
    PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;
  const toUSV = (s) => { s = String(s); return typeof s.toWellFormed === 'function' ? s.toWellFormed() : s; };

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
      if (this.#params) internals.reparseSearchParams(this.#params, parts[SEARCH].slice(1));
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
      if (this.#params) internals.reparseSearchParams(this.#params, this.#parts[SEARCH].slice(1));
    }
    get searchParams() {
      return (this.#params ??= internals.linkedSearchParams(this, this.#parts[SEARCH].slice(1)));
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
  internals.toUSV = toUSV;
  delete URL._setQuery;
  internals.defineGlobal('URL', URL);
})
