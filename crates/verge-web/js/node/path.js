// node:path — POSIX paths (Workers has no other), with the working directory `/`.
(function (ops, internals) {
  function check(value, name = 'path') {
    if (typeof value !== 'string') throw new TypeError(`The "${name}" argument must be of type string. Received ${typeof value}`);
  }

  // `.` and `..` resolved lexically; `..` above the root of an absolute path stays at the root.
  function normalizeSegments(path, absolute) {
    const out = [];
    for (const segment of path.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (out.length && out[out.length - 1] !== '..') out.pop();
        else if (!absolute) out.push('..');
      } else {
        out.push(segment);
      }
    }
    return out.join('/');
  }

  const path = {
    sep: '/',
    delimiter: ':',
    normalize(p) {
      check(p);
      if (p === '') return '.';
      const absolute = p.startsWith('/');
      const trailing = p.endsWith('/');
      let out = normalizeSegments(p, absolute);
      if (out === '' && !absolute) out = '.';
      if (out !== '' && trailing) out += '/';
      return absolute ? '/' + out : out;
    },
    join(...parts) {
      parts.forEach((p) => check(p));
      const joined = parts.filter((p) => p !== '').join('/');
      return joined === '' ? '.' : path.normalize(joined);
    },
    resolve(...parts) {
      let resolved = '';
      for (let i = parts.length - 1; i >= 0 && !resolved.startsWith('/'); i--) {
        check(parts[i]);
        if (parts[i] !== '') resolved = parts[i] + (resolved ? '/' + resolved : '');
      }
      if (!resolved.startsWith('/')) resolved = '/' + resolved;
      return '/' + normalizeSegments(resolved, true);
    },
    isAbsolute(p) { check(p); return p.startsWith('/'); },
    relative(from, to) {
      check(from, 'from'); check(to, 'to');
      const a = path.resolve(from).split('/').filter(Boolean), b = path.resolve(to).split('/').filter(Boolean);
      let common = 0;
      while (common < a.length && common < b.length && a[common] === b[common]) common++;
      return [...Array(a.length - common).fill('..'), ...b.slice(common)].join('/');
    },
    dirname(p) {
      check(p);
      if (p === '') return '.';
      const trimmed = p.replace(/\/+$/, '') || '/';
      if (trimmed === '/') return '/';
      const index = trimmed.lastIndexOf('/');
      if (index < 0) return '.';
      return trimmed.slice(0, index).replace(/\/+$/, '') || '/';
    },
    basename(p, suffix) {
      check(p);
      const base = p.replace(/\/+$/, '').split('/').pop() ?? '';
      return suffix !== undefined && base !== suffix && base.endsWith(suffix) ? base.slice(0, -suffix.length) : base;
    },
    extname(p) {
      check(p);
      const base = path.basename(p);
      const dot = base.lastIndexOf('.');
      return dot <= 0 ? '' : base.slice(dot);
    },
    parse(p) {
      check(p);
      const root = p.startsWith('/') ? '/' : '';
      const base = path.basename(p), ext = path.extname(p);
      let dir = path.dirname(p);
      if (dir === '.' && !p.includes('/')) dir = '';
      return { root, dir, base, ext, name: ext ? base.slice(0, -ext.length) : base };
    },
    format(parts) {
      const dir = parts.dir || parts.root || '';
      const base = parts.base || `${parts.name ?? ''}${parts.ext ? (parts.ext.startsWith('.') ? '' : '.') + parts.ext : ''}`;
      return dir ? (dir === parts.root ? dir + base : `${dir}/${base}`) : base;
    },
    toNamespacedPath: (p) => p,
  };
  path.posix = path;
  internals['node:path'] = path;
  internals['node:path/posix'] = path;
})
