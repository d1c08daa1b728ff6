// WebIDL pair iterators (§3.7.10), shared by Headers, URLSearchParams and FormData. Loaded when
// a script first iterates one of them.
(function (ops, internals) {
  // Iterators inherit %IteratorPrototype%; `next` reads the live list at the kept index.
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  const iteratorState = new WeakMap();
  // One prototype per kind of iterator ('Headers Iterator', …), made when first needed.
  const prototypes = new Map();
  const iteratorPrototype = (tag) => Object.create(IteratorPrototype, {
    next: {
      value: function next() {
        const state = iteratorState.get(this);
        if (!state) throw new TypeError(`next() called on an object that is not a ${tag}`);
        const list = state.list();
        if (state.index >= list.length) return { value: undefined, done: true };
        // Indexed, not destructured: QuickJS destructures an array through an iterator object.
        const pair = list[state.index++];
        const kind = state.kind;
        return { value: kind === 'keys' ? pair[0] : kind === 'values' ? pair[1] : [pair[0], pair[1]], done: false };
      },
      writable: true, configurable: true,
    },
    [Symbol.toStringTag]: { value: tag, configurable: true },
  });
  // An iterator of kind `tag` over `list()`, the pairs as they are at each step, giving `kind`
  // ('entries', 'keys' or 'values') of each.
  internals.makeIterator = (tag, list, kind) => {
    let prototype = prototypes.get(tag);
    if (!prototype) prototypes.set(tag, (prototype = iteratorPrototype(tag)));
    const iterator = Object.create(prototype);
    iteratorState.set(iterator, { list, kind, index: 0 });
    return iterator;
  };
})
