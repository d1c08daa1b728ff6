// Workers refuse code generation from strings: eval() and the Function constructors (plain,
// async, generator, async generator) throw an EvalError, so a script's code is only what it
// shipped. Each constructor is replaced where scripts reach it — the global and every
// prototype's `constructor` — by one that throws, keeping `instanceof` and the prototypes intact.
(function (ops, internals) {
  const message = 'Code generation from strings disallowed for this context';
  const refuse = () => { throw new EvalError(message); };
  const blockedEval = function () { return refuse(); };
  Object.defineProperty(blockedEval, 'name', { value: 'eval' });
  internals.defineGlobal('eval', blockedEval);
  const constructors = [
    Function,
    (async function () {}).constructor,
    (function* () {}).constructor,
    (async function* () {}).constructor,
  ];
  for (const original of constructors) {
    const blocked = function () { return refuse(); };
    Object.defineProperty(blocked, 'name', { value: original.name });
    Object.defineProperty(blocked, 'prototype', { value: original.prototype });
    Object.defineProperty(original.prototype, 'constructor', {
      value: blocked, writable: true, configurable: true, enumerable: false,
    });
    if (original === Function) internals.defineGlobal('Function', blocked);
  }
})
