// node:dns and node:dns/promises — lookup() through the host's resolver (getaddrinfo, as
// Node's), and resolve*() / Resolver as DNS queries to the host's name servers or those set
// with setServers() (which the outbound policy must permit), with Node's error codes.
(function (ops, internals) {
  const nodeError = internals.nodeError;
  const CODES = {
    NODATA: 'ENODATA', FORMERR: 'EFORMERR', SERVFAIL: 'ESERVFAIL', NOTFOUND: 'ENOTFOUND',
    NOTIMP: 'ENOTIMP', REFUSED: 'EREFUSED', BADQUERY: 'EBADQUERY', BADNAME: 'EBADNAME',
    BADFAMILY: 'EBADFAMILY', BADRESP: 'EBADRESP', CONNREFUSED: 'ECONNREFUSED', TIMEOUT: 'ETIMEOUT',
    EOF: 'EOF', FILE: 'EFILE', NOMEM: 'ENOMEM', DESTRUCTION: 'EDESTRUCTION', BADSTR: 'EBADSTR',
    BADFLAGS: 'EBADFLAGS', NONAME: 'ENONAME', BADHINTS: 'EBADHINTS', NOTINITIALIZED: 'ENOTINITIALIZED',
    LOADIPHLPAPI: 'ELOADIPHLPAPI', ADDRGETNETWORKPARAMS: 'EADDRGETNETWORKPARAMS', CANCELLED: 'ECANCELLED',
  };
  const ERRNO = { ENOTFOUND: -3008, EAI_AGAIN: -3001 };
  const isIPv4 = (text) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text);
  const isIPv6 = (text) => {
    if (typeof text !== 'string' || !text.includes(':')) return false;
    try {
      return new URL(`http://[${text}]/`).hostname.length > 2;
    } catch {
      return false;
    }
  };
  const isIP = (text) => (isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0);
  let defaultOrder = 'verbatim';

  // The op's failure (its message a DNS error code) as Node's error for `syscall`.
  function dnsError(error, syscall, hostname) {
    const code = /^E[A-Z]+$/.test(error.message) ? error.message : null;
    if (!code) return error;
    const failure = new Error(`${syscall} ${code} ${hostname}`);
    return Object.assign(failure, { errno: ERRNO[code] ?? undefined, code, syscall, hostname });
  }

  async function lookupAll(hostname, options) {
    const family = typeof options === 'number' ? options : options?.family === 'IPv4' ? 4 : options?.family === 'IPv6' ? 6 : options?.family ?? 0;
    if (![0, 4, 6].includes(family)) throw nodeError('ERR_INVALID_ARG_VALUE', 'options.family', family, 'must be one of: 0, 4, 6');
    if (hostname === null || hostname === undefined || hostname === '') return [];
    if (typeof hostname !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', 'hostname', 'of type string', hostname);
    const literal = isIP(hostname);
    let addresses;
    if (literal) {
      addresses = [{ address: hostname, family: literal }];
    } else {
      const found = await ops.dnsLookup(hostname).catch((error) => { throw dnsError(error, 'getaddrinfo', hostname); });
      addresses = found.map((address) => ({ address, family: isIPv4(address) ? 4 : 6 }));
    }
    if (family) addresses = addresses.filter((entry) => entry.family === family);
    const order = options?.order ?? (options?.verbatim === false ? 'ipv4first' : defaultOrder);
    if (order === 'ipv4first') addresses.sort((a, b) => a.family - b.family);
    if (order === 'ipv6first') addresses.sort((a, b) => b.family - a.family);
    if (addresses.length === 0) throw dnsError(new Error('ENOTFOUND'), 'getaddrinfo', hostname);
    return addresses;
  }

  function lookup(hostname, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    if (typeof callback !== 'function') throw nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
    lookupAll(hostname, options).then((addresses) => {
      if (options?.all) callback(null, addresses);
      else if (addresses.length === 0) callback(null, null, typeof options === 'number' ? options : 4);
      else callback(null, addresses[0].address, addresses[0].family);
    }, (error) => callback(error));
    return {};
  }

  // Each record type: the query's name in errors, and the shape Node gives its records.
  const TYPES = {
    A: ['queryA', ([address, ttl], withTtl) => (withTtl ? { address, ttl } : address)],
    AAAA: ['queryAaaa', ([address, ttl], withTtl) => (withTtl ? { address, ttl } : address)],
    CNAME: ['queryCname', ([name]) => name],
    NS: ['queryNs', ([name]) => name],
    PTR: ['queryPtr', ([name]) => name],
    MX: ['queryMx', ([priority, exchange]) => ({ exchange, priority })],
    TXT: ['queryTxt', ([chunks]) => chunks],
    SRV: ['querySrv', ([priority, weight, port, name]) => ({ name, port, priority, weight })],
    SOA: ['querySoa', ([nsname, hostmaster, serial, refresh, retry, expire, minttl]) => ({ nsname, hostmaster, serial, refresh, retry, expire, minttl })],
    CAA: ['queryCaa', ([critical, tag, value]) => ({ critical, [tag]: value })],
  };

  class Resolver {
    #servers = [];
    constructor(options) {
      void options;
    }
    getServers() {
      return [...this.#servers];
    }
    setServers(servers) {
      if (!Array.isArray(servers)) throw nodeError('ERR_INVALID_ARG_TYPE', 'servers', 'an instance of Array', servers);
      for (const server of servers) {
        const bare = String(server).replace(/^\[([^\]]+)\](:\d+)?$/, '$1').replace(/^([\d.]+):\d+$/, '$1');
        if (!isIP(bare)) throw nodeError('ERR_INVALID_ARG_VALUE', 'servers', server, 'is not a valid IP address');
      }
      this.#servers = servers.map(String);
    }
    setLocalAddress() {}
    cancel() {}
    async query(hostname, type, options) {
      if (typeof hostname !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', 'name', 'of type string', hostname);
      const found = TYPES[type];
      if (!found) throw nodeError('ERR_INVALID_ARG_VALUE', 'rrtype', type);
      const [syscall, shape] = found;
      const records = await ops.dnsResolve(this.#servers, hostname, type).catch((error) => { throw dnsError(error, syscall, hostname); });
      if (type === 'SOA') return shape(records[0]);
      return records.map((record) => shape(record, !!options?.ttl));
    }
  }
  const promiseMethods = {
    resolve(hostname, rrtype = 'A') { return this.query(hostname, rrtype); },
    resolve4(hostname, options) { return this.query(hostname, 'A', options); },
    resolve6(hostname, options) { return this.query(hostname, 'AAAA', options); },
    resolveCname(hostname) { return this.query(hostname, 'CNAME'); },
    resolveMx(hostname) { return this.query(hostname, 'MX'); },
    resolveNs(hostname) { return this.query(hostname, 'NS'); },
    resolvePtr(hostname) { return this.query(hostname, 'PTR'); },
    resolveSoa(hostname) { return this.query(hostname, 'SOA'); },
    resolveSrv(hostname) { return this.query(hostname, 'SRV'); },
    resolveTxt(hostname) { return this.query(hostname, 'TXT'); },
    resolveCaa(hostname) { return this.query(hostname, 'CAA'); },
    resolveAny() { return Promise.reject(nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'dns.resolveAny')); },
    resolveNaptr() { return Promise.reject(nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'dns.resolveNaptr')); },
    reverse(ip) {
      const name = isIPv4(ip) ? `${ip.split('.').reverse().join('.')}.in-addr.arpa`
        : isIPv6(ip) ? `${expandIPv6(ip).split('').reverse().join('.')}.ip6.arpa` : null;
      if (!name) return Promise.reject(nodeError('ERR_INVALID_ARG_VALUE', 'ip', ip, 'is not a valid IP address'));
      return this.query(name, 'PTR');
    },
  };
  function expandIPv6(ip) {
    const [head, tail = ''] = ip.split('::');
    const parts = (part) => (part ? part.split(':') : []);
    const missing = 8 - parts(head).length - parts(tail).length;
    return [...parts(head), ...Array(ip.includes('::') ? missing : 0).fill('0'), ...parts(tail)].map((group) => group.padStart(4, '0')).join('');
  }

  class PromiseResolver extends Resolver {}
  Object.assign(PromiseResolver.prototype, promiseMethods);
  // The callback forms: the same query, its result or error handed to a callback.
  class CallbackResolver extends Resolver {}
  for (const [name, method] of Object.entries(promiseMethods)) {
    CallbackResolver.prototype[name] = function (...args) {
      const callback = args.pop();
      if (typeof callback !== 'function') throw nodeError('ERR_INVALID_ARG_TYPE', 'callback', 'of type function', callback);
      method.apply(this, args).then((result) => callback(null, result), (error) => callback(error));
      return {};
    };
  }

  const defaultResolver = new CallbackResolver();
  const defaultPromiseResolver = new PromiseResolver();
  const bound = (resolver) => Object.fromEntries(Object.keys(promiseMethods).map((name) => [name, resolver[name].bind(resolver)]));
  const settings = {
    getServers: () => defaultResolver.getServers(),
    setServers(servers) {
      defaultResolver.setServers(servers);
      defaultPromiseResolver.setServers(servers);
    },
    setDefaultResultOrder(order) {
      if (!['ipv4first', 'ipv6first', 'verbatim'].includes(order)) throw nodeError('ERR_INVALID_ARG_VALUE', 'dnsOrder', order);
      defaultOrder = order;
    },
    getDefaultResultOrder: () => defaultOrder,
  };
  const promises = {
    ...bound(defaultPromiseResolver),
    ...settings,
    Resolver: PromiseResolver,
    lookup: (hostname, options) => lookupAll(hostname, options).then((addresses) => (options?.all ? addresses : addresses[0] ?? { address: null, family: 4 })),
    lookupService: () => Promise.reject(nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'dns.lookupService')),
    ...CODES,
  };
  internals['node:dns'] = {
    ...bound(defaultResolver),
    ...settings,
    Resolver: CallbackResolver,
    lookup,
    lookupService() {
      throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'dns.lookupService');
    },
    promises,
    ADDRCONFIG: 1024, V4MAPPED: 2048, ALL: 256,
    ...CODES,
  };
  internals['node:dns/promises'] = promises;
  internals.ipFamily = { isIP, isIPv4, isIPv6 };
})
