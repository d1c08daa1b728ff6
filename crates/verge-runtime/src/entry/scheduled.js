// A cron trigger's side of the entry points (fetch_event.js has the rest): the
// ScheduledController handed to `scheduled(controller, env, ctx)`, and the dispatch of one
// firing. Loaded on the first firing; a worker that only serves requests never needs it.
(function (ops, internals) {
  // What a cron trigger hands `scheduled(controller, env, ctx)`.
  class ScheduledController {
    #cron; #scheduledTime;
    constructor(cron, scheduledTime) { this.#cron = cron; this.#scheduledTime = scheduledTime; }
    get cron() { return this.#cron; }
    get scheduledTime() { return this.#scheduledTime; }
    get type() { return 'scheduled'; }
    // A failed run is not retried here anyway: there is nothing to opt out of.
    noRetry() {}
  }
  internals.defineGlobal('ScheduledController', ScheduledController);

  // Runs the scheduled handler for one cron trigger firing at `scheduledTime` (ms). Returns a
  // promise that never rejects, of `{ error }`. As on Workers, the event lasts until its
  // `ctx.waitUntil` work is done too, and fails with the first of that work to reject.
  internals.dispatchScheduled = function (cron, scheduledTime, env) {
    const state = { waitUntil: [], passThrough: false };
    const entry = internals.moduleEntry();
    let result;
    try {
      const controller = new ScheduledController(cron, scheduledTime);
      if (entry) {
        if (typeof entry.scheduled !== 'function') throw new TypeError('The worker has no scheduled() handler: export default { async scheduled(controller, env, ctx) { … } }');
        result = Promise.resolve(entry.scheduled(controller, env, new internals.ExecutionContext(state)));
      } else {
        result = Promise.resolve(internals.dispatchScheduledEvent(controller, state));
      }
    } catch (error) {
      result = Promise.reject(error);
    }
    return internals.eventEnd(result, state).then(() => ({}), (error) => ({ error }));
  };
})
