// V8's structured stack traces as npm packages use them (depd, which Express loads, reads its
// caller from `Error.prepareStackTrace`'s CallSite objects): the engine makes CallSites with
// a file, function, line and column; this adds the rest of V8's CallSite methods to them, each
// answering as V8 does for code that is not eval'd, native or asynchronous.
(function (ops, internals) {
  internals.completeCallSites = function () {
    const saved = Error.prepareStackTrace;
    let site;
    try {
      Error.prepareStackTrace = (_, sites) => sites;
      site = new Error().stack?.[0];
    } finally {
      Error.prepareStackTrace = saved;
    }
    const prototype = site && Object.getPrototypeOf(site);
    if (!prototype || prototype.isEval) return;
    const methods = {
      isEval: () => false,
      isToplevel() { return this.getFunctionName() === null; },
      isAsync: () => false,
      isPromiseAll: () => false,
      getPromiseIndex: () => null,
      getEvalOrigin: () => undefined,
      getThis: () => undefined,
      getTypeName: () => null,
      getMethodName() { return this.getFunctionName(); },
      getScriptNameOrSourceURL() { return this.getFileName(); },
      getScriptHash: () => '',
      getEnclosingColumnNumber: () => null,
      getEnclosingLineNumber: () => null,
      getPosition: () => 0,
      toString() {
        const where = `${this.getFileName() ?? '<anonymous>'}:${this.getLineNumber()}:${this.getColumnNumber()}`;
        const name = this.getFunctionName();
        return name ? `${name} (${where})` : where;
      },
    };
    for (const [name, method] of Object.entries(methods)) {
      Object.defineProperty(prototype, name, { value: method, writable: true, configurable: true });
    }
  };
})
