// node:perf_hooks — the global performance object under Node's module name, and its classes.
(function (ops, internals) {
  class PerformanceObserver {
    static supportedEntryTypes = ['mark', 'measure'];
    constructor(callback) {
      if (typeof callback !== 'function') throw internals.nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
    }
    observe() {}
    disconnect() {}
    takeRecords() { return []; }
  }
  internals['node:perf_hooks'] = {
    performance,
    Performance,
    PerformanceObserver,
    constants: {
      NODE_PERFORMANCE_GC_MAJOR: 4, NODE_PERFORMANCE_GC_MINOR: 1, NODE_PERFORMANCE_GC_INCREMENTAL: 8,
      NODE_PERFORMANCE_GC_WEAKCB: 16, NODE_PERFORMANCE_GC_FLAGS_NO: 0, NODE_PERFORMANCE_GC_FLAGS_FORCED: 4,
    },
    monitorEventLoopDelay() {
      throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'perf_hooks.monitorEventLoopDelay');
    },
    createHistogram() {
      throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'perf_hooks.createHistogram');
    },
  };
})
