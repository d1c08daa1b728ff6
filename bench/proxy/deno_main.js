// Serves the same worker module under Deno.serve, with env from the command line.
import worker from './worker.js';
const [port, origin] = Deno.args;
const env = { ORIGIN: origin };
const ctx = { waitUntil() {}, passThroughOnException() {} };
Deno.serve({ hostname: '127.0.0.1', port: Number(port), onListen() {} }, (request) => worker.fetch(request, env, ctx));
