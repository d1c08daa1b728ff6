// node:http and node:https — the client on the runtime's fetch() (http.request and get,
// ClientRequest as a Writable, IncomingMessage as a Readable), and the server side a worker can
// have: http.createServer(handler).listen(port) registers a Node request handler that
// cloudflare:node's httpServerHandler / handleAsNodeRequest serve the worker's requests with
// (Express, Koa and the like run through it). Sockets of their own are not made: a server
// never listens on the network, and a request's socket is a stand-in with its addresses.
(function (ops, internals) {
  const EventEmitter = internals['node:events'];
  const { Readable, Writable } = internals['node:stream'];
  const { Buffer } = internals['node:buffer'];
  const nodeError = internals.nodeError;

  const STATUS_CODES = {
    100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints', 200: 'OK',
    201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
    205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported',
    226: 'IM Used', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other',
    304: 'Not Modified', 305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
    400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required',
    408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
    412: 'Precondition Failed', 413: 'Payload Too Large', 414: 'URI Too Long',
    415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
    418: "I'm a Teapot", 421: 'Misdirected Request', 422: 'Unprocessable Entity', 423: 'Locked',
    424: 'Failed Dependency', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
    429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
    500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
    504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
    507: 'Insufficient Storage', 508: 'Loop Detected', 509: 'Bandwidth Limit Exceeded',
    510: 'Not Extended', 511: 'Network Authentication Required',
  };
  const METHODS = ['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK',
    'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST',
    'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE',
    'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE'];
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function validateHeaderName(name) {
    if (typeof name !== 'string' || !TOKEN.test(name)) throw nodeError('ERR_INVALID_HTTP_TOKEN', 'Header name', name);
  }
  function validateHeaderValue(name, value) {
    if (value === undefined) throw nodeError('ERR_HTTP_INVALID_HEADER_VALUE', value, name);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(String(value))) throw nodeError('ERR_INVALID_CHAR', 'header content', name);
  }

  // A header map as Node's messages keep it: lower-cased names, each with its spelling.
  function headerObject(pairs) {
    const headers = Object.create(null);
    const distinct = Object.create(null);
    const raw = [];
    for (const [name, value] of pairs) {
      const key = name.toLowerCase();
      raw.push(name, value);
      (distinct[key] ??= []).push(value);
      if (key === 'set-cookie') (headers[key] ??= []).push(value);
      else if (key in headers) headers[key] += key === 'cookie' ? `; ${value}` : `, ${value}`;
      else headers[key] = value;
    }
    return { headers, distinct, raw };
  }
  // A fetch Headers object's pairs, each Set-Cookie on its own.
  function pairsOf(headers) {
    const pairs = [];
    for (const [name, value] of headers) if (name !== 'set-cookie') pairs.push([name, value]);
    for (const cookie of headers.getSetCookie?.() ?? []) pairs.push(['set-cookie', cookie]);
    return pairs;
  }

  // --- messages ----------------------------------------------------------------------------
  // The stand-in for a message's socket: what libraries read of one.
  class StandInSocket extends EventEmitter {
    constructor({ remoteAddress, encrypted, localPort }) {
      super();
      this.remoteAddress = remoteAddress;
      this.remotePort = 0;
      this.remoteFamily = remoteAddress?.includes(':') ? 'IPv6' : 'IPv4';
      this.localAddress = '127.0.0.1';
      this.localPort = localPort ?? 0;
      this.encrypted = !!encrypted;
      this.readable = true;
      this.writable = true;
      this.destroyed = false;
      this.bytesRead = 0;
      this.bytesWritten = 0;
    }
    setTimeout() { return this; }
    setNoDelay() { return this; }
    setKeepAlive() { return this; }
    ref() { return this; }
    unref() { return this; }
    end() { return this; }
    address() { return { address: this.localAddress, family: 'IPv4', port: this.localPort }; }
    destroy() {
      this.destroyed = true;
      this.emit('close');
      return this;
    }
  }

  function IncomingMessage(socket) {
    if (!(this instanceof IncomingMessage)) return new IncomingMessage(socket);
    Readable.call(this, { highWaterMark: 64 * 1024 });
    this.socket = socket;
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    this.httpVersion = '1.1';
    this.complete = false;
    this.aborted = false;
    this.headers = Object.create(null);
    this.headersDistinct = Object.create(null);
    this.rawHeaders = [];
    this.trailers = Object.create(null);
    this.trailersDistinct = Object.create(null);
    this.rawTrailers = [];
    this.url = '';
    this.method = null;
    this.statusCode = null;
    this.statusMessage = null;
    this._reader = null;
    this._pulling = false;
  }
  Object.setPrototypeOf(IncomingMessage.prototype, Readable.prototype);
  Object.setPrototypeOf(IncomingMessage, Readable);
  Object.defineProperty(IncomingMessage.prototype, 'connection', { get() { return this.socket; }, configurable: true });
  IncomingMessage.prototype.setTimeout = function (ms, callback) {
    if (callback) this.on('timeout', callback);
    return this;
  };
  IncomingMessage.prototype._setHeaders = function (pairs) {
    const { headers, distinct, raw } = headerObject(pairs);
    this.headers = headers;
    this.headersDistinct = distinct;
    this.rawHeaders = raw;
  };
  IncomingMessage.prototype._setBody = function (body) {
    this._reader = body ? body.getReader() : null;
  };
  IncomingMessage.prototype._read = function () {
    if (this._pulling) return;
    if (!this._reader) {
      this.complete = true;
      this.push(null);
      return;
    }
    this._pulling = true;
    this._reader.read().then(({ value, done }) => {
      this._pulling = false;
      if (done) {
        this.complete = true;
        this.push(null);
      } else if (this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
        this._read();
      }
    }, (error) => {
      this._pulling = false;
      this.aborted = true;
      this.emit('aborted');
      this.destroy(error);
    });
  };
  IncomingMessage.prototype._destroy = function (error, callback) {
    if (this._reader && !this.complete) this._reader.cancel().catch(() => {});
    callback(error);
  };

  // What ClientRequest and ServerResponse share: headers to send, and a body.
  function OutgoingMessage(options) {
    Writable.call(this, { decodeStrings: false, ...options });
    this._headers = new Map();
    this.headersSent = false;
    this.sendDate = false;
    this.finished = false;
    this.chunkedEncoding = false;
    this.useChunkedEncodingByDefault = true;
  }
  Object.setPrototypeOf(OutgoingMessage.prototype, Writable.prototype);
  Object.setPrototypeOf(OutgoingMessage, Writable);
  Object.assign(OutgoingMessage.prototype, {
    setHeader(name, value) {
      if (this.headersSent) throw nodeError('ERR_HTTP_HEADERS_SENT', 'set');
      validateHeaderName(name);
      validateHeaderValue(name, value);
      this._headers.set(name.toLowerCase(), [name, value]);
      return this;
    },
    setHeaders(headers) {
      for (const [name, value] of headers instanceof Map || headers instanceof Headers ? headers : Object.entries(headers)) this.setHeader(name, value);
      return this;
    },
    appendHeader(name, value) {
      const existing = this.getHeader(name);
      if (existing === undefined) return this.setHeader(name, value);
      const list = [...(Array.isArray(existing) ? existing : [existing]), ...(Array.isArray(value) ? value : [value])];
      return this.setHeader(name, list);
    },
    getHeader(name) { return this._headers.get(String(name).toLowerCase())?.[1]; },
    getHeaders() {
      const headers = Object.create(null);
      for (const [key, [, value]] of this._headers) headers[key] = value;
      return headers;
    },
    getHeaderNames() { return [...this._headers.keys()]; },
    getRawHeaderNames() { return [...this._headers.values()].map(([name]) => name); },
    hasHeader(name) { return this._headers.has(String(name).toLowerCase()); },
    removeHeader(name) {
      if (this.headersSent) throw nodeError('ERR_HTTP_HEADERS_SENT', 'remove');
      this._headers.delete(String(name).toLowerCase());
    },
    flushHeaders() {},
    setTimeout(ms, callback) {
      if (callback) this.once('timeout', callback);
      return this;
    },
    // The headers as fetch's Headers: arrays as repeated headers.
    _fetchHeaders() {
      const headers = new Headers();
      for (const [name, value] of this._headers.values()) {
        for (const one of Array.isArray(value) ? value : [value]) headers.append(name, String(one));
      }
      return headers;
    },
  });
  const chunkOf = (chunk, encoding) => (typeof chunk === 'string' ? Buffer.from(chunk, encoding && encoding !== 'buffer' ? encoding : 'utf8') : chunk);

  // --- client ------------------------------------------------------------------------------
  function requestOptions(input, options, defaultProtocol) {
    let settings = {};
    if (typeof input === 'string' || input instanceof URL) {
      const url = new URL(String(input));
      settings = internals['node:url'].urlToHttpOptions(url);
      if (options && typeof options === 'object') settings = { ...settings, ...options };
    } else {
      settings = { ...input };
    }
    const protocol = settings.protocol ?? defaultProtocol;
    if (protocol !== 'http:' && protocol !== 'https:') throw Object.assign(new TypeError(`Protocol "${protocol}" not supported. Expected "${defaultProtocol}"`), { code: 'ERR_INVALID_PROTOCOL' });
    // `host` may carry a port, and an IPv6 literal colons of its own (brackets or not).
    const named = settings.hostname ?? settings.host ?? 'localhost';
    const host = settings.hostname !== undefined || named.split(':').length > 2 && !named.startsWith('[')
      ? named.replace(/^\[|\]$/g, '')
      : named.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const port = settings.port ?? settings.defaultPort ?? (protocol === 'https:' ? 443 : 80);
    const method = String(settings.method ?? 'GET').toUpperCase();
    if (!TOKEN.test(method)) throw nodeError('ERR_INVALID_HTTP_TOKEN', 'Method', method);
    return { ...settings, protocol, host, port: Number(port), method, path: settings.path ?? '/' };
  }

  function ClientRequest(input, options, callback) {
    if (!(this instanceof ClientRequest)) return new ClientRequest(input, options, callback);
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    // Finishing the body must not destroy the request: its response is still to come.
    OutgoingMessage.call(this, { autoDestroy: false });
    const settings = requestOptions(input, options, this._defaultProtocol ?? 'http:');
    this.method = settings.method;
    this.protocol = settings.protocol;
    this.host = settings.host;
    this.path = settings.path;
    this.reusedSocket = false;
    this.maxHeadersCount = null;
    this.aborted = false;
    this._chunks = [];
    this._controller = new AbortController();
    this._timer = null;
    this._settings = settings;
    this.agent = settings.agent ?? globalAgent;
    const headers = settings.headers ?? {};
    for (const [name, value] of Array.isArray(headers) ? pairsFromRaw(headers) : Object.entries(headers)) {
      if (value !== undefined) this.setHeader(name, value);
    }
    if (settings.auth && !this.hasHeader('authorization')) this.setHeader('Authorization', `Basic ${Buffer.from(settings.auth).toString('base64')}`);
    if (callback) this.once('response', callback);
    if (settings.timeout) this.setTimeout(settings.timeout);
    if (settings.signal) {
      const onabort = () => this.destroy(new internals.NodeAbortError(undefined, { cause: settings.signal.reason }));
      if (settings.signal.aborted) queueMicrotask(onabort);
      else settings.signal.addEventListener('abort', onabort, { once: true });
    }
    this.socket = new StandInSocket({ remoteAddress: this.host, encrypted: this.protocol === 'https:' });
    queueMicrotask(() => this.emit('socket', this.socket));
  }
  const pairsFromRaw = (raw) => {
    const pairs = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
    return pairs;
  };
  Object.setPrototypeOf(ClientRequest.prototype, OutgoingMessage.prototype);
  Object.setPrototypeOf(ClientRequest, OutgoingMessage);
  Object.assign(ClientRequest.prototype, {
    _write(chunk, encoding, callback) {
      this.headersSent = true;
      this._chunks.push(chunkOf(chunk, encoding));
      callback();
    },
    _final(callback) {
      this.headersSent = true;
      this.finished = true;
      this._send();
      callback();
    },
    _send() {
      const { protocol, host, port, path, method } = this._settings;
      const defaultPort = protocol === 'https:' ? 443 : 80;
      const hostPart = host.includes(':') ? `[${host}]` : host;
      const url = `${protocol}//${hostPart}${port === defaultPort ? '' : `:${port}`}${path}`;
      const body = this._chunks.length && method !== 'GET' && method !== 'HEAD' ? Buffer.concat(this._chunks) : undefined;
      fetch(url, { method, headers: this._fetchHeaders(), body, redirect: 'manual', signal: this._controller.signal }).then((response) => {
        clearTimeout(this._timer);
        const message = new IncomingMessage(this.socket);
        message.statusCode = response.status;
        message.statusMessage = response.statusText || STATUS_CODES[response.status] || '';
        message._setHeaders(pairsOf(response.headers));
        message._setBody(method === 'HEAD' ? null : response.body);
        message.req = this;
        this.res = message;
        if (!this.emit('response', message)) message.resume();
        message.once('end', () => this.emit('close'));
      }, (error) => {
        clearTimeout(this._timer);
        if (!this.destroyed) this.destroy(requestError(error, host, port));
      });
    },
    setTimeout(ms, callback) {
      if (callback) this.once('timeout', callback);
      clearTimeout(this._timer);
      if (ms > 0) this._timer = setTimeout(() => this.emit('timeout'), ms);
      return this;
    },
    abort() {
      if (this.aborted) return;
      this.aborted = true;
      this.emit('abort');
      this.destroy();
    },
    _destroy(error, callback) {
      clearTimeout(this._timer);
      this._controller.abort(error ?? undefined);
      if (this.res && !this.res.complete) this.res.destroy(error ?? undefined);
      callback(error);
    },
    setNoDelay() {},
    setSocketKeepAlive() {},
  });
  // A failed fetch as Node's errors read (ECONNREFUSED, ENOTFOUND), else as it came.
  function requestError(error, host, port) {
    const message = String(error?.message ?? error);
    if (error?.name === 'AbortError') return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const code = /refused/i.test(message) ? 'ECONNREFUSED' : /resolve|not known|failed to lookup|dns/i.test(message) ? 'ENOTFOUND' : /timed out/i.test(message) ? 'ETIMEDOUT' : null;
    if (!code) return error;
    const text = code === 'ENOTFOUND' ? `getaddrinfo ENOTFOUND ${host}` : `connect ${code} ${host}:${port}`;
    return Object.assign(new Error(text), { code, errno: { ECONNREFUSED: -111, ENOTFOUND: -3008, ETIMEDOUT: -110 }[code], syscall: code === 'ENOTFOUND' ? 'getaddrinfo' : 'connect', address: host, port, cause: error });
  }

  class Agent extends EventEmitter {
    constructor(options = {}) {
      super();
      this.options = { path: null, ...options };
      this.keepAlive = !!options.keepAlive;
      this.keepAliveMsecs = options.keepAliveMsecs ?? 1000;
      this.maxSockets = options.maxSockets ?? Infinity;
      this.maxFreeSockets = options.maxFreeSockets ?? 256;
      this.maxTotalSockets = options.maxTotalSockets ?? Infinity;
      this.defaultPort = 80;
      this.protocol = 'http:';
      this.requests = {};
      this.sockets = {};
      this.freeSockets = {};
    }
    destroy() {}
    getName(options = {}) { return `${options.host ?? 'localhost'}:${options.port ?? ''}:${options.localAddress ?? ''}`; }
  }
  const globalAgent = new Agent();

  // --- server ------------------------------------------------------------------------------
  // The servers listening, by port: what handleAsNodeRequest sends a request to.
  const listening = new Map();

  class Server extends EventEmitter {
    constructor(options, handler) {
      super();
      if (typeof options === 'function') handler = options;
      if (handler) this.on('request', handler);
      this.listening = false;
      this.timeout = 0;
      this.keepAliveTimeout = 5000;
      this.headersTimeout = 60000;
      this.requestTimeout = 300000;
      this.maxHeadersCount = null;
      this._port = null;
    }
    listen(...args) {
      const callback = typeof args.at(-1) === 'function' ? args.pop() : undefined;
      const first = args[0];
      const port = Number(typeof first === 'object' && first !== null ? first.port : first ?? 0);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw nodeError('ERR_OUT_OF_RANGE', 'options.port', '>= 0 and < 65536', port);
      if (listening.has(port) && listening.get(port) !== this) {
        queueMicrotask(() => this.emit('error', Object.assign(new Error(`listen EADDRINUSE: address already in use :::${port}`), { code: 'EADDRINUSE', errno: -98, syscall: 'listen', port })));
        return this;
      }
      this._port = port;
      listening.set(port, this);
      this.listening = true;
      if (callback) this.once('listening', callback);
      queueMicrotask(() => this.emit('listening'));
      return this;
    }
    address() {
      return this.listening ? { address: '::', family: 'IPv6', port: this._port } : null;
    }
    close(callback) {
      if (this._port !== null && listening.get(this._port) === this) listening.delete(this._port);
      const wasListening = this.listening;
      this.listening = false;
      queueMicrotask(() => {
        if (callback) callback(wasListening ? undefined : Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' }));
        this.emit('close');
      });
      return this;
    }
    closeAllConnections() {}
    closeIdleConnections() {}
    setTimeout(ms, callback) {
      this.timeout = ms;
      if (callback) this.on('timeout', callback);
      return this;
    }
    ref() { return this; }
    unref() { return this; }
    [Symbol.asyncDispose]() { return new Promise((resolve) => this.close(resolve)); }
  }
  const createServer = (options, handler) => new Server(options, handler);

  function ServerResponse(req) {
    OutgoingMessage.call(this);
    this.req = req;
    this.statusCode = 200;
    this.statusMessage = undefined;
    this.socket = req.socket;
    this.sendDate = true;
    this._respond = null;
    this._controller = null;
    this._earlyChunks = [];
  }
  Object.setPrototypeOf(ServerResponse.prototype, OutgoingMessage.prototype);
  Object.setPrototypeOf(ServerResponse, OutgoingMessage);
  Object.defineProperty(ServerResponse.prototype, 'connection', { get() { return this.socket; }, configurable: true });
  Object.assign(ServerResponse.prototype, {
    writeHead(statusCode, reason, headers) {
      if (this.headersSent) throw nodeError('ERR_HTTP_HEADERS_SENT', 'write');
      if (typeof reason !== 'string') {
        headers = reason;
        reason = undefined;
      }
      const code = Number(statusCode);
      if (!Number.isInteger(code) || code < 100 || code > 999) throw nodeError('ERR_HTTP_INVALID_STATUS_CODE', statusCode);
      this.statusCode = code;
      if (reason !== undefined) this.statusMessage = reason;
      if (Array.isArray(headers)) {
        for (const [name, value] of Array.isArray(headers[0]) ? headers : pairsFromRaw(headers)) this.appendHeader(name, value);
      } else if (headers) {
        for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value);
      }
      this._sendHeaders();
      return this;
    },
    writeContinue() {},
    writeProcessing() {},
    writeEarlyHints() {},
    addTrailers() {},
    assignSocket() {},
    detachSocket() {},
    // Hands the runtime its Response: the status and headers now, the body as it is written.
    // `whole`, when given, is the entire body (end() with nothing written before): it goes out
    // as it is, without a stream.
    _sendHeaders(whole) {
      if (this.headersSent) return;
      this.headersSent = true;
      const status = this.statusCode;
      const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200) || this.req.method === 'HEAD';
      const headers = this._fetchHeaders();
      if (this.sendDate && !headers.has('date')) headers.set('date', new Date().toUTCString());
      let body = null;
      if (whole !== undefined) {
        body = bodiless ? null : whole;
      } else if (!bodiless) {
        body = new ReadableStream({
          start: (controller) => { this._controller = controller; },
          pull: () => this._drained?.(),
          cancel: () => {
            this._controller = null;
            this.destroy();
          },
        }, { highWaterMark: 1 });
      }
      const response = new Response(body, { status: status < 200 ? 200 : status, statusText: this.statusMessage ?? STATUS_CODES[status] ?? '', headers });
      this._respond?.(response);
    },
    _write(chunk, encoding, callback) {
      this._sendHeaders();
      const bytes = chunkOf(chunk, encoding);
      if (!this._controller || bytes.length === 0) return callback();
      this._controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      // Backpressure: the next write waits until the client has taken this one.
      if (this._controller.desiredSize > 0) callback();
      else this._drained = () => {
        this._drained = null;
        callback();
      };
    },
    _final(callback) {
      this._sendHeaders();
      this.finished = true;
      try {
        this._controller?.close();
      } catch {
        // The client went away.
      }
      callback();
    },
    end(chunk, encoding, callback) {
      if (typeof chunk === 'function') {
        callback = chunk;
        chunk = undefined;
      } else if (typeof encoding === 'function') {
        callback = encoding;
        encoding = undefined;
      }
      // The usual case: the whole body at once, before anything was written.
      if (!this.headersSent && !this.writableEnded && !this.destroyed) {
        const bytes = chunk === undefined || chunk === null ? new Uint8Array(0) : chunkOf(chunk, encoding);
        if (!this.hasHeader('content-length')) this.setHeader('Content-Length', bytes.length);
        this._sendHeaders(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        return Writable.prototype.end.call(this, callback);
      }
      return Writable.prototype.end.call(this, chunk, encoding, callback);
    },
  });

  // Runs Node's request handler of the server listening on `port` for the Fetch `request`;
  // the Response it writes.
  function handleAsNodeRequest(port, request) {
    const server = listening.get(Number(port));
    if (!server) return Promise.reject(new Error(`handleAsNodeRequest: no http server is listening on port ${port}; call server.listen(${port}) first`));
    const url = new URL(request.url);
    const socket = new StandInSocket({
      remoteAddress: request.headers.get('cf-connecting-ip') ?? '127.0.0.1',
      encrypted: url.protocol === 'https:',
      localPort: Number(port),
    });
    const req = new IncomingMessage(socket);
    req.method = request.method;
    req.url = `${url.pathname}${url.search}`;
    const pairs = [...request.headers];
    if (!request.headers.has('host')) pairs.unshift(['host', url.host]);
    req._setHeaders(pairs);
    req._setBody(request.body);
    const res = new ServerResponse(req);
    return new Promise((resolve, reject) => {
      res._respond = resolve;
      res.once('error', reject);
      try {
        server.emit('request', req, res);
      } catch (error) {
        if (!res.headersSent) reject(error);
      }
    });
  }

  const http = {
    STATUS_CODES, METHODS, Agent, globalAgent, ClientRequest, IncomingMessage, OutgoingMessage,
    Server, ServerResponse, createServer, validateHeaderName, validateHeaderValue,
    maxHeaderSize: 16384,
    request: (input, options, callback) => new ClientRequest(input, options, callback),
    get(input, options, callback) {
      const request = new ClientRequest(input, options, callback);
      request.end();
      return request;
    },
    setMaxIdleHTTPParsers() {},
  };
  internals['node:http'] = http;

  // node:https: the same, over https: by default.
  function HttpsClientRequest(input, options, callback) {
    if (!(this instanceof HttpsClientRequest)) return new HttpsClientRequest(input, options, callback);
    ClientRequest.call(this, input, options, callback);
  }
  Object.setPrototypeOf(HttpsClientRequest.prototype, ClientRequest.prototype);
  HttpsClientRequest.prototype._defaultProtocol = 'https:';
  class HttpsAgent extends Agent {
    constructor(options) {
      super(options);
      this.defaultPort = 443;
      this.protocol = 'https:';
    }
  }
  const httpsGlobalAgent = new HttpsAgent();
  internals['node:https'] = {
    Agent: HttpsAgent, globalAgent: httpsGlobalAgent, Server, createServer,
    request: (input, options, callback) => new HttpsClientRequest(input, options, callback),
    get(input, options, callback) {
      const request = new HttpsClientRequest(input, options, callback);
      request.end();
      return request;
    },
  };

  // cloudflare:node — Node servers as a worker's fetch handler.
  function httpServerHandler(target) {
    const port = typeof target === 'number' ? target : target instanceof Server ? target.address()?.port ?? target._port : target?.port;
    if (port === undefined || port === null) throw new TypeError('httpServerHandler: give it a port, { port }, or a listening http.Server');
    return {
      fetch(request) {
        return handleAsNodeRequest(port, request);
      },
    };
  }
  internals['cloudflare:node'] = { httpServerHandler, handleAsNodeRequest };
})
