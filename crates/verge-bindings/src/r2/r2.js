// Object buckets (the R2 API): what an `r2_buckets` binding puts on `env`. The store
// (mod.rs beside this file) keeps bytes and descriptions; the shapes scripts see — R2Object, R2ObjectBody,
// httpMetadata, onlyIf and range in their several forms — are made here.
(function (ops, internals) {
  const ID = Symbol('r2Bucket');
  const HTTP_FIELDS = [
    ['contentType', 'content-type'],
    ['contentLanguage', 'content-language'],
    ['contentDisposition', 'content-disposition'],
    ['contentEncoding', 'content-encoding'],
    ['cacheControl', 'cache-control'],
  ];
  const HASHES = ['md5', 'sha1', 'sha256', 'sha384', 'sha512'];
  const CUSTOM_METADATA_BYTES = 2048;

  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const fromHex = (hex) => new Uint8Array(hex.match(/../g)?.map((pair) => parseInt(pair, 16)) ?? []);

  // httpMetadata, given as an object or as Headers, as JSON (cacheExpiry in ms).
  function httpMetadataJson(value) {
    const metadata = {};
    if (value == null) return '{}';
    if (internals.isA(value, 'Headers')) {
      for (const [field, header] of HTTP_FIELDS) {
        const found = value.get(header);
        if (found !== null) metadata[field] = found;
      }
      const expires = Date.parse(value.get('expires') ?? '');
      if (!Number.isNaN(expires)) metadata.cacheExpiry = expires;
    } else {
      for (const [field] of HTTP_FIELDS) {
        if (value[field] !== undefined) metadata[field] = String(value[field]);
      }
      if (value.cacheExpiry !== undefined) metadata.cacheExpiry = new Date(value.cacheExpiry).getTime();
    }
    return JSON.stringify(metadata);
  }

  function httpMetadataOf(json) {
    const metadata = JSON.parse(json);
    if (metadata.cacheExpiry !== undefined) metadata.cacheExpiry = new Date(metadata.cacheExpiry);
    return metadata;
  }

  function customMetadataJson(value) {
    if (value == null) return '{}';
    const metadata = {};
    let bytes = 0;
    for (const [name, entry] of Object.entries(value)) {
      metadata[name] = String(entry);
      bytes += internals.utf8Encode(name).byteLength + internals.utf8Encode(metadata[name]).byteLength;
    }
    if (bytes > CUSTOM_METADATA_BYTES) {
      throw new TypeError(`Your metadata headers exceed the maximum allowed metadata size: ${bytes} bytes, over ${CUSTOM_METADATA_BYTES}. (10012)`);
    }
    return JSON.stringify(metadata);
  }

  function newObject(options) {
    const checksums = [];
    for (const name of HASHES) {
      const given = options?.[name];
      if (given === undefined) continue;
      checksums.push([name, typeof given === 'string' ? given.toLowerCase() : toHex(internals.toBytes(given, `R2 ${name}`))]);
    }
    return [httpMetadataJson(options?.httpMetadata), customMetadataJson(options?.customMetadata), checksums];
  }

  // onlyIf, as an R2Conditional or as Headers, in the store's terms: [etagMatches,
  // etagDoesNotMatch, uploadedBefore, uploadedAfter, secondsGranularity].
  function conditionsOf(onlyIf) {
    if (onlyIf == null) return undefined;
    if (internals.isA(onlyIf, 'Headers')) {
      const etags = (name) => onlyIf.get(name)?.split(',').map((etag) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'));
      const date = (name) => {
        const time = Date.parse(onlyIf.get(name) ?? '');
        return Number.isNaN(time) ? undefined : time;
      };
      const unmodifiedSince = date('if-unmodified-since');
      return [
        etags('if-match'),
        etags('if-none-match'),
        // If-Unmodified-Since holds at the very second named; uploadedBefore is strict.
        unmodifiedSince === undefined ? undefined : unmodifiedSince + 1000,
        date('if-modified-since'),
        true,
      ];
    }
    const list = (value) => (value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map((etag) => String(etag).replace(/^"(.*)"$/, '$1')));
    const time = (value) => (value === undefined ? undefined : new Date(value).getTime());
    return [
      list(onlyIf.etagMatches),
      list(onlyIf.etagDoesNotMatch),
      time(onlyIf.uploadedBefore),
      time(onlyIf.uploadedAfter),
      Boolean(onlyIf.secondsGranularity),
    ];
  }

  function byteCount(value, what) {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`Invalid range ${what} ${value}: it must be a whole number of bytes.`);
    return n;
  }

  // range, as { offset, length } / { suffix } or as Headers with Range, as [offset, length, suffix].
  function rangeOf(range) {
    if (range == null) return [];
    if (internals.isA(range, 'Headers')) {
      const header = range.get('range');
      if (header === null) return [];
      const parts = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
      if (!parts || (parts[1] === '' && parts[2] === '')) throw new TypeError(`Unsupported Range header "${header}": one byte range is supported.`);
      if (parts[1] === '') return [undefined, undefined, byteCount(parts[2], 'suffix')];
      const offset = byteCount(parts[1], 'offset');
      return [offset, parts[2] === '' ? undefined : byteCount(parts[2], 'end') - offset + 1];
    }
    if (range.suffix !== undefined) {
      if (range.offset !== undefined || range.length !== undefined) throw new TypeError('A range with a suffix takes no offset or length.');
      return [undefined, undefined, byteCount(range.suffix, 'suffix')];
    }
    return [
      range.offset === undefined ? 0 : byteCount(range.offset, 'offset'),
      range.length === undefined ? undefined : byteCount(range.length, 'length'),
    ];
  }

  class R2Checksums {
    constructor(hexes) {
      for (const name of HASHES) if (hexes[name] !== undefined) this[name] = fromHex(hexes[name]).buffer;
    }

    toJSON() {
      const json = {};
      for (const name of HASHES) if (this[name] !== undefined) json[name] = toHex(new Uint8Array(this[name]));
      return json;
    }
  }

  class R2Object {
    constructor([key, version, size, etag, uploaded, http, custom, checksums], span = undefined) {
      this.key = key;
      this.version = version;
      this.size = size;
      this.etag = etag;
      this.httpEtag = `"${etag}"`;
      this.uploaded = new Date(uploaded);
      this.httpMetadata = httpMetadataOf(http);
      this.customMetadata = JSON.parse(custom);
      this.checksums = new R2Checksums(JSON.parse(checksums));
      this.storageClass = 'Standard';
      if (span !== undefined) this.range = { offset: span[0], length: span[1] };
    }

    writeHttpMetadata(headers) {
      for (const [field, header] of HTTP_FIELDS) {
        if (this.httpMetadata[field] !== undefined) headers.set(header, this.httpMetadata[field]);
      }
      if (this.httpMetadata.cacheExpiry !== undefined) headers.set('expires', this.httpMetadata.cacheExpiry.toUTCString());
    }
  }
  Object.defineProperty(R2Object.prototype, Symbol.toStringTag, { value: 'R2Object' });

  class R2ObjectBody extends R2Object {
    #read = false;
    constructor(info, span, body) {
      super(info, span);
      this.body = body;
    }

    get bodyUsed() { return this.#read || internals.isDisturbed(this.body); }

    // The body as a Response reads it; once only, as for a Response.
    #response() {
      if (this.bodyUsed) throw new TypeError('The body of this R2 object has already been read.');
      this.#read = true;
      return new Response(this.body);
    }

    async arrayBuffer() { return this.#response().arrayBuffer(); }
    async text() { return this.#response().text(); }
    async json() { return this.#response().json(); }
    async blob() { return this.#response().blob(); }
    async bytes() { return new Uint8Array(await this.#response().arrayBuffer()); }
  }
  Object.defineProperty(R2ObjectBody.prototype, Symbol.toStringTag, { value: 'R2ObjectBody' });

  // A value to store, as the host takes a body: strings, bytes, Blobs, streams or null.
  const hostBody = (value) => internals.hostBody(new Response(value ?? null));

  class R2MultipartUpload {
    #bucket;
    constructor(bucket, key, uploadId) {
      this.#bucket = bucket;
      this.key = key;
      this.uploadId = uploadId;
    }

    async uploadPart(partNumber, value) {
      const part = Number(partNumber);
      if (!(Number.isInteger(part) && part >= 1 && part <= 10000)) throw new RangeError(`Invalid part number ${partNumber}: it must be between 1 and 10000.`);
      const etag = await ops.r2UploadPart(this.#bucket, this.key, this.uploadId, part, hostBody(value));
      return { partNumber: part, etag };
    }

    async abort() {
      await ops.r2AbortMultipart(this.#bucket, this.key, this.uploadId);
    }

    async complete(uploadedParts) {
      if (!Array.isArray(uploadedParts)) throw new TypeError('complete() takes an array of uploaded parts.');
      const parts = uploadedParts.map((part) => [Number(part.partNumber), String(part.etag)]);
      return new R2Object(await ops.r2CompleteMultipart(this.#bucket, this.key, this.uploadId, parts));
    }
  }
  Object.defineProperty(R2MultipartUpload.prototype, Symbol.toStringTag, { value: 'R2MultipartUpload' });

  class R2Bucket {
    constructor(id) { this[ID] = id; }

    async head(key) {
      const info = await ops.r2Head(this[ID], String(key));
      return info === null ? null : new R2Object(info);
    }

    async get(key, options = undefined) {
      const range = rangeOf(options?.range);
      const found = await ops.r2Get(this[ID], String(key), range, conditionsOf(options?.onlyIf));
      if (found === null) return null;
      const [info, span, body] = found;
      if (span === null) return new R2Object(info);
      return new R2ObjectBody(info, range.length === 0 ? undefined : span, internals.nativeStream(body[1]));
    }

    async put(key, value, options = undefined) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'put' on 'R2Bucket': 2 arguments required.");
      // The body last: what may throw first must not leave its stream locked.
      const [object, onlyIf] = [newObject(options), conditionsOf(options?.onlyIf)];
      const info = await ops.r2Put(this[ID], String(key), hostBody(value), object, onlyIf);
      return info === null ? null : new R2Object(info);
    }

    async delete(keys) {
      const list = Array.isArray(keys) ? keys.map(String) : [String(keys)];
      if (list.length > 1000) throw new TypeError('delete() takes at most 1000 keys.');
      await ops.r2Delete(this[ID], list);
    }

    async list(options = undefined) {
      const limit = options?.limit === undefined ? 1000 : Number(options.limit);
      if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw new TypeError(`Invalid list limit of ${options.limit}: it must be between 1 and 1000.`);
      const include = options?.include ?? [];
      const optional = (value) => (value == null ? undefined : String(value));
      const [infos, delimitedPrefixes, cursor] = await ops.r2List(this[ID], [
        optional(options?.prefix),
        optional(options?.delimiter),
        optional(options?.cursor),
        optional(options?.startAfter),
        limit,
      ]);
      const objects = infos.map((info) => {
        const object = new R2Object(info);
        if (!include.includes('httpMetadata')) object.httpMetadata = {};
        if (!include.includes('customMetadata')) object.customMetadata = {};
        return object;
      });
      return cursor == null
        ? { objects, truncated: false, delimitedPrefixes }
        : { objects, truncated: true, cursor, delimitedPrefixes };
    }

    async createMultipartUpload(key, options = undefined) {
      const uploadId = await ops.r2CreateMultipart(this[ID], String(key), newObject(options));
      return new R2MultipartUpload(this[ID], String(key), uploadId);
    }

    resumeMultipartUpload(key, uploadId) {
      return new R2MultipartUpload(this[ID], String(key), String(uploadId));
    }
  }
  Object.defineProperty(R2Bucket.prototype, Symbol.toStringTag, { value: 'R2Bucket' });

  internals.makeR2Bucket = (id) => new R2Bucket(id);
})
