// HTMLRewriter (the Workers API): streaming HTML rewriting on lol_html. The native side
// (src/html_rewriter.rs) runs lol_html in a coroutine that stops at every token a handler wants;
// this file runs the handler, turns its calls on the token into ops, waits for any promise it
// returns, and then lets lol_html go on.
(function (ops, internals) {

  // Token operations; the numbers match `code` in src/html_rewriter.rs.
  const OP = {
    TAG_NAME: 1, SET_TAG_NAME: 2, GET_ATTRIBUTE: 3, HAS_ATTRIBUTE: 4, SET_ATTRIBUTE: 5,
    REMOVE_ATTRIBUTE: 6, ATTRIBUTES: 7, NAMESPACE_URI: 8, CAN_HAVE_CONTENT: 9, SELF_CLOSING: 10,
    REMOVED: 11, BEFORE: 12, AFTER: 13, PREPEND: 14, APPEND: 15, REPLACE: 16,
    SET_INNER_CONTENT: 17, REMOVE: 18, REMOVE_AND_KEEP_CONTENT: 19, ON_END_TAG: 20, TEXT: 21,
    SET_TEXT: 22, NAME: 23, SET_NAME: 24,
  };
  // Steps; they match htmlRewriterStep.
  const WRITE = 0, END = 1, HANDLER_DONE = 2, HANDLER_FAILED = 3;
  const NEED_INPUT = 0, FINISHED = -1;
  const KIND = { ELEMENT: 1, COMMENT: 2, TEXT: 3, DOCTYPE: 4, DOCUMENT_END: 5, END_TAG: 6 };

  // One transform in progress: its native rewriter and the callbacks it may run.
  class Run {
    constructor(id, callbacks) {
      this.id = id;
      this.callbacks = callbacks;
    }
  }

  // What every content token shares: the run it belongs to, valid only while its handler runs.
  class Token {
    #run;
    constructor(key, run) {
      if (key !== internalKey) throw new TypeError('Illegal constructor');
      this.#run = run;
    }
    _invalidate() { this.#run = null; }
    _op(code, text = '', value = '', html = false) {
      if (this.#run === null) {
        throw new TypeError('This content token is no longer valid. Content tokens are only ' +
          'valid during the execution of the relevant content handler.');
      }
      return ops.htmlRewriterOp(this.#run.id, code, text, value, html);
    }
    _content(code, content, options) {
      this._op(code, String(content), '', Boolean(options?.html));
      return this;
    }
    _endTagCallback(handler) {
      const run = this.#run;
      run.callbacks.push([undefined, handler]);
      return run.callbacks.length - 1;
    }
  }
  const internalKey = Symbol('HTMLRewriter token');

  // What every content token can do: insert content around it, replace it, remove it.
  class ContentToken extends Token {
    get removed() { return this._op(OP.REMOVED); }
    before(content, options) { return this._content(OP.BEFORE, content, options); }
    after(content, options) { return this._content(OP.AFTER, content, options); }
    replace(content, options) { return this._content(OP.REPLACE, content, options); }
    remove() {
      this._op(OP.REMOVE);
      return this;
    }
  }

  class Element extends ContentToken {
    get tagName() { return this._op(OP.TAG_NAME); }
    set tagName(name) { this._op(OP.SET_TAG_NAME, String(name)); }
    get attributes() { return this._op(OP.ATTRIBUTES)[Symbol.iterator](); }
    get namespaceURI() { return this._op(OP.NAMESPACE_URI); }
    get canHaveContent() { return this._op(OP.CAN_HAVE_CONTENT); }
    get selfClosing() { return this._op(OP.SELF_CLOSING); }
    getAttribute(name) { return this._op(OP.GET_ATTRIBUTE, String(name)); }
    hasAttribute(name) { return this._op(OP.HAS_ATTRIBUTE, String(name)); }
    setAttribute(name, value) {
      this._op(OP.SET_ATTRIBUTE, String(name), String(value));
      return this;
    }
    removeAttribute(name) {
      this._op(OP.REMOVE_ATTRIBUTE, String(name));
      return this;
    }
    prepend(content, options) { return this._content(OP.PREPEND, content, options); }
    append(content, options) { return this._content(OP.APPEND, content, options); }
    setInnerContent(content, options) {
      return this._content(OP.SET_INNER_CONTENT, content, options);
    }
    removeAndKeepContent() {
      this._op(OP.REMOVE_AND_KEEP_CONTENT);
      return this;
    }
    onEndTag(handler) {
      if (typeof handler !== 'function') {
        throw new TypeError("Failed to execute 'onEndTag': the handler must be a function.");
      }
      this._op(OP.ON_END_TAG, String(this._endTagCallback(handler)));
    }
  }

  class EndTag extends ContentToken {
    get name() { return this._op(OP.NAME); }
    set name(name) { this._op(OP.SET_NAME, String(name)); }
  }

  class Text extends ContentToken {
    #text; #lastInTextNode; #textType;
    constructor(key, run, text, lastInTextNode, textType) {
      super(key, run);
      this.#text = text;
      this.#lastInTextNode = lastInTextNode !== null;
      this.#textType = textType;
    }
    get text() { return this.#text; }
    get lastInTextNode() { return this.#lastInTextNode; }
    get textType() { return this.#textType; }
  }

  class Comment extends ContentToken {
    get text() { return this._op(OP.TEXT); }
    set text(text) { this._op(OP.SET_TEXT, String(text)); }
  }

  class Doctype extends Token {
    #name; #publicId; #systemId;
    constructor(key, run, name, publicId, systemId) {
      super(key, run);
      this.#name = name;
      this.#publicId = publicId;
      this.#systemId = systemId;
    }
    get name() { return this.#name; }
    get publicId() { return this.#publicId; }
    get systemId() { return this.#systemId; }
    get removed() { return this._op(OP.REMOVED); }
    remove() {
      this._op(OP.REMOVE);
      return this;
    }
  }

  class DocumentEnd extends Token {
    append(content, options) { return this._content(OP.APPEND, content, options); }
  }

  function makeToken(run, [kind, , a, b, c]) {
    switch (kind) {
      case KIND.ELEMENT: return new Element(internalKey, run);
      case KIND.COMMENT: return new Comment(internalKey, run);
      case KIND.TEXT: return new Text(internalKey, run, a, b, c);
      case KIND.DOCTYPE: return new Doctype(internalKey, run, a, b, c);
      case KIND.DOCUMENT_END: return new DocumentEnd(internalKey, run);
      default: return new EndTag(internalKey, run);
    }
  }

  // Runs lol_html from `step` until it wants more input, calling (and awaiting) handlers on the
  // way; output goes to `controller` as it appears.
  async function drive(run, step, chunk, controller) {
    let event = ops.htmlRewriterStep(run.id, step, chunk);
    for (;;) {
      const output = ops.htmlRewriterOutput(run.id);
      if (output !== undefined) controller.enqueue(output);
      if (event === NEED_INPUT || event === FINISHED) return;
      const [receiver, handler] = run.callbacks[event[1]];
      const token = makeToken(run, event);
      try {
        const result = handler.call(receiver, token);
        if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
          await result;
        }
      } catch (error) {
        token._invalidate();
        try { ops.htmlRewriterStep(run.id, HANDLER_FAILED); } catch { /* the handler's error wins */ }
        ops.htmlRewriterFree(run.id);
        throw error;
      }
      token._invalidate();
      event = ops.htmlRewriterStep(run.id, HANDLER_DONE);
    }
  }

  function charsetOf(contentType) {
    const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
    return match ? (match[1] ?? match[2]) : 'utf-8';
  }

  function methodOf(handlers, name) {
    const method = handlers[name];
    if (method === undefined) return undefined;
    if (typeof method !== 'function') {
      throw new TypeError(`The '${name}' content handler must be a function.`);
    }
    return method;
  }

  class HTMLRewriter {
    #elements = [];
    #documents = [];

    on(selector, handlers) {
      selector = String(selector);
      if (handlers === null || typeof handlers !== 'object') {
        throw new TypeError("Failed to execute 'on' on 'HTMLRewriter': handlers must be an object.");
      }
      ops.htmlCheckSelector(selector);
      this.#elements.push([selector, handlers, methodOf(handlers, 'element'),
        methodOf(handlers, 'comments'), methodOf(handlers, 'text')]);
      return this;
    }

    onDocument(handlers) {
      if (handlers === null || typeof handlers !== 'object') {
        throw new TypeError(
          "Failed to execute 'onDocument' on 'HTMLRewriter': handlers must be an object.");
      }
      this.#documents.push([handlers, methodOf(handlers, 'doctype'), methodOf(handlers, 'comments'),
        methodOf(handlers, 'text'), methodOf(handlers, 'end')]);
      return this;
    }

    transform(response) {
      if (!(response instanceof Response)) {
        throw new TypeError("Failed to execute 'transform' on 'HTMLRewriter': " +
          "parameter 1 is not of type 'Response'.");
      }
      if (response.bodyUsed) {
        throw new TypeError('The body of the response passed to transform() was already read.');
      }
      const headers = new Headers(response.headers);
      headers.delete('content-length');
      const init = { status: response.status, statusText: response.statusText, headers };
      if (response.body === null) return new Response(null, init);

      const callbacks = [];
      const index = (receiver, method) => {
        if (method === undefined) return -1;
        callbacks.push([receiver, method]);
        return callbacks.length - 1;
      };
      // Per `on()`: its element, comments and text callbacks; per `onDocument()`: doctype,
      // comments, text and end; -1 for none.
      const elementCallbacks = this.#elements.flatMap(([, handlers, element, comments, text]) =>
        [index(handlers, element), index(handlers, comments), index(handlers, text)]);
      const documentCallbacks = this.#documents.flatMap(([handlers, doctype, comments, text, end]) =>
        [index(handlers, doctype), index(handlers, comments), index(handlers, text),
          index(handlers, end)]);
      const selectors = this.#elements.map(([selector]) => selector);
      const charset = charsetOf(response.headers.get('content-type'));
      const id = ops.htmlRewriterNew(selectors, elementCallbacks, documentCallbacks, charset);
      const run = new Run(id, callbacks);

      const rewrite = new TransformStream({
        transform(chunk, controller) {
          if (!(chunk instanceof Uint8Array)) {
            if (typeof chunk === 'string') chunk = new TextEncoder().encode(chunk);
            else if (ArrayBuffer.isView(chunk)) {
              chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            } else if (chunk instanceof ArrayBuffer) chunk = new Uint8Array(chunk);
            else throw new TypeError('HTMLRewriter can only rewrite a body of bytes.');
          }
          return drive(run, WRITE, chunk, controller);
        },
        async flush(controller) {
          await drive(run, END, undefined, controller);
          ops.htmlRewriterFree(run.id);
        },
        // The reader went away (a client disconnected): drop lol_html and its stack now.
        cancel() { ops.htmlRewriterFree(run.id); },
      });
      return new Response(response.body.pipeThrough(rewrite), init);
    }
  }

  internals.defineGlobal('HTMLRewriter', HTMLRewriter);
})
