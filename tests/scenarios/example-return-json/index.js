// Return JSON: an object as a JSON response, by Response.json and by hand.
export default {
  fetch(request) {
    const data = { hello: 'world', unicode: 'ünïcødé ✓', nested: { list: [1, 2.5, null, true] } };
    if (new URL(request.url).pathname === '/manual') {
      return new Response(JSON.stringify(data, null, 2), {
        headers: { 'content-type': 'application/json;charset=UTF-8' },
      });
    }
    return Response.json(data, { headers: { 'cache-control': 'max-age=60' } });
  },
};
