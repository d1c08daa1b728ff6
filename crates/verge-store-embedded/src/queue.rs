//! Queues in one SQLite file (WAL, synced on every commit): a row per message, which records
//! its queue, body, attempts and when it may next be delivered (`visible_ms`: after its delay,
//! or after its lease runs out). A lease moves `visible_ms` forward and marks the message
//! leased; a settlement deletes what was acknowledged, moves a retried message's `visible_ms`
//! and a dead one to its dead-letter queue, in one transaction. The file is one server's: what
//! it finds leased when it starts ([`SqliteQueues::release_leases`]) was leased by a server
//! that died, and is delivered again at once. Other processes (`verge queues`) may read and
//! purge it meanwhile.
//!
//! Calls go to one thread that owns the file, which runs every call waiting for it in one
//! transaction (each in a savepoint of its own, so that one failing undoes itself alone) and
//! answers them once it is committed: concurrent `send`s share a commit and its sync.

use crate::sql::open_synced;
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use verge_storage::{
    queue_limits, unix_now_ms, ContentType, NewMessage, QueueCounts, QueueStore, QueuedMessage,
    Settlement, StorageError, StorageFuture,
};

/// Every queue of a server; cheap to clone.
#[derive(Clone)]
pub struct SqliteQueues {
    calls: mpsc::Sender<Call>,
}

/// One call for the thread that owns the file: run in a savepoint, it gives what answers its
/// caller once the transaction is committed (or failed), or nothing if it failed on its own
/// (its caller has been told).
type Call = Box<dyn FnOnce(&Connection) -> Option<Answer> + Send>;
type Answer = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// Calls committed together at most.
const CALLS_PER_COMMIT: usize = 256;

/// Runs the calls that come on `calls` against `db`, as many as wait in one transaction, until
/// every sender is gone.
fn own(mut db: Connection, calls: &mpsc::Receiver<Call>) {
    while let Ok(first) = calls.recv() {
        let mut batch = vec![first];
        while batch.len() < CALLS_PER_COMMIT {
            match calls.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = (|| {
            // Immediate: the write lock first, so that a read never meets another process's
            // newer snapshot (`verge queues purge`) halfway.
            let mut transaction = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for call in batch {
                let savepoint = transaction.savepoint()?;
                match call(&savepoint) {
                    Some(answer) => {
                        savepoint.commit()?;
                        answers.push(answer);
                    }
                    // Dropped: rolled back.
                    None => drop(savepoint),
                }
            }
            transaction.commit()
        })()
        .map_err(backend);
        for answer in answers {
            answer(committed.clone());
        }
    }
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

fn as_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// 32 random hex digits.
fn message_id() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| backend(format!("no randomness for an id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl SqliteQueues {
    /// The queues in `path`, made if missing.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let at = |e: rusqlite::Error| backend(format!("{}: {e}", path.display()));
        let db = open_synced(path).map_err(at)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 queue TEXT NOT NULL,
                 id TEXT NOT NULL UNIQUE,
                 body BLOB NOT NULL,
                 content_type TEXT NOT NULL,
                 sent_ms INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 visible_ms INTEGER NOT NULL,
                 leased INTEGER NOT NULL DEFAULT 0
             );
             CREATE INDEX IF NOT EXISTS messages_due ON messages (queue, visible_ms, seq);
             CREATE INDEX IF NOT EXISTS messages_age ON messages (queue, sent_ms);",
        )
        .map_err(at)?;
        let (calls, owned) = mpsc::channel();
        std::thread::Builder::new()
            .name("verge-queues".into())
            .spawn(move || own(db, &owned))
            .map_err(|e| backend(format!("cannot start the queues' thread: {e}")))?;
        Ok(Self { calls })
    }

    /// Makes every leased message deliverable now: what a server starting on the file calls,
    /// since the server that leased them is gone.
    pub fn release_leases(&self) -> Result<(), StorageError> {
        let (answer, answered) = mpsc::channel();
        let call: Call = Box::new(move |db| {
            let released = db.execute(
                "UPDATE messages SET visible_ms = ?1, leased = 0 WHERE leased = 1",
                params![as_sql(unix_now_ms())],
            );
            match released {
                Ok(_) => Some(Box::new(move |committed: Result<(), StorageError>| {
                    let _ = answer.send(committed);
                })),
                Err(error) => {
                    let _ = answer.send(Err(backend(error)));
                    None
                }
            }
        });
        let stopped = || backend("the queues' thread stopped");
        self.calls.send(call).map_err(|_| stopped())?;
        answered.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Runs `call` on the file's thread, in the transaction of the calls beside it; its result
    /// once that is committed.
    fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> StorageFuture<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |db| match call(db) {
            Ok(value) => Some(Box::new(move |committed: Result<(), StorageError>| {
                let _ = answer.send(committed.map(|()| value));
            })),
            Err(error) => {
                let _ = answer.send(Err(error));
                None
            }
        });
        let sent = self.calls.send(call);
        Box::pin(async move {
            sent.map_err(|_| backend("the queues' thread stopped"))?;
            answered
                .await
                .unwrap_or_else(|_| Err(backend("the queues' thread stopped")))
        })
    }
}

impl QueueStore for SqliteQueues {
    fn send(&self, queue: &str, messages: Vec<NewMessage>) -> StorageFuture<()> {
        let queue = queue.to_owned();
        self.call(move |db| {
            let now = unix_now_ms();
            let mut insert = db
                .prepare_cached(
                    "INSERT INTO messages (queue, id, body, content_type, sent_ms, visible_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(backend)?;
            for message in messages {
                let visible = now.saturating_add(message.delay_ms);
                insert
                    .execute(params![
                        queue,
                        message_id()?,
                        &message.body[..],
                        message.content_type.name(),
                        as_sql(now),
                        as_sql(visible),
                    ])
                    .map_err(backend)?;
            }
            Ok(())
        })
    }

    fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> StorageFuture<Vec<QueuedMessage>> {
        let queue = queue.to_owned();
        self.call(move |db| {
            let now = unix_now_ms();
            // Past its retention, a message leaves the queue undelivered, as on Cloudflare.
            let oldest = now.saturating_sub(queue_limits::RETENTION_MS);
            db.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND sent_ms < ?2")
                .and_then(|mut expire| expire.execute(params![queue, as_sql(oldest)]))
                .map_err(backend)?;
            let mut due = db
                .prepare_cached(
                    "SELECT seq, id, body, content_type, sent_ms, attempts FROM messages
                     WHERE queue = ?1 AND visible_ms <= ?2 ORDER BY visible_ms, seq LIMIT ?3",
                )
                .map_err(backend)?;
            let rows = due
                .query_map(params![queue, as_sql(now), as_sql(max as u64)], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .map_err(backend)?;
            let mut leased = Vec::new();
            let mut seqs = Vec::new();
            for row in rows {
                let (seq, id, body, content_type, sent_ms, attempts) = row.map_err(backend)?;
                seqs.push(seq);
                leased.push(QueuedMessage {
                    id,
                    body: body.into(),
                    content_type: ContentType::from_name(&content_type)
                        .unwrap_or(ContentType::Bytes),
                    sent_ms: u64::try_from(sent_ms).unwrap_or(0),
                    attempts: u32::try_from(attempts).unwrap_or(0).saturating_add(1),
                });
            }
            let mut lease = db
                .prepare_cached(
                    "UPDATE messages SET visible_ms = ?1, attempts = attempts + 1, leased = 1
                     WHERE seq = ?2",
                )
                .map_err(backend)?;
            for seq in seqs {
                lease
                    .execute(params![as_sql(now.saturating_add(lease_ms)), seq])
                    .map_err(backend)?;
            }
            Ok(leased)
        })
    }

    fn renew(&self, queue: &str, ids: Vec<String>, lease_ms: u64) -> StorageFuture<()> {
        let queue = queue.to_owned();
        self.call(move |db| {
            let until = unix_now_ms().saturating_add(lease_ms);
            let mut renew = db
                .prepare_cached(
                    "UPDATE messages SET visible_ms = ?1 WHERE queue = ?2 AND id = ?3 AND leased = 1",
                )
                .map_err(backend)?;
            for id in &ids {
                renew
                    .execute(params![as_sql(until), queue, id])
                    .map_err(backend)?;
            }
            Ok(())
        })
    }

    fn settle(&self, queue: &str, settlement: Settlement) -> StorageFuture<()> {
        let queue = queue.to_owned();
        self.call(move |db| {
            let now = unix_now_ms();
            let mut ack = db
                .prepare_cached("DELETE FROM messages WHERE queue = ?1 AND id = ?2")
                .map_err(backend)?;
            for id in &settlement.acked {
                ack.execute(params![queue, id]).map_err(backend)?;
            }
            let mut retry = db
                .prepare_cached(
                    "UPDATE messages SET visible_ms = ?1, leased = 0 WHERE queue = ?2 AND id = ?3",
                )
                .map_err(backend)?;
            for (id, delay_ms) in &settlement.retried {
                retry
                    .execute(params![as_sql(now.saturating_add(*delay_ms)), queue, id])
                    .map_err(backend)?;
            }
            let mut move_to = db
                .prepare_cached(
                    "UPDATE messages SET queue = ?1, attempts = 0, visible_ms = ?2, leased = 0
                     WHERE queue = ?3 AND id = ?4",
                )
                .map_err(backend)?;
            for (id, dead_letters) in &settlement.dead {
                match dead_letters {
                    Some(dead_letters) => move_to
                        .execute(params![dead_letters, as_sql(now), queue, id])
                        .map_err(backend)?,
                    None => ack.execute(params![queue, id]).map_err(backend)?,
                };
            }
            Ok(())
        })
    }

    fn purge(&self, queue: &str) -> StorageFuture<u64> {
        let queue = queue.to_owned();
        self.call(move |db| {
            let removed = db
                .execute("DELETE FROM messages WHERE queue = ?1", params![queue])
                .map_err(backend)?;
            Ok(removed as u64)
        })
    }

    fn counts(&self) -> StorageFuture<Vec<QueueCounts>> {
        self.call(move |db| {
            let mut counts = db
                .prepare_cached(
                    "SELECT queue, COUNT(*), SUM(visible_ms <= ?1) FROM messages
                     GROUP BY queue ORDER BY queue",
                )
                .map_err(backend)?;
            let rows = counts
                .query_map(params![as_sql(unix_now_ms())], |row| {
                    Ok(QueueCounts {
                        queue: row.get(0)?,
                        messages: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                        ready: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn message(text: &str, delay_ms: u64) -> NewMessage {
        NewMessage {
            body: bytes::Bytes::copy_from_slice(text.as_bytes()),
            content_type: ContentType::Text,
            delay_ms,
        }
    }

    #[tokio::test]
    async fn messages_are_leased_settled_and_kept_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queues.sqlite");
        let queues = SqliteQueues::open(&path).unwrap();
        let sent = vec![message("a", 0), message("b", 0), message("later", 60_000)];
        queues.send("jobs", sent).await.unwrap();
        let leased = queues.lease("jobs", 10, 30_000).await.unwrap();
        let bodies: Vec<&[u8]> = leased.iter().map(|m| &m.body[..]).collect();
        assert_eq!(bodies, [b"a", b"b"]);
        assert!(leased.iter().all(|m| m.attempts == 1));
        // Leased: not delivered again while the lease lasts.
        assert!(queues.lease("jobs", 10, 30_000).await.unwrap().is_empty());
        let settlement = Settlement {
            acked: vec![leased[0].id.clone()],
            retried: vec![(leased[1].id.clone(), 0)],
            dead: Vec::new(),
        };
        queues.settle("jobs", settlement).await.unwrap();
        let again = queues.lease("jobs", 10, 30_000).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((&again[0].body[..], again[0].attempts), (&b"b"[..], 2));
        // Leased by a server that died: the next to open the file delivers it again at once.
        drop(queues);
        let queues = SqliteQueues::open(&path).unwrap();
        assert!(queues.lease("jobs", 10, 30_000).await.unwrap().is_empty());
        queues.release_leases().unwrap();
        let again = queues.lease("jobs", 10, 30_000).await.unwrap();
        assert_eq!((&again[0].body[..], again[0].attempts), (&b"b"[..], 3));
        let settlement = Settlement {
            dead: vec![(again[0].id.clone(), Some("jobs-dlq".into()))],
            ..Settlement::default()
        };
        queues.settle("jobs", settlement).await.unwrap();
        let counts = queues.counts().await.unwrap();
        assert_eq!(
            counts,
            [
                QueueCounts {
                    queue: "jobs".into(),
                    messages: 1,
                    ready: 0
                },
                QueueCounts {
                    queue: "jobs-dlq".into(),
                    messages: 1,
                    ready: 1
                },
            ]
        );
        assert_eq!(queues.purge("jobs").await.unwrap(), 1);
        assert_eq!(queues.counts().await.unwrap().len(), 1);

        // Past its retention, a message is gone before anyone leases it.
        queues.send("old", vec![message("stale", 0)]).await.unwrap();
        let aged = Connection::open(&path).unwrap();
        aged.execute(
            "UPDATE messages SET sent_ms = sent_ms - ?1 WHERE queue = 'old'",
            params![as_sql(queue_limits::RETENTION_MS + 1)],
        )
        .unwrap();
        assert!(queues.lease("old", 10, 30_000).await.unwrap().is_empty());
        assert_eq!(queues.purge("old").await.unwrap(), 0);
    }
}
