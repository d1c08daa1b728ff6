//! An assets directory's `_redirects` and `_headers` files, as Workers Static Assets reads them.
//!
//! `_redirects`: one rule a line, `FROM TO [STATUS]`: a redirect (301, 302 — the default —,
//! 303, 307, 308) to `TO`, or with 200 the asset at `TO` served at `FROM`. Rules without a
//! pattern, up to the first with one, are looked up by path (at most
//! [`MAX_STATIC_REDIRECTS`]); the rest ([`MAX_DYNAMIC_REDIRECTS`]) are tried in order.
//! `_headers`: a URL pattern on a line, then indented `Name: value` lines to set and `! Name`
//! lines to remove, for every asset response whose URL matches; of several matching rules, the
//! first to set a header replaces the server's, and later ones add to it.
//!
//! Patterns: `*` matches anything (`:splat` in a destination or value), `:name` one path
//! segment (`:name` there). A line that breaks a rule is skipped and named in the file's
//! warnings, as wrangler warns of it; the rest apply.

use std::collections::HashMap;
use verge_runtime::HeaderList;

/// Cloudflare's limits: static and dynamic `_redirects` rules, `_headers` rules, and the
/// characters of a line of each.
pub const MAX_STATIC_REDIRECTS: usize = 2000;
pub const MAX_DYNAMIC_REDIRECTS: usize = 100;
pub const MAX_HEADER_RULES: usize = 100;
const MAX_REDIRECTS_LINE: usize = 1000;
const MAX_HEADERS_LINE: usize = 2000;

/// Where a pattern matches: a URL path, whose placeholders stop at `/`, or a host, whose
/// placeholders stop at `.` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    Host,
}

/// A pattern, compiled to a regular expression (which matches in time linear in the text,
/// whatever the pattern: the text may be any client's path).
#[derive(Debug, Clone)]
struct Pattern {
    /// As written, which two rules compare by.
    source: String,
    regex: regex::Regex,
    /// Without `*` or placeholders: it matches itself alone.
    is_static: bool,
}

/// What a pattern's `*` and `:name`s matched, by name (`splat` for `*`).
type Captures = Vec<(String, String)>;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Pattern {
    /// `text` as a pattern of `part`; an error if it has more than one `*`, or a placeholder
    /// twice.
    fn parse(text: &str, part: Part) -> Result<Self, String> {
        let segment = match part {
            Part::Path => "[^/]+",
            Part::Host => "[^./]+",
        };
        let mut regex = String::from("^");
        let (mut splats, mut placeholders) = (0, Vec::new());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let after = &rest[c.len_utf8()..];
            match c {
                '*' => {
                    splats += 1;
                    regex.push_str("(?P<splat>.*)");
                    rest = after;
                }
                ':' if after.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                    let length = after
                        .find(|c: char| !is_name_char(c))
                        .unwrap_or(after.len());
                    let name = &after[..length];
                    if placeholders.contains(&name) {
                        return Err(format!("{text} names :{name} twice"));
                    }
                    placeholders.push(name);
                    regex.push_str(&format!("(?P<{name}>{segment})"));
                    rest = &after[length..];
                }
                c => {
                    regex.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                    rest = after;
                }
            }
        }
        if splats > 1 {
            return Err(format!(
                "{text} has more than one *: use a named placeholder (:name) for the others"
            ));
        }
        regex.push('$');
        let regex = regex::Regex::new(&regex).map_err(|e| format!("{text}: {e}"))?;
        Ok(Self {
            source: text.to_owned(),
            regex,
            is_static: splats == 0 && placeholders.is_empty(),
        })
    }

    /// What `text` gives the pattern's `*` and `:name`s, if the whole of it matches.
    fn matches(&self, text: &str) -> Option<Captures> {
        let found = self.regex.captures(text)?;
        let names = self.regex.capture_names().flatten();
        Some(
            names
                .filter_map(|name| Some((name.to_owned(), found.name(name)?.as_str().to_owned())))
                .collect(),
        )
    }
}

/// `template` with each `:name` the captures hold replaced by what it matched.
fn substitute(template: &str, captures: &Captures) -> String {
    if captures.is_empty() {
        return template.to_owned();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = after
            .find(|c: char| !is_name_char(c))
            .unwrap_or(after.len());
        match captures.iter().find(|(name, _)| *name == after[..name_len]) {
            Some((_, value)) if name_len > 0 => {
                out.push_str(value);
                rest = &after[name_len..];
            }
            _ => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The lines of a rules file worth reading, numbered from 1: trimmed, without blanks and
/// comments; a line longer than `max` characters is a warning instead.
fn lines<'t>(
    text: &'t str,
    max: usize,
    warnings: &'t mut Vec<String>,
) -> impl Iterator<Item = (usize, &'t str)> + 't {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .filter(move |(number, line)| {
            let fits = line.chars().count() <= max;
            if !fits {
                warnings.push(format!("line {number} is longer than {max} characters"));
            }
            fits
        })
}

/// `to` with the request's `query` added, unless `to` has a query of its own, before its
/// fragment.
fn with_query(to: String, query: Option<&str>) -> String {
    let (target, fragment) = to
        .split_once('#')
        .map_or((to.as_str(), None), |(t, f)| (t, Some(f)));
    match query {
        Some(query) if !target.contains('?') => match fragment {
            Some(fragment) => format!("{target}?{query}#{fragment}"),
            None => format!("{target}?{query}"),
        },
        _ => to,
    }
}

/// Where `_redirects` sends a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirected {
    /// A redirect with this status to this location.
    To { status: u16, location: String },
    /// The asset at this path, served at the request's.
    Rewrite(String),
}

#[derive(Debug, Clone)]
struct Redirect {
    to: String,
    status: u16,
}

#[derive(Debug, Default)]
pub struct Redirects {
    by_path: HashMap<String, Redirect>,
    in_order: Vec<(Pattern, Redirect)>,
}

impl Redirects {
    /// The rules of a `_redirects` file, and a warning for each line skipped.
    pub fn parse(text: &str) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut skipped = Vec::new();
        let mut rules = Self::default();
        for (number, line) in lines(text, MAX_REDIRECTS_LINE, &mut warnings) {
            match rules.add(line) {
                Ok(()) => {}
                Err(why) => skipped.push(format!("line {number} ({line}): {why}")),
            }
        }
        warnings.extend(skipped);
        (rules, warnings)
    }

    fn add(&mut self, line: &str) -> Result<(), String> {
        // A comment may follow the first two tokens.
        let tokens: Vec<&str> = line
            .split_whitespace()
            .enumerate()
            .take_while(|(index, token)| *index < 2 || !token.starts_with('#'))
            .map(|(_, token)| token)
            .collect();
        let (from, to, status) = match tokens[..] {
            [from, to] => (from, to, "302"),
            [from, to, status] => (from, to, status),
            _ => return Err("a rule is FROM TO [STATUS]".into()),
        };
        if !from.starts_with('/') {
            return Err("FROM must be a path beginning with /".into());
        }
        let absolute = to.starts_with("https://") || to.starts_with("http://");
        if !to.starts_with('/') && !absolute {
            return Err("TO must be a path beginning with / or an https:// URL".into());
        }
        let status: u16 = match status.parse() {
            Ok(status @ (200 | 301 | 302 | 303 | 307 | 308)) => status,
            _ => return Err("STATUS is one of 200, 301, 302, 303, 307 and 308".into()),
        };
        if status == 200 && absolute {
            return Err("a rule of status 200 serves another asset: TO must be a path".into());
        }
        // The page's canonical spelling drops `/index`, and such a rule would match it again.
        let to_index = !absolute && (to.ends_with("/index") || to.ends_with("/index.html"));
        if to_index && (from.ends_with("/*") || from.ends_with('/')) {
            return Err("it would redirect to itself forever: name the page without /index".into());
        }
        let pattern = Pattern::parse(from, Part::Path)?;
        let redirect = Redirect {
            to: to.to_owned(),
            status,
        };
        if self.by_path.contains_key(from) || self.in_order.iter().any(|(p, _)| p.source == from) {
            return Err(format!("a rule for {from} came before"));
        }
        if pattern.is_static && self.in_order.is_empty() {
            if self.by_path.len() >= MAX_STATIC_REDIRECTS {
                return Err(format!(
                    "past {MAX_STATIC_REDIRECTS} rules without a pattern"
                ));
            }
            self.by_path.insert(from.to_owned(), redirect);
        } else {
            if self.in_order.len() >= MAX_DYNAMIC_REDIRECTS {
                return Err(format!("past {MAX_DYNAMIC_REDIRECTS} rules with a pattern"));
            }
            self.in_order.push((pattern, redirect));
        }
        Ok(())
    }

    /// Where the rules send a request for `path` (with `query`, kept unless the destination
    /// has its own).
    pub fn find(&self, path: &str, query: Option<&str>) -> Option<Redirected> {
        let (redirect, to) = match self.by_path.get(path) {
            Some(redirect) => (redirect, redirect.to.clone()),
            None => self.in_order.iter().find_map(|(pattern, redirect)| {
                let captures = pattern.matches(path)?;
                Some((redirect, substitute(&redirect.to, &captures)))
            })?,
        };
        if redirect.status == 200 {
            return Some(Redirected::Rewrite(to));
        }
        Some(Redirected::To {
            status: redirect.status,
            location: with_query(to, query),
        })
    }
}

#[derive(Debug)]
struct HeaderRule {
    /// The host an `https://host/path` pattern names.
    host: Option<Pattern>,
    path: Pattern,
    set: Vec<(String, String)>,
    unset: Vec<String>,
}

#[derive(Debug, Default)]
pub struct HeaderRules(Vec<HeaderRule>);

impl HeaderRules {
    /// The rules of a `_headers` file, and a warning for each line skipped.
    pub fn parse(text: &str) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut skipped = Vec::new();
        let mut rules: Vec<HeaderRule> = Vec::new();
        // Until the next pattern, lines belong to a rule that was skipped.
        let mut skipping = false;
        for (number, line) in lines(text, MAX_HEADERS_LINE, &mut warnings) {
            let mut skip = |why: String| skipped.push(format!("line {number} ({line}): {why}"));
            if line.starts_with("http://") {
                skip("a URL pattern begins with / or https://".into());
                skipping = true;
                continue;
            }
            if line.starts_with('/') || line.starts_with("https://") {
                if rules.len() >= MAX_HEADER_RULES {
                    skip(format!("past {MAX_HEADER_RULES} rules"));
                    break;
                }
                match header_pattern(line) {
                    Ok((host, path)) => {
                        rules.push(HeaderRule {
                            host,
                            path,
                            set: Vec::new(),
                            unset: Vec::new(),
                        });
                        skipping = false;
                    }
                    Err(why) => {
                        skip(why);
                        skipping = true;
                    }
                }
                continue;
            }
            if skipping {
                continue;
            }
            let Some(rule) = rules.last_mut() else {
                skip("a URL pattern must come before headers".into());
                continue;
            };
            if let Some(name) = line.strip_prefix('!') {
                rule.unset.push(name.trim().to_ascii_lowercase());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                skip("expected Name: value, or ! Name".into());
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name.is_empty() || value.is_empty() || name.contains(char::is_whitespace) {
                skip("a header needs a name without spaces and a value".into());
                continue;
            }
            match rule.set.iter_mut().find(|(known, _)| *known == name) {
                Some((_, values)) => {
                    values.push_str(", ");
                    values.push_str(value);
                }
                None => rule.set.push((name, value.to_owned())),
            }
        }
        rules.retain(|rule| !rule.set.is_empty() || !rule.unset.is_empty());
        warnings.extend(skipped);
        (Self(rules), warnings)
    }

    /// Applies the rules that match `host` and `path` to `headers`, an asset response's.
    pub fn apply(&self, host: Option<&str>, path: &str, headers: &mut HeaderList) {
        if self.0.is_empty() {
            return;
        }
        let host = host.map(str::to_ascii_lowercase);
        let host = host.as_deref();
        let mut set_here: Vec<String> = Vec::new();
        for rule in &self.0 {
            let host_captures = match (&rule.host, host) {
                (None, _) => Vec::new(),
                (Some(pattern), Some(host)) => match pattern.matches(host) {
                    Some(captures) => captures,
                    None => continue,
                },
                (Some(_), None) => continue,
            };
            let Some(mut captures) = rule.path.matches(path) else {
                continue;
            };
            captures.extend(host_captures);
            for name in &rule.unset {
                headers.retain(|known, _| !known.eq_ignore_ascii_case(name));
            }
            for (name, value) in &rule.set {
                let value = substitute(value, &captures);
                if set_here.contains(name) {
                    headers.push(name.as_str(), value);
                } else {
                    headers.retain(|known, _| !known.eq_ignore_ascii_case(name));
                    headers.push(name.as_str(), value);
                    set_here.push(name.clone());
                }
            }
        }
    }
}

/// An `https://host/path` or `/path` pattern of `_headers`: its host, if any, and path.
fn header_pattern(line: &str) -> Result<(Option<Pattern>, Pattern), String> {
    let Some(rest) = line.strip_prefix("https://") else {
        return Ok((None, Pattern::parse(line, Part::Path)?));
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = host.rsplit_once(':').map(|(_, port)| port);
    if port.is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())) {
        return Err("a port cannot be given".into());
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((
        Some(Pattern::parse(host, Part::Host)?),
        Pattern::parse(path, Part::Path)?,
    ))
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn patterns_capture_splats_and_placeholders() {
        let pattern = Pattern::parse("/blog/:year/:slug/*", Part::Path).unwrap();
        assert_eq!(
            pattern.matches("/blog/2026/hello/a/b.png"),
            Some(vec![
                ("year".into(), "2026".into()),
                ("slug".into(), "hello".into()),
                ("splat".into(), "a/b.png".into()),
            ])
        );
        assert_eq!(pattern.matches("/blog/2026/hello"), None);
        // A placeholder is one segment, never empty.
        let one = Pattern::parse("/u/:id", Part::Path).unwrap();
        assert!(one.matches("/u/").is_none() && one.matches("/u/a/b").is_none());
        assert!(Pattern::parse("/a/*/b/*", Part::Path).is_err());
        assert!(Pattern::parse("/:a/:a", Part::Path).is_err());
        // In a host, a placeholder is one label.
        let host = Pattern::parse(":project.pages.dev", Part::Host).unwrap();
        assert!(host.matches("staging.proj.pages.dev").is_none());
        assert!(host.matches("proj.pages.dev").is_some());
        // A client's long path against patterns that backtracking would take forever on.
        let long = format!("/{}", "-".repeat(60_000));
        for pattern in ["/:y-:m-:d/x", "/*-:a-:b.jpg"] {
            let started = std::time::Instant::now();
            assert!(Pattern::parse(pattern, Part::Path)
                .unwrap()
                .matches(&long)
                .is_none());
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{pattern}"
            );
        }
        let captures = vec![("splat".into(), "x/y".into()), ("id".into(), "7".into())];
        assert_eq!(
            substitute("/new/:id/:splat?a=:b", &captures),
            "/new/7/x/y?a=:b"
        );
    }

    #[test]
    fn redirects_are_found_by_path_then_in_order() {
        let (rules, warnings) = Redirects::parse(
            "# moved\n/old /new 301\n/gone https://example.com/ 308\n\
             /blog/* /posts/:splat\n/app/* /app.html 200\n/proxy https://x.test/ 200\n\
             /nope /x 404\n/one /a /b /c\n/old /again\n",
        );
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].contains("line 6"), "{warnings:?}");
        assert_eq!(
            rules.find("/old", Some("q=1")),
            Some(Redirected::To {
                status: 301,
                location: "/new?q=1".into()
            })
        );
        assert_eq!(
            rules.find("/blog/a/b", None),
            Some(Redirected::To {
                status: 302,
                location: "/posts/a/b".into()
            })
        );
        assert_eq!(
            rules.find("/app/settings", None),
            Some(Redirected::Rewrite("/app.html".into()))
        );
        assert_eq!(rules.find("/elsewhere", None), None);
        let (rules, warnings) = Redirects::parse(
            "/page /page2/#part 301 # moved\n/* /index.html 200\n/docs/ /docs/index 301\n",
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(
            rules.find("/page", Some("q=1")),
            Some(Redirected::To {
                status: 301,
                location: "/page2/?q=1#part".into()
            })
        );
    }

    #[test]
    fn header_rules_replace_then_add_and_remove() {
        let (rules, warnings) = HeaderRules::parse(
            "Stray: header\n/*\n  X-Frame-Options: DENY\n  Cache-Control: no-store\n\
             /static/*\n  Cache-Control: max-age=600\n  ! X-Frame-Options\n\
             https://:sub.example.com/*\n  X-Sub: :sub\n/bad/*/*\n  X-Bad: 1\n",
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut headers = HeaderList::default();
        headers.push("cache-control", "public, max-age=0, must-revalidate");
        rules.apply(Some("shop.example.com"), "/static/a.css", &mut headers);
        let values: Vec<(&str, &str)> = headers.iter().collect();
        assert_eq!(
            values,
            vec![
                ("cache-control", "no-store"),
                ("cache-control", "max-age=600"),
                ("x-sub", "shop"),
            ]
        );
        let mut headers = HeaderList::default();
        rules.apply(None, "/bad/a/b", &mut headers);
        assert_eq!(headers.get("x-frame-options"), Some("DENY"));
        assert_eq!(headers.get("x-bad"), None);
    }
}
