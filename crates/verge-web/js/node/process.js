// node:process — the parts of `process` a worker can have: env (its string vars and secrets,
// filled in at load), nextTick, and fixed facts about the platform.
(function (ops, internals) {
  const EventEmitter = internals['node:events'];
  const started = performance.now();
  const process = new EventEmitter();
  function hrtime(previous) {
    const now = performance.now();
    const seconds = Math.floor(now / 1000), nanos = Math.floor((now % 1000) * 1e6);
    if (!previous) return [seconds, nanos];
    const diff = (seconds - previous[0]) * 1e9 + nanos - previous[1];
    return [Math.floor(diff / 1e9), diff % 1e9];
  }
  hrtime.bigint = () => BigInt(Math.floor(performance.now() * 1e6));
  Object.assign(process, {
    env: {},
    argv: [],
    execArgv: [],
    title: 'verge',
    version: 'v22.14.0',
    versions: { node: '22.14.0' },
    platform: 'linux',
    arch: 'x64',
    release: { name: 'node' },
    pid: 1,
    ppid: 0,
    exitCode: undefined,
    features: {},
    config: {},
    // Where relative paths start, in node:fs' virtual file system (as on workerd).
    cwd: () => '/bundle',
    chdir() { throw new Error('process.chdir() is not supported in Workers'); },
    exit() { throw new Error('process.exit() is not supported in Workers'); },
    abort() { throw new Error('process.abort() is not supported in Workers'); },
    umask: () => 0o22,
    uptime: () => (performance.now() - started) / 1000,
    hrtime,
    memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }),
    nextTick(callback, ...args) {
      if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
      queueMicrotask(() => callback(...args));
    },
    emitWarning(warning, type) {
      const message = warning instanceof Error ? `${warning.name}: ${warning.message}` : `${type ?? 'Warning'}: ${warning}`;
      console.warn(message);
    },
  });
  // stdout and stderr write to the console, a line per write; stdin is empty. Made on first
  // use, since most workers never touch them and node:stream is large.
  const standard = {
    stdin: () => Object.assign(new (internals['node:stream'].Readable)({ read() { this.push(null); } }), { fd: 0, isTTY: false }),
    stdout: () => consoleStream(1, (line) => console.log(line)),
    stderr: () => consoleStream(2, (line) => console.error(line)),
  };
  function consoleStream(fd, print) {
    const { Writable } = internals['node:stream'];
    const stream = new Writable({
      decodeStrings: false,
      write(chunk, encoding, callback) {
        const text = typeof chunk === 'string' ? chunk : chunk.toString();
        print(text.endsWith('\n') ? text.slice(0, -1) : text);
        callback();
      },
    });
    return Object.assign(stream, { fd, isTTY: false, columns: 80, rows: 24, hasColors: () => false, getColorDepth: () => 1 });
  }
  for (const [name, make] of Object.entries(standard)) {
    let made;
    Object.defineProperty(process, name, { get: () => (made ??= make()), configurable: true, enumerable: true });
  }
  // Object.prototype.toString says "[object process]", as Node's does (axios checks it).
  Object.defineProperty(process, Symbol.toStringTag, { value: 'process', configurable: true });
  internals['node:process'] = process;
})
