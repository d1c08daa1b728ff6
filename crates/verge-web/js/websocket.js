// WebSocket and WebSocketPair as Workers have them (WHATWG WebSockets, with Workers' accept()
// and their server side). Two ends make a WebSocket; what one end sends, the other receives.
// An end that leaves the isolate — in a 101 Response (`exportSocket`), or fetched from
// elsewhere (`socketFromHost`) — is backed by a host socket (src/websocket.rs): frames for it
// go out through `ops.wsSend`, and frames from the host arrive through `wsDeliver`. Events wait
// until the end they are for is accepted.
(function (ops, internals) {
  const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;
  const MAX_MESSAGE = 1024 * 1024;

  class MessageEvent extends Event {
    #data;
    constructor(type, init = {}) { super(type, init); this.#data = init?.data; }
    get data() { return this.#data; }
  }
  class CloseEvent extends Event {
    #code; #reason; #wasClean;
    constructor(type, init = {}) {
      super(type, init);
      this.#code = Number(init?.code ?? 0);
      this.#reason = String(init?.reason ?? '');
      this.#wasClean = !!init?.wasClean;
    }
    get code() { return this.#code; }
    get reason() { return this.#reason; }
    get wasClean() { return this.#wasClean; }
  }
  class ErrorEvent extends Event {
    #message; #error;
    constructor(type, init = {}) { super(type, init); this.#message = String(init?.message ?? ''); this.#error = init?.error; }
    get message() { return this.#message; }
    get error() { return this.#error; }
  }

  // Host socket id → the WebSocket whose frames arrive on it.
  const receivers = new Map();
  // A Durable Object's held sockets in this isolate, by number.
  const heldSockets = new Map();
  const INTERNAL = Symbol('internal');

  class WebSocket extends EventTarget {
    // Frames for this end (`[kind, data]`) that arrived before it was accepted or handed on.
    #readyState = OPEN; #peer = null; #exportId; #remoteId; #accepted = false; #queue = [];
    #url = null; #protocol = ''; #attachment; #handlers = {};
    // Accepted with a Durable Object's ctx.acceptWebSocket: `{ binding, tags, number }`, the
    // number once the server holds the socket.
    #held = null;
    #closeWhenOpen = null;

    constructor(url, protocols = undefined) {
      super();
      if (url === INTERNAL) return;
      // The outbound form: a connection to `url`, through fetch().
      const parsed = URL.parse(String(url));
      if (parsed === null || !['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
        throw new DOMException(`Failed to construct 'WebSocket': The URL '${url}' is invalid.`, 'SyntaxError');
      }
      this.#url = parsed.href;
      this.#readyState = CONNECTING;
      this.#accepted = true;
      parsed.protocol = parsed.protocol === 'wss:' || parsed.protocol === 'https:' ? 'https:' : 'http:';
      const headers = { upgrade: 'websocket' };
      if (protocols !== undefined) headers['sec-websocket-protocol'] = [].concat(protocols).join(', ');
      fetch(parsed.href, { headers }).then((response) => {
        const socket = response.webSocket;
        if (!socket) throw new Error(`The server answered ${response.status}, not a WebSocket.`);
        this.#protocol = response.headers.get('sec-websocket-protocol') ?? '';
        this.#remoteId = socket.#remoteId;
        socket.#remoteId = undefined;
        receivers.set(this.#remoteId, this);
        ops.wsStart(this.#remoteId);
        if (this.#closeWhenOpen) return this.#transmit('close', this.#closeWhenOpen);
        this.#readyState = OPEN;
        this.#emit(new Event('open'));
      }).catch((error) => {
        this.#readyState = CLOSED;
        this.#emit(new ErrorEvent('error', { message: String(error?.message ?? error), error }));
        this.#emit(new CloseEvent('close', { code: 1006, reason: '', wasClean: false }));
      });
    }

    static _pair() {
      const a = new WebSocket(INTERNAL);
      const b = new WebSocket(INTERNAL);
      a.#peer = b;
      b.#peer = a;
      return [a, b];
    }

    // Marks `socket` as accepted by the Durable Object of state `binding`, held by the server.
    static _hold(socket, binding, tags) {
      if (socket.#accepted || socket.#held) throw new TypeError('This WebSocket has already been accepted.');
      if (socket.#peer === null) throw new TypeError('acceptWebSocket() takes the server end of a WebSocketPair.');
      socket.#accepted = true;
      socket.#held = { binding, tags, number: undefined, pending: [] };
    }

    // The WebSocket object of held socket `number` in this isolate, made if need be.
    static _held(binding, number, tags, attachment) {
      let socket = heldSockets.get(number);
      if (!socket) {
        socket = new WebSocket(INTERNAL);
        socket.#accepted = true;
        socket.#held = { binding, tags, number };
        socket.#attachment = attachment ?? undefined;
        heldSockets.set(number, socket);
      }
      return socket;
    }

    static _heldTags(socket) { return socket.#held ? [...socket.#held.tags] : []; }

    // Whether held `socket` was accepted with accept(), its events for its own listeners.
    static _heldListening(socket) { return !!socket.#held?.listening; }
    static _heldReceive(socket, kind, data) { socket.#receive(kind, data); }

    // A held socket's close, as the object hears it.
    static _heldClosed(socket) {
      socket.#readyState = CLOSED;
      heldSockets.delete(socket.#held?.number);
    }

    // The end handed to the host in a 101 response: its id.
    static _export(socket) {
      const held = socket.#peer?.#held;
      if (held && held.number === undefined && socket.#exportId === undefined) {
        const [number, parked] = ops.objectAdoptSocket(held.binding, held.tags, !!held.listening);
        held.number = number;
        heldSockets.set(number, socket.#peer);
        socket.#exportId = parked;
        // An attachment made before the socket was returned is kept by the server too.
        const attachment = socket.#peer.#attachment;
        if (attachment !== undefined) ops.objectSocketAttach(held.binding, number, attachment);
        // What the object sent before it returned the socket, in order.
        for (const [kind, data] of held.pending.splice(0)) ops.objectSocketSend(held.binding, number, kind, data);
        return parked;
      }
      if (socket.#remoteId !== undefined) {
        if (socket.#accepted) throw new TypeError('This WebSocket was accepted here, so it cannot be returned in a response.');
        return socket.#remoteId;
      }
      if (socket.#accepted) throw new TypeError('The WebSocket returned in a response must be the client end, not accepted here.');
      if (socket.#exportId === undefined) {
        socket.#exportId = ops.wsExport();
        receivers.set(socket.#exportId, socket.#peer);
        // What its peer sent before it was handed on goes to the host, in order.
        for (const [kind, data] of socket.#queue.splice(0)) ops.wsSend(socket.#exportId, kind, data);
      }
      return socket.#exportId;
    }

    static _fromHost(id) {
      const socket = new WebSocket(INTERNAL);
      socket.#remoteId = id;
      return socket;
    }

    static _deliver(id, kind, data) {
      const socket = receivers.get(id);
      if (kind === 'close') receivers.delete(id);
      socket?.#receive(kind, data);
    }

    get readyState() { return this.#readyState; }
    get url() { return this.#url; }
    get protocol() { return this.#protocol; }
    get extensions() { return ''; }
    get binaryType() { return 'arraybuffer'; }
    set binaryType(value) {}
    get bufferedAmount() { return 0; }
    get onopen() { return this.#handlers.open ?? null; }
    set onopen(handler) { this.#handlers.open = handler; }
    get onmessage() { return this.#handlers.message ?? null; }
    set onmessage(handler) { this.#handlers.message = handler; }
    get onclose() { return this.#handlers.close ?? null; }
    set onclose(handler) { this.#handlers.close = handler; }
    get onerror() { return this.#handlers.error ?? null; }
    set onerror(handler) { this.#handlers.error = handler; }

    accept() {
      if (this.#accepted) throw new TypeError('This WebSocket has already been accepted.');
      if (this.#exportId !== undefined) throw new TypeError('This WebSocket was handed on in a response and cannot be accepted here.');
      // In a Durable Object, the server holds the socket (its events pass the object's gates
      // and its messages wait for its writes), and its events reach this object's listeners.
      const binding = internals.objectStateBinding;
      if (binding !== undefined && this.#peer !== null && this.#remoteId === undefined) {
        this.#accepted = true;
        this.#held = { binding, tags: [], number: undefined, pending: [], listening: true };
        return;
      }
      this.#accepted = true;
      if (this.#remoteId !== undefined) {
        receivers.set(this.#remoteId, this);
        ops.wsStart(this.#remoteId);
      }
      for (const [kind, data] of this.#queue.splice(0)) this.#receive(kind, data);
    }

    send(message) {
      if (!this.#accepted) throw new TypeError('You must call accept() on this WebSocket before sending messages.');
      if (this.#readyState === CONNECTING) throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
      if (this.#readyState !== OPEN) throw new TypeError("Can't call WebSocket send() after close().");
      let kind, data;
      if (message instanceof ArrayBuffer || ArrayBuffer.isView(message)) {
        kind = 'binary';
        data = internals.toBytes(message, 'WebSocket.send').slice();
      } else {
        kind = 'text';
        data = String(message);
      }
      const size = kind === 'text' ? internals.utf8Encode(data).length : data.length;
      if (size > MAX_MESSAGE) throw new RangeError(`WebSocket message too large: ${size} bytes, over the limit of ${MAX_MESSAGE}.`);
      this.#transmit(kind, data);
    }

    close(code = undefined, reason = undefined) {
      if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
      if (code !== undefined) {
        code = Number(code);
        // RFC 6455 §7.4: the codes an endpoint may send.
        const valid = Number.isInteger(code) && ((code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999));
        if (!valid) {
          throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close code ${code} is not one an endpoint may send.`, 'InvalidAccessError');
        }
      }
      reason = reason === undefined ? '' : String(reason);
      if (internals.utf8Encode(reason).length > 123) throw new DOMException("Failed to execute 'close' on 'WebSocket': The message must not be greater than 123 bytes.", 'SyntaxError');
      const wasConnecting = this.#readyState === CONNECTING;
      this.#readyState = CLOSING;
      // Still connecting (new WebSocket(url)): the close goes out once the connection is open.
      if (wasConnecting) this.#closeWhenOpen = [code ?? 1005, reason];
      else this.#transmit('close', [code ?? 1005, reason]);
    }

    serializeAttachment(value) {
      this.#attachment = internals.structuredSerialize(value);
      if (this.#held?.number !== undefined) ops.objectSocketAttach(this.#held.binding, this.#held.number, this.#attachment);
    }
    deserializeAttachment() { return this.#attachment === undefined ? null : internals.structuredDeserialize(this.#attachment); }

    // Sends a frame to the other end: through the host if that end (or this one) is the host's.
    #transmit(kind, data) {
      if (this.#held) {
        if (this.#held.number === undefined) return this.#held.pending.push([kind, data]);
        return ops.objectSocketSend(this.#held.binding, this.#held.number, kind, data);
      }
      if (this.#remoteId !== undefined) return ops.wsSend(this.#remoteId, kind, data);
      const peer = this.#peer;
      if (peer.#exportId !== undefined) return ops.wsSend(peer.#exportId, kind, data);
      queueMicrotask(() => peer.#receive(kind, data));
    }

    #receive(kind, data) {
      if (this.#exportId !== undefined) return ops.wsSend(this.#exportId, kind, data);
      if (!this.#accepted) return this.#queue.push([kind, data]);
      if (kind !== 'close') {
        if (this.#readyState === CLOSED) return;
        return this.#emit(new MessageEvent('message', { data }));
      }
      const [code, reason] = data;
      const wasOpen = this.#readyState === OPEN;
      this.#readyState = CLOSED;
      // Closed by the other side first: a local peer hears the close echoed, as the network's does.
      if (wasOpen && this.#remoteId === undefined && this.#peer && this.#peer.#exportId === undefined) {
        queueMicrotask(() => this.#peer.#receive('close', [code, reason]));
      }
      if (code === 1006 || code === 1002 || code === 1009) {
        this.#emit(new ErrorEvent('error', { message: `WebSocket closed with ${code}${reason ? `: ${reason}` : ''}` }));
      }
      this.#emit(new CloseEvent('close', { code, reason, wasClean: code !== 1006 }));
    }

    #emit(event) {
      const handler = this.#handlers[event.type];
      this.dispatchEvent(event);
      if (typeof handler === 'function') {
        try {
          handler.call(this, event);
        } catch (error) {
          internals.reportError(error);
        }
      }
    }
  }
  for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
    Object.defineProperty(WebSocket, name, { value, enumerable: true });
    Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
  }
  Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket' });

  const makePair = WebSocket._pair;
  class WebSocketPair {
    constructor() {
      const [client, server] = makePair();
      this[0] = client;
      this[1] = server;
    }
  }

  internals.exportSocket = WebSocket._export;
  internals.holdSocket = WebSocket._hold;
  internals.heldSocket = WebSocket._held;
  internals.heldSocketTags = WebSocket._heldTags;
  internals.heldSocketClosed = WebSocket._heldClosed;
  internals.heldSocketListening = WebSocket._heldListening;
  internals.heldSocketReceive = WebSocket._heldReceive;
  delete WebSocket._heldListening;
  delete WebSocket._heldReceive;
  delete WebSocket._hold;
  delete WebSocket._held;
  delete WebSocket._heldTags;
  delete WebSocket._heldClosed;
  internals.socketFromHost = WebSocket._fromHost;
  internals.wsDeliver = WebSocket._deliver;
  delete WebSocket._pair;
  delete WebSocket._export;
  delete WebSocket._fromHost;
  delete WebSocket._deliver;
  internals.defineGlobal('WebSocket', WebSocket);
  internals.defineGlobal('WebSocketPair', WebSocketPair);
  internals.defineGlobal('MessageEvent', MessageEvent);
  internals.defineGlobal('CloseEvent', CloseEvent);
  internals.defineGlobal('ErrorEvent', ErrorEvent);
})
