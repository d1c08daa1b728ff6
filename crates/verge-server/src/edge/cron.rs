//! Cron triggers: the first serving thread's clock that runs each worker's `scheduled` handler
//! when its `[triggers] crons` come due (`verge serve`), and `/__scheduled?cron=…` that runs it
//! on demand (`verge dev --test-scheduled`).

use super::http::plain;
use super::state::ThreadState;
use super::Site;
use crate::tail::Tracer;
use http::StatusCode;
use std::time::Duration;
use verge_runtime::{Outcome, Response};

/// Runs worker `index`'s scheduled handler for `cron` firing at `at`; why it failed, if it did.
/// Failures are logged and published to `verge tail` like a request's.
async fn run_scheduled(
    state: &ThreadState,
    site: &Site,
    index: usize,
    cron: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let name = site.workers[index].config.name.as_str();
    let live = state
        .worker(site, index)
        .await
        .map_err(|error| format!("cannot load the worker: {error}"))?;
    let tracer = Tracer::of_scheduled(&state.metrics, name, cron, at.timestamp_millis());
    let console = state.event_console(site, name, tracer.as_ref());
    #[allow(clippy::cast_precision_loss)]
    let outcome = live
        .worker
        .scheduled(cron, at.timestamp_millis() as f64, console)
        .await;
    live.count_busy();
    if let Some(tracer) = &tracer {
        tracer.ended(&outcome);
    }
    let failure = match outcome {
        Outcome::Completed | Outcome::Response(_) | Outcome::Reply(_) => None,
        Outcome::LimitExceeded { message, .. } => {
            state.isolates.discard(name);
            Some(message)
        }
        Outcome::Exception { error, .. } => {
            if error.is_out_of_memory() {
                state.isolates.discard(name);
            }
            Some(error.to_string())
        }
    };
    match failure {
        None => {
            tracing::info!(worker = name, "scheduled \"{cron}\" ran");
            Ok(())
        }
        Some(failure) => {
            tracing::error!(worker = name, "scheduled \"{cron}\" failed: {failure}");
            // A traced event's failure goes out with its trace.
            if tracer.is_none() {
                state.metrics.tail.publish(name, "exception", &failure);
            }
            Err(failure)
        }
    }
}

/// The first serving thread's cron clock: sleeps until the next trigger of any worker's crons
/// (at most a minute, so that deploys are seen), then runs every trigger due, each in its own
/// task so that a slow handler delays no other.
pub(super) async fn run_crons(state: std::rc::Weak<ThreadState>) {
    let mut after = chrono::Utc::now();
    loop {
        let Some(site) = state.upgrade().map(|state| state.site.current()) else {
            return;
        };
        let mut due: Vec<(usize, String, chrono::DateTime<chrono::Utc>)> = Vec::new();
        let mut next: Option<chrono::DateTime<chrono::Utc>> = None;
        for (index, deployed) in site.workers.iter().enumerate() {
            for cron in &deployed.config.crons {
                let Ok(schedule) = cron.parse::<croner::Cron>() else {
                    continue;
                };
                let Ok(at) = schedule.find_next_occurrence(&after, false) else {
                    continue;
                };
                if at <= chrono::Utc::now() {
                    due.push((index, cron.clone(), at));
                } else if next.is_none_or(|next| at < next) {
                    next = Some(at);
                }
            }
        }
        if due.is_empty() {
            let until = next.map_or(Duration::from_secs(60), |next| {
                (next - chrono::Utc::now()).to_std().unwrap_or_default()
            });
            tokio::time::sleep(until.min(Duration::from_secs(60))).await;
            continue;
        }
        for (index, cron, at) in due {
            after = after.max(at);
            let (state, site) = (state.clone(), site.clone());
            tokio::task::spawn_local(async move {
                if let Some(state) = state.upgrade() {
                    let _ = run_scheduled(&state, &site, index, &cron, at).await;
                }
            });
        }
    }
}

/// `/__scheduled?cron=…` under `verge dev --test-scheduled`: runs the scheduled handler now, as
/// `wrangler dev` does, and says how it went.
pub(super) async fn scheduled_on_demand(
    state: &ThreadState,
    site: &Site,
    tenant: Option<usize>,
    path: &str,
) -> Response {
    let Some(index) = tenant else {
        return plain(
            StatusCode::NOT_FOUND,
            "Error 404: no worker is routed here\n",
        );
    };
    let query = path.split_once('?').map_or("", |(_, query)| query);
    let cron = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "cron")
        .map_or_else(String::new, |(_, value)| value.into_owned());
    match run_scheduled(state, site, index, &cron, chrono::Utc::now()).await {
        Ok(()) => plain(StatusCode::OK, "Ran scheduled event\n"),
        Err(failure) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The scheduled handler failed: {failure}\n"),
        ),
    }
}
