//! `/accounts/{account}/d1/database/…`: D1 as `wrangler d1` reaches it, on the store workers'
//! bindings use, a database's tables shared with every binding naming its id.
//!
//! Databases made here (`wrangler d1 create`) are listed in [`D1_DATABASES`], each a fresh
//! UUID with its name and creation time. A worker's config may name any id, listed or not, and
//! `/query` reaches it all the same.
//!
//! - `GET` (paged) and `POST {"name"}` on the databases; `GET` (by UUID or name) and `DELETE`
//!   on one, a delete dropping its tables;
//! - `POST {id}/query {"sql", "params"?}`: the statements of `sql` in one transaction (all or
//!   nothing), one result each, as D1's API answers — which `wrangler d1 execute --command` and
//!   `wrangler d1 migrations apply` send.

use super::registry::{fresh_uuid, kv_store, now, D1_DATABASES};
use super::{answer, failure, not_implemented, query, read_json, Admin, AdminBody, Refusal};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use verge_storage::{SqlQuery, SqlStore, SqlValue, StorageError};

/// The largest query body.
const MAX_QUERY: usize = 16 * 1024 * 1024;

/// Answers `request` for `rest`, the path's segments after `database`.
pub(super) async fn endpoint(
    admin: &Admin,
    request: Request<Incoming>,
    rest: &[&str],
) -> Response<AdminBody> {
    let method = request.method().clone();
    match (&method, rest) {
        (&Method::GET, []) => answer(list(admin, &query(&request)).await),
        (&Method::POST, []) => answer(create(admin, request).await),
        (&Method::GET, [database]) => answer(describe(admin, database).await),
        (&Method::DELETE, [database]) => answer(delete(admin, database).await),
        (&Method::POST, [database, "query"]) => answer(run(admin, database, request).await),
        _ => not_implemented(&method, request.uri().path()).into(),
    }
}

fn sql(admin: &Admin) -> Result<&Arc<dyn SqlStore>, Refusal> {
    admin
        .sql
        .as_ref()
        .ok_or_else(|| failure(StatusCode::NOT_FOUND, 7404, "this server has no D1 store"))
}

fn not_found(database: &str) -> Refusal {
    failure(
        StatusCode::NOT_FOUND,
        7404,
        format!("The database {database} could not be found"),
    )
}

/// A listed database as D1's API describes one.
fn described(uuid: String, description: &Map<String, Value>) -> Value {
    json!({
        "uuid": uuid,
        "name": description.get("name"),
        "created_at": description.get("created_at"),
        "version": "production",
    })
}

async fn list(
    admin: &Admin,
    query: &std::collections::HashMap<String, String>,
) -> Result<Value, Refusal> {
    let kv = kv_store(admin.kv.as_ref())?;
    let mut databases = D1_DATABASES.all(kv).await?;
    databases.sort_by(|(_, a), (_, b)| {
        a.get("name")
            .and_then(Value::as_str)
            .cmp(&b.get("name").and_then(Value::as_str))
    });
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|value| value.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
    };
    let (page, per_page) = (number("page", 1), number("per_page", 1000).min(10_000));
    Ok(Value::Array(
        databases
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|(uuid, description)| described(uuid, &description))
            .collect(),
    ))
}

#[derive(serde::Deserialize)]
struct NewDatabase {
    name: String,
}

/// A database name as D1 allows one: letters, digits, `-` and `_`, at most 64.
fn check_name(name: &str) -> Result<(), Refusal> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match valid {
        true => Ok(()),
        false => Err(failure(
            StatusCode::BAD_REQUEST,
            7400,
            format!("{name:?} is not a database name: 1 to 64 letters, digits, '-' and '_'"),
        )),
    }
}

/// `POST database {"name"}`: a fresh UUID; code 7502 if the name is taken.
async fn create(admin: &Admin, request: Request<Incoming>) -> Result<Value, Refusal> {
    let kv = kv_store(admin.kv.as_ref())?;
    sql(admin)?;
    let NewDatabase { name } = read_json(request, 64 * 1024, "the database").await?;
    check_name(&name)?;
    if D1_DATABASES.find(kv, "name", &name).await?.is_some() {
        return Err(failure(
            StatusCode::CONFLICT,
            7502,
            format!("A database with that name already exists: {name}"),
        ));
    }
    let uuid = fresh_uuid()?;
    let mut description = Map::new();
    description.insert("name".into(), name.clone().into());
    description.insert("created_at".into(), now().into());
    D1_DATABASES.put(kv, &uuid, description.clone()).await?;
    tracing::info!(database = %uuid, %name, "D1 database created");
    let mut created = described(uuid, &description);
    created["created_in_region"] = "verge".into();
    Ok(created)
}

/// The listed database whose UUID or name is `database`.
async fn lookup(admin: &Admin, database: &str) -> Result<(String, Map<String, Value>), Refusal> {
    let kv = kv_store(admin.kv.as_ref())?;
    if let Some(description) = D1_DATABASES.get(kv, database).await? {
        return Ok((database.to_owned(), description));
    }
    D1_DATABASES
        .find(kv, "name", database)
        .await?
        .ok_or_else(|| not_found(database))
}

async fn describe(admin: &Admin, database: &str) -> Result<Value, Refusal> {
    let (uuid, description) = lookup(admin, database).await?;
    Ok(described(uuid, &description))
}

fn store_failure(e: StorageError) -> Refusal {
    match e {
        // The database refused a statement: the user's SQL, named as D1 names it.
        StorageError::Refused(message) => failure(StatusCode::BAD_REQUEST, 7500, message),
        e => {
            let (status, message) = super::super::kv::failed(e);
            failure(status, 7500, message)
        }
    }
}

/// `DELETE database/{id}`: its tables dropped, in one transaction, then its listing.
async fn delete(admin: &Admin, database: &str) -> Result<Value, Refusal> {
    let (uuid, _) = lookup(admin, database).await?;
    let store = sql(admin)?;
    let tables = store
        .exec(
            &uuid,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .await
        .map_err(store_failure)?;
    let drops: String = tables
        .iter()
        .flat_map(|outcome| &outcome.rows)
        .filter_map(|row| match row.first() {
            Some(SqlValue::Text(name)) => {
                Some(format!("DROP TABLE \"{}\";", name.replace('"', "\"\"")))
            }
            _ => None,
        })
        .collect();
    if !drops.is_empty() {
        store.exec(&uuid, &drops).await.map_err(store_failure)?;
    }
    D1_DATABASES
        .remove(kv_store(admin.kv.as_ref())?, &uuid)
        .await?;
    tracing::info!(database = %uuid, "D1 database deleted");
    Ok(Value::Null)
}

#[derive(serde::Deserialize)]
struct Query {
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
}

/// `POST database/{id}/query`: the statements of `sql` (one, with `params`) in one
/// transaction; each statement's outcome.
async fn run(admin: &Admin, database: &str, request: Request<Incoming>) -> Result<Value, Refusal> {
    let store = sql(admin)?;
    let Query { sql, params } = read_json(request, MAX_QUERY, "the query").await?;
    let outcomes = match params.is_empty() {
        true => store.exec(database, &sql).await,
        false => {
            let params = params
                .into_iter()
                .map(|param| match param {
                    Value::Null => Ok(SqlValue::Null),
                    Value::Bool(b) => Ok(SqlValue::Integer(i64::from(b))),
                    Value::Number(n) => Ok(match n.as_i64() {
                        Some(n) => SqlValue::Integer(n),
                        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
                    }),
                    Value::String(text) => Ok(SqlValue::Text(text)),
                    other => Err(failure(
                        StatusCode::BAD_REQUEST,
                        7400,
                        format!("a parameter is a string, number, boolean or null, not {other}"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            store.batch(database, vec![SqlQuery { sql, params }]).await
        }
    }
    .map_err(store_failure)?;
    Ok(Value::Array(
        outcomes
            .iter()
            .map(|outcome| outcome.to_d1_json())
            .collect(),
    ))
}
