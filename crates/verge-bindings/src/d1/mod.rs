//! SQL database bindings (`d1_databases` → [`SqlStore`] → `env.DB`, the D1 API): the ops
//! behind `d1.js`. JavaScript checks and normalizes bound values; here they become SQL values, and
//! rows become JavaScript values as D1 gives them (BLOBs as arrays of byte values).

use crate::{store_call, Capabilities, Kind, Namespace};
use bytes::Bytes;
use rquickjs::{Ctx, Object};
use verge_config::WorkerConfig;
use verge_js::{async_data_op, rquickjs, AsyncDataOp, Data, IntoData};
use verge_storage::{SqlOutcome, SqlQuery, SqlStore, SqlValue, StorageError};
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/d1/d1.js", async_data ops; globals []; internals ["makeD1Database"]),
    ),
    bind,
};

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    let bindings = config.d1_databases.iter();
    let named = bindings.map(|d1| (d1.binding.as_str(), d1.database()));
    let store = &capabilities.stores.sql;
    crate::bind_namespaces(ctx, env, "D1", store, "makeD1Database", named)
}

/// One SQL database as a worker sees it.
type D1Binding = Namespace<dyn SqlStore>;

/// A bound value as `d1.js` normalized it: null, a number, a string, bytes, or a bigint as a
/// one-item list of its decimal text (ops take data, which has no bigints).
pub(crate) fn sql_value(value: Data) -> Result<SqlValue, StorageError> {
    Ok(match value {
        Data::Null | Data::Undefined => SqlValue::Null,
        Data::Number(x) => {
            // JavaScript has one number type; a whole one is stored as an INTEGER, as D1 does.
            const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
            #[allow(clippy::cast_possible_truncation)]
            if x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x) {
                SqlValue::Integer(x as i64)
            } else {
                SqlValue::Real(x)
            }
        }
        Data::String(text) => SqlValue::Text(text),
        Data::Bytes(bytes) => SqlValue::Blob(Bytes::from(bytes)),
        Data::List(items) => match items.as_slice() {
            [Data::String(digits)] => digits.parse().map(SqlValue::Integer).map_err(|_| {
                StorageError::Invalid("D1_TYPE_ERROR: a BigInt over 64 bits".into())
            })?,
            _ => return Err(type_error()),
        },
        Data::Bool(_) => return Err(type_error()),
    })
}

fn type_error() -> StorageError {
    StorageError::Invalid(
        "D1_TYPE_ERROR: a bound value must be null, a number, a bigint, a string, a boolean \
         or bytes"
            .into(),
    )
}

/// The queries of a batch as JavaScript hands them over: `[[sql, [values…]], …]`.
fn queries(list: Vec<Data>) -> Result<Vec<SqlQuery>, StorageError> {
    list.into_iter()
        .map(|entry| match entry {
            Data::List(entry) => {
                let mut entry = entry.into_iter();
                let (Some(Data::String(sql)), Some(Data::List(params))) =
                    (entry.next(), entry.next())
                else {
                    return Err(StorageError::Invalid("expected [sql, [values]]".into()));
                };
                let params = params
                    .into_iter()
                    .map(sql_value)
                    .collect::<Result<_, _>>()?;
                Ok(SqlQuery { sql, params })
            }
            _ => Err(StorageError::Invalid("expected [sql, [values]]".into())),
        })
        .collect()
}

fn data_value(value: SqlValue) -> Data {
    match value {
        SqlValue::Null => Data::Null,
        // D1 answers with numbers: beyond 2^53 they lose precision, as there.
        #[allow(clippy::cast_precision_loss)]
        SqlValue::Integer(n) => Data::Number(n as f64),
        SqlValue::Real(x) => Data::Number(x),
        SqlValue::Text(text) => Data::String(text),
        // Bytes: d1.js gives them as D1 does, arrays of byte values, in the metered heap.
        SqlValue::Blob(blob) => Data::Bytes(blob.to_vec()),
    }
}

/// One statement's outcome as `[columns, rows, [duration, changes, lastRowId, wrote, size]]`.
#[allow(clippy::cast_precision_loss)]
fn outcome(outcome: SqlOutcome) -> Data {
    let rows = outcome
        .rows
        .into_iter()
        .map(|row| Data::List(row.into_iter().map(data_value).collect()));
    let meta = vec![
        Data::Number(outcome.duration_ms),
        Data::Number(outcome.changes as f64),
        Data::Number(outcome.last_row_id as f64),
        Data::Bool(outcome.wrote),
        Data::Number(outcome.size_after as f64),
    ];
    Data::List(vec![
        outcome.columns.into_data(),
        Data::List(rows.collect()),
        Data::List(meta),
    ])
}

/// The ops, over data for every engine: each finds its database by id in the host's table.
fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let (batch, exec) = (host.bindings.clone(), host.bindings.clone());
    vec![
        (
            "d1Batch",
            async_data_op(move |id: usize, list: Vec<Data>| {
                let (checked, queries) = match queries(list) {
                    Ok(queries) => (Ok(()), queries),
                    Err(error) => (Err(error), Vec::new()),
                };
                let call = store_call(&batch, id, checked, move |d1: D1Binding| {
                    d1.store.batch(&d1.name, queries)
                });
                async move { Ok(Data::List(call.await?.into_iter().map(outcome).collect())) }
            }),
        ),
        (
            "d1Exec",
            async_data_op(move |id: usize, script: String| {
                let call = store_call(&exec, id, Ok(()), move |d1: D1Binding| {
                    d1.store.exec(&d1.name, &script)
                });
                async move {
                    let outcomes = call.await?;
                    let duration: f64 = outcomes.iter().map(|o| o.duration_ms).sum();
                    Ok(Data::List(vec![
                        outcomes.len().into_data(),
                        Data::Number(duration),
                    ]))
                }
            }),
        ),
    ]
}
