//! The real `wrangler` (npm's, pinned in .ci/run, on npm's Node 22), run against a Verge
//! admin listener's Cloudflare API as a user runs it, but non-interactive.

use super::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// wrangler and the Node it needs, as .ci/run installs them.
fn wrangler_install() -> (PathBuf, PathBuf) {
    let wrangler = repo_root().join(".ci/npm/node_modules/wrangler/bin/wrangler.js");
    assert!(
        wrangler.is_file(),
        "wrangler is missing from .ci/npm: run .ci/run, which installs it"
    );
    (super::node(), wrangler)
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
    let mut child = command(project, home, admin, token, args)
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

/// A wrangler left running (`wrangler tail`): its output and errors as they come; stopped (by
/// its process group, which its PID names) when dropped.
pub struct Running {
    child: std::process::Child,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

/// What `from` writes, gathered as it comes (read to the end, so that no pipe fills).
fn gathered(
    mut from: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let into = text.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(read @ 1..) = from.read(&mut chunk) {
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..read]));
        }
    });
    text
}

impl Running {
    pub fn start(project: &Path, home: &Path, admin: &str, token: &str, args: &[&str]) -> Self {
        use std::os::unix::process::CommandExt as _;
        let mut child = command(project, home, admin, token, args)
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("run wrangler");
        let stdout = gathered(child.stdout.take().unwrap());
        let stderr = gathered(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // wrangler's bin script runs the CLI as a child of its own, which outlived the script
        // (left behind by CI runs): the process group the child leads goes with it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that runs wrangler as [`wrangler`] describes.
fn command(project: &Path, home: &Path, admin: &str, token: &str, args: &[&str]) -> Command {
    let (node, script) = wrangler_install();
    let node_dir = node.parent().unwrap();
    let path = format!(
        "{}:{}",
        node_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(&node);
    command
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
        .stderr(Stdio::piped());
    command
}

impl Run {
    /// The id of the KV namespace `wrangler kv namespace create` printed: 32 hex digits, quoted.
    pub fn namespace_id(&self) -> String {
        self.quoted(|word| word.len() == 32 && word.chars().all(|c| c.is_ascii_hexdigit()))
    }

    /// The quoted word of its output that `is` picks.
    pub fn quoted(&self, is: impl Fn(&str) -> bool) -> String {
        self.stdout
            .split('"')
            .find(|word| is(word))
            .unwrap_or_else(|| panic!("no such id in:\n{}", self.stdout))
            .to_owned()
    }

    pub fn expect_ok(self, what: &str) -> Self {
        assert!(self.ok, "{what} failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }
}
