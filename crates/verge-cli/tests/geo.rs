//! `request.cf` end to end. Under `verge dev`: Miniflare's fixed place, and a `CF-IPCountry`
//! header driving a country redirect. Under `verge serve`: the country of the client a trusted
//! proxy names, looked up in a real GeoIP database (ip-location-db's CC0 country database from
//! npm, which `.ci/run` installs; or set `VERGE_GEO_DATABASE`), the configured `colo`, and
//! forwarding headers from anyone else ignored.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use support::{client, send, DevServer, Reply};

const WORKER: &str = r#"
const REDIRECTS = { FR: 'https://example.fr/', DE: 'https://example.de/' };
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/redirect') {
      const target = REDIRECTS[request.cf.country];
      return target ? Response.redirect(target, 302) : new Response(`welcome, ${request.cf.country}`);
    }
    return Response.json({ cf: request.cf, country: request.headers.get('cf-ipcountry'), ip: request.headers.get('cf-connecting-ip') });
  },
};
"#;

fn geo_database() -> PathBuf {
    if let Some(path) = std::env::var_os("VERGE_GEO_DATABASE") {
        return path.into();
    }
    let path = support::repo_root().join(
        ".ci/npm/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb",
    );
    assert!(
        path.is_file(),
        "no GeoIP database at {}: run .ci/run (it installs @ip-location-db/geo-whois-asn-country-mmdb \
         with npm) or set VERGE_GEO_DATABASE",
        path.display()
    );
    path
}

fn request(base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = http::Request::get(format!("{base}{path}")).header("host", "geo.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(&client(), request.body(Vec::new()).unwrap())
}

fn cf_of(reply: &Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

#[test]
fn dev_gives_a_fixed_place_and_a_header_sets_the_country() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("worker.js");
    std::fs::write(&script, WORKER).unwrap();
    let server = DevServer::start(&script, &[]);

    let seen = cf_of(&request(&server.base, "/", &[]));
    assert_eq!(seen["cf"]["country"], "US");
    assert_eq!(seen["cf"]["city"], "Austin");
    assert_eq!(seen["cf"]["colo"], "DFW");
    assert_eq!(seen["cf"]["httpProtocol"], "HTTP/1.1");
    assert_eq!(seen["country"], "US");

    let french = request(&server.base, "/redirect", &[("cf-ipcountry", "FR")]);
    assert_eq!(french.status, 302);
    assert_eq!(french.headers["location"], "https://example.fr/");
    let home = request(&server.base, "/redirect", &[]);
    assert_eq!((home.status, home.body.as_str()), (200, "welcome, US"));
}

fn serve(dir: &std::path::Path, geo: &str) -> DevServer {
    let root = dir.join("geo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.js"), WORKER).unwrap();
    std::fs::write(
        root.join("wrangler.toml"),
        "name = \"geo\"\nmain = \"index.js\"\nroute = \"geo.test/*\"\n",
    )
    .unwrap();
    let config = dir.join("verge.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ncolo = \"AMS\"\n\n[geo]\n{geo}\n\n\
             [[workers]]\npath = \"geo\"\n"
        ),
    )
    .unwrap();
    DevServer::serve(&config, &[])
}

#[test]
fn serve_locates_the_client_a_trusted_proxy_names() {
    let database = geo_database();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &format!(
            "database = {:?}\ntrusted_proxies = [\"127.0.0.1/32\"]",
            database.to_str().unwrap()
        ),
    );
    // Google's public resolver, registered in the US.
    let google = cf_of(&request(
        &server.base,
        "/",
        &[("cf-connecting-ip", "8.8.8.8")],
    ));
    assert_eq!(google["cf"]["country"], "US");
    assert_eq!(google["cf"]["isEUCountry"], "0");
    assert_eq!(google["cf"]["colo"], "AMS");
    assert_eq!(google["ip"], "8.8.8.8");
    assert_eq!(google["country"], "US");
    // RIPE NCC's own address, registered in the Netherlands.
    let ripe = cf_of(&request(
        &server.base,
        "/",
        &[("x-forwarded-for", "193.0.6.139")],
    ));
    assert_eq!(ripe["cf"]["country"], "NL");
    assert_eq!(ripe["cf"]["isEUCountry"], "1");
    let redirected = request(&server.base, "/redirect", &[("cf-ipcountry", "DE")]);
    assert_eq!(redirected.headers["location"], "https://example.de/");
}

#[test]
fn serve_ignores_forwarding_headers_from_untrusted_peers() {
    let database = geo_database();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &format!("database = {:?}", database.to_str().unwrap()),
    );
    let seen = cf_of(&request(
        &server.base,
        "/",
        &[("cf-connecting-ip", "8.8.8.8"), ("cf-ipcountry", "FR")],
    ));
    // The peer is loopback, which no country holds; the headers were not believed.
    assert_eq!(seen["ip"], "127.0.0.1");
    assert!(seen["cf"].get("country").is_none(), "{seen}");
    assert_eq!(seen["country"], serde_json::Value::Null);
    assert_eq!(seen["cf"]["colo"], "AMS");
}
