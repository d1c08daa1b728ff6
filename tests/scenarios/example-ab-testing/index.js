// A/B testing: a visitor is put in a group once, remembered by a cookie, and served that
// group's page from the origin (here: two inline pages).
const COOKIE = 'ab-group';
const PAGES = {
  control: '<h1>Welcome</h1>',
  test: '<h1>Welcome — try our new checkout</h1>',
};

function groupFromCookie(header) {
  for (const pair of (header ?? '').split(';')) {
    const [name, value] = pair.trim().split('=');
    if (name === COOKIE && value in PAGES) return value;
  }
  return null;
}

export default {
  async fetch(request) {
    const known = groupFromCookie(request.headers.get('cookie'));
    const group = known ?? (crypto.getRandomValues(new Uint8Array(1))[0] < 128 ? 'control' : 'test');
    const response = new Response(PAGES[group], {
      headers: { 'content-type': 'text/html; charset=utf-8', 'x-ab-group': group },
    });
    if (!known) {
      response.headers.append('set-cookie', `${COOKIE}=${group}; Path=/; Max-Age=2592000; HttpOnly`);
    }
    return response;
  },
};
