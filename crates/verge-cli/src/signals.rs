//! Serving until stopped: the Ready line, then SIGTERM or Ctrl-C stop the server gracefully (it
//! stops accepting connections and lets the requests in flight finish, within its drain bound).

use std::io::Write as _;
use verge_server::{RunningServer, ShutdownHandle};

/// Prints `Ready on http://ADDRESS` (what scripts and tests wait for), then serves until a
/// signal has stopped `server` and its requests in flight are done.
pub fn serve_until_stopped(server: RunningServer, address: std::net::SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "Ready on http://{address}");
    let _ = stdout.flush();
    drop(stdout);
    stop_on_signal(server.shutdown_handle());
    server.join();
}

/// Watches for SIGTERM and SIGINT on a thread of its own and shuts `server` down on the first.
fn stop_on_signal(server: ShutdownHandle) {
    let watcher = std::thread::Builder::new()
        .name("verge-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    return tracing::warn!("signals will not stop the server gracefully: {e}")
                }
            };
            runtime.block_on(async {
                let Ok(mut terminate) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return tracing::warn!("cannot watch for SIGTERM");
                };
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                tracing::info!("shutting down: finishing the requests in flight");
                server.shutdown();
            });
        });
    if let Err(e) = watcher {
        tracing::warn!("signals will not stop the server gracefully: {e}");
    }
}
