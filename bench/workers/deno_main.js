// Serves a worker module under Deno.serve: deno run --allow-net --allow-read deno_main.js MODULE PORT [ORIGIN]
const [module, port, origin] = Deno.args;
const worker = (await import(new URL(module, `file://${Deno.cwd()}/`).href)).default;
const env = { ORIGIN: origin };
const ctx = { waitUntil() {}, passThroughOnException() {} };
Deno.serve({ hostname: '127.0.0.1', port: Number(port), onListen() {} }, (request) => worker.fetch(request, env, ctx));
