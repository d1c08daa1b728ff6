// Rewrites an origin's HTML on the way through, as Cloudflare's "rewrite links" example does:
// links to the legacy host move to the new one, a banner goes into <body>, trackers go away, and
// a stock figure is filled in by an async handler that makes its own subrequest.
const OLD_ORIGIN = 'http://legacy.example.com';
const NEW_ORIGIN = 'https://www.example.com';

class AttributeRewriter {
  constructor(attribute) {
    this.attribute = attribute;
  }
  element(element) {
    const value = element.getAttribute(this.attribute);
    if (value !== null && value.startsWith(OLD_ORIGIN)) {
      element.setAttribute(this.attribute, NEW_ORIGIN + value.slice(OLD_ORIGIN.length));
    }
  }
}

export default {
  async fetch(request) {
    const response = await fetch(request);
    if (!(response.headers.get('content-type') ?? '').startsWith('text/html')) return response;
    return new HTMLRewriter()
      .on('a[href]', new AttributeRewriter('href'))
      .on('img[src]', new AttributeRewriter('src'))
      .on('body', {
        element(body) {
          body.prepend('<div class="banner">Now at www.example.com</div>', { html: true });
        },
      })
      .on('script.tracker', { element(script) { script.remove(); } })
      .on('span.stock', {
        async element(span) {
          const stock = await fetch(new URL('/stock', request.url));
          span.setInnerContent(await stock.text());
        },
      })
      .onDocument({ end(end) { end.append('<!-- rewritten at the edge -->', { html: true }); } })
      .transform(response);
  },
};
