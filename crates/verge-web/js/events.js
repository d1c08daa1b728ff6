// Event and EventTarget (DOM §2), without the tree: listeners, once, passive, signal, and
// stopImmediatePropagation.
(function (ops, internals) {
  const stopped = Symbol('stopImmediate');
  class Event {
    #type; #bubbles; #cancelable; #composed; #defaultPrevented = false; #timeStamp;
    #target = null; #currentTarget = null; #phase = 0;
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required.");
      this.#type = String(type);
      this.#bubbles = !!init?.bubbles;
      this.#cancelable = !!init?.cancelable;
      this.#composed = !!init?.composed;
      this.#timeStamp = ops.now();
      this[stopped] = false;
    }
    get type() { return this.#type; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#defaultPrevented; }
    get returnValue() { return !this.#defaultPrevented; }
    get timeStamp() { return this.#timeStamp; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get isTrusted() { return false; }
    get cancelBubble() { return this[stopped]; }
    set cancelBubble(v) { if (v) this[stopped] = true; }
    composedPath() { return this.#currentTarget ? [this.#currentTarget] : []; }
    preventDefault() { if (this.#cancelable) this.#defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this[stopped] = true; }
    static setDispatch(event, target, phase) {
      event.#target = target; event.#currentTarget = phase ? target : null; event.#phase = phase;
    }
  }
  for (const [k, v] of Object.entries({ NONE: 0, CAPTURING_PHASE: 1, AT_TARGET: 2, BUBBLING_PHASE: 3 })) {
    Object.defineProperty(Event, k, { value: v, enumerable: true });
    Object.defineProperty(Event.prototype, k, { value: v, enumerable: true });
  }
  const setDispatch = Event.setDispatch;
  delete Event.setDispatch;

  class EventTarget {
    #listeners = new Map();
    addEventListener(type, listener, options = {}) {
      if (listener == null) return;
      if (typeof options === 'boolean') options = { capture: options };
      const capture = !!options?.capture;
      const signal = options?.signal;
      if (signal?.aborted) return;
      type = String(type);
      let list = this.#listeners.get(type);
      if (!list) this.#listeners.set(type, (list = []));
      if (list.some((l) => l.listener === listener && l.capture === capture)) return;
      const entry = { listener, capture, once: !!options?.once, removed: false };
      list.push(entry);
      signal?.addEventListener('abort', () => this.removeEventListener(type, listener, { capture }));
    }
    removeEventListener(type, listener, options = {}) {
      if (typeof options === 'boolean') options = { capture: options };
      const capture = !!options?.capture;
      const list = this.#listeners.get(String(type));
      if (!list) return;
      const index = list.findIndex((l) => l.listener === listener && l.capture === capture);
      if (index >= 0) { list[index].removed = true; list.splice(index, 1); }
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
      setDispatch(event, this, 2);
      const list = (this.#listeners.get(event.type) ?? []).slice();
      for (const entry of list) {
        if (entry.removed) continue;
        if (entry.once) this.removeEventListener(event.type, entry.listener, { capture: entry.capture });
        try {
          if (typeof entry.listener === 'function') entry.listener.call(this, event);
          else if (typeof entry.listener?.handleEvent === 'function') entry.listener.handleEvent(event);
        } catch (error) {
          internals.reportError(error);
        }
        if (event[stopped]) break;
      }
      setDispatch(event, this, 0);
      return !event.defaultPrevented;
    }
  }
  internals.defineGlobal('Event', Event);
  internals.defineGlobal('EventTarget', EventTarget);
})
