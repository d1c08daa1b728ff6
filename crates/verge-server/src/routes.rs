//! Which worker a request goes to, from the workers' `route`/`routes` patterns as Workers match
//! them: `host/path`, a leading `*` on the host (`*.example.com` for subdomains, `*example.com`
//! for the host and its subdomains), a trailing `*` on the path for a prefix, and a bare host
//! (a custom domain) for every path. Query strings do not take part. The most specific pattern
//! wins: an exact host before a wildcard one, a longer host before a shorter, an exact path
//! before a prefix, a longer path before a shorter.

use std::borrow::Borrow;
use std::collections::HashMap;
use verge_config::WorkerConfig;

#[derive(Debug, Clone)]
enum HostPattern {
    Exact(String),
    /// `*suffix`: hosts that end with `suffix`.
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PathPattern {
    text: String,
    prefix: bool,
}

/// A route filed under its host pattern (the key of its bucket in [`RouteTable`]).
#[derive(Debug, Clone)]
struct CompiledRoute {
    path: PathPattern,
    worker: usize,
    pattern: String,
}

impl CompiledRoute {
    /// The route `pattern` of `worker`, and the host pattern it is filed under.
    fn parse(
        pattern: &str,
        custom_domain: bool,
        worker: usize,
    ) -> Result<(HostPattern, Self), String> {
        let bare = pattern
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let (host, path) = match bare.find('/') {
            Some(slash) => (&bare[..slash], &bare[slash..]),
            None => (bare, "/*"),
        };
        if custom_domain && path != "/*" && path != "/" {
            return Err(format!(
                "route {pattern:?}: a custom domain is a hostname, without a path"
            ));
        }
        let host = host.to_ascii_lowercase();
        if host.is_empty() || host.contains(['*', ' ']) && !host.starts_with('*') {
            return Err(format!("route {pattern:?}: invalid host"));
        }
        let host = match host.strip_prefix('*') {
            Some(suffix) if !suffix.contains('*') => HostPattern::Suffix(suffix.to_owned()),
            Some(_) => return Err(format!("route {pattern:?}: `*` only leads a host")),
            None => HostPattern::Exact(host),
        };
        let (path, prefix) = match path.strip_suffix('*') {
            Some(start) => (start, true),
            None => (path, false),
        };
        if path.contains('*') {
            return Err(format!("route {pattern:?}: `*` only ends a path"));
        }
        let route = Self {
            path: PathPattern {
                text: path.to_owned(),
                prefix: prefix || custom_domain,
            },
            worker,
            pattern: pattern.to_owned(),
        };
        Ok((host, route))
    }
}

impl PathPattern {
    fn matches(&self, path: &str) -> bool {
        if self.prefix {
            path.starts_with(&self.text)
        } else {
            path == self.text
        }
    }

    /// Orders the paths of one host most specific first: an exact path before a prefix, a
    /// longer path before a shorter.
    fn specificity(&self) -> (bool, usize) {
        (!self.prefix, self.text.len())
    }
}

/// Every worker's routes, indexed by host so that a lookup costs the same with ten workers or
/// ten thousand: the routes of an exact host by that host, those of a `*suffix` host by the
/// suffix, each list most specific first.
#[derive(Debug, Default)]
pub struct RouteTable {
    exact: HashMap<String, Vec<CompiledRoute>>,
    suffixes: HashMap<String, Vec<CompiledRoute>>,
    /// The distinct lengths of the suffixes in `suffixes`, longest (most specific) first: the
    /// only ones a lookup needs to try.
    suffix_lengths: Vec<usize>,
}

impl RouteTable {
    /// Compiles the routes of `workers`; a pattern claimed twice is an error naming both.
    pub fn new<W: Borrow<WorkerConfig>>(workers: &[W]) -> Result<Self, String> {
        let mut table = Self::default();
        for (index, worker) in workers.iter().map(Borrow::borrow).enumerate() {
            for route in &worker.routes {
                let (host, compiled) =
                    CompiledRoute::parse(&route.pattern, route.custom_domain, index)
                        .map_err(|e| format!("worker {:?}: {e}", worker.name))?;
                let bucket = match host {
                    HostPattern::Exact(host) => table.exact.entry(host).or_default(),
                    HostPattern::Suffix(suffix) => table.suffixes.entry(suffix).or_default(),
                };
                if let Some(other) = bucket.iter().find(|r| r.path == compiled.path) {
                    return Err(format!(
                        "route {:?} of worker {:?} duplicates {:?} of worker {:?}",
                        route.pattern,
                        worker.name,
                        other.pattern,
                        workers[other.worker].borrow().name
                    ));
                }
                bucket.push(compiled);
            }
        }
        for bucket in table.exact.values_mut().chain(table.suffixes.values_mut()) {
            bucket.sort_by_key(|route| std::cmp::Reverse(route.path.specificity()));
        }
        table.suffix_lengths = table.suffixes.keys().map(String::len).collect();
        table.suffix_lengths.sort_unstable_by(|a, b| b.cmp(a));
        table.suffix_lengths.dedup();
        Ok(table)
    }

    /// The worker (an index into the workers given to [`RouteTable::new`]) for a request to
    /// `host` (a port is ignored) and `path` (a query is ignored).
    pub fn find(&self, host: &str, path: &str) -> Option<usize> {
        let host = strip_port(host).to_ascii_lowercase();
        let path = path.split('?').next().unwrap_or("/");
        let first_match = |routes: &Vec<CompiledRoute>| {
            routes
                .iter()
                .find(|route| route.path.matches(path))
                .map(|route| route.worker)
        };
        // An exact host is more specific than any wildcard; a longer suffix than a shorter.
        self.exact.get(&host).and_then(first_match).or_else(|| {
            self.suffix_lengths.iter().find_map(|&length| {
                let suffix = host.get(host.len().checked_sub(length)?..)?;
                self.suffixes.get(suffix).and_then(first_match)
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.suffixes.is_empty()
    }
}

/// `host` without a `:port`, IPv6 literals (`[::1]:80`) included.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verge_config::Route;

    fn worker(name: &str, patterns: &[(&str, bool)]) -> WorkerConfig {
        WorkerConfig {
            name: name.into(),
            root: ".".into(),
            main: Some("index.js".into()),
            routes: patterns
                .iter()
                .map(|(pattern, custom_domain)| Route {
                    pattern: (*pattern).into(),
                    zone_name: None,
                    custom_domain: *custom_domain,
                })
                .collect(),
            ..WorkerConfig::default()
        }
    }

    #[test]
    fn the_most_specific_route_wins() -> Result<(), String> {
        let table = RouteTable::new(&[
            worker("site", &[("*example.com/*", false)]),
            worker("api", &[("example.com/api/*", false)]),
            worker("health", &[("example.com/api/health", false)]),
            worker("blog", &[("blog.example.com", true)]),
            worker("sub", &[("*.example.com/*", false)]),
        ])?;
        let find = |host, path| table.find(host, path);
        assert_eq!(find("example.com:8080", "/"), Some(0));
        assert_eq!(find("example.com", "/api/users?x=1"), Some(1));
        assert_eq!(find("example.com", "/api/health"), Some(2));
        assert_eq!(find("example.com", "/api/health/more"), Some(1));
        assert_eq!(find("BLOG.example.com", "/post/1"), Some(3));
        assert_eq!(find("www.example.com", "/"), Some(4));
        assert_eq!(find("example.org", "/"), None);
        assert_eq!(find("[::1]:80", "/"), None);
        Ok(())
    }

    #[test]
    fn a_longer_wildcard_wins_and_a_bare_one_catches_the_rest() -> Result<(), String> {
        let table = RouteTable::new(&[
            worker("all", &[("*/*", false)]),
            worker("example", &[("*example.com/*", false)]),
            worker("sub", &[("*.example.com/*", false)]),
            worker("static", &[("*.example.com/static/*", false)]),
        ])?;
        let find = |host, path| table.find(host, path);
        assert_eq!(find("example.com", "/static/a.css"), Some(1));
        assert_eq!(find("cdn.example.com", "/static/a.css"), Some(3));
        assert_eq!(find("cdn.example.com", "/"), Some(2));
        assert_eq!(find("ü.example.com", "/"), Some(2));
        assert_eq!(find("ü", "/"), Some(0));
        assert_eq!(find("example.org", "/x"), Some(0));
        Ok(())
    }

    #[test]
    fn duplicates_and_bad_patterns_are_refused() {
        let duplicate = RouteTable::new(&[
            worker("a", &[("example.com/*", false)]),
            worker("b", &[("http://example.com/*", false)]),
        ]);
        assert!(duplicate.is_err_and(|e| e.contains("\"a\"") && e.contains("\"b\"")));
        assert!(RouteTable::new(&[worker("a", &[("exa*mple.com/*", false)])]).is_err());
        assert!(RouteTable::new(&[worker("a", &[("example.com/*/x", false)])]).is_err());
        assert!(RouteTable::new(&[worker("a", &[("example.com/x", true)])]).is_err());
    }
}
