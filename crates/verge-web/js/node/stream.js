// node:stream — Node's streams: Readable (paused and flowing, 'readable' and 'data', pipe with
// backpressure), Writable (buffering, cork, _final, 'drain' and 'finish'), Duplex, Transform,
// PassThrough, finished and pipeline, the async iterators and Readable.from, and the bridges to
// web streams. `node:stream/promises` and `node:stream/web` are here too.
(function (ops, internals) {
  const EventEmitter = internals['node:events'];
  const { Buffer } = internals['node:buffer'];
  const { StringDecoder } = internals['node:string_decoder'];
  const nodeError = internals.nodeError;
  // Node runs these before promise jobs; a microtask keeps their order among themselves.
  const nextTick = (callback, ...args) => queueMicrotask(() => callback(...args));

  let defaultHighWaterMark = 64 * 1024;
  const defaultObjectHighWaterMark = 16;
  const getDefaultHighWaterMark = (objectMode) => (objectMode ? defaultObjectHighWaterMark : defaultHighWaterMark);
  function setDefaultHighWaterMark(objectMode, value) {
    if (!objectMode) defaultHighWaterMark = value;
  }
  function highWaterMarkOf(options, objectMode, duplexKey) {
    const value = options?.highWaterMark ?? options?.[duplexKey];
    if (value === undefined || value === null) return getDefaultHighWaterMark(objectMode);
    if (!Number.isInteger(value) || value < 0) throw nodeError('ERR_INVALID_ARG_VALUE', duplexKey ?? 'options.highWaterMark', value);
    return value;
  }
  const isUint8Array = (value) => value instanceof Uint8Array;
  const toBuffer = (bytes) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

  // --- Stream: the legacy base, an EventEmitter with the old pipe ---------------------------
  function Stream(options) {
    EventEmitter.call(this, options);
  }
  Object.setPrototypeOf(Stream.prototype, EventEmitter.prototype);
  Object.setPrototypeOf(Stream, EventEmitter);
  Stream.prototype.pipe = function (dest, options) {
    const source = this;
    const ondata = (chunk) => {
      if (dest.writable && dest.write(chunk) === false && source.pause) source.pause();
    };
    const ondrain = () => source.readable && source.resume && source.resume();
    source.on('data', ondata);
    dest.on('drain', ondrain);
    if (options?.end !== false) source.on('end', () => dest.end());
    dest.emit('pipe', source);
    return dest;
  };

  // --- destroy, shared by both sides --------------------------------------------------------
  function destroy(error, callback) {
    const r = this._readableState, w = this._writableState;
    const state = w ?? r;
    if (w?.destroyed || r?.destroyed) {
      if (typeof callback === 'function') callback();
      return this;
    }
    if (error) {
      if (w && !w.errored) w.errored = error;
      if (r && !r.errored) r.errored = error;
    }
    if (w) w.destroyed = true;
    if (r) r.destroyed = true;
    const run = () => {
      let called = false;
      const done = (error2) => {
        if (called) return;
        called = true;
        error2 ??= null;
        if (error2) {
          if (w && !w.errored) w.errored = error2;
          if (r && !r.errored) r.errored = error2;
        }
        if (w) w.closed = true;
        if (r) r.closed = true;
        if (typeof callback === 'function') callback(error2);
        nextTick(() => {
          if (error2) emitError(this, error2);
          emitClose(this);
        });
      };
      try {
        this._destroy(error ?? null, done);
      } catch (thrown) {
        done(thrown);
      }
    };
    if (state.constructed === false) this.once(kConstruct, run);
    else run();
    return this;
  }
  function emitError(stream, error) {
    const r = stream._readableState, w = stream._writableState;
    if (w?.errorEmitted || r?.errorEmitted) return;
    if (w) w.errorEmitted = true;
    if (r) r.errorEmitted = true;
    stream.emit('error', error);
  }
  function emitClose(stream) {
    const r = stream._readableState, w = stream._writableState;
    if (w) w.closeEmitted = true;
    if (r) r.closeEmitted = true;
    if (w?.emitClose || r?.emitClose) stream.emit('close');
  }
  // An error the stream cannot go on after: destroy it if it destroys itself, else just report.
  function errorOrDestroy(stream, error, sync) {
    const r = stream._readableState, w = stream._writableState;
    if (w?.destroyed || r?.destroyed) return;
    if (r?.autoDestroy || w?.autoDestroy) {
      stream.destroy(error);
      return;
    }
    if (w && !w.errored) w.errored = error;
    if (r && !r.errored) r.errored = error;
    if (sync) nextTick(emitError, stream, error);
    else emitError(stream, error);
  }
  function undestroy() {
    for (const state of [this._readableState, this._writableState]) {
      if (!state) continue;
      Object.assign(state, { destroyed: false, closed: false, closeEmitted: false, errored: null, errorEmitted: false });
    }
    const r = this._readableState, w = this._writableState;
    if (r) Object.assign(r, { ended: r.readable === false, endEmitted: r.readable === false });
    if (w) Object.assign(w, { ended: w.writable === false, ending: w.writable === false, finished: w.writable === false, finalCalled: false, prefinished: false });
  }

  const kConstruct = Symbol('construct');
  // Runs `_construct`, if the class has one, before anything else may touch the resource.
  function construct(stream, states) {
    if (typeof stream._construct !== 'function') return;
    for (const state of states) state.constructed = false;
    nextTick(() => {
      let called = false;
      const done = (error) => {
        if (called) return errorOrDestroy(stream, nodeError('ERR_MULTIPLE_CALLBACK'));
        called = true;
        for (const state of states) state.constructed = true;
        stream.emit(kConstruct);
        if (error) return errorOrDestroy(stream, error, true);
        if (stream._readableState) maybeReadMore(stream, stream._readableState);
        if (stream._writableState) {
          clearBuffer(stream, stream._writableState);
          finishMaybe(stream, stream._writableState);
        }
      };
      try {
        stream._construct(done);
      } catch (error) {
        done(error);
      }
    });
  }

  // --- Readable ----------------------------------------------------------------------------
  function ReadableState(options, stream, isDuplex) {
    this.objectMode = !!(options?.objectMode || (isDuplex && options?.readableObjectMode));
    this.highWaterMark = highWaterMarkOf(options, this.objectMode, isDuplex ? 'readableHighWaterMark' : undefined);
    this.buffer = [];
    this.length = 0;
    this.pipes = [];
    this.flowing = null;
    this.ended = false;
    this.endEmitted = false;
    this.reading = false;
    this.constructed = true;
    this.sync = true;
    this.needReadable = false;
    this.emittedReadable = false;
    this.readableListening = false;
    this.resumeScheduled = false;
    this.errorEmitted = false;
    this.emitClose = options?.emitClose !== false;
    this.autoDestroy = options?.autoDestroy !== false;
    this.destroyed = false;
    this.errored = null;
    this.closed = false;
    this.closeEmitted = false;
    this.defaultEncoding = options?.defaultEncoding || 'utf8';
    this.awaitDrainWriters = null;
    this.readingMore = false;
    this.dataEmitted = false;
    this.decoder = null;
    this.encoding = null;
    this.paused = null;
    if (options?.encoding) {
      this.decoder = new StringDecoder(options.encoding);
      this.encoding = options.encoding;
    }
  }

  function Readable(options) {
    if (!(this instanceof Readable)) return new Readable(options);
    const isDuplex = this instanceof Duplex;
    this._readableState = new ReadableState(options, this, isDuplex);
    if (options) {
      if (typeof options.read === 'function') this._read = options.read;
      if (typeof options.destroy === 'function') this._destroy = options.destroy;
      if (typeof options.construct === 'function') this._construct = options.construct;
      if (options.signal && !isDuplex) addAbortSignal(options.signal, this);
    }
    Stream.call(this, options);
    if (!isDuplex) construct(this, [this._readableState]);
  }
  Object.setPrototypeOf(Readable.prototype, Stream.prototype);
  Object.setPrototypeOf(Readable, Stream);

  Readable.prototype.destroy = destroy;
  Readable.prototype._undestroy = undestroy;
  Readable.prototype._destroy = function (error, callback) {
    callback(error);
  };
  Readable.prototype[EventEmitter.captureRejectionSymbol] = function (error) {
    this.destroy(error);
  };
  Readable.prototype.push = function (chunk, encoding) {
    return addChunk(this, chunk, encoding, false);
  };
  Readable.prototype.unshift = function (chunk, encoding) {
    return addChunk(this, chunk, encoding, true);
  };

  function addChunk(stream, chunk, encoding, front) {
    const state = stream._readableState;
    if (chunk === null) {
      state.reading = false;
      onEofChunk(stream, state);
      return false;
    }
    if (!state.objectMode) {
      if (typeof chunk === 'string') {
        encoding ||= state.defaultEncoding;
        if (state.encoding !== encoding) {
          chunk = front && state.encoding ? Buffer.from(chunk, encoding).toString(state.encoding) : Buffer.from(chunk, encoding);
        }
      } else if (isUint8Array(chunk)) {
        chunk = toBuffer(chunk);
      } else if (chunk !== undefined) {
        errorOrDestroy(stream, nodeError('ERR_INVALID_ARG_TYPE', 'chunk', 'of type string or an instance of Buffer or Uint8Array', chunk));
        return false;
      }
    }
    if (chunk === undefined) {
      state.reading = false;
      maybeReadMore(stream, state);
      return canPushMore(state);
    }
    if (front) {
      if (state.endEmitted) {
        errorOrDestroy(stream, nodeError('ERR_STREAM_UNSHIFT_AFTER_END_EVENT'));
        return false;
      }
      if (state.destroyed || state.errored) return false;
      store(stream, state, chunk, true);
      return canPushMore(state);
    }
    if (state.ended) {
      errorOrDestroy(stream, nodeError('ERR_STREAM_PUSH_AFTER_EOF'));
      return false;
    }
    if (state.destroyed || state.errored) return false;
    state.reading = false;
    if (state.decoder && !encoding && typeof chunk !== 'string') {
      chunk = state.decoder.write(chunk);
      if (!state.objectMode && chunk.length === 0) {
        maybeReadMore(stream, state);
        return canPushMore(state);
      }
    }
    if (state.objectMode || chunk.length > 0) store(stream, state, chunk, false);
    else maybeReadMore(stream, state);
    return canPushMore(state);
  }
  const canPushMore = (state) => !state.ended && (state.length < state.highWaterMark || state.length === 0);

  function store(stream, state, chunk, front) {
    if (state.flowing && state.length === 0 && !state.sync && stream.listenerCount('data') > 0) {
      // Nothing is waiting in the buffer: hand the chunk straight to the listeners.
      if (state.multiAwaitDrain) state.awaitDrainWriters.clear();
      else state.awaitDrainWriters = null;
      state.dataEmitted = true;
      stream.emit('data', chunk);
    } else {
      state.length += state.objectMode ? 1 : chunk.length;
      if (front) state.buffer.unshift(chunk);
      else state.buffer.push(chunk);
      if (state.needReadable) emitReadable(stream);
    }
    maybeReadMore(stream, state);
  }

  Readable.prototype.isPaused = function () {
    const state = this._readableState;
    return state.paused === true || state.flowing === false;
  };
  Readable.prototype.setEncoding = function (encoding) {
    const state = this._readableState;
    const decoder = new StringDecoder(encoding);
    state.decoder = decoder;
    state.encoding = decoder.encoding;
    // What is buffered already is re-read as text.
    const text = state.buffer.map((chunk) => decoder.write(chunk)).join('');
    state.buffer = text ? [text] : [];
    state.length = text.length;
    return this;
  };

  function howMuchToRead(n, state) {
    if (n <= 0 || (state.length === 0 && state.ended)) return 0;
    if (state.objectMode) return 1;
    if (Number.isNaN(n)) return state.flowing && state.length ? state.buffer[0].length : state.length;
    if (n <= state.length) return n;
    return state.ended ? state.length : 0;
  }

  Readable.prototype.read = function (n) {
    const state = this._readableState;
    n = n === undefined ? NaN : Number.parseInt(n, 10);
    const asked = n;
    if (n > state.highWaterMark) state.highWaterMark = nextPowerOfTwo(n);
    if (n !== 0) state.emittedReadable = false;
    if (n === 0 && state.needReadable &&
        ((state.highWaterMark !== 0 ? state.length >= state.highWaterMark : state.length > 0) || state.ended)) {
      if (state.length === 0 && state.ended) endReadable(this);
      else emitReadable(this);
      return null;
    }
    n = howMuchToRead(n, state);
    if (n === 0 && state.ended) {
      if (state.length === 0) endReadable(this);
      return null;
    }
    let doRead = state.needReadable;
    if (state.length === 0 || state.length - n < state.highWaterMark) doRead = true;
    if (state.ended || state.reading || state.destroyed || state.errored || !state.constructed) doRead = false;
    if (doRead) {
      state.reading = true;
      state.sync = true;
      if (state.length === 0) state.needReadable = true;
      try {
        this._read(state.highWaterMark);
      } catch (error) {
        errorOrDestroy(this, error);
      }
      state.sync = false;
      if (!state.reading) n = howMuchToRead(asked, state);
    }
    let taken = n > 0 ? takeFromBuffer(n, state) : null;
    if (taken === null) {
      state.needReadable = state.length <= state.highWaterMark;
      n = 0;
    } else {
      state.length -= state.objectMode ? 1 : n;
      if (state.multiAwaitDrain) state.awaitDrainWriters.clear();
      else state.awaitDrainWriters = null;
    }
    if (state.length === 0) {
      if (!state.ended) state.needReadable = true;
      if (asked !== n && state.ended) endReadable(this);
    }
    if (taken !== null && !state.errorEmitted && !state.closeEmitted) {
      state.dataEmitted = true;
      this.emit('data', taken);
    }
    return taken;
  };
  const nextPowerOfTwo = (n) => (n >= 0x40000000 ? 0x40000000 : 2 ** Math.ceil(Math.log2(n)));

  // The next `n` bytes (or characters, or one object) from the buffer.
  function takeFromBuffer(n, state) {
    const buffer = state.buffer;
    if (buffer.length === 0) return null;
    if (state.objectMode) return buffer.shift();
    if (n >= state.length) {
      const all = state.decoder ? buffer.join('') : buffer.length === 1 ? buffer[0] : Buffer.concat(buffer, state.length);
      state.buffer = [];
      return all;
    }
    const parts = [];
    let wanted = n;
    while (wanted > 0) {
      const head = buffer[0];
      if (head.length <= wanted) {
        parts.push(buffer.shift());
        wanted -= head.length;
      } else {
        parts.push(head.slice(0, wanted));
        buffer[0] = head.slice(wanted);
        wanted = 0;
      }
    }
    return state.decoder ? parts.join('') : parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  function onEofChunk(stream, state) {
    if (state.ended) return;
    if (state.decoder) {
      const rest = state.decoder.end();
      if (rest.length) {
        state.buffer.push(rest);
        state.length += state.objectMode ? 1 : rest.length;
      }
    }
    state.ended = true;
    if (state.sync) {
      emitReadable(stream);
    } else {
      state.needReadable = false;
      state.emittedReadable = true;
      emitReadableNow(stream);
    }
  }
  function emitReadable(stream) {
    const state = stream._readableState;
    state.needReadable = false;
    if (!state.emittedReadable) {
      state.emittedReadable = true;
      nextTick(emitReadableNow, stream);
    }
  }
  function emitReadableNow(stream) {
    const state = stream._readableState;
    if (!state.destroyed && !state.errored && (state.length || state.ended)) {
      stream.emit('readable');
      state.emittedReadable = false;
    }
    state.needReadable = !state.flowing && !state.ended && state.length <= state.highWaterMark;
    flow(stream);
  }
  function maybeReadMore(stream, state) {
    if (!state.readingMore && state.constructed) {
      state.readingMore = true;
      nextTick(() => {
        while (!state.reading && !state.ended &&
               (state.length < state.highWaterMark || (state.flowing && state.length === 0))) {
          const before = state.length;
          stream.read(0);
          if (before === state.length) break;
        }
        state.readingMore = false;
      });
    }
  }
  function flow(stream) {
    const state = stream._readableState;
    while (state.flowing && stream.read() !== null);
  }
  function endReadable(stream) {
    const state = stream._readableState;
    if (!state.endEmitted) {
      state.ended = true;
      nextTick(() => {
        if (state.errored || state.closeEmitted || state.endEmitted || state.length !== 0) return;
        state.endEmitted = true;
        stream.emit('end');
        const w = stream._writableState;
        if (w && stream.allowHalfOpen === false && !w.ending && !w.destroyed) stream.end();
        if (state.autoDestroy && (!w || (w.autoDestroy && (w.finished || w.writable === false)))) stream.destroy();
      });
    }
  }

  Readable.prototype._read = function () {
    throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', '_read()');
  };

  Readable.prototype.on = function (event, listener) {
    const result = Stream.prototype.on.call(this, event, listener);
    const state = this._readableState;
    if (event === 'data') {
      state.readableListening = this.listenerCount('readable') > 0;
      if (state.flowing !== false) this.resume();
    } else if (event === 'readable') {
      if (!state.endEmitted && !state.readableListening) {
        state.readableListening = state.needReadable = true;
        state.flowing = false;
        state.emittedReadable = false;
        if (state.length) emitReadable(this);
        else if (!state.reading) nextTick(() => this.read(0));
      }
    }
    return result;
  };
  Readable.prototype.addListener = Readable.prototype.on;
  Readable.prototype.removeListener = function (event, listener) {
    const result = Stream.prototype.removeListener.call(this, event, listener);
    if (event === 'readable') nextTick(updateReadableListening, this);
    return result;
  };
  Readable.prototype.off = Readable.prototype.removeListener;
  Readable.prototype.removeAllListeners = function (event) {
    const result = Stream.prototype.removeAllListeners.apply(this, arguments);
    if (event === 'readable' || event === undefined) nextTick(updateReadableListening, this);
    return result;
  };
  function updateReadableListening(stream) {
    const state = stream._readableState;
    state.readableListening = stream.listenerCount('readable') > 0;
    if (state.resumeScheduled && state.paused === false) state.flowing = true;
    else if (stream.listenerCount('data') > 0) stream.resume();
    else if (!state.readableListening) state.flowing = null;
  }

  Readable.prototype.resume = function () {
    const state = this._readableState;
    if (!state.flowing) {
      state.flowing = !state.readableListening;
      if (!state.resumeScheduled) {
        state.resumeScheduled = true;
        nextTick(() => {
          if (!state.reading) this.read(0);
          state.resumeScheduled = false;
          this.emit('resume');
          flow(this);
          if (state.flowing && !state.reading) this.read(0);
        });
      }
    }
    state.paused = false;
    return this;
  };
  Readable.prototype.pause = function () {
    const state = this._readableState;
    if (state.flowing !== false) {
      state.flowing = false;
      this.emit('pause');
    }
    state.paused = true;
    return this;
  };

  Readable.prototype.pipe = function (dest, options) {
    const source = this;
    const state = this._readableState;
    if (state.pipes.length === 1 && !state.multiAwaitDrain) {
      state.multiAwaitDrain = true;
      state.awaitDrainWriters = new Set(state.awaitDrainWriters ? [state.awaitDrainWriters] : []);
    }
    state.pipes.push(dest);
    const endAtEnd = options?.end !== false;
    const onend = () => dest.end();
    const unpipe = () => source.unpipe(dest);
    const endFn = endAtEnd ? onend : unpipe;
    if (state.endEmitted) nextTick(endFn);
    else source.once('end', endFn);

    let drainListener = null;
    let cleanedUp = false;
    const onunpipe = (readable, info) => {
      if (readable === source && info?.hasUnpiped === false) {
        info.hasUnpiped = true;
        cleanup();
      }
    };
    dest.on('unpipe', onunpipe);
    function cleanup() {
      dest.removeListener('close', onclose);
      dest.removeListener('finish', onfinish);
      if (drainListener) dest.removeListener('drain', drainListener);
      dest.removeListener('error', onerror);
      dest.removeListener('unpipe', onunpipe);
      source.removeListener('end', onend);
      source.removeListener('end', unpipe);
      source.removeListener('data', ondata);
      cleanedUp = true;
      if (drainListener && state.awaitDrainWriters && (!dest._writableState || dest._writableState.needDrain)) drainListener();
    }
    function pause() {
      if (!cleanedUp) {
        if (state.pipes.length === 1 && state.pipes[0] === dest) {
          state.awaitDrainWriters = dest;
          state.multiAwaitDrain = false;
        } else if (state.pipes.length > 1 && state.pipes.includes(dest)) {
          state.awaitDrainWriters.add(dest);
        }
        source.pause();
      }
      if (!drainListener) {
        drainListener = () => {
          if (state.awaitDrainWriters === dest) state.awaitDrainWriters = null;
          else if (state.multiAwaitDrain) state.awaitDrainWriters.delete(dest);
          if ((!state.awaitDrainWriters || state.awaitDrainWriters.size === 0) && source.listenerCount('data')) source.resume();
        };
        dest.on('drain', drainListener);
      }
    }
    function ondata(chunk) {
      if (dest.write(chunk) === false) pause();
    }
    source.on('data', ondata);
    function onerror(error) {
      unpipeDest();
      dest.removeListener('error', onerror);
      if (dest.listenerCount('error') === 0) {
        const w = dest._writableState || dest._readableState;
        if (w && !w.errorEmitted) errorOrDestroy(dest, error);
        else dest.emit('error', error);
      }
    }
    dest.prependListener('error', onerror);
    function onclose() {
      dest.removeListener('finish', onfinish);
      unpipeDest();
    }
    dest.once('close', onclose);
    function onfinish() {
      dest.removeListener('close', onclose);
      unpipeDest();
    }
    dest.once('finish', onfinish);
    function unpipeDest() {
      source.unpipe(dest);
    }
    dest.emit('pipe', source);
    if (dest.writableNeedDrain === true) pause();
    else if (!state.flowing) source.resume();
    return dest;
  };
  Readable.prototype.unpipe = function (dest) {
    const state = this._readableState;
    if (state.pipes.length === 0) return this;
    const targets = dest ? [dest] : state.pipes.slice();
    for (const target of targets) {
      const index = state.pipes.indexOf(target);
      if (index < 0) continue;
      state.pipes.splice(index, 1);
      if (state.pipes.length === 0) this.pause();
      target.emit('unpipe', this, { hasUnpiped: false });
    }
    return this;
  };
  Readable.prototype.wrap = function (old) {
    let paused = false;
    old.on('data', (chunk) => {
      if (!this.push(chunk) && old.pause) {
        paused = true;
        old.pause();
      }
    });
    old.on('end', () => this.push(null));
    old.on('error', (error) => errorOrDestroy(this, error));
    old.on('close', () => this.destroy());
    old.on('destroy', () => this.destroy());
    this._read = () => {
      if (paused && old.resume) {
        paused = false;
        old.resume();
      }
    };
    return this;
  };

  Readable.prototype[Symbol.asyncIterator] = function () {
    return iterate(this, { destroyOnReturn: true });
  };
  Readable.prototype.iterator = function (options) {
    return iterate(this, { destroyOnReturn: options?.destroyOnReturn !== false });
  };
  async function* iterate(stream, { destroyOnReturn }) {
    let wake = null;
    const next = () => {
      const resolve = wake;
      wake = null;
      resolve?.();
    };
    stream.on('readable', next);
    let error;
    const stop = finished(stream, { writable: false }, (failure) => {
      error = failure ? aggregate(error, failure) : null;
      next();
    });
    try {
      while (true) {
        const chunk = stream.destroyed ? null : stream.read();
        if (chunk !== null) {
          yield chunk;
        } else if (error) {
          throw error;
        } else if (error === null) {
          return;
        } else {
          await new Promise((resolve) => { wake = resolve; });
        }
      }
    } catch (failure) {
      error = aggregate(error, failure);
      throw error;
    } finally {
      if ((error || destroyOnReturn) && (error === undefined || stream._readableState.autoDestroy)) {
        stream.destroy(null);
      } else {
        stream.off('readable', next);
        stop();
      }
    }
  }
  const aggregate = (first, second) => first ?? second;

  const readableGetters = {
    readable() {
      const state = this._readableState;
      return !!state && state.readable !== false && !state.destroyed && !state.errorEmitted && !state.endEmitted;
    },
    readableDidRead() { return this._readableState.dataEmitted; },
    readableAborted() {
      const state = this._readableState;
      return !!(state.readable !== false && (state.destroyed || state.errored) && !state.endEmitted);
    },
    readableHighWaterMark() { return this._readableState.highWaterMark; },
    readableBuffer() { return this._readableState?.buffer; },
    readableFlowing() { return this._readableState.flowing; },
    readableLength() { return this._readableState.length; },
    readableObjectMode() { return this._readableState ? this._readableState.objectMode : false; },
    readableEncoding() { return this._readableState?.encoding ?? null; },
    readableEnded() { return this._readableState ? this._readableState.endEmitted : false; },
    errored() { return this._readableState?.errored ?? null; },
    closed() { return this._readableState ? this._readableState.closed : false; },
  };
  for (const [name, get] of Object.entries(readableGetters)) {
    Object.defineProperty(Readable.prototype, name, { get, configurable: true, enumerable: false });
  }
  Object.defineProperty(Readable.prototype, 'readable', {
    get: readableGetters.readable,
    set(value) {
      if (this._readableState) this._readableState.readable = !!value;
    },
    configurable: true,
  });
  Object.defineProperty(Readable.prototype, 'readableFlowing', {
    get: readableGetters.readableFlowing,
    set(value) {
      if (this._readableState) this._readableState.flowing = value;
    },
    configurable: true,
  });
  Object.defineProperty(Readable.prototype, 'destroyed', {
    get() { return this._readableState ? this._readableState.destroyed : false; },
    set(value) {
      if (this._readableState) this._readableState.destroyed = value;
    },
    configurable: true,
  });

  // The array methods Node gives readables (each reads the stream through its iterator).
  Object.assign(Readable.prototype, {
    async toArray(options) {
      const all = [];
      for await (const chunk of this) {
        options?.signal?.throwIfAborted();
        all.push(chunk);
      }
      return all;
    },
    async forEach(fn, options) {
      for await (const chunk of this) {
        options?.signal?.throwIfAborted();
        await fn(chunk, { signal: options?.signal });
      }
    },
    async reduce(fn, initial, options) {
      let accumulator = initial;
      let first = arguments.length < 2;
      for await (const chunk of this) {
        options?.signal?.throwIfAborted();
        if (first) {
          accumulator = chunk;
          first = false;
        } else {
          accumulator = await fn(accumulator, chunk, { signal: options?.signal });
        }
      }
      if (first) throw new TypeError('Reduce of an empty stream requires an initial value');
      return accumulator;
    },
    async some(fn, options) {
      for await (const chunk of this) if (await fn(chunk, options)) return true;
      return false;
    },
    async every(fn, options) {
      for await (const chunk of this) if (!(await fn(chunk, options))) return false;
      return true;
    },
    async find(fn, options) {
      for await (const chunk of this) if (await fn(chunk, options)) return chunk;
      return undefined;
    },
    map(fn, options) {
      const source = this;
      return Readable.from((async function* () {
        for await (const chunk of source) yield await fn(chunk, options);
      })());
    },
    filter(fn, options) {
      const source = this;
      return Readable.from((async function* () {
        for await (const chunk of source) if (await fn(chunk, options)) yield chunk;
      })());
    },
    flatMap(fn, options) {
      const source = this;
      return Readable.from((async function* () {
        for await (const chunk of source) yield* await fn(chunk, options);
      })());
    },
    take(limit) {
      const source = this;
      return Readable.from((async function* () {
        if (limit <= 0) return;
        let taken = 0;
        for await (const chunk of source) {
          yield chunk;
          if (++taken >= limit) return;
        }
      })());
    },
    drop(count) {
      const source = this;
      return Readable.from((async function* () {
        let dropped = 0;
        for await (const chunk of source) if (dropped++ >= count) yield chunk;
      })());
    },
  });

  Readable.from = function (iterable, options) {
    return from(Readable, iterable, options);
  };
  function from(Class, iterable, options) {
    if (typeof iterable === 'string' || iterable instanceof Uint8Array) {
      return new Class({
        objectMode: true,
        ...options,
        read() {
          this.push(iterable);
          this.push(null);
        },
      });
    }
    let iterator;
    if (iterable?.[Symbol.asyncIterator]) iterator = iterable[Symbol.asyncIterator]();
    else if (iterable?.[Symbol.iterator]) iterator = iterable[Symbol.iterator]();
    else throw nodeError('ERR_INVALID_ARG_TYPE', 'iterable', 'an Iterable', iterable);
    let reading = false;
    const readable = new Class({
      objectMode: true,
      highWaterMark: 1,
      ...options,
      read() {
        if (reading) return;
        reading = true;
        pump().catch((error) => {
          reading = false;
          readable.destroy(error);
        });
      },
      destroy(error, callback) {
        const closing = error || typeof iterator.return !== 'function' ? Promise.resolve() : Promise.resolve(iterator.return());
        closing.then(() => callback(error), (failure) => callback(error ?? failure));
      },
    });
    // Pulls until the stream wants no more; `reading` is cleared before the push that says so
    // returns, so a read() made from within that push starts the next pull.
    async function pump() {
      while (true) {
        const { value, done } = await iterator.next();
        if (done) {
          reading = false;
          readable.push(null);
          return;
        }
        const chunk = value && typeof value.then === 'function' ? await value : value;
        if (chunk === null) throw nodeError('ERR_STREAM_NULL_VALUES');
        reading = false;
        if (!readable.push(chunk)) return;
        if (reading) return;
        reading = true;
      }
    }
    return readable;
  }

  // --- Writable ----------------------------------------------------------------------------
  function WritableState(options, stream, isDuplex) {
    this.objectMode = !!(options?.objectMode || (isDuplex && options?.writableObjectMode));
    this.highWaterMark = highWaterMarkOf(options, this.objectMode, isDuplex ? 'writableHighWaterMark' : undefined);
    this.finalCalled = false;
    this.needDrain = false;
    this.ending = false;
    this.ended = false;
    this.finished = false;
    this.destroyed = false;
    this.decodeStrings = options?.decodeStrings !== false;
    this.defaultEncoding = options?.defaultEncoding || 'utf8';
    this.length = 0;
    this.writing = false;
    this.corked = 0;
    this.sync = true;
    this.bufferProcessing = false;
    this.writecb = null;
    this.writelen = 0;
    this.buffered = [];
    this.pendingcb = 0;
    this.constructed = true;
    this.prefinished = false;
    this.errorEmitted = false;
    this.emitClose = options?.emitClose !== false;
    this.autoDestroy = options?.autoDestroy !== false;
    this.errored = null;
    this.closed = false;
    this.closeEmitted = false;
    this.onFinished = [];
  }

  function Writable(options) {
    const isDuplex = this instanceof Duplex;
    if (!isDuplex && !(this instanceof Writable)) return new Writable(options);
    this._writableState = new WritableState(options, this, isDuplex);
    if (options) {
      if (typeof options.write === 'function') this._write = options.write;
      if (typeof options.writev === 'function') this._writev = options.writev;
      if (typeof options.destroy === 'function') this._destroy = options.destroy;
      if (typeof options.final === 'function') this._final = options.final;
      if (typeof options.construct === 'function') this._construct = options.construct;
      if (options.signal) addAbortSignal(options.signal, this);
    }
    Stream.call(this, options);
    if (!isDuplex) construct(this, [this._writableState]);
  }
  Object.setPrototypeOf(Writable.prototype, Stream.prototype);
  Object.setPrototypeOf(Writable, Stream);
  // A Duplex is a Writable too, for `instanceof`, though it inherits from Readable.
  Object.defineProperty(Writable, Symbol.hasInstance, {
    value(object) {
      if (Function.prototype[Symbol.hasInstance].call(this, object)) return true;
      if (this !== Writable) return false;
      return !!object?._writableState && object._readableState !== undefined;
    },
  });

  Writable.prototype.destroy = function (error, callback) {
    const state = this._writableState;
    // Writes still buffered fail with the stream.
    if (!state.destroyed && (state.buffered.length || state.onFinished.length)) nextTick(errorBuffer, state);
    return destroy.call(this, error, callback);
  };
  Writable.prototype._undestroy = undestroy;
  Writable.prototype._destroy = function (error, callback) {
    callback(error);
  };
  Writable.prototype.pipe = function () {
    errorOrDestroy(this, nodeError('ERR_STREAM_CANNOT_PIPE'));
  };

  Writable.prototype.write = function (chunk, encoding, callback) {
    return write(this, chunk, encoding, callback);
  };
  function write(stream, chunk, encoding, callback) {
    const state = stream._writableState;
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = state.defaultEncoding;
    } else {
      encoding ||= state.defaultEncoding;
      if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw nodeError('ERR_UNKNOWN_ENCODING', encoding);
      if (typeof callback !== 'function') callback = nop;
    }
    if (chunk === null) throw nodeError('ERR_STREAM_NULL_VALUES');
    if (!state.objectMode) {
      if (typeof chunk === 'string') {
        if (state.decodeStrings !== false) {
          chunk = Buffer.from(chunk, encoding);
          encoding = 'buffer';
        }
      } else if (chunk instanceof Uint8Array) {
        chunk = toBuffer(chunk);
        encoding = 'buffer';
      } else {
        throw nodeError('ERR_INVALID_ARG_TYPE', 'chunk', 'of type string or an instance of Buffer or Uint8Array', chunk);
      }
    }
    let error;
    if (state.ending) error = nodeError('ERR_STREAM_WRITE_AFTER_END');
    else if (state.destroyed) error = nodeError('ERR_STREAM_DESTROYED', 'write');
    if (error) {
      nextTick(callback, error);
      errorOrDestroy(stream, error, true);
      return error;
    }
    state.pendingcb++;
    const length = state.objectMode ? 1 : chunk.length;
    state.length += length;
    const below = state.length < state.highWaterMark;
    if (!below) state.needDrain = true;
    if (state.writing || state.corked || state.errored || !state.constructed) {
      state.buffered.push({ chunk, encoding, callback });
    } else {
      doWrite(stream, state, false, length, chunk, encoding, callback);
    }
    return below && !state.errored && !state.destroyed;
  }
  const nop = () => {};

  function doWrite(stream, state, writev, length, chunk, encoding, callback) {
    state.writelen = length;
    state.writecb = callback;
    state.writing = true;
    state.sync = true;
    if (state.destroyed) onwrite(stream, nodeError('ERR_STREAM_DESTROYED', 'write'));
    else if (writev) stream._writev(chunk, (error) => onwrite(stream, error));
    else stream._write(chunk, encoding, (error) => onwrite(stream, error));
    state.sync = false;
  }

  function onwrite(stream, error) {
    const state = stream._writableState;
    const sync = state.sync;
    const callback = state.writecb;
    if (typeof callback !== 'function') {
      errorOrDestroy(stream, nodeError('ERR_MULTIPLE_CALLBACK'));
      return;
    }
    state.writing = false;
    state.writecb = null;
    state.length -= state.writelen;
    state.writelen = 0;
    if (error) {
      if (!state.errored) state.errored = error;
      if (stream._readableState && !stream._readableState.errored) stream._readableState.errored = error;
      if (sync) nextTick(onwriteError, stream, state, error, callback);
      else onwriteError(stream, state, error, callback);
      return;
    }
    if (state.buffered.length) clearBuffer(stream, state);
    if (sync) nextTick(afterWrite, stream, state, callback);
    else afterWrite(stream, state, callback);
  }
  function onwriteError(stream, state, error, callback) {
    --state.pendingcb;
    callback(error);
    errorBuffer(state);
    errorOrDestroy(stream, error);
  }
  function afterWrite(stream, state, callback) {
    if (!state.ending && !stream.destroyed && state.length === 0 && state.needDrain) {
      state.needDrain = false;
      stream.emit('drain');
    }
    state.pendingcb--;
    callback(null);
    if (state.destroyed) errorBuffer(state);
    finishMaybe(stream, state);
  }
  // Fails every buffered write and pending end() of a destroyed stream.
  function errorBuffer(state) {
    if (state.writing) return;
    for (const { chunk, callback } of state.buffered.splice(0)) {
      state.length -= state.objectMode ? 1 : chunk.length;
      state.pendingcb--;
      callback(state.errored ?? nodeError('ERR_STREAM_DESTROYED', 'write'));
    }
    for (const callback of state.onFinished.splice(0)) callback(state.errored ?? nodeError('ERR_STREAM_DESTROYED', 'end'));
  }
  function clearBuffer(stream, state) {
    if (state.corked || state.bufferProcessing || state.destroyed || !state.constructed) return;
    const buffered = state.buffered;
    if (buffered.length === 0) return;
    state.bufferProcessing = true;
    if (buffered.length > 1 && stream._writev) {
      const all = buffered.splice(0);
      state.pendingcb -= all.length - 1;
      const callback = (error) => {
        for (const entry of all) entry.callback(error);
      };
      const length = state.objectMode ? all.length : all.reduce((sum, entry) => sum + entry.chunk.length, 0);
      doWrite(stream, state, true, length, all, '', callback);
    } else {
      while (buffered.length && !state.writing) {
        const { chunk, encoding, callback } = buffered.shift();
        doWrite(stream, state, false, state.objectMode ? 1 : chunk.length, chunk, encoding, callback);
      }
    }
    state.bufferProcessing = false;
  }

  Writable.prototype._write = function (chunk, encoding, callback) {
    if (this._writev) this._writev([{ chunk, encoding }], callback);
    else throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', '_write()');
  };
  Writable.prototype._writev = null;
  Writable.prototype.cork = function () {
    this._writableState.corked++;
  };
  Writable.prototype.uncork = function () {
    const state = this._writableState;
    if (state.corked) {
      state.corked--;
      if (!state.writing) clearBuffer(this, state);
    }
  };
  Writable.prototype.setDefaultEncoding = function (encoding) {
    if (typeof encoding === 'string') encoding = encoding.toLowerCase();
    if (!Buffer.isEncoding(encoding)) throw nodeError('ERR_UNKNOWN_ENCODING', encoding);
    this._writableState.defaultEncoding = encoding;
    return this;
  };

  Writable.prototype.end = function (chunk, encoding, callback) {
    const state = this._writableState;
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = null;
      encoding = null;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = null;
    }
    let error;
    if (chunk !== null && chunk !== undefined) {
      const written = write(this, chunk, encoding);
      if (written instanceof Error) error = written;
    }
    if (state.corked) {
      state.corked = 1;
      this.uncork();
    }
    if (error) {
      // The write's error is reported through its own path.
    } else if (!state.errored && !state.ending) {
      state.ending = true;
      finishMaybe(this, state, true);
      state.ended = true;
    } else if (state.finished) {
      error = nodeError('ERR_STREAM_ALREADY_FINISHED', 'end');
    } else if (state.destroyed) {
      error = nodeError('ERR_STREAM_DESTROYED', 'end');
    }
    if (typeof callback === 'function') {
      if (error || state.finished) nextTick(callback, error);
      else state.onFinished.push(callback);
    }
    return this;
  };

  const needFinish = (state) => state.ending && !state.destroyed && state.constructed && state.length === 0 &&
    !state.errored && state.buffered.length === 0 && !state.finished && !state.writing &&
    !state.errorEmitted && !state.closeEmitted;

  function prefinish(stream, state) {
    if (state.prefinished || state.finalCalled) return;
    if (typeof stream._final === 'function' && !state.destroyed) {
      state.finalCalled = true;
      state.sync = true;
      state.pendingcb++;
      let called = false;
      const done = (error) => {
        if (called) return errorOrDestroy(stream, nodeError('ERR_MULTIPLE_CALLBACK'));
        called = true;
        state.pendingcb--;
        if (error) {
          for (const callback of state.onFinished.splice(0)) callback(error);
          errorOrDestroy(stream, error, state.sync);
        } else if (needFinish(state)) {
          state.prefinished = true;
          stream.emit('prefinish');
          state.pendingcb++;
          nextTick(finish, stream, state);
        }
      };
      try {
        // An async _final may also call back: the promise counts only if it did not.
        const result = stream._final(done);
        if (result && typeof result.then === 'function') result.then(() => called || done(), (error) => called || done(error));
      } catch (error) {
        done(error);
      }
      state.sync = false;
    } else {
      state.prefinished = true;
      stream.emit('prefinish');
    }
  }
  function finishMaybe(stream, state, sync) {
    if (!needFinish(state)) return;
    prefinish(stream, state);
    if (state.pendingcb !== 0) return;
    if (sync) {
      state.pendingcb++;
      nextTick(() => {
        if (needFinish(state)) finish(stream, state);
        else state.pendingcb--;
      });
    } else if (needFinish(state)) {
      state.pendingcb++;
      finish(stream, state);
    }
  }
  function finish(stream, state) {
    state.pendingcb--;
    state.finished = true;
    for (const callback of state.onFinished.splice(0)) callback(null);
    stream.emit('finish');
    if (state.autoDestroy) {
      const r = stream._readableState;
      if (!r || (r.autoDestroy && (r.endEmitted || r.readable === false))) stream.destroy();
    }
  }

  const writableGetters = {
    closed() { return this._writableState ? this._writableState.closed : false; },
    destroyed() { return this._writableState ? this._writableState.destroyed : false; },
    writable() {
      const w = this._writableState;
      return !!w && w.writable !== false && !w.destroyed && !w.errored && !w.ending && !w.ended;
    },
    writableFinished() { return this._writableState ? this._writableState.finished : false; },
    writableObjectMode() { return this._writableState ? this._writableState.objectMode : false; },
    writableBuffer() { return this._writableState?.buffered.map((entry) => entry.chunk); },
    writableEnded() { return this._writableState ? this._writableState.ending : false; },
    writableNeedDrain() {
      const w = this._writableState;
      return w ? !w.destroyed && !w.ending && w.needDrain : false;
    },
    writableHighWaterMark() { return this._writableState?.highWaterMark; },
    writableCorked() { return this._writableState ? this._writableState.corked : 0; },
    writableLength() { return this._writableState?.length; },
    writableAborted() {
      const w = this._writableState;
      return !!(w.writable !== false && (w.destroyed || w.errored) && !w.finished);
    },
    errored() { return this._writableState?.errored ?? null; },
  };
  for (const [name, get] of Object.entries(writableGetters)) {
    Object.defineProperty(Writable.prototype, name, { get, configurable: true });
  }
  Object.defineProperty(Writable.prototype, 'writable', {
    get: writableGetters.writable,
    set(value) {
      if (this._writableState) this._writableState.writable = !!value;
    },
    configurable: true,
  });
  Object.defineProperty(Writable.prototype, 'destroyed', {
    get: writableGetters.destroyed,
    set(value) {
      if (this._writableState) this._writableState.destroyed = value;
    },
    configurable: true,
  });

  // --- Duplex, Transform, PassThrough ------------------------------------------------------
  function Duplex(options) {
    if (!(this instanceof Duplex)) return new Duplex(options);
    Readable.call(this, options);
    Writable.call(this, options);
    this.allowHalfOpen = options?.allowHalfOpen !== false;
    if (options) {
      if (options.readable === false) {
        Object.assign(this._readableState, { readable: false, ended: true, endEmitted: true });
      }
      if (options.writable === false) {
        Object.assign(this._writableState, { writable: false, ending: true, ended: true, finished: true });
      }
      if (options.signal) addAbortSignal(options.signal, this);
    }
    construct(this, [this._readableState, this._writableState]);
  }
  Object.setPrototypeOf(Duplex.prototype, Readable.prototype);
  Object.setPrototypeOf(Duplex, Readable);
  for (const name of Object.getOwnPropertyNames(Writable.prototype)) {
    if (name === 'constructor' || name === 'destroy' || Object.prototype.hasOwnProperty.call(Duplex.prototype, name)) continue;
    if (['closed', 'errored', 'pipe', '_undestroy', '_destroy'].includes(name)) continue;
    Object.defineProperty(Duplex.prototype, name, Object.getOwnPropertyDescriptor(Writable.prototype, name));
  }
  Duplex.prototype.destroy = Writable.prototype.destroy;
  Object.defineProperty(Duplex.prototype, 'destroyed', {
    get() {
      const r = this._readableState, w = this._writableState;
      return r && w ? r.destroyed && w.destroyed : false;
    },
    set(value) {
      if (this._readableState && this._writableState) {
        this._readableState.destroyed = value;
        this._writableState.destroyed = value;
      }
    },
    configurable: true,
  });
  Duplex.from = function (body) {
    if (body instanceof Duplex) return body;
    if (body instanceof Readable) return body;
    if (typeof body?.getReader === 'function') return Readable.fromWeb(body);
    if (body && typeof body === 'object' && ('readable' in body || 'writable' in body)) {
      const duplex = new Duplex({
        objectMode: true,
        read() {},
        write(chunk, encoding, callback) {
          if (body.writable?.write(chunk, encoding) === false) body.writable.once('drain', callback);
          else callback();
        },
        final(callback) {
          body.writable?.end();
          callback();
        },
      });
      body.readable?.on('data', (chunk) => duplex.push(chunk));
      body.readable?.on('end', () => duplex.push(null));
      return duplex;
    }
    return from(Duplex, body, {});
  };

  const kCallback = Symbol('transformCallback');
  function Transform(options) {
    if (!(this instanceof Transform)) return new Transform(options);
    const readableHighWaterMark = options ? highWaterMarkOf(options, !!(options.objectMode || options.readableObjectMode), 'readableHighWaterMark') : null;
    Duplex.call(this, readableHighWaterMark === 0 ? { ...options, highWaterMark: null, readableHighWaterMark, writableHighWaterMark: options.writableHighWaterMark || 0 } : options);
    this._readableState.sync = false;
    this[kCallback] = null;
    if (options) {
      if (typeof options.transform === 'function') this._transform = options.transform;
      if (typeof options.flush === 'function') this._flush = options.flush;
    }
    this.on('prefinish', transformPrefinish);
  }
  Object.setPrototypeOf(Transform.prototype, Duplex.prototype);
  Object.setPrototypeOf(Transform, Duplex);

  function flushTransform(stream, callback) {
    let called = false;
    const done = (error, data) => {
      if (called) return;
      called = true;
      if (error) {
        if (callback) callback(error);
        else stream.destroy(error);
        return;
      }
      if (data !== null && data !== undefined) stream.push(data);
      stream.push(null);
      if (callback) callback();
    };
    if (typeof stream._flush === 'function' && !stream.destroyed) {
      try {
        const result = stream._flush(done);
        if (result && typeof result.then === 'function') result.then((data) => called || done(null, data), (error) => called || done(error));
      } catch (error) {
        done(error);
      }
    } else {
      done();
    }
  }
  function transformPrefinish() {
    if (this._final !== Transform.prototype._final) flushTransform(this);
  }
  Transform.prototype._final = function (callback) {
    flushTransform(this, callback);
  };
  Transform.prototype._transform = function () {
    throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', '_transform()');
  };
  Transform.prototype._write = function (chunk, encoding, callback) {
    const r = this._readableState, w = this._writableState;
    const length = r.length;
    let called = false;
    const done = (error, data) => {
      if (called) return errorOrDestroy(this, nodeError('ERR_MULTIPLE_CALLBACK'));
      called = true;
      if (error) return callback(error);
      if (data !== null && data !== undefined) this.push(data);
      if (w.ended || length === r.length || r.length < r.highWaterMark) callback();
      else this[kCallback] = callback;
    };
    try {
      const result = this._transform(chunk, encoding, done);
      if (result && typeof result.then === 'function') result.then((data) => called || done(null, data), (error) => called || done(error));
    } catch (error) {
      done(error);
    }
  };
  Transform.prototype._read = function () {
    const callback = this[kCallback];
    if (callback) {
      this[kCallback] = null;
      callback();
    }
  };

  function PassThrough(options) {
    if (!(this instanceof PassThrough)) return new PassThrough(options);
    Transform.call(this, options);
  }
  Object.setPrototypeOf(PassThrough.prototype, Transform.prototype);
  Object.setPrototypeOf(PassThrough, Transform);
  PassThrough.prototype._transform = function (chunk, encoding, callback) {
    callback(null, chunk);
  };

  // --- finished, pipeline, addAbortSignal --------------------------------------------------
  const isNodeStream = (value) => !!value && typeof value.on === 'function' && (typeof value.pipe === 'function' || typeof value.write === 'function');
  const isReadableNodeStream = (value) => isNodeStream(value) && typeof value.read === 'function';
  const isWritableNodeStream = (value) => isNodeStream(value) && typeof value.write === 'function';

  /** Calls `callback` once `stream` is done (ended, finished, errored or closed early); returns
   * what removes the listeners. */
  function finished(stream, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    options ??= {};
    if (typeof callback !== 'function') throw nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
    let called = false;
    const done = (error) => {
      if (called) return;
      called = true;
      cleanup();
      callback.call(stream, error);
    };
    const r = stream._readableState, w = stream._writableState;
    const readable = options.readable ?? (isReadableNodeStream(stream) && (!r || r.readable !== false));
    const writable = options.writable ?? (isWritableNodeStream(stream) && (!w || w.writable !== false));
    let readableEnded = !!r?.endEmitted;
    let writableFinished = !!w?.finished;
    const onend = () => {
      readableEnded = true;
      if (!writable || writableFinished || stream.writable === false) done();
    };
    const onfinish = () => {
      writableFinished = true;
      if (!readable || readableEnded || stream.readable === false) done();
    };
    const onerror = (error) => done(error);
    const onclose = () => {
      if (readable && !readableEnded && !(r?.ended && r.length === 0 && r.endEmitted)) return done(r?.errored ?? w?.errored ?? nodeError('ERR_STREAM_PREMATURE_CLOSE'));
      if (writable && !writableFinished && !w?.finished) return done(w?.errored ?? r?.errored ?? nodeError('ERR_STREAM_PREMATURE_CLOSE'));
      done();
    };
    stream.on('end', onend);
    stream.on('finish', onfinish);
    if (options.error !== false) stream.on('error', onerror);
    stream.on('close', onclose);
    const signal = options.signal;
    const onabort = () => done(new internals.NodeAbortError(undefined, { cause: signal.reason }));
    signal?.addEventListener('abort', onabort);
    function cleanup() {
      stream.removeListener('end', onend);
      stream.removeListener('finish', onfinish);
      stream.removeListener('error', onerror);
      stream.removeListener('close', onclose);
      signal?.removeEventListener('abort', onabort);
    }
    // Already over: report on the next tick, as Node does.
    const closedAlready = r?.closeEmitted || w?.closeEmitted;
    if (signal?.aborted) nextTick(onabort);
    else if (closedAlready) nextTick(onclose);
    else if ((!readable || readableEnded) && (!writable || writableFinished)) nextTick(done);
    else if (r?.errorEmitted || w?.errorEmitted) nextTick(done, r?.errored ?? w?.errored);
    return cleanup;
  }

  /** Pipes `streams` into each other, destroying them all on the first error, and calls the
   * last argument with that error (or nothing) when the last stream is done. Sources may be
   * iterables, and stages async generator functions, as in Node. */
  function pipeline(...streams) {
    const callback = streams.pop();
    if (typeof callback !== 'function') throw nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
    return pipelineWith(streams.length === 1 && Array.isArray(streams[0]) ? streams[0] : streams, callback, {});
  }
  function pipelineWith(stages, callback, options) {
    if (stages.length < 2) throw nodeError('ERR_MISSING_ARGS', 'streams');
    const made = [];
    let error;
    let pending = 0;
    let called = false;
    const cleanups = [];
    const finish = (failure, final) => {
      if (failure && !error) error = failure;
      if (error) {
        for (const stream of made) if (!stream.destroyed) stream.destroy(error);
      }
      if (final) pending--;
      if (pending > 0 && !error) return;
      if (called) return;
      called = true;
      for (const cleanup of cleanups) cleanup();
      nextTick(callback, error, made.at(-1));
    };
    const signal = options.signal;
    if (signal) {
      const onabort = () => finish(new internals.NodeAbortError(undefined, { cause: signal.reason }));
      if (signal.aborted) nextTick(onabort);
      signal.addEventListener('abort', onabort);
      cleanups.push(() => signal.removeEventListener('abort', onabort));
    }
    let previous = null;
    stages.forEach((stage, index) => {
      const first = index === 0;
      const last = index === stages.length - 1;
      let stream;
      // A function stage reads the stage before it itself (as an async iterable).
      let connected = first;
      if (typeof stage === 'function') {
        const output = stage(first ? undefined : previous, { signal });
        connected = true;
        if (last && output && typeof output.then === 'function') {
          pending++;
          output.then(() => finish(null, true), (failure) => finish(failure, true));
          return;
        }
        stream = isNodeStream(output) ? output : Readable.from(output);
      } else if (isNodeStream(stage)) {
        stream = stage;
      } else if (typeof stage?.getReader === 'function') {
        stream = Readable.fromWeb(stage);
      } else if (typeof stage?.getWriter === 'function') {
        stream = Writable.fromWeb(stage);
      } else if (first) {
        stream = Readable.from(stage);
      } else {
        throw nodeError('ERR_INVALID_ARG_TYPE', `streams[${index}]`, 'a stream, a function or an iterable', stage);
      }
      made.push(stream);
      if (last) pending++;
      const watched = { readable: !last && isReadableNodeStream(stream), writable: !first && isWritableNodeStream(stream) };
      cleanups.push(finished(stream, watched, (failure) => finish(failure, last)));
      if (!connected) previous.pipe(stream, { end: options.end !== false || !last });
      previous = stream;
    });
    return made.at(-1);
  }

  function addAbortSignal(signal, stream) {
    if (!signal || typeof signal.aborted !== 'boolean') throw nodeError('ERR_INVALID_ARG_TYPE', 'signal', 'an instance of AbortSignal', signal);
    const onabort = () => stream.destroy(new internals.NodeAbortError(undefined, { cause: signal.reason }));
    if (signal.aborted) onabort();
    else {
      signal.addEventListener('abort', onabort);
      finished(stream, () => signal.removeEventListener('abort', onabort));
    }
    return stream;
  }

  // --- Web stream bridges ------------------------------------------------------------------
  Readable.fromWeb = function (webStream, options) {
    const reader = webStream.getReader();
    let closed = false;
    const readable = new Readable({
      objectMode: options?.objectMode,
      highWaterMark: options?.highWaterMark,
      encoding: options?.encoding,
      signal: options?.signal,
      read() {
        reader.read().then(({ value, done }) => {
          if (done) {
            closed = true;
            readable.push(null);
          } else {
            readable.push(value);
          }
        }, (error) => readable.destroy(error));
      },
      destroy(error, callback) {
        if (closed) return callback(error);
        reader.cancel(error ?? undefined).then(() => callback(error), () => callback(error));
      },
    });
    return readable;
  };
  Readable.toWeb = function (readable, options) {
    const objectMode = readable.readableObjectMode;
    return new ReadableStream({
      start(controller) {
        readable.on('data', (chunk) => {
          controller.enqueue(objectMode || !(chunk instanceof Uint8Array) ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if (controller.desiredSize <= 0) readable.pause();
        });
        finished(readable, (error) => {
          if (error) controller.error(error);
          else {
            try { controller.close(); } catch { /* already closed by a cancel */ }
          }
        });
        readable.pause();
      },
      pull() {
        readable.resume();
      },
      cancel(reason) {
        readable.destroy(reason);
      },
    }, options?.strategy ?? { highWaterMark: objectMode ? 16 : 65536, size: objectMode ? undefined : (chunk) => chunk.byteLength });
  };
  Writable.fromWeb = function (webStream, options) {
    const writer = webStream.getWriter();
    return new Writable({
      objectMode: options?.objectMode,
      highWaterMark: options?.highWaterMark,
      decodeStrings: options?.decodeStrings,
      signal: options?.signal,
      write(chunk, encoding, callback) {
        writer.ready.then(() => writer.write(chunk)).then(() => callback(), callback);
      },
      final(callback) {
        writer.close().then(() => callback(), callback);
      },
      destroy(error, callback) {
        const done = () => callback(error);
        if (error) writer.abort(error).then(done, done);
        else done();
      },
    });
  };
  Writable.toWeb = function (writable) {
    return new WritableStream({
      write(chunk) {
        return new Promise((resolve, reject) => {
          if (writable.write(chunk, (error) => error && reject(error)) === false) writable.once('drain', resolve);
          else resolve();
        });
      },
      close() {
        return new Promise((resolve, reject) => {
          writable.end((error) => (error ? reject(error) : resolve()));
        });
      },
      abort(reason) {
        writable.destroy(reason);
      },
    });
  };
  Duplex.fromWeb = function ({ readable, writable }, options) {
    const source = Readable.fromWeb(readable, options);
    const sink = Writable.fromWeb(writable, options);
    const duplex = new Duplex({
      ...options,
      read() {
        source.resume();
      },
      write(chunk, encoding, callback) {
        sink.write(chunk, encoding, callback);
      },
      final(callback) {
        sink.end(callback);
      },
    });
    source.on('data', (chunk) => duplex.push(chunk) || source.pause());
    source.on('end', () => duplex.push(null));
    source.on('error', (error) => duplex.destroy(error));
    return duplex;
  };
  Duplex.toWeb = function (duplex) {
    return { readable: Readable.toWeb(duplex), writable: Writable.toWeb(duplex) };
  };

  const isReadable = (stream) => !!stream && !stream.destroyed && stream.readable !== false && !stream.readableEnded && !stream.errored;
  const isWritable = (stream) => !!stream && !stream.destroyed && stream.writable !== false && !stream.writableEnded && !stream.errored;
  const isErrored = (stream) => !!(stream?.errored ?? stream?._readableState?.errored ?? stream?._writableState?.errored);
  const isDisturbed = (stream) => (typeof stream?.getReader === 'function' ? internals.isDisturbed(stream) : !!(stream?._readableState?.dataEmitted || stream?.readableDidRead));

  const promises = {
    pipeline(...streams) {
      let options = {};
      const last = streams.at(-1);
      if (last && typeof last === 'object' && !isNodeStream(last) && !last[Symbol.asyncIterator] && !last[Symbol.iterator] && typeof last.getReader !== 'function' && typeof last.getWriter !== 'function') {
        options = streams.pop();
      }
      return new Promise((resolve, reject) => {
        pipelineWith(streams.length === 1 && Array.isArray(streams[0]) ? streams[0] : streams, (error, value) => (error ? reject(error) : resolve(value)), options);
      });
    },
    finished(stream, options) {
      return new Promise((resolve, reject) => {
        finished(stream, options, (error) => (error ? reject(error) : resolve()));
      });
    },
  };

  Object.assign(Stream, {
    Stream,
    Readable,
    Writable,
    Duplex,
    Transform,
    PassThrough,
    finished,
    pipeline,
    addAbortSignal,
    promises,
    isReadable,
    isWritable,
    isErrored,
    isDisturbed,
    getDefaultHighWaterMark,
    setDefaultHighWaterMark,
    duplexPair() {
      const [left, right] = [new Duplex({ read() {} }), new Duplex({ read() {} })];
      for (const [from, to] of [[left, right], [right, left]]) {
        from._write = (chunk, encoding, callback) => {
          to.push(chunk);
          callback();
        };
        from._final = (callback) => {
          to.push(null);
          callback();
        };
      }
      return [left, right];
    },
  });
  Object.defineProperty(finished, Symbol.for('nodejs.util.promisify.custom'), { value: promises.finished });
  Object.defineProperty(pipeline, Symbol.for('nodejs.util.promisify.custom'), { value: promises.pipeline });

  internals['node:stream'] = Stream;
  internals['node:stream/promises'] = promises;
  internals['node:stream/web'] = {
    ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader, ReadableStreamBYOBRequest,
    ReadableByteStreamController, ReadableStreamDefaultController, TransformStream,
    TransformStreamDefaultController, WritableStream, WritableStreamDefaultWriter,
    WritableStreamDefaultController, ByteLengthQueuingStrategy, CountQueuingStrategy,
    TextEncoderStream, TextDecoderStream, CompressionStream, DecompressionStream,
  };
})
