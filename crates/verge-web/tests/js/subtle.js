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
  assertEquals((await assertRejects(() => crypto.subtle.encrypt('AES-GCM', key, text('x')), DOMException)).name, 'NotSupportedError');
});
test('timingSafeEqual', () => {
  assert(crypto.subtle.timingSafeEqual(text('same'), text('same')));
  assert(!crypto.subtle.timingSafeEqual(text('same'), text('sane')));
  assertThrows(() => crypto.subtle.timingSafeEqual(text('a'), text('ab')), TypeError);
});
