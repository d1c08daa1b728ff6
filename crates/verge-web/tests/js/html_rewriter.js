// HTMLRewriter: selectors, every content handler, mutations, async handlers, errors.

function html(body, chunks) {
  // A response whose body arrives in the given pieces, so tokens straddle chunk boundaries.
  const parts = chunks ?? [body];
  const stream = new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/html; charset=utf-8' } });
}

test('element handlers rewrite attributes and content', async () => {
  const seen = [];
  const out = await new HTMLRewriter()
    .on('a[href]', {
      element(el) {
        seen.push([el.tagName, el.getAttribute('href'), el.hasAttribute('title'), [...el.attributes]]);
        el.setAttribute('href', el.getAttribute('href').replace('http://old.test', 'https://new.test'));
        el.removeAttribute('class');
      },
    })
    .on('div.banner', { element(el) { el.setInnerContent('<b>hi</b>', { html: true }); } })
    .on('p', { element(el) { el.before('<hr>', { html: true }).after('<x>'); } })
    .on('span', { element(el) { el.prepend('[').append(']'); } })
    .on('i', { element(el) { el.replace('<em>I</em>', { html: true }); } })
    .on('del', { element(el) { el.remove(); } })
    .on('u', { element(el) { el.removeAndKeepContent(); } })
    .transform(html('<a href="http://old.test/x" class="c">L</a><div class="banner">old</div>' +
      '<p>p</p><span>s</span><i>i</i><del>gone</del><u>kept</u>'))
    .text();
  assertEquals(out, '<a href="https://new.test/x">L</a><div class="banner"><b>hi</b></div>' +
    '<hr><p>p</p>&lt;x&gt;<span>[s]</span><em>I</em>kept');
  assertEquals(seen, [['a', 'http://old.test/x', false, [['href', 'http://old.test/x'], ['class', 'c']]]]);
});

test('tags split across chunks and text chunks with lastInTextNode', async () => {
  const texts = [];
  const out = await new HTMLRewriter()
    .on('title', { text(t) { texts.push([t.text, t.lastInTextNode]); if (t.text) t.replace(t.text.toUpperCase()); } })
    .on('img', { element(el) { el.setAttribute('alt', 'x'); } })
    .transform(html(null, ['<head><ti', 'tle>hel', 'lo</title></head><im', 'g src=a>']))
    .text();
  assertEquals(out, '<head><title>HELLO</title></head><img src=a alt="x">');
  assertEquals(texts.map(([, last]) => last).at(-1), true);
  assertEquals(texts.map(([text]) => text).join(''), 'hello');
});

test('document handlers: doctype, comments, text, end', async () => {
  const seen = [];
  const out = await new HTMLRewriter()
    .onDocument({
      doctype(d) { seen.push(['doctype', d.name, d.publicId, d.systemId]); },
      comments(c) { seen.push(['comment', c.text]); c.text = ' changed '; },
      text(t) { if (t.text.includes('body')) t.after('!'); },
      end(end) { end.append('<!-- end -->', { html: true }); },
    })
    .transform(html('<!DOCTYPE html><!-- note --><p>body</p>'))
    .text();
  assertEquals(seen, [['doctype', 'html', null, null], ['comment', ' note ']]);
  assertEquals(out, '<!DOCTYPE html><!-- changed --><p>body!</p><!-- end -->');
});

test('async handlers are awaited, in document order, with this bound', async () => {
  const order = [];
  const handler = {
    prefix: 'n',
    async element(el) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push(el.getAttribute('id'));
      el.setAttribute('data-x', `${this.prefix}${order.length}`);
    },
  };
  const out = await new HTMLRewriter().on('li', handler)
    .transform(html('<li id=a></li><li id=b></li>')).text();
  assertEquals(order, ['a', 'b']);
  assertEquals(out, '<li id=a data-x="n1"></li><li id=b data-x="n2"></li>');
});

test('onEndTag handlers see and change the end tag', async () => {
  const out = await new HTMLRewriter()
    .on('section', {
      element(el) {
        el.onEndTag((end) => { end.before('<footer>f</footer>', { html: true }); end.name = 'div'; });
        el.tagName = 'div';
      },
    })
    .transform(html('<section>x</section>'))
    .text();
  assertEquals(out, '<div>x<footer>f</footer></div>');
});

test('tokens are only valid inside their handler', async () => {
  let kept;
  await new HTMLRewriter().on('b', { element(el) { kept = el; } }).transform(html('<b></b>')).text();
  assertThrows(() => kept.setAttribute('a', 'b'), TypeError);
});

test('a throwing handler errors the body with its own error', async () => {
  const response = new HTMLRewriter()
    .on('b', { element() { throw new RangeError('handler broke'); } })
    .transform(html('<b></b>'));
  let caught;
  try { await response.text(); } catch (e) { caught = e; }
  assert(caught instanceof RangeError, String(caught));
  assertEquals(caught.message, 'handler broke');
});

test('bad selectors and arguments are TypeErrors; status and headers carry over', async () => {
  assertThrows(() => new HTMLRewriter().on('a[', {}), TypeError);
  assertThrows(() => new HTMLRewriter().on('a', { element: 5 }), TypeError);
  assertThrows(() => new HTMLRewriter().transform('not a response'), TypeError);
  const source = new Response('<p>x</p>', {
    status: 201, headers: { 'content-type': 'text/html', 'content-length': '8', 'x-a': 'b' },
  });
  const out = new HTMLRewriter().on('p', { element(el) { el.append('y'); } }).transform(source);
  assertEquals([out.status, out.headers.get('x-a'), out.headers.get('content-length')], [201, 'b', null]);
  assertEquals(await out.text(), '<p>xy</p>');
  const empty = new HTMLRewriter().transform(new Response(null, { status: 204 }));
  assertEquals([empty.status, empty.body], [204, null]);
});

test('non-UTF-8 charsets are rewritten in their own encoding', async () => {
  const bytes = new Uint8Array([0x3c, 0x70, 0x3e, 0xe9, 0x3c, 0x2f, 0x70, 0x3e]); // <p>é</p> in latin1
  const source = new Response(bytes, { headers: { 'content-type': 'text/html; charset=iso-8859-1' } });
  const texts = [];
  const out = await new HTMLRewriter()
    .on('p', { text(t) { texts.push(t.text); }, element(el) { el.append('è'); } })
    .transform(source).arrayBuffer();
  assertEquals(texts.join(''), 'é');
  assertEquals([...new Uint8Array(out)], [0x3c, 0x70, 0x3e, 0xe9, 0xe8, 0x3c, 0x2f, 0x70, 0x3e]);
  const utf16 = new Response('x', { headers: { 'content-type': 'text/html; charset=utf-16' } });
  assertThrows(() => new HTMLRewriter().transform(utf16), TypeError);
});

test('cancelling the body mid-handler drops the rewriter cleanly', async () => {
  let release;
  const blocked = new Promise((resolve) => { release = resolve; });
  const response = new HTMLRewriter()
    .on('b', { async element(el) { await blocked; el.setAttribute('late', '1'); } })
    .transform(html(null, ['<p>start</p><b>', 'x</b>']));
  const reader = response.body.getReader();
  const first = await reader.read();
  assertEquals(new TextDecoder().decode(first.value), '<p>start</p>');
  await reader.cancel('client went away');
  release();
  await new Promise((resolve) => setTimeout(resolve, 1));
  const again = await new HTMLRewriter().on('b', { element(el) { el.setAttribute('ok', '1'); } })
    .transform(html('<b></b>')).text();
  assertEquals(again, '<b ok="1"></b>');
});
