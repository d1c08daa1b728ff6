//! `/queues`: every queue the workers name or that holds messages, with its counts
//! (`GET /queues`), and `DELETE /queues/{name}/messages`, which purges one; and the queues'
//! lines of `/metrics`.

use super::{error, json, AdminBody};
use crate::releases::Releases;
use http::{Response, StatusCode};
use std::fmt::Write as _;
use std::sync::Arc;
use verge_storage::{queue_listing, QueueCounts, QueueStore};

/// Each queue's messages and how many may be delivered now, by name: every queue the site's
/// workers name, and every queue holding a message.
async fn counts(
    store: &Arc<dyn QueueStore>,
    releases: &Releases,
) -> Result<Vec<QueueCounts>, String> {
    let counts = store.counts().await.map_err(|e| e.to_string())?;
    let site = releases.site().current();
    let named = site
        .workers
        .iter()
        .flat_map(|deployed| deployed.config.queues.names());
    Ok(queue_listing(named, counts))
}

/// A queue's counts as the admin API and `verge queues list` show them.
fn queue_row(counted: &QueueCounts) -> serde_json::Value {
    serde_json::json!({
        "queue": counted.queue,
        "messages": counted.messages,
        "backlog": counted.ready,
    })
}

/// `GET /queues`: `[{ "queue", "messages", "backlog" }]`.
pub(super) async fn list(
    store: Option<&Arc<dyn QueueStore>>,
    releases: &Releases,
) -> Response<AdminBody> {
    let Some(store) = store else {
        return error(StatusCode::NOT_FOUND, "this server has no queues");
    };
    match counts(store, releases).await {
        Ok(queues) => {
            let listed: Vec<serde_json::Value> = queues.iter().map(queue_row).collect();
            json(StatusCode::OK, serde_json::json!(listed))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// `DELETE /queues/{name}/messages`: `{ "purged": count }`.
pub(super) async fn purge(store: Option<&Arc<dyn QueueStore>>, name: &str) -> Response<AdminBody> {
    let Some(store) = store else {
        return error(StatusCode::NOT_FOUND, "this server has no queues");
    };
    if let Err(e) = verge_config::check_queue_name(name) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    match store.purge(name).await {
        Ok(purged) => json(StatusCode::OK, serde_json::json!({ "purged": purged })),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// The queues' series of `/metrics`: messages held and the backlog, by queue.
pub(super) async fn metrics(store: Option<&Arc<dyn QueueStore>>, releases: &Releases) -> String {
    let Some(Ok(queues)) = (match store {
        Some(store) => Some(counts(store, releases).await),
        None => None,
    }) else {
        return String::new();
    };
    let mut text = String::from(
        "# HELP verge_queue_messages Messages a queue holds, delivered or not.\n\
         # TYPE verge_queue_messages gauge\n",
    );
    for QueueCounts {
        queue, messages, ..
    } in &queues
    {
        let _ = writeln!(text, "verge_queue_messages{{queue=\"{queue}\"}} {messages}");
    }
    text.push_str(
        "# HELP verge_queue_backlog Messages of a queue that may be delivered now.\n\
         # TYPE verge_queue_backlog gauge\n",
    );
    for QueueCounts { queue, ready, .. } in &queues {
        let _ = writeln!(text, "verge_queue_backlog{{queue=\"{queue}\"}} {ready}");
    }
    text
}
