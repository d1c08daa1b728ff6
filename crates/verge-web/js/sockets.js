// cloudflare:sockets — connect(): outbound TCP (and TLS) as Workers offer it, a Socket with a
// byte ReadableStream and a WritableStream, `opened`, `closed`, close() and startTls(). The
// host connects under the same outbound policy as fetch(), and each connection counts as a
// subrequest.
(function (ops, internals) {
  const registry = new FinalizationRegistry((id) => ops.socketClose(id));
  const quiet = (promise) => {
    promise.catch(() => {});
    return promise;
  };

  function parseAddress(address) {
    if (typeof address === 'string') {
      const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d+)$/.exec(address);
      if (!match) throw new TypeError(`connect(): "${address}" is not an address of the form host:port`);
      return { hostname: match[1] ?? match[2], port: Number(match[3]) };
    }
    if (address && typeof address === 'object' && address.hostname !== undefined) {
      return { hostname: String(address.hostname), port: Number(address.port) };
    }
    throw new TypeError('connect(): the address must be "host:port" or { hostname, port }');
  }

  const kMake = Symbol('make');
  class Socket {
    #id = 0; #opened; #closed; #settleClosed; #readable; #writable; #secureTransport;
    #allowHalfOpen; #hostname; #upgraded = false; #done = false; #readDone = false;
    #writeDone = false; #readController = null;

    constructor(token, connecting, hostname, secureTransport, allowHalfOpen) {
      if (token !== kMake) throw new TypeError('Illegal constructor: use connect()');
      this.#hostname = hostname;
      this.#secureTransport = secureTransport;
      this.#allowHalfOpen = allowHalfOpen;
      this.#closed = quiet(new Promise((resolve, reject) => {
        this.#settleClosed = (error) => (error ? reject(error) : resolve());
      }));
      this.#opened = quiet(connecting.then(([id, remoteAddress, localAddress]) => {
        this.#id = id;
        registry.register(this, id, this);
        if (this.#done) ops.socketClose(id);
        return { remoteAddress, localAddress };
      }, (error) => {
        const failure = new Error(`connect(): ${error.message}`);
        this.#finish(failure);
        throw failure;
      }));
      const socket = this;
      this.#readable = new ReadableStream({
        type: 'bytes',
        start(controller) {
          socket.#readController = controller;
        },
        async pull(controller) {
          await socket.#opened;
          if (socket.#done) return;
          const chunk = await ops.socketRead(socket.#id).catch((error) => {
            socket.#finish(error);
            throw error;
          });
          if (socket.#done) return;
          if (chunk === undefined) {
            controller.close();
            socket.#readDone = true;
            if (!socket.#allowHalfOpen || socket.#writeDone) socket.#finish();
          } else {
            controller.enqueue(chunk);
          }
        },
        cancel() {
          socket.#readDone = true;
          if (socket.#writeDone) socket.#finish();
        },
      });
      this.#writable = new WritableStream({
        async write(chunk) {
          await socket.#opened;
          if (socket.#done) throw new Error('Socket is closed');
          const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : internals.toBytes(chunk, 'Socket.writable');
          if (bytes.byteLength) await ops.socketWrite(socket.#id, bytes);
        },
        async close() {
          await socket.#opened;
          socket.#writeDone = true;
          if (!socket.#done) await ops.socketShutdown(socket.#id);
          if (socket.#readDone) socket.#finish();
        },
        abort() {
          socket.#finish();
        },
      });
    }

    // Ends the socket: its connection let go, `closed` settled, its streams done with.
    #finish(error) {
      if (this.#done) return;
      this.#done = true;
      if (this.#id) {
        registry.unregister(this);
        ops.socketClose(this.#id);
      }
      this.#settleClosed(error);
      if (!this.#readDone) {
        this.#readDone = true;
        try {
          if (error) this.#readController?.error(error);
          else this.#readController?.close();
        } catch {
          // Already closed or errored.
        }
      }
    }

    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
    get opened() { return this.#opened; }
    get closed() { return this.#closed; }
    get upgraded() { return this.#upgraded; }
    get secureTransport() { return this.#secureTransport; }

    close() {
      this.#finish();
      return this.#closed;
    }

    startTls(options) {
      if (this.#secureTransport !== 'starttls') throw new TypeError("startTls() needs a socket connected with secureTransport: 'starttls'");
      if (this.#upgraded) throw new TypeError('startTls() can be called once');
      if (this.#done) throw new TypeError('startTls(): the socket is closed');
      this.#upgraded = true;
      const hostname = options?.expectedServerHostname ?? this.#hostname;
      // The plain connection becomes the TLS one: this socket is done, without closing it.
      const upgrading = this.#opened.then(() => {
        const id = this.#id;
        this.#id = 0;
        registry.unregister(this);
        this.#finish();
        return ops.socketStartTls(id, hostname);
      });
      return new Socket(kMake, upgrading, hostname, 'on', this.#allowHalfOpen);
    }
  }

  function connect(address, options = {}) {
    const { hostname, port } = parseAddress(address);
    const secureTransport = options.secureTransport ?? 'off';
    if (!['off', 'on', 'starttls'].includes(secureTransport)) throw new TypeError(`connect(): secureTransport must be 'off', 'on' or 'starttls', not '${secureTransport}'`);
    // A bad port, a refused one or one too many for the request throws here, as on Workers.
    const checked = ops.socketCheck(hostname, port);
    const connecting = ops.socketConnect(hostname, checked, secureTransport === 'on');
    return new Socket(kMake, connecting, hostname, secureTransport, !!options.allowHalfOpen);
  }

  internals['cloudflare:sockets'] = { connect, Socket };
})
