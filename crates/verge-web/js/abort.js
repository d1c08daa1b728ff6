// AbortController and AbortSignal (DOM §3.1), with AbortSignal.abort, .timeout and .any.
(function (ops, internals) {
  const token = Symbol('AbortSignal');
  class AbortSignal extends EventTarget {
    #aborted = false; #reason = undefined; #onabort = null;
    constructor(key) {
      if (key !== token) throw new TypeError('Illegal constructor');
      super();
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    get onabort() { return this.#onabort; }
    set onabort(fn) {
      if (this.#onabort) this.removeEventListener('abort', this.#onabort);
      this.#onabort = typeof fn === 'function' ? fn : null;
      if (this.#onabort) this.addEventListener('abort', this.#onabort);
    }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    static abort(reason) {
      const signal = new AbortSignal(token);
      signal.#signalAbort(reason);
      return signal;
    }
    static timeout(ms) {
      const signal = new AbortSignal(token);
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError('AbortSignal.timeout: milliseconds must be a non-negative number');
      setTimeout(() => signal.#signalAbort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
      return signal;
    }
    static any(signals) {
      const result = new AbortSignal(token);
      for (const s of signals) {
        if (!(s instanceof AbortSignal)) throw new TypeError('AbortSignal.any: every member must be an AbortSignal');
        if (s.aborted) { result.#signalAbort(s.reason); return result; }
      }
      for (const s of signals) s.addEventListener('abort', () => result.#signalAbort(s.reason), { once: true });
      return result;
    }
    #signalAbort(reason) {
      if (this.#aborted) return;
      this.#aborted = true;
      this.#reason = reason === undefined ? new DOMException('The operation was aborted.', 'AbortError') : reason;
      this.dispatchEvent(new Event('abort'));
    }
    static _abort(signal, reason) { signal.#signalAbort(reason); }
  }
  const abortSignal = AbortSignal._abort;
  delete AbortSignal._abort;
  internals.newAbortSignal = () => new AbortSignal(token);

  class AbortController {
    #signal = new AbortSignal(token);
    get signal() { return this.#signal; }
    abort(reason) { abortSignal(this.#signal, reason); }
  }
  internals.defineGlobal('AbortSignal', AbortSignal);
  internals.defineGlobal('AbortController', AbortController);
})
