// Cron: two schedules share one handler that tells them apart by controller.cron, recording
// each run in KV; a request shows what ran.
export default {
  async scheduled(controller, env, ctx) {
    const job = controller.cron === '0 3 * * mon' ? 'weekly-report' : 'refresh';
    const runs = JSON.parse((await env.RUNS.get('runs')) ?? '[]');
    runs.push({ job, cron: controller.cron, at: new Date(controller.scheduledTime).toISOString() });
    ctx.waitUntil(env.RUNS.put('runs', JSON.stringify(runs)));
  },
  async fetch(request, env) {
    return new Response((await env.RUNS.get('runs')) ?? '[]', {
      headers: { 'content-type': 'application/json' },
    });
  },
};
