// node:crypto behaviour that node_compat.rs checks Verge against, as behaviour.mjs does: keys
// in PEM (PKCS#1, SEC 1, PKCS#8), DER and JWK, signatures, OAEP, AES and key derivation.
// The keys are test keys made by Node for this file.
import crypto from 'node:crypto';

const KEYS = {
  "rsaPkcs1": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAkjM8WJFbNu0y3qDsBQdDbQekVkpS8WKxm1MtvC33unU/kNYA\ncgNWQT20IYGQuYRlQjykljP+G6QND8exj4Auk0l9j+4sEsi7RIHq7e/7dLwvDTLJ\nX/qnLgfjVqUkKRP/n2DxQvmT0MmclG26XlK5ZvN0ANlGZi5H9Kk0ce3zgGX4zjvQ\nWwk5xMGF1vPhV870LZLl9ezK5mvcTs4G0Gtt0fvb3meJeqJLerOc/l+BSGUd+M2z\nXCkkjctiRjFAeGc/LbKLAQmD8LAwb4G9eZkedw0ZEOc9Gu9bgXdligHrs4v8YPiV\nl3nA3KDGK3zAz6BUZ0HDx5WDomhJR25tfjzm3wIDAQABAoIBADrHiLKfNkoeEb66\nekoHQo+aa/MZjMFqCbhGN/QZkykPLNBhiepM9yfh1ANIoVRFK6T21sFhBAA+89Vt\nVzE3uwISoP32JxgiRlBj331sZ+/mHRC0Y4xILWDvYPKcEK7HUJXWlwlzaH+gH2j5\nuN1law8+QFx6/rfkUZ/HS8OmhKkROuZzBOeT0H44sitYXZYg6NB+NyWwr6vBHnV0\nCmNAGQEkjQ+2q92AY5SOKA3bsHmPnzJiN8+odFrAYxj1W4y8ZZ4P7JwBhSyoAdzn\n0od7WbQKzijSyYTFGY440JA2DedKI8Um09bnjfvpdGfqX6PxvqHj+hraPwWFM0ps\n9bo6AXECgYEAwyu0W/XvfNqVisPgVMZMFBqRzb8F7VcoFF/vBw/DOIY5s5o86RFp\npBYIra2CB4AKhe63csRDRye75vNsQ9QmS8uuXJVaOVBjns5ybHXmk70LsHgDZsVd\nAS5vnxChtp1SFO23I0ICa6yrn8RNDteBW8c4RUiYjoEQPNni1COV26cCgYEAv8RD\nUJOws042gkJHqjxHqwq07Tuij3DYygktLGTATP2DHp2wntXcN7EiFS2PhepHweeL\nHvzhdqcZotpyAnDllxavWMC3MsgzKriLu2OcxGK72gW56RcGhVA4C4//bYMyjvTZ\nHACdYXQq5PbHALFZCVvz9s7FNbkGHhhCFBxUIgkCgYEAqp6xfNdityasJvSYT+RP\nLCASKOj/OH7CNhWr8+NuyiJlnUKQTzx+uwjcK2EM1Ju2F2Iak8VJ/5GX7g4OLrnv\nhMGaO6wBhStm+7UFSRZFLhDNgEdayeRuKxM6V7eFeAzObidmu/cAALuiCfjlWL1D\nhEWERuVxINtpo5jjeItnfe8CgYEAtT0VbasX3m72H2fq+V5dUa8dzfSFr9G0YkYH\n9qQGBv22FZJtYcC3j78OejuEIMmKJh3io1fW8t/836hbBimTI5eiA1yoCAukKCUg\nkusTN5wk9GpjCYPkesyVG4BtpR/RAcExDEEcfQVgoOMGs4Xpo2nPihxj0GFdAcZl\ndUJM1ZkCgYEAm1hDimXvBRYmELzrqQjE1SIu13U4S5kB9hJi8GEyIyYxlC4Ip8rp\ncNHK8kALl/NdNP3HIXIl2NGXUsTdXQJvWcjQc3RdRez73DcZL/nq2cf4pvaKGlR1\niD9UpM4f6b5LIySYQs6ZLe+M1CnjemYWCoyzlowSvPYlrYEAEvL7t/I=\n-----END RSA PRIVATE KEY-----\n",
  "ecSec1": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIGOsdAOA9lur2qPCwqZU6m935uTbTeaTktJwZ9fN3rteoAoGCCqGSM49\nAwEHoUQDQgAErdLFjnCIxHuc+hs4gx07RVJ/GP5S1OpsurALUEQOchiS8RihwvPf\ne+sqoyjmIV9po1LCMr3ocqsWudvogn/jkQ==\n-----END EC PRIVATE KEY-----\n",
  "edPkcs8": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFEYgFeu5WctyFcVAJc7WbUG2VcVRod0MWfW5xW6ryWu\n-----END PRIVATE KEY-----\n",
  "ecSignature": "MEUCIQDc/ymPr03yogMr2G3OMlo2LDb5cLKNAXOWyUK9gx8ODwIgA9qzSUsjCV63r5rlPiRn2dNarJHli9P7grmzpYNH+Oo="
};

export async function run() {
  const out = {};
  const data = Buffer.from('the data to sign');
  const rsa = crypto.createPrivateKey(KEYS.rsaPkcs1);
  out.rsa = [rsa.type, rsa.asymmetricKeyType, rsa.asymmetricKeyDetails.modulusLength, String(rsa.asymmetricKeyDetails.publicExponent)];
  const rsaPublic = crypto.createPublicKey(KEYS.rsaPkcs1);
  out.rsaPublic = [rsaPublic.type, rsaPublic.export({ type: 'spki', format: 'pem' }), rsaPublic.export({ format: 'jwk' })];
  out.rsaExports = [rsa.export({ type: 'pkcs1', format: 'pem' }) === KEYS.rsaPkcs1, rsa.export({ type: 'pkcs8', format: 'der' }).toString('base64')];
  const signature = crypto.createSign('RSA-SHA256').update('the data ').update('to sign').sign(rsa, 'base64');
  out.rsaSignature = signature;
  out.rsaVerify = [
    crypto.createVerify('RSA-SHA256').update(data).verify(rsaPublic, signature, 'base64'),
    crypto.createVerify('sha256').update('other data').verify(KEYS.rsaPkcs1, signature, 'base64'),
    crypto.verify('sha256', data, rsaPublic, Buffer.from(signature, 'base64')),
  ];
  const pss = { key: rsa, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST };
  const pssSignature = crypto.sign('sha256', data, pss);
  out.pss = crypto.verify('sha256', data, { ...pss, key: rsaPublic }, pssSignature);
  const sealed = crypto.publicEncrypt(rsaPublic, Buffer.from('secret message'));
  out.oaep = [sealed.length, crypto.privateDecrypt(rsa, sealed).toString()];
  const fromJwk = crypto.createPublicKey({ key: rsaPublic.export({ format: 'jwk' }), format: 'jwk' });
  out.jwkRoundTrip = fromJwk.equals(rsaPublic);

  const ec = crypto.createPrivateKey(KEYS.ecSec1);
  const ecPublic = crypto.createPublicKey(ec);
  out.ec = [ec.asymmetricKeyType, ec.asymmetricKeyDetails.namedCurve, ecPublic.export({ format: 'jwk' })];
  out.ecNodeSignature = crypto.verify('sha256', Buffer.from('signed by node'), ecPublic, Buffer.from(KEYS.ecSignature, 'base64'));
  const ecSignature = crypto.createSign('sha256').update(data).sign(ec);
  const p1363 = crypto.sign('sha256', data, { key: ec, dsaEncoding: 'ieee-p1363' });
  out.ecRoundTrip = [ecSignature[0], crypto.createVerify('sha256').update(data).verify(ecPublic, ecSignature), p1363.length, crypto.verify('sha256', data, { key: ecPublic, dsaEncoding: 'ieee-p1363' }, p1363)];

  const ed = crypto.createPrivateKey(KEYS.edPkcs8);
  const edSignature = crypto.sign(null, data, ed);
  out.ed25519 = [ed.asymmetricKeyType, edSignature.toString('hex'), crypto.verify(null, data, crypto.createPublicKey(ed), edSignature)];

  const secret = crypto.createSecretKey(Buffer.from('a secret'));
  out.secret = [secret.type, secret.symmetricKeySize, crypto.createHmac('sha256', secret).update(data).digest('hex'), secret.export().toString()];
  out.derived = [
    crypto.pbkdf2Sync('password', 'salt', 1000, 32, 'sha256').toString('hex'),
    crypto.scryptSync('password', 'salt', 32, { N: 1024 }).toString('hex'),
    Buffer.from(crypto.hkdfSync('sha256', 'key', 'salt', 'info', 32)).toString('hex'),
    await new Promise((resolve) => crypto.pbkdf2('pw', 'salt', 10, 16, 'sha512', (error, key) => resolve(key.toString('hex')))),
  ];

  const key = Buffer.alloc(32, 7), iv = Buffer.alloc(16, 3), nonce = Buffer.alloc(12, 5);
  const plain = 'sixteen byte blk and then some more';
  const cbc = crypto.createCipheriv('aes-256-cbc', key, iv);
  const cbcText = Buffer.concat([cbc.update(plain, 'utf8'), cbc.final()]);
  const uncbc = crypto.createDecipheriv('aes-256-cbc', key, iv);
  const ctr = crypto.createCipheriv('aes-256-ctr', key, iv);
  const gcm = crypto.createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from('aad'));
  const gcmText = Buffer.concat([gcm.update(plain), gcm.final()]);
  const tag = gcm.getAuthTag();
  const ungcm = crypto.createDecipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from('aad'));
  ungcm.setAuthTag(tag);
  const bad = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  bad.setAuthTag(Buffer.alloc(16));
  bad.update(gcmText);
  let badError;
  try { bad.final(); } catch (error) { badError = error.message; }
  const raw = crypto.createCipheriv('aes-128-cbc', key.subarray(0, 16), iv).setAutoPadding(false);
  const rawText = Buffer.concat([raw.update(Buffer.alloc(32, 1)), raw.final()]);
  const unraw = crypto.createDecipheriv('aes-128-cbc', key.subarray(0, 16), iv).setAutoPadding(false);
  out.aes = [
    cbcText.toString('hex'),
    uncbc.update(cbcText, undefined, 'utf8') + uncbc.final('utf8'),
    ctr.update(plain, 'utf8', 'hex') + ctr.final('hex'),
    gcmText.toString('hex'), tag.toString('hex'),
    ungcm.update(gcmText, undefined, 'utf8') + ungcm.final('utf8'),
    badError,
    rawText.toString('hex'),
    Buffer.concat([unraw.update(rawText), unraw.final()]).toString('hex'),
  ];

  const pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384', publicKeyEncoding: { type: 'spki', format: 'pem' } });
  out.generated = [typeof pair.publicKey, pair.publicKey.startsWith('-----BEGIN PUBLIC KEY-----'), pair.privateKey.asymmetricKeyDetails.namedCurve];
  try {
    crypto.createPrivateKey('not a key');
  } catch (error) {
    out.notAKey = error.code;
  }
  try {
    crypto.createPrivateKey(rsaPublic.export({ type: 'spki', format: 'pem' }));
  } catch (error) {
    out.publicAsPrivate = error.code;
  }
  // CTR gives every byte as it comes; CBC whole blocks, decryption holding the last back.
  const key16 = key.subarray(0, 16);
  const ctrParts = crypto.createCipheriv('aes-128-ctr', key16, iv);
  out.ctrParts = [ctrParts.update('abc').toString('hex'), ctrParts.update('defghijklmnopqrstu').toString('hex'), ctrParts.final().length];
  const cbcParts = crypto.createCipheriv('aes-128-cbc', key16, iv);
  const cbcPieces = [cbcParts.update(Buffer.alloc(10, 1)), cbcParts.update(Buffer.alloc(30, 2)), cbcParts.final()];
  const uncbcParts = crypto.createDecipheriv('aes-128-cbc', key16, iv);
  const whole = Buffer.concat(cbcPieces);
  out.cbcParts = [
    cbcPieces.map((piece) => piece.toString('hex')),
    [uncbcParts.update(whole.subarray(0, 16)).length, uncbcParts.update(whole.subarray(16)).length, uncbcParts.final().toString('hex')],
  ];
  out.hash = crypto.hash('sha1', 'abc');
  // Last: Node leaves this failure in OpenSSL's error queue, where later messages pick it up.
  try {
    crypto.scryptSync('password', 'salt', 32, { N: 2 ** 20 });
    out.scryptLimit = 'ran';
  } catch (error) {
    out.scryptLimit = error.code;
  }
  return out;
}
