// crypto.getRandomValues and crypto.randomUUID (WebCrypto §10); the randomness is the OS's.
(function (ops, internals) {
  const INTEGER_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
  // The [[TypedArrayName]] of a typed array, subclasses included; undefined for a DataView.
  const typedArrayName = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
  class Crypto {
    get subtle() { return internals.subtle; }
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || !INTEGER_ARRAYS.includes(typedArrayName.call(array))) {
        throw new DOMException('The provided ArrayBufferView is not an integer array type.', 'TypeMismatchError');
      }
      if (array.byteLength > 65536) {
        throw new DOMException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536).`, 'QuotaExceededError');
      }
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(ops.randomBytes(array.byteLength));
      return array;
    }
    randomUUID() {
      const b = ops.randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
  }
  internals.defineGlobal('Crypto', Crypto);
  internals.defineGlobal('crypto', new Crypto());
})
