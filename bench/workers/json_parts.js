// The json worker's work (bench/workers/json.js) in parts, µs per call, on one engine alone:
// `node bench/workers/json_parts.js` (V8), `jsc bench/workers/json_parts.js` (JavaScriptCore's
// shell, Debian's libjavascriptcoregtk-4.0-bin). Three rounds; the later ones are warm.
const now = typeof performance !== 'undefined' ? () => performance.now() : () => preciseTime() * 1000;
const out = typeof print === 'function' ? print : console.log;
const catalog = Array.from({ length: 200 }, (_, i) => ({
  id: i, name: `Item ${i}`, tags: ['sale', 'new', `group-${i % 7}`], price: ((i * 37) % 1000) / 10,
}));
const query = 'Item 1';
let text = JSON.stringify(catalog), items = JSON.parse(text), lines;
const parts = {
  stringify: () => { text = JSON.stringify(catalog); },
  parse: () => { items = JSON.parse(text); },
  filter_map: () => {
    const matches = items.filter((item) => item.name.startsWith(query) || item.tags.includes(query));
    lines = matches.map((item) => `${item.id}\t${item.name.toUpperCase()}\t${item.price.toFixed(2)}\t${item.tags.join(',')}`);
  },
  answer: () => JSON.stringify({ count: lines.length, bytes: text.length, table: lines.join('\n').replaceAll('ITEM', 'item') }),
};
parts.filter_map();
const all = () => { parts.stringify(); parts.parse(); parts.filter_map(); parts.answer(); };
for (let round = 0; round < 3; round++) {
  const row = [];
  for (const [name, f] of [...Object.entries(parts), ['all', all]]) {
    const n = 2000;
    const t0 = now();
    for (let i = 0; i < n; i++) f();
    row.push(`${name} ${((now() - t0) * 1000 / n).toFixed(1)}`);
  }
  out(row.join('  '));
}
