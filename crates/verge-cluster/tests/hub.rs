//! verge-cluster against a real hub: a `nats-server` with JetStream started here on a free
//! loopback port (`.ci/run` installs it with pip, or set `VERGE_NATS_SERVER`).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use verge_cluster::{Cluster, ClusterError, Release};
use verge_config::ClusterConfig;

/// A NATS server with JetStream, stopped when dropped.
struct Hub {
    child: Child,
    url: String,
    _store: tempfile::TempDir,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hub {
    fn start() -> Self {
        let program = std::env::var_os("VERGE_NATS_SERVER")
            .map(PathBuf::from)
            .or_else(|| {
                let ci = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../.ci/venv/bin/nats-server");
                ci.is_file().then_some(ci)
            })
            .unwrap_or_else(|| "nats-server".into());
        // The server picks its own port (-1) and writes it to a ports file: a port picked here
        // and let go of could be taken by another test's socket before the server binds it.
        let store = tempfile::tempdir().unwrap();
        let ports = tempfile::tempdir().unwrap();
        let child = Command::new(&program)
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(store.path())
            .arg("--ports_file_dir")
            .arg(ports.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", program.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            // The one file in the directory (named after the server's PID, which a wrapper
            // script would not share).
            let written = std::fs::read_dir(ports.path())
                .ok()
                .and_then(|mut files| std::fs::read_to_string(files.next()?.ok()?.path()).ok());
            let listed =
                written.and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
            let port = listed.and_then(|ports| {
                let client = ports["nats"][0]
                    .as_str()?
                    .rsplit(':')
                    .next()?
                    .parse::<u16>()
                    .ok()?;
                std::net::TcpStream::connect(("127.0.0.1", client)).ok()?;
                Some(client)
            });
            if let Some(port) = port {
                break port;
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        };
        Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        }
    }

    fn config(&self, pop: &str) -> ClusterConfig {
        ClusterConfig {
            nats: vec![self.url.clone()],
            pop: pop.into(),
            credentials: None,
            user: None,
            password: None,
            tls: false,
            replicas: 1,
            d1_primaries: Default::default(),
            location: None,
            addresses: Vec::new(),
            drain: false,
        }
    }
}

fn conflict<T: std::fmt::Debug>(outcome: Result<T, ClusterError>) -> bool {
    matches!(outcome, Err(ClusterError::Conflict(_)))
}

#[tokio::test]
async fn a_change_over_one_it_did_not_see_is_refused() {
    let hub = Hub::start();
    let syd = Cluster::join(&hub.config("syd")).await.unwrap();
    let fra = Cluster::join(&hub.config("fra")).await.unwrap();
    let release = |code: &str| Release {
        code: code.into(),
        config_file: "wrangler.toml".into(),
        ..Default::default()
    };

    // Two PoPs that both saw no release of `w`: the first to publish wins, the other is told.
    let first = syd.publish("w", &release("a"), None).await.unwrap();
    assert!(conflict(fra.publish("w", &release("b"), None).await));
    assert_eq!(
        fra.head("w").await.unwrap(),
        Some((first, Some(release("a"))))
    );

    // Over the change it saw, a PoP publishes; over an older one, it is refused.
    let second = fra.publish("w", &release("b"), Some(first)).await.unwrap();
    assert!(second > first);
    assert!(conflict(syd.publish("w", &release("c"), Some(first)).await));
    assert!(conflict(syd.withdraw("w", first).await));

    // A withdrawal is a version too, which the next release goes over.
    let gone = syd.withdraw("w", second).await.unwrap();
    assert!(gone > second);
    assert_eq!(fra.head("w").await.unwrap(), Some((gone, None)));
    let third = fra.publish("w", &release("c"), Some(gone)).await.unwrap();
    assert!(third > gone);
    let kept: Vec<u64> = syd
        .releases("w")
        .await
        .unwrap()
        .iter()
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(kept, vec![first, second, third]);

    // A worker the hub never had is withdrawn over "no change".
    assert!(syd.withdraw("never", 0).await.unwrap() > third);
    assert!(conflict(syd.withdraw("w", 0).await));
}
