// URL (URL Standard). Parsing and setters are the `url` crate, behind ops; this file keeps the
// WebIDL surface. URLSearchParams is url_search_params.js, loaded when a script first uses it
// (or a URL's searchParams).
(function (ops, internals) {
  // `#parts` is what urlParse and urlSet give: the serialization, then where each component
  // lies in it, a start and an end for each, in this order.
  const PROTOCOL = 0, USERNAME = 1, PASSWORD = 2, HOST = 3, HOSTNAME = 4, PORT = 5, PATHNAME = 6,
    SEARCH = 7, HASH = 8;
  const toUSV = (s) => { s = String(s); return typeof s.toWellFormed === 'function' ? s.toWellFormed() : s; };

  class URL {
    #parts;
    #origin = null;
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
      url.#parts = ops.urlSet(url.#parts[0], 'search', query);
    }
    #part(component) {
      const parts = this.#parts;
      return parts[0].slice(parts[1 + 2 * component], parts[2 + 2 * component]);
    }
    #set(name, value) {
      this.#parts = ops.urlSet(this.#parts[0], name, toUSV(value));
      this.#origin = null;
    }
    get href() { return this.#parts[0]; }
    set href(value) {
      const parts = ops.urlParse(toUSV(value), undefined);
      if (parts == null) throw new TypeError(`Invalid URL: ${String(value)}`);
      this.#parts = parts;
      this.#origin = null;
      if (this.#params) internals.reparseSearchParams(this.#params, this.#part(SEARCH).slice(1));
    }
    get origin() { return (this.#origin ??= ops.urlOrigin(this.#parts[0])); }
    get protocol() { return this.#part(PROTOCOL); }
    set protocol(v) { this.#set('protocol', v); }
    get username() { return this.#part(USERNAME); }
    set username(v) { this.#set('username', v); }
    get password() { return this.#part(PASSWORD); }
    set password(v) { this.#set('password', v); }
    get host() { return this.#part(HOST); }
    set host(v) { this.#set('host', v); }
    get hostname() { return this.#part(HOSTNAME); }
    set hostname(v) { this.#set('hostname', v); }
    get port() { return this.#part(PORT); }
    set port(v) { this.#set('port', v); }
    get pathname() { return this.#part(PATHNAME); }
    set pathname(v) { this.#set('pathname', v); }
    get search() { return this.#part(SEARCH); }
    set search(v) {
      this.#set('search', v);
      if (this.#params) internals.reparseSearchParams(this.#params, this.#part(SEARCH).slice(1));
    }
    get searchParams() {
      return (this.#params ??= internals.linkedSearchParams(this, this.#part(SEARCH).slice(1)));
    }
    get hash() { return this.#part(HASH); }
    set hash(v) { this.#set('hash', v); }
    toString() { return this.#parts[0]; }
    toJSON() { return this.#parts[0]; }
  }
  Object.defineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL' });
  // The serialized URL, or undefined if `input` does not parse: for Request, which needs no more.
  internals.parseHref = (input) => ops.urlHref(toUSV(input));
  internals.setUrlQuery = URL._setQuery;
  internals.toUSV = toUSV;
  delete URL._setQuery;
  internals.defineGlobal('URL', URL);
})
