// performance.now / timeOrigin and navigator.userAgent, as the Workers global scope has them.
(function (ops, internals) {
  const timeOrigin = Date.now() - ops.now();
  class Performance {
    get timeOrigin() { return timeOrigin; }
    now() { return ops.now(); }
    toJSON() { return { timeOrigin }; }
  }
  internals.defineGlobal('Performance', Performance);
  internals.defineGlobal('performance', new Performance());
  class Navigator {
    get userAgent() { return 'Cloudflare-Workers'; }
    get hardwareConcurrency() { return 1; }
    get language() { return 'en'; }
  }
  internals.defineGlobal('Navigator', Navigator);
  internals.defineGlobal('navigator', new Navigator());
  internals.defineGlobal('self', globalThis);
})
