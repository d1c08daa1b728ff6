// Read POST: a body read by its content type — JSON, text, a urlencoded or multipart form.
async function readBody(request) {
  const type = request.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    return { kind: 'json', value: await request.json() };
  }
  if (type.includes('application/x-www-form-urlencoded') || type.includes('multipart/form-data')) {
    const form = await request.formData();
    const value = {};
    for (const [name, entry] of form) {
      value[name] = typeof entry === 'string' ? entry : { file: entry.name, type: entry.type, size: entry.size, text: await entry.text() };
    }
    return { kind: 'form', value };
  }
  if (type.startsWith('text/')) {
    return { kind: 'text', value: await request.text() };
  }
  return { kind: 'bytes', value: (await request.arrayBuffer()).byteLength };
}

export default {
  async fetch(request) {
    if (request.method !== 'POST') {
      return new Response('Send a POST', { status: 405, headers: { allow: 'POST' } });
    }
    try {
      return Response.json(await readBody(request));
    } catch (error) {
      return Response.json({ error: `${error.name}: ${error.message}` }, { status: 400 });
    }
  },
};
