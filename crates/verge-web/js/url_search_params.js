// URLSearchParams (URL Standard §6), alone or as a URL's searchParams: the urlencoded codec is
// the `url` crate's, behind ops. Apart from url.js, so a worker that only reads a URL's parts
// never loads it.
(function (ops, internals) {
  const toUSV = internals.toUSV;

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
      } else if (init !== '') {
        let s = toUSV(init);
        if (s.startsWith('?')) s = s.slice(1);
        this.#list = ops.formDecode(s);
      }
    }
    static _link(params, url) { params.#url = url; }
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
    get(name) {
      name = toUSV(name);
      // Indexed, not `find(([k]) => …)`: QuickJS destructures an array through an iterator object.
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === name) return list[i][1];
      return null;
    }
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
    entries() { return internals.makeIterator('URLSearchParams Iterator', () => this.#list, 'entries'); }
    keys() { return internals.makeIterator('URLSearchParams Iterator', () => this.#list, 'keys'); }
    values() { return internals.makeIterator('URLSearchParams Iterator', () => this.#list, 'values'); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return ops.formEncode(this.#list); }
  }
  Object.defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams' });
  const link = URLSearchParams._link, reparse = URLSearchParams._reparse;
  internals.linkedSearchParams = (url, query) => {
    const params = new URLSearchParams();
    link(params, url);
    reparse(params, query);
    return params;
  };
  internals.reparseSearchParams = reparse;
  delete URLSearchParams._link; delete URLSearchParams._reparse;
  internals.defineGlobal('URLSearchParams', URLSearchParams);
})
