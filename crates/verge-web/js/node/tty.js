// node:tty — a worker has no terminal: isatty() is false, and the stream classes refuse to be
// made, as on Workers.
(function (ops, internals) {
  const notImplemented = (name) => function () {
    throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', name);
  };
  internals['node:tty'] = {
    isatty: () => false,
    ReadStream: notImplemented('tty.ReadStream'),
    WriteStream: notImplemented('tty.WriteStream'),
  };
})
