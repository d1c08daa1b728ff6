const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
test('setTimeout passes arguments and orders by delay', async () => {
  const order = [];
  setTimeout((a, b) => order.push(a + b), 20, 'x', 'y');
  setTimeout(() => order.push('first'), 5);
  await sleep(40);
  assertEquals(order, ['first', 'xy']);
});
test('clearTimeout and clearInterval', async () => {
  let fired = 0;
  const t = setTimeout(() => fired++, 5);
  clearTimeout(t);
  const i = setInterval(() => { fired += 10; if (fired >= 30) clearInterval(i); }, 2);
  await sleep(60);
  assertEquals(fired, 30);
});
test('microtasks run before timers; a throwing callback does not stop others', async () => {
  const order = [];
  setTimeout(() => order.push('timeout'), 0);
  queueMicrotask(() => order.push('microtask'));
  setTimeout(() => { throw new Error('timer error'); }, 1);
  setTimeout(() => order.push('after error'), 3);
  await sleep(20);
  assertEquals(order, ['microtask', 'timeout', 'after error']);
  assert(takeConsole().some((l) => l.includes('timer error')));
  assertThrows(() => setTimeout('code string'), TypeError);
  assertThrows(() => queueMicrotask(1), TypeError);
});
test('performance.now is monotonic and advances', async () => {
  const a = performance.now();
  await sleep(15);
  const b = performance.now();
  assert(b - a >= 14, `advanced ${b - a}`);
  assert(performance.timeOrigin > 1.6e12);
});
