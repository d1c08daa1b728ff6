// Node's coded errors (`err.code`), as the node: modules throw them: the message and class
// Node gives each code, so code that checks `err.code` or the text behaves as under Node; and
// the error-first callback forms of synchronous work.
(function (ops, internals) {
  const typeName = (value) => {
    if (value === null) return 'null';
    if (value === undefined) return 'undefined';
    if (typeof value === 'function') return `function ${value.name}`;
    if (typeof value === 'object') return value.constructor?.name ? `an instance of ${value.constructor.name}` : typeof value;
    return `type ${typeof value} (${String(value).slice(0, 25)})`;
  };
  const MESSAGES = {
    ERR_INVALID_ARG_TYPE: [TypeError, (name, expected, actual) => `The "${name}" argument must be ${expected}. Received ${typeName(actual)}`],
    ERR_INVALID_ARG_VALUE: [TypeError, (name, value, reason = 'is invalid') => `The argument '${name}' ${reason}. Received ${String(value)}`],
    ERR_OUT_OF_RANGE: [RangeError, (name, range, value) => `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`],
    ERR_METHOD_NOT_IMPLEMENTED: [Error, (name) => `The ${name} method is not implemented`],
    ERR_MULTIPLE_CALLBACK: [Error, () => 'Callback called multiple times'],
    ERR_STREAM_PUSH_AFTER_EOF: [Error, () => 'stream.push() after EOF'],
    ERR_STREAM_UNSHIFT_AFTER_END_EVENT: [Error, () => 'stream.unshift() after end event'],
    ERR_STREAM_WRITE_AFTER_END: [Error, () => 'write after end'],
    ERR_STREAM_DESTROYED: [Error, (method) => `Cannot call ${method} after a stream was destroyed`],
    ERR_STREAM_NULL_VALUES: [TypeError, () => 'May not write null values to stream'],
    ERR_STREAM_PREMATURE_CLOSE: [Error, () => 'Premature close'],
    ERR_STREAM_ALREADY_FINISHED: [Error, (method) => `Cannot call ${method} after a stream was finished`],
    ERR_STREAM_CANNOT_PIPE: [Error, () => 'Cannot pipe, not readable'],
    ERR_MISSING_ARGS: [TypeError, (...names) => `The ${names.map((n) => `"${n}"`).join(' and ')} argument must be specified`],
    ERR_INVALID_RETURN_VALUE: [TypeError, (expected, name, value) => `Expected ${expected} to be returned from the "${name}" function but got ${typeName(value)}.`],
    ERR_UNKNOWN_ENCODING: [TypeError, (name) => `Unknown encoding: ${name}`],
    ERR_INVALID_URL: [TypeError, () => 'Invalid URL'],
    ERR_INVALID_FILE_URL_PATH: [TypeError, (why) => `File URL path ${why}`],
    ERR_INVALID_URL_SCHEME: [TypeError, (scheme) => `The URL must be of scheme ${scheme}`],
    ERR_UNSUPPORTED_OPERATION: [Error, (what) => `Unsupported operation: ${what}`],
    ERR_SOCKET_CLOSED: [Error, () => 'Socket is closed'],
    ERR_HTTP_HEADERS_SENT: [Error, (action) => `Cannot ${action} headers after they are sent to the client`],
    ERR_HTTP_INVALID_HEADER_VALUE: [TypeError, (value, name) => `Invalid value "${value}" for header "${name}"`],
    ERR_INVALID_HTTP_TOKEN: [TypeError, (what, name) => `${what} must be a valid HTTP token ["${name}"]`],
    ERR_INVALID_CHAR: [TypeError, (what, name) => `Invalid character in ${what} ["${name}"]`],
    ERR_HTTP_INVALID_STATUS_CODE: [RangeError, (code) => `Invalid status code: ${code}`],
    ERR_ABORTED: [Error, () => 'The operation was aborted'],
    ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS: [Error, (encoding, usable) => `The selected key encoding ${encoding} can only be used for ${usable}.`],
    ERR_CRYPTO_INVALID_JWK: [TypeError, () => 'Invalid JWK data'],
    ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE: [TypeError, (actual, expected) => `Invalid key object type ${actual}, expected ${expected}.`],
    ERR_CRYPTO_INVALID_SCRYPT_PARAMS: [RangeError, (detail) => `Invalid scrypt params${detail ? `: ${detail}` : ''}`],
    ERR_CRYPTO_UNKNOWN_CIPHER: [Error, () => 'Unknown cipher'],
    ERR_CRYPTO_INVALID_AUTH_TAG: [TypeError, (tag) => `Invalid authentication tag length: ${tag}`],
    ERR_CRYPTO_INVALID_STATE: [Error, (method) => `Invalid state for operation ${method}`],
    ERR_CRYPTO_INVALID_IV: [TypeError, () => 'Invalid initialization vector'],
    ERR_CRYPTO_INVALID_KEYLEN: [RangeError, () => 'Invalid key length'],
  };

  /** An error of Node's `code`, made with the arguments its message names. */
  function nodeError(code, ...args) {
    const [Base, message] = MESSAGES[code] ?? [Error, () => code];
    const error = new Base(message(...args));
    Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
    return error;
  }

  /** Node's AbortError: what an aborted operation rejects with. */
  class AbortError extends Error {
    constructor(message = 'The operation was aborted', options) {
      super(message, options);
      this.name = 'AbortError';
      this.code = 'ABORT_ERR';
    }
  }

  /** Runs `work` now and hands its result (or error) to the Node-style `callback` on a later
   * tick, as the callback forms of fs, zlib and crypto do here: a worker has no thread pool to
   * run them on. `spread` gives the callback the result's items as separate arguments. */
  function callBackLater(work, callback, name = 'callback', spread = false) {
    if (typeof callback !== 'function') throw nodeError('ERR_INVALID_ARG_TYPE', name, 'of type function', callback);
    let result, error = null;
    try {
      result = work();
    } catch (failure) {
      error = failure;
    }
    queueMicrotask(() => (error || !spread ? callback(error, result) : callback(null, ...result)));
  }

  internals.nodeError = nodeError;
  internals.callBackLater = callBackLater;
  internals.NodeAbortError = AbortError;
})
