// WHATWG Streams: ReadableStream (default and byte sources, default and BYOB readers, tee,
// pipeTo, pipeThrough, async iteration, from), WritableStream, TransformStream and the queuing
// strategies. Structured after the spec's abstract operations, names shortened; backpressure is
// the spec's: a source is pulled only while its queue is below the high-water mark.
(function (ops, internals) {
  const isObj = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';
  const resolved = (v) => Promise.resolve(v);
  const rejected = (e) => Promise.reject(e);
  const noop = () => {};
  function deferred() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }
  const markHandled = (p) => { p.catch(noop); return p; };
  function call(fn, thisArg, args) {
    if (fn === undefined) return resolved(undefined);
    try { return resolved(fn.apply(thisArg, args)); } catch (e) { return rejected(e); }
  }
  function strategyOf(strategy, defaultHWM) {
    const hwm = strategy?.highWaterMark === undefined ? defaultHWM : Number(strategy.highWaterMark);
    if (Number.isNaN(hwm) || hwm < 0) throw new RangeError('highWaterMark must be a non-negative number');
    const size = strategy?.size;
    if (size !== undefined && typeof size !== 'function') throw new TypeError('size must be a function');
    return { hwm, size: size === undefined ? () => 1 : (chunk) => size.call(undefined, chunk) };
  }

  // ---- queue with sizes ----
  class SizedQueue {
    items = []; total = 0; head = 0;
    get length() { return this.items.length - this.head; }
    push(value, size) {
      if (typeof size !== 'number' || Number.isNaN(size) || size < 0 || size === Infinity) throw new RangeError('chunk size must be a finite, non-negative number');
      this.items.push({ value, size }); this.total += size;
    }
    shift() {
      const item = this.items[this.head]; this.items[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
      this.total -= item.size; if (this.total < 0) this.total = 0;
      return item.value;
    }
    peek() { return this.items[this.head]; }
    clear() { this.items = []; this.total = 0; this.head = 0; }
  }

  // ==== ReadableStream ====
  const token = Symbol('internal');
  class ReadableStream {
    _state = 'readable'; _reader = undefined; _storedError = undefined; _disturbed = false; _controller = undefined;
    // A byte source not set up yet (see internals.deferredByteStream): a function giving it.
    _deferred = undefined;
    constructor(source = undefined, strategy = undefined) {
      if (source === token) return;
      if (source !== undefined && source !== null && !isObj(source)) throw new TypeError('underlyingSource must be an object');
      source ??= {};
      const type = source.type === undefined ? undefined : String(source.type);
      if (type === 'bytes') {
        if (strategy?.size !== undefined) throw new RangeError('a byte stream cannot have a size function');
        const { hwm } = strategyOf(strategy, 0);
        setupByteController(this, source, hwm);
      } else if (type !== undefined) {
        throw new TypeError(`invalid type '${type}'`);
      } else {
        const { hwm, size } = strategyOf(strategy, 1);
        setupDefaultController(this, source, hwm, size, source);
      }
    }
    get locked() { return this._reader !== undefined; }
    cancel(reason) {
      if (this.locked) return rejected(new TypeError('Cannot cancel a locked stream'));
      return cancelStream(this, reason);
    }
    getReader(options = undefined) {
      const mode = options?.mode;
      if (mode === undefined) return new ReadableStreamDefaultReader(this);
      if (String(mode) !== 'byob') throw new TypeError(`invalid reader mode '${mode}'`);
      return new ReadableStreamBYOBReader(this);
    }
    pipeThrough(transform, options = {}) {
      if (!isObj(transform) || !(transform.readable instanceof ReadableStream) || !(transform.writable instanceof WritableStream)) {
        throw new TypeError('pipeThrough needs { writable, readable }');
      }
      if (this.locked) throw new TypeError('Cannot pipe a locked stream');
      if (transform.writable.locked) throw new TypeError('Cannot pipe to a locked stream');
      markHandled(pipe(this, transform.writable, options));
      return transform.readable;
    }
    pipeTo(destination, options = {}) {
      if (!(destination instanceof WritableStream)) return rejected(new TypeError('pipeTo needs a WritableStream'));
      if (this.locked) return rejected(new TypeError('Cannot pipe a locked stream'));
      if (destination.locked) return rejected(new TypeError('Cannot pipe to a locked stream'));
      return pipe(this, destination, options ?? {});
    }
    tee() { return tee(this); }
    values(options = {}) {
      const reader = new ReadableStreamDefaultReader(this);
      const preventCancel = !!options?.preventCancel;
      let ongoing = undefined, finished = false;
      const next = () => {
        if (finished) return resolved({ value: undefined, done: true });
        return reader.read().then((r) => {
          if (r.done) { finished = true; reader.releaseLock(); }
          return r;
        }, (e) => { finished = true; reader.releaseLock(); throw e; });
      };
      const iterator = {
        next() { ongoing = ongoing ? ongoing.then(next, next) : next(); return ongoing; },
        return(value) {
          const finish = () => {
            if (finished) return { value, done: true };
            finished = true;
            if (!preventCancel) { const p = reader.cancel(value); reader.releaseLock(); return p.then(() => ({ value, done: true })); }
            reader.releaseLock();
            return { value, done: true };
          };
          ongoing = ongoing ? ongoing.then(finish, finish) : resolved().then(finish);
          return ongoing;
        },
        [Symbol.asyncIterator]() { return this; },
      };
      Object.setPrototypeOf(iterator, AsyncIteratorPrototype);
      return iterator;
    }
    [Symbol.asyncIterator](options) { return this.values(options); }
    static from(asyncIterable) {
      if (asyncIterable instanceof ReadableStream) return asyncIterable;
      const method = asyncIterable?.[Symbol.asyncIterator] ?? asyncIterable?.[Symbol.iterator];
      if (typeof method !== 'function') throw new TypeError('ReadableStream.from needs an iterable or async iterable');
      let iterator = method.call(asyncIterable);
      if (!isObj(iterator)) throw new TypeError('the iterator must be an object');
      const isAsync = typeof asyncIterable[Symbol.asyncIterator] === 'function';
      return new ReadableStream({
        async pull(controller) {
          const result = isAsync ? await iterator.next() : iterator.next();
          if (!isObj(result)) throw new TypeError('iterator result must be an object');
          if (result.done) controller.close(); else controller.enqueue(await result.value);
        },
        async cancel(reason) {
          const ret = iterator.return;
          if (ret === undefined) return;
          const result = await ret.call(iterator, reason);
          if (!isObj(result)) throw new TypeError('iterator return() result must be an object');
        },
      }, { highWaterMark: 0 });
    }
  }
  const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
  Object.defineProperty(ReadableStream.prototype, Symbol.toStringTag, { value: 'ReadableStream' });

  function createReadable(start, pull, cancel, hwm = 1, size = () => 1) {
    const stream = new ReadableStream(token);
    setupDefaultController(stream, { start, pull, cancel }, hwm, size, undefined);
    return stream;
  }

  function cancelStream(stream, reason) {
    setUpDeferred(stream);
    stream._disturbed = true;
    if (stream._state === 'closed') return resolved(undefined);
    if (stream._state === 'errored') return rejected(stream._storedError);
    closeStream(stream);
    const reader = stream._reader;
    if (reader instanceof ReadableStreamBYOBReader) {
      const requests = reader._readIntoRequests; reader._readIntoRequests = [];
      for (const r of requests) r.close(undefined);
    }
    return stream._controller._cancel(reason).then(noop);
  }
  function closeStream(stream) {
    stream._state = 'closed';
    const reader = stream._reader;
    if (!reader || reader === HOST_READER) return;
    reader._closed.resolve(undefined);
    if (reader instanceof ReadableStreamDefaultReader) {
      const requests = reader._readRequests; reader._readRequests = [];
      for (const r of requests) r.close();
    }
  }
  function errorStream(stream, e) {
    stream._state = 'errored';
    stream._storedError = e;
    const reader = stream._reader;
    if (!reader || reader === HOST_READER) return;
    reader._closed.reject(e); markHandled(reader._closed.promise);
    if (reader instanceof ReadableStreamDefaultReader) {
      const requests = reader._readRequests; reader._readRequests = [];
      for (const r of requests) r.error(e);
    } else {
      const requests = reader._readIntoRequests; reader._readIntoRequests = [];
      for (const r of requests) r.error(e);
    }
  }
  function fulfillRead(stream, chunk, done) {
    const request = stream._reader._readRequests.shift();
    if (done) request.close(); else request.chunk(chunk);
  }
  const numReadRequests = (s) => (s._reader instanceof ReadableStreamDefaultReader ? s._reader._readRequests.length : 0);
  const numReadIntoRequests = (s) => (s._reader instanceof ReadableStreamBYOBReader ? s._reader._readIntoRequests.length : 0);

  // ---- default controller ----
  class ReadableStreamDefaultController {
    constructor(key) { if (key !== token) throw new TypeError('Illegal constructor'); }
    get desiredSize() { return desiredSize(this); }
    close() {
      if (!canCloseOrEnqueue(this)) throw new TypeError('The stream is not in a state that permits close');
      this._closeRequested = true;
      if (this._queue.length === 0) { clearAlgorithms(this); closeStream(this._stream); }
    }
    enqueue(chunk) {
      if (!canCloseOrEnqueue(this)) throw new TypeError('The stream is not in a state that permits enqueue');
      const stream = this._stream;
      if (stream.locked && numReadRequests(stream) > 0) {
        fulfillRead(stream, chunk, false);
      } else {
        let size;
        try { size = this._size(chunk); } catch (e) { controllerError(this, e); throw e; }
        try { this._queue.push(chunk, size); } catch (e) { controllerError(this, e); throw e; }
      }
      callPullIfNeeded(this);
    }
    error(e) { controllerError(this, e); }
    _cancel(reason) {
      this._queue.clear();
      const result = this._cancelAlgorithm(reason);
      clearAlgorithms(this);
      return result;
    }
    _pull(request) {
      const stream = this._stream;
      if (this._queue.length > 0) {
        const chunk = this._queue.shift();
        if (this._closeRequested && this._queue.length === 0) { clearAlgorithms(this); closeStream(stream); }
        else callPullIfNeeded(this);
        request.chunk(chunk);
      } else {
        stream._reader._readRequests.push(request);
        callPullIfNeeded(this);
      }
    }
    _release() {}
  }
  function desiredSize(c) {
    const state = c._stream._state;
    if (state === 'errored') return null;
    if (state === 'closed') return 0;
    return c._hwm - c._queue.total;
  }
  const canCloseOrEnqueue = (c) => !c._closeRequested && c._stream._state === 'readable';
  function clearAlgorithms(c) { c._pullAlgorithm = undefined; c._cancelAlgorithm = undefined; c._size = undefined; }
  function controllerError(c, e) {
    if (c._stream._state !== 'readable') return;
    c._queue.clear();
    if (c instanceof ReadableByteStreamController) clearPendingPullIntos(c);
    clearAlgorithms(c);
    errorStream(c._stream, e);
  }
  function shouldPull(c) {
    const stream = c._stream;
    if (!c._started || stream._state !== 'readable') return false;
    if (c instanceof ReadableStreamDefaultController ? c._closeRequested : c._closeRequested) return false;
    if (stream.locked && (numReadRequests(stream) > 0 || numReadIntoRequests(stream) > 0)) return true;
    return desiredSize(c) > 0;
  }
  function callPullIfNeeded(c) {
    if (!shouldPull(c)) return;
    if (c._pulling) { c._pullAgain = true; return; }
    c._pulling = true;
    c._pullAlgorithm().then(() => {
      c._pulling = false;
      if (c._pullAgain) { c._pullAgain = false; callPullIfNeeded(c); }
    }, (e) => controllerError(c, e));
  }
  function setupDefaultController(stream, source, hwm, size, thisArg) {
    const c = new ReadableStreamDefaultController(token);
    Object.assign(c, { _stream: stream, _queue: new SizedQueue(), _started: false, _closeRequested: false, _pulling: false, _pullAgain: false, _hwm: hwm, _size: size });
    c._pullAlgorithm = () => call(source.pull, thisArg, [c]);
    c._cancelAlgorithm = (reason) => call(source.cancel, thisArg, [reason]);
    stream._controller = c;
    call(source.start, thisArg, [c]).then(() => { c._started = true; callPullIfNeeded(c); }, (e) => controllerError(c, e));
  }

  // ---- byte controller ----
  class ReadableStreamBYOBRequest {
    constructor(key) { if (key !== token) throw new TypeError('Illegal constructor'); }
    get view() { return this._view; }
    respond(bytesWritten) {
      if (!this._controller) throw new TypeError('This BYOB request has been invalidated');
      respondInternal(this._controller, Number(bytesWritten));
    }
    respondWithNewView(view) {
      if (!this._controller) throw new TypeError('This BYOB request has been invalidated');
      if (!ArrayBuffer.isView(view)) throw new TypeError('view must be an ArrayBufferView');
      const first = this._controller._pendingPullIntos[0];
      if (first.byteOffset + first.bytesFilled !== view.byteOffset) throw new RangeError('The region specified by view does not match byobRequest');
      first.buffer = view.buffer;
      respondInternal(this._controller, view.byteLength);
    }
  }
  class ReadableByteStreamController {
    constructor(key) { if (key !== token) throw new TypeError('Illegal constructor'); }
    get byobRequest() {
      if (this._byobRequest === null && this._pendingPullIntos.length > 0) {
        const d = this._pendingPullIntos[0];
        const request = new ReadableStreamBYOBRequest(token);
        request._controller = this;
        request._view = new Uint8Array(d.buffer, d.byteOffset + d.bytesFilled, d.byteLength - d.bytesFilled);
        this._byobRequest = request;
      }
      return this._byobRequest;
    }
    get desiredSize() { return desiredSize(this); }
    close() {
      if (this._closeRequested || this._stream._state !== 'readable') throw new TypeError('The stream is not in a state that permits close');
      if (this._queue.total > 0) { this._closeRequested = true; return; }
      const first = this._pendingPullIntos[0];
      if (first && first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
        controllerError(this, e);
        throw e;
      }
      clearAlgorithms(this);
      closeStream(this._stream);
    }
    enqueue(chunk) {
      if (!ArrayBuffer.isView(chunk)) throw new TypeError('chunk must be an ArrayBufferView');
      if (chunk.byteLength === 0) throw new TypeError('chunk must not be empty');
      if (this._closeRequested || this._stream._state !== 'readable') throw new TypeError('The stream is not in a state that permits enqueue');
      const stream = this._stream;
      // Copy rather than transfer: the caller's buffer stays usable, as in workerd.
      const bytes = new Uint8Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
      invalidateByobRequest(this);
      if (numReadRequests(stream) > 0) {
        if (this._queue.total === 0) fulfillRead(stream, bytes, false);
        else { this._queue.push(bytes, bytes.byteLength); drainToReadRequests(this); }
      } else if (numReadIntoRequests(stream) > 0) {
        this._queue.push(bytes, bytes.byteLength);
        processPullIntos(this);
      } else {
        this._queue.push(bytes, bytes.byteLength);
      }
      callPullIfNeeded(this);
    }
    error(e) { controllerError(this, e); }
    _cancel(reason) {
      clearPendingPullIntos(this);
      this._queue.clear();
      const result = this._cancelAlgorithm(reason);
      clearAlgorithms(this);
      return result;
    }
    _pull(request) {
      const stream = this._stream;
      if (this._queue.total > 0) {
        const bytes = this._queue.shift();
        if (this._queue.total === 0 && this._closeRequested) { clearAlgorithms(this); closeStream(stream); }
        else callPullIfNeeded(this);
        request.chunk(bytes);
        return;
      }
      if (this._autoAllocate !== undefined) {
        let buffer;
        try { buffer = new ArrayBuffer(this._autoAllocate); } catch (e) { request.error(e); return; }
        this._pendingPullIntos.push({ buffer, byteOffset: 0, byteLength: this._autoAllocate, bytesFilled: 0, minimumFill: 1, elementSize: 1, ctor: Uint8Array, kind: 'default' });
      }
      stream._reader._readRequests.push(request);
      callPullIfNeeded(this);
    }
    _release() {
      if (this._pendingPullIntos.length > 0) {
        const first = this._pendingPullIntos[0];
        first.kind = 'none';
        this._pendingPullIntos = [first];
      }
    }
  }
  function invalidateByobRequest(c) {
    if (c._byobRequest === null) return;
    c._byobRequest._controller = undefined;
    c._byobRequest._view = null;
    c._byobRequest = null;
  }
  function clearPendingPullIntos(c) { invalidateByobRequest(c); c._pendingPullIntos = []; }
  function drainToReadRequests(c) {
    const stream = c._stream;
    while (numReadRequests(stream) > 0 && c._queue.total > 0) {
      fulfillRead(stream, c._queue.shift(), false);
    }
    if (c._queue.total === 0 && c._closeRequested) { clearAlgorithms(c); closeStream(stream); }
  }
  // Copies queued bytes into the first pending BYOB read; returns whether it is satisfied.
  function fillPullInto(c, d) {
    const maxBytes = Math.min(c._queue.total, d.byteLength - d.bytesFilled);
    const maxEnd = d.bytesFilled + maxBytes;
    let toCopy = maxBytes, ready = false;
    const remainder = maxEnd % d.elementSize;
    const alignedEnd = maxEnd - remainder;
    if (alignedEnd >= d.minimumFill) { toCopy = alignedEnd - d.bytesFilled; ready = true; }
    const target = new Uint8Array(d.buffer, d.byteOffset);
    while (toCopy > 0) {
      const head = c._queue.peek().value;
      const n = Math.min(toCopy, head.byteLength);
      target.set(head.subarray(0, n), d.bytesFilled);
      if (n === head.byteLength) c._queue.shift();
      else { c._queue.peek().value = head.subarray(n); c._queue.peek().size -= n; c._queue.total -= n; }
      d.bytesFilled += n; toCopy -= n;
    }
    return ready;
  }
  function commitPullInto(stream, d) {
    let done = false;
    if (stream._state === 'closed') done = true;
    const view = new d.ctor(d.buffer, d.byteOffset, d.bytesFilled / d.elementSize);
    if (d.kind === 'default') fulfillRead(stream, view, done);
    else if (d.kind === 'byob') {
      const request = stream._reader._readIntoRequests.shift();
      if (done) request.close(view); else request.chunk(view);
    }
  }
  function processPullIntos(c) {
    while (c._pendingPullIntos.length > 0) {
      if (c._queue.total === 0) return;
      const d = c._pendingPullIntos[0];
      if (fillPullInto(c, d)) {
        c._pendingPullIntos.shift();
        commitPullInto(c._stream, d);
      }
    }
  }
  function respondInternal(c, bytesWritten) {
    const first = c._pendingPullIntos[0];
    const state = c._stream._state;
    if (state === 'closed') {
      if (bytesWritten !== 0) throw new TypeError('bytesWritten must be 0 when the stream is closed');
    } else if (bytesWritten === 0 || first.bytesFilled + bytesWritten > first.byteLength) {
      throw new RangeError('bytesWritten out of range');
    }
    invalidateByobRequest(c);
    if (state === 'closed') {
      if (first.kind === 'none') c._pendingPullIntos.shift();
      while (numReadIntoRequests(c._stream) > 0 && c._pendingPullIntos.length) commitPullInto(c._stream, c._pendingPullIntos.shift());
    } else {
      first.bytesFilled += bytesWritten;
      if (first.kind === 'none') {
        c._pendingPullIntos.shift();
        if (first.bytesFilled > 0) c._queue.push(new Uint8Array(first.buffer.slice(first.byteOffset, first.byteOffset + first.bytesFilled)), first.bytesFilled);
        processPullIntos(c);
      } else if (first.bytesFilled >= first.minimumFill) {
        c._pendingPullIntos.shift();
        const remainder = first.bytesFilled % first.elementSize;
        if (remainder > 0) {
          const end = first.byteOffset + first.bytesFilled;
          c._queue.push(new Uint8Array(first.buffer.slice(end - remainder, end)), remainder);
          first.bytesFilled -= remainder;
        }
        commitPullInto(c._stream, first);
        processPullIntos(c);
      }
    }
    callPullIfNeeded(c);
  }
  // A byte stream (high-water mark 0) whose source is set up only when something first locks
  // it (a reader, pipeTo, async iteration, tee), cancels it or errors it (an abort): a fetch()
  // response's body that is handed on whole, as a proxy does, never pays for a controller.
  // The streams API cannot tell the two apart: with no room to fill, a source is not pulled
  // before a read. `makeSource()` gives the underlying source.
  internals.deferredByteStream = function (makeSource) {
    const stream = new ReadableStream(token);
    stream._deferred = makeSource;
    return stream;
  };
  function setUpDeferred(stream) {
    const makeSource = stream._deferred;
    if (makeSource === undefined) return;
    stream._deferred = undefined;
    setupByteController(stream, makeSource(), 0);
  }
  internals.setUpDeferred = setUpDeferred;
  // Locks `stream` for good for the host, which took its source: a deferred one is never set up.
  const HOST_READER = Object.freeze({});
  internals.lockForHost = (stream) => {
    if (stream._deferred === undefined) {
      new ReadableStreamDefaultReader(stream);
      return;
    }
    stream._deferred = undefined;
    stream._reader = HOST_READER;
  };
  function setupByteController(stream, source, hwm) {
    const c = new ReadableByteStreamController(token);
    let autoAllocate = source.autoAllocateChunkSize;
    if (autoAllocate !== undefined) {
      autoAllocate = Number(autoAllocate);
      if (!Number.isInteger(autoAllocate) || autoAllocate <= 0) throw new TypeError('autoAllocateChunkSize must be a positive integer');
    }
    Object.assign(c, { _stream: stream, _queue: new SizedQueue(), _started: false, _closeRequested: false, _pulling: false,
      _pullAgain: false, _hwm: hwm, _pendingPullIntos: [], _byobRequest: null, _autoAllocate: autoAllocate });
    c._pullAlgorithm = () => call(source.pull, source, [c]);
    c._cancelAlgorithm = (reason) => call(source.cancel, source, [reason]);
    stream._controller = c;
    call(source.start, source, [c]).then(() => { c._started = true; callPullIfNeeded(c); }, (e) => controllerError(c, e));
  }

  // ---- readers ----
  function genericInitialize(reader, stream) {
    setUpDeferred(stream);
    reader._stream = stream;
    stream._reader = reader;
    reader._closed = deferred();
    if (stream._state === 'closed') reader._closed.resolve(undefined);
    else if (stream._state === 'errored') { reader._closed.reject(stream._storedError); markHandled(reader._closed.promise); }
  }
  function genericRelease(reader) {
    const stream = reader._stream;
    const e = new TypeError('Reader was released');
    if (stream._state === 'readable') reader._closed.reject(e);
    else { reader._closed = deferred(); reader._closed.reject(e); }
    markHandled(reader._closed.promise);
    stream._controller._release();
    stream._reader = undefined;
    reader._stream = undefined;
  }
  class ReadableStreamDefaultReader {
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError('ReadableStreamDefaultReader needs a ReadableStream');
      if (stream.locked) throw new TypeError('ReadableStream is locked');
      genericInitialize(this, stream);
      this._readRequests = [];
    }
    get closed() { return this._closed.promise; }
    cancel(reason) {
      if (!this._stream) return rejected(new TypeError('Reader has no stream'));
      return cancelStream(this._stream, reason);
    }
    read() {
      const stream = this._stream;
      if (!stream) return rejected(new TypeError('Reader has no stream (releaseLock was called)'));
      const d = deferred();
      readInto(this, {
        chunk: (value) => d.resolve({ value, done: false }),
        close: () => d.resolve({ value: undefined, done: true }),
        error: (e) => d.reject(e),
      });
      return d.promise;
    }
    releaseLock() {
      if (!this._stream) return;
      genericRelease(this);
      const requests = this._readRequests; this._readRequests = [];
      const e = new TypeError('Reader was released');
      for (const r of requests) r.error(e);
    }
  }
  function readInto(reader, request) {
    const stream = reader._stream;
    stream._disturbed = true;
    if (stream._state === 'closed') request.close();
    else if (stream._state === 'errored') request.error(stream._storedError);
    else stream._controller._pull(request);
  }
  class ReadableStreamBYOBReader {
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError('ReadableStreamBYOBReader needs a ReadableStream');
      if (stream.locked) throw new TypeError('ReadableStream is locked');
      setUpDeferred(stream);
      if (!(stream._controller instanceof ReadableByteStreamController)) throw new TypeError('BYOB readers need a byte stream');
      genericInitialize(this, stream);
      this._readIntoRequests = [];
    }
    get closed() { return this._closed.promise; }
    cancel(reason) {
      if (!this._stream) return rejected(new TypeError('Reader has no stream'));
      return cancelStream(this._stream, reason);
    }
    read(view, options = {}) {
      if (!ArrayBuffer.isView(view)) return rejected(new TypeError('read() needs an ArrayBufferView'));
      if (view.byteLength === 0) return rejected(new TypeError('view must not be empty'));
      if (view.buffer.byteLength === 0) return rejected(new TypeError('view buffer must not be empty'));
      const min = options?.min === undefined ? 1 : Number(options.min);
      const length = view instanceof DataView ? view.byteLength : view.length;
      if (!(min > 0)) return rejected(new TypeError('min must be positive'));
      if (min > length) return rejected(new RangeError('min exceeds the view length'));
      const stream = this._stream;
      if (!stream) return rejected(new TypeError('Reader has no stream (releaseLock was called)'));
      const d = deferred();
      const request = {
        chunk: (value) => d.resolve({ value, done: false }),
        close: (value) => d.resolve({ value, done: true }),
        error: (e) => d.reject(e),
      };
      stream._disturbed = true;
      if (stream._state === 'errored') { request.error(stream._storedError); return d.promise; }
      const c = stream._controller;
      const elementSize = view.BYTES_PER_ELEMENT ?? 1;
      const ctor = view instanceof DataView ? DataView : view.constructor;
      const { byteOffset, byteLength } = view;
      // The reader owns the buffer until the read completes (transferred, as the spec says).
      const buffer = typeof view.buffer.transfer === 'function' ? view.buffer.transfer() : view.buffer;
      const pullInto = { buffer, byteOffset, byteLength, bytesFilled: 0,
        minimumFill: min * elementSize, elementSize, ctor, kind: 'byob' };
      if (c._pendingPullIntos.length > 0) {
        c._pendingPullIntos.push(pullInto);
        this._readIntoRequests.push(request);
        return d.promise;
      }
      if (stream._state === 'closed') {
        request.close(new ctor(pullInto.buffer, pullInto.byteOffset, 0));
        return d.promise;
      }
      if (c._queue.total > 0) {
        if (fillPullInto(c, pullInto)) {
          if (c._queue.total === 0 && c._closeRequested) { clearAlgorithms(c); closeStream(stream); }
          else callPullIfNeeded(c);
          request.chunk(new ctor(pullInto.buffer, pullInto.byteOffset, pullInto.bytesFilled / elementSize));
          return d.promise;
        }
        if (c._closeRequested) {
          const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
          controllerError(c, e);
          request.error(e);
          return d.promise;
        }
      }
      c._pendingPullIntos.push(pullInto);
      this._readIntoRequests.push(request);
      callPullIfNeeded(c);
      return d.promise;
    }
    releaseLock() {
      if (!this._stream) return;
      genericRelease(this);
      const requests = this._readIntoRequests; this._readIntoRequests = [];
      const e = new TypeError('Reader was released');
      for (const r of requests) r.error(e);
    }
  }

  // ---- tee ----
  function tee(stream) {
    const reader = stream.getReader();
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false, reason1, reason2, branch1, branch2;
    const cancelled = deferred();
    const isBytes = stream._controller instanceof ReadableByteStreamController;
    const pullAlgorithm = () => {
      if (reading) { readAgain = true; return resolved(); }
      reading = true;
      readInto(reader, {
        chunk: (chunk) => {
          queueMicrotask(() => {
            readAgain = false;
            const chunk2 = isBytes && !canceled1 && !canceled2 ? new Uint8Array(chunk) : chunk;
            if (!canceled1) branch1._controller.enqueue(chunk);
            if (!canceled2) branch2._controller.enqueue(chunk2);
            reading = false;
            if (readAgain) pullAlgorithm();
          });
        },
        close: () => {
          reading = false;
          if (!canceled1) branch1._controller.close();
          if (!canceled2) branch2._controller.close();
          if (!canceled1 || !canceled2) cancelled.resolve(undefined);
        },
        error: () => { reading = false; },
      });
      return resolved();
    };
    const cancelBranch = (which) => (reason) => {
      if (which === 1) { canceled1 = true; reason1 = reason; } else { canceled2 = true; reason2 = reason; }
      if (canceled1 && canceled2) cancelled.resolve(cancelStream(stream, [reason1, reason2]));
      return cancelled.promise;
    };
    branch1 = createReadable(noop, pullAlgorithm, cancelBranch(1));
    branch2 = createReadable(noop, pullAlgorithm, cancelBranch(2));
    reader._closed.promise.catch((e) => {
      controllerError(branch1._controller, e);
      controllerError(branch2._controller, e);
      if (!canceled1 || !canceled2) cancelled.resolve(undefined);
    });
    return [branch1, branch2];
  }

  // ---- pipeTo ----
  function pipe(source, dest, { preventClose = false, preventAbort = false, preventCancel = false, signal } = {}) {
    preventClose = !!preventClose; preventAbort = !!preventAbort; preventCancel = !!preventCancel;
    if (signal !== undefined && !(signal instanceof AbortSignal)) return rejected(new TypeError('signal must be an AbortSignal'));
    const reader = source.getReader();
    const writer = dest.getWriter();
    source._disturbed = true;
    let shuttingDown = false, currentWrite = resolved();
    const done = deferred();
    let abortListener;
    const finalize = (isError, error) => {
      writer.releaseLock();
      reader.releaseLock();
      if (abortListener) signal.removeEventListener('abort', abortListener);
      if (isError) done.reject(error); else done.resolve(undefined);
    };
    const waitForWrites = () => {
      const old = currentWrite;
      return old.then(() => (old !== currentWrite ? waitForWrites() : undefined));
    };
    const shutdownWithAction = (action, isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      const run = () => action().then(() => finalize(isError, error), (e) => finalize(true, e));
      if (dest._state === 'writable' && !closeQueuedOrInFlight(dest)) waitForWrites().then(run, run); else run();
    };
    const shutdown = (isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      const run = () => finalize(isError, error);
      if (dest._state === 'writable' && !closeQueuedOrInFlight(dest)) waitForWrites().then(run, run); else run();
    };
    if (signal) {
      abortListener = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) actions.push(() => (dest._state === 'writable' ? abortWritable(dest, error) : resolved()));
        if (!preventCancel) actions.push(() => (source._state === 'readable' ? cancelStream(source, error) : resolved()));
        shutdownWithAction(() => Promise.all(actions.map((a) => a())), true, error);
      };
      if (signal.aborted) { abortListener(); return done.promise; }
      signal.addEventListener('abort', abortListener);
    }
    // Errors and closes on either side.
    const onSourceError = (e) => {
      if (!preventAbort) shutdownWithAction(() => abortWritable(dest, e), true, e); else shutdown(true, e);
    };
    const onDestError = (e) => {
      if (!preventCancel) shutdownWithAction(() => cancelStream(source, e), true, e); else shutdown(true, e);
    };
    const onSourceClosed = () => {
      if (!preventClose) shutdownWithAction(() => writerCloseWithErrorPropagation(writer), false); else shutdown(false);
    };
    reader._closed.promise.then(() => { if (source._state === 'closed') onSourceClosed(); }, onSourceError);
    writer._closed.promise.catch(onDestError);
    if (source._state === 'errored') onSourceError(source._storedError);
    else if (dest._state === 'errored' || dest._state === 'erroring') onDestError(dest._storedError);
    else if (closeQueuedOrInFlight(dest) || dest._state === 'closed') {
      const e = new TypeError('the destination stream closed');
      if (!preventCancel) shutdownWithAction(() => cancelStream(source, e), true, e); else shutdown(true, e);
    } else if (source._state === 'closed') onSourceClosed();
    const step = () => {
      if (shuttingDown) return;
      writer._ready.promise.then(() => {
        if (shuttingDown) return;
        readInto(reader, {
          chunk: (chunk) => {
            currentWrite = markHandled(writerWrite(writer, chunk));
            step();
          },
          close: () => {},
          error: () => {},
        });
      }, noop);
    };
    step();
    return done.promise;
  }

  // ==== WritableStream ====
  class WritableStream {
    _state = 'writable'; _storedError = undefined; _writer = undefined; _controller = undefined;
    _inFlightWrite = undefined; _closeRequest = undefined; _inFlightClose = undefined;
    _pendingAbort = undefined; _writeRequests = []; _backpressure = false;
    constructor(sink = undefined, strategy = undefined) {
      if (sink === token) return;
      if (sink !== undefined && sink !== null && !isObj(sink)) throw new TypeError('underlyingSink must be an object');
      sink ??= {};
      if (sink.type !== undefined) throw new RangeError('invalid type');
      const { hwm, size } = strategyOf(strategy, 1);
      setupWritableController(this, sink, hwm, size, sink);
    }
    get locked() { return this._writer !== undefined; }
    abort(reason) {
      if (this.locked) return rejected(new TypeError('Cannot abort a locked stream'));
      return abortWritable(this, reason);
    }
    close() {
      if (this.locked) return rejected(new TypeError('Cannot close a locked stream'));
      if (closeQueuedOrInFlight(this)) return rejected(new TypeError('The stream is already closing'));
      return closeWritable(this);
    }
    getWriter() { return new WritableStreamDefaultWriter(this); }
  }
  Object.defineProperty(WritableStream.prototype, Symbol.toStringTag, { value: 'WritableStream' });
  function createWritable(start, write, close, abort, hwm = 1, size = () => 1) {
    const stream = new WritableStream(token);
    setupWritableController(stream, { start, write, close, abort }, hwm, size, undefined);
    return stream;
  }
  function abortWritable(stream, reason) {
    if (stream._state === 'closed' || stream._state === 'errored') return resolved(undefined);
    stream._controller._abortController.abort(reason);
    const state = stream._state;
    if (state === 'closed' || state === 'errored') return resolved(undefined);
    if (stream._pendingAbort) return stream._pendingAbort.d.promise;
    let wasAlreadyErroring = false;
    if (state === 'erroring') { wasAlreadyErroring = true; reason = undefined; }
    const d = deferred();
    stream._pendingAbort = { d, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) startErroring(stream, reason);
    return d.promise;
  }
  function closeWritable(stream) {
    const state = stream._state;
    if (state === 'closed' || state === 'errored') return rejected(new TypeError('The stream is closed or errored'));
    const d = deferred();
    stream._closeRequest = d;
    const writer = stream._writer;
    if (writer && stream._backpressure && state === 'writable') writer._ready.resolve(undefined);
    const c = stream._controller;
    c._queue.push(closeSentinel, 0);
    advanceQueueIfNeeded(c);
    return d.promise;
  }
  const closeSentinel = Symbol('close');
  const closeQueuedOrInFlight = (s) => s._closeRequest !== undefined || s._inFlightClose !== undefined;
  const hasInFlight = (s) => s._inFlightWrite !== undefined || s._inFlightClose !== undefined;
  function dealWithRejection(stream, error) {
    if (stream._state === 'writable') { startErroring(stream, error); return; }
    finishErroring(stream);
  }
  function startErroring(stream, reason) {
    const c = stream._controller;
    stream._state = 'erroring';
    stream._storedError = reason;
    const writer = stream._writer;
    if (writer) ensureReadyRejected(writer, reason);
    if (!hasInFlight(stream) && c._started) finishErroring(stream);
  }
  function finishErroring(stream) {
    stream._state = 'errored';
    stream._controller._queue.clear();
    const e = stream._storedError;
    for (const r of stream._writeRequests) r.reject(e);
    stream._writeRequests = [];
    if (!stream._pendingAbort) { rejectCloseAndClosed(stream); return; }
    const abort = stream._pendingAbort;
    stream._pendingAbort = undefined;
    if (abort.wasAlreadyErroring) { abort.d.reject(e); rejectCloseAndClosed(stream); return; }
    const c = stream._controller;
    const result = c._abortAlgorithm(abort.reason);
    clearSinkAlgorithms(c);
    result.then(() => { abort.d.resolve(undefined); rejectCloseAndClosed(stream); },
      (reason) => { abort.d.reject(reason); rejectCloseAndClosed(stream); });
  }
  function rejectCloseAndClosed(stream) {
    if (stream._closeRequest) { stream._closeRequest.reject(stream._storedError); stream._closeRequest = undefined; }
    const writer = stream._writer;
    if (writer) { writer._closed.reject(stream._storedError); markHandled(writer._closed.promise); }
  }
  function updateBackpressure(stream, backpressure) {
    const writer = stream._writer;
    if (writer && backpressure !== stream._backpressure) {
      if (backpressure) writer._ready = deferred();
      else writer._ready.resolve(undefined);
    }
    stream._backpressure = backpressure;
  }
  class WritableStreamDefaultController {
    constructor(key) { if (key !== token) throw new TypeError('Illegal constructor'); }
    get signal() { return this._abortController.signal; }
    error(e) {
      if (this._stream._state !== 'writable') return;
      clearSinkAlgorithms(this);
      startErroring(this._stream, e);
    }
  }
  function clearSinkAlgorithms(c) { c._writeAlgorithm = c._closeAlgorithm = c._abortAlgorithm = undefined; c._size = undefined; }
  const writableDesiredSize = (c) => c._hwm - c._queue.total;
  function setupWritableController(stream, sink, hwm, size, thisArg) {
    const c = new WritableStreamDefaultController(token);
    Object.assign(c, { _stream: stream, _queue: new SizedQueue(), _started: false, _hwm: hwm, _size: size, _abortController: new AbortController() });
    c._writeAlgorithm = (chunk) => call(sink.write, thisArg, [chunk, c]);
    c._closeAlgorithm = () => call(sink.close, thisArg, []);
    c._abortAlgorithm = (reason) => call(sink.abort, thisArg, [reason]);
    stream._controller = c;
    updateBackpressure(stream, writableDesiredSize(c) <= 0);
    call(sink.start, thisArg, [c]).then(() => { c._started = true; advanceQueueIfNeeded(c); },
      (e) => { c._started = true; dealWithRejection(stream, e); });
  }
  function advanceQueueIfNeeded(c) {
    const stream = c._stream;
    if (!c._started || stream._inFlightWrite !== undefined) return;
    if (stream._state === 'erroring') { finishErroring(stream); return; }
    if (c._queue.length === 0) return;
    const value = c._queue.peek().value;
    if (value === closeSentinel) {
      stream._inFlightClose = stream._closeRequest;
      stream._closeRequest = undefined;
      c._queue.shift();
      const result = c._closeAlgorithm();
      clearSinkAlgorithms(c);
      result.then(() => {
        stream._inFlightClose.resolve(undefined);
        stream._inFlightClose = undefined;
        if (stream._state === 'erroring') {
          stream._storedError = undefined;
          if (stream._pendingAbort) { stream._pendingAbort.d.resolve(undefined); stream._pendingAbort = undefined; }
        }
        stream._state = 'closed';
        if (stream._writer) stream._writer._closed.resolve(undefined);
      }, (e) => {
        stream._inFlightClose.reject(e);
        stream._inFlightClose = undefined;
        if (stream._pendingAbort) { stream._pendingAbort.d.reject(e); stream._pendingAbort = undefined; }
        dealWithRejection(stream, e);
      });
    } else {
      stream._inFlightWrite = stream._writeRequests.shift();
      c._writeAlgorithm(value).then(() => {
        stream._inFlightWrite.resolve(undefined);
        stream._inFlightWrite = undefined;
        const state = stream._state;
        c._queue.shift();
        if (!closeQueuedOrInFlight(stream) && state === 'writable') updateBackpressure(stream, writableDesiredSize(c) <= 0);
        advanceQueueIfNeeded(c);
      }, (e) => {
        stream._inFlightWrite.reject(e);
        stream._inFlightWrite = undefined;
        if (stream._state === 'writable') clearSinkAlgorithms(c);
        dealWithRejection(stream, e);
      });
    }
  }
  function writerWrite(writer, chunk) {
    const stream = writer._stream;
    const c = stream._controller;
    let size;
    try { size = c._size ? c._size(chunk) : 1; } catch (e) { if (stream._state === 'writable') { clearSinkAlgorithms(c); startErroring(stream, e); } return rejected(e); }
    if (stream !== writer._stream) return rejected(new TypeError('Writer was released'));
    const state = stream._state;
    if (state === 'errored') return rejected(stream._storedError);
    if (closeQueuedOrInFlight(stream) || state === 'closed') return rejected(new TypeError('The stream is closing or closed'));
    if (state === 'erroring') return rejected(stream._storedError);
    const d = deferred();
    stream._writeRequests.push(d);
    try { c._queue.push(chunk, size); } catch (e) {
      if (stream._state === 'writable') { clearSinkAlgorithms(c); startErroring(stream, e); }
      return d.promise;
    }
    if (!closeQueuedOrInFlight(stream) && stream._state === 'writable') updateBackpressure(stream, writableDesiredSize(c) <= 0);
    advanceQueueIfNeeded(c);
    return d.promise;
  }
  function writerCloseWithErrorPropagation(writer) {
    const stream = writer._stream;
    const state = stream._state;
    if (closeQueuedOrInFlight(stream) || state === 'closed') return resolved(undefined);
    if (state === 'errored') return rejected(stream._storedError);
    return closeWritable(stream);
  }
  function ensureReadyRejected(writer, e) {
    if (writer._readySettled === false) writer._ready.reject(e);
    else writer._ready = deferred(), writer._ready.reject(e);
    markHandled(writer._ready.promise);
  }
  class WritableStreamDefaultWriter {
    constructor(stream) {
      if (!(stream instanceof WritableStream)) throw new TypeError('WritableStreamDefaultWriter needs a WritableStream');
      if (stream.locked) throw new TypeError('WritableStream is locked');
      this._stream = stream;
      stream._writer = this;
      const state = stream._state;
      this._ready = deferred();
      this._closed = deferred();
      if (state === 'writable') {
        if (!closeQueuedOrInFlight(stream) && stream._backpressure) { /* ready stays pending */ } else this._ready.resolve(undefined);
      } else if (state === 'erroring') {
        this._ready.reject(stream._storedError); markHandled(this._ready.promise);
      } else if (state === 'closed') {
        this._ready.resolve(undefined); this._closed.resolve(undefined);
      } else {
        this._ready.reject(stream._storedError); markHandled(this._ready.promise);
        this._closed.reject(stream._storedError); markHandled(this._closed.promise);
      }
    }
    get closed() { return this._closed.promise; }
    get ready() { return this._ready.promise; }
    get desiredSize() {
      if (!this._stream) throw new TypeError('Writer was released');
      const state = this._stream._state;
      if (state === 'errored' || state === 'erroring') return null;
      if (state === 'closed') return 0;
      return writableDesiredSize(this._stream._controller);
    }
    abort(reason) {
      if (!this._stream) return rejected(new TypeError('Writer was released'));
      return abortWritable(this._stream, reason);
    }
    close() {
      const stream = this._stream;
      if (!stream) return rejected(new TypeError('Writer was released'));
      if (closeQueuedOrInFlight(stream)) return rejected(new TypeError('The stream is already closing'));
      return closeWritable(stream);
    }
    releaseLock() {
      const stream = this._stream;
      if (!stream) return;
      const e = new TypeError('Writer was released');
      ensureReadyRejected(this, e);
      this._closed = deferred(); this._closed.reject(e); markHandled(this._closed.promise);
      stream._writer = undefined;
      this._stream = undefined;
    }
    write(chunk) {
      if (!this._stream) return rejected(new TypeError('Writer was released'));
      return writerWrite(this, chunk);
    }
  }

  // ==== TransformStream ====
  class TransformStream {
    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      if (transformer !== undefined && transformer !== null && !isObj(transformer)) throw new TypeError('transformer must be an object');
      transformer ??= {};
      if (transformer.readableType !== undefined) throw new RangeError('invalid readableType');
      if (transformer.writableType !== undefined) throw new RangeError('invalid writableType');
      const w = strategyOf(writableStrategy, 1);
      const r = strategyOf(readableStrategy, 0);
      const start = deferred();
      const controller = new TransformStreamDefaultController(token);
      controller._stream = this;
      this._controller = controller;
      this._backpressure = undefined;
      this._backpressureChange = undefined;
      const transform = transformer.transform;
      controller._transformAlgorithm = transform === undefined
        ? (chunk) => { try { controller.enqueue(chunk); return resolved(); } catch (e) { return rejected(e); } }
        : (chunk) => call(transform, transformer, [chunk, controller]);
      controller._flushAlgorithm = () => call(transformer.flush, transformer, [controller]);
      controller._cancelAlgorithm = (reason) => call(transformer.cancel, transformer, [reason]);
      this._writable = createWritable(() => start.promise,
        (chunk) => sinkWrite(this, chunk), () => sinkClose(this), (reason) => sinkAbort(this, reason), w.hwm, w.size);
      this._readable = createReadable(() => start.promise,
        () => { setBackpressure(this, false); return this._backpressureChange.promise; },
        (reason) => sourceCancel(this, reason), r.hwm, r.size);
      setBackpressure(this, true);
      call(transformer.start, transformer, [controller]).then(start.resolve, start.reject);
    }
    get readable() { return this._readable; }
    get writable() { return this._writable; }
  }
  Object.defineProperty(TransformStream.prototype, Symbol.toStringTag, { value: 'TransformStream' });
  function setBackpressure(ts, backpressure) {
    if (ts._backpressureChange) ts._backpressureChange.resolve(undefined);
    ts._backpressureChange = deferred();
    ts._backpressure = backpressure;
  }
  function tsErrorWritableAndUnblock(ts, e) {
    const c = ts._controller;
    c._transformAlgorithm = c._flushAlgorithm = c._cancelAlgorithm = undefined;
    const wc = ts._writable._controller;
    if (ts._writable._state === 'writable') { clearSinkAlgorithms(wc); startErroring(ts._writable, e); }
    if (ts._backpressure) setBackpressure(ts, false);
  }
  function tsError(ts, e) {
    controllerError(ts._readable._controller, e);
    tsErrorWritableAndUnblock(ts, e);
  }
  function sinkWrite(ts, chunk) {
    const c = ts._controller;
    const perform = () => c._transformAlgorithm(chunk).catch((e) => { tsError(ts, e); throw e; });
    if (ts._backpressure) {
      return ts._backpressureChange.promise.then(() => {
        const writable = ts._writable;
        if (writable._state === 'erroring') throw writable._storedError;
        return perform();
      });
    }
    return perform();
  }
  function sinkAbort(ts, reason) {
    const c = ts._controller;
    if (c._finish) return c._finish.promise;
    const readable = ts._readable;
    c._finish = deferred();
    const cancelPromise = c._cancelAlgorithm(reason);
    c._transformAlgorithm = c._flushAlgorithm = c._cancelAlgorithm = undefined;
    cancelPromise.then(() => {
      if (readable._state === 'errored') c._finish.reject(readable._storedError);
      else { controllerError(readable._controller, reason); c._finish.resolve(undefined); }
    }, (r) => { controllerError(readable._controller, r); c._finish.reject(r); });
    return c._finish.promise;
  }
  function sinkClose(ts) {
    const c = ts._controller;
    if (c._finish) return c._finish.promise;
    const readable = ts._readable;
    c._finish = deferred();
    const flushPromise = c._flushAlgorithm();
    c._transformAlgorithm = c._flushAlgorithm = c._cancelAlgorithm = undefined;
    flushPromise.then(() => {
      if (readable._state === 'errored') c._finish.reject(readable._storedError);
      else {
        const rc = readable._controller;
        if (canCloseOrEnqueue(rc)) rc.close();
        c._finish.resolve(undefined);
      }
    }, (r) => { controllerError(readable._controller, r); c._finish.reject(r); });
    return c._finish.promise;
  }
  function sourceCancel(ts, reason) {
    const c = ts._controller;
    if (c._finish) return c._finish.promise;
    const writable = ts._writable;
    c._finish = deferred();
    const cancelPromise = c._cancelAlgorithm(reason);
    c._transformAlgorithm = c._flushAlgorithm = c._cancelAlgorithm = undefined;
    cancelPromise.then(() => {
      if (writable._state === 'errored') c._finish.reject(writable._storedError);
      else { tsErrorWritableAndUnblock(ts, reason); c._finish.resolve(undefined); }
    }, (r) => { tsErrorWritableAndUnblock(ts, r); c._finish.reject(r); });
    return c._finish.promise;
  }
  class TransformStreamDefaultController {
    constructor(key) { if (key !== token) throw new TypeError('Illegal constructor'); }
    get desiredSize() { return desiredSize(this._stream._readable._controller); }
    enqueue(chunk) {
      const ts = this._stream;
      const rc = ts._readable._controller;
      if (!canCloseOrEnqueue(rc)) throw new TypeError('The readable side is not in a state that permits enqueue');
      try { rc.enqueue(chunk); } catch (e) { tsErrorWritableAndUnblock(ts, e); throw ts._readable._storedError; }
      const backpressure = !shouldPullNoStart(rc);
      if (backpressure !== ts._backpressure) setBackpressure(ts, true);
    }
    error(e) { tsError(this._stream, e); }
    terminate() {
      const ts = this._stream;
      const rc = ts._readable._controller;
      if (canCloseOrEnqueue(rc)) rc.close();
      tsErrorWritableAndUnblock(ts, new TypeError('TransformStream terminated'));
    }
  }
  const shouldPullNoStart = (c) => desiredSize(c) > 0;

  // ==== strategies ====
  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) {
      if (!isObj(init) || init.highWaterMark === undefined) throw new TypeError('highWaterMark is required');
      this.#hwm = Number(init.highWaterMark);
    }
    get highWaterMark() { return this.#hwm; }
    get size() { return byteLengthSize; }
  }
  const byteLengthSize = function size(chunk) { return chunk.byteLength; };
  class CountQueuingStrategy {
    #hwm;
    constructor(init) {
      if (!isObj(init) || init.highWaterMark === undefined) throw new TypeError('highWaterMark is required');
      this.#hwm = Number(init.highWaterMark);
    }
    get highWaterMark() { return this.#hwm; }
    get size() { return countSize; }
  }
  const countSize = function size() { return 1; };

  // Reads a whole stream into one Uint8Array (for Body.text() and friends).
  // Reads a whole body stream into one Uint8Array. Reads go through the internal read requests,
  // not promises of { value, done } objects, so a patched Object.prototype.then cannot observe
  // or change them (Fetch §5.3, "fully read"). Every chunk must be a Uint8Array.
  internals.readAllBytes = function (stream) {
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    return new Promise((resolve, reject) => {
      const fail = (error) => { reader.releaseLock(); reject(error); };
      const request = {
        chunk(value) {
          if (!(value instanceof Uint8Array)) {
            const error = new TypeError('A body stream chunk was not a Uint8Array.');
            cancelStream(stream, error).catch(noop);
            return fail(error);
          }
          chunks.push(value);
          total += value.byteLength;
          queueMicrotask(() => readInto(reader, request));
        },
        close() {
          reader.releaseLock();
          if (chunks.length === 1) return resolve(chunks[0]);
          const out = new Uint8Array(total);
          let offset = 0;
          for (const c of chunks) { out.set(c, offset); offset += c.byteLength; }
          resolve(out);
        },
        error: fail,
      };
      readInto(reader, request);
    });
  };
  internals.isDisturbed = (stream) => stream._disturbed;
  // Whether nothing has locked, read, cancelled or errored `stream` (an aborted fetch() errors
  // its body before any read).
  internals.isUntouched = (stream) => stream._reader === undefined && !stream._disturbed && stream._state === 'readable';

  for (const [name, value] of Object.entries({ ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader,
    ReadableStreamDefaultController, ReadableByteStreamController, ReadableStreamBYOBRequest, WritableStream,
    WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
    ByteLengthQueuingStrategy, CountQueuingStrategy })) {
    internals.defineGlobal(name, value);
  }
})
