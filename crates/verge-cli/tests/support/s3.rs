//! A real S3-compatible server for tests: moto's, on a free loopback port (`.ci/run` installs it
//! with pip, or set `VERGE_MOTO_SERVER` to its `moto_server`).

use super::{client, send, wait_until};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A moto S3 server on a free loopback port, stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    bucket: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("VERGE_MOTO_SERVER") {
        return path.into();
    }
    let ci = super::repo_root().join(".ci/venv/bin/moto_server");
    if ci.is_file() {
        return ci;
    }
    "moto_server".into()
}

impl S3Server {
    /// A server with one bucket, `bucket`, made.
    pub fn start(bucket: &str) -> Self {
        let port = super::free_port();
        let program = moto_server();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): install it with `pip install 'moto[server]'` (as \
                     .ci/run does) or set VERGE_MOTO_SERVER",
                    program.display()
                )
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = Self {
            child,
            endpoint,
            bucket: bucket.to_owned(),
        };
        let up = wait_until(Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "moto_server did not start listening on {port}");
        let created = send(
            &client(),
            http::Request::put(format!("{}/{bucket}", server.endpoint))
                .body(Vec::new())
                .unwrap(),
        );
        assert_eq!(created.status, 200, "creating the bucket: {}", created.body);
        server
    }

    /// The keys in the S3 bucket, from its ListObjectsV2 XML.
    pub fn keys(&self) -> Vec<String> {
        let listed = send(
            &client(),
            http::Request::get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
                .body(Vec::new())
                .unwrap(),
        );
        listed
            .body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }
}
