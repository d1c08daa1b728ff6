//! `[assets]` as `wrangler deploy` uploads them: a session per deploy, then the files, then the
//! upload of the worker naming the session.
//!
//! 1. `POST scripts/{name}/assets-upload-session {"manifest": {"/path": {"hash", "size"}}}`
//!    opens a session and answers which hashes to send (`buckets`): those not staged yet. Its
//!    token (a JWT in shape, unsigned: wrangler reads its payload) is the session's.
//! 2. `POST /accounts/{account}/workers/assets/upload?base64=true`, authorized by that token
//!    instead of the admin token, carries the files as a form, one part per hash, base64. Each
//!    is staged under `<data_dir>/wrangler-assets/<hash>`, so a later deploy of the same file
//!    sends nothing.
//! 3. The worker's upload names the token in its metadata's `assets.jwt`: the manifest's files,
//!    read from the stage, go into the project under [`DIRECTORY`], and its `[assets]` config
//!    says so, with the metadata's `html_handling`, `not_found_handling` and
//!    `run_worker_first`.
//!
//! A deploy carries at most [`MAX_FILES`] assets of [`MAX_FILE_BYTES`] each (Cloudflare's
//! limits) and [`MAX_TOTAL_BYTES`] in all (its upload is held whole, as `verge deploy`'s). A
//! session stages only the files it asked for, and a staged file is never replaced. A staged
//! file is a cache of what wrangler sent (a deploy carries its own copy): one no session has
//! named for [`STAGE_KEEP`] is removed as the next session opens, and a later deploy of it
//! sends it again. Sessions live in memory for [`SESSION_LIFETIME`]; a server
//! restarted between the steps answers the deploy with an error naming the session, and
//! wrangler is run again.

use super::{failure, Refusal};
use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where a deploy's assets go in the project it becomes.
pub(super) const DIRECTORY: &str = "assets";

/// How long an upload session may take, from its start to the worker's upload.
const SESSION_LIFETIME: Duration = Duration::from_secs(3600);

/// How long a staged file is kept after the last session that named it.
const STAGE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Files a session asks for in one upload request.
const BUCKET_SIZE: usize = 50;

/// Cloudflare's limits on a deploy's assets: files, and bytes of one.
const MAX_FILES: usize = 20_000;
const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// The most bytes of assets one deploy carries: they go into its upload, which is held whole;
/// as much as `verge deploy` uploads.
const MAX_TOTAL_BYTES: u64 = 48 * 1024 * 1024;

/// The open upload sessions, by token.
#[derive(Default)]
pub(crate) struct AssetSessions {
    sessions: RefCell<HashMap<String, Session>>,
}

struct Session {
    /// Each asset's path (without its leading `/`) and hash.
    manifest: BTreeMap<String, String>,
    /// The hashes it asked for, the only files it may stage, with the size each must have.
    requested: BTreeMap<String, u64>,
    opened: Instant,
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    hash: String,
    size: u64,
}

#[derive(serde::Deserialize)]
struct SessionRequest {
    manifest: BTreeMap<String, ManifestEntry>,
}

fn invalid(message: String) -> Refusal {
    failure(StatusCode::BAD_REQUEST, 10026, message)
}

/// A hash as wrangler makes them: 32 hexadecimal digits (and so a safe file name).
fn check_hash(hash: &str) -> Result<(), Refusal> {
    match hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(()),
        false => Err(invalid(format!(
            "{hash:?} is not an asset hash: 32 hex digits"
        ))),
    }
}

/// An asset's path as the project will hold it: relative, without `.`, `..` or empty parts.
fn check_path(path: &str) -> Result<String, Refusal> {
    let relative = path.trim_start_matches('/');
    let safe = !relative.is_empty()
        && relative
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    match safe {
        true => Ok(relative.to_owned()),
        false => Err(invalid(format!("{path:?} is not an asset path"))),
    }
}

fn stage(data_dir: &Path) -> PathBuf {
    data_dir.join("wrangler-assets")
}

impl AssetSessions {
    /// Opens a session for the manifest in `body`: its token and the hashes to send, in
    /// buckets.
    pub(super) fn open(&self, data_dir: &Path, body: &[u8]) -> Result<Value, Refusal> {
        let request: SessionRequest = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the asset manifest is not valid: {e}")))?;
        if request.manifest.len() > MAX_FILES {
            return Err(invalid(format!(
                "{} assets: a deploy carries at most {MAX_FILES}",
                request.manifest.len()
            )));
        }
        let mut manifest = BTreeMap::new();
        let mut sizes = BTreeMap::new();
        let mut total: u64 = 0;
        for (path, entry) in request.manifest {
            check_hash(&entry.hash)?;
            if entry.size > MAX_FILE_BYTES {
                return Err(invalid(format!(
                    "asset {path:?} is {} bytes: one is at most {MAX_FILE_BYTES}",
                    entry.size
                )));
            }
            total = total.saturating_add(entry.size);
            sizes.insert(entry.hash.clone(), entry.size);
            manifest.insert(check_path(&path)?, entry.hash);
        }
        if total > MAX_TOTAL_BYTES {
            return Err(invalid(format!(
                "the assets are {total} bytes: Verge deploys at most {MAX_TOTAL_BYTES} with a worker"
            )));
        }
        let stage = stage(data_dir);
        // What is staged already is named again: kept for another STAGE_KEEP.
        let requested: BTreeMap<String, u64> = sizes
            .into_iter()
            .filter(|(hash, _)| !renew(&stage.join(hash)))
            .collect();
        let missing: Vec<&String> = requested.keys().collect();
        let buckets: Vec<Vec<&String>> = missing.chunks(BUCKET_SIZE).map(<[_]>::to_vec).collect();
        let token = session_token()?;
        let mut sessions = self.sessions.borrow_mut();
        sessions.retain(|_, session| session.opened.elapsed() < SESSION_LIFETIME);
        sweep(&stage, &sessions, &manifest);
        let answer = json!({ "jwt": token, "buckets": buckets });
        sessions.insert(
            token,
            Session {
                manifest,
                requested,
                opened: Instant::now(),
            },
        );
        Ok(answer)
    }

    /// Whether `token` names an open session.
    pub(super) fn is_open(&self, token: &str) -> bool {
        self.sessions
            .borrow()
            .get(token)
            .is_some_and(|session| session.opened.elapsed() < SESSION_LIFETIME)
    }

    /// Stages the files of an upload form (`parts`: hash and base64 text) for session `token`;
    /// the completion token, the session's own.
    pub(super) fn stage(
        &self,
        data_dir: &Path,
        token: &str,
        parts: Vec<super::Part>,
    ) -> Result<Value, Refusal> {
        let requested = match self.sessions.borrow().get(token) {
            Some(session) => session.requested.clone(),
            None => return Err(no_session()),
        };
        let stage = stage(data_dir);
        std::fs::create_dir_all(&stage).map_err(|e| internal(&stage, e))?;
        for part in parts {
            check_hash(&part.name)?;
            let Some(&size) = requested.get(&part.name) else {
                return Err(invalid(format!(
                    "asset {} is not one this session asked for",
                    part.name
                )));
            };
            // A staged file is never replaced: other deploys may be built on it.
            let staged = stage.join(&part.name);
            if staged.is_file() {
                continue;
            }
            let text: Vec<u8> = part
                .bytes
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|e| invalid(format!("asset {} is not base64: {e}", part.name)))?;
            // A staged file is kept for good: it must at least be as large as the manifest said.
            if bytes.len() as u64 != size {
                return Err(invalid(format!(
                    "asset {} is {} bytes, not {size} as the manifest said",
                    part.name,
                    bytes.len()
                )));
            }
            // Written aside, then renamed: a file under its hash is always whole.
            let partial = stage.join(format!("{}.partial", part.name));
            std::fs::write(&partial, &bytes).map_err(|e| internal(&partial, e))?;
            std::fs::rename(&partial, &staged).map_err(|e| internal(&staged, e))?;
        }
        Ok(json!({ "jwt": token }))
    }

    /// The files of session `token` (each path and bytes), for the worker's upload; the
    /// session ends.
    pub(super) fn take(
        &self,
        data_dir: &Path,
        token: &str,
    ) -> Result<Vec<(String, Bytes)>, Refusal> {
        let session = self
            .sessions
            .borrow_mut()
            .remove(token)
            .filter(|session| session.opened.elapsed() < SESSION_LIFETIME)
            .ok_or_else(no_session)?;
        let stage = stage(data_dir);
        let mut files = Vec::with_capacity(session.manifest.len());
        let mut total: u64 = 0;
        for (path, hash) in session.manifest {
            let bytes = std::fs::read(stage.join(&hash))
                .map_err(|_| invalid(format!("asset {path:?} ({hash}) was never uploaded")))?;
            total = total.saturating_add(bytes.len() as u64);
            if total > MAX_TOTAL_BYTES {
                return Err(invalid(format!(
                    "the assets are over {MAX_TOTAL_BYTES} bytes, which Verge deploys with a worker"
                )));
            }
            files.push((path, Bytes::from(bytes)));
        }
        Ok(files)
    }
}

/// Whether `staged` is a staged file, whose keeping starts again now.
fn renew(staged: &Path) -> bool {
    std::fs::File::options()
        .write(true)
        .open(staged)
        .and_then(|file| file.set_modified(std::time::SystemTime::now()))
        .is_ok()
}

/// Removes from `stage` the files no session has named for [`STAGE_KEEP`] (and the partial
/// writes older than a session), but none that an open session's manifest (or `opening`)
/// names.
fn sweep(stage: &Path, open: &HashMap<String, Session>, opening: &BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(stage) else {
        return;
    };
    let named: std::collections::HashSet<&str> = opening
        .values()
        .chain(open.values().flat_map(|session| session.manifest.values()))
        .map(String::as_str)
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let keep = match name.strip_suffix(".partial") {
            Some(_) => SESSION_LIFETIME,
            None => STAGE_KEEP,
        };
        let idle = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok());
        if idle.is_some_and(|idle| idle > keep) && !named.contains(name.as_str()) {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!("cannot remove the staged asset {name}: {e}");
            }
        }
    }
}

fn no_session() -> Refusal {
    failure(
        StatusCode::BAD_REQUEST,
        10026,
        "no such asset upload session (it expired, or the server restarted): run wrangler deploy again",
    )
}

fn internal(path: &Path, e: std::io::Error) -> Refusal {
    failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        10001,
        format!("{}: {e}", path.display()),
    )
}

/// A fresh session token: a JWT in shape (wrangler decodes its payload), unsigned, whose
/// payload carries 128 random bits.
fn session_token() -> Result<String, Refusal> {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id = super::registry::fresh_id()?;
    let header = url.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = url.encode(json!({ "session": id }).to_string());
    Ok(format!("{header}.{payload}.verge"))
}

/// The `[assets]` config of a deploy whose metadata's `assets.config` is `config`, with the
/// binding named `binding`.
pub(super) fn config(config: Option<&Value>, binding: Option<&str>) -> Value {
    let mut assets = json!({ "directory": DIRECTORY });
    if let Some(binding) = binding {
        assets["binding"] = binding.into();
    }
    for key in ["html_handling", "not_found_handling", "run_worker_first"] {
        if let Some(value) = config.and_then(|config| config.get(key)) {
            assets[key] = value.clone();
        }
    }
    assets
}

/// The `_headers` and `_redirects` files that wrangler sends as text in the metadata's
/// `assets.config` (it uploads neither as an asset), by name, to be written beside the assets.
pub(super) fn rule_files(config: Option<&Value>) -> impl Iterator<Item = (&'static str, &str)> {
    ["_headers", "_redirects"]
        .into_iter()
        .filter_map(move |file| {
            let text = config?.get(file)?.as_str()?;
            Some((file, text))
        })
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::{check_hash, check_path, stage, AssetSessions, STAGE_KEEP};
    use std::time::{Duration, SystemTime};

    #[test]
    fn staged_files_no_session_names_for_a_week_are_removed() {
        let data_dir = tempfile::tempdir().unwrap();
        let stage = stage(data_dir.path());
        std::fs::create_dir_all(&stage).unwrap();
        let long_ago = SystemTime::now() - STAGE_KEEP - Duration::from_secs(60);
        let hash = |n: u8| format!("{:032x}", n);
        let staged = |name: &str, modified: SystemTime| {
            let path = stage.join(name);
            std::fs::write(&path, b"x").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(modified).unwrap();
        };
        staged(&hash(1), long_ago);
        staged(&hash(2), long_ago);
        staged(&hash(3), SystemTime::now());
        staged(&format!("{}.partial", hash(4)), long_ago);
        let sessions = AssetSessions::default();
        let manifest = format!(
            r#"{{"manifest": {{"/a.txt": {{"hash": "{}", "size": 1}}}}}}"#,
            hash(2)
        );
        let answer = sessions
            .open(data_dir.path(), manifest.as_bytes())
            .ok()
            .unwrap();
        // The file it names is staged: nothing to send, and it is kept.
        assert_eq!(answer["buckets"], serde_json::json!([]));
        let left: std::collections::BTreeSet<String> = std::fs::read_dir(&stage)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, [hash(2), hash(3)].into_iter().collect());
        // Named again, its week starts again.
        let renewed = std::fs::metadata(stage.join(hash(2)))
            .unwrap()
            .modified()
            .unwrap();
        assert!(renewed.elapsed().unwrap() < Duration::from_secs(60));
    }

    #[test]
    fn asset_paths_stay_inside_the_directory() {
        assert_eq!(
            check_path("/css/site.css").ok(),
            Some("css/site.css".into())
        );
        for bad in [
            "/",
            "",
            "/../etc/passwd",
            "/a/../../b",
            "/a//b",
            "/./a",
            "/a\\b",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_are_32_hex_digits() {
        assert!(check_hash("0123456789abcdef0123456789ABCDEF").is_ok());
        for bad in [
            "",
            "../../../../etc/passwd",
            "0123456789abcdef0123456789abcdeg",
            "00",
        ] {
            assert!(check_hash(bad).is_err(), "{bad}");
        }
    }
}
