// The node: modules Workers have but cannot serve, because an isolate starts no processes or
// threads: `child_process`, `cluster` and `worker_threads`. They load, so that a package that
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
