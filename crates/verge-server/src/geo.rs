//! `request.cf` and the client's address: what Workers tell a worker about who is asking —
//! where they are (country, continent, city, region, timezone, AS), which point of presence
//! answered (`colo`) and over which protocol. Locations come from a database in MaxMind's
//! format (GeoLite2's layout, or ip-location-db's flat `country_code`), or from the headers a
//! trusted proxy in front set (`CF-Connecting-IP`, `X-Forwarded-For`, `CF-IPCountry`); under
//! `verge dev` with no database, from fixed local values as Miniflare gives them, with a
//! `CF-IPCountry` header setting the country so that country logic can be tried.

use crate::tls::TlsFacts;
use http::HeaderMap;
use ipnet::IpNet;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;

/// The EU's member states, for `isEUCountry`.
const EU: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Where `request.cf`'s location comes from, and the point of presence's name.
pub struct Geo {
    database: Option<maxminddb::Reader<Vec<u8>>>,
    colo: String,
    /// Peers whose forwarding headers are believed.
    trusted: Vec<IpNet>,
    /// `verge dev`: fixed local values stand in for a database, and `CF-IPCountry` is believed
    /// from anyone.
    local: bool,
}

/// `request.cf` as the JSON text a worker is given, and the country in it (for `CF-IPCountry`).
#[derive(Clone)]
pub struct CfText {
    pub json: Rc<str>,
    pub country: Option<Rc<str>>,
}

/// The `request.cf` of recent clients, kept by each serving thread: a client's requests mostly
/// come again, and building `cf` anew is a lookup, a map and a serialization every time.
#[derive(Default)]
pub struct CfCache(RefCell<HashMap<CfKey, CfText>>);

/// What `request.cf` depends on: the client's address, its `CF-IPCountry`, the protocol and
/// the connection's TLS.
type CfKey = (IpAddr, Option<[u8; 2]>, &'static str, Option<TlsFacts>);

/// Clients a [`CfCache`] holds before it starts over.
const CF_CACHE_CLIENTS: usize = 4096;

/// Who a request is from, as far as can be told.
pub struct Client {
    pub ip: IpAddr,
    /// `CF-IPCountry` as a trusted proxy (or, under `verge dev`, anyone) set it.
    country: Option<String>,
}

impl Geo {
    /// `verge dev`'s: Miniflare's fixed location, `CF-IPCountry` from anyone, colo `DFW`.
    pub fn local() -> Self {
        Self {
            database: None,
            colo: "DFW".into(),
            trusted: Vec::new(),
            local: true,
        }
    }

    /// A server's: locations from `database` if given, forwarding headers believed from the
    /// `trusted` networks only.
    pub fn server(
        database: Option<&Path>,
        colo: String,
        trusted: Vec<IpNet>,
    ) -> Result<Self, String> {
        let database = database
            .map(|path| {
                maxminddb::Reader::open_readfile(path)
                    .map_err(|e| format!("cannot read the GeoIP database {}: {e}", path.display()))
            })
            .transpose()?;
        Ok(Self {
            database,
            colo,
            trusted,
            local: false,
        })
    }

    /// Where `ip` is, as the database places it (GeoLite2's layout or a flat one).
    pub fn coordinates(&self, ip: IpAddr) -> Option<verge_config::Location> {
        let record = self
            .database
            .as_ref()?
            .lookup(ip)
            .ok()?
            .decode::<Value>()
            .ok()??;
        let degrees = |nested: &Value, flat: &Value| nested.as_f64().or_else(|| flat.as_f64());
        Some(verge_config::Location {
            lat: degrees(&record["location"]["latitude"], &record["latitude"])?,
            lon: degrees(&record["location"]["longitude"], &record["longitude"])?,
        })
    }

    /// The client of a request from `peer`: `peer` itself, or for a trusted peer the address
    /// its `CF-Connecting-IP` (else the first of `X-Forwarded-For`) names.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let trusted = self.trusted.iter().any(|net| net.contains(&peer));
        let ip = trusted
            .then(|| {
                header("cf-connecting-ip")
                    .or_else(|| header("x-forwarded-for")?.split(',').next())
                    .and_then(|ip| ip.trim().parse().ok())
            })
            .flatten()
            .unwrap_or(peer);
        let country = (trusted || self.local)
            .then(|| header("cf-ipcountry"))
            .flatten()
            .map(str::trim)
            .filter(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase);
        Client { ip, country }
    }

    /// [`cf`](Self::cf) as JSON text, from `cache` when it holds `client`'s.
    pub fn cf_text(
        &self,
        cache: &CfCache,
        client: &Client,
        http_protocol: &'static str,
        tls: Option<TlsFacts>,
    ) -> CfText {
        // `country` is two ASCII letters (see `client`).
        let country = client
            .country
            .as_deref()
            .and_then(|code| <[u8; 2]>::try_from(code.as_bytes()).ok());
        let key = (client.ip, country, http_protocol, tls);
        if let Some(text) = cache.0.borrow().get(&key) {
            return text.clone();
        }
        let cf = self.cf(client, http_protocol, tls);
        let text = CfText {
            country: cf.get("country").and_then(Value::as_str).map(Rc::from),
            json: Rc::from(cf.to_string()),
        };
        let mut recent = cache.0.borrow_mut();
        if recent.len() >= CF_CACHE_CLIENTS {
            recent.clear();
        }
        recent.insert(key, text.clone());
        text
    }

    /// `request.cf` for `client`, over `http_protocol` (`HTTP/1.1`, `HTTP/2`) and `tls`.
    pub fn cf(&self, client: &Client, http_protocol: &str, tls: Option<TlsFacts>) -> Value {
        let mut cf = Map::new();
        cf.insert("colo".into(), self.colo.clone().into());
        cf.insert("httpProtocol".into(), http_protocol.into());
        if let Some(tls) = tls {
            cf.insert("tlsVersion".into(), tls.version.into());
            cf.insert("tlsCipher".into(), tls.cipher.into());
        }
        cf.insert("clientTcpRtt".into(), 0.into());
        let located = self
            .database
            .as_ref()
            .and_then(|database| database.lookup(client.ip).ok()?.decode::<Value>().ok()?);
        match (&client.country, located) {
            (Some(country), _) => {
                cf.insert("country".into(), country.clone().into());
            }
            (None, Some(record)) => location_fields(&record, &mut cf),
            (None, None) if self.local => cf.extend(miniflare_location()),
            (None, None) => {}
        }
        if let Some(country) = cf.get("country").and_then(Value::as_str) {
            let in_eu = EU.contains(&country);
            cf.insert("isEUCountry".into(), (if in_eu { "1" } else { "0" }).into());
        }
        Value::Object(cf)
    }
}

/// The fixed location `verge dev` reports, as Miniflare's.
fn miniflare_location() -> Map<String, Value> {
    [
        ("asn", json!(395747)),
        ("asOrganization", json!("Verge Local")),
        ("city", json!("Austin")),
        ("continent", json!("NA")),
        ("country", json!("US")),
        ("latitude", json!("30.27130")),
        ("longitude", json!("-97.74260")),
        ("metroCode", json!("635")),
        ("postalCode", json!("78701")),
        ("region", json!("Texas")),
        ("regionCode", json!("TX")),
        ("timezone", json!("America/Chicago")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// The fields of a database record, in GeoLite2's layout or ip-location-db's.
fn location_fields(record: &Value, cf: &mut Map<String, Value>) {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            cf.insert(name.into(), value);
        }
    };
    let country = text(&record["country"]["iso_code"])
        .or_else(|| text(&record["country_code"]))
        .or_else(|| text(&record["registered_country"]["iso_code"]));
    set("country", country.map(Value::from));
    set(
        "continent",
        text(&record["continent"]["code"]).map(Value::from),
    );
    set(
        "city",
        text(&record["city"]["names"]["en"])
            .or_else(|| text(&record["city"]))
            .map(Value::from),
    );
    let subdivision = &record["subdivisions"][0];
    set(
        "region",
        text(&subdivision["names"]["en"])
            .or_else(|| text(&record["state1"]))
            .map(Value::from),
    );
    set(
        "regionCode",
        text(&subdivision["iso_code"]).map(Value::from),
    );
    set(
        "postalCode",
        text(&record["postal"]["code"])
            .or_else(|| text(&record["postcode"]))
            .map(Value::from),
    );
    set(
        "timezone",
        text(&record["location"]["time_zone"])
            .or_else(|| text(&record["timezone"]))
            .map(Value::from),
    );
    let coordinate = |value: &Value| value.as_f64().map(|x| Value::from(format!("{x:.5}")));
    set(
        "latitude",
        coordinate(&record["location"]["latitude"]).or_else(|| coordinate(&record["latitude"])),
    );
    set(
        "longitude",
        coordinate(&record["location"]["longitude"]).or_else(|| coordinate(&record["longitude"])),
    );
    set(
        "metroCode",
        record["location"]["metro_code"]
            .as_u64()
            .map(|code| code.to_string().into()),
    );
    set(
        "asn",
        record["autonomous_system_number"].as_u64().map(Value::from),
    );
    set(
        "asOrganization",
        text(&record["autonomous_system_organization"]).map(Value::from),
    );
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn dev_reports_a_fixed_place_and_believes_cf_ipcountry() {
        let geo = Geo::local();
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let plain = geo.cf(&geo.client(peer, &HeaderMap::new()), "HTTP/1.1", None);
        assert_eq!(plain["country"], "US");
        assert!(plain.get("tlsVersion").is_none());
        assert_eq!(plain["city"], "Austin");
        assert_eq!(plain["colo"], "DFW");
        assert_eq!(plain["isEUCountry"], "0");
        let french = geo.client(peer, &headers(&[("cf-ipcountry", "fr")]));
        let cf = geo.cf(&french, "HTTP/2", None);
        assert_eq!(cf["country"], "FR");
        assert_eq!(cf["isEUCountry"], "1");
        assert_eq!(cf["httpProtocol"], "HTTP/2");
        // The fixed city belongs to the fixed country, not to the one a header named.
        assert!(cf.get("city").is_none());
    }

    #[test]
    fn a_cached_cf_is_the_same_text_for_the_same_client_only() {
        let geo = Geo::local();
        let cache = CfCache::default();
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let plain = geo.client(peer, &HeaderMap::new());
        let first = geo.cf_text(&cache, &plain, "HTTP/1.1", None);
        assert_eq!(*first.json, geo.cf(&plain, "HTTP/1.1", None).to_string());
        assert!(Rc::ptr_eq(
            &first.json,
            &geo.cf_text(&cache, &plain, "HTTP/1.1", None).json
        ));
        let french = geo.client(peer, &headers(&[("cf-ipcountry", "fr")]));
        let text = geo.cf_text(&cache, &french, "HTTP/1.1", None);
        assert_eq!(text.country.as_deref(), Some("FR"));
        assert_eq!(*text.json, geo.cf(&french, "HTTP/1.1", None).to_string());
        let over_h2 = geo.cf_text(&cache, &plain, "HTTP/2", None);
        assert_eq!(*over_h2.json, geo.cf(&plain, "HTTP/2", None).to_string());
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let geo = Geo::server(None, "AMS".into(), vec!["10.0.0.0/8".parse().unwrap()]).unwrap();
        let sent = headers(&[("cf-connecting-ip", "203.0.113.7"), ("cf-ipcountry", "DE")]);
        let proxy = geo.client("10.1.2.3".parse().unwrap(), &sent);
        assert_eq!(proxy.ip.to_string(), "203.0.113.7");
        let cf = geo.cf(&proxy, "HTTP/1.1", None);
        assert_eq!((&cf["country"], &cf["colo"]), (&json!("DE"), &json!("AMS")));
        let stranger = geo.client("192.0.2.1".parse().unwrap(), &sent);
        assert_eq!(stranger.ip.to_string(), "192.0.2.1");
        assert!(geo.cf(&stranger, "HTTP/1.1", None).get("country").is_none());
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.9, 10.0.0.1")]);
        let via = geo.client("10.0.0.1".parse().unwrap(), &forwarded);
        assert_eq!(via.ip.to_string(), "198.51.100.9");
    }

    #[test]
    fn records_in_either_layout_give_the_same_fields() {
        let mut geolite = Map::new();
        location_fields(
            &json!({
                "country": { "iso_code": "NL" }, "continent": { "code": "EU" },
                "city": { "names": { "en": "Amsterdam" } },
                "subdivisions": [{ "iso_code": "NH", "names": { "en": "North Holland" } }],
                "location": { "time_zone": "Europe/Amsterdam", "latitude": 52.37, "longitude": 4.89 },
                "autonomous_system_number": 1136
            }),
            &mut geolite,
        );
        assert_eq!(geolite["country"], "NL");
        assert_eq!(geolite["region"], "North Holland");
        assert_eq!(geolite["regionCode"], "NH");
        assert_eq!(geolite["latitude"], "52.37000");
        assert_eq!(geolite["asn"], 1136);
        let mut flat = Map::new();
        location_fields(&json!({ "country_code": "NL" }), &mut flat);
        assert_eq!(Value::Object(flat), json!({ "country": "NL" }));
    }
}
