// atob and btoa (HTML §8.3), with forgiving-base64 decoding.
(function (ops, internals) {
  internals.defineGlobal('btoa', function btoa(data) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'btoa': 1 argument required.");
    data = String(data);
    for (let i = 0; i < data.length; i++) {
      if (data.charCodeAt(i) > 0xff) {
        throw new DOMException('The string to be encoded contains characters outside of the Latin1 range.', 'InvalidCharacterError');
      }
    }
    return ops.btoa(data);
  });
  internals.defineGlobal('atob', function atob(data) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'atob': 1 argument required.");
    const decoded = ops.atob(String(data));
    if (decoded == null) throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
    return decoded;
  });
})
