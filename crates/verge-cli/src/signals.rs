//! SIGTERM and Ctrl-C stop a server gracefully: it stops accepting connections and lets the
//! requests in flight finish, within its drain bound.

use verge_server::ShutdownHandle;

/// Watches for SIGTERM and SIGINT on a thread of its own and shuts `server` down on the first.
pub fn stop_on_signal(server: ShutdownHandle) {
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
