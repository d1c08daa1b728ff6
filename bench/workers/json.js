// A CPU-heavy worker: JSON and strings, what an interpreter pays most for. Each request
// serializes and parses a 200-item catalog, searches it and formats the matches.
const catalog = Array.from({ length: 200 }, (_, i) => ({
  id: i,
  name: `Item ${i}`,
  tags: ['sale', 'new', `group-${i % 7}`],
  price: ((i * 37) % 1000) / 10,
}));

export default {
  fetch(request) {
    const text = JSON.stringify(catalog);
    const items = JSON.parse(text);
    const query = new URL(request.url).searchParams.get('q') ?? 'Item 1';
    const matches = items.filter((item) => item.name.startsWith(query) || item.tags.includes(query));
    const lines = matches.map(
      (item) => `${item.id}\t${item.name.toUpperCase()}\t${item.price.toFixed(2)}\t${item.tags.join(',')}`,
    );
    return Response.json({ count: matches.length, bytes: text.length, table: lines.join('\n').replaceAll('ITEM', 'item') });
  },
};
