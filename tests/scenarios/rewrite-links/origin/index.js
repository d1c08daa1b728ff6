// The origin behind the rewrite-links scenario: HTML sent in small chunks that split tags and
// attributes, a stylesheet, and a stock figure.
const PAGE = '<!DOCTYPE html><html><head><title>Shop</title>' +
  '<script class="tracker" src="http://tracker.test/t.js"></script></head>' +
  '<body><h1>Shop</h1><a href="http://legacy.example.com/docs?x=1">Docs</a> ' +
  '<a href="/relative">Relative</a> <img src="http://legacy.example.com/logo.png"> ' +
  '<a href="https://elsewhere.test/">Elsewhere</a><p>Widgets: <span class="stock">?</span></p>' +
  '</body></html>';

function chunked(text, size) {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

export default {
  fetch(request) {
    const url = new URL(request.url);
    const html = { 'content-type': 'text/html; charset=utf-8' };
    switch (url.pathname) {
      case '/page': return new Response(chunked(PAGE, 7), { headers: html });
      case '/many': {
        const count = Number(url.searchParams.get('n') ?? 100);
        let page = '<html><body><ul>';
        for (let i = 0; i < count; i++) page += `<li><a href="http://legacy.example.com/item/${i}">${i}</a></li>`;
        return new Response(chunked(page + '</ul></body></html>', 1000), { headers: html });
      }
      case '/stock': return new Response('42 in stock');
      case '/style.css':
        return new Response('a { color: red } /* http://legacy.example.com */', { headers: { 'content-type': 'text/css' } });
      default: return new Response('not found', { status: 404 });
    }
  },
};
