// setTimeout/setInterval and their clears (HTML §8.6), queueMicrotask. The host runs the clock;
// this file keeps the callbacks, so a cleared timer can never fire.
(function (ops, internals) {
  const callbacks = new Map();
  let nextId = 1;
  function fire(id) {
    const timer = callbacks.get(id);
    if (!timer) return;
    if (timer.repeat) ops.timerStart(id, timer.delay);
    else callbacks.delete(id);
    try {
      timer.callback(...timer.args);
    } catch (error) {
      internals.reportError(error);
    }
  }
  ops.timerInit(fire);
  function start(callback, delay, args, repeat) {
    if (typeof callback !== 'function') {
      throw new TypeError('The callback provided as parameter 1 is not a function.');
    }
    delay = Math.max(0, Number(delay) || 0);
    const id = nextId++;
    callbacks.set(id, { callback, delay, args, repeat });
    ops.timerStart(id, delay);
    return id;
  }
  function clear(id) {
    id = Number(id);
    if (callbacks.delete(id)) ops.timerCancel(id);
  }
  internals.defineGlobal('setTimeout', (callback, delay, ...args) => start(callback, delay, args, false));
  internals.defineGlobal('setInterval', (callback, delay, ...args) => start(callback, delay, args, true));
  internals.defineGlobal('clearTimeout', clear);
  internals.defineGlobal('clearInterval', clear);
  internals.defineGlobal('queueMicrotask', (callback) => {
    if (typeof callback !== 'function') {
      throw new TypeError("Failed to execute 'queueMicrotask': parameter 1 is not of type 'Function'.");
    }
    Promise.resolve().then(() => {
      try { callback(); } catch (error) { internals.reportError(error); }
    });
  });
})
