// node:assert — assertions that throw AssertionError, and node:assert/strict.
(function (ops, internals) {
  const util = internals['node:util'];
  const show = (value) => util.inspect(value);

  class AssertionError extends Error {
    constructor(options = {}) {
      const { message, actual, expected, operator } = options;
      super(message ?? `${show(actual)} ${operator} ${show(expected)}`);
      this.name = 'AssertionError';
      this.code = 'ERR_ASSERTION';
      this.actual = actual;
      this.expected = expected;
      this.operator = operator;
      this.generatedMessage = message === undefined;
    }
  }

  function fail(actual, expected, message, operator, defaultMessage) {
    if (message instanceof Error) throw message;
    throw new AssertionError({ message: message ?? defaultMessage, actual, expected, operator });
  }

  function ok(value, message) {
    if (!value) fail(value, true, message, '==', arguments.length === 0 ? 'No value argument passed to `assert.ok()`' : `The expression evaluated to a falsy value:\n\n  assert.ok(${show(value)})\n`);
  }

  // Whether `error` matches `expected`: a class, a RegExp for its message, a validation
  // function, or an object whose keys it must have equal.
  function matchesExpected(error, expected, message) {
    if (expected === undefined) return;
    if (typeof expected === 'function') {
      if (expected.prototype !== undefined && error instanceof expected) return;
      if (Error.isPrototypeOf?.(expected) || expected === Error) fail(error, expected, message, 'throws', `The error is expected to be an instance of "${expected.name}". Received "${error?.constructor?.name}"`);
      if (expected.call({}, error) === true) return;
      fail(error, expected, message, 'throws', 'The validation function is expected to return "true".');
    }
    if (expected instanceof RegExp) {
      if (expected.test(String(error))) return;
      fail(error, expected, message, 'throws', `The input did not match the regular expression ${expected}. Input:\n\n${show(String(error))}\n`);
    }
    if (typeof expected === 'object' && expected !== null) {
      for (const key of Object.keys(expected)) {
        const want = expected[key], got = error?.[key];
        const same = want instanceof RegExp && typeof got === 'string' ? want.test(got) : internals.isDeepEqual(got, want, true);
        if (!same) fail(error, expected, message, 'throws', `Expected values to be strictly deep-equal: ${key} ${show(got)} !== ${show(want)}`);
      }
    }
  }

  function throws(fn, expected, message) {
    if (typeof expected === 'string') { message = expected; expected = undefined; }
    try {
      fn();
    } catch (error) {
      matchesExpected(error, expected, message);
      return;
    }
    fail(undefined, expected, message, 'throws', 'Missing expected exception.');
  }
  async function rejects(promiseOrFn, expected, message) {
    if (typeof expected === 'string') { message = expected; expected = undefined; }
    try {
      await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
    } catch (error) {
      matchesExpected(error, expected, message);
      return;
    }
    fail(undefined, expected, message, 'rejects', 'Missing expected rejection.');
  }
  function doesNotThrow(fn, expected, message) {
    try { fn(); } catch (error) { fail(error, expected, typeof expected === 'string' ? expected : message, 'doesNotThrow', `Got unwanted exception.\nActual message: "${error?.message}"`); }
  }
  async function doesNotReject(promiseOrFn, expected, message) {
    try { await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn); } catch (error) { fail(error, expected, typeof expected === 'string' ? expected : message, 'doesNotReject', `Got unwanted rejection.\nActual message: "${error?.message}"`); }
  }

  const deep = (strict) => (actual, expected, message) => {
    if (!internals.isDeepEqual(actual, expected, strict)) fail(actual, expected, message, strict ? 'deepStrictEqual' : 'deepEqual', `Expected values to be ${strict ? 'strictly' : 'loosely'} deep-equal:\n\n${show(actual)}\n\nshould equal\n\n${show(expected)}`);
  };
  const notDeep = (strict) => (actual, expected, message) => {
    if (internals.isDeepEqual(actual, expected, strict)) fail(actual, expected, message, strict ? 'notDeepStrictEqual' : 'notDeepEqual', `Expected "actual" not to be ${strict ? 'strictly' : 'loosely'} deep-equal to: ${show(expected)}`);
  };

  const methods = {
    ok,
    fail(message = 'Failed') { if (message instanceof Error) throw message; throw new AssertionError({ message, operator: 'fail' }); },
    equal(actual, expected, message) { if (!(actual == expected || (actual !== actual && expected !== expected))) fail(actual, expected, message, '==', `${show(actual)} == ${show(expected)}`); }, // eslint-disable-line eqeqeq
    notEqual(actual, expected, message) { if (actual == expected) fail(actual, expected, message, '!=', `${show(actual)} != ${show(expected)}`); }, // eslint-disable-line eqeqeq
    strictEqual(actual, expected, message) { if (!Object.is(actual, expected)) fail(actual, expected, message, 'strictEqual', `Expected values to be strictly equal:\n\n${show(actual)} !== ${show(expected)}\n`); },
    notStrictEqual(actual, expected, message) { if (Object.is(actual, expected)) fail(actual, expected, message, 'notStrictEqual', `Expected "actual" to be strictly unequal to: ${show(expected)}`); },
    deepEqual: deep(false),
    deepStrictEqual: deep(true),
    notDeepEqual: notDeep(false),
    notDeepStrictEqual: notDeep(true),
    throws,
    rejects,
    doesNotThrow,
    doesNotReject,
    match(string, regexp, message) { if (!regexp.test(string)) fail(string, regexp, message, 'match', `The input did not match the regular expression ${regexp}. Input:\n\n${show(string)}\n`); },
    doesNotMatch(string, regexp, message) { if (regexp.test(string)) fail(string, regexp, message, 'doesNotMatch', `The input was expected to not match the regular expression ${regexp}. Input:\n\n${show(string)}\n`); },
    ifError(value) { if (value !== null && value !== undefined) { throw value instanceof Error ? value : new AssertionError({ message: `ifError got unwanted exception: ${show(value)}`, actual: value, operator: 'ifError' }); } },
    AssertionError,
  };

  function assert(value, message) { ok(...arguments); }
  function strict(value, message) { ok(...arguments); }
  Object.assign(assert, methods);
  Object.assign(strict, methods, { equal: methods.strictEqual, notEqual: methods.notStrictEqual, deepEqual: methods.deepStrictEqual, notDeepEqual: methods.notDeepStrictEqual });
  assert.strict = strict;
  strict.strict = strict;
  internals['node:assert'] = assert;
  internals['node:assert/strict'] = strict;
})
