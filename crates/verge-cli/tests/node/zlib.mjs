// node:zlib behaviour that node_compat.rs checks Verge against, as behaviour.mjs does. The
// compressed inputs were made by Node's zlib; what Verge compresses is checked by round trip,
// since two correct compressors may choose different bytes.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';

const BY_NODE = {"gzip":"H4sIAAAAAAAAA8tIzcnJV6jKyUxSyBhljjKxMwGYo0eTJgIAAA==","two":"H4sIAAAAAAAAA8vPS1UAAElhrCMEAAAAH4sIAAAAAAAAAyspzwcAZorKEQMAAAA=","deflate":"eJzLSM3JyVeoyslMUsgYZY4ysTMBoB3I+w==","raw":"y0jNyclXqMrJTFLIGGWOMrEzAQ==","br":"GyUC+AWcY6masyAoDN4fBEYAVTdwemYB"};
const text = 'hello zlib '.repeat(50);

export async function run() {
  const out = {};
  const b = (s) => Buffer.from(s, 'base64');
  out.fromNode = [
    zlib.gunzipSync(b(BY_NODE.gzip)).toString() === text,
    zlib.gunzipSync(b(BY_NODE.two)).toString(),
    zlib.inflateSync(b(BY_NODE.deflate)).toString() === text,
    zlib.inflateRawSync(b(BY_NODE.raw)).toString() === text,
    zlib.brotliDecompressSync(b(BY_NODE.br)).toString() === text,
    zlib.unzipSync(b(BY_NODE.gzip)).length,
    zlib.unzipSync(b(BY_NODE.deflate)).length,
  ];
  out.roundTrips = [
    zlib.gunzipSync(zlib.gzipSync(text)).toString() === text,
    zlib.inflateSync(zlib.deflateSync(text, { level: 9 })).toString() === text,
    zlib.inflateRawSync(zlib.deflateRawSync(Buffer.from(text))).toString() === text,
    zlib.brotliDecompressSync(zlib.brotliCompressSync(text, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })).toString() === text,
    zlib.gzipSync(text).subarray(0, 3).toString('hex'),
    zlib.gzipSync(text).length < text.length,
    zlib.deflateSync('', { level: 0 }).length > 0,
  ];
  out.callback = await promisify(zlib.gzip)(text).then((gz) => promisify(zlib.gunzip)(gz)).then((plain) => plain.length);
  const errors = [];
  for (const bad of [() => zlib.gunzipSync(Buffer.from('not gzip at all')), () => zlib.inflateSync(Buffer.from('nope')), () => zlib.gunzipSync(b(BY_NODE.gzip).subarray(0, 20))]) {
    try { bad(); errors.push('ok'); } catch (error) { errors.push([error.code, error.errno, error.message]); }
  }
  out.errors = errors;
  try { zlib.gunzipSync(zlib.gzipSync(text), { maxOutputLength: 100 }); } catch (error) { out.maxOutput = [error.code, error.name]; }
  const gzipped = [];
  await pipeline(Readable.from([Buffer.from(text.slice(0, 100)), Buffer.from(text.slice(100))]), zlib.createGzip(), new Writable({ write(chunk, e, cb) { gzipped.push(chunk); cb(); } }));
  const plain = [];
  await pipeline(Readable.from([Buffer.concat(gzipped)]), zlib.createGunzip(), new Writable({ write(chunk, e, cb) { plain.push(chunk); cb(); } }));
  out.streams = Buffer.concat(plain).toString() === text;
  const brotli = zlib.createBrotliCompress();
  const compressed = [];
  brotli.on('data', (chunk) => compressed.push(chunk));
  const ended = new Promise((resolve) => brotli.on('end', resolve));
  brotli.end(text);
  await ended;
  out.brotliStream = zlib.brotliDecompressSync(Buffer.concat(compressed)).toString() === text;
  out.crc32 = [zlib.crc32('hello'), zlib.crc32(Buffer.from(' world'), zlib.crc32('hello')), zlib.crc32('hello world')];
  out.constants = [zlib.constants.Z_BEST_COMPRESSION, zlib.constants.BROTLI_PARAM_QUALITY, zlib.codes.Z_DATA_ERROR, zlib.codes['-3']];
  const streamError = await new Promise((resolve) => {
    const gunzip = zlib.createGunzip();
    gunzip.on('error', (error) => resolve(error.code));
    gunzip.end(Buffer.from('definitely not gzip'));
  });
  out.streamError = streamError;
  return out;
}
