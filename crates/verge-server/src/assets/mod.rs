//! Static assets (`[assets]`): files of a directory served in front of the worker, as Workers
//! Static Assets serves them — paths mapped to HTML files by `html_handling`, the other
//! spellings redirected (307) to the canonical one, content types by extension, strong ETags
//! with `If-None-Match` → 304, one byte `Range` → 206 (or 416), and `not_found_handling` for
//! the rest; its `_redirects` and `_headers` files apply ([`rules`]) and are not served. No path
//! reaches outside the directory: `..` segments, backslashes and NULs match nothing, and a file
//! whose real path (symlinks followed) leaves it is not served.

pub mod rules;

use crate::edge::http::plain as plain_response;
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::StatusCode;
use http_body_util::{BodyExt, StreamBody};
use rules::{HeaderRules, Redirected, Redirects};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use verge_config::{HtmlHandling, NotFoundHandling, RunWorkerFirst};
use verge_runtime::{Body, HeaderList, Response};

/// Files of the directory's root that configure it rather than being served.
const CONFIG_FILES: &[&str] = &["_headers", "_redirects", ".assetsignore"];

/// Files bigger than this stream from disk; smaller ones are read whole.
const READ_WHOLE_BYTES: u64 = 1024 * 1024;

/// One worker's assets.
pub struct Assets {
    root: PathBuf,
    not_found: NotFoundHandling,
    html: HtmlHandling,
    worker_first: RunWorkerFirst,
    redirects: Redirects,
    headers: HeaderRules,
    /// ETags by file, valid while its size and modification time stay.
    etags: Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
}

/// Where a path leads.
enum Found {
    File(PathBuf),
    /// To the canonical spelling of a path with a file.
    Redirect(String),
    Missing,
}

impl Assets {
    /// The assets of `config`, with the rules of its `_redirects` and `_headers` (a line
    /// that breaks a rule is logged, naming the worker `name`, and skipped).
    pub fn new(name: &str, config: &verge_config::Assets) -> Self {
        let rules = |file: &str| {
            let text = std::fs::read_to_string(config.directory.join(file)).ok()?;
            Some(text)
        };
        let warn = |file: &str, warnings: Vec<String>| {
            for warning in warnings {
                tracing::warn!(worker = name, "{file}: {warning}: skipped");
            }
        };
        let redirects = rules("_redirects").map_or_else(Redirects::default, |text| {
            let (redirects, warnings) = Redirects::parse(&text);
            warn("_redirects", warnings);
            redirects
        });
        let headers = rules("_headers").map_or_else(HeaderRules::default, |text| {
            let (headers, warnings) = HeaderRules::parse(&text);
            warn("_headers", warnings);
            headers
        });
        Self {
            root: config
                .directory
                .canonicalize()
                .unwrap_or_else(|_| config.directory.clone()),
            not_found: config.not_found_handling,
            html: config.html_handling,
            worker_first: config.run_worker_first.clone(),
            redirects,
            headers,
            etags: Mutex::default(),
        }
    }

    /// Whether the worker sees a request for `path` before the assets.
    pub fn worker_first(&self, path: &str) -> bool {
        self.worker_first.applies_to(path)
    }

    /// The answer of the assets to a request for `path_and_query` at `host`, if a redirect or
    /// a file answers it, with the headers `_headers` gives it. Redirects apply to every
    /// method, files to GET and HEAD.
    pub async fn serve(
        &self,
        method: &str,
        host: Option<&str>,
        path_and_query: &str,
        headers: &HeaderList,
    ) -> Option<Response> {
        let (path, query) = path_and_query
            .split_once('?')
            .map_or((path_and_query, None), |(path, query)| (path, Some(query)));
        let redirected = self.redirects.find(path, query);
        if redirected.is_none() && method != "GET" && method != "HEAD" {
            return None;
        }
        let mut response = match redirected {
            Some(Redirected::To { status, location }) => redirect(status, location),
            Some(Redirected::Rewrite(to)) => self.rewritten(method, &to, headers).await,
            None => self.serve_path(method, path, query, headers).await?,
        };
        self.headers.apply(
            host.map(crate::routes::strip_port),
            path,
            &mut response.headers,
        );
        Some(response)
    }

    /// The file a rewrite (a `_redirects` rule of status 200) leads to, at `to` or at its
    /// canonical spelling (the client asked for another path, and is not redirected); a 404
    /// if there is none.
    async fn rewritten(&self, method: &str, to: &str, headers: &HeaderList) -> Response {
        let to = to.split_once('?').map_or(to, |(path, _)| path);
        let file = match self.find(to).await {
            Found::File(file) => Some(file),
            Found::Redirect(canonical) => match self.find(&canonical).await {
                Found::File(file) => Some(file),
                _ => None,
            },
            Found::Missing => None,
        };
        match file {
            Some(file) if method == "GET" || method == "HEAD" => {
                self.file_response(&file, method, headers, StatusCode::OK)
                    .await
            }
            Some(_) => plain_response(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n"),
            None => plain_response(StatusCode::NOT_FOUND, "Not Found\n"),
        }
    }

    /// The file (or the redirect to its canonical spelling) at `path`, if there is one.
    async fn serve_path(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderList,
    ) -> Option<Response> {
        match self.find(path).await {
            Found::File(file) => Some(
                self.file_response(&file, method, headers, StatusCode::OK)
                    .await,
            ),
            Found::Redirect(to) => {
                let location = match query {
                    Some(query) => format!("{to}?{query}"),
                    None => to,
                };
                Some(redirect(307, location))
            }
            Found::Missing => None,
        }
    }

    /// What a request for `path` at `host` that no asset (and no worker) answers gets, by
    /// `not_found_handling`, with the headers `_headers` gives it.
    pub async fn not_found(
        &self,
        method: &str,
        host: Option<&str>,
        path: &str,
        headers: &HeaderList,
    ) -> Response {
        let mut response = self.not_found_page(method, path, headers).await;
        self.headers.apply(
            host.map(crate::routes::strip_port),
            path,
            &mut response.headers,
        );
        response
    }

    async fn not_found_page(&self, method: &str, path: &str, headers: &HeaderList) -> Response {
        match self.not_found {
            NotFoundHandling::SinglePageApplication => {
                if let Some(index) = self.existing("index.html").await {
                    return self
                        .file_response(&index, method, headers, StatusCode::OK)
                        .await;
                }
            }
            NotFoundHandling::NotFoundPage => {
                // The nearest 404.html, from the path's directory up to the root.
                let mut dir: Vec<String> = segments(path).unwrap_or_default();
                dir.pop();
                loop {
                    let mut candidate = dir.join("/");
                    candidate.push_str(if dir.is_empty() {
                        "404.html"
                    } else {
                        "/404.html"
                    });
                    if let Some(page) = self.existing(&candidate).await {
                        return self
                            .file_response(&page, method, headers, StatusCode::NOT_FOUND)
                            .await;
                    }
                    if dir.pop().is_none() {
                        break;
                    }
                }
            }
            NotFoundHandling::None => {}
        }
        plain_response(StatusCode::NOT_FOUND, "Not Found\n")
    }

    /// Whether a request is a browser's navigation, which a single-page application answers
    /// with its index rather than the worker.
    pub fn serves_navigation(&self, headers: &HeaderList) -> bool {
        self.not_found == NotFoundHandling::SinglePageApplication
            && headers.get("sec-fetch-mode") == Some("navigate")
    }

    async fn find(&self, path: &str) -> Found {
        let Some(parts) = segments(path) else {
            return Found::Missing;
        };
        let relative = parts.join("/");
        let exact = || async { self.existing(&relative).await };
        if self.html == HtmlHandling::None {
            return exact().await.map_or(Found::Missing, Found::File);
        }
        let directory = path.ends_with('/');
        let stem = relative.trim_end_matches('/');
        if directory {
            let index = if stem.is_empty() {
                "index.html".to_owned()
            } else {
                format!("{stem}/index.html")
            };
            if let Some(file) = self.existing(&index).await {
                return if self.html == HtmlHandling::DropTrailingSlash && !stem.is_empty() {
                    Found::Redirect(format!("/{stem}"))
                } else {
                    Found::File(file)
                };
            }
            if !stem.is_empty() && self.existing(&format!("{stem}.html")).await.is_some() {
                return Found::Redirect(format!("/{stem}"));
            }
            return Found::Missing;
        }
        if let Some(base) = stem.strip_suffix(".html") {
            if self.existing(stem).await.is_some() {
                let canonical = match base
                    .strip_suffix("index")
                    .filter(|b| b.is_empty() || b.ends_with('/'))
                {
                    Some(dir) => format!("/{dir}"),
                    None if self.html == HtmlHandling::ForceTrailingSlash => format!("/{base}/"),
                    None => format!("/{base}"),
                };
                return Found::Redirect(canonical);
            }
        }
        if let Some(file) = exact().await {
            return Found::File(file);
        }
        if let Some(file) = self.existing(&format!("{stem}.html")).await {
            return if self.html == HtmlHandling::ForceTrailingSlash {
                Found::Redirect(format!("/{stem}/"))
            } else {
                Found::File(file)
            };
        }
        if self.existing(&format!("{stem}/index.html")).await.is_some() {
            return Found::Redirect(format!("/{stem}/"));
        }
        Found::Missing
    }

    /// The file at `relative` under the root if it is one, really is under the root, and is
    /// not one of the directory's [`CONFIG_FILES`] (by any name: a link to one is not served).
    async fn existing(&self, relative: &str) -> Option<PathBuf> {
        let path = self.root.join(relative);
        let real = tokio::fs::canonicalize(&path).await.ok()?;
        let file = tokio::fs::metadata(&real).await.ok()?.is_file();
        let config = CONFIG_FILES.iter().any(|name| {
            real.parent() == Some(self.root.as_path())
                && real
                    .file_name()
                    .is_some_and(|file| file.eq_ignore_ascii_case(name))
        });
        (file && !config && real.starts_with(&self.root)).then_some(real)
    }

    async fn etag(&self, file: &Path, size: u64, modified: SystemTime) -> Option<String> {
        let known = self
            .etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(file)
            .filter(|(s, m, _)| *s == size && *m == modified)
            .map(|(_, _, etag)| etag.clone());
        if known.is_some() {
            return known;
        }
        let bytes = tokio::fs::read(file).await.ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let etag: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let etag = format!("\"{etag}\"");
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(file.to_owned(), (size, modified, etag.clone()));
        Some(etag)
    }

    async fn file_response(
        &self,
        file: &Path,
        method: &str,
        headers: &HeaderList,
        status: StatusCode,
    ) -> Response {
        let Ok(metadata) = tokio::fs::metadata(file).await else {
            return plain_response(StatusCode::NOT_FOUND, "Not Found\n");
        };
        let size = metadata.len();
        let etag = self
            .etag(
                file,
                size,
                metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            )
            .await;
        let mut out = HeaderList::default();
        out.push("content-type", content_type(file));
        out.push("cache-control", "public, max-age=0, must-revalidate");
        out.push("accept-ranges", "bytes");
        if let Some(etag) = &etag {
            out.push("etag", etag.as_str());
        }
        let matches_etag = |list: &str| {
            list.split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == "*" || Some(tag) == etag.as_deref())
        };
        if status == StatusCode::OK && headers.get("if-none-match").is_some_and(matches_etag) {
            let mut response = empty(StatusCode::NOT_MODIFIED);
            response.headers = out;
            return response;
        }
        let range = match headers.get("range").filter(|_| status == StatusCode::OK) {
            None => None,
            Some(value) => match byte_range(value, size) {
                Some(range) => Some(range),
                None => {
                    let mut response = empty(StatusCode::RANGE_NOT_SATISFIABLE);
                    response
                        .headers
                        .push("content-range", format!("bytes */{size}"));
                    return response;
                }
            },
        };
        let (status, offset, length) = match range {
            Some((start, end)) => {
                out.push("content-range", format!("bytes {start}-{end}/{size}"));
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            None => (status, 0, size),
        };
        out.push("content-length", length.to_string());
        let body = if method == "HEAD" {
            Body::Empty
        } else {
            match file_body(file, offset, length).await {
                Ok(body) => body,
                Err(_) => return plain_response(StatusCode::NOT_FOUND, "Not Found\n"),
            }
        };
        Response::new(status.as_u16(), out, body)
    }
}

/// `length` bytes of `file` from `offset`: read whole when small, streamed otherwise.
async fn file_body(file: &Path, offset: u64, length: u64) -> std::io::Result<Body> {
    let mut opened = tokio::fs::File::open(file).await?;
    opened.seek(std::io::SeekFrom::Start(offset)).await?;
    let limited = opened.take(length);
    if length <= READ_WHOLE_BYTES {
        let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        let mut limited = limited;
        limited.read_to_end(&mut bytes).await?;
        return Ok(Body::Full(Bytes::from(bytes)));
    }
    let stream = tokio_util::io::ReaderStream::new(limited)
        .map_ok(http_body::Frame::data)
        .map_err(|e| -> verge_runtime::BoxError { Box::new(e) });
    let body = BodyExt::boxed(StreamBody::new(stream));
    Ok(Body::Stream(verge_runtime::with_length(body, length)))
}

/// The segments of a URL path, percent-decoded; `None` if one could leave the directory.
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let text = percent_decode(segment);
            let unsafe_name = text == "." || text == ".." || text.contains(['\\', '\0', '/']);
            (!unsafe_name).then_some(text)
        })
        .collect()
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[at],
            bytes.get(at + 1).copied().and_then(hex),
            bytes.get(at + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(0));
                at += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `bytes=` range of a file of `size` bytes, as `(first, last)`; `None` if unsatisfiable
/// or not one range.
fn byte_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (n > 0).then(|| (size.saturating_sub(n), size - 1))
        }
        (first, "") => {
            let first: u64 = first.parse().ok()?;
            (first < size).then(|| (first, size - 1))
        }
        (first, last) => {
            let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            (first <= last && first < size).then(|| (first, last.min(size - 1)))
        }
    }
}

/// A redirect with `status` to `location`.
fn redirect(status: u16, location: String) -> Response {
    let mut headers = HeaderList::default();
    headers.push("location", location);
    Response::new(status, headers, Body::Empty)
}

fn empty(status: StatusCode) -> Response {
    Response::new(status.as_u16(), HeaderList::default(), Body::Empty)
}

/// The content type of a file by its extension.
fn content_type(file: &Path) -> &'static str {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" | "cjs" => "application/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "webmanifest" => "application/manifest+json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ranges_are_read_as_http_has_them() {
        let range = |text: &str| byte_range(text, 100);
        assert_eq!(range("bytes=0-9"), Some((0, 9)));
        assert_eq!(range("bytes=90-"), Some((90, 99)));
        assert_eq!(range("bytes=-10"), Some((90, 99)));
        assert_eq!(range("bytes=95-200"), Some((95, 99)));
        assert_eq!(range("bytes=100-"), None);
        assert_eq!(range("bytes=0-1,5-6"), None);
        assert_eq!(range("items=0-1"), None);
    }

    #[test]
    fn paths_that_could_leave_the_directory_match_nothing() {
        assert_eq!(
            segments("/a/b%20c.css"),
            Some(vec!["a".into(), "b c.css".into()])
        );
        assert_eq!(segments("/a/../b"), None);
        assert_eq!(segments("/a/%2e%2e/b"), None);
        assert_eq!(segments("/a%2fb"), None);
        assert_eq!(segments("/a\\..\\b"), None);
    }
}
