// ReadableStreams over the host's native bodies (see src/body.rs). A stream made here remembers
// its source id, so that while JavaScript has not read it the host can take the body back whole.
(function (ops, internals) {
  const NATIVE = Symbol('nativeBody');
  // How to error a native stream and its source, and a whole read of it in flight.
  const ABORT = Symbol('abortNative');
  const ABORT_READ = Symbol('abortNativeRead');
  const registry = new FinalizationRegistry((id) => ops.bodyCancel(id));
  internals.nativeStream = function (id) {
    let source;
    const stream = internals.deferredByteStream(() => ({
      type: 'bytes',
      start(controller) { source = controller; },
      async pull(controller) {
        const chunk = await ops.bodyRead(id);
        if (chunk === undefined) {
          controller.close();
          // A BYOB read waiting when the body ends must be answered with zero bytes.
          controller.byobRequest?.respond(0);
        } else {
          controller.enqueue(chunk);
        }
      },
      cancel() { ops.bodyCancel(id); },
    }));
    stream[NATIVE] = id;
    stream[ABORT] = (reason) => {
      // Set up first, unless the host took it, so that a later read fails with `reason`.
      internals.setUpDeferred(stream);
      try { source?.error(reason); } catch { /* already closed or errored */ }
      ops.bodyCancel(id);
      stream[ABORT_READ]?.(reason);
    };
    registry.register(stream, id, stream);
    return stream;
  };
  // Errors a native stream with `reason` wherever its reading is (an AbortSignal that fires
  // after its fetch() answered), and drops the body behind it.
  internals.abortNative = (stream, reason) => stream?.[ABORT]?.(reason);
  // The native body behind `stream` if nothing has read, locked, wrapped or errored it yet; it
  // leaves the stream, which is no longer usable.
  internals.untouchedNativeBody = function (stream) {
    const id = stream?.[NATIVE];
    if (id === undefined || !internals.isUntouched(stream)) return undefined;
    registry.unregister(stream);
    delete stream[NATIVE];
    internals.lockForHost(stream);
    return id;
  };
  // Pipes `stream` into a new native body for the host to send: its id. Each chunk waits for
  // room (the host reads as fast as its client takes); if the host drops the body, the stream
  // is cancelled; if the stream fails, so does the body.
  internals.pipeToHost = function (stream) {
    const reader = stream.getReader();
    const id = ops.bodyPipe();
    // Whoever reads the body went away (or read it all): the stream is cancelled at once,
    // even while it waits for its next chunk.
    ops.bodyPipeGone(id).then(() => reader.cancel().catch(() => {}));
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return await ops.bodyClose(id);
          if (!(value instanceof Uint8Array)) throw new TypeError('A body stream chunk was not a Uint8Array.');
          if (value.byteLength && !(await ops.bodyWrite(id, value))) return await reader.cancel();
        }
      } catch (error) {
        await ops.bodyClose(id, String(error?.stack ?? error));
      }
    })();
    return id;
  };
  // Reads a whole native body in one op when nothing has touched its stream.
  internals.readAllNative = function (stream) {
    const id = internals.untouchedNativeBody(stream);
    if (id === undefined) return undefined;
    return new Promise((resolve, reject) => {
      stream[ABORT_READ] = reject;
      ops.bodyReadAll(id).then(resolve, reject);
    });
  };
})
