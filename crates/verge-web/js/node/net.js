// node:net and node:tls — client sockets as Node's Duplex streams, on cloudflare:sockets (so
// the outbound policy and the subrequest count apply): connect(), 'connect'/'data'/'end'/
// 'close' and the rest, setTimeout, and TLS either from the start (tls.connect) or over an
// open socket (tls.connect({ socket }), as database drivers upgrade). Servers cannot be made
// in a worker; createServer throws as on Workers.
(function (ops, internals) {
  const { Duplex } = internals['node:stream'];
  const { Buffer } = internals['node:buffer'];
  const { connect: connectSocket } = internals['cloudflare:sockets'];
  // node:dns defines the address checks both modules use.
  void internals['node:dns'];
  const { isIP, isIPv4, isIPv6 } = internals.ipFamily;
  const nodeError = internals.nodeError;

  // A failed connection as Node reports it (ECONNREFUSED and the like, with errno and syscall).
  const ERRNO = { ECONNREFUSED: -111, ETIMEDOUT: -110, ENOTFOUND: -3008, EACCES: -13, ECONNRESET: -104, EHOSTUNREACH: -113 };
  function connectError(error, host, port) {
    const message = String(error?.message ?? error);
    const code = /refused/i.test(message) ? 'ECONNREFUSED'
      : /timed out/i.test(message) ? 'ETIMEDOUT'
      : /resolve/i.test(message) ? 'ENOTFOUND'
      : /not a public address|not allowed/i.test(message) ? 'EACCES'
      : /reset/i.test(message) ? 'ECONNRESET'
      : /unreachable/i.test(message) ? 'EHOSTUNREACH' : null;
    if (!code) return error instanceof Error ? error : new Error(message);
    const syscall = code === 'ENOTFOUND' ? 'getaddrinfo' : 'connect';
    const failure = new Error(code === 'ENOTFOUND' ? `getaddrinfo ENOTFOUND ${host}` : `connect ${code} ${host}:${port}`);
    return Object.assign(failure, { errno: ERRNO[code], code, syscall, address: host, port, cause: error });
  }
  const splitAddress = (text) => {
    const at = String(text ?? '').lastIndexOf(':');
    if (at < 0) return [text || undefined, undefined];
    return [text.slice(0, at).replace(/^\[|\]$/g, ''), Number(text.slice(at + 1))];
  };

  // net.connect's arguments: (port, host, listener), (options, listener) or (path, listener).
  function normalize(args) {
    let [first, second, third] = args;
    let options;
    if (first !== null && typeof first === 'object') {
      options = { ...first };
      third = second;
    } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
      options = { path: first };
      third = second;
    } else {
      options = { port: first };
      if (typeof second === 'string') options.host = second;
      else third = second;
    }
    return [options, typeof third === 'function' ? third : undefined];
  }

  function Socket(options = {}) {
    if (!(this instanceof Socket)) return new Socket(options);
    if (options.fd !== undefined) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'net.Socket with an fd');
    Duplex.call(this, { ...options, allowHalfOpen: !!options.allowHalfOpen, emitClose: true, autoDestroy: true, decodeStrings: false });
    this._socket = null;
    this._reader = null;
    this._writer = null;
    this._reading = false;
    this._detached = false;
    this._timeout = null;
    this._timeoutMs = 0;
    this.connecting = false;
    this.bytesRead = 0;
    this._bytesDispatched = 0;
    this.remoteAddress = undefined;
    this.remotePort = undefined;
    this.remoteFamily = undefined;
    this.localAddress = undefined;
    this.localPort = undefined;
    this.encrypted = false;
    if (options.socket) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'net.Socket over another socket');
  }
  Object.setPrototypeOf(Socket.prototype, Duplex.prototype);
  Object.setPrototypeOf(Socket, Duplex);

  Socket.prototype.connect = function (...args) {
    const [options, listener] = normalize(args);
    if (options.path !== undefined) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'net.Socket.connect to a Unix socket');
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw nodeError('ERR_OUT_OF_RANGE', 'options.port', '>= 0 and < 65536', options.port);
    const host = options.host || 'localhost';
    if (listener) this.once(this._secure ? 'secureConnect' : 'connect', listener);
    this.connecting = true;
    this._host = host;
    this._port = port;
    const secureTransport = this._secure ? 'on' : 'starttls';
    let socket;
    try {
      socket = connectSocket({ hostname: host, port }, { secureTransport, allowHalfOpen: true });
    } catch (error) {
      queueMicrotask(() => this.destroy(connectError(error, host, port)));
      return this;
    }
    this._attach(socket);
    return this;
  };

  // Takes `socket` (a cloudflare:sockets Socket) as this stream's connection.
  Socket.prototype._attach = function (socket) {
    this._socket = socket;
    this._writer = socket.writable.getWriter();
    this._reader = socket.readable.getReader();
    socket.opened.then((info) => {
      if (this._socket !== socket) return;
      this.connecting = false;
      [this.remoteAddress, this.remotePort] = splitAddress(info.remoteAddress);
      [this.localAddress, this.localPort] = splitAddress(info.localAddress);
      this.remoteFamily = isIPv6(this.remoteAddress ?? '') ? 'IPv6' : 'IPv4';
      this._touch();
      this.emit('connect');
      if (this._secure) this.emit('secureConnect');
      this.emit('ready');
      if (this._readableState.flowing !== false || this._readableState.needReadable) this._pump();
    }, (error) => {
      if (this._socket === socket) this.destroy(connectError(error, this._host, this._port));
    });
  };

  // Reads from the connection while the stream wants more.
  Socket.prototype._pump = function () {
    if (this._reading || !this._reader || this.connecting || this._detached) return;
    this._reading = true;
    const reader = this._reader;
    reader.read().then(({ value, done }) => {
      this._reading = false;
      if (this._detached || reader !== this._reader) return;
      if (done) {
        this.push(null);
        return;
      }
      this.bytesRead += value.byteLength;
      this._touch();
      if (this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) this._pump();
    }, (error) => {
      this._reading = false;
      if (!this._detached && reader === this._reader) this.destroy(error);
    });
  };
  Socket.prototype._read = function () {
    this._pump();
  };
  Socket.prototype._write = function (chunk, encoding, callback) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    const send = () => this._writer.write(bytes).then(() => {
      this._bytesDispatched += bytes.length;
      this._touch();
      callback();
    }, callback);
    if (!this._socket) callback(nodeError('ERR_SOCKET_CLOSED'));
    else if (this.connecting) this._socket.opened.then(send, () => callback(nodeError('ERR_SOCKET_CLOSED')));
    else send();
  };
  Socket.prototype._final = function (callback) {
    if (!this._writer) return callback();
    this._writer.close().then(() => callback(), () => callback());
  };
  Socket.prototype._destroy = function (error, callback) {
    clearTimeout(this._timeout);
    const socket = this._socket;
    this._socket = null;
    if (socket && !this._detached) socket.close().catch(() => {});
    callback(error);
  };

  Socket.prototype._touch = function () {
    if (!this._timeoutMs) return;
    clearTimeout(this._timeout);
    this._timeout = setTimeout(() => this.emit('timeout'), this._timeoutMs);
  };
  Socket.prototype.setTimeout = function (ms, callback) {
    this._timeoutMs = ms;
    if (callback) this.once('timeout', callback);
    if (ms === 0) clearTimeout(this._timeout);
    else this._touch();
    return this;
  };
  Socket.prototype.setNoDelay = function () { return this; };
  Socket.prototype.setKeepAlive = function () { return this; };
  Socket.prototype.ref = function () { return this; };
  Socket.prototype.unref = function () { return this; };
  Socket.prototype.address = function () {
    if (!this.localAddress) return {};
    return { address: this.localAddress, family: isIPv6(this.localAddress) ? 'IPv6' : 'IPv4', port: this.localPort };
  };
  Socket.prototype.resetAndDestroy = function () {
    return this.destroy();
  };
  Object.defineProperties(Socket.prototype, {
    bytesWritten: { get() { return this._bytesDispatched; }, configurable: true },
    pending: { get() { return !this._socket || this.connecting; }, configurable: true },
    readyState: {
      get() {
        if (this.connecting) return 'opening';
        if (this.readable && this.writable) return 'open';
        if (this.readable) return 'readOnly';
        if (this.writable) return 'writeOnly';
        return 'closed';
      },
      configurable: true,
    },
  });

  // TLS over this socket's open connection: the connection is handed to `tlsSocket`.
  Socket.prototype._upgradeTo = function (tlsSocket, servername) {
    if (!this._socket) throw nodeError('ERR_SOCKET_CLOSED');
    this._detached = true;
    this._reader.releaseLock();
    this._writer.releaseLock();
    const upgraded = this._socket.startTls({ expectedServerHostname: servername });
    this._socket = null;
    tlsSocket._host = this._host;
    tlsSocket._port = this._port;
    tlsSocket.connecting = true;
    tlsSocket._attach(upgraded);
  };

  function connect(...args) {
    const [options, listener] = normalize(args);
    const socket = new Socket(options);
    if (options.timeout) socket.setTimeout(options.timeout);
    return socket.connect(options, listener);
  }

  function notServing(name) {
    return function () {
      throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', name);
    };
  }

  internals['node:net'] = {
    Socket,
    Stream: Socket,
    connect,
    createConnection: connect,
    createServer: notServing('net.createServer'),
    Server: notServing('net.Server'),
    isIP, isIPv4, isIPv6,
    getDefaultAutoSelectFamily: () => false,
    setDefaultAutoSelectFamily() {},
    getDefaultAutoSelectFamilyAttemptTimeout: () => 250,
    setDefaultAutoSelectFamilyAttemptTimeout() {},
  };

  // --- node:tls ----------------------------------------------------------------------------
  function TLSSocket(socket, options = {}) {
    if (!(this instanceof TLSSocket)) return new TLSSocket(socket, options);
    Socket.call(this, { allowHalfOpen: options.allowHalfOpen });
    this._secure = true;
    this.encrypted = true;
    this.authorized = false;
    this.authorizationError = null;
    this.alpnProtocol = false;
    this.servername = options.servername;
    this.once('secureConnect', () => { this.authorized = true; });
    if (socket instanceof Socket) socket._upgradeTo(this, options.servername ?? socket._host);
    else if (socket) throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'tls.TLSSocket over a stream that is not a net.Socket');
  }
  Object.setPrototypeOf(TLSSocket.prototype, Socket.prototype);
  Object.setPrototypeOf(TLSSocket, Socket);
  Object.assign(TLSSocket.prototype, {
    getPeerCertificate: () => ({}),
    getCertificate: () => ({}),
    getProtocol: () => 'TLSv1.3',
    getCipher: () => ({ name: 'TLS_AES_128_GCM_SHA256', standardName: 'TLS_AES_128_GCM_SHA256', version: 'TLSv1.3' }),
    getSession: () => undefined,
    isSessionReused: () => false,
    setServername() {},
    setMaxSendFragment: () => true,
    exportKeyingMaterial() {
      throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'TLSSocket.exportKeyingMaterial');
    },
  });

  function tlsConnect(...args) {
    let options, listener;
    if (args[0] !== null && typeof args[0] === 'object') {
      options = { ...args[0] };
      listener = args[1];
    } else {
      options = { ...(typeof args[2] === 'object' ? args[2] : {}), port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined };
      listener = args.find((arg) => typeof arg === 'function');
    }
    // Verge always verifies the server's certificate against the roots fetch() trusts.
    if (options.socket) {
      const tlsSocket = new TLSSocket(options.socket, { servername: options.servername ?? options.host });
      if (listener) tlsSocket.once('secureConnect', listener);
      return tlsSocket;
    }
    const tlsSocket = new TLSSocket(null, { servername: options.servername ?? options.host });
    return tlsSocket.connect({ port: options.port, host: options.host }, listener);
  }

  internals['node:tls'] = {
    TLSSocket,
    connect: tlsConnect,
    createServer: notServing('tls.createServer'),
    Server: notServing('tls.Server'),
    createSecureContext: (options) => ({ context: {}, options }),
    SecureContext: function SecureContext() {},
    checkServerIdentity: () => undefined,
    getCiphers: () => ['tls_aes_128_gcm_sha256', 'tls_aes_256_gcm_sha384', 'tls_chacha20_poly1305_sha256'],
    rootCertificates: [],
    DEFAULT_ECDH_CURVE: 'auto',
    DEFAULT_MIN_VERSION: 'TLSv1.2',
    DEFAULT_MAX_VERSION: 'TLSv1.3',
    DEFAULT_CIPHERS: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
    CLIENT_RENEG_LIMIT: 3,
    CLIENT_RENEG_WINDOW: 600,
  };
})
