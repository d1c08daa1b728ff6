//! SQL databases against real SQLite files.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn query(sql: &str, params: Vec<SqlValue>) -> SqlQuery {
    SqlQuery {
        sql: sql.into(),
        params,
    }
}

fn store(dir: &Path, limits: SqlLimits) -> SqliteSql {
    SqliteSql::open(dir, limits).unwrap()
}

async fn refused(store: &SqliteSql, sql: &str) -> String {
    match store.batch("db", vec![query(sql, vec![])]).await {
        Err(StorageError::Refused(message)) => message,
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_is_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let sql = store(dir.path(), SqlLimits::default());
    sql.exec(
        "db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB);",
    )
    .await
    .unwrap();
    let inserted = sql
        .batch(
            "db",
            vec![
                query(
                    "INSERT INTO t (name, data) VALUES (?, ?)",
                    vec![
                        SqlValue::Text("a".into()),
                        SqlValue::Blob(Bytes::from_static(&[0, 255])),
                    ],
                ),
                query("SELECT id, name, data FROM t", vec![]),
            ],
        )
        .await
        .unwrap();
    assert_eq!((inserted[0].changes, inserted[0].last_row_id), (1, 1));
    assert!(inserted[0].wrote && !inserted[1].wrote);
    assert_eq!(inserted[1].columns, ["id", "name", "data"]);
    assert_eq!(
        inserted[1].rows,
        [[
            SqlValue::Integer(1),
            SqlValue::Text("a".into()),
            SqlValue::Blob(Bytes::from_static(&[0, 255]))
        ]]
    );
    assert!(inserted[1].size_after > 0);

    // The second insert breaks the UNIQUE constraint: the first is rolled back with it.
    let failed = sql
        .batch(
            "db",
            vec![
                query("INSERT INTO t (name) VALUES ('b')", vec![]),
                query("INSERT INTO t (name) VALUES ('a')", vec![]),
            ],
        )
        .await;
    match failed {
        Err(StorageError::Refused(message)) => {
            assert!(message.contains("UNIQUE") && message.ends_with("SQLITE_CONSTRAINT"))
        }
        other => panic!("{other:?}"),
    }
    let count = sql
        .batch("db", vec![query("SELECT count(*) FROM t", vec![])])
        .await
        .unwrap();
    assert_eq!(count[0].rows, [[SqlValue::Integer(1)]]);
}

#[tokio::test]
async fn scripts_reach_nothing_outside_their_database() {
    let dir = tempfile::tempdir().unwrap();
    let sql = store(dir.path(), SqlLimits::default());
    let outside = dir.path().join("outside.sqlite3");
    let attach = refused(&sql, &format!("ATTACH '{}' AS other", outside.display())).await;
    assert!(attach.contains("ATTACH"), "{attach}");
    let vacuum = refused(&sql, &format!("VACUUM INTO '{}'", outside.display())).await;
    assert!(!vacuum.is_empty());
    assert!(!outside.exists(), "a script wrote a file of its choosing");
    assert!(refused(&sql, "BEGIN").await.contains("batch()"));
    assert!(refused(&sql, "SAVEPOINT s").await.contains("batch()"));
    let pragma = refused(&sql, "PRAGMA journal_mode = OFF").await;
    assert!(pragma.contains("journal_mode"), "{pragma}");
    // Allowed pragmas run; the connection's own settings are untouched.
    let keys = sql
        .batch("db", vec![query("PRAGMA foreign_keys", vec![])])
        .await
        .unwrap();
    assert_eq!(keys[0].rows, [[SqlValue::Integer(1)]]);
    let names: Vec<String> = ["../escape", "a/b", "a_b", "a_5fb"]
        .iter()
        .map(|name| {
            sql.path_of(name)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into()
        })
        .collect();
    assert_eq!(
        names,
        [
            "_2e_2e_2fescape.sqlite3",
            "a_2fb.sqlite3",
            "a_5fb.sqlite3",
            "a_5f5fb.sqlite3"
        ]
    );
}

#[tokio::test]
async fn statements_are_checked_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let limits = SqlLimits {
        query_time: Duration::from_millis(200),
        result_bytes: 1000,
    };
    let sql = store(dir.path(), limits);
    let syntax = refused(&sql, "SELEC 1").await;
    assert!(syntax.contains("syntax error"), "{syntax}");
    assert!(refused(&sql, "SELECT 1; SELECT 2")
        .await
        .contains("one statement"));
    let started = Instant::now();
    let endless = refused(
        &sql,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c",
    )
    .await;
    assert!(endless.contains("limit of 0.2 s"), "{endless}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let big = refused(&sql, "SELECT zeroblob(2000)").await;
    assert!(big.contains("over 0 MiB") || big.contains("pages"), "{big}");
    let params = sql
        .batch("db", vec![query("SELECT ?", vec![])])
        .await
        .unwrap_err()
        .to_string();
    assert!(params.contains("parameter"), "{params}");
}
