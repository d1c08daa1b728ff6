//! D1 across PoPs, in D1's own model: each database has one primary PoP, which holds it in its
//! own SQLite store, and every other PoP sends it the queries over NATS request/reply.
//!
//! The primary is recorded once, atomically, in the hub's KV bucket [`D1_BUCKET`]: the PoP
//! `[cluster] d1_primaries` in verge.toml names, else the first PoP to use the database. Errors
//! stay D1's: a statement the primary refuses comes back as the same refusal. A primary that
//! cannot be reached fails the query at once (no one takes it) or within [`QUERY_TIMEOUT`]
//! (which does not tell whether a write ran), naming it, rather than hanging the request. A
//! PoP learns a primary from the hub, so one restarted while the hub is away serves none.

use crate::replica::{encode_key, HubSlot};
use crate::{within, Cluster};
use async_nats::jetstream::kv;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
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
    /// Primaries named in verge.toml, by database.
    configured: BTreeMap<String, String>,
    hub: HubSlot,
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
                configured,
                hub: HubSlot::new(hubs),
                learnt: Mutex::default(),
            }),
        }
    }

    /// Answers the queries other PoPs send for the databases this PoP is primary of, for as
    /// long as the server runs.
    pub async fn serve(&self, cluster: Arc<Cluster>) {
        self.shared.hub.join(cluster.clone());
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

    /// The PoP that holds `database`, as the hub records it: the one verge.toml names, else
    /// this PoP if no other claimed it first. A configured primary the hub records otherwise
    /// is an error, not a second primary.
    async fn primary(&self, database: &str) -> Result<String, StorageError> {
        let shared = &self.shared;
        if let Some(pop) = lock(&shared.learnt).get(database) {
            return Ok(pop.clone());
        }
        let failed =
            |cause: String| StorageError::Backend(format!("D1 database {database}: {cause}"));
        let hub = shared
            .hub
            .get("finding its primary PoP")
            .map_err(|e| failed(e.to_string()))?;
        let claim = shared.configured.get(database).unwrap_or(&shared.pop);
        let key = encode_key("d1", database);
        let recorded = within("finding a D1 database's primary", async {
            match hub.d1.create(&key, claim.clone().into()).await {
                Ok(_) => Ok(claim.clone()),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let recorded = hub.d1.get(&key).await.map_err(|e| e.to_string())?;
                    let recorded = recorded.ok_or("the record vanished")?;
                    String::from_utf8(recorded.to_vec()).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
        if let Some(configured) = shared.configured.get(database) {
            if *configured != recorded {
                return Err(failed(format!(
                    "verge.toml names PoP {configured} its primary, but the hub records {recorded}"
                )));
            }
        }
        lock(&shared.learnt).insert(database.to_owned(), recorded.clone());
        Ok(recorded)
    }

    /// Runs `request` on `database`'s primary: here, or at the PoP that holds it.
    fn run(&self, database: &str, request: Request) -> StorageFuture<Vec<SqlOutcome>> {
        let (this, database) = (self.clone(), database.to_owned());
        Box::pin(async move {
            let primary = this.primary(&database).await?;
            if primary == this.shared.pop {
                return match request {
                    Request::Batch { queries, .. } => {
                        let queries = queries.into_iter().map(SqlQuery::try_from);
                        let queries = queries.collect::<Result<_, _>>()?;
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
            let hub = this
                .shared
                .hub
                .get("D1 queries")
                .map_err(|e| unreachable(e.to_string()))?;
            let payload = serde_json::to_vec(&request).map_err(|e| unreachable(e.to_string()))?;
            let asked = hub
                .client
                .request(queries_subject(&primary), payload.into());
            let answer = match tokio::time::timeout(QUERY_TIMEOUT, asked).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => return Err(unreachable(format!("no answer within {QUERY_TIMEOUT:?}"))),
            };
            match serde_json::from_slice::<Reply>(&answer.payload) {
                Ok(Reply::Done(outcomes)) => {
                    outcomes.into_iter().map(SqlOutcome::try_from).collect()
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
            match queries.into_iter().map(SqlQuery::try_from).collect() {
                Ok(queries) => local.batch(&database, queries).await,
                Err(e) => Err(e),
            }
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

impl TryFrom<WireValue> for SqlValue {
    type Error = StorageError;

    fn try_from(value: WireValue) -> Result<Self, StorageError> {
        Ok(match value {
            WireValue::Null => Self::Null,
            WireValue::Integer(n) => Self::Integer(n),
            WireValue::Real(bits) => Self::Real(f64::from_bits(bits)),
            WireValue::Text(text) => Self::Text(text),
            WireValue::Blob(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(|bytes| Self::Blob(bytes.into()))
                .map_err(|e| StorageError::Invalid(format!("a blob is not base64: {e}")))?,
        })
    }
}

fn values(wire: Vec<WireValue>) -> Result<Vec<SqlValue>, StorageError> {
    wire.into_iter().map(SqlValue::try_from).collect()
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

impl TryFrom<WireQuery> for SqlQuery {
    type Error = StorageError;

    fn try_from(query: WireQuery) -> Result<Self, StorageError> {
        Ok(Self {
            sql: query.sql,
            params: values(query.params)?,
        })
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

impl TryFrom<WireOutcome> for SqlOutcome {
    type Error = StorageError;

    fn try_from(outcome: WireOutcome) -> Result<Self, StorageError> {
        Ok(Self {
            columns: outcome.columns,
            rows: outcome
                .rows
                .into_iter()
                .map(values)
                .collect::<Result<_, _>>()?,
            duration_ms: outcome.duration_ms,
            changes: outcome.changes,
            last_row_id: outcome.last_row_id,
            wrote: outcome.wrote,
            size_after: outcome.size_after,
        })
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
        assert_eq!(super::values(back).ok(), Some(values));
    }
}
