//! R2 buckets with their bytes in S3: `verge serve` with `[objects] backend = "s3"` against a
//! real S3-compatible server (moto's, started here on a free loopback port; `.ci/run` installs
//! it with pip, or set `VERGE_MOTO_SERVER` to its `moto_server`). A worker's objects land in the
//! S3 bucket, read back with their metadata and ranges, join from multipart uploads, and leave
//! the bucket when deleted.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use support::s3::S3Server;
use support::{client, send, DevServer, Reply};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get('key');
    switch (url.pathname) {
      case '/put': {
        const stored = await env.MEDIA.put(key, request.body, { httpMetadata: request.headers });
        return new Response(stored.etag);
      }
      case '/get': {
        const range = url.searchParams.has('suffix') ? { suffix: Number(url.searchParams.get('suffix')) } : undefined;
        const object = await env.MEDIA.get(key, { range });
        if (object === null) return new Response('missing', { status: 404 });
        const headers = new Headers();
        object.writeHttpMetadata(headers);
        return new Response(object.body, { headers });
      }
      case '/list':
        return Response.json((await env.MEDIA.list({ prefix: url.searchParams.get('prefix') ?? '' })).objects.map((o) => [o.key, o.size]));
      case '/delete':
        await env.MEDIA.delete(key);
        return new Response('deleted');
      case '/multipart': {
        const upload = await env.MEDIA.createMultipartUpload(key);
        const first = await upload.uploadPart(1, new Uint8Array(5 * 1024 * 1024).fill(1));
        const second = await upload.uploadPart(2, 'tail');
        const joined = await upload.complete([first, second]);
        return Response.json([joined.size, joined.etag.endsWith('-2')]);
      }
    }
    return new Response('no such route', { status: 404 });
  },
};
"#;

const BUCKET: &str = "verge-objects";

fn project(dir: &Path) {
    let root = dir.join("media");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.js"), WORKER).unwrap();
    std::fs::write(
        root.join("wrangler.toml"),
        "name = \"media\"\nmain = \"index.js\"\nroute = \"media.test/*\"\n\
         r2_buckets = [{ binding = \"MEDIA\", bucket_name = \"media\" }]\n",
    )
    .unwrap();
}

fn call(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("host", "media.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(&client(), request.body(body).unwrap())
}

#[test]
fn objects_live_in_s3_when_the_config_says_so() {
    let s3 = S3Server::start(BUCKET);
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let config = dir.path().join("verge.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n\
             [objects]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\n\
             region = \"us-east-1\"\nallow_http = true\n\n\
             [[workers]]\npath = \"media\"\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "verge-test"),
        ("AWS_SECRET_ACCESS_KEY", "verge-test-secret"),
    ];
    let server = DevServer::serve_with_env(&config, &[], &credentials);
    let base = server.base.clone();

    let text = b"hello from s3".to_vec();
    let put = call(
        &base,
        "PUT",
        "/put?key=a/hello.txt",
        &[("content-type", "text/plain")],
        text,
    );
    assert_eq!(put.status, 200, "{}", put.body);
    // The MD5 of "hello from s3" is the etag, as S3's own would be.
    assert_eq!(put.body.len(), 32);
    let blobs = s3.keys();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].starts_with("blobs/"), "{blobs:?}");

    let got = call(&base, "GET", "/get?key=a/hello.txt", &[], Vec::new());
    assert_eq!((got.status, got.body.as_str()), (200, "hello from s3"));
    assert_eq!(got.headers["content-type"], "text/plain");
    let tail = call(
        &base,
        "GET",
        "/get?key=a/hello.txt&suffix=2",
        &[],
        Vec::new(),
    );
    assert_eq!(tail.body, "s3");

    let joined = call(&base, "GET", "/multipart?key=big.bin", &[], Vec::new());
    assert_eq!(joined.body, format!("[{},true]", 5 * 1024 * 1024 + 4));
    let listed = call(&base, "GET", "/list", &[], Vec::new());
    assert_eq!(
        listed.body,
        format!(
            "[[\"a/hello.txt\",13],[\"big.bin\",{}]]",
            5 * 1024 * 1024 + 4
        )
    );
    // The parts' bytes are gone once joined: one blob per object.
    assert_eq!(s3.keys().len(), 2, "{:?}", s3.keys());

    let deleted = call(&base, "GET", "/delete?key=a/hello.txt", &[], Vec::new());
    assert_eq!(deleted.body, "deleted");
    assert_eq!(s3.keys().len(), 1, "{:?}", s3.keys());
    let missing = call(&base, "GET", "/get?key=a/hello.txt", &[], Vec::new());
    assert_eq!(missing.status, 404);
}
