//! SQL databases (D1) as SQLite files, one per database, in WAL mode with a full sync on each
//! commit. Scripts reach only their own database: an authorizer refuses `ATTACH` (which would
//! open any file of the host), transactions of their own (each call is one) and the pragmas
//! that could weaken durability or corrupt the file; a query runs at most [`SqlLimits::query_time`].

use bytes::Bytes;
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, Statement};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
mod object;
mod wal_log;

pub use object::ObjectFiles;

use verge_storage::{SqlOutcome, SqlQuery, SqlStore, SqlValue, StorageError, StorageFuture};

/// D1's limits, which every database of a store keeps.
#[derive(Debug, Clone)]
pub struct SqlLimits {
    /// How long one statement may run (D1: 30 s); a longer one is interrupted and its call
    /// rolled back.
    pub query_time: Duration,
    /// The most bytes of rows one statement may return; more is refused rather than held in
    /// memory.
    pub result_bytes: usize,
}

impl Default for SqlLimits {
    fn default() -> Self {
        Self {
            query_time: Duration::from_secs(30),
            result_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The pragmas D1 lets a script run; any other is refused.
const ALLOWED_PRAGMAS: &[&str] = &[
    "table_list",
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "quick_check",
    "foreign_key_check",
    "foreign_key_list",
    "case_sensitive_like",
    "ignore_check_constraints",
    "legacy_alter_table",
    "recursive_triggers",
    "reverse_unordered_selects",
    "foreign_keys",
    "defer_foreign_keys",
    "optimize",
];

/// SQLite limits as D1 sets them: bound parameters per query, bytes of one statement, of a
/// string, BLOB or row, and columns of a table; no attached databases.
const SQLITE_LIMITS: &[(Limit, i32)] = &[
    (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 100),
    (Limit::SQLITE_LIMIT_SQL_LENGTH, 100_000),
    (Limit::SQLITE_LIMIT_LENGTH, 2_000_000),
    (Limit::SQLITE_LIMIT_COLUMN, 100),
    (Limit::SQLITE_LIMIT_ATTACHED, 0),
];

/// The SQL databases under one directory, opened on first use and kept open.
#[derive(Clone)]
pub struct SqliteSql {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    limits: SqlLimits,
    databases: Mutex<HashMap<String, Arc<Mutex<Database>>>>,
}

/// Whose rules a database's scripts follow: D1's, or a Durable Object's SQL API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    D1,
    DurableObject,
}

/// One open database and what its hooks share with the code that runs statements.
pub(crate) struct Database {
    pub(crate) conn: Connection,
    /// The database's file, and its write-ahead log.
    pub(crate) path: PathBuf,
    wal: PathBuf,
    /// Whether the statements being prepared are a script's, which the authorizer checks.
    checking: Arc<AtomicBool>,
    /// Why the authorizer last refused a statement, for the error the script sees.
    refusal: Arc<Mutex<Option<String>>>,
    /// When the running statement must stop.
    deadline: Arc<Mutex<Option<Instant>>>,
}

impl SqliteSql {
    /// The databases in `dir`, which is created if need be.
    pub fn open(dir: &Path, limits: SqlLimits) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Backend(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                limits,
                databases: Mutex::default(),
            }),
        })
    }

    /// The file that holds database `name`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.inner.dir.join(format!("{}.sqlite3", file_stem(name)))
    }

    /// Runs `call` on database `name` on the blocking pool.
    fn with_database<T: Send + 'static>(
        &self,
        name: &str,
        call: impl FnOnce(&mut Database, &SqlLimits) -> Result<T, StorageError> + Send + 'static,
    ) -> StorageFuture<T> {
        let this = self.clone();
        let name = name.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let database = this.database(&name)?;
                let mut database = database.lock().unwrap_or_else(PoisonError::into_inner);
                call(&mut database, &this.inner.limits)
            })
            .await
            .map_err(|e| StorageError::Backend(format!("the SQL task failed: {e}")))?
        })
    }

    fn database(&self, name: &str) -> Result<Arc<Mutex<Database>>, StorageError> {
        let mut databases = self
            .inner
            .databases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(database) = databases.get(name) {
            return Ok(database.clone());
        }
        let path = self.path_of(name);
        let database = Arc::new(Mutex::new(
            Database::open(&path, Rules::D1)
                .map_err(|e| StorageError::Backend(format!("{}: {e}", path.display())))?,
        ));
        databases.insert(name.to_owned(), database.clone());
        Ok(database)
    }
}

/// A database name as a file name: letters, digits and `-` as they are, every other byte as
/// `_` and two hex digits, so that no name reaches outside the directory and no two names
/// share a file.
fn file_stem(name: &str) -> String {
    let mut stem = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("_{byte:02x}"));
        }
    }
    stem
}

/// A file SQLite keeps beside the database at `path`: its WAL (`-wal`) or wal-index (`-shm`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// How long a WAL is up to the end of its last committed frame, from the header of its
/// wal-index at `shm`: two copies of 48 bytes in native byte order, `szPage` a u16 at 14
/// (1 meaning 65536) and `mxFrame` a u32 at 16. Read under the write lock, so no commit moves
/// it meanwhile; the two copies must agree.
fn committed_wal_length(shm: &Path) -> std::io::Result<u64> {
    let mut header = [0u8; 96];
    std::io::Read::read_exact(&mut std::fs::File::open(shm)?, &mut header)?;
    let (first, second) = header.split_at(48);
    if first != second || first[12] != 1 {
        return Err(std::io::Error::other("the wal-index header is not settled"));
    }
    let page = match u16::from_ne_bytes([first[14], first[15]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    let frames = u64::from(u32::from_ne_bytes([
        first[16], first[17], first[18], first[19],
    ]));
    // A 32-byte file header, then frames of a 24-byte header and a page.
    Ok(32 + frames * (24 + page))
}

/// An SQLite file as the embedded stores keep them: in WAL mode, synced on every commit, and
/// waiting up to 5 s for another process (`verge d1`, `verge r2`) to release its write lock.
pub(crate) fn open_synced(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // After a large transaction, the WAL file shrinks back to this at the next checkpoint.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(conn)
}

impl Database {
    pub(crate) fn open(path: &Path, rules: Rules) -> rusqlite::Result<Self> {
        let mut conn = open_synced(path)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        for &(limit, value) in SQLITE_LIMITS {
            conn.set_limit(limit, value)?;
        }
        conn.set_prepared_statement_cache_capacity(64);

        let checking = Arc::new(AtomicBool::new(false));
        let refusal: Arc<Mutex<Option<String>>> = Arc::default();
        let (check, refused) = (checking.clone(), refusal.clone());
        conn.authorizer(Some(move |context: AuthContext<'_>| {
            if !check.load(Ordering::Relaxed) {
                return Authorization::Allow;
            }
            match refusal_of(&context.action, rules) {
                None => Authorization::Allow,
                Some(why) => {
                    *refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                    Authorization::Deny
                }
            }
        }))?;

        let deadline: Arc<Mutex<Option<Instant>>> = Arc::default();
        let stop_at = deadline.clone();
        conn.progress_handler(
            10_000,
            Some(move || {
                let deadline = stop_at.lock().unwrap_or_else(PoisonError::into_inner);
                deadline.is_some_and(|at| Instant::now() >= at)
            }),
        )?;
        Ok(Self {
            conn,
            wal: beside(path, "-wal"),
            path: path.to_owned(),
            checking,
            refusal,
            deadline,
        })
    }

    /// Runs `work` as one transaction: committed if it succeeds, rolled back if not.
    fn transaction<T>(
        &mut self,
        limits: &SqlLimits,
        work: impl FnOnce(&mut Self) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        // A call that failed half-way (a panic) must not leave its transaction to the next.
        if !self.conn.is_autocommit() {
            self.conn
                .execute_batch("ROLLBACK")
                .map_err(|e| self.error(e, limits))?;
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.error(e, limits))?;
        match work(self) {
            Ok(done) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(done),
                Err(e) => {
                    let error = self.error(e, limits);
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(error)
                }
            },
            Err(error) => {
                // SQLite may have rolled back already (it does on a full disk).
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                if matches!(error, StorageError::Backend(_)) {
                    self.release_wal();
                }
                Err(error)
            }
        }
    }

    /// Gives back the space a transaction cut short by a full disk took in the WAL file, which
    /// would otherwise stay held until the next checkpoint — and a checkpoint needs space to
    /// run. Under the write lock, the WAL is cut after its last committed frame, as the
    /// wal-index (the `-shm` file, sqlite.org/walformat.html) records it: what follows is the
    /// failed transaction's frames, which no reader reads.
    fn release_wal(&self) {
        if self.conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            return;
        }
        let shrunk = committed_wal_length(&beside(&self.path, "-shm")).and_then(|committed| {
            let file = std::fs::OpenOptions::new().write(true).open(&self.wal)?;
            if file.metadata()?.len() > committed {
                file.set_len(committed)?;
            }
            Ok(())
        });
        if let Err(error) = shrunk {
            tracing::warn!("{} could not be shrunk: {error}", self.wal.display());
        }
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// Runs one statement of a script with its parameters and collects its rows.
    pub(crate) fn query(
        &self,
        query: &SqlQuery,
        limits: &SqlLimits,
    ) -> Result<SqlOutcome, StorageError> {
        let started = Instant::now();
        let rows = {
            let _turn = self.script_turn(limits);
            run_query(&self.conn, query, limits)
        };
        self.outcome(rows, started, limits)
    }

    /// Runs every statement of `script`, in order, and collects what each did.
    pub(crate) fn script(
        &self,
        script: &str,
        limits: &SqlLimits,
    ) -> Result<Vec<SqlOutcome>, StorageError> {
        let mut statements = rusqlite::Batch::new(&self.conn, script);
        let mut outcomes = Vec::new();
        loop {
            let started = Instant::now();
            let rows = {
                let _turn = self.script_turn(limits);
                match FallibleIterator::next(&mut statements) {
                    Ok(Some(mut statement)) => read_rows(&mut statement, limits),
                    Ok(None) => break,
                    Err(e) => Err(e),
                }
            };
            outcomes.push(self.outcome(rows, started, limits)?);
        }
        Ok(outcomes)
    }

    /// Starts a turn of a script's SQL: until it ends, the authorizer checks what is prepared
    /// and the clock runs.
    fn script_turn(&self, limits: &SqlLimits) -> ScriptTurn<'_> {
        *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = None;
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Instant::now() + limits.query_time);
        self.checking.store(true, Ordering::Relaxed);
        ScriptTurn(self)
    }

    /// What a statement that read `rows` did, or why it failed.
    fn outcome(
        &self,
        rows: rusqlite::Result<Result<QueryRows, StorageError>>,
        started: Instant,
        limits: &SqlLimits,
    ) -> Result<SqlOutcome, StorageError> {
        let QueryRows {
            columns,
            rows,
            wrote,
        } = rows.map_err(|e| self.error(e, limits))??;
        let size_after = self.size().map_err(|e| self.error(e, limits))?;
        Ok(SqlOutcome {
            columns,
            rows,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            changes: if wrote { self.conn.changes() } else { 0 },
            last_row_id: self.conn.last_insert_rowid(),
            wrote,
            size_after,
        })
    }

    /// The database's size in bytes.
    pub(crate) fn size(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let page_size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        Ok(u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0))
    }

    /// What the script sees of an SQLite error: SQLite's message and code name, or why the
    /// authorizer or the clock stopped it; a full disk or an I/O error is the backend's.
    pub(crate) fn error(&self, error: rusqlite::Error, limits: &SqlLimits) -> StorageError {
        let refusal = self
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match &error {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let code = code_name(failure.code);
                match failure.code {
                    ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => {
                        StorageError::Backend(format!("{error}: {code}"))
                    }
                    ErrorCode::AuthorizationForStatementDenied => StorageError::Refused(format!(
                        "not authorized: {}: {code}",
                        refusal.unwrap_or_else(|| "the statement is not allowed".into())
                    )),
                    ErrorCode::OperationInterrupted => StorageError::Refused(format!(
                        "the query ran longer than the limit of {} s: {code}",
                        limits.query_time.as_secs_f64()
                    )),
                    _ => StorageError::Refused(format!(
                        "{}: {code}",
                        message.as_deref().unwrap_or("SQL error")
                    )),
                }
            }
            rusqlite::Error::MultipleStatement => StorageError::Refused(
                "a prepared statement must be one statement; use batch() or exec() for more".into(),
            ),
            rusqlite::Error::InvalidParameterCount(given, expected) => {
                StorageError::Refused(format!(
                    "Wrong number of parameter bindings for SQL query: {given} given, the \
                     statement has {expected}"
                ))
            }
            rusqlite::Error::SqlInputError { msg, offset, .. } => {
                StorageError::Refused(format!("{msg} at offset {offset}: SQLITE_ERROR"))
            }
            _ => StorageError::Refused(error.to_string()),
        }
    }
}

/// Why a script following `rules` may not do `action`, if it may not.
fn refusal_of(action: &AuthAction<'_>, rules: Rules) -> Option<String> {
    if rules == Rules::DurableObject {
        if let Some(table) = table_of(action).filter(|table| is_reserved(table)) {
            return Some(format!(
                "table {table} belongs to the storage API: names starting with _cf_ are reserved"
            ));
        }
        if matches!(
            action,
            AuthAction::Transaction { .. } | AuthAction::Savepoint { .. }
        ) {
            return Some(
                "use ctx.storage.transactionSync() or transaction() instead of BEGIN, COMMIT \
                 and SAVEPOINT"
                    .into(),
            );
        }
    }
    match action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Some("ATTACH and DETACH are not allowed".into())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Some(
            "each call is one transaction of its own: use batch() instead of BEGIN, COMMIT \
             and SAVEPOINT"
                .into(),
        ),
        AuthAction::Pragma { pragma_name, .. }
            if !ALLOWED_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str()) =>
        {
            Some(format!("PRAGMA {pragma_name} is not allowed"))
        }
        _ => None,
    }
}

/// Whether `table` is one the storage API keeps for itself.
pub(crate) fn is_reserved(table: &str) -> bool {
    table
        .get(..4)
        .is_some_and(|start| start.eq_ignore_ascii_case("_cf_"))
}

/// The table `action` touches, if it names one.
fn table_of<'a>(action: &AuthAction<'a>) -> Option<&'a str> {
    match *action {
        AuthAction::CreateIndex { table_name, .. }
        | AuthAction::CreateTable { table_name, .. }
        | AuthAction::CreateTrigger { table_name, .. }
        | AuthAction::Delete { table_name, .. }
        | AuthAction::DropIndex { table_name, .. }
        | AuthAction::DropTable { table_name, .. }
        | AuthAction::DropTrigger { table_name, .. }
        | AuthAction::Insert { table_name, .. }
        | AuthAction::Read { table_name, .. }
        | AuthAction::Update { table_name, .. }
        | AuthAction::AlterTable { table_name, .. } => Some(table_name),
        _ => None,
    }
}

/// SQLite's name for a primary result code.
fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
        ErrorCode::TooBig => "SQLITE_TOOBIG",
        ErrorCode::DiskFull => "SQLITE_FULL",
        ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ErrorCode::CannotOpen => "SQLITE_CANTOPEN",
        ErrorCode::AuthorizationForStatementDenied => "SQLITE_AUTH",
        ErrorCode::OperationInterrupted => "SQLITE_INTERRUPT",
        ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ErrorCode::ReadOnly => "SQLITE_READONLY",
        ErrorCode::ParameterOutOfRange => "SQLITE_RANGE",
        _ => "SQLITE_ERROR",
    }
}

/// A turn of a script's SQL; see [`Database::script_turn`].
struct ScriptTurn<'a>(&'a Database);

impl Drop for ScriptTurn<'_> {
    fn drop(&mut self) {
        self.0.checking.store(false, Ordering::Relaxed);
        *self
            .0
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

struct QueryRows {
    columns: Vec<String>,
    rows: Vec<Vec<SqlValue>>,
    wrote: bool,
}

/// Prepares `query`, binds its parameters and reads its rows.
fn run_query(
    conn: &Connection,
    query: &SqlQuery,
    limits: &SqlLimits,
) -> rusqlite::Result<Result<QueryRows, StorageError>> {
    let mut statement = conn.prepare_cached(&query.sql)?;
    let expected = statement.parameter_count();
    if expected != query.params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            query.params.len(),
            expected,
        ));
    }
    for (index, value) in query.params.iter().enumerate() {
        statement.raw_bind_parameter(index + 1, ToSqlOutput::Borrowed(value_ref(value)))?;
    }
    read_rows(&mut statement, limits)
}

/// Steps `statement` to its end and collects its rows, up to `limits.result_bytes`.
fn read_rows(
    statement: &mut Statement<'_>,
    limits: &SqlLimits,
) -> rusqlite::Result<Result<QueryRows, StorageError>> {
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let wrote = !statement.readonly();
    let mut rows = Vec::new();
    let mut bytes = 0;
    let mut cursor = statement.raw_query();
    while let Some(row) = cursor.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let value = sql_value(row.get_ref(index)?);
            bytes += match &value {
                SqlValue::Text(text) => text.len(),
                SqlValue::Blob(blob) => blob.len(),
                _ => 8,
            };
            values.push(value);
        }
        if bytes > limits.result_bytes {
            return Ok(Err(StorageError::Refused(format!(
                "the result is over {} MiB: read it in pages (LIMIT and OFFSET)",
                limits.result_bytes / (1024 * 1024)
            ))));
        }
        rows.push(values);
    }
    Ok(Ok(QueryRows {
        columns,
        rows,
        wrote,
    }))
}

fn value_ref(value: &SqlValue) -> ValueRef<'_> {
    match value {
        SqlValue::Null => ValueRef::Null,
        SqlValue::Integer(n) => ValueRef::Integer(*n),
        SqlValue::Real(x) => ValueRef::Real(*x),
        SqlValue::Text(text) => ValueRef::Text(text.as_bytes()),
        SqlValue::Blob(blob) => ValueRef::Blob(blob),
    }
}

fn sql_value(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Integer(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(text) => SqlValue::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(blob) => SqlValue::Blob(Bytes::copy_from_slice(blob)),
    }
}

impl SqlStore for SqliteSql {
    fn batch(&self, database: &str, queries: Vec<SqlQuery>) -> StorageFuture<Vec<SqlOutcome>> {
        self.with_database(database, move |database, limits| {
            database.transaction(limits, |database| {
                queries
                    .iter()
                    .map(|query| database.query(query, limits))
                    .collect()
            })
        })
    }

    fn exec(&self, database: &str, script: &str) -> StorageFuture<Vec<SqlOutcome>> {
        let script = script.to_owned();
        self.with_database(database, move |database, limits| {
            database.transaction(limits, |database| database.script(&script, limits))
        })
    }
}

#[cfg(test)]
mod tests;
