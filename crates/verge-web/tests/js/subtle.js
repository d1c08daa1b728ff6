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
  assertEquals((await assertRejects(() => crypto.subtle.wrapKey('raw', key, key, 'AES-KW'), DOMException)).name, 'InvalidAccessError');
  assertEquals((await assertRejects(() => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-192' }, false, ['sign']), DOMException)).name, 'NotSupportedError');
  await assertRejects(() => crypto.subtle.generateKey({ name: 'AES-CBC' }, false, ['encrypt']), TypeError);
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
// Keys and signatures made by OpenSSL 3 (`openssl genpkey`, `openssl dgst -sign`) over "abc".
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const OPENSSL = {
  rsaPkcs8: 'MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCbBrYcqdTpUc9NDRj91coomMSKWpH3hfZ47+gFlFFdLOwdFzLwdiVWOzdB457+V/FNQ4ptjjQZkBUcdAg5uuURIk1knvKhuiI80wRYJjkT2eKxSpG9cJIMQi2FTSxsJ4MGnwEUa35G89LAsBAqkeW4FjxWmv578NbD3EcbcJuONwmaKsKuTxYZrzCrnduzr1AyAJy1hj1unT7FgzYGa0YdPgLiHFp2S930L5sxTIuuSZXqF6dNgNhh9dx6nXfe4Fe2LVxiIlq1DbZfgQutLETiLOoZ7rbUVz+Y6HSp6Vl4ncQ1LejIuC/xdUpFSyVIQ6mDjQK1hj7V9Jd6ZLhjVsG9AgMBAAECggEAEA4MtoDjeGW3vX08QoQtY1vtitM2EmIwyYs1m7z7BNZzU3tEvsDK6Bh022GFOfEF9Ur9NJBewUD54WWmORhWbcUAKooINbXkTX6gZg1QqZzN4doyUrdW9hG1INItELxc0PGO9+bpVSlzgO9wP9W2lS8pq4xyC4hAgwM2kqxsUmN5LlGBDwfgLE8fPsQbcSLdDogQaEByeyIGaWuAZYR0znKwLrb2EwBxfTnwphoWNVFuYk6JpwManKjdBdx1UtwKFEOMVoiQocG6gtsmxbV6l7Xj9S+mREGEPRVrvAk+kr9srkQjt+FTWqmHFfc8Bw1g5jdtNpCz1uEcYUwD0TPjnwKBgQDLZnZLfeKn6oGG6UFdEptp9y9BFgxvmRitB56DiMi3CWivLleC7izgpYvjEsfoeU2i5WSRZCdSKm05xvOAW/MhZXZmc7b1SL6EXwvMP03dqNmYtCxjwFINgceBi3BzOxywuMfbi//dT7C6yW/qCQdbCstohnuxnM5BxLqYzY+VYwKBgQDDHcieOE2IDu5DU7U01jyCISb7Ci4OmXuVmorD1yb4GesxPNm24Bq/HBS1e8/EUInTO1TClXEs29d0GUcQCQBTNwLdYuDU/OBGVCeprJWwn23r/TZvhXW1mpIeGCSGnLrzf/0YUb8L8Szq4bPQ7WWVrh8e+9RNyMuWZl9HoJoGXwKBgA6eMIZAZ9e1jNWLUf1EZxL4htbgpMgocpOM5qGBZRtye6mLZRKt11/VxfXt1Zwpi6DXZ6DjV8gZ8Hukhr+E3DZcOmQmkNGUBs0wn4JwUkJJ7kmBOWd53OvHlfUDdnNxniA9R2/J4fufzI3ACGEDgRnT7sZ2U9Fx+YjUgKyWqWkNAoGBAKiXr6WnGLcbz5y1U7oX86itZLU+EpXi4Ppf0s9ttOpj2ulsnuJ5uiKv7OTz2o7S2ISAm7iW0HfmbcCPpuugG3vL6NnKemMPLesXBD6ENcOrvptO7B5ov1DwApmmWslF2/RS/ypoWB/FgP5jj7BTsJcpIRLwnn2npuKKCoIlr3EZAoGBAMNxpNy9SGzxlGW3fvQKPo5pfvozl2sya+JJKVmLXL/iPmmY7zuHChEuqec3+7QcimecBOObTPOluSBUsutupaRjslWkCIeloFW372VRi+APIoLfeMgAg6jqqBGdq5/r6cuOeNPgLfaLbQANNM4fYv8+cLc7F6DyggGE5Cg+qFez',
  rsaSig: 'VLr3Y4ms4fbE+T8YYSIm6tY8UW8qeX8eg6ke5dkrpiDe7VckqQS6n1mC4cRoez9eIeGUCYFeQJWuY4hMIbWVKKMCzdAPXpRNZVCmR7iXIhRrXl+rE0LalUeM+8GgfKzPmuIRDnlKmMvfoFEgUQfh1MbY3hjRKN6MnGuTEyDToPhC0foJXcY28yE92YoD8TLRPxrS/UNCWSnXTg5FzUFdTfDaILYvvpy8kr3l2M4duz+KkHmlfGOOaX55uFmK/bR2HMGPjeFOYAq7Wot7Lxwdxwx1WvPaBxZGDoDgWyFpeACRcwZYBWUOMb4hhNyIw0SFVVm/9VhCXOsVVLlvnRrkkw==',
  ecSpki: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwuL8g2eGipd4n8loVCXmfYkzuSsuV/YWKNpYtgM2L5YNWi+e1d9ULr6UI+yAIb0obcjt2WMoxCQjSmhy+1Wupw==',
  ecSig: 'IikZKVEqUjIxbWQAWgwEJ5qTqC4+LtHc0S92a03D0uJP+L6vUxD1XRO9HvUgZdm1HrclnxwkaXCht+Sm6kgz2w==',
  edSpki: 'MCowBQYDK2VwAyEAFQiUuOiimJUdpef4v2NP1BoEOa7Ye2Feafn/HDBNX1E=',
  rsa1024Pkcs8: 'MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALcwQxSjUd308qk1RlwmzlTOydcio+iK8a4g9z9u76qb9CJ+OhrCX8E1VAMHHzBNsuk1NYwBsfebYIY3WQ7AbGumWAIx+RgAJ3HFU5RslAhllDtal5c6k+QxH7BGR2eoAHExyzY9egfP5Q/pWHNOBOXnQ8/1bt+p0XoWpejJame/AgMBAAECgYBkzCSNDZS1eduwKYVOnXe5CJPdUc043oM/WhpSCBvOF8QM2sHkCYIg0NQqWlfZ/1brpYCSSjh/0zoYgAn76Pt+jcHuYJ1BlUW+1TaLq9+QL4IhtnTCKonVXwnWHydIfEVXn/2On0t/RodrJ45LfISAKq9aU8WvOZFdqkcNPN2zuQJBAORHrDBRJdRlV6z1LQ/JNgwREn/6RAcQvlOlsw5YqyMwsKt3btbmY9bNMVHJCDL5/7RiAAJm0gsu359pekfQoosCQQDNbt+cd+QRgrTVjK0oXSeWe+5f6SG2Hwe6/qt6z2WCLdKeL5yhOK0J0iMwzg91M3Vg+tYji+eLpeVMupCC7bodAkEArOA2XzTlAC9rMVlPMdhALO005GRD5lHgwPoIWsH9gJ3b/U5qSyaYz0//nJ8wrWI0KofY1/jD8qIhydiYORCgNwJAf1cq5SKsDO6oiXcaHtsfnvhTWsB4VRwG/rK+OPI2Set9kvCQdp9bI6tOhQI2MsAjEmpqMr6WWMoMyPMcgQw7QQJAYjE5akDVNdU+WbV5LYgAse41VM77T+fi4zWEvS0fmUk0j4c+35iHRZzC99+Q6D3B6ouqvu4AOk4TkO6vZzuHBg==',
  edSig: 'twS9Jfhn+iDsH6wS5EyB3fGlWl9mEglbaQpLoOvGb1s5Lh4Li1Df3YDDRYD5vWLJJuzcKBfXvkjbR+j2kxjqBA==',
};
test('AES-CBC, AES-CTR and AES-KW: NIST and RFC 3394 known answers', async () => {
  const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
  const key = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
  const plain = fromHex('6bc1bee22e409f96e93d7e117393172a');
  const cbc = await crypto.subtle.importKey('raw', key, 'AES-CBC', false, ['encrypt', 'decrypt']);
  const iv = fromHex('000102030405060708090a0b0c0d0e0f');
  const sealed = await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, cbc, plain);
  assertEquals(hex(sealed).slice(0, 32), '7649abac8119b246cee98e9b12e9197d');
  assertEquals(sealed.byteLength, 32); // one block of PKCS#7 padding
  assertEquals(hex(await crypto.subtle.decrypt({ name: 'AES-CBC', iv }, cbc, sealed)), hex(plain));
  const badPad = await assertRejects(() => crypto.subtle.decrypt({ name: 'AES-CBC', iv }, cbc, sealed.slice(0, 16)), DOMException);
  assertEquals(badPad.name, 'OperationError');
  const ctr = await crypto.subtle.importKey('raw', key, 'AES-CTR', false, ['encrypt', 'decrypt']);
  const counter = fromHex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
  assertEquals(hex(await crypto.subtle.encrypt({ name: 'AES-CTR', counter, length: 64 }, ctr, plain)), '874d6191b620e3261bef6864990db6ce');
  const kek = await crypto.subtle.importKey('raw', fromHex('000102030405060708090a0b0c0d0e0f'), 'AES-KW', true, ['wrapKey', 'unwrapKey']);
  const secret = await crypto.subtle.importKey('raw', fromHex('00112233445566778899aabbccddeeff'), 'AES-GCM', true, ['encrypt']);
  const wrapped = await crypto.subtle.wrapKey('raw', secret, kek, 'AES-KW');
  assertEquals(hex(wrapped), '1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
  const unwrapped = await crypto.subtle.unwrapKey('raw', wrapped, kek, 'AES-KW', 'AES-GCM', true, ['encrypt']);
  assertEquals(hex(await crypto.subtle.exportKey('raw', unwrapped)), '00112233445566778899aabbccddeeff');
  const jwkWrapped = await crypto.subtle.wrapKey('jwk', secret, cbc, { name: 'AES-CBC', iv }).catch((e) => e);
  assertEquals(jwkWrapped.name, 'InvalidAccessError'); // cbc was imported without wrapKey
});
test('ECDSA: verifies OpenSSL, signs and round-trips jwk/spki/pkcs8/raw', async () => {
  const data = text('abc');
  const openssl = await crypto.subtle.importKey('spki', b64(OPENSSL.ecSpki), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  assert(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, openssl, b64(OPENSSL.ecSig), data));
  assert(!await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, openssl, b64(OPENSSL.ecSig), text('abd')));
  assertEquals((await crypto.subtle.exportKey('raw', openssl)).byteLength, 65);
  for (const [namedCurve, hash, size] of [['P-256', 'SHA-256', 64], ['P-384', 'SHA-384', 96], ['P-521', 'SHA-512', 132]]) {
    const { publicKey, privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify']);
    assertEquals([publicKey.type, privateKey.type, publicKey.usages, privateKey.usages], ['public', 'private', ['verify'], ['sign']]);
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash }, privateKey, data);
    assertEquals(sig.byteLength, size);
    assert(await crypto.subtle.verify({ name: 'ECDSA', hash }, publicKey, sig, data));
    const jwk = await crypto.subtle.exportKey('jwk', privateKey);
    assertEquals([jwk.kty, jwk.crv, typeof jwk.d, typeof jwk.x, typeof jwk.y], ['EC', namedCurve, 'string', 'string', 'string']);
    const again = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve }, true, ['sign']);
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', again);
    assertEquals(hex(pkcs8), hex(await crypto.subtle.exportKey('pkcs8', privateKey)));
    assert(await crypto.subtle.verify({ name: 'ECDSA', hash }, publicKey, await crypto.subtle.sign({ name: 'ECDSA', hash }, again, data), data));
  }
  const wrongCurve = await assertRejects(() => crypto.subtle.importKey('spki', b64(OPENSSL.ecSpki), { name: 'ECDSA', namedCurve: 'P-384' }, true, ['verify']), DOMException);
  assertEquals(wrongCurve.name, 'DataError');
  const privateUsage = await assertRejects(() => crypto.subtle.importKey('spki', b64(OPENSSL.ecSpki), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']), DOMException);
  assertEquals(privateUsage.name, 'SyntaxError');
});
test('ECDH and X25519: both sides derive the same secret', async () => {
  for (const algorithm of [{ name: 'ECDH', namedCurve: 'P-384' }, { name: 'X25519' }]) {
    const a = await crypto.subtle.generateKey(algorithm, true, ['deriveBits', 'deriveKey']);
    const b = await crypto.subtle.generateKey(algorithm, true, ['deriveBits']);
    const ab = await crypto.subtle.deriveBits({ name: algorithm.name, public: b.publicKey }, a.privateKey, null);
    const ba = await crypto.subtle.deriveBits({ name: algorithm.name, public: a.publicKey }, b.privateKey, null);
    assertEquals(hex(ab), hex(ba));
    assertEquals(ab.byteLength, algorithm.name === 'X25519' ? 32 : 48);
    const aes = await crypto.subtle.deriveKey({ name: algorithm.name, public: b.publicKey }, a.privateKey, { name: 'AES-GCM', length: 256 }, true, ['encrypt']);
    assertEquals(hex(await crypto.subtle.exportKey('raw', aes)), hex(ab).slice(0, 64));
    const raw = await crypto.subtle.exportKey('raw', a.publicKey);
    const imported = await crypto.subtle.importKey('raw', raw, algorithm, true, []);
    assertEquals(hex(await crypto.subtle.deriveBits({ name: algorithm.name, public: imported }, b.privateKey, 128)), hex(ab).slice(0, 32));
    const notPublic = await assertRejects(() => crypto.subtle.deriveBits({ name: algorithm.name, public: a.privateKey }, b.privateKey, null), DOMException);
    assertEquals(notPublic.name, 'InvalidAccessError');
  }
});
test('Ed25519: verifies OpenSSL and round-trips', async () => {
  const data = text('abc');
  const openssl = await crypto.subtle.importKey('spki', b64(OPENSSL.edSpki), 'Ed25519', true, ['verify']);
  assert(await crypto.subtle.verify('Ed25519', openssl, b64(OPENSSL.edSig), data));
  assert(!await crypto.subtle.verify('Ed25519', openssl, b64(OPENSSL.edSig), text('abd')));
  const { publicKey, privateKey } = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  assertEquals(publicKey.algorithm, { name: 'Ed25519' });
  const sig = await crypto.subtle.sign('Ed25519', privateKey, data);
  assert(await crypto.subtle.verify('Ed25519', publicKey, sig, data));
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  assertEquals([jwk.kty, jwk.crv, jwk.alg], ['OKP', 'Ed25519', 'Ed25519']);
  const again = await crypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
  assertEquals(hex(await crypto.subtle.sign('Ed25519', again, data)), hex(sig)); // deterministic
});
test('RSA: PKCS#1 v1.5 matches OpenSSL; PSS and OAEP round trips; jwk export', async () => {
  const data = text('abc');
  const pkcs1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key = await crypto.subtle.importKey('pkcs8', b64(OPENSSL.rsaPkcs8), pkcs1, true, ['sign']);
  assertEquals([key.algorithm.modulusLength, Array.from(key.algorithm.publicExponent), key.algorithm.hash.name], [2048, [1, 0, 1], 'SHA-256']);
  const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, data);
  assertEquals(hex(sig), hex(b64(OPENSSL.rsaSig)));
  const jwk = await crypto.subtle.exportKey('jwk', key);
  assertEquals([jwk.kty, jwk.alg, ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'].every((m) => typeof jwk[m] === 'string')], ['RSA', 'RS256', true]);
  const publicKey = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e }, pkcs1, true, ['verify']);
  assert(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', publicKey, sig, data));
  const reimported = await crypto.subtle.importKey('jwk', jwk, pkcs1, true, ['sign']);
  assertEquals(hex(await crypto.subtle.exportKey('pkcs8', reimported)), hex(await crypto.subtle.exportKey('pkcs8', key)));

  const pss = await crypto.subtle.importKey('pkcs8', b64(OPENSSL.rsaPkcs8), { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
  const spki = await crypto.subtle.exportKey('spki', publicKey);
  const pssPublic = await crypto.subtle.importKey('spki', spki, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
  for (const saltLength of [32, 0]) {
    const pssSig = await crypto.subtle.sign({ name: 'RSA-PSS', saltLength }, pss, data);
    assert(await crypto.subtle.verify({ name: 'RSA-PSS', saltLength }, pssPublic, pssSig, data));
  }
  const oaep = { name: 'RSA-OAEP', hash: 'SHA-256' };
  const oaepPrivate = await crypto.subtle.importKey('pkcs8', b64(OPENSSL.rsaPkcs8), oaep, false, ['decrypt', 'unwrapKey']);
  const oaepPublic = await crypto.subtle.importKey('spki', spki, oaep, true, ['encrypt', 'wrapKey']);
  const label = text('label');
  const sealed = await crypto.subtle.encrypt({ name: 'RSA-OAEP', label }, oaepPublic, data);
  assertEquals(sealed.byteLength, 256);
  assertEquals(new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'RSA-OAEP', label }, oaepPrivate, sealed)), 'abc');
  assertEquals((await assertRejects(() => crypto.subtle.decrypt({ name: 'RSA-OAEP' }, oaepPrivate, sealed), DOMException)).name, 'OperationError');
  const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  const wrapped = await crypto.subtle.wrapKey('jwk', hmac, oaepPublic, oaep);
  const unwrapped = await crypto.subtle.unwrapKey('jwk', wrapped, oaepPrivate, oaep, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  assertEquals(hex(await crypto.subtle.exportKey('raw', unwrapped)), hex(await crypto.subtle.exportKey('raw', hmac)));
  const generated = await crypto.subtle.generateKey({ ...pkcs1, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, false, ['sign', 'verify']);
  assertEquals(generated.publicKey.algorithm.modulusLength, 2048);
  const badExponent = await assertRejects(() => crypto.subtle.generateKey({ ...pkcs1, modulusLength: 2048, publicExponent: new Uint8Array([3]) }, false, ['sign']), DOMException);
  assertEquals(badExponent.name, 'OperationError');
});
test('RSA keys under 2048 bits: imported and exported, but not used', async () => {
  const pkcs1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key = await crypto.subtle.importKey('pkcs8', b64(OPENSSL.rsa1024Pkcs8), pkcs1, true, ['sign']);
  assertEquals(key.algorithm.modulusLength, 1024);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  const again = await crypto.subtle.importKey('jwk', jwk, pkcs1, true, ['sign']);
  assertEquals(hex(await crypto.subtle.exportKey('pkcs8', again)), hex(b64(OPENSSL.rsa1024Pkcs8)));
  const publicKey = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e }, pkcs1, true, ['verify']);
  assertEquals(publicKey.algorithm.modulusLength, 1024);
  assertEquals((await assertRejects(() => crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, text('abc')), DOMException)).name, 'OperationError');
  const truncated = b64(OPENSSL.rsa1024Pkcs8).slice(0, 100);
  assertEquals((await assertRejects(() => crypto.subtle.importKey('pkcs8', truncated, pkcs1, true, ['sign']), DOMException)).name, 'DataError');
});
