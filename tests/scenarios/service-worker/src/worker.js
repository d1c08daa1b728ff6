// Service-worker syntax: vars are globals, handlers are event listeners.
var hits = 0;
addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.pathname === '/wait') {
    event.waitUntil(new Promise((resolve) => setTimeout(() => { console.log('sw background done'); resolve(); }, 20)));
  }
  if (url.pathname === '/sync-throw') throw new TypeError('listener threw');
  if (url.pathname === '/reject') return event.respondWith(Promise.reject(new RangeError('rejected later')));
  hits++;
  event.respondWith(handle(event.request));
});

async function handle(request) {
  const text = request.method === 'POST' ? await request.text() : '';
  return new Response(`${PREFIX} ${EXTRA} ${request.method} ${hits} ${text}`, {
    headers: { 'x-this-is-global': String(typeof globalThis.PREFIX) },
  });
}
