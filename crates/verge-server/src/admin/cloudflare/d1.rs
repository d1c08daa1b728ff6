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
//!   `wrangler d1 migrations apply` send;
//! - `POST {id}/import` and the one-time upload URL it gives: `wrangler d1 execute --file`,
//!   the file's statements in one transaction.

use super::registry::{fresh_uuid, kv_store, now, D1_DATABASES};
use super::{answer, failure, not_implemented, query, read_json, Admin, AdminBody, Refusal};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use md5::Digest as _;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
        (&Method::POST, [database, "import"]) => answer(import(admin, database, request).await),
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
    let (shown, _, _) = super::page_of(databases, query, 1000, 10_000);
    Ok(Value::Array(
        shown
            .into_iter()
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

fn sql_failure(e: StorageError) -> Refusal {
    match e {
        // The database refused a statement: the user's SQL, named as D1 names it.
        StorageError::Refused(message) => failure(StatusCode::BAD_REQUEST, 7500, message),
        e => super::store_failure(7500, e),
    }
}

/// `DELETE database/{id}`: its triggers, views and tables dropped, in one transaction (foreign
/// keys checked only at its end, so the order of the tables does not matter), then its listing.
async fn delete(admin: &Admin, database: &str) -> Result<Value, Refusal> {
    let (uuid, _) = lookup(admin, database).await?;
    let store = sql(admin)?;
    let schema = store
        .exec(
            &uuid,
            "SELECT type, name FROM sqlite_master \
             WHERE type IN ('trigger', 'view', 'table') AND substr(name, 1, 7) <> 'sqlite_' \
             ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, rowid",
        )
        .await
        .map_err(sql_failure)?;
    // One statement each (a script of thousands would pass SQLite's statement length), in
    // one batch, which is one transaction.
    let mut drops = vec![SqlQuery {
        sql: "PRAGMA defer_foreign_keys = ON".into(),
        params: Vec::new(),
    }];
    for row in schema.iter().flat_map(|outcome| &outcome.rows) {
        if let [SqlValue::Text(kind), SqlValue::Text(name)] = row.as_slice() {
            let kind = kind.to_ascii_uppercase();
            let name = name.replace('"', "\"\"");
            // IF EXISTS: dropping a virtual table drops its shadow tables with it.
            drops.push(SqlQuery {
                sql: format!("DROP {kind} IF EXISTS \"{name}\""),
                params: Vec::new(),
            });
        }
    }
    store.batch(&uuid, drops).await.map_err(sql_failure)?;
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
                .map(|param| {
                    SqlValue::from_json(param).map_err(|other| {
                        failure(
                            StatusCode::BAD_REQUEST,
                            7400,
                            format!(
                                "a parameter is a string, number, boolean or null, not {other}"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            store.batch(database, vec![SqlQuery { sql, params }]).await
        }
    }
    .map_err(sql_failure)?;
    Ok(Value::Array(
        outcomes
            .iter()
            .map(|outcome| outcome.to_d1_json())
            .collect(),
    ))
}

/// How long an import may wait between its steps.
const IMPORT_LIFETIME: Duration = Duration::from_secs(3600);

/// The largest SQL file an import takes.
const MAX_IMPORT: usize = super::super::MAX_UPLOAD;

/// Where a file import's upload goes, under [`super::PREFIX`]: `PUT {IMPORTS}/{token}`.
pub(super) const IMPORTS: &str = "/verge/d1-imports/";

/// The SQL file imports under way (`wrangler d1 execute --file`): by token, each a database,
/// the MD5 the file must have, and the file once uploaded.
#[derive(Default)]
pub(crate) struct D1Imports {
    imports: RefCell<HashMap<String, Import>>,
}

struct Import {
    database: String,
    etag: String,
    file: Option<Bytes>,
    opened: Instant,
}

#[derive(serde::Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum ImportStep {
    Init { etag: String },
    Ingest { etag: String },
    Poll {},
}

/// `POST database/{id}/import`: `init` answers where to upload the file (a one-time URL on
/// this listener, as the client reached it); `ingest` runs the uploaded file's statements in
/// one transaction and answers the import complete (`poll` has nothing left to wait for).
async fn import(
    admin: &Admin,
    database: &str,
    request: Request<Incoming>,
) -> Result<Value, Refusal> {
    let store = sql(admin)?;
    let uploads = super::handed_out(&request, "http", IMPORTS, 7400)?;
    let step: ImportStep = read_json(request, 64 * 1024, "the import step").await?;
    let imports = &admin.d1_imports;
    match step {
        ImportStep::Init { etag } => {
            let valid = etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(failure(
                    StatusCode::BAD_REQUEST,
                    7400,
                    format!("{etag:?} is not an MD5"),
                ));
            }
            let token = super::registry::fresh_id()?;
            let mut pending = imports.imports.borrow_mut();
            pending.retain(|_, import| import.opened.elapsed() < IMPORT_LIFETIME);
            pending.insert(
                token.clone(),
                Import {
                    database: database.to_owned(),
                    etag: etag.to_ascii_lowercase(),
                    file: None,
                    opened: Instant::now(),
                },
            );
            Ok(json!({
                "upload_url": format!("{uploads}{token}"),
                "filename": format!("{etag}.sql"),
            }))
        }
        ImportStep::Ingest { etag } => {
            let etag = etag.to_ascii_lowercase();
            let file = {
                let mut pending = imports.imports.borrow_mut();
                let token = pending
                    .iter()
                    .find(|(_, import)| {
                        import.database == database && import.etag == etag && import.file.is_some()
                    })
                    .map(|(token, _)| token.clone());
                token
                    .and_then(|token| pending.remove(&token))
                    .and_then(|import| import.file)
                    .ok_or_else(|| {
                        failure(
                            StatusCode::BAD_REQUEST,
                            7400,
                            format!("no file with MD5 {etag} was uploaded for this database"),
                        )
                    })?
            };
            let script = std::str::from_utf8(&file)
                .map_err(|_| failure(StatusCode::BAD_REQUEST, 7400, "the SQL file is not UTF-8"))?;
            let started = Instant::now();
            let outcomes = match store.exec(database, script).await {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    let message = match e {
                        StorageError::Refused(message) => message,
                        e => e.to_string(),
                    };
                    return Ok(json!({
                        "success": false, "status": "error", "error": message,
                        "errors": [message], "messages": [], "at_bookmark": etag,
                    }));
                }
            };
            let written: u64 = outcomes.iter().map(|outcome| outcome.changes).sum();
            let read: usize = outcomes.iter().map(|outcome| outcome.rows.len()).sum();
            let size_after = outcomes.last().map_or(0, |outcome| outcome.size_after);
            Ok(json!({
                "success": true,
                "status": "complete",
                "at_bookmark": etag,
                "messages": [],
                "errors": [],
                "result": {
                    "num_queries": outcomes.len(),
                    "final_bookmark": etag,
                    "meta": {
                        "duration": started.elapsed().as_secs_f64() * 1000.0,
                        "rows_read": read,
                        "rows_written": written,
                        "size_after": size_after,
                    },
                },
            }))
        }
        ImportStep::Poll {} => Err(failure(
            StatusCode::BAD_REQUEST,
            7400,
            "Verge completes an import when it is ingested: there is nothing to poll",
        )),
    }
}

/// `PUT {IMPORTS}{token}`: the SQL file of import `token`, authorized by the token alone (as
/// Cloudflare's upload URL is); it must have the MD5 its `init` named, which the answer's
/// ETag repeats.
pub(super) async fn upload(
    admin: &Admin,
    token: &str,
    request: Request<Incoming>,
) -> Response<AdminBody> {
    let known = admin
        .d1_imports
        .imports
        .borrow()
        .get(token)
        .filter(|import| import.opened.elapsed() < IMPORT_LIFETIME)
        .map(|import| import.etag.clone());
    let Some(etag) = known else {
        return failure(
            StatusCode::FORBIDDEN,
            9109,
            "no import is waiting for this upload",
        )
        .into();
    };
    let file = match super::read_body(request, MAX_IMPORT).await {
        Ok(file) => file,
        Err(refusal) => return refusal.into(),
    };
    let digest: String = md5::Md5::digest(&file)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if digest != etag {
        return failure(
            StatusCode::BAD_REQUEST,
            7400,
            format!("the file's MD5 is {digest}, not {etag} as the import said"),
        )
        .into();
    }
    if let Some(import) = admin.d1_imports.imports.borrow_mut().get_mut(token) {
        import.file = Some(file);
    }
    let mut response = super::success(Value::Null);
    if let Ok(value) = http::HeaderValue::from_str(&format!("\"{digest}\"")) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    response
}
