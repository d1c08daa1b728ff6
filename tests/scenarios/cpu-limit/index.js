// Endless loops, before and after an await: each stops at the CPU limit with Workers' 1102,
// and the isolate goes on serving.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/sync-loop') for (;;);
    if (pathname === '/after-await') {
      await null;
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (;;);
    }
    if (pathname === '/regex') return new Response(String(/^(a+)+$/.test('a'.repeat(40) + 'b')));
    return new Response('still serving');
  },
};
