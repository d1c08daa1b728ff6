// Serves a worker module under Bun.serve: bun bun_main.js MODULE PORT [ORIGIN]
const [module, port, origin] = process.argv.slice(2);
const worker = (await import(require('path').resolve(module))).default;
const env = { ORIGIN: origin };
const ctx = { waitUntil() {}, passThroughOnException() {} };
Bun.serve({ hostname: '127.0.0.1', port: Number(port), fetch: (request) => worker.fetch(request, env, ctx) });
