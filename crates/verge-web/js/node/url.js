// node:url — WHATWG URL (the global one) and Node's legacy API: url.parse() into a Url
// object, url.format(), url.resolve(), and the file: URL helpers.
(function (ops, internals) {
  const querystring = internals['node:querystring'];
  const punycode = internals['node:punycode'];
  const path = internals['node:path'];
  const nodeError = internals.nodeError;

  const SLASHED = new Set(['http', 'http:', 'https', 'https:', 'ftp', 'ftp:', 'gopher', 'gopher:', 'file', 'file:', 'ws', 'ws:', 'wss', 'wss:']);
  const HOSTLESS = new Set(['javascript', 'javascript:']);
  // What url.parse() escapes in the path, query and fragment, as Node does.
  const AUTO_ESCAPE = { '\t': '%09', '\n': '%0A', '\r': '%0D', ' ': '%20', '"': '%22', "'": '%27', '<': '%3C', '>': '%3E', '\\': '%5C', '^': '%5E', '`': '%60', '{': '%7B', '|': '%7C', '}': '%7D' };
  const autoEscape = (text) => text.replace(/[\t\n\r "'<>\\^`{|}]/g, (char) => AUTO_ESCAPE[char]);

  function Url() {
    this.protocol = null;
    this.slashes = null;
    this.auth = null;
    this.host = null;
    this.port = null;
    this.hostname = null;
    this.hash = null;
    this.search = null;
    this.query = null;
    this.pathname = null;
    this.path = null;
    this.href = null;
  }

  Url.prototype.parse = function (url, parseQueryString, slashesDenoteHost) {
    if (typeof url !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', 'url', 'of type string', url);
    // Backslashes before the query count as slashes, as browsers read them.
    const queryAt = url.search(/[?#]/);
    let rest = (queryAt < 0 ? url.replace(/\\/g, '/') : url.slice(0, queryAt).replace(/\\/g, '/') + url.slice(queryAt)).trim();

    const proto = /^[a-z0-9.+-]+:/i.exec(rest);
    let lowerProto;
    if (proto) {
      lowerProto = proto[0].toLowerCase();
      this.protocol = lowerProto;
      rest = rest.slice(proto[0].length);
    }
    let slashes = false;
    if (slashesDenoteHost || proto || /^\/\/[^@/]+@[^@/]+/.test(rest)) {
      slashes = rest.startsWith('//');
      if (slashes && !(lowerProto && HOSTLESS.has(lowerProto))) {
        rest = rest.slice(2);
        this.slashes = true;
      }
    }
    if (!HOSTLESS.has(lowerProto) && (slashes || (lowerProto && !SLASHED.has(lowerProto)))) {
      // The host ends at the first / ? # (or a character no host has).
      let hostEnd = rest.search(/[/?#\s<>"`{}|\\^']/);
      if (hostEnd < 0) hostEnd = rest.length;
      const at = rest.lastIndexOf('@', hostEnd);
      if (at >= 0) {
        this.auth = decodeURIComponent(rest.slice(0, at));
        rest = rest.slice(at + 1);
        hostEnd -= at + 1;
      }
      const host = rest.slice(0, hostEnd);
      rest = rest.slice(hostEnd);
      this.parseHost(host);
      const ipv6 = this.hostname.startsWith('[') && this.hostname.endsWith(']');
      if (ipv6) {
        this.hostname = this.hostname.slice(1, -1);
      } else {
        this.hostname = this.hostname.toLowerCase();
        if (this.hostname) this.hostname = punycode.toASCII(this.hostname);
      }
      this.host = (ipv6 ? `[${this.hostname}]` : this.hostname) + (this.port ? `:${this.port}` : '');
      if (ipv6 && rest[0] !== '/') rest = `/${rest}`;
    }

    rest = autoEscape(rest);
    const hashAt = rest.indexOf('#');
    if (hashAt >= 0) {
      this.hash = rest.slice(hashAt);
      rest = rest.slice(0, hashAt);
    }
    const searchAt = rest.indexOf('?');
    if (searchAt >= 0) {
      this.search = rest.slice(searchAt);
      this.query = rest.slice(searchAt + 1);
      if (parseQueryString) this.query = querystring.parse(this.query);
      rest = rest.slice(0, searchAt);
    } else if (parseQueryString) {
      this.search = null;
      this.query = Object.create(null);
    }
    if (rest) this.pathname = rest;
    if (SLASHED.has(lowerProto) && this.hostname && !this.pathname) this.pathname = '/';
    if (this.pathname || this.search) this.path = (this.pathname ?? '') + (this.search ?? '');
    this.href = this.format();
    return this;
  };

  Url.prototype.parseHost = function (host) {
    const port = /:[0-9]*$/.exec(host);
    if (port) {
      if (port[0] !== ':') this.port = port[0].slice(1);
      host = host.slice(0, host.length - port[0].length);
    }
    this.hostname = host;
  };

  Url.prototype.format = function () {
    let auth = this.auth || '';
    if (auth) auth = `${encodeURIComponent(auth).replace(/%3A/i, ':')}@`;
    let protocol = this.protocol || '';
    let pathname = this.pathname || '';
    let hash = this.hash || '';
    let host = '';
    if (this.host) {
      host = auth + this.host;
    } else if (this.hostname) {
      host = auth + (this.hostname.includes(':') && !this.hostname.startsWith('[') ? `[${this.hostname}]` : this.hostname);
      if (this.port) host += `:${this.port}`;
    }
    const query = this.query && typeof this.query === 'object' ? querystring.stringify(this.query) : '';
    let search = this.search || (query && `?${query}`) || '';
    if (protocol && !protocol.endsWith(':')) protocol += ':';
    pathname = pathname.replace(/[?#]/g, (char) => encodeURIComponent(char));
    if (this.slashes || SLASHED.has(protocol)) {
      if (this.slashes || host) {
        if (pathname && pathname[0] !== '/') pathname = `/${pathname}`;
        host = `//${host}`;
      } else if (protocol === 'file:') {
        host = '//';
      }
    }
    search = search.replace(/#/g, '%23');
    if (hash && hash[0] !== '#') hash = `#${hash}`;
    if (search && search[0] !== '?') search = `?${search}`;
    return protocol + host + pathname + search + hash;
  };

  Url.prototype.resolve = function (relative) {
    return resolve(this.format(), relative);
  };

  function parse(url, parseQueryString, slashesDenoteHost) {
    if (url instanceof Url) return url;
    return new Url().parse(url, parseQueryString, slashesDenoteHost);
  }

  function format(object, options) {
    if (typeof object === 'string') return parse(object).format();
    if (object instanceof URL) {
      const withAuth = options?.auth !== false && (object.username || object.password);
      const auth = withAuth ? `${object.username}${object.password ? `:${object.password}` : ''}@` : '';
      const host = options?.unicode ? punycode.toUnicode(object.host) : object.host;
      const slashes = object.href.startsWith(`${object.protocol}//`) ? '//' : '';
      return object.protocol + slashes + auth + host + object.pathname +
        (options?.search === false ? '' : object.search) + (options?.fragment === false ? '' : object.hash);
    }
    if (object === null || typeof object !== 'object') throw nodeError('ERR_INVALID_ARG_TYPE', 'urlObject', 'one of type object or string', object);
    return Url.prototype.format.call(object);
  }

  function resolve(from, to) {
    const resolved = new URL(to, new URL(from, 'resolve://'));
    if (resolved.protocol === 'resolve:') return resolved.pathname + resolved.search + resolved.hash;
    return resolved.toString();
  }

  function fileURLToPath(url) {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    if (!(parsed instanceof URL)) throw nodeError('ERR_INVALID_ARG_TYPE', 'path', 'of type string or an instance of URL', url);
    if (parsed.protocol !== 'file:') throw nodeError('ERR_INVALID_URL_SCHEME', 'file');
    if (parsed.hostname !== '') throw nodeError('ERR_INVALID_FILE_URL_PATH', 'must be absolute');
    if (/%2f/i.test(parsed.pathname)) throw nodeError('ERR_INVALID_FILE_URL_PATH', 'must not include encoded / characters');
    return decodeURIComponent(parsed.pathname);
  }

  function pathToFileURL(filepath) {
    let resolved = path.resolve(filepath);
    if (filepath.endsWith('/') && !resolved.endsWith('/')) resolved += '/';
    const encoded = resolved.replace(/%/g, '%25').replace(/\\/g, '%5C').replace(/\n/g, '%0A')
      .replace(/\r/g, '%0D').replace(/\t/g, '%09').replace(/#/g, '%23').replace(/\?/g, '%3F');
    return new URL(`file://${encoded}`);
  }

  function urlToHttpOptions(url) {
    const options = {
      protocol: url.protocol,
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      hash: url.hash,
      search: url.search,
      pathname: url.pathname,
      path: `${url.pathname || ''}${url.search || ''}`,
      href: url.href,
    };
    if (url.port !== '') options.port = Number(url.port);
    if (url.username || url.password) options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    return options;
  }

  internals['node:url'] = {
    URL,
    URLSearchParams,
    Url,
    parse,
    format,
    resolve,
    resolveObject: (from, to) => parse(resolve(from, to)),
    fileURLToPath,
    pathToFileURL,
    urlToHttpOptions,
    domainToASCII(domain) {
      try {
        return new URL(`http://${domain}`).hostname;
      } catch {
        return '';
      }
    },
    domainToUnicode: (domain) => punycode.toUnicode(String(domain)),
  };
})
