//! WebAssembly from npm: `@cf-wasm/png`, a Rust PNG codec built with wasm-bindgen for Workers,
//! loads through its `workerd` export (a `.wasm` import and wasm-bindgen's glue, with externref
//! tables) and encodes and decodes images inside a worker under `verge dev`, unmodified as npm
//! installs it (`.ci/run` installs it into .ci/npm); its machine code is kept on disk.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, get, project, send, DevServer};

const WORKER: &str = r#"
import { encode, decode } from '@cf-wasm/png';

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export default {
  async fetch(request) {
    if (request.method === 'POST') {
      try {
        const image = decode(new Uint8Array(await request.arrayBuffer()));
        return Response.json({ width: image.width, height: image.height, first: Array.from(image.image.slice(0, 8)) });
      } catch (error) {
        return Response.json({ error: String(error) }, { status: 400 });
      }
    }
    const width = 64, height = 32;
    const pixels = new Uint8Array(width * height * 4);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
    const png = encode(pixels, width, height);
    const back = decode(png);
    const same = back.width === width && back.height === height && back.image.every((v, i) => v === pixels[i]);
    return Response.json({ png: hex(png), same });
  },
};
"#;

#[test]
fn a_wasm_bindgen_png_codec_from_npm_encodes_and_decodes_in_a_worker() {
    let installed = support::repo_root().join(".ci/npm/node_modules");
    assert!(
        installed.join("@cf-wasm/png/package.json").is_file(),
        "no @cf-wasm/png in {}: run .ci/run (it installs it with npm)",
        installed.display()
    );
    let dir = project(&[
        ("wrangler.toml", "name = \"png\"\nmain = \"index.js\"\n"),
        ("index.js", WORKER),
    ]);
    std::os::unix::fs::symlink(&installed, dir.path().join("node_modules")).unwrap();
    let server = DevServer::start(dir.path(), &[]);
    let agent = client();

    let encoded = get(&agent, &server.base);
    assert_eq!(encoded.status, 200, "{}", encoded.body);
    let answer: serde_json::Value = serde_json::from_str(&encoded.body).unwrap();
    assert_eq!(answer["same"], true, "the image came back as it went in");
    let hex = answer["png"].as_str().unwrap();
    let png: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    // Its machine code is kept beside the bindings' data, for the next `verge dev`.
    let kept = std::fs::read_dir(dir.path().join(".verge/state/compiled-wasm"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "cwasm"))
        .count();
    assert_eq!(kept, 1, "one compiled module kept");

    // The bytes through HTTP and back into the codec.
    let post = |body: Vec<u8>| {
        send(
            &agent,
            http::Request::post(&server.base).body(body).unwrap(),
        )
    };
    let decoded = post(png);
    assert_eq!(decoded.status, 200, "{}", decoded.body);
    assert_eq!(
        decoded.body,
        r#"{"width":64,"height":32,"first":[0,7,14,21,28,35,42,49]}"#
    );

    // The codec's error, thrown from Wasm through wasm-bindgen's externref table, is the
    // worker's to catch; the isolate serves on.
    let refused = post(b"not a png".to_vec());
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("error"), "{}", refused.body);
    assert_eq!(get(&agent, &server.base).status, 200);
}
