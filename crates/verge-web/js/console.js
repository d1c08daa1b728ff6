// console: log/info/warn/error/debug/trace/assert/table-free subset, with objects printed the way
// Node and wrangler print them (`{ a: 1, b: 'x' }`), printf-style %s %d %i %f %o %O %j %c.
(function (ops, internals) {
  const LEVEL = { debug: 0, log: 1, info: 1, warn: 2, error: 3 };

  function quote(s) { return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'"; }
  const identifier = /^[A-Za-z_$][\w$]*$/;
  const key = (k) => (typeof k === 'symbol' ? `[${k.toString()}]` : identifier.test(k) ? k : quote(k));

  function inspect(value, depth = 2, seen = []) {
    switch (typeof value) {
      case 'string': return seen.length ? quote(value) : value;
      case 'number': return Object.is(value, -0) ? '-0' : String(value);
      case 'bigint': return `${value}n`;
      case 'undefined': return 'undefined';
      case 'boolean': return String(value);
      case 'symbol': return value.toString();
      case 'function': {
        const kind = /^class\s/.test(Function.prototype.toString.call(value)) ? 'class' : 'Function';
        return value.name ? `[${kind}: ${value.name}]` : `[${kind} (anonymous)]`;
      }
    }
    if (value === null) return 'null';
    if (seen.includes(value)) return '[Circular]';
    if (value instanceof Error) {
      const head = value.stack ? `${value.name}: ${value.message}\n${value.stack}`.trimEnd() : `${value.name}: ${value.message}`;
      return seen.length ? `[${head.split('\n')[0]}]` : head;
    }
    if (value instanceof Date) return isNaN(value) ? 'Invalid Date' : value.toISOString();
    if (value instanceof RegExp) return String(value);
    if (value instanceof Promise) return 'Promise { <pending> }';
    if (typeof value.constructor === 'function' && ['URL', 'URLSearchParams'].includes(value.constructor.name)) {
      return `${value.constructor.name} { ${quote(String(value))} }`;
    }
    if (depth < 0) return Array.isArray(value) ? '[Array]' : `[${value.constructor?.name ?? 'Object'}]`;
    const inner = [...seen, value];
    const show = (v) => inspect(v, depth - 1, inner);
    let parts, open = '{', close = '}', prefix = '';
    if (Array.isArray(value)) {
      parts = value.slice(0, 100).map(show);
      if (value.length > 100) parts.push(`... ${value.length - 100} more items`);
      open = '['; close = ']';
    } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      parts = Array.from(value.slice(0, 100), String);
      if (value.length > 100) parts.push(`... ${value.length - 100} more items`);
      prefix = `${value.constructor.name}(${value.length}) `; open = '['; close = ']';
    } else if (value instanceof ArrayBuffer) {
      const bytes = Array.from(new Uint8Array(value.slice(0, 50)), (b) => b.toString(16).padStart(2, '0'));
      return `ArrayBuffer { [Uint8Contents]: <${bytes.join(' ')}${value.byteLength > 50 ? ' ...' : ''}>, byteLength: ${value.byteLength} }`;
    } else if (value instanceof Map) {
      parts = [...value].map(([k, v]) => `${show(k)} => ${show(v)}`);
      prefix = `Map(${value.size}) `;
    } else if (value instanceof Set) {
      parts = [...value].map(show);
      prefix = `Set(${value.size}) `;
    } else if (typeof value.entries === 'function' && typeof value[Symbol.iterator] === 'function' && value.constructor && value.constructor !== Object) {
      // Headers, FormData and their kind print as their entries.
      parts = [...value.entries()].map(([k, v]) => `${quote(String(k))} => ${show(v)}`);
      prefix = `${value.constructor.name}(${parts.length}) `;
    } else {
      const keys = Reflect.ownKeys(value).filter((k) => Object.getOwnPropertyDescriptor(value, k)?.enumerable);
      parts = keys.map((k) => `${key(k)}: ${show(value[k])}`);
      const proto = Object.getPrototypeOf(value);
      const name = proto === null ? '[Object: null prototype]' : proto.constructor?.name;
      if (name && name !== 'Object') prefix = `${name} `;
    }
    if (parts.length === 0) return `${prefix}${open}${close}`;
    const single = `${prefix}${open} ${parts.join(', ')} ${close}`;
    if (single.length <= 72 && !single.includes('\n')) return single;
    return `${prefix}${open}\n${parts.map((p) => '  ' + p.replace(/\n/g, '\n  ')).join(',\n')}\n${close}`;
  }

  function format(args) {
    let out = [];
    let rest = args;
    if (typeof args[0] === 'string' && args[0].includes('%')) {
      let i = 1;
      const text = args[0].replace(/%([sdifoOjc%])/g, (match, spec) => {
        if (spec === '%') return '%';
        if (i >= args.length) return match;
        const arg = args[i++];
        switch (spec) {
          case 's': return typeof arg === 'string' ? arg : inspect(arg, 1, [undefined]).replace(/^'|'$/g, '');
          case 'd': case 'i': {
            if (typeof arg === 'bigint') return `${arg}n`;
            const n = Number(arg);
            return String(spec === 'i' ? Math.trunc(n) : n);
          }
          case 'f': return String(parseFloat(arg));
          case 'j': try { return JSON.stringify(arg); } catch { return '[Circular]'; }
          case 'c': return '';
          default: return inspect(arg, 4, [undefined]);
        }
      });
      out.push(text);
      rest = args.slice(i);
    } else if (args.length) {
      out.push(inspect(args[0]));
      rest = args.slice(1);
    }
    for (const arg of rest) out.push(inspect(arg));
    return out.join(' ');
  }
  internals.inspect = inspect;
  internals.reportError = (error) => ops.print(LEVEL.error, 'Uncaught ' + inspect(error));

  const counts = new Map();
  const timers = new Map();
  const console = {
    log: (...args) => ops.print(LEVEL.log, format(args)),
    info: (...args) => ops.print(LEVEL.info, format(args)),
    debug: (...args) => ops.print(LEVEL.debug, format(args)),
    warn: (...args) => ops.print(LEVEL.warn, format(args)),
    error: (...args) => ops.print(LEVEL.error, format(args)),
    trace: (...args) => ops.print(LEVEL.log, 'Trace: ' + format(args) + '\n' + (new Error().stack ?? '')),
    dir: (value) => ops.print(LEVEL.log, inspect(value)),
    assert: (condition, ...args) => {
      if (!condition) ops.print(LEVEL.error, 'Assertion failed' + (args.length ? ': ' + format(args) : ''));
    },
    count: (label = 'default') => {
      const n = (counts.get(label) ?? 0) + 1;
      counts.set(label, n);
      ops.print(LEVEL.log, `${label}: ${n}`);
    },
    countReset: (label = 'default') => counts.delete(label),
    time: (label = 'default') => timers.set(label, ops.now()),
    timeLog: (label = 'default', ...args) => {
      if (timers.has(label)) ops.print(LEVEL.log, `${label}: ${(ops.now() - timers.get(label)).toFixed(3)}ms ${format(args)}`.trimEnd());
    },
    timeEnd: (label = 'default') => {
      if (timers.has(label)) ops.print(LEVEL.log, `${label}: ${(ops.now() - timers.get(label)).toFixed(3)}ms`);
      timers.delete(label);
    },
    group: () => {}, groupEnd: () => {}, table: (data) => ops.print(LEVEL.log, inspect(data)),
  };
  internals.defineGlobal('console', console);
})
