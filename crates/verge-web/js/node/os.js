// node:os — fixed answers, as on Workers: an isolate sees no host, so the machine it reports
// is a plain Linux one with nothing to show (no CPUs, interfaces or memory figures).
(function (ops, internals) {
  const signals = {
    SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7,
    SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14,
    SIGTERM: 15, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
    SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
    SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
  };
  const errno = {
    E2BIG: 7, EACCES: 13, EADDRINUSE: 98, EADDRNOTAVAIL: 99, EAGAIN: 11, ECONNABORTED: 103,
    ECONNREFUSED: 111, ECONNRESET: 104, EEXIST: 17, EHOSTUNREACH: 113, EINVAL: 22, EISDIR: 21,
    EMFILE: 24, ENOENT: 2, ENOSPC: 28, ENOTDIR: 20, ENOTEMPTY: 39, ENOTSUP: 95, EPERM: 1,
    EPIPE: 32, EROFS: 30, ETIMEDOUT: 110,
  };
  const priority = {
    PRIORITY_LOW: 19, PRIORITY_BELOW_NORMAL: 10, PRIORITY_NORMAL: 0, PRIORITY_ABOVE_NORMAL: -7,
    PRIORITY_HIGH: -14, PRIORITY_HIGHEST: -20,
  };
  internals['node:os'] = {
    EOL: '\n',
    devNull: '/dev/null',
    constants: { signals, errno, priority, dlopen: {}, UV_UDP_REUSEADDR: 4 },
    arch: () => 'x64',
    availableParallelism: () => 1,
    cpus: () => [],
    endianness: () => 'LE',
    freemem: () => 0,
    getPriority: () => 0,
    setPriority() {},
    homedir: () => '/',
    hostname: () => 'localhost',
    loadavg: () => [0, 0, 0],
    machine: () => 'x86_64',
    networkInterfaces: () => ({}),
    platform: () => 'linux',
    release: () => '',
    tmpdir: () => '/tmp',
    totalmem: () => 0,
    type: () => 'Linux',
    uptime: () => 0,
    userInfo: () => ({ uid: 0, gid: 0, username: 'root', homedir: '/', shell: null }),
    version: () => '',
  };
})
