// node:fs and node:fs/promises — the virtual file system workerd documents: /bundle holds the
// worker's project files, read-only; /tmp is writable, in memory, and each request sees only
// its own (gone when the request ends); /dev/null reads empty and swallows writes. Other
// absolute paths are the project's too (a module's __dirname is /node_modules/…), read-only.
// The sync, callback and promise forms share one implementation.
(function (ops, internals) {
  const { Buffer } = internals['node:buffer'];
  const path = internals['node:path'];
  const nodeError = internals.nodeError;

  const ERRNO = { ENOENT: -2, EBADF: -9, EEXIST: -17, ENOTDIR: -20, EISDIR: -21, EINVAL: -22, EROFS: -30, ENOTEMPTY: -39, EPERM: -1, ENOSPC: -28, EFBIG: -27 };
  const DESCRIPTION = {
    ENOENT: 'no such file or directory', EBADF: 'bad file descriptor', EEXIST: 'file already exists',
    ENOTDIR: 'not a directory', EISDIR: 'illegal operation on a directory', EINVAL: 'invalid argument',
    EROFS: 'read-only file system', ENOTEMPTY: 'directory not empty', EPERM: 'operation not permitted',
    ENOSPC: 'no space left on device', EFBIG: 'file too large',
  };
  function fsError(code, syscall, target, dest) {
    const where = target === undefined ? '' : ` '${target}'${dest === undefined ? '' : ` -> '${dest}'`}`;
    const error = new Error(`${code}: ${DESCRIPTION[code]}, ${syscall}${where}`);
    return Object.assign(error, { errno: ERRNO[code], code, syscall, ...(target === undefined ? {} : { path: target }), ...(dest === undefined ? {} : { dest }) });
  }

  const constants = {
    F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128,
    O_TRUNC: 512, O_APPEND: 1024, O_DIRECTORY: 65536, O_NOFOLLOW: 131072, O_SYNC: 1052672,
    S_IFMT: 61440, S_IFREG: 32768, S_IFDIR: 16384, S_IFLNK: 40960, S_IFCHR: 8192,
    COPYFILE_EXCL: 1, COPYFILE_FICLONE: 2, COPYFILE_FICLONE_FORCE: 4, UV_FS_O_FILEMAP: 0,
  };
  // What /tmp may hold at once, per request, so a worker cannot fill the host's memory.
  const TMP_LIMIT = 32 * 1024 * 1024;

  // --- /tmp, per request -------------------------------------------------------------------
  const tmps = new Map();
  function tmpOf() {
    const tag = ops.requestTag();
    let tmp = tmps.get(tag);
    if (!tmp) {
      tmp = { entries: new Map([['/tmp', { dir: true, mtime: Date.now() }]]), bytes: 0 };
      tmps.set(tag, tmp);
    }
    return tmp;
  }
  // The host calls this when a request has ended.
  ops.setForgetTmp((tag) => tmps.delete(tag));

  function toPath(target, name = 'path') {
    if (target instanceof URL) target = internals['node:url'].fileURLToPath(target);
    else if (target instanceof Uint8Array) target = Buffer.from(target).toString();
    if (typeof target !== 'string') throw nodeError('ERR_INVALID_ARG_TYPE', name, 'of type string or an instance of Buffer or URL', target);
    if (target.includes('\0')) throw nodeError('ERR_INVALID_ARG_VALUE', name, target, 'must be a string without null bytes');
    return target;
  }
  const resolved = (target) => path.resolve('/bundle', target);
  const area = (full) => (full === '/tmp' || full.startsWith('/tmp/') ? 'tmp'
    : full === '/dev/null' ? 'null'
      : full === '/' || full === '/dev' ? 'root' : 'bundle');
  // A project path, as the bundle ops take it.
  const inBundle = (full) => (full === '/bundle' || full.startsWith('/bundle/') ? full.slice('/bundle'.length) : full);
  // What one read of a project file may be (the host refuses more).
  const BUNDLE_READ_LIMIT = 128 * 1024 * 1024;

  class Stats {
    constructor(kind, size, mtimeMs) {
      const mode = kind === 'dir' ? 0o40555 : kind === 'char' ? 0o20666 : 0o100444;
      Object.assign(this, {
        dev: 0, ino: 0, mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size, blksize: 4096,
        blocks: Math.ceil(size / 512), atimeMs: mtimeMs, mtimeMs, ctimeMs: mtimeMs, birthtimeMs: mtimeMs,
        atime: new Date(mtimeMs), mtime: new Date(mtimeMs), ctime: new Date(mtimeMs), birthtime: new Date(mtimeMs),
      });
      Object.defineProperty(this, 'kind', { value: kind });
    }
    isFile() { return this.kind === 'file'; }
    isDirectory() { return this.kind === 'dir'; }
    isSymbolicLink() { return false; }
    isCharacterDevice() { return this.kind === 'char'; }
    isBlockDevice() { return false; }
    isFIFO() { return false; }
    isSocket() { return false; }
  }
  class Dirent {
    constructor(name, parentPath, isDir) {
      this.name = name;
      this.parentPath = parentPath;
      this.path = parentPath;
      Object.defineProperty(this, 'dir', { value: isDir });
    }
    isFile() { return !this.dir; }
    isDirectory() { return this.dir; }
    isSymbolicLink() { return false; }
    isCharacterDevice() { return false; }
    isBlockDevice() { return false; }
    isFIFO() { return false; }
    isSocket() { return false; }
  }

  // What is at `full`: { kind, size, mtime } or null.
  function look(full) {
    switch (area(full)) {
      case 'bundle': {
        const found = ops.bundleStat(inBundle(full));
        if (!found) return null;
        return { kind: found[0] === 2 ? 'dir' : 'file', size: found[1], mtime: found[2] };
      }
      case 'tmp': {
        const entry = tmpOf().entries.get(full);
        if (!entry) return null;
        return { kind: entry.dir ? 'dir' : 'file', size: entry.dir ? 0 : entry.data.length, mtime: entry.mtime };
      }
      case 'null': return { kind: 'char', size: 0, mtime: 0 };
      case 'root': return { kind: 'dir', size: 0, mtime: 0 };
      default: return null;
    }
  }

  function statSync(target, options) {
    const full = resolved(toPath(target));
    const found = look(full);
    if (!found) {
      if (options?.throwIfNoEntry === false) return undefined;
      throw fsError('ENOENT', 'stat', toPath(target));
    }
    return new Stats(found.kind, found.size, found.mtime);
  }
  function existsSync(target) {
    try {
      return !!look(resolved(toPath(target)));
    } catch {
      return false;
    }
  }
  function accessSync(target, mode = constants.F_OK) {
    const full = resolved(toPath(target));
    if (!look(full)) throw fsError('ENOENT', 'access', toPath(target));
    if (mode & constants.W_OK && area(full) !== 'tmp' && area(full) !== 'null') throw fsError('EROFS', 'access', toPath(target));
  }

  // The bytes of the file at `full`; a /tmp file's own (callers that hand them out copy).
  function contents(full, syscall, original) {
    const found = look(full);
    if (!found) throw fsError('ENOENT', syscall, original);
    if (found.kind === 'dir') throw fsError('EISDIR', 'read');
    switch (area(full)) {
      case 'bundle': {
        if (found.size > BUNDLE_READ_LIMIT) throw fsError('EFBIG', syscall, original);
        const bytes = ops.bundleRead(inBundle(full));
        if (!bytes) throw fsError('ENOENT', syscall, original);
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      case 'tmp': return tmpOf().entries.get(full).data;
      default: return Buffer.alloc(0);
    }
  }
  const readBytes = (full, syscall, original) => Buffer.from(contents(full, syscall, original));
  const encodingOf = (options) => (typeof options === 'string' ? options : options?.encoding ?? null);
  function readFileSync(target, options) {
    if (typeof target === 'number') return readFd(target, encodingOf(options));
    const original = toPath(target);
    const bytes = readBytes(resolved(original), 'open', original);
    const encoding = encodingOf(options);
    return encoding && encoding !== 'buffer' ? bytes.toString(encoding) : bytes;
  }

  // Writes go to /tmp only; the bundle is read-only and nothing else exists.
  function writable(full, syscall, original) {
    const where = area(full);
    if (where === 'null') return null;
    if (where === 'tmp') {
      const parent = tmpOf().entries.get(path.dirname(full));
      if (!parent) throw fsError('ENOENT', syscall, original);
      if (!parent.dir) throw fsError('ENOTDIR', syscall, original);
      return tmpOf();
    }
    if (where === 'bundle' || where === 'root') throw fsError('EROFS', syscall, original);
    throw fsError('ENOENT', syscall, original);
  }
  function store(tmp, full, data, syscall, original) {
    const old = tmp.entries.get(full);
    if (old?.dir) throw fsError('EISDIR', syscall, original);
    const grown = tmp.bytes - (old?.data.length ?? 0) + data.length;
    if (grown > TMP_LIMIT) throw fsError('ENOSPC', syscall, original);
    tmp.bytes = grown;
    tmp.entries.set(full, { dir: false, data, mtime: Date.now() });
  }
  const bytesOf = (data, options) => (typeof data === 'string' ? Buffer.from(data, encodingOf(options) ?? 'utf8') : Buffer.from(internals.toBytes(data, 'fs')));
  function writeFileSync(target, data, options) {
    if (typeof target === 'number') return void writeFd(target, bytesOf(data, options));
    const original = toPath(target);
    const full = resolved(original);
    const flag = options?.flag ?? 'w';
    const tmp = writable(full, 'open', original);
    if (!tmp) return;
    if (flag.startsWith('wx') && tmp.entries.has(full)) throw fsError('EEXIST', 'open', original);
    const bytes = bytesOf(data, options);
    const previous = flag.startsWith('a') ? tmp.entries.get(full)?.data : null;
    store(tmp, full, previous ? Buffer.concat([previous, bytes]) : bytes, 'open', original);
  }
  function appendFileSync(target, data, options) {
    writeFileSync(target, data, { ...(typeof options === 'string' ? { encoding: options } : options), flag: 'a' });
  }

  function readdirSync(target, options) {
    const original = toPath(target);
    const full = resolved(original);
    const found = look(full);
    if (!found) throw fsError('ENOENT', 'scandir', original);
    if (found.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', original);
    let names;
    switch (area(full)) {
      case 'bundle': names = ops.bundleList(inBundle(full)).map((name) => (name.endsWith('/') ? [name.slice(0, -1), true] : [name, false])); break;
      case 'tmp': {
        names = [];
        for (const [entry, value] of tmpOf().entries) {
          if (entry !== full && path.dirname(entry) === full) names.push([path.basename(entry), value.dir]);
        }
        names.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        break;
      }
      default: names = full === '/' ? [['bundle', true], ['dev', true], ['tmp', true]] : [['null', false]];
    }
    if (options?.withFileTypes) return names.map(([name, dir]) => new Dirent(name, full, dir));
    return names.map(([name]) => name);
  }

  function mkdirSync(target, options) {
    const original = toPath(target);
    const full = resolved(original);
    const recursive = typeof options === 'object' ? !!options?.recursive : false;
    if (look(full)) {
      if (recursive && look(full).kind === 'dir') return undefined;
      throw fsError('EEXIST', 'mkdir', original);
    }
    if (area(full) !== 'tmp') throw fsError(area(full) === 'bundle' ? 'EROFS' : 'ENOENT', 'mkdir', original);
    const tmp = tmpOf();
    const missing = [];
    for (let dir = full; !tmp.entries.has(dir); dir = path.dirname(dir)) missing.unshift(dir);
    if (missing.length > 1 && !recursive) throw fsError('ENOENT', 'mkdir', original);
    if (!tmp.entries.get(path.dirname(missing[0]))?.dir) throw fsError('ENOTDIR', 'mkdir', original);
    for (const dir of missing) tmp.entries.set(dir, { dir: true, mtime: Date.now() });
    return recursive ? missing[0] : undefined;
  }
  function mkdtempSync(prefix) {
    const suffix = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
    const dir = `${toPath(prefix, 'prefix')}${suffix}`;
    mkdirSync(dir);
    return dir;
  }

  function removable(target, syscall) {
    const original = toPath(target);
    const full = resolved(original);
    if (area(full) !== 'tmp' || full === '/tmp') throw fsError(area(full) === 'bundle' || full === '/tmp' ? 'EROFS' : 'ENOENT', syscall, original);
    const entry = tmpOf().entries.get(full);
    if (!entry) throw fsError('ENOENT', syscall, original);
    return [full, entry, original];
  }
  const childrenOf = (tmp, full) => [...tmp.entries.keys()].filter((entry) => entry.startsWith(`${full}/`));
  function unlinkSync(target) {
    const [full, entry, original] = removable(target, 'unlink');
    if (entry.dir) throw fsError('EISDIR', 'unlink', original);
    const tmp = tmpOf();
    tmp.bytes -= entry.data.length;
    tmp.entries.delete(full);
  }
  function rmdirSync(target, options) {
    const [full, entry, original] = removable(target, 'rmdir');
    if (!entry.dir) throw fsError('ENOTDIR', 'rmdir', original);
    const tmp = tmpOf();
    const children = childrenOf(tmp, full);
    if (children.length && !options?.recursive) throw fsError('ENOTEMPTY', 'rmdir', original);
    for (const child of children) {
      tmp.bytes -= tmp.entries.get(child).data?.length ?? 0;
      tmp.entries.delete(child);
    }
    tmp.entries.delete(full);
  }
  function rmSync(target, options) {
    let found;
    try {
      found = removable(target, 'rm');
    } catch (error) {
      if (options?.force && error.code === 'ENOENT') return;
      throw error;
    }
    if (found[1].dir) {
      if (!options?.recursive) throw Object.assign(new Error(`Path is a directory: rm returned EISDIR (is a directory) ${found[2]}`), { code: 'ERR_FS_EISDIR' });
      rmdirSync(target, { recursive: true });
    } else {
      unlinkSync(target);
    }
  }
  function renameSync(from, to) {
    const [full, entry, original] = removable(from, 'rename');
    const destination = resolved(toPath(to));
    const tmp = writable(destination, 'rename', original);
    if (!tmp) return;
    const moved = [full, ...childrenOf(tmp, full)];
    for (const source of moved) {
      const value = tmp.entries.get(source);
      tmp.entries.delete(source);
      tmp.entries.set(destination + source.slice(full.length), value);
    }
    void entry;
  }
  function copyFileSync(from, to, mode = 0) {
    const original = toPath(from);
    const bytes = readBytes(resolved(original), 'copyfile', original);
    if (mode & constants.COPYFILE_EXCL && existsSync(to)) throw fsError('EEXIST', 'copyfile', original, toPath(to));
    writeFileSync(to, bytes);
  }
  function realpathSync(target) {
    const original = toPath(target);
    const full = resolved(original);
    if (!look(full)) throw fsError('ENOENT', 'realpath', original);
    return full;
  }
  realpathSync.native = realpathSync;
  function truncateSync(target, length = 0) {
    const original = toPath(target);
    const bytes = readBytes(resolved(original), 'open', original);
    const out = Buffer.alloc(length);
    out.set(bytes.subarray(0, length));
    writeFileSync(target, out);
  }

  // --- file descriptors --------------------------------------------------------------------
  const descriptors = new Map();
  let nextFd = 3;
  function openSync(target, flags = 'r') {
    const original = toPath(target);
    const full = resolved(original);
    const mode = typeof flags === 'number' ? flags : { r: 0, 'r+': 2, rs: 0, 'rs+': 2, w: 577, wx: 705, 'w+': 578, 'wx+': 706, a: 1089, ax: 1217, 'a+': 1090, 'ax+': 1218 }[flags];
    if (mode === undefined) throw nodeError('ERR_INVALID_ARG_VALUE', 'flags', flags);
    const writes = (mode & 3) !== 0;
    if (writes) {
      if (mode & constants.O_EXCL && look(full)) throw fsError('EEXIST', 'open', original);
      if (!look(full) || mode & constants.O_TRUNC) {
        if (mode & constants.O_CREAT || look(full)) writeFileSync(original, Buffer.alloc(0));
        else throw fsError('ENOENT', 'open', original);
      } else if (look(full).kind === 'dir') {
        throw fsError('EISDIR', 'open', original);
      } else {
        writable(full, 'open', original);
      }
    } else if (!look(full)) {
      throw fsError('ENOENT', 'open', original);
    }
    const fd = nextFd++;
    descriptors.set(fd, { full, original, position: 0, append: !!(mode & constants.O_APPEND), writes });
    return fd;
  }
  function descriptor(fd, syscall) {
    const found = descriptors.get(fd);
    if (!found) throw fsError('EBADF', syscall);
    return found;
  }
  function closeSync(fd) {
    descriptor(fd, 'close');
    descriptors.delete(fd);
  }
  // An open file's bytes: a project file's read once for the descriptor.
  const dataOf = (open) => (area(open.full) === 'bundle'
    ? (open.bytes ??= contents(open.full, 'read', open.original))
    : contents(open.full, 'read', open.original));
  function readFd(fd, encoding) {
    const open = descriptor(fd, 'read');
    const bytes = Buffer.from(dataOf(open).subarray(open.position));
    open.position += bytes.length;
    return encoding && encoding !== 'buffer' ? bytes.toString(encoding) : Buffer.from(bytes);
  }
  function readSync(fd, buffer, offset = 0, length, position) {
    if (offset !== null && typeof offset === 'object') ({ offset = 0, length, position } = offset);
    const open = descriptor(fd, 'read');
    length ??= buffer.byteLength - offset;
    const start = position ?? open.position;
    const bytes = dataOf(open).subarray(start, start + length);
    new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).set(bytes, offset);
    if (position === null || position === undefined) open.position += bytes.length;
    return bytes.length;
  }
  // Writes into a /tmp file in place, growing its storage by doubling, so a file written in
  // many pieces costs what its bytes do.
  function writeFd(fd, bytes, position) {
    const open = descriptor(fd, 'write');
    if (!open.writes) throw fsError('EBADF', 'write');
    if (area(open.full) === 'null') return bytes.length;
    const tmp = tmpOf();
    const current = contents(open.full, 'write', open.original);
    const at = open.append ? current.length : position ?? open.position;
    const length = Math.max(current.length, at + bytes.length);
    const grown = tmp.bytes - current.length + length;
    if (grown > TMP_LIMIT) throw fsError('ENOSPC', 'write', open.original);
    let data = current;
    if (current.byteOffset + length > current.buffer.byteLength) {
      const storage = Buffer.alloc(Math.min(Math.max(length, current.length * 2, 256), TMP_LIMIT));
      storage.set(current);
      data = storage.subarray(0, length);
    } else {
      data = Buffer.from(current.buffer, current.byteOffset, length);
    }
    data.set(bytes, at);
    tmp.bytes = grown;
    tmp.entries.set(open.full, { dir: false, data, mtime: Date.now() });
    if (position === null || position === undefined) open.position = at + bytes.length;
    return bytes.length;
  }
  function writeSync(fd, data, offset, length, position) {
    if (typeof data === 'string') return writeFd(fd, Buffer.from(data, typeof length === 'string' ? length : 'utf8'), typeof offset === 'number' ? offset : undefined);
    const bytes = Buffer.from(internals.toBytes(data, 'fs'));
    const start = offset ?? 0;
    return writeFd(fd, bytes.subarray(start, start + (length ?? bytes.length - start)), position);
  }
  function fstatSync(fd) {
    return statSync(descriptor(fd, 'fstat').full);
  }

  // --- streams -----------------------------------------------------------------------------
  function createReadStream(target, options) {
    const { Readable } = internals['node:stream'];
    const settings = typeof options === 'string' ? { encoding: options } : options ?? {};
    const highWaterMark = settings.highWaterMark ?? 64 * 1024;
    let bytes = null;
    let offset = settings.start ?? 0;
    const end = settings.end === undefined ? Infinity : settings.end + 1;
    const stream = new Readable({
      highWaterMark,
      encoding: settings.encoding,
      read() {
        try {
          bytes ??= settings.fd !== undefined ? readFd(settings.fd) : readFileSync(target);
        } catch (error) {
          this.destroy(error);
          return;
        }
        const stop = Math.min(end, bytes.length, offset + highWaterMark);
        if (offset >= stop) {
          this.push(null);
          return;
        }
        this.push(bytes.subarray(offset, stop));
        offset = stop;
      },
    });
    stream.path = typeof target === 'string' ? target : undefined;
    queueMicrotask(() => {
      if (!existsSync(target)) return;
      stream.emit('open', 0);
      stream.emit('ready');
    });
    return stream;
  }
  function createWriteStream(target, options) {
    const { Writable } = internals['node:stream'];
    const settings = typeof options === 'string' ? { encoding: options } : options ?? {};
    let fd;
    const stream = new Writable({
      construct(callback) {
        try {
          fd = settings.fd ?? openSync(target, settings.flags ?? 'w');
          callback();
        } catch (error) {
          callback(error);
        }
      },
      write(chunk, encoding, callback) {
        try {
          writeFd(fd, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
          callback();
        } catch (error) {
          callback(error);
        }
      },
      destroy(error, callback) {
        if (fd !== undefined && descriptors.has(fd) && settings.autoClose !== false) closeSync(fd);
        callback(error);
      },
    });
    stream.path = typeof target === 'string' ? target : undefined;
    Object.defineProperty(stream, 'bytesWritten', { get: () => stream._writableState.length, configurable: true });
    return stream;
  }

  // --- the three forms ---------------------------------------------------------------------
  const sync = {
    accessSync, appendFileSync, closeSync, copyFileSync, existsSync, fstatSync, lstatSync: statSync,
    mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync,
    rmSync, rmdirSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync,
    chmodSync() {}, chownSync() {}, utimesSync() {}, fsyncSync() {}, fdatasyncSync() {},
    readlinkSync(target) { throw fsError('EINVAL', 'readlink', toPath(target)); },
    symlinkSync(target, link) { throw fsError('EPERM', 'symlink', toPath(target), toPath(link)); },
    linkSync(target, link) { throw fsError('EPERM', 'link', toPath(target), toPath(link)); },
    opendirSync() { throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'fs.opendirSync'); },
  };
  const callbacks = {};
  const promises = {};
  for (const [name, fn] of Object.entries(sync)) {
    const base = name.slice(0, -'Sync'.length);
    if (base === 'exists') continue;
    // read and write call back with the buffer too.
    const withBuffer = base === 'read' || base === 'write';
    callbacks[base] = function (...args) {
      const callback = args.pop();
      internals.callBackLater(() => (withBuffer ? [fn(...args), args[1]] : fn(...args)), callback, 'cb', withBuffer);
    };
    promises[base] = async (...args) => fn(...args);
  }
  callbacks.exists = (target, callback) => queueMicrotask(() => callback(existsSync(target)));
  // fs/promises' open() gives a FileHandle over a descriptor.
  class FileHandle {
    constructor(fd) { this.fd = fd; }
    async read(buffer, offset, length, position) {
      const bytesRead = readSync(this.fd, buffer, offset, length, position);
      return { bytesRead, buffer };
    }
    async write(data, ...rest) { return { bytesWritten: writeSync(this.fd, data, ...rest), buffer: data }; }
    async readFile(options) { return readFileSync(this.fd, options); }
    async writeFile(data, options) { writeFd(this.fd, bytesOf(data, options)); }
    async stat() { return fstatSync(this.fd); }
    async truncate(length) { truncateSync(descriptor(this.fd, 'ftruncate').original, length); }
    async close() { closeSync(this.fd); }
    async [Symbol.asyncDispose]() { await this.close(); }
  }
  promises.open = async (target, flags) => new FileHandle(openSync(target, flags));
  promises.constants = constants;

  const notImplemented = (name) => () => {
    throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', name);
  };
  internals['node:fs'] = {
    ...sync,
    ...callbacks,
    promises,
    constants,
    ...constants,
    Stats,
    Dirent,
    createReadStream,
    createWriteStream,
    watch: notImplemented('fs.watch'),
    watchFile: notImplemented('fs.watchFile'),
    unwatchFile() {},
  };
  internals['node:fs/promises'] = promises;
})
