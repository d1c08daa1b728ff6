//! A PoP's own copy of a hub bucket (KV's values, R2's index): fed in the bucket's order by a
//! watch that resumes after the last revision the copy applied — which the copy keeps itself,
//! written after the changes it covers, so a restart resumes where it stopped or a little
//! before (applying a change twice is harmless), never after — and read by the PoP without a
//! hub round trip. A write through the hub returns once the copy has it
//! ([`until_applied`]), so the PoP that wrote reads its own write.

use crate::{within, FOLLOW_AGAIN_AFTER};
use async_nats::jetstream::kv;
use futures_util::StreamExt as _;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How many changes a copy applies in one write, at most, while catching up.
const APPLY_BATCH: usize = 1024;

/// How often a quiet watch is checked against the hub's last revision.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// How long a write waits for the copy to have it before returning anyway (it is stored at the
/// hub by then, and the copy will have it).
const OWN_WRITE_WAIT: Duration = Duration::from_secs(2);

/// The last revision a copy has applied, and how many changes it still lacked then.
pub(crate) type Progress = watch::Sender<(u64, u64)>;

/// Feeds a copy of `bucket` (its name and store) for as long as the server runs, from the
/// revision after `applied`: each batch of changes goes to `apply` with the batch's last
/// revision, which it keeps after them. A batch that fails is fetched again from the hub. A copy
/// ahead of the hub's last revision was fed by another hub (one reset): it starts over, taking
/// every key's current value again.
pub(crate) async fn follow<Apply, Applied>(
    cluster: &crate::Cluster,
    (name, bucket): (&str, &kv::Store),
    what: &'static str,
    progress: &Progress,
    mut applied: u64,
    mut apply: Apply,
) where
    Apply: FnMut(Vec<kv::Entry>, u64) -> Applied,
    Applied: Future<Output = Result<(), String>>,
{
    progress.send_replace((applied, 0));
    // Said once when the hub is lost, and once when it is followed again.
    let mut lost = false;
    loop {
        if let Ok(last) = cluster.last_revision(name).await {
            if applied > last {
                tracing::warn!(
                    "{what}: this copy is at revision {applied}, the hub at {last}: it was fed \
                     by another hub, so it takes every key again"
                );
                applied = 0;
            }
        }
        let watch = within(what, async {
            bucket.watch_all_from_revision(applied + 1).await
        })
        .await;
        match watch {
            Ok(watch) => {
                let mut batches = watch.ready_chunks(APPLY_BATCH);
                let mut checks = tokio::time::interval(STALL_CHECK);
                let mut heard = tokio::time::Instant::now();
                loop {
                    let batch = tokio::select! {
                        batch = batches.next() => match batch {
                            Some(batch) => batch,
                            None => break,
                        },
                        _ = checks.tick() => {
                            if stalled(cluster, name, applied, heard).await {
                                tracing::warn!("{what}: the watch went quiet behind the hub");
                                break;
                            }
                            continue;
                        }
                    };
                    heard = tokio::time::Instant::now();
                    let entries: Result<Vec<kv::Entry>, _> = batch.into_iter().collect();
                    let outcome = match entries {
                        Ok(entries) => match entries.last().map(|e| (e.revision, e.delta)) {
                            Some((last, lag)) => apply(entries, last).await.map(|()| (last, lag)),
                            None => continue,
                        },
                        Err(e) => Err(e.to_string()),
                    };
                    match outcome {
                        Ok((last, lag)) => {
                            applied = last;
                            heard = tokio::time::Instant::now();
                            progress.send_replace((last, lag));
                            if lost {
                                tracing::info!("{what}: following the hub again");
                                lost = false;
                            }
                        }
                        Err(e) => {
                            tracing::warn!("{what}: lost the hub: {e}");
                            lost = true;
                            break;
                        }
                    }
                }
            }
            Err(e) if !lost => {
                tracing::warn!("{what}: {e}");
                lost = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(FOLLOW_AGAIN_AFTER).await;
    }
}

/// Whether a watch that delivered nothing since `heard` has fallen silent while the hub moved
/// on past `applied` (its server lost, say, without the watch noticing): then it is made anew.
async fn stalled(
    cluster: &crate::Cluster,
    name: &str,
    applied: u64,
    heard: tokio::time::Instant,
) -> bool {
    heard.elapsed() >= STALL_CHECK
        && matches!(cluster.last_revision(name).await, Ok(last) if last > applied)
}

/// Waits until the copy `progress` reports reaches `revision`, or [`OWN_WRITE_WAIT`] passes.
pub(crate) async fn until_applied(mut progress: watch::Receiver<(u64, u64)>, revision: u64) {
    let _ = tokio::time::timeout(
        OWN_WRITE_WAIT,
        progress.wait_for(|(applied, _)| *applied >= revision),
    )
    .await;
}

/// The hub a store at a PoP writes through, once the PoP has joined it.
pub(crate) struct HubSlot {
    cluster: std::sync::OnceLock<std::sync::Arc<crate::Cluster>>,
    /// The hub's URLs, to name it in errors.
    hubs: String,
}

impl HubSlot {
    pub(crate) fn new(hubs: String) -> Self {
        Self {
            cluster: std::sync::OnceLock::new(),
            hubs,
        }
    }

    pub(crate) fn join(&self, cluster: std::sync::Arc<crate::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The hub, or the error `what` (e.g. "KV writes") meets before this PoP has joined it.
    pub(crate) fn get(
        &self,
        what: &str,
    ) -> Result<std::sync::Arc<crate::Cluster>, verge_storage::StorageError> {
        self.cluster.get().cloned().ok_or_else(|| {
            verge_storage::StorageError::Backend(format!(
                "the cluster's hub at {} cannot be reached, and {what} need it",
                self.hubs
            ))
        })
    }
}

const PART: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A hub key naming `name` in `space` (a KV namespace, an R2 bucket): each part base64url, as
/// the names may hold any character and a NATS key only a few.
pub(crate) fn encode_key(space: &str, name: &str) -> String {
    use base64::Engine as _;
    format!("{}.{}", PART.encode(space), PART.encode(name))
}

/// The space and name a hub key names, if Verge wrote it.
pub(crate) fn decode_key(key: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (space, name) = key.split_once('.')?;
    let part = |encoded: &str| String::from_utf8(PART.decode(encoded).ok()?).ok();
    Some((part(space)?, part(name)?))
}
