//! URL parsing and setters for `URL`, and the urlencoded codec for `URLSearchParams`: the `url`
//! crate's WHATWG implementation (its `quirks` module is the setter API of the URL Standard).

use crate::WebHost;
use std::borrow::Cow;
use url::{quirks, Url};
use verge_js::{data_op, Data, DataOp};

/// `url`'s serialization, then where each component lies in it (start and end), in the order
/// `url.js` reads them: protocol, username, password, host, hostname, port, pathname, search,
/// hash. Every component is a slice of the serialization, so JavaScript is given one string and
/// numbers rather than ten strings, most of which no script reads; the origin, which is not a
/// slice, is `urlOrigin`'s.
fn components(url: &Url) -> Data {
    let href = quirks::href(url);
    let parts = [
        quirks::protocol(url),
        quirks::username(url),
        quirks::password(url),
        quirks::host(url),
        quirks::hostname(url),
        quirks::port(url),
        quirks::pathname(url),
        quirks::search(url),
        quirks::hash(url),
    ];
    // Offsets in UTF-16 code units, as JavaScript's strings count: the bytes themselves, for
    // the serialization is ASCII (everything else is percent-encoded or Punycode).
    let ascii = href.is_ascii();
    let offset = |byte: usize| -> Data {
        let units = if ascii {
            byte
        } else {
            href.get(..byte)
                .map_or(0, |head| head.encode_utf16().count())
        };
        #[allow(clippy::cast_precision_loss)] // a URL is far shorter than 2^53
        Data::Number(units as f64)
    };
    let mut list = Vec::with_capacity(1 + 2 * parts.len());
    list.push(Data::String(href.to_owned()));
    for part in parts {
        let (start, end) = span(href, part);
        list.push(offset(start));
        list.push(offset(end));
    }
    Data::List(list)
}

/// Where `part` lies in `href`, of which `quirks`' getters give slices (or an empty string).
fn span(href: &str, part: &str) -> (usize, usize) {
    let start = (part.as_ptr() as usize).wrapping_sub(href.as_ptr() as usize);
    let end = start.checked_add(part.len());
    match end.and_then(|end| href.get(start..end)) {
        Some(slice) if !part.is_empty() && std::ptr::eq(slice, part) => (start, start + part.len()),
        _ => (0, 0),
    }
}

/// Parses `input` against an optional `base`, as `new URL(input, base)` does.
pub fn parse(input: &str, base: Option<&str>) -> Option<Url> {
    let base = match base {
        Some(base) => Some(Url::parse(base).ok()?),
        None => None,
    };
    let input = skip_extra_authority_slashes(input, base.as_ref());
    let mut url = Url::options().base_url(base.as_ref()).parse(&input).ok()?;
    encode_space_before_query(&mut url);
    Some(url)
}

/// The URL Standard (2023) percent-encodes the space that ends an opaque path when a query or
/// fragment follows (`sc:a ?q` is `sc:a%20?q`), so that removing them later cannot leave a
/// trailing space; `url` 2.5 keeps the space.
fn encode_space_before_query(url: &mut Url) {
    if url.cannot_be_a_base() && (url.query().is_some() || url.fragment().is_some()) {
        if let Some(path) = url.path().strip_suffix(' ') {
            let path = format!("{path}%20");
            url.set_path(&path);
        }
    }
}

/// The URL Standard's "special authority ignore slashes" state, which `url` 2.5 lacks: against
/// a special (non-file) base, a scheme-relative input's extra slashes are skipped, so
/// `///host/p` means `//host/p` rather than being an error.
fn skip_extra_authority_slashes<'a>(input: &'a str, base: Option<&Url>) -> Cow<'a, str> {
    let special = base.is_some_and(|b| b.is_special() && b.scheme() != "file");
    if !special {
        return Cow::Borrowed(input);
    }
    let cleaned: String = input
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let slashes = cleaned
        .chars()
        .take_while(|c| matches!(c, '/' | '\\'))
        .count();
    if slashes > 2 {
        Cow::Owned(format!("//{}", &cleaned[slashes..]))
    } else {
        Cow::Borrowed(input)
    }
}

fn set(url: &mut Url, setter: &str, value: &str) {
    // A setter that fails leaves the URL as it was, as the spec says.
    let _ = match setter {
        "protocol" => quirks::set_protocol(url, value),
        "username" => quirks::set_username(url, value),
        "password" => quirks::set_password(url, value),
        "host" => quirks::set_host(url, value),
        "hostname" => quirks::set_hostname(url, value),
        "port" => quirks::set_port(url, value),
        "pathname" => {
            quirks::set_pathname(url, value);
            Ok(())
        }
        "search" => {
            quirks::set_search(url, value);
            Ok(())
        }
        "hash" => {
            quirks::set_hash(url, value);
            Ok(())
        }
        _ => Err(()),
    };
}

/// The parser and setters of `url.js`, written once for every engine.
pub fn url_ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    vec![
        (
            "urlParse",
            data_op(|input: String, base: Option<String>| {
                parse(&input, base.as_deref()).map(|url| components(&url))
            }),
        ),
        (
            "urlOrigin",
            // A serialization parses again; were it not to, its origin is opaque.
            data_op(|href: String| {
                parse(&href, None).map_or_else(|| "null".to_owned(), |url| quirks::origin(&url))
            }),
        ),
        (
            "urlHref",
            data_op(|input: String| parse(&input, None).map(String::from)),
        ),
        (
            "urlSet",
            data_op(|href: String, setter: String, value: String| {
                parse(&href, None).map(|mut url| {
                    set(&mut url, &setter, &value);
                    components(&url)
                })
            }),
        ),
    ]
}

/// The urlencoded codec of `url_search_params.js`, written once for every engine.
pub fn form_ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    vec![
        (
            "formDecode",
            data_op(|query: String| {
                url::form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| vec![k.into_owned(), v.into_owned()])
                    .collect::<Vec<_>>()
            }),
        ),
        (
            "formEncode",
            data_op(|pairs: Vec<Vec<String>>| {
                let mut serializer = url::form_urlencoded::Serializer::new(String::new());
                for pair in &pairs {
                    if let [name, value] = pair.as_slice() {
                        serializer.append_pair(name, value);
                    }
                }
                serializer.finish()
            }),
        ),
    ]
}
