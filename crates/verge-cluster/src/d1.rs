//! D1 across PoPs, in D1's own model: each database has one primary PoP, which holds it in its
//! own SQLite store, and every other PoP sends it the queries over NATS request/reply.
//!
//! The primary is `[cluster] d1_primaries` in verge.toml if that names one, else the first PoP to
//! use the database, as recorded (created once, atomically) in the hub's KV bucket
//! [`D1_BUCKET`]. Errors stay D1's: a statement the primary refuses comes back as the same
//! refusal. A primary that cannot be reached fails the query within [`QUERY_TIMEOUT`], naming
//! it, rather than hanging the request.

use crate::{within, Cluster};
use async_nats::jetstream::kv;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use verge_storage::{SqlOutcome, SqlQuery, SqlStore, SqlValue, StorageError, StorageFuture};

/// The KV bucket of each database's primary PoP.
pub const D1_BUCKET: &str = "verge_d1";

/// How long a query sent to its primary may take, answer included.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn bucket(replicas: usize) -> kv::Config {
    kv::Config {
        bucket: D1_BUCKET.into(),
        description: "each D1 database's primary PoP".into(),
        history: 1,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Where PoP `pop` takes the queries of the databases it is primary of.
fn queries_subject(pop: &str) -> String {
    format!("verge.d1.{pop}")
}

/// D1 at a PoP: the databases it is primary of here, the others through their primary.
#[derive(Clone)]
pub struct EdgeSql {
    shared: Arc<Shared>,
}

struct Shared {
    local: Arc<dyn SqlStore>,
    pop: String,
    hubs: String,
    /// Primaries named in verge.toml, by database.
    configured: BTreeMap<String, String>,
    /// The hub's registry of primaries and the client to reach them, once joined.
    hub: OnceLock<(kv::Store, async_nats::Client)>,
    /// Primaries learnt from the hub, by database: a primary never changes once recorded.
    learnt: Mutex<HashMap<String, String>>,
}

impl EdgeSql {
    /// D1 at PoP `pop` (of the hub at `hubs`), keeping its own databases in `local`.
    pub fn new(
        local: Arc<dyn SqlStore>,
        pop: &str,
        hubs: String,
        configured: BTreeMap<String, String>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                local,
                pop: pop.to_owned(),
                hubs,
                configured,
                hub: OnceLock::new(),
                learnt: Mutex::default(),
            }),
        }
    }

    /// Answers the queries other PoPs send for the databases this PoP is primary of, for as
    /// long as the server runs.
    pub async fn serve(&self, cluster: &Cluster) {
        let _ = self
            .shared
            .hub
            .set((cluster.d1.clone(), cluster.client.clone()));
        let subject = queries_subject(&self.shared.pop);
        loop {
            match cluster.client.subscribe(subject.clone()).await {
                Ok(mut requests) => {
                    while let Some(request) = requests.next().await {
                        let Some(reply) = request.reply else {
                            continue;
                        };
                        let (local, client) = (self.shared.local.clone(), cluster.client.clone());
                        tokio::spawn(async move {
                            let answer = answer(local.as_ref(), &request.payload).await;
                            let _ = client.publish(reply, answer).await;
                        });
                    }
                }
                Err(e) => tracing::warn!("cannot take D1 queries from other PoPs: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The PoP that holds `database`: as configured, as learnt, or as the hub records it (this
    /// PoP, if no other claimed it first).
    async fn primary(&self, database: &str) -> Result<String, StorageError> {
        let shared = &self.shared;
        if let Some(pop) = shared.configured.get(database) {
            return Ok(pop.clone());
        }
        if let Some(pop) = lock(&shared.learnt).get(database) {
            return Ok(pop.clone());
        }
        let Some((registry, _)) = shared.hub.get() else {
            return Err(StorageError::Backend(format!(
                "D1 database {database}: the cluster's hub at {} cannot be reached to find its \
                 primary PoP",
                shared.hubs
            )));
        };
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(database);
        let pop = within("finding a D1 database's primary", async {
            match registry.create(&key, shared.pop.clone().into()).await {
                Ok(_) => Ok(shared.pop.clone()),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let recorded = registry.get(&key).await.map_err(|e| e.to_string())?;
                    let recorded = recorded.ok_or("the record vanished")?;
                    String::from_utf8(recorded.to_vec()).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .map_err(|e| StorageError::Backend(format!("D1 database {database}: {e}")))?;
        lock(&shared.learnt).insert(database.to_owned(), pop.clone());
        Ok(pop)
    }

    /// Runs `request` on `database`'s primary: here, or at the PoP that holds it.
    fn run(&self, database: &str, request: Request) -> StorageFuture<Vec<SqlOutcome>> {
        let (this, database) = (self.clone(), database.to_owned());
        Box::pin(async move {
            let primary = this.primary(&database).await?;
            if primary == this.shared.pop {
                return match request {
                    Request::Batch { queries, .. } => {
                        let queries = queries.into_iter().map(SqlQuery::from).collect();
                        this.shared.local.batch(&database, queries).await
                    }
                    Request::Exec { script, .. } => {
                        this.shared.local.exec(&database, &script).await
                    }
                };
            }
            let unreachable = |cause: String| {
                StorageError::Backend(format!(
                    "D1 database {database} is held by PoP {primary}, which cannot be reached: \
                     {cause}"
                ))
            };
            let Some((_, client)) = this.shared.hub.get() else {
                return Err(unreachable("this PoP has not reached the hub".into()));
            };
            let payload = serde_json::to_vec(&request).map_err(|e| unreachable(e.to_string()))?;
            let asked = client.request(queries_subject(&primary), payload.into());
            let answer = match tokio::time::timeout(QUERY_TIMEOUT, asked).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => return Err(unreachable(format!("no answer within {QUERY_TIMEOUT:?}"))),
            };
            match serde_json::from_slice::<Reply>(&answer.payload) {
                Ok(Reply::Done(outcomes)) => {
                    Ok(outcomes.into_iter().map(SqlOutcome::from).collect())
                }
                Ok(Reply::Failed(failure)) => Err(failure.into()),
                Err(e) => Err(unreachable(format!("its answer is not one: {e}"))),
            }
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqlStore for EdgeSql {
    fn batch(&self, database: &str, queries: Vec<SqlQuery>) -> StorageFuture<Vec<SqlOutcome>> {
        let queries = queries.into_iter().map(WireQuery::from).collect();
        let request = Request::Batch {
            database: database.to_owned(),
            queries,
        };
        self.run(database, request)
    }

    fn exec(&self, database: &str, script: &str) -> StorageFuture<Vec<SqlOutcome>> {
        let request = Request::Exec {
            database: database.to_owned(),
            script: script.to_owned(),
        };
        self.run(database, request)
    }
}

/// Runs one request from another PoP on `local`; the reply to send back.
async fn answer(local: &dyn SqlStore, payload: &[u8]) -> Bytes {
    let outcome = match serde_json::from_slice::<Request>(payload) {
        Ok(Request::Batch { database, queries }) => {
            let queries = queries.into_iter().map(SqlQuery::from).collect();
            local.batch(&database, queries).await
        }
        Ok(Request::Exec { database, script }) => local.exec(&database, &script).await,
        Err(e) => Err(StorageError::Invalid(format!("not a D1 request: {e}"))),
    };
    let reply = match outcome {
        Ok(outcomes) => Reply::Done(outcomes.into_iter().map(WireOutcome::from).collect()),
        Err(e) => Reply::Failed(Failure::from(e)),
    };
    Bytes::from(serde_json::to_vec(&reply).unwrap_or_default())
}

// What crosses the wire: verge-storage's types, which carry no serde, in JSON.

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Batch {
        database: String,
        queries: Vec<WireQuery>,
    },
    Exec {
        database: String,
        script: String,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Done(Vec<WireOutcome>),
    Failed(Failure),
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Failure {
    Invalid(String),
    Backend(String),
    Refused(String),
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Invalid(message) => Self::Invalid(message),
            StorageError::Backend(message) => Self::Backend(message),
            StorageError::Refused(message) => Self::Refused(message),
        }
    }
}

impl From<Failure> for StorageError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid(message) => Self::Invalid(message),
            Failure::Backend(message) => Self::Backend(message),
            Failure::Refused(message) => Self::Refused(message),
        }
    }
}

/// A value: a real by its bits (JSON has no infinities), a blob in base64.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireValue {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(String),
}

impl From<SqlValue> for WireValue {
    fn from(value: SqlValue) -> Self {
        match value {
            SqlValue::Null => Self::Null,
            SqlValue::Integer(n) => Self::Integer(n),
            SqlValue::Real(x) => Self::Real(x.to_bits()),
            SqlValue::Text(text) => Self::Text(text),
            SqlValue::Blob(bytes) => {
                Self::Blob(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

impl From<WireValue> for SqlValue {
    fn from(value: WireValue) -> Self {
        match value {
            WireValue::Null => Self::Null,
            WireValue::Integer(n) => Self::Integer(n),
            WireValue::Real(bits) => Self::Real(f64::from_bits(bits)),
            WireValue::Text(text) => Self::Text(text),
            WireValue::Blob(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_or(Self::Null, |bytes| Self::Blob(bytes.into())),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WireQuery {
    sql: String,
    params: Vec<WireValue>,
}

impl From<SqlQuery> for WireQuery {
    fn from(query: SqlQuery) -> Self {
        Self {
            sql: query.sql,
            params: query.params.into_iter().map(WireValue::from).collect(),
        }
    }
}

impl From<WireQuery> for SqlQuery {
    fn from(query: WireQuery) -> Self {
        Self {
            sql: query.sql,
            params: query.params.into_iter().map(SqlValue::from).collect(),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WireOutcome {
    columns: Vec<String>,
    rows: Vec<Vec<WireValue>>,
    duration_ms: f64,
    changes: u64,
    last_row_id: i64,
    wrote: bool,
    size_after: u64,
}

impl From<SqlOutcome> for WireOutcome {
    fn from(outcome: SqlOutcome) -> Self {
        Self {
            columns: outcome.columns,
            rows: (outcome.rows.into_iter())
                .map(|row| row.into_iter().map(WireValue::from).collect())
                .collect(),
            duration_ms: outcome.duration_ms,
            changes: outcome.changes,
            last_row_id: outcome.last_row_id,
            wrote: outcome.wrote,
            size_after: outcome.size_after,
        }
    }
}

impl From<WireOutcome> for SqlOutcome {
    fn from(outcome: WireOutcome) -> Self {
        Self {
            columns: outcome.columns,
            rows: (outcome.rows.into_iter())
                .map(|row| row.into_iter().map(SqlValue::from).collect())
                .collect(),
            duration_ms: outcome.duration_ms,
            changes: outcome.changes,
            last_row_id: outcome.last_row_id,
            wrote: outcome.wrote,
            size_after: outcome.size_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_value_crosses_the_wire_whole() {
        let values = vec![
            SqlValue::Null,
            SqlValue::Integer(i64::MIN),
            SqlValue::Real(f64::INFINITY),
            SqlValue::Real(-0.5),
            SqlValue::Text("é\u{0}".into()),
            SqlValue::Blob(Bytes::from_static(&[0, 255, 1])),
        ];
        let wire: Vec<WireValue> = values.iter().cloned().map(WireValue::from).collect();
        let text = serde_json::to_string(&wire).unwrap_or_default();
        let back: Vec<WireValue> = serde_json::from_str(&text).unwrap_or_default();
        let back: Vec<SqlValue> = back.into_iter().map(SqlValue::from).collect();
        assert_eq!(back, values);
    }
}
