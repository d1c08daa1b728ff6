//! `verge deploy`: upload a project to a running `verge serve` through its admin API. The new
//! version goes live when the server has loaded it; until then, and if it fails, the old one
//! keeps serving.

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use verge_config::WorkerConfig;

/// The most a project may upload, as the admin API accepts.
const MAX_UPLOAD: u64 = 48 * 1024 * 1024;

#[derive(Args)]
pub struct DeployArgs {
    /// The project directory (holding wrangler.json, wrangler.jsonc or wrangler.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The admin API of the server, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    server: String,
    /// The admin token (or set VERGE_TOKEN).
    #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
    token: String,
}

pub fn run(args: DeployArgs) -> anyhow::Result<()> {
    let config = WorkerConfig::locate(&args.path)?;
    let config_file = config
        .config_file
        .as_ref()
        .context("verge deploy needs a project with a wrangler config, not a bare script")?;
    let mut files = BTreeMap::new();
    let mut total = 0;
    collect(&config.root, &config.root, &mut files, &mut total)?;
    let relative_config = config_file
        .strip_prefix(&config.root)
        .unwrap_or(config_file)
        .to_string_lossy()
        .replace('\\', "/");
    let body = serde_json::json!({ "config_file": relative_config, "files": files }).to_string();
    let url = format!(
        "{}/workers/{}",
        args.server.trim_end_matches('/'),
        config.name
    );
    let reply = crate::secret::call_admin("PUT", &url, &args.token, Some(body))
        .context("the deploy failed")?;
    println!(
        "Deployed {} version {} ({} files, {} bytes)",
        config.name,
        reply["version"],
        files.len(),
        total
    );
    Ok(())
}

/// Adds the files under `dir` (skipping hidden entries and node_modules) as base64.
fn collect(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, String>,
    total: &mut u64,
) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, files, total)?;
        } else if kind.is_file() {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            *total += bytes.len() as u64;
            if *total > MAX_UPLOAD {
                anyhow::bail!("the project is larger than {MAX_UPLOAD} bytes");
            }
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(
                relative,
                base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
    }
    Ok(())
}
