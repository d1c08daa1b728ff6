//! A real PostgreSQL (Debian's `postgresql`, as .ci/run installs it) for one test: a fresh
//! cluster in a temporary directory, listening on a free loopback port, stopped by its PID when
//! dropped. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    pub port: u16,
    server: Child,
    _dir: tempfile::TempDir,
}

/// PostgreSQL's programs: the newest version under /usr/lib/postgresql.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|entry| Some(entry.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    let bin = versions.pop();
    assert!(
        bin.as_ref().is_some_and(|bin| bin.join("postgres").is_file()),
        "PostgreSQL is missing (no /usr/lib/postgresql/*/bin/postgres): run .ci/run, which installs Debian's postgresql"
    );
    bin.unwrap()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program` run as the user PostgreSQL accepts: this one, or `postgres` for root (setpriv
/// execs, so the child's PID is PostgreSQL's own).
fn as_postgres(program: &Path, root: bool) -> Command {
    if !root {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
    command
}

impl Postgres {
    /// A new cluster whose superuser `verge` logs in without a password from loopback.
    pub fn start() -> Self {
        let bin = bin_dir();
        let root = is_root();
        let dir = tempfile::tempdir().unwrap();
        if root {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown postgres failed");
        }
        let data = dir.path().join("data");
        let init = as_postgres(&bin.join("initdb"), root)
            .arg("-D")
            .arg(&data)
            .args(["-U", "verge", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = super::free_port();
        let server = as_postgres(&bin.join("postgres"), root)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-k"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let postgres = Self {
            port,
            server,
            _dir: dir,
        };
        let ready = super::wait_until(Duration::from_secs(30), || {
            Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .is_ok_and(|status| status.success())
        });
        assert!(ready, "PostgreSQL did not become ready on port {port}");
        postgres
    }

    /// Runs `sql` with psql as `verge`; its output, tuples only.
    pub fn psql(&self, sql: &str) -> String {
        let started = Instant::now();
        let out = Command::new(bin_dir().join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "verge",
            ])
            .args(["-d", "postgres", "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql failed after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGTERM: a smart shutdown, by the PID of the server this test started.
        let _ = Command::new("kill")
            .args(["-TERM", &self.server.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.server.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
