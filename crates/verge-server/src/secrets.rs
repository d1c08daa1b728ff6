//! Workers' secrets under `verge serve`: set through the admin API (`verge secret put`), kept in
//! `<data_dir>/secrets/<worker>.json` (readable by the server's user only), and given to the
//! worker's `env` beside its vars, overriding a var of the same name. Their values appear in no
//! listing, log or metric.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use verge_config::WorkerConfig;

fn file(data_dir: &Path, worker: &str) -> PathBuf {
    data_dir.join("secrets").join(format!("{worker}.json"))
}

/// Worker `worker`'s secrets; none if it has no file.
pub fn load(data_dir: &Path, worker: &str) -> Result<BTreeMap<String, String>, String> {
    let path = file(data_dir, worker);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a secrets file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Replaces worker `worker`'s secrets: written to a temporary file, then renamed over the old
/// one, so a crash leaves either the old set or the new.
pub fn store(
    data_dir: &Path,
    worker: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<(), String> {
    let path = file(data_dir, worker);
    let dir = data_dir.join("secrets");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_vec(secrets).map_err(|e| e.to_string())?;
    write_private(&temporary, &text)
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

/// Writes `bytes` to `path`, readable and writable by this user only, synced.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// `config` with `secrets` in its `env`.
pub fn apply(config: &mut WorkerConfig, secrets: &BTreeMap<String, String>) {
    for (name, value) in secrets {
        config
            .vars
            .insert(name.clone(), serde_json::Value::String(value.clone()));
    }
}
