//! The Cache API end to end under `verge dev`: a MISS then a HIT with the same body across
//! requests and across a restart (the disk tier), and HTTP caching semantics observed from a
//! worker, on QuickJS and on JavaScriptCore alike (the Cache API's ops are written once).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, get, send, DevServer, ENGINES};

const WORKER: &str = r#"
let made = 0;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const cache = caches.default;
    if (url.pathname === '/page') {
      const key = new Request('https://cache.test/page');
      const hit = await cache.match(key);
      if (hit) return hit;
      const fresh = new Response(`page made ${++made}`, { headers: { 'cache-control': 'max-age=60' } });
      await cache.put(key, fresh.clone());
      const miss = new Response(fresh.body, fresh);
      miss.headers.set('cf-cache-status', 'MISS');
      return miss;
    }
    if (url.pathname === '/conditional') {
      // The client's own conditional and range headers, against what the worker stored.
      const key = 'https://cache.test/tagged';
      if (!(await cache.match(key))) {
        await cache.put(key, new Response('0123456789', { headers: { etag: '"v1"', 'cache-control': 'max-age=60' } }));
      }
      return (await cache.match(new Request(key, { headers: request.headers })));
    }
    const seen = {};
    const at = (path) => `https://cache.test/${path}`;
    await cache.put(at('no-store'), new Response('x', { headers: { 'cache-control': 'no-store' } }));
    seen.noStore = await cache.match(at('no-store')) ?? null;
    await cache.put(at('private'), new Response('x', { headers: { 'cache-control': 'private, max-age=60' } }));
    seen.private = await cache.match(at('private')) ?? null;
    await cache.put(at('cookie'), new Response('x', { headers: { 'set-cookie': 'a=1', 'cache-control': 'max-age=60' } }));
    seen.cookie = await cache.match(at('cookie')) ?? null;
    await cache.put(at('cookie-private'), new Response('kept', { headers: { 'set-cookie': 'a=1', 'cache-control': 'private=Set-Cookie, max-age=60' } }));
    const kept = await cache.match(at('cookie-private'));
    seen.cookiePrivate = [await kept.text(), kept.headers.get('set-cookie')];
    await cache.put(at('expired'), new Response('x', { headers: { expires: new Date(Date.now() - 1000).toUTCString() } }));
    seen.expired = await cache.match(at('expired')) ?? null;
    await cache.put(new Request(at('vary'), { headers: { 'accept-language': 'en' } }),
      new Response('english', { headers: { vary: 'Accept-Language', 'cache-control': 'max-age=60' } }));
    seen.varyFr = await cache.match(new Request(at('vary'), { headers: { 'accept-language': 'fr' } })) ?? null;
    seen.varyEn = await (await cache.match(new Request(at('vary'), { headers: { 'accept-language': 'en' } }))).text();
    const named = await caches.open('mine');
    await named.put(at('named'), new Response('in mine', { headers: { 'cache-control': 'max-age=60' } }));
    seen.namedInDefault = await cache.match(at('named')) ?? null;
    seen.named = await (await named.match(at('named'))).text();
    seen.deleted = [await named.delete(at('named')), await named.delete(at('named'))];
    const error = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.name}: ${e.message}`; } };
    seen.post = await error(() => cache.put(new Request(at('p'), { method: 'POST' }), new Response('x')));
    seen.partial = await error(() => cache.put(at('r'), new Response('x', { status: 206 })));
    seen.varyStar = await error(() => cache.put(at('v'), new Response('x', { headers: { vary: '*' } })));
    return Response.json(seen);
  },
};
"#;

#[test]
fn the_cache_api_stores_matches_and_follows_http_caching() {
    for engine in ENGINES {
        stores_matches_and_follows_http_caching(engine);
    }
}

fn stores_matches_and_follows_http_caching(engine: &[&str]) {
    let project = tempfile::tempdir().unwrap();
    let script = project.path().join("worker.js");
    std::fs::write(&script, WORKER).unwrap();
    let server = DevServer::start(&script, engine);
    let agent = client();

    let first = agent.get(format!("{}/page", server.base)).call().unwrap();
    assert_eq!(first.headers()["cf-cache-status"], "MISS", "{engine:?}");
    assert_eq!(first.into_body().read_to_string().unwrap(), "page made 1");
    let second = agent.get(format!("{}/page", server.base)).call().unwrap();
    assert_eq!(second.headers()["cf-cache-status"], "HIT");
    assert_eq!(second.into_body().read_to_string().unwrap(), "page made 1");

    let conditional = |name: &str, value: &str| {
        send(
            &agent,
            http::Request::get(format!("{}/conditional", server.base))
                .header(name, value)
                .body(Vec::new())
                .unwrap(),
        )
    };
    assert_eq!(conditional("if-none-match", "\"v1\"").status, 304);
    assert_eq!(conditional("if-none-match", "\"v2\"").body, "0123456789");
    let partial = conditional("range", "bytes=2-5");
    assert_eq!((partial.status, partial.body.as_str()), (206, "2345"));
    assert_eq!(conditional("range", "bytes=-3").body, "789");
    assert_eq!(conditional("range", "bytes=50-").status, 416);

    let reply = get(&agent, &format!("{}/semantics", server.base));
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    use serde_json::json;
    let expect =
        |key: &str, value: serde_json::Value| assert_eq!(seen[key], value, "{engine:?}: {key}");
    expect("noStore", json!(null));
    expect("private", json!(null));
    expect("cookie", json!(null));
    expect("cookiePrivate", json!(["kept", null]));
    expect("expired", json!(null));
    expect("varyFr", json!(null));
    expect("varyEn", json!("english"));
    expect("namedInDefault", json!(null));
    expect("named", json!("in mine"));
    expect("deleted", json!([true, false]));
    let error = |key: &str, needle: &str| {
        let message = seen[key].as_str().unwrap();
        assert!(
            message.starts_with("TypeError") && message.contains(needle),
            "{engine:?}: {key}: {message}"
        );
    };
    error("post", "non-GET");
    error("partial", "206");
    error("varyStar", "Vary: *");
}

#[test]
fn the_cache_keeps_entries_on_disk_across_a_restart() {
    let project = tempfile::tempdir().unwrap();
    let script = project.path().join("worker.js");
    std::fs::write(&script, WORKER).unwrap();
    let agent = client();
    let page = |server: &DevServer| {
        let response = agent.get(format!("{}/page", server.base)).call().unwrap();
        let status = response.headers()["cf-cache-status"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, response.into_body().read_to_string().unwrap())
    };
    let server = DevServer::start(&script, &[]);
    assert_eq!(page(&server), ("MISS".into(), "page made 1".into()));
    // Dropping the server kills it with SIGKILL; memory is gone, the disk tier is not.
    drop(server);
    let server = DevServer::start(&script, &[]);
    assert_eq!(page(&server), ("HIT".into(), "page made 1".into()));
    assert!(project.path().join(".verge/state/cache.sqlite3").is_file());
}

#[test]
fn fetch_with_cf_cache_options_goes_through_the_cache() {
    // The origin counts what reaches it; `no-store` marks what no cache may keep by its headers.
    const ORIGIN: &str = r#"
      let served = 0;
      export default {
        fetch(request) {
          const url = new URL(request.url);
          const headers = url.pathname === '/no-store' ? { 'cache-control': 'no-store' } : {};
          return new Response(`origin ${url.pathname} #${++served}`, { headers });
        },
      };"#;
    const PROXY: &str = r#"
      export default {
        async fetch(request, env) {
          const url = new URL(request.url);
          const cf = JSON.parse(url.searchParams.get('cf'));
          const response = await fetch(`${env.ORIGIN}${url.pathname}`, { cf });
          return new Response(`${response.headers.get('cf-cache-status')} ${await response.text()}`);
        },
      };"#;
    let (_dir, _origin, proxy) = support::origin_and_proxy(ORIGIN, PROXY);
    let agent = client();
    let ask = |path: &str, cf: &str| {
        let cf = cf
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(' ', "");
        get(&agent, &format!("{}{path}?cf={cf}", proxy.base)).body
    };
    // cacheTtl keeps the answer whatever the origin's headers say.
    assert_eq!(ask("/a", r#"{"cacheTtl": 60}"#), "MISS origin /a #1");
    assert_eq!(ask("/a", r#"{"cacheTtl": 60}"#), "HIT origin /a #1");
    assert_eq!(
        ask("/no-store", r#"{"cacheTtl": 60}"#),
        "MISS origin /no-store #2"
    );
    assert_eq!(
        ask("/no-store", r#"{"cacheTtl": 60}"#),
        "HIT origin /no-store #2"
    );
    // cacheEverything follows the headers: no-store is fetched every time.
    assert_eq!(
        ask(
            "/no-store",
            r#"{"cacheEverything": true, "cacheKey": "ns"}"#
        ),
        "MISS origin /no-store #3"
    );
    assert_eq!(
        ask(
            "/no-store",
            r#"{"cacheEverything": true, "cacheKey": "ns"}"#
        ),
        "MISS origin /no-store #4"
    );
    // A cacheKey shares one entry between URLs; a ttl of 0 bypasses the cache.
    assert_eq!(
        ask("/b", r#"{"cacheTtl": 60, "cacheKey": "shared"}"#),
        "MISS origin /b #5"
    );
    assert_eq!(
        ask("/c", r#"{"cacheTtl": 60, "cacheKey": "shared"}"#),
        "HIT origin /b #5"
    );
    assert_eq!(ask("/d", r#"{"cacheTtl": 0}"#), "BYPASS origin /d #6");
    // Without cache options, fetch() never touches the cache.
    assert_eq!(ask("/a", "null"), "null origin /a #7");
}
