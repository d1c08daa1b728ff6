// WebIDL pair iterators (§3.7.10), shared by Headers, URLSearchParams and FormData.
(function (ops, internals) {
  // Iterators inherit %IteratorPrototype%; `next` reads the live list at the kept index.
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  const iteratorState = new WeakMap();
  internals.iteratorPrototype = (tag) => Object.create(IteratorPrototype, {
    next: {
      value: function next() {
        const state = iteratorState.get(this);
        if (!state) throw new TypeError(`next() called on an object that is not a ${tag}`);
        const list = state.list();
        if (state.index >= list.length) return { value: undefined, done: true };
        const [key, value] = list[state.index++];
        return { value: state.kind === 'keys' ? key : state.kind === 'values' ? value : [key, value], done: false };
      },
      writable: true, configurable: true,
    },
    [Symbol.toStringTag]: { value: tag, configurable: true },
  });
  internals.makeIterator = (prototype, list, kind) => {
    const iterator = Object.create(prototype);
    iteratorState.set(iterator, { list, kind, index: 0 });
    return iterator;
  };
})
