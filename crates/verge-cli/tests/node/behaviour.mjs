// Node behaviour that node_compat.rs checks Verge against: the test runs this file under Node
// 22 and as a worker under `verge dev`, and every key of the two results must be equal.
import { Readable, Writable, Transform, PassThrough, Duplex, pipeline, finished } from 'node:stream';
import { pipeline as pipelineP } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import querystring from 'node:querystring';
import url from 'node:url';
import punycode from 'node:punycode';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import dc from 'node:diagnostics_channel';
import dns from 'node:dns';


export async function run() {
  const out = {};
  // Readable.from + async iteration
  const chunks = [];
  for await (const c of Readable.from(['a', 'b', 'c'])) chunks.push(c);
  out.from = chunks;
  // Transform upper + pipeline into a collecting writable
  const got = [];
  await pipelineP(
    Readable.from(['hello ', 'world']),
    new Transform({ transform(chunk, enc, cb) { cb(null, chunk.toString().toUpperCase()); } }),
    new Writable({ write(chunk, enc, cb) { got.push(chunk.toString()); cb(); } }),
  );
  out.pipeline = got.join('');
  // backpressure: small hwm writable
  const order = [];
  const slow = new Writable({ highWaterMark: 2, write(chunk, enc, cb) { order.push('w' + chunk); setTimeout(cb, 1); } });
  out.writeReturns = [slow.write('1'), slow.write('2'), slow.write('3')];
  slow.on('drain', () => order.push('drain'));
  await new Promise((r) => slow.end('4', r));
  out.order = order;
  // paused mode with read(n)
  const r = new Readable({ read() {} });
  r.push('abcdef'); r.push('ghi'); r.push(null);
  await new Promise((res) => r.once('readable', res));
  out.readN = [String(r.read(4)), String(r.read(2)), String(r.read())];
  // encoding and end events
  const r2 = new Readable({ read() {} });
  r2.setEncoding('utf8');
  const euro = Buffer.from('€');
  r2.push(euro.subarray(0, 1)); r2.push(euro.subarray(1)); r2.push(null);
  const parts = [];
  r2.on('data', (d) => parts.push(d));
  await new Promise((res) => r2.on('end', res));
  out.decoded = parts;
  // object mode + pipe + finish
  const objs = [];
  const sink = new Writable({ objectMode: true, write(o, e, cb) { objs.push(o.n); cb(); } });
  Readable.from([{ n: 1 }, { n: 2 }]).pipe(sink);
  await new Promise((res) => sink.on('finish', res));
  out.objects = objs;
  // errors in pipeline
  const err = await new Promise((res) => pipeline(
    Readable.from(['x']),
    new Transform({ transform(c, e, cb) { cb(new Error('boom')); } }),
    new PassThrough(),
    (e) => res(e && e.message)));
  out.pipelineError = err;
  // write after end
  const w = new Writable({ write(c, e, cb) { cb(); } });
  w.end();
  out.afterEnd = await new Promise((res) => { w.on('error', (e) => res(e.code)); w.write('x'); });
  // finished on premature close
  const pr = new Readable({ read() {} });
  out.premature = await new Promise((res) => { finished(pr, (e) => res(e && e.code)); pr.destroy(); });
  // duplex
  const d = new Duplex({ read() {}, write(c, e, cb) { this.push(String(c).split('').reverse().join('')); cb(); }, final(cb) { this.push(null); cb(); } });
  const dout = [];
  d.on('data', (c) => dout.push(String(c)));
  d.write('abc'); d.end('xyz');
  await new Promise((res) => d.on('end', res));
  out.duplex = dout;
  out.instanceofs = [d instanceof Writable, d instanceof Readable, new PassThrough() instanceof Duplex, new Readable() instanceof Writable];
  // async generator stage
  const gen = [];
  await pipelineP(Readable.from([1, 2, 3]), async function* (src) { for await (const x of src) yield x * 10; }, async function (src) { for await (const x of src) gen.push(x); });
  out.generator = gen;
  out.toArray = await Readable.from([1, 2, 3, 4]).filter((x) => x % 2 === 0).map((x) => x * 2).toArray();
  // web bridges
  const web = Readable.toWeb(Readable.from([Buffer.from('we'), Buffer.from('b')]));
  out.toWeb = await new Response(web).text();
  out.fromWeb = (await Readable.fromWeb(new Response('from web').body).toArray()).map(String).join('');
  // string decoder
  const sd = new StringDecoder('utf8');
  out.decoder = [sd.write(Buffer.from([0xe2])), sd.write(Buffer.from([0x82, 0xac])), sd.end(Buffer.from([0xe2]))];
  const b64 = new StringDecoder('base64');
  out.b64 = [b64.write(Buffer.from('ab')), b64.write(Buffer.from('c')), b64.end(Buffer.from('d'))];
  // querystring
  out.qs = [querystring.parse('a=1&b=2&a=3&c=%20x+y&d'), querystring.stringify({ a: [1, 2], b: 'x y', c: true, d: null }), querystring.escape('a b&c/é')];
  // url legacy
  const u = url.parse('https://user:pw@Example.COM:8080/p/a/t/h?query=string&x=1#hash', true);
  out.urlParse = { protocol: u.protocol, auth: u.auth, host: u.host, port: u.port, hostname: u.hostname, hash: u.hash, search: u.search, query: { ...u.query }, pathname: u.pathname, path: u.path, href: u.href, slashes: u.slashes };
  const rel = url.parse('/a b?x=1');
  out.urlRel = { pathname: rel.pathname, search: rel.search, href: rel.href, protocol: rel.protocol };
  out.urlFormat = [url.format({ protocol: 'http', hostname: 'a.com', port: 81, pathname: '/x', query: { q: '1 2' } }), url.resolve('http://a.com/b/c', '../d'), url.resolve('/one/two', 'three')];
  out.fileUrl = [url.fileURLToPath('file:///tmp/a%20b.txt'), url.pathToFileURL('/tmp/x#y.txt').href];
  out.puny = [punycode.encode('mañana'), punycode.decode('maana-pta'), punycode.toASCII('mañana.com'), punycode.toUnicode('xn--maana-pta.com')];
  // timers/promises
  const t0 = Date.now();
  out.sleep = [await sleep(20, 'v'), Date.now() - t0 >= 19];
  const ac = new AbortController();
  const pending = sleep(1000, null, { signal: ac.signal }).catch((e) => [e.name, e.code]);
  ac.abort();
  out.aborted = await pending;
  out.os = [os.EOL, os.platform(), typeof os.cpus().length];
  const ch = dc.channel('verge.test');
  const seen = [];
  ch.subscribe((m, name) => seen.push([m, name]));
  ch.publish({ a: 1 });
  out.dc = [seen, dc.hasSubscribers('verge.test')];
  // An async transform that also calls back; a synchronous read loop on Readable.from.
  const asyncTransform = new Transform({ async transform(chunk, encoding, callback) { callback(null, String(chunk).toUpperCase()); } });
  out.asyncTransform = await new Promise((resolve) => {
    const got = [];
    asyncTransform.on('data', (data) => got.push(String(data)));
    asyncTransform.on('error', (error) => resolve(`error ${error.code}`));
    asyncTransform.on('end', () => resolve(got));
    asyncTransform.write('a');
    asyncTransform.end('b');
  });
  const loop = Readable.from(['x', 'y', 'z']);
  out.readLoop = await new Promise((resolve) => {
    const got = [];
    loop.on('readable', () => {
      let chunk;
      while ((chunk = loop.read()) !== null) got.push(chunk);
    });
    loop.on('end', () => resolve(got));
  });
  // dns.lookup through the system's resolver: the same machine answers both runtimes.
  out.lookup = await new Promise((resolve) => dns.lookup('localhost', { family: 4 }, (error, address, family) => resolve([error, address, family])));
  out.lookupAll = await dns.promises.lookup('127.0.0.1', { all: true });
  out.lookupMissing = await dns.promises.lookup('no-such-host.invalid').then(() => 'found', (error) => [error.code, error.syscall, error.hostname, error.message]);
  return out;
}
