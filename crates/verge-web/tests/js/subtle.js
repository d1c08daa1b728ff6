const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
const text = (s) => new TextEncoder().encode(s);
test('digest: SHA family known answers', async () => {
  assertEquals(hex(await crypto.subtle.digest('SHA-256', text('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assertEquals(hex(await crypto.subtle.digest({ name: 'sha-1' }, text('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assertEquals((await crypto.subtle.digest('SHA-384', text(''))).byteLength, 48);
  assertEquals((await crypto.subtle.digest('SHA-512', new Uint8Array(0).buffer)).byteLength, 64);
  assertEquals((await assertRejects(() => crypto.subtle.digest('MD5', text('x')), DOMException)).name, 'NotSupportedError');
  await assertRejects(() => crypto.subtle.digest('SHA-256', 'not a buffer'), TypeError);
});
test('HMAC: RFC 4231 test case 2, sign and verify', async () => {
  const key = await crypto.subtle.importKey('raw', text('Jefe'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  assertEquals([key.type, key.extractable, key.algorithm.name, key.algorithm.hash.name, key.algorithm.length], ['secret', false, 'HMAC', 'SHA-256', 32]);
  assertEquals([...key.usages], ['sign', 'verify']);
  const mac = await crypto.subtle.sign('HMAC', key, text('what do ya want for nothing?'));
  assertEquals(hex(mac), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  assert(await crypto.subtle.verify('HMAC', key, mac, text('what do ya want for nothing?')));
  assert(!(await crypto.subtle.verify('HMAC', key, mac, text('something else'))));
  assert(key instanceof CryptoKey);
  assertThrows(() => new CryptoKey(), TypeError);
});
test('HMAC: generateKey, exportKey raw and jwk, import round trip', async () => {
  const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-512' }, true, ['sign']);
  assertEquals(key.algorithm.length, 1024);
  const raw = await crypto.subtle.exportKey('raw', key);
  assertEquals(raw.byteLength, 128);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  assertEquals([jwk.kty, jwk.alg, jwk.ext, jwk.key_ops], ['oct', 'HS512', true, ['sign']]);
  const again = await crypto.subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-512' }, true, ['sign']);
  assertEquals(hex(await crypto.subtle.exportKey('raw', again)), hex(raw));
});
test('WebCrypto errors', async () => {
  const key = await crypto.subtle.importKey('raw', text('k'), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  assertEquals((await assertRejects(() => crypto.subtle.sign('HMAC', key, text('x')), DOMException)).name, 'InvalidAccessError');
  assertEquals((await assertRejects(() => crypto.subtle.exportKey('raw', key), DOMException)).name, 'InvalidAccessError');
  assertEquals((await assertRejects(() => crypto.subtle.importKey('raw', text('k'), { name: 'HMAC', hash: 'SHA-256' }, false, ['encrypt']), DOMException)).name, 'SyntaxError');
  assertEquals((await assertRejects(() => crypto.subtle.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), DOMException)).name, 'DataError');
  assertEquals((await assertRejects(() => crypto.subtle.importKey('jwk', { kty: 'RSA' }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), DOMException)).name, 'DataError');
  assertEquals((await assertRejects(() => crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, text('x')), DOMException)).name, 'InvalidAccessError');
  assertEquals((await assertRejects(() => crypto.subtle.wrapKey('raw', key, key, 'AES-KW'), DOMException)).name, 'NotSupportedError');
});
test('timingSafeEqual', () => {
  assert(crypto.subtle.timingSafeEqual(text('same'), text('same')));
  assert(!crypto.subtle.timingSafeEqual(text('same'), text('sane')));
  assertThrows(() => crypto.subtle.timingSafeEqual(text('a'), text('ab')), TypeError);
});
test('AES-GCM: encrypt, decrypt, tamper detection, jwk round trip', async () => {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  assertEquals([key.algorithm.name, key.algorithm.length], ['AES-GCM', 256]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: text('header') }, key, text('attack at dawn'));
  assertEquals(sealed.byteLength, 14 + 16);
  const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: text('header') }, key, sealed);
  assertEquals(new TextDecoder().decode(opened), 'attack at dawn');
  const tampered = new Uint8Array(sealed).slice(); tampered[0] ^= 1;
  assertEquals((await assertRejects(() => crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: text('header') }, key, tampered), DOMException)).name, 'OperationError');
  const jwk = await crypto.subtle.exportKey('jwk', key);
  assertEquals([jwk.kty, jwk.alg], ['oct', 'A256GCM']);
  const again = await crypto.subtle.importKey('jwk', jwk, 'AES-GCM', false, ['decrypt']);
  assertEquals(new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: text('header') }, again, sealed)), 'attack at dawn');
});
test('AES-GCM known answer (NIST GCM test case 3, AES-128)', async () => {
  const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
  const key = await crypto.subtle.importKey('raw', fromHex('feffe9928665731c6d6a8f9467308308'), 'AES-GCM', false, ['encrypt']);
  const plain = fromHex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255');
  const out = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: fromHex('cafebabefacedbaddecaf888') }, key, plain);
  assertEquals(hex(out), '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985' + '4d5c2af327cd64a62cf35abd2ba6fab4');
});
test('PBKDF2 and HKDF: known answers and deriveKey', async () => {
  const password = await crypto.subtle.importKey('raw', text('password'), 'PBKDF2', false, ['deriveBits', 'deriveKey']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: text('salt'), iterations: 1 }, password, 256);
  assertEquals(hex(bits), '120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b');
  const ikm = await crypto.subtle.importKey('raw', new Uint8Array(22).fill(0x0b), 'HKDF', false, ['deriveBits']);
  const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
  const okm = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: fromHex('000102030405060708090a0b0c'), info: fromHex('f0f1f2f3f4f5f6f7f8f9') }, ikm, 336);
  assertEquals(hex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  const aes = await crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: text('salt'), iterations: 1000 }, password, { name: 'AES-GCM', length: 128 }, false, ['encrypt']);
  assertEquals([aes.algorithm.name, aes.algorithm.length, aes.extractable], ['AES-GCM', 128, false]);
  await assertRejects(() => crypto.subtle.importKey('raw', text('p'), 'PBKDF2', true, ['deriveBits']), DOMException);
  const huge = await assertRejects(() => crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: text('s'), iterations: 1 }, password, 2 ** 31), DOMException);
  assertEquals(huge.name, 'OperationError');
});
