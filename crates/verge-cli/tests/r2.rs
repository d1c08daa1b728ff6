//! R2 bindings end to end: a worker under `verge dev` uses the R2 API against the filesystem
//! store — metadata, checksums, ranges, conditions, delimiter listings, multipart uploads —
//! and streams large objects in and out, on QuickJS and on JavaScriptCore alike (R2's ops are
//! written once, for every engine); shares its bucket with `verge r2 object`, and keeps what
//! it wrote across a SIGKILL.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::{client, get, send, DevServer, ENGINES};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const bucket = env.BUCKET;
    const key = url.searchParams.get('key');
    if (url.pathname === '/upload') {
      const stored = await bucket.put(key, request.body, { httpMetadata: request.headers });
      return Response.json({ size: stored.size, etag: stored.etag });
    }
    if (url.pathname === '/object') {
      const object = await bucket.get(key, { range: request.headers, onlyIf: request.headers });
      if (object === null) return new Response('missing', { status: 404 });
      const headers = new Headers({ etag: object.httpEtag });
      object.writeHttpMetadata(headers);
      if (!('body' in object)) return new Response(null, { status: 304, headers });
      if (object.range) headers.set('content-range', `bytes ${object.range.offset}-${object.range.offset + object.range.length - 1}/${object.size}`);
      return new Response(object.body, { status: object.range ? 206 : 200, headers });
    }
    // Every part of the API; each observation is reported, the test compares.
    const seen = {};
    const error = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.name}: ${e.message}`; } };
    const put = await bucket.put('docs/hello.txt', 'hello world', {
      httpMetadata: { contentType: 'text/plain', cacheControl: 'max-age=60', cacheExpiry: new Date(Date.UTC(2030, 0, 1)) },
      customMetadata: { owner: 'ana' },
    });
    seen.put = { key: put.key, size: put.size, etag: put.etag, httpEtag: put.httpEtag, md5: put.checksums.toJSON().md5, storageClass: put.storageClass, tag: Object.prototype.toString.call(put) };
    seen.uploadedRecently = Math.abs(put.uploaded.getTime() - Date.now()) < 60000;
    const got = await bucket.get('docs/hello.txt');
    seen.text = await got.text();
    seen.bodyUsed = got.bodyUsed;
    const headers = new Headers();
    got.writeHttpMetadata(headers);
    seen.headers = [...headers];
    seen.customMetadata = got.customMetadata;
    seen.head = (await bucket.head('docs/hello.txt')).size;
    seen.headMissing = await bucket.head('nope');
    seen.getMissing = await bucket.get('nope');
    seen.range = await (await bucket.get('docs/hello.txt', { range: { offset: 6, length: 3 } })).text();
    seen.rangeSpan = (await bucket.get('docs/hello.txt', { range: { offset: 6 } })).range;
    seen.suffix = await (await bucket.get('docs/hello.txt', { range: { suffix: 5 } })).text();
    seen.rangeHeader = await (await bucket.get('docs/hello.txt', { range: new Headers({ range: 'bytes=0-4' }) })).text();
    seen.pastEnd = await error(() => bucket.get('docs/hello.txt', { range: { offset: 100 } }));
    const unmet = await bucket.get('docs/hello.txt', { onlyIf: { etagMatches: 'other' } });
    seen.unmet = [Object.prototype.toString.call(unmet), 'body' in unmet, unmet.etag === put.etag];
    const notModified = await bucket.get('docs/hello.txt', { onlyIf: new Headers({ 'if-none-match': put.httpEtag }) });
    seen.notModified = 'body' in notModified;
    seen.createOnly = await bucket.put('docs/hello.txt', 'again', { onlyIf: { etagDoesNotMatch: '*' } });
    seen.afterCreateOnly = await (await bucket.get('docs/hello.txt')).text();
    seen.badMd5 = await error(() => bucket.put('bad', 'x', { md5: '00'.repeat(16) }));
    seen.goodSha256 = (await bucket.put('sha', 'abc', { sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' })).checksums.toJSON().sha256;
    await bucket.put('bin', new Uint8Array([0, 255, 1]));
    seen.bytes = [...new Uint8Array(await (await bucket.get('bin')).arrayBuffer())];
    await bucket.put('streamed', new Response('from a stream').body);
    seen.streamed = await (await bucket.get('streamed')).text();
    await bucket.put('empty', null);
    seen.empty = [(await bucket.head('empty')).size, await (await bucket.get('empty')).text()];
    for (const k of ['photos/2024/a.jpg', 'photos/2024/b.jpg', 'photos/2025/c.jpg', 'photos/index.html', 'photos/z.txt']) await bucket.put(k, k);
    const pages = [];
    let cursor;
    do {
      const page = await bucket.list({ prefix: 'photos/', delimiter: '/', limit: 2, cursor, include: ['customMetadata'] });
      pages.push([page.objects.map((o) => o.key), page.delimitedPrefixes, page.truncated]);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    seen.pages = pages;
    const listed = await bucket.list({ prefix: 'docs/', include: ['httpMetadata', 'customMetadata'] });
    seen.listedMetadata = [listed.objects[0].httpMetadata.contentType, listed.objects[0].customMetadata.owner];
    const bare = await bucket.list({ prefix: 'docs/' });
    seen.bareMetadata = [bare.objects[0].httpMetadata, bare.objects[0].customMetadata];
    seen.startAfter = (await bucket.list({ prefix: 'photos/', startAfter: 'photos/2025/c.jpg' })).objects.map((o) => o.key);
    await bucket.delete(['photos/2024/a.jpg', 'photos/2024/b.jpg']);
    await bucket.delete('photos/z.txt');
    seen.afterDelete = (await bucket.list({ prefix: 'photos/' })).objects.map((o) => o.key);
    const upload = await bucket.createMultipartUpload('big.bin', { httpMetadata: { contentType: 'application/octet-stream' } });
    const big = new Uint8Array(5 * 1024 * 1024).fill(7);
    const one = await upload.uploadPart(1, big);
    const resumed = bucket.resumeMultipartUpload('big.bin', upload.uploadId);
    const two = await resumed.uploadPart(2, 'end');
    const joined = await upload.complete([one, two]);
    seen.multipart = [joined.size, joined.etag.endsWith('-2'), joined.httpMetadata.contentType];
    seen.multipartTail = await (await bucket.get('big.bin', { range: { suffix: 4 } })).text();
    const aborted = await bucket.createMultipartUpload('gone.bin');
    await aborted.uploadPart(1, 'x');
    await aborted.abort();
    seen.afterAbort = await error(() => aborted.uploadPart(2, 'y'));
    seen.longKey = await error(() => bucket.put('k'.repeat(1025), 'x'));
    seen.bigMetadata = await error(() => bucket.put('k', 'x', { customMetadata: { m: 'x'.repeat(2100) } }));
    return Response.json(seen);
  },
};
"#;

const CONFIG: &str = r#"name = "r2-test"
main = "index.js"
r2_buckets = [{ binding = "BUCKET", bucket_name = "media" }]
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), WORKER).unwrap();
    std::fs::write(dir.path().join("wrangler.toml"), CONFIG).unwrap();
    dir
}

#[test]
fn a_worker_uses_the_r2_api() {
    for engine in ENGINES {
        uses_the_r2_api(engine);
    }
}

fn uses_the_r2_api(engine: &[&str]) {
    let project = project();
    let server = DevServer::start(project.path(), engine);
    let reply = get(&client(), &format!("{}/all", server.base));
    assert_eq!(reply.status, 200, "{engine:?}: {}", reply.body);
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let expect =
        |key: &str, value: serde_json::Value| assert_eq!(seen[key], value, "{engine:?}: {key}");
    // The MD5 of "hello world".
    let md5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    expect(
        "put",
        json!({ "key": "docs/hello.txt", "size": 11, "etag": md5, "httpEtag": format!("\"{md5}\""),
                "md5": md5, "storageClass": "Standard", "tag": "[object R2Object]" }),
    );
    expect("uploadedRecently", json!(true));
    expect("text", json!("hello world"));
    expect("bodyUsed", json!(true));
    expect(
        "headers",
        json!([
            ["cache-control", "max-age=60"],
            ["content-type", "text/plain"],
            ["expires", "Tue, 01 Jan 2030 00:00:00 GMT"]
        ]),
    );
    expect("customMetadata", json!({ "owner": "ana" }));
    expect("head", json!(11));
    expect("headMissing", json!(null));
    expect("getMissing", json!(null));
    expect("range", json!("wor"));
    expect("rangeSpan", json!({ "offset": 6, "length": 5 }));
    expect("suffix", json!("world"));
    expect("rangeHeader", json!("hello"));
    expect("unmet", json!(["[object R2Object]", false, true]));
    expect("notModified", json!(false));
    expect("createOnly", json!(null));
    expect("afterCreateOnly", json!("hello world"));
    expect(
        "goodSha256",
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    );
    expect("bytes", json!([0, 255, 1]));
    expect("streamed", json!("from a stream"));
    expect("empty", json!([0, ""]));
    expect(
        "pages",
        json!([
            [[], ["photos/2024/", "photos/2025/"], true],
            [["photos/index.html", "photos/z.txt"], [], false]
        ]),
    );
    expect("listedMetadata", json!(["text/plain", "ana"]));
    expect("bareMetadata", json!([{}, {}]));
    expect("startAfter", json!(["photos/index.html", "photos/z.txt"]));
    expect(
        "afterDelete",
        json!(["photos/2025/c.jpg", "photos/index.html"]),
    );
    expect(
        "multipart",
        json!([5 * 1024 * 1024 + 3, true, "application/octet-stream"]),
    );
    expect("multipartTail", json!("\u{7}end"));
    let error = |key: &str, needle: &str| {
        let message = seen[key].as_str().unwrap();
        assert!(message.contains(needle), "{engine:?}: {key}: {message}");
    };
    error("pastEnd", "past the end");
    error("badMd5", "md5 checksum");
    error("afterAbort", "does not exist");
    error("longKey", "1025");
    error("bigMetadata", "metadata");
}

#[test]
fn large_objects_stream_in_and_out_with_ranges_and_conditions() {
    for engine in ENGINES {
        streams_large_objects(engine);
    }
}

fn streams_large_objects(engine: &[&str]) {
    let project = project();
    let server = DevServer::start(project.path(), engine);
    // The server's own footprint (a debug binary is tens of MiB) before any object.
    let at_start = server.peak_rss_kib();
    let agent = client();
    let object: Vec<u8> = (0..40 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let reply = send(
        &agent,
        http::Request::put(format!("{}/upload?key=video.bin", server.base))
            .header("content-type", "video/mp4")
            .body(object.clone())
            .unwrap(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stored: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(stored["size"], object.len());
    let etag = format!("\"{}\"", stored["etag"].as_str().unwrap());

    let response = agent
        .get(format!("{}/object?key=video.bin", server.base))
        .call()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let body = response
        .into_body()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    assert!(
        body == object,
        "read back {} bytes, not what was stored",
        body.len()
    );

    let ranged = agent
        .get(format!("{}/object?key=video.bin", server.base))
        .header("range", "bytes=1000-1999")
        .call()
        .unwrap();
    assert_eq!(ranged.status(), 206);
    let expected_range = format!("bytes 1000-1999/{}", object.len());
    assert_eq!(ranged.headers()["content-range"], expected_range.as_str());
    assert_eq!(
        ranged.into_body().read_to_vec().unwrap(),
        &object[1000..2000]
    );
    let cached = agent
        .get(format!("{}/object?key=video.bin", server.base))
        .header("if-none-match", &etag)
        .call()
        .unwrap();
    assert_eq!(cached.status(), 304);
    // Streamed both ways: neither the upload nor the download was held whole.
    let growth = server.peak_rss_kib() - at_start;
    assert!(
        growth < 20 * 1024,
        "{engine:?}: the server's peak RSS grew by {growth} KiB for a 40 MiB object"
    );
}

/// Runs `verge r2 object ARGS… --config PROJECT`; its stdout, or its stderr as the failure.
fn r2_object(project: &std::path::Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = support::verge()
        .args(["r2", "object"])
        .args(args)
        .arg("--config")
        .arg(project)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn the_cli_shares_buckets_with_a_running_worker_and_writes_survive_sigkill() {
    let project = project();
    let file = project.path().join("logo.svg");
    std::fs::write(&file, "<svg/>").unwrap();
    let path = file.to_str().unwrap();
    r2_object(
        project.path(),
        &[
            "put",
            "media/logo.svg",
            "--file",
            path,
            "--content-type",
            "image/svg+xml",
        ],
    )
    .unwrap();
    let bad = r2_object(project.path(), &["put", "media", "--file", path]).unwrap_err();
    assert!(bad.contains("BUCKET/KEY"), "{bad}");

    let server = DevServer::start(project.path(), &[]);
    let agent = client();
    let response = agent
        .get(format!("{}/object?key=logo.svg", server.base))
        .call()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.into_body().read_to_string().unwrap(), "<svg/>");
    let reply = send(
        &agent,
        http::Request::put(format!("{}/upload?key=notes.txt", server.base))
            .body(b"written by a worker".to_vec())
            .unwrap(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let read = r2_object(project.path(), &["get", "media/notes.txt"]).unwrap();
    assert_eq!(read, b"written by a worker");
    r2_object(project.path(), &["delete", "media/logo.svg"]).unwrap();
    let gone = get(&agent, &format!("{}/object?key=logo.svg", server.base));
    assert_eq!(gone.status, 404);
    let missing = r2_object(project.path(), &["get", "media/logo.svg"]).unwrap_err();
    assert!(missing.contains("no object logo.svg"), "{missing}");

    // Dropping the server kills it with SIGKILL: no shutdown, no flush.
    drop(server);
    let server = DevServer::start(project.path(), &[]);
    let again = get(&agent, &format!("{}/object?key=notes.txt", server.base));
    assert_eq!(
        (again.status, again.body.as_str()),
        (200, "written by a worker")
    );
}
