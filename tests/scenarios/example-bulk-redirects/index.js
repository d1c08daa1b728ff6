// Bulk redirects: a table of old paths to new places; everything else is served as usual.
const REDIRECTS = new Map([
  ['/bulk1', 'https://example.com/redirect2'],
  ['/bulk2', 'https://example.com/redirect3'],
  ['/old-blog', '/blog'],
  ['/docs/v1', 'https://docs.example.com/v2'],
]);

export default {
  fetch(request) {
    const url = new URL(request.url);
    const target = REDIRECTS.get(url.pathname.replace(/\/$/, '') || '/');
    if (target) {
      const location = new URL(target, url);
      location.search = url.search;
      return Response.redirect(location.href, 301);
    }
    return new Response(`page ${url.pathname}`);
  },
};
