// Country redirect: visitors go to their country's store, chosen by request.cf.country.
const STORES = {
  US: 'https://store.example.com/us',
  DE: 'https://store.example.com/de',
  FR: 'https://store.example.com/fr',
  JP: 'https://store.example.com/jp',
};

export default {
  fetch(request) {
    const country = request.cf?.country;
    const store = STORES[country];
    if (store) {
      const { pathname, search } = new URL(request.url);
      return Response.redirect(store + pathname + search, 302);
    }
    return new Response(`No store for ${country ?? 'an unknown country'} yet; see https://store.example.com/`, {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  },
};
