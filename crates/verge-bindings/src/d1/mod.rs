//! SQL database bindings (`d1_databases` → [`SqlStore`] → `env.DB`, the D1 API): the ops
//! behind `d1.js`. JavaScript checks and normalizes bound values; here they become SQL values, and
//! rows become JavaScript values as D1 gives them (BLOBs as arrays of byte values).

use crate::{binding_call, Capabilities, Kind, Namespace};
use bytes::Bytes;
use rquickjs::{Array, Ctx, Object, TypedArray, Value};
use verge_config::WorkerConfig;
use verge_js::{rquickjs, Ops};
use verge_storage::{SqlOutcome, SqlQuery, SqlStore, SqlValue, StorageError};
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/d1/d1.js", quickjs register; globals []; internals ["makeD1Database"]),
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

/// A bound value as `d1.js` normalized it: null, a number, a bigint, a string or bytes.
pub(crate) fn sql_value(value: &Value<'_>) -> Result<SqlValue, StorageError> {
    if value.is_null() || value.is_undefined() {
        return Ok(SqlValue::Null);
    }
    if let Some(n) = value.as_int() {
        return Ok(SqlValue::Integer(n.into()));
    }
    if let Some(x) = value.as_float() {
        // JavaScript has one number type; a whole one is stored as an INTEGER, as D1 does.
        const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
        #[allow(clippy::cast_possible_truncation)]
        return Ok(
            if x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x) {
                SqlValue::Integer(x as i64)
            } else {
                SqlValue::Real(x)
            },
        );
    }
    if let Some(text) = value.as_string() {
        return text
            .to_string()
            .map(SqlValue::Text)
            .map_err(|e| StorageError::Invalid(format!("D1_TYPE_ERROR: {e}")));
    }
    if let Some(big) = value.as_big_int() {
        return big
            .clone()
            .to_i64()
            .map(SqlValue::Integer)
            .map_err(|_| StorageError::Invalid("D1_TYPE_ERROR: a BigInt over 64 bits".into()));
    }
    if let Some(bytes) = value
        .as_object()
        .and_then(|o| TypedArray::<u8>::from_object(o.clone()).ok())
    {
        return Ok(SqlValue::Blob(Bytes::from(verge_js::bytes_of(&bytes))));
    }
    Err(StorageError::Invalid(
        "D1_TYPE_ERROR: a bound value must be null, a number, a bigint, a string, a boolean \
         or bytes"
            .into(),
    ))
}

/// The queries of a batch as JavaScript hands them over: `[[sql, [values…]], …]`.
fn queries(list: &Array<'_>) -> rquickjs::Result<Result<Vec<SqlQuery>, StorageError>> {
    let mut queries = Vec::with_capacity(list.len());
    for entry in list.iter::<Array>() {
        let entry = entry?;
        let params: Array = entry.get(1)?;
        let params = params
            .iter::<Value>()
            .map(|value| value.map(|v| sql_value(&v)))
            .collect::<rquickjs::Result<Result<Vec<_>, _>>>()?;
        match params {
            Ok(params) => queries.push(SqlQuery {
                sql: entry.get(0)?,
                params,
            }),
            Err(error) => return Ok(Err(error)),
        }
    }
    Ok(Ok(queries))
}

fn js_value<'js>(ctx: &Ctx<'js>, value: SqlValue) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        SqlValue::Null => Value::new_null(ctx.clone()),
        // D1 answers with numbers: beyond 2^53 they lose precision, as there.
        #[allow(clippy::cast_precision_loss)]
        SqlValue::Integer(n) => Value::new_number(ctx.clone(), n as f64),
        SqlValue::Real(x) => Value::new_number(ctx.clone(), x),
        SqlValue::Text(text) => rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
        SqlValue::Blob(blob) => {
            let bytes = Array::new(ctx.clone())?;
            for (index, byte) in blob.iter().enumerate() {
                bytes.set(index, *byte)?;
            }
            bytes.into_value()
        }
    })
}

/// One statement's outcome as `[columns, rows, [duration, changes, lastRowId, wrote, size]]`.
fn outcome<'js>(ctx: &Ctx<'js>, outcome: SqlOutcome) -> rquickjs::Result<Value<'js>> {
    let rows = Array::new(ctx.clone())?;
    for (index, row) in outcome.rows.into_iter().enumerate() {
        let values = Array::new(ctx.clone())?;
        for (column, value) in row.into_iter().enumerate() {
            values.set(column, js_value(ctx, value)?)?;
        }
        rows.set(index, values)?;
    }
    let meta = Array::new(ctx.clone())?;
    meta.set(0, outcome.duration_ms)?;
    #[allow(clippy::cast_precision_loss)]
    {
        meta.set(1, outcome.changes as f64)?;
        meta.set(2, outcome.last_row_id as f64)?;
        meta.set(4, outcome.size_after as f64)?;
    }
    meta.set(3, outcome.wrote)?;
    let result = Array::new(ctx.clone())?;
    result.set(0, outcome.columns)?;
    result.set(1, rows)?;
    result.set(2, meta)?;
    Ok(result.into_value())
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add(
        "d1Batch",
        move |ctx: Ctx<'js>, id: usize, list: Array<'js>| {
            let (checked, queries) = match queries(&list)? {
                Ok(queries) => (Ok(()), queries),
                Err(error) => (Err(error), Vec::new()),
            };
            let run = move |d1: D1Binding| d1.store.batch(&d1.name, queries);
            binding_call(&ctx, id, checked, run, |ctx, outcomes| {
                let results = Array::new(ctx.clone())?;
                for (index, each) in outcomes.into_iter().enumerate() {
                    results.set(index, outcome(ctx, each)?)?;
                }
                Ok(results.into_value())
            })
        },
    )?;
    ops.add("d1Exec", move |ctx: Ctx<'js>, id: usize, script: String| {
        let run = move |d1: D1Binding| d1.store.exec(&d1.name, &script);
        binding_call(&ctx, id, Ok(()), run, |ctx, outcomes| {
            let result = Array::new(ctx.clone())?;
            result.set(0, outcomes.len())?;
            result.set(1, outcomes.iter().map(|o| o.duration_ms).sum::<f64>())?;
            Ok(result.into_value())
        })
    })
}
