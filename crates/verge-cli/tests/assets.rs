//! Static assets (`[assets]`) in front of a worker that owns `/api/*`, as a user's site would
//! be: HTML, CSS and JS with their types, ETags and 304s, HTML paths and their redirects, byte
//! ranges, the `ASSETS` binding, the nearest `404.html` for what matches nothing, and no way
//! out of the directory — not by `..`, encoded or not, nor by a symlink; the site with its
//! worker on QuickJS and on JavaScriptCore alike. And a directory's `_redirects` and
//! `_headers` rules.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use support::{client, send, DevServer, Reply, ENGINES};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/api/styles') {
      const css = await env.ASSETS.fetch(new URL('/style.css', request.url));
      return new Response(`via the binding: ${await css.text()}`);
    }
    if (url.pathname.startsWith('/api/')) return Response.json({ api: url.pathname });
    // Everything else the assets did not answer: their not-found handling decides.
    return env.ASSETS.fetch(request);
  },
};
"#;

const CONFIG: &str = r#"name = "site"
main = "src/index.js"

[assets]
directory = "./public"
binding = "ASSETS"
not_found_handling = "404-page"
run_worker_first = ["/api/*"]
"#;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &[u8]| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("src/index.js", WORKER.as_bytes());
    write("wrangler.toml", CONFIG.as_bytes());
    write("public/index.html", b"<h1>home</h1>");
    write("public/style.css", b"body { color: teal }");
    write("public/app.js", b"console.log('app')");
    write("public/about.html", b"<h1>about</h1>");
    write("public/blog/index.html", b"<h1>blog</h1>");
    write("public/404.html", b"<h1>not here</h1>");
    write("public/docs/404.html", b"<h1>no such doc</h1>");
    write("public/api/styles", b"an asset the worker's route shadows");
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    write("public/big.bin", &big);
    write("secret.txt", b"outside the assets");
    std::os::unix::fs::symlink(root.join("secret.txt"), root.join("public/link.txt")).unwrap();
    dir
}

fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(&client(), request.body(Vec::new()).unwrap())
}

/// The status line and body of a request sent byte for byte: a client would tidy `..` away.
fn raw(base: &str, path: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_site_is_served_from_its_assets_around_its_worker() {
    for engine in ENGINES {
        serves_a_site_around_its_worker(engine);
    }
}

/// The site on `engine`: the assets are the server's, the worker and its binding the engine's.
fn serves_a_site_around_its_worker(engine: &[&str]) {
    let project = site();
    let server = DevServer::start(project.path(), engine);
    let base = server.base.as_str();
    let get = |path: &str| request(base, "GET", path, &[]);

    let home = get("/");
    assert_eq!((home.status, home.body.as_str()), (200, "<h1>home</h1>"));
    assert_eq!(home.headers["content-type"], "text/html; charset=utf-8");
    let etag = home.headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let cached = request(base, "GET", "/", &[("if-none-match", &etag)]);
    assert_eq!((cached.status, cached.body.as_str()), (304, ""));
    assert_eq!(
        get("/style.css").headers["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        get("/app.js").headers["content-type"],
        "application/javascript; charset=utf-8"
    );
    let head = request(base, "HEAD", "/about", &[]);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(head.headers["content-length"], "14");

    // HTML paths: the canonical spelling serves, the others redirect to it.
    assert_eq!(get("/about").body, "<h1>about</h1>");
    let redirect = |path: &str, to: &str| {
        let reply = get(path);
        assert_eq!(
            (reply.status, reply.headers["location"].to_str().unwrap()),
            (307, to),
            "{path}"
        );
    };
    redirect("/about.html", "/about");
    redirect("/index.html", "/");
    redirect("/blog", "/blog/");
    redirect("/blog/index.html?x=1", "/blog/?x=1");
    assert_eq!(get("/blog/").body, "<h1>blog</h1>");

    // The worker owns /api/*, even where a file has the same path; it reaches files through
    // the binding, and passes on what it does not handle.
    assert_eq!(get("/api/users").body, r#"{"api":"/api/users"}"#);
    assert_eq!(
        get("/api/styles").body,
        "via the binding: body { color: teal }",
        "{engine:?}"
    );
    let missing = get("/nothing/here");
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, "<h1>not here</h1>")
    );
    let missing_doc = get("/docs/intro");
    assert_eq!(
        (missing_doc.status, missing_doc.body.as_str()),
        (404, "<h1>no such doc</h1>")
    );

    let range = request(base, "GET", "/big.bin", &[("range", "bytes=10-19")]);
    assert_eq!(range.status, 206);
    assert_eq!(range.headers["content-range"], "bytes 10-19/3145728");
    assert_eq!(
        range.body.as_bytes(),
        (10..20u8).collect::<Vec<_>>().as_slice()
    );
    let past = request(base, "GET", "/big.bin", &[("range", "bytes=99999999-")]);
    assert_eq!(past.status, 416);
    let whole = client().get(format!("{base}/big.bin")).call().unwrap();
    assert_eq!(whole.headers()["content-length"], "3145728");
    let bytes = whole
        .into_body()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap();
    assert!(bytes.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));

    // Nothing outside the directory, however the path is spelled.
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/link.txt",
        "/blog/..%5c..%5csecret.txt",
    ] {
        let answer = raw(base, path);
        assert!(
            !answer.contains("outside the assets"),
            "{path} leaked: {answer}"
        );
        assert!(
            answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"),
            "{path}: {answer}"
        );
    }
}

#[test]
fn a_project_of_assets_alone_needs_no_worker() {
    let dir = support::project(&[
        (
            "wrangler.toml",
            "name = \"spa\"\n\n[assets]\ndirectory = \"./dist\"\nnot_found_handling = \"single-page-application\"\n",
        ),
        ("dist/index.html", "<div id=app></div>"),
        ("dist/assets/main.js", "mount()"),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    let home = request(&server.base, "GET", "/", &[]);
    assert_eq!(
        (home.status, home.body.as_str()),
        (200, "<div id=app></div>")
    );
    let script = request(&server.base, "GET", "/assets/main.js", &[]);
    assert_eq!(script.body, "mount()");
    // Every path that is no file is the app's to route.
    let deep = request(&server.base, "GET", "/settings/profile", &[]);
    assert_eq!(
        (deep.status, deep.body.as_str()),
        (200, "<div id=app></div>")
    );

    let plain = support::project(&[
        (
            "wrangler.toml",
            "name = \"files\"\nassets = { directory = \"files\" }\n",
        ),
        ("files/a.txt", "a"),
    ]);
    let server = DevServer::start(plain.path(), &[]);
    assert_eq!(request(&server.base, "GET", "/a.txt", &[]).body, "a");
    assert_eq!(request(&server.base, "GET", "/b.txt", &[]).status, 404);

    let neither = support::project(&[("wrangler.toml", "name = \"empty\"\n")]);
    let message = support::dev_refusal(neither.path());
    assert!(
        message.contains("no `main` entry point (nor `[assets]`)"),
        "{message}"
    );
}

/// An assets directory's `_redirects` (redirects with their status, a splat carried over, a
/// page served at another path) and `_headers` (set, added to, removed) apply as on Workers,
/// neither file is served, and a line that breaks a rule is skipped while the others apply.
#[test]
fn redirects_and_headers_files_apply() {
    let dir = support::project(&[
        (
            "wrangler.toml",
            "name = \"rules\"\nassets = { directory = \"site\" }\n",
        ),
        ("site/index.html", "<h1>home</h1>"),
        ("site/app.html", "<div id=app></div>"),
        ("site/docs/new.html", "<h1>new docs</h1>"),
        ("site/static/a.css", "a { }"),
        (
            "site/_redirects",
            "# moved pages\n/old /docs/new 301\n/docs/v1/* /docs/:splat 308\n\
             /app/* /app.html 200\n/broken\n/home / 302 # inline comment\n",
        ),
        (
            "site/_headers",
            "/*\n  X-Frame-Options: DENY\n  Cache-Control: no-cache\n\
             /static/*\n  Cache-Control: max-age=31536000, immutable\n  ! X-Frame-Options\n\
             /docs/:page\n  X-Doc: :page\n",
        ),
    ]);
    let mut server = DevServer::start(dir.path(), &[]);
    let base = server.base.clone();
    let get = |path: &str| request(&base, "GET", path, &[]);

    let moved = get("/old?from=mail");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.headers["location"], "/docs/new?from=mail");
    let versioned = get("/docs/v1/new");
    assert_eq!(
        (
            versioned.status,
            versioned.headers["location"].to_str().unwrap()
        ),
        (308, "/docs/new")
    );
    assert_eq!(get("/home").headers["location"], "/");
    // A 200 rule serves the page at the path asked for, as a single-page app's routes want.
    let routed = get("/app/settings/profile");
    assert_eq!(
        (routed.status, routed.body.as_str()),
        (200, "<div id=app></div>")
    );

    let page = get("/docs/new");
    assert_eq!(page.body, "<h1>new docs</h1>");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["x-doc"], "new");
    assert_eq!(page.headers["cache-control"], "no-cache");
    let css = get("/static/a.css");
    let cache: Vec<&str> = css
        .headers
        .get_all("cache-control")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cache, ["no-cache", "max-age=31536000, immutable"]);
    assert!(css.headers.get("x-frame-options").is_none());

    for file in ["/_redirects", "/_headers"] {
        assert_eq!(get(file).status, 404, "{file} was served");
    }
    assert!(
        server.wait_for_stderr(
            "_redirects: line 5 (/broken)",
            std::time::Duration::from_secs(5)
        ),
        "{}",
        server.stderr()
    );
}
