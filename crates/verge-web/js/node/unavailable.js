// The node: modules Workers have but cannot serve, because an isolate starts no processes or
// threads and opens no HTTP/2 sessions: `child_process`, `cluster`, `worker_threads` and
// `http2`; and `v8`, whose heap figures and snapshots an isolate here does not have (its
// statistics read zero, as workerd's do). They load, so that a package that
// only names them still runs; calling them throws Node's ERR_METHOD_NOT_IMPLEMENTED naming the
// module and function, as workerd does.
(function (ops, internals) {
  const EventEmitter = internals['node:events'];
  const refuse = (module, name) => function () {
    throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', `${module}.${name}`);
  };
  const refusing = (module, names) => Object.fromEntries(names.map((name) => [name, refuse(module, name)]));

  class ChildProcess extends EventEmitter {}
  internals['node:child_process'] = {
    ChildProcess,
    ...refusing('child_process', ['exec', 'execFile', 'execFileSync', 'execSync', 'fork', 'spawn', 'spawnSync', '_forkChild']),
  };
  internals['node:cluster'] = Object.assign(new EventEmitter(), {
    isMaster: true,
    isPrimary: true,
    isWorker: false,
    workers: {},
    settings: {},
    SCHED_NONE: 1,
    SCHED_RR: 2,
    schedulingPolicy: 2,
    Worker: refuse('cluster', 'Worker'),
    ...refusing('cluster', ['disconnect', 'fork', 'setupMaster', 'setupPrimary']),
  });
  const pseudo = { STATUS: ':status', METHOD: ':method', AUTHORITY: ':authority', SCHEME: ':scheme', PATH: ':path', PROTOCOL: ':protocol' };
  const headerNames = ['accept', 'accept-encoding', 'accept-language', 'authorization', 'cache-control',
    'connection', 'content-encoding', 'content-length', 'content-type', 'cookie', 'date', 'etag', 'host',
    'location', 'set-cookie', 'user-agent', 'te', 'upgrade', 'keep-alive', 'transfer-encoding'];
  const http2Constants = {
    NGHTTP2_NO_ERROR: 0, NGHTTP2_PROTOCOL_ERROR: 1, NGHTTP2_INTERNAL_ERROR: 2, NGHTTP2_CANCEL: 8,
    HTTP2_METHOD_GET: 'GET', HTTP2_METHOD_POST: 'POST', HTTP2_METHOD_PUT: 'PUT', HTTP2_METHOD_DELETE: 'DELETE',
    HTTP2_METHOD_HEAD: 'HEAD', HTTP2_METHOD_OPTIONS: 'OPTIONS', HTTP2_METHOD_PATCH: 'PATCH',
    HTTP_STATUS_OK: 200, HTTP_STATUS_NOT_FOUND: 404, HTTP_STATUS_INTERNAL_SERVER_ERROR: 500,
  };
  for (const [name, value] of Object.entries(pseudo)) http2Constants[`HTTP2_HEADER_${name}`] = value;
  for (const name of headerNames) http2Constants[`HTTP2_HEADER_${name.toUpperCase().replace(/-/g, '_')}`] = name;
  internals['node:http2'] = {
    constants: http2Constants,
    sensitiveHeaders: Symbol('nodejs.http2.sensitiveHeaders'),
    getDefaultSettings: () => ({}),
    getPackedSettings: () => new Uint8Array(0),
    getUnpackedSettings: () => ({}),
    ...refusing('http2', ['connect', 'createServer', 'createSecureServer', 'performServerHandshake']),
    Http2ServerRequest: refuse('http2', 'Http2ServerRequest'),
    Http2ServerResponse: refuse('http2', 'Http2ServerResponse'),
  };
  const heap = {
    total_heap_size: 0, total_heap_size_executable: 0, total_physical_size: 0, total_available_size: 0,
    used_heap_size: 0, heap_size_limit: 0, malloced_memory: 0, peak_malloced_memory: 0,
    does_zap_garbage: 0, number_of_native_contexts: 0, number_of_detached_contexts: 0,
    total_global_handles_size: 0, used_global_handles_size: 0, external_memory: 0,
  };
  internals['node:v8'] = {
    cachedDataVersionTag: () => 0,
    getHeapStatistics: () => ({ ...heap }),
    getHeapSpaceStatistics: () => [],
    getHeapCodeStatistics: () => ({ code_and_metadata_size: 0, bytecode_and_metadata_size: 0, external_script_source_size: 0, cpu_profiler_metadata_size: 0 }),
    setFlagsFromString() {},
    setHeapSnapshotNearHeapLimit() {},
    isStringOneByteRepresentation: (text) => !/[^\u0000-\u00ff]/.test(String(text)),
    startupSnapshot: {
      isBuildingSnapshot: () => false,
      ...refusing('v8.startupSnapshot', ['addSerializeCallback', 'addDeserializeCallback', 'setDeserializeMainFunction']),
    },
    ...refusing('v8', ['serialize', 'deserialize', 'getHeapSnapshot', 'writeHeapSnapshot', 'takeCoverage', 'stopCoverage']),
    Serializer: refuse('v8', 'Serializer'),
    Deserializer: refuse('v8', 'Deserializer'),
  };
  internals['node:worker_threads'] = {
    isMainThread: true,
    parentPort: null,
    threadId: 0,
    workerData: null,
    resourceLimits: {},
    SHARE_ENV: Symbol.for('nodejs.worker_threads.SHARE_ENV'),
    MessageChannel: refuse('worker_threads', 'MessageChannel'),
    MessagePort: refuse('worker_threads', 'MessagePort'),
    BroadcastChannel: refuse('worker_threads', 'BroadcastChannel'),
    Worker: refuse('worker_threads', 'Worker'),
    getEnvironmentData: () => undefined,
    setEnvironmentData() {},
    markAsUntransferable() {},
    isMarkedAsUntransferable: () => false,
    moveMessagePortToContext: refuse('worker_threads', 'moveMessagePortToContext'),
    receiveMessageOnPort: refuse('worker_threads', 'receiveMessageOnPort'),
  };
})
