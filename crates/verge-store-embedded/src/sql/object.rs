//! Durable Objects' storage: an SQLite file per object under
//! `DIR/SCRIPT/CLASS/ID.sqlite`, holding the key-value API's table (`_cf_KV`), the alarm
//! (`_cf_META`) and whatever the object's SQL API creates. A connection keeps one transaction
//! open across calls, begun by the first write; [`ObjectStorage::commit`] ends it, so the
//! writes of many events reach the disk in one commit (WAL, synced as D1's are). Beside them,
//! `DIR/objects.sqlite` lists the objects whose committed storage has an alarm, for a restarted
//! server to find, and the `[[migrations]]` applied.
//!
//! Replicated (a cluster): the file is a copy of the object's log, whose entries are its WAL
//! frames (`wal_log.rs`). Beside it, `ID.replicated` notes the log position the file has
//! reached and how far into the WAL that is; it is written once the log has the frames and
//! removed when the file gets writes the log may lack, so a copy is trusted again only when
//! it is exactly at a position.

use super::{beside, committed_wal_length, is_reserved, wal_log, Database, Rules, SqlLimits};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use verge_storage::{
    KeyRange, MigrationStep, ObjectStorage, ObjectStore, SqlOutcome, SqlQuery, SqlValue,
    StorageError, StoredAlarm,
};

/// The file beside the objects' that lists their alarms and the migrations applied.
const INDEX: &str = "objects.sqlite";

/// How long a replicated object's WAL may grow before it starts over, once the log has it all.
const WAL_RESTART: u64 = 4 * 1024 * 1024;

/// The objects' storage under one directory.
pub struct ObjectFiles {
    dir: PathBuf,
    limits: SqlLimits,
    index: Arc<Mutex<Connection>>,
}

impl ObjectFiles {
    /// The storage under `dir`, which is created if need be.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| backend(dir, e))?;
        let path = dir.join(INDEX);
        let open = || -> rusqlite::Result<Connection> {
            let conn = super::open_synced(&path)?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS alarms (script TEXT, class TEXT, id TEXT, at REAL, \
                 PRIMARY KEY (script, class, id)) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS migrations (script TEXT, tag TEXT, \
                 PRIMARY KEY (script, tag)) WITHOUT ROWID;",
            )?;
            Ok(conn)
        };
        let index = open().map_err(|e| backend(&path, e))?;
        Ok(Self {
            dir: dir.to_owned(),
            limits: SqlLimits::default(),
            index: Arc::new(Mutex::new(index)),
        })
    }

    fn class_dir(&self, script: &str, class: &str) -> PathBuf {
        self.dir.join(path_safe(script)).join(path_safe(class))
    }
}

/// `name` as one path component: letters, digits, `-`, `_` and `.` as they are (but a leading
/// `.`), anything else as `%XX`.
fn path_safe(name: &str) -> String {
    let mut safe = String::with_capacity(name.len());
    for (index, byte) in name.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_')
            || (byte == b'.' && index > 0);
        if plain {
            safe.push(char::from(byte));
        } else {
            safe.push_str(&format!("%{byte:02X}"));
        }
    }
    safe
}

fn backend(path: &Path, error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("{}: {error}", path.display()))
}

impl ObjectFiles {
    /// The file of object `id`, its directory made if need be.
    fn object_path(&self, script: &str, class: &str, id: &str) -> Result<PathBuf, StorageError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StorageError::Invalid(format!(
                "\"{id}\" is not a Durable Object id"
            )));
        }
        let dir = self.class_dir(script, class);
        std::fs::create_dir_all(&dir).map_err(|e| backend(&dir, e))?;
        Ok(dir.join(format!("{}.sqlite", id.to_ascii_lowercase())))
    }

    /// Opens the object's file, replicated from log position `replica` when given.
    fn open_file(
        &self,
        (script, class, id): (&str, &str, &str),
        replica: Option<u64>,
    ) -> Result<Box<dyn ObjectStorage>, StorageError> {
        let path = self.object_path(script, class, id)?;
        let open = || -> rusqlite::Result<Database> {
            let database = Database::open(&path, Rules::DurableObject)?;
            if replica.is_some() {
                // Frames stay in the WAL until the log has them: see ObjectFile::replicated.
                database.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            }
            database.conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB NOT NULL) \
                 WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS _cf_META (name TEXT PRIMARY KEY, value) WITHOUT ROWID;",
            )?;
            Ok(database)
        };
        let database = open().map_err(|e| backend(&path, e))?;
        let replica = match replica {
            Some(position) => {
                let (wal, shm) = (beside(&path, "-wal"), beside(&path, "-shm"));
                // Creating the tables of a new object is a commit the log must get too.
                let frames = wal_log::frames_after(&wal, 0, committed_end(&wal, &shm))
                    .map_err(|e| backend(&wal, e))?;
                let replica = Replica {
                    mark: beside(&path, ".replicated"),
                    wal,
                    shm,
                    position,
                    published: 0,
                    pending: None,
                    dirty: frames.is_some(),
                    diverged: false,
                };
                if !replica.dirty {
                    replica.note()?;
                }
                Some(replica)
            }
            None => None,
        };
        let mut file = ObjectFile {
            database,
            limits: self.limits.clone(),
            savepoints: 0,
            index: self.index.clone(),
            address: [script.to_owned(), class.to_owned(), id.to_ascii_lowercase()],
            alarm_changed: None,
            replica,
            discarded: false,
        };
        if file.replica.is_some() {
            // A copy brought up to date from the log may have an alarm this server did not set.
            let alarm = file.alarm()?;
            file.list_alarm(alarm);
        }
        Ok(Box::new(file))
    }
}

impl Replica {
    /// Where the WAL's last committed frame ends (see [`committed_end`]).
    fn committed(&self) -> u64 {
        committed_end(&self.wal, &self.shm)
    }

    /// Notes where the file stands, in `ID.replicated` (see [`read_mark`]).
    fn note(&self) -> Result<(), StorageError> {
        let temporary = beside(&self.mark, ".tmp");
        std::fs::write(&temporary, format!("{} {}", self.position, self.published))
            .and_then(|()| std::fs::rename(&temporary, &self.mark))
            .map_err(|e| backend(&self.mark, e))
    }
}

/// Where the last committed frame of the WAL at `wal` ends, as its wal-index at `shm` says
/// (its file's length if that cannot tell): frames past it belong to no commit.
fn committed_end(wal: &Path, shm: &Path) -> u64 {
    committed_wal_length(shm).unwrap_or_else(|_| file_len(wal))
}

/// What `ID.replicated` notes: the log position a file is at, and the WAL offset it is at.
fn read_mark(mark: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(mark).ok()?;
    let (position, offset) = text.trim().split_once(' ')?;
    Some((position.parse().ok()?, offset.parse().ok()?))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

fn remove_if_present(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(backend(path, e)),
        _ => Ok(()),
    }
}

impl ObjectStore for ObjectFiles {
    fn open(
        &self,
        script: &str,
        class: &str,
        id: &str,
    ) -> Result<Box<dyn ObjectStorage>, StorageError> {
        self.open_file((script, class, id), None)
    }

    fn replica_position(
        &self,
        script: &str,
        class: &str,
        id: &str,
    ) -> Result<Option<u64>, StorageError> {
        let path = self.object_path(script, class, id)?;
        if !path.exists() {
            return Ok(Some(0));
        }
        let Some((position, offset)) = read_mark(&beside(&path, ".replicated")) else {
            return Ok(None);
        };
        // A WAL longer than noted holds commits made after the mark, which the log may lack.
        let wal = file_len(&beside(&path, "-wal"));
        Ok((wal == 0 || wal == offset).then_some(position))
    }

    fn open_replica(
        &self,
        (script, class, id): (&str, &str, &str),
        from_start: bool,
        entries: &[bytes::Bytes],
        position: u64,
    ) -> Result<Box<dyn ObjectStorage>, StorageError> {
        let path = self.object_path(script, class, id)?;
        let (wal, shm) = (beside(&path, "-wal"), beside(&path, "-shm"));
        remove_if_present(&beside(&path, ".replicated"))?;
        if from_start {
            for file in [&path, &wal, &shm] {
                remove_if_present(file)?;
            }
        } else if file_len(&wal) > 0 {
            // The WAL's frames go into the file first (closing the last connection
            // checkpoints them), so that the entries' pages land over them.
            super::open_synced(&path)
                .and_then(|conn| conn.close().map_err(|(_, e)| e))
                .map_err(|e| backend(&path, e))?;
            // Another connection to the file (which there must not be) would have kept it.
            if file_len(&wal) > 0 {
                return Err(backend(&wal, "the WAL could not be folded into the file"));
            }
        }
        if !entries.is_empty() {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| backend(&path, e))?;
            for entry in entries {
                wal_log::apply(&mut file, entry)?;
            }
            file.sync_all().map_err(|e| backend(&path, e))?;
            remove_if_present(&shm)?;
        }
        self.open_file((script, class, id), Some(position))
    }

    fn alarms(&self) -> Result<Vec<StoredAlarm>, StorageError> {
        let conn = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let read = || -> rusqlite::Result<Vec<StoredAlarm>> {
            let mut statement = conn.prepare("SELECT script, class, id, at FROM alarms")?;
            let rows = statement.query_map([], |row| {
                Ok(StoredAlarm {
                    script: row.get(0)?,
                    class: row.get(1)?,
                    id: row.get(2)?,
                    at: row.get(3)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| backend(&self.dir.join(INDEX), e))
    }

    fn relocate(&self, script: &str, from: &str, to: &str) -> Result<(), StorageError> {
        let (from_dir, to_dir) = (self.class_dir(script, from), self.class_dir(script, to));
        if !from_dir.is_dir() || to_dir.exists() {
            return Ok(());
        }
        std::fs::rename(&from_dir, &to_dir).map_err(|e| backend(&from_dir, e))?;
        let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index
            .execute(
                "UPDATE alarms SET class = ?3 WHERE script = ?1 AND class = ?2",
                [script, from, to],
            )
            .map_err(|e| backend(&self.dir.join(INDEX), e))?;
        Ok(())
    }

    fn migrate(&self, script: &str, steps: &[MigrationStep]) -> Result<(), StorageError> {
        let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let failed = |e: rusqlite::Error| backend(&self.dir.join(INDEX), e);
        for step in steps {
            let applied: bool = index
                .query_row(
                    "SELECT count(*) > 0 FROM migrations WHERE script = ?1 AND tag = ?2",
                    [script, &step.tag],
                    |row| row.get(0),
                )
                .map_err(failed)?;
            if applied {
                continue;
            }
            for class in &step.deleted {
                let dir = self.class_dir(script, class);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(backend(&dir, e))
                    }
                    _ => {}
                }
                index
                    .execute(
                        "DELETE FROM alarms WHERE script = ?1 AND class = ?2",
                        [script, class],
                    )
                    .map_err(failed)?;
            }
            index
                .execute(
                    "INSERT INTO migrations (script, tag) VALUES (?1, ?2)",
                    [script, &step.tag],
                )
                .map_err(failed)?;
        }
        Ok(())
    }
}

/// One object's open file.
struct ObjectFile {
    database: Database,
    limits: SqlLimits,
    /// Nested transactions open.
    savepoints: usize,
    /// The store's list of objects with alarms, and this object's script, class and id in it.
    index: Arc<Mutex<Connection>>,
    address: [String; 3],
    /// The alarm as the open transaction last set it, for the list once it commits.
    alarm_changed: Option<Option<f64>>,
    /// Where the file stands against its log, when replicated.
    replica: Option<Replica>,
    /// Whether its uncommitted writes were dropped: closing commits nothing.
    discarded: bool,
}

/// A replicated file's place in its log.
struct Replica {
    wal: PathBuf,
    /// The wal-index, which tells where the last commit ends.
    shm: PathBuf,
    /// `ID.replicated`: see [`read_mark`].
    mark: PathBuf,
    /// The log position of the last entry made of this file's frames (or applied to it).
    position: u64,
    /// The WAL offset up to which the log has the frames.
    published: u64,
    /// The offset after the frames of the entry handed out and not yet confirmed.
    pending: Option<u64>,
    /// Whether commits were made that the log does not have yet.
    dirty: bool,
    /// Whether an entry could not be appended: the file holds writes the log lacks.
    diverged: bool,
}

impl ObjectFile {
    fn error(&self, error: rusqlite::Error) -> StorageError {
        self.database.error(error, &self.limits)
    }

    /// Records the object's committed alarm in the store's list, for a restart to find.
    fn list_alarm(&self, at: Option<f64>) {
        let conn = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let [script, class, id] = &self.address;
        let listed = match at {
            Some(at) => conn.execute(
                "INSERT INTO alarms VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO UPDATE SET at = excluded.at",
                rusqlite::params![script, class, id, at],
            ),
            None => conn.execute(
                "DELETE FROM alarms WHERE script = ?1 AND class = ?2 AND id = ?3",
                [script, class, id],
            ),
        };
        // The object's own storage holds the alarm; the list only helps find it.
        if let Err(error) = listed {
            tracing::warn!("the list of Durable Object alarms could not be updated: {error}");
        }
    }

    /// Opens the transaction that gathers writes until the next commit, if none is open.
    fn writing(&mut self) -> Result<(), StorageError> {
        if self.database.conn.is_autocommit() {
            self.database
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

impl ObjectStorage for ObjectFile {
    fn get(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let conn = &self.database.conn;
        let read = || -> rusqlite::Result<Vec<Option<Vec<u8>>>> {
            let mut statement = conn.prepare_cached("SELECT value FROM _cf_KV WHERE key = ?1")?;
            keys.iter()
                .map(|key| statement.query_row([key], |row| row.get(0)).optional())
                .collect()
        };
        read().map_err(|e| self.error(e))
    }

    fn put(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), StorageError> {
        self.writing()?;
        let conn = &self.database.conn;
        let write = || -> rusqlite::Result<()> {
            let mut statement = conn.prepare_cached(
                "INSERT INTO _cf_KV (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in entries {
                statement.execute(rusqlite::params![key, value])?;
            }
            Ok(())
        };
        write().map_err(|e| self.error(e))
    }

    fn delete(&mut self, keys: &[String]) -> Result<u64, StorageError> {
        self.writing()?;
        let conn = &self.database.conn;
        let delete = || -> rusqlite::Result<u64> {
            let mut statement = conn.prepare_cached("DELETE FROM _cf_KV WHERE key = ?1")?;
            let mut deleted = 0;
            for key in keys {
                deleted += statement.execute([key])? as u64;
            }
            Ok(deleted)
        };
        delete().map_err(|e| self.error(e))
    }

    fn list(&mut self, range: &KeyRange) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut sql = String::from("SELECT key, value FROM _cf_KV WHERE 1");
        let mut params: Vec<String> = Vec::new();
        let mut bound = |sql: &mut String, condition: &str, value: &str| {
            params.push(value.to_owned());
            sql.push_str(&format!(" AND key {condition} ?{}", params.len()));
        };
        match (&range.start_after, &range.start) {
            (Some(after), _) => bound(&mut sql, ">", after),
            (None, Some(start)) => bound(&mut sql, ">=", start),
            (None, None) => {}
        }
        if let Some(end) = &range.end {
            bound(&mut sql, "<", end);
        }
        if let Some(prefix) = &range.prefix {
            // Keys from the prefix up to the first that no longer starts with it.
            bound(&mut sql, ">=", prefix);
            sql.push_str(&format!(
                " AND substr(key, 1, length(?{})) = ?{}",
                params.len(),
                params.len()
            ));
        }
        sql.push_str(if range.reverse {
            " ORDER BY key DESC"
        } else {
            " ORDER BY key"
        });
        if let Some(limit) = range.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let conn = &self.database.conn;
        let read = || -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(&params), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            rows.collect()
        };
        read().map_err(|e| self.error(e))
    }

    fn delete_all(&mut self) -> Result<(), StorageError> {
        self.writing()?;
        let conn = &self.database.conn;
        let clear = || -> rusqlite::Result<()> {
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for table in tables {
                if is_reserved(&table) {
                    conn.execute(&format!("DELETE FROM \"{table}\""), [])?;
                } else if !table.starts_with("sqlite_") {
                    conn.execute(
                        &format!("DROP TABLE IF EXISTS \"{}\"", table.replace('"', "\"\"")),
                        [],
                    )?;
                }
            }
            Ok(())
        };
        clear().map_err(|e| self.error(e))?;
        self.alarm_changed = Some(None);
        Ok(())
    }

    fn exec(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlOutcome, StorageError> {
        // Writes must land in the open transaction; a read alone need not begin one, but
        // SQLite decides what writes only once the statement is prepared.
        self.writing()?;
        if params.is_empty() {
            let outcomes = self.database.script(sql, &self.limits)?;
            return outcomes
                .into_iter()
                .last()
                .ok_or_else(|| StorageError::Refused("the query holds no SQL statement".into()));
        }
        let query = SqlQuery {
            sql: sql.to_owned(),
            params: params.to_vec(),
        };
        self.database.query(&query, &self.limits)
    }

    fn begin_transaction(&mut self) -> Result<(), StorageError> {
        self.writing()?;
        self.savepoints += 1;
        let name = self.savepoints;
        self.database
            .conn
            .execute_batch(&format!("SAVEPOINT object_{name}"))
            .map_err(|e| self.error(e))
    }

    fn end_transaction(&mut self, keep: bool) -> Result<(), StorageError> {
        let name = self.savepoints;
        if name == 0 {
            return Err(StorageError::Invalid("no transaction is open".into()));
        }
        self.savepoints -= 1;
        let sql = if keep {
            format!("RELEASE object_{name}")
        } else {
            format!("ROLLBACK TO object_{name}; RELEASE object_{name}")
        };
        self.database
            .conn
            .execute_batch(&sql)
            .map_err(|e| self.error(e))
    }

    fn alarm(&mut self) -> Result<Option<f64>, StorageError> {
        let conn = &self.database.conn;
        conn.query_row(
            "SELECT value FROM _cf_META WHERE name = 'alarm'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| self.error(e))
    }

    fn set_alarm(&mut self, at: Option<f64>) -> Result<(), StorageError> {
        self.writing()?;
        let conn = &self.database.conn;
        let written = match at {
            Some(at) => conn.execute(
                "INSERT INTO _cf_META (name, value) VALUES ('alarm', ?1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [at],
            ),
            None => conn.execute("DELETE FROM _cf_META WHERE name = 'alarm'", []),
        };
        written.map_err(|e| self.error(e))?;
        self.alarm_changed = Some(at);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        if self.database.conn.is_autocommit() {
            return Ok(());
        }
        // A transaction() still open when its event ended (it awaited something that never
        // settled) is committed with the rest: its writes were acknowledged to the script.
        self.savepoints = 0;
        self.database
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| self.error(e))?;
        if let Some(replica) = &mut self.replica {
            // An empty transaction (reads under BEGIN IMMEDIATE) writes no frame.
            replica.dirty |= replica.committed() > replica.published.max(32);
        }
        if let Some(at) = self.alarm_changed.take() {
            self.list_alarm(at);
        }
        Ok(())
    }

    fn discard(mut self: Box<Self>) {
        if !self.database.conn.is_autocommit() {
            let _ = self.database.conn.execute_batch("ROLLBACK");
        }
        self.discarded = true;
    }

    fn has_uncommitted_writes(&self) -> bool {
        !self.database.conn.is_autocommit() || self.replica.as_ref().is_some_and(|r| r.dirty)
    }

    fn unreplicated(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(replica) = &mut self.replica else {
            return Ok(None);
        };
        if replica.diverged {
            return Err(StorageError::Backend(
                "this copy of the Durable Object holds writes its log lacks".into(),
            ));
        }
        let committed = replica.committed();
        // A WAL shorter than what the log has was started over: all of it is new.
        if committed < replica.published {
            replica.published = 0;
        }
        let frames = wal_log::frames_after(&replica.wal, replica.published, committed)
            .map_err(|e| backend(&replica.wal, e))?;
        replica.dirty = frames.is_some();
        Ok(frames.map(|(entry, end)| {
            replica.pending = Some(end);
            entry
        }))
    }

    fn snapshot(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(replica) = &self.replica else {
            return Ok(None);
        };
        if replica.dirty || replica.diverged || !self.database.conn.is_autocommit() {
            return Ok(None);
        }
        // With every frame in the file, the file alone is the object.
        let busy: i64 = self
            .database
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(|e| self.database.error(e, &self.limits))?;
        if busy != 0 {
            return Ok(None);
        }
        let path = self.database.path.clone();
        let entry = wal_log::snapshot(&path).map_err(|e| backend(&path, e))?;
        if let Some(replica) = &mut self.replica {
            replica.published = 0;
            replica.note()?;
        }
        Ok(Some(entry))
    }

    fn replicated(&mut self, position: Option<u64>) -> Result<(), StorageError> {
        let Some(replica) = &mut self.replica else {
            return Ok(());
        };
        let Some(position) = position else {
            replica.diverged = true;
            replica.pending = None;
            return remove_if_present(&replica.mark);
        };
        if let Some(end) = replica.pending.take() {
            replica.published = end;
        }
        replica.position = position;
        replica.dirty = replica.committed() > replica.published.max(32);
        replica.note()?;
        // With every frame in the log, a long WAL starts over, so that it does not grow forever
        // (not after every commit: a checkpoint costs a sync of the file).
        if !replica.dirty && replica.published > WAL_RESTART && self.database.conn.is_autocommit() {
            let (busy, _, _): (i64, i64, i64) = self
                .database
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .map_err(|e| self.database.error(e, &self.limits))?;
            if busy == 0 {
                replica.published = 0;
                replica.note()?;
            }
        }
        Ok(())
    }

    fn in_transaction(&self) -> bool {
        self.savepoints > 0
    }

    fn size(&mut self) -> Result<u64, StorageError> {
        self.database.size().map_err(|e| self.error(e))
    }
}

impl Drop for ObjectFile {
    fn drop(&mut self) {
        if self.discarded {
            return;
        }
        if let Err(error) = self.commit() {
            tracing::error!("a Durable Object's last writes could not be committed: {error}");
        }
        // Closing checkpoints the WAL, after which no one could tell its frames from the log's.
        if let Some(replica) = self.replica.as_ref().filter(|r| r.dirty || r.diverged) {
            let _ = remove_if_present(&replica.mark);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ID: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn keys(entries: &[(String, Vec<u8>)]) -> Vec<&str> {
        entries.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn writes_are_read_back_before_and_after_commit_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let mut storage = files.open("app", "Counter", ID).unwrap();
        let entries: Vec<(String, Vec<u8>)> = ["a", "b", "ba", "bb", "c"]
            .iter()
            .map(|key| (key.to_string(), key.as_bytes().to_vec()))
            .collect();
        storage.put(&entries).unwrap();
        assert_eq!(
            storage.get(&["b".into(), "z".into()]).unwrap(),
            [Some(b"b".to_vec()), None]
        );
        let prefix = KeyRange {
            prefix: Some("b".into()),
            ..KeyRange::default()
        };
        assert_eq!(keys(&storage.list(&prefix).unwrap()), ["b", "ba", "bb"]);
        let window = KeyRange {
            start_after: Some("a".into()),
            end: Some("bb".into()),
            reverse: true,
            limit: Some(2),
            ..KeyRange::default()
        };
        assert_eq!(keys(&storage.list(&window).unwrap()), ["ba", "b"]);
        storage.begin_transaction().unwrap();
        storage.delete(&["a".into()]).unwrap();
        storage.end_transaction(false).unwrap();
        storage.set_alarm(Some(1234.5)).unwrap();
        assert!(
            files.alarms().unwrap().is_empty(),
            "listed only once committed"
        );
        storage.commit().unwrap();
        drop(storage);
        let listed = files.alarms().unwrap();
        assert_eq!(
            (listed.len(), listed[0].at, listed[0].class.as_str()),
            (1, 1234.5, "Counter")
        );

        let mut storage = files.open("app", "Counter", ID).unwrap();
        assert_eq!(storage.get(&["a".into()]).unwrap(), [Some(b"a".to_vec())]);
        assert_eq!(storage.alarm().unwrap(), Some(1234.5));
        let made = storage.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7)", &[]);
        assert!(made.is_ok(), "{made:?}");
        let read = storage
            .exec("SELECT n FROM t WHERE n = ?", &[SqlValue::Integer(7)])
            .unwrap();
        assert_eq!(read.rows, [[SqlValue::Integer(7)]]);
        for refused in ["SELECT * FROM _cf_KV", "BEGIN", "DROP TABLE _cf_META"] {
            let error = storage.exec(refused, &[]).unwrap_err().to_string();
            assert!(error.contains("not authorized"), "{refused}: {error}");
        }
        storage.delete_all().unwrap();
        assert!(storage.list(&KeyRange::default()).unwrap().is_empty());
        assert!(storage.exec("SELECT n FROM t", &[]).is_err());
        assert!(files.open("app", "Counter", "not-an-id").is_err());
    }

    /// Appends what `storage` committed to `log`, as a cluster's runtime does.
    fn replicate(storage: &mut Box<dyn ObjectStorage>, log: &mut Vec<bytes::Bytes>) {
        if let Some(entry) = storage.unreplicated().unwrap() {
            log.push(entry.into());
            storage.replicated(Some(log.len() as u64)).unwrap();
        }
        assert!(!storage.has_uncommitted_writes());
    }

    #[test]
    fn a_copy_rebuilt_from_the_log_has_every_replicated_write_and_no_other() {
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (owner_files, other_files) = (
            ObjectFiles::open(here.path()).unwrap(),
            ObjectFiles::open(there.path()).unwrap(),
        );
        let object = ("app", "Room", ID);
        assert_eq!(
            owner_files.replica_position("app", "Room", ID).unwrap(),
            Some(0)
        );
        let mut log = Vec::new();
        let mut owner = owner_files.open_replica(object, false, &[], 0).unwrap();
        assert!(owner.has_uncommitted_writes(), "its tables were made");
        replicate(&mut owner, &mut log);
        owner
            .exec("CREATE TABLE t (n INTEGER, r INTEGER)", &[])
            .unwrap();
        for n in 0..40 {
            let big = vec![n as u8; 20_000];
            owner.put(&[(format!("k{n:02}"), big)]).unwrap();
            owner
                .exec(
                    "INSERT INTO t VALUES (?, random())",
                    &[SqlValue::Integer(n)],
                )
                .unwrap();
            owner.commit().unwrap();
            if n % 3 == 0 {
                replicate(&mut owner, &mut log);
            }
        }
        replicate(&mut owner, &mut log);
        owner.delete(&["k07".into()]).unwrap();
        owner.commit().unwrap();
        replicate(&mut owner, &mut log);
        let rows = |storage: &mut Box<dyn ObjectStorage>| {
            storage
                .exec("SELECT n, r FROM t ORDER BY n", &[])
                .unwrap()
                .rows
        };
        let written = rows(&mut owner);
        // Committed, never appended: a crash before the log had it.
        owner.put(&[("lost".into(), b"x".to_vec())]).unwrap();
        owner.commit().unwrap();
        drop(owner);
        assert_eq!(
            owner_files.replica_position("app", "Room", ID).unwrap(),
            None
        );

        let position = log.len() as u64;
        let mut copy = other_files
            .open_replica(object, true, &log, position)
            .unwrap();
        assert_eq!(rows(&mut copy), written, "the same rows, random() included");
        let listed = copy.list(&KeyRange::default()).unwrap();
        assert_eq!(listed.len(), 39);
        assert!(listed
            .iter()
            .all(|(key, value)| key != "k07" && value.len() == 20_000));
        assert_eq!(copy.get(&["lost".into()]).unwrap(), [None]);
        copy.put(&[("there".into(), b"1".to_vec())]).unwrap();
        copy.commit().unwrap();
        replicate(&mut copy, &mut log);
        drop(copy);
        let at = other_files.replica_position("app", "Room", ID).unwrap();
        assert_eq!(at, Some(log.len() as u64), "a clean copy is trusted");

        // The first owner, behind and holding a lost write, starts over from the log.
        let mut back = owner_files
            .open_replica(object, true, &log, log.len() as u64)
            .unwrap();
        assert_eq!(
            back.get(&["there".into(), "lost".into()]).unwrap(),
            [Some(b"1".to_vec()), None]
        );
        assert_eq!(rows(&mut back), written);
        // And a trusted copy catches up with only the entries after its own.
        drop(back);
        let mut copy = other_files
            .open_replica(object, false, &[], log.len() as u64)
            .unwrap();
        assert_eq!(copy.get(&["there".into()]).unwrap(), [Some(b"1".to_vec())]);
        copy.exec("DROP TABLE t", &[]).unwrap();
        copy.commit().unwrap();
        let skipped = log.len();
        replicate(&mut copy, &mut log);
        drop(copy);
        let position = owner_files.replica_position("app", "Room", ID).unwrap();
        assert_eq!(position, Some(skipped as u64));
        let mut back = owner_files
            .open_replica(object, false, &log[skipped..], log.len() as u64)
            .unwrap();
        assert!(
            back.exec("SELECT n FROM t", &[]).is_err(),
            "the table was dropped"
        );
        assert_eq!(
            back.get(&["k39".into()]).unwrap()[0].as_ref().map(Vec::len),
            Some(20_000)
        );

        // A snapshot alone rebuilds the object, over an older copy or from nothing.
        back.put(&[("late".into(), b"2".to_vec())]).unwrap();
        back.commit().unwrap();
        assert!(
            back.snapshot().unwrap().is_none(),
            "not while a commit is unreplicated"
        );
        replicate(&mut back, &mut log);
        let snapshot = bytes::Bytes::from(back.snapshot().unwrap().unwrap());
        log.push(snapshot.clone());
        back.replicated(Some(log.len() as u64)).unwrap();
        let expected = back.list(&KeyRange::default()).unwrap();
        drop(back);
        let position = log.len() as u64;
        let at = other_files.replica_position("app", "Room", ID).unwrap();
        assert_eq!(at, Some(log.len() as u64 - 2));
        let older = other_files
            .open_replica(object, false, &log[log.len() - 1..], position)
            .unwrap();
        let fresh = tempfile::tempdir().unwrap();
        let fresh = ObjectFiles::open(fresh.path()).unwrap();
        let rebuilt = fresh
            .open_replica(object, true, &[snapshot], position)
            .unwrap();
        for mut copy in [older, rebuilt] {
            assert_eq!(copy.list(&KeyRange::default()).unwrap(), expected);
            assert!(copy.exec("SELECT n FROM t", &[]).is_err());
        }
    }

    #[test]
    fn discarded_and_rolled_back_writes_never_reach_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let object = ("app", "Room", ID);
        let mut log = Vec::new();
        let mut owner = files.open_replica(object, false, &[], 0).unwrap();
        owner.put(&[("kept".into(), b"1".to_vec())]).unwrap();
        owner.commit().unwrap();
        replicate(&mut owner, &mut log);
        owner.put(&[("dropped".into(), b"2".to_vec())]).unwrap();
        owner.discard();
        let position = files.replica_position("app", "Room", ID).unwrap();
        assert_eq!(
            position,
            Some(log.len() as u64),
            "still exactly at its position"
        );

        let mut again = files
            .open_replica(object, false, &[], log.len() as u64)
            .unwrap();
        let read = again.get(&["kept".into(), "dropped".into()]).unwrap();
        assert_eq!(read, [Some(b"1".to_vec()), None]);
        // Pages spilled to the WAL by a transaction rolled back belong to no commit.
        again.begin_transaction().unwrap();
        for n in 0..40 {
            again.put(&[(format!("big{n}"), vec![7; 100_000])]).unwrap();
        }
        again.end_transaction(false).unwrap();
        again.commit().unwrap();
        replicate(&mut again, &mut log);
        assert!(!again.has_uncommitted_writes(), "nothing left to replicate");
        drop(again);
        let elsewhere = tempfile::tempdir().unwrap();
        let elsewhere = ObjectFiles::open(elsewhere.path()).unwrap();
        let mut copy = elsewhere
            .open_replica(object, true, &log, log.len() as u64)
            .unwrap();
        let keys: Vec<String> = copy
            .list(&KeyRange::default())
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["kept"]);
    }

    #[test]
    fn migrations_apply_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let write = |class: &str, value: &[u8]| {
            let mut storage = files.open("app", class, ID).unwrap();
            storage.put(&[("k".into(), value.to_vec())]).unwrap();
            storage.set_alarm(Some(1.0)).unwrap();
            storage.commit().unwrap();
        };
        let read = |class: &str| {
            files
                .open("app", class, ID)
                .unwrap()
                .get(&["k".into()])
                .unwrap()
        };
        write("Old", b"kept");
        // A rename (a step deleting nothing) leaves the objects where they are.
        let rename = MigrationStep {
            tag: "v2".into(),
            deleted: vec![],
        };
        files.migrate("app", std::slice::from_ref(&rename)).unwrap();
        assert_eq!(read("Old"), [Some(b"kept".to_vec())]);
        assert_eq!(files.alarms().unwrap()[0].class, "Old");
        // Deleted, then created again: a restart replaying the history keeps the new objects.
        let delete = MigrationStep {
            tag: "v3".into(),
            deleted: vec!["Old".into()],
        };
        files
            .migrate("app", &[rename.clone(), delete.clone()])
            .unwrap();
        assert_eq!(read("Old"), [None]);
        assert!(files.alarms().unwrap().is_empty());
        write("Old", b"second life");
        files.migrate("app", &[rename, delete]).unwrap();
        assert_eq!(read("Old"), [Some(b"second life".to_vec())]);

        // What an older store moved to a class's new name goes back under its identity, once.
        write("Moved", b"renamed long ago");
        files.relocate("app", "Moved", "First").unwrap();
        assert_eq!(read("First"), [Some(b"renamed long ago".to_vec())]);
        assert!(files
            .alarms()
            .unwrap()
            .iter()
            .any(|alarm| alarm.class == "First"));
        write("Moved", b"a class of that name since");
        files.relocate("app", "Moved", "First").unwrap();
        assert_eq!(read("First"), [Some(b"renamed long ago".to_vec())]);
    }
}
