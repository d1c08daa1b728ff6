//! A PoP's own copy of a hub bucket (KV's values, R2's index): fed in the bucket's order by a
//! watch that resumes after the last revision the copy applied — which the copy keeps itself,
//! in the same write as the changes, so a restart resumes where it stopped — and read by the
//! PoP without a hub round trip. A write through the hub returns once the copy has it
//! ([`until_applied`]), so the PoP that wrote reads its own write.

use crate::within;
use async_nats::jetstream::kv;
use futures_util::StreamExt as _;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How many changes a copy applies in one write, at most, while catching up.
const APPLY_BATCH: usize = 1024;

/// How long to wait before following the hub again after losing it.
const FOLLOW_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// How long a write waits for the copy to have it before returning anyway (it is stored at the
/// hub by then, and the copy will have it).
const OWN_WRITE_WAIT: Duration = Duration::from_secs(2);

/// The last revision a copy has applied, and how many changes it still lacked then.
pub(crate) type Progress = watch::Sender<(u64, u64)>;

/// Feeds a copy of `bucket` for as long as the server runs, from the revision after `applied`:
/// each batch of changes goes to `apply` with the batch's last revision, which it keeps with
/// them. A batch that fails is fetched again from the hub.
pub(crate) async fn follow<Apply, Applied>(
    bucket: &kv::Store,
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
        let watch = within(what, async {
            bucket.watch_all_from_revision(applied + 1).await
        })
        .await;
        match watch {
            Ok(watch) => {
                let mut batches = watch.ready_chunks(APPLY_BATCH);
                while let Some(batch) = batches.next().await {
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

/// Waits until the copy `progress` reports reaches `revision`, or [`OWN_WRITE_WAIT`] passes.
pub(crate) async fn until_applied(mut progress: watch::Receiver<(u64, u64)>, revision: u64) {
    let _ = tokio::time::timeout(
        OWN_WRITE_WAIT,
        progress.wait_for(|(applied, _)| *applied >= revision),
    )
    .await;
}
