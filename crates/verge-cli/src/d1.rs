//! `verge d1 execute` and `verge d1 migrations create|list|apply`: a project's local SQL
//! databases, as wrangler's `d1` commands with `--local` reach them. The databases are the ones
//! `verge dev` uses (`.verge/state/d1`, or under `--persist-to`; point that at a server's
//! `data_dir` for `verge serve`'s); SQLite lets a running server use them at the same time.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use verge_config::{D1Database, WorkerConfig};
use verge_storage::{SqlOutcome, SqlStore, SqlValue};
use verge_store_embedded::SqliteSql;

#[derive(Args)]
pub struct D1Args {
    #[command(subcommand)]
    command: D1Command,
}

#[derive(Subcommand)]
enum D1Command {
    /// Runs SQL on a database: one or more statements given with --command, or a file of them
    /// with --file; all of it in one transaction.
    Execute {
        #[command(flatten)]
        target: Target,
        /// The SQL to run.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        command: Option<String>,
        /// A file of SQL to run.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print what each statement did as JSON, as the D1 API returns it.
        #[arg(long)]
        json: bool,
    },
    /// The migration files of a database, and which of them have run.
    #[command(subcommand)]
    Migrations(MigrationsCommand),
}

#[derive(Subcommand)]
enum MigrationsCommand {
    /// Makes the next migration file, `NNNN_message.sql`, in the migrations directory.
    Create {
        #[command(flatten)]
        target: Target,
        message: String,
    },
    /// Lists the migrations that have not run.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Runs, in order, each migration that has not run: each in one transaction with the record
    /// that it ran, stopping at the first that fails.
    Apply {
        #[command(flatten)]
        target: Target,
    },
}

/// Which database, and where its data is.
#[derive(Args)]
struct Target {
    /// The database's `database_name` or `binding` in the project's wrangler config.
    name: String,
    /// The project directory or its wrangler config.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// Where the data is; by default `.verge/state` in the project, as for `verge dev`.
    #[arg(long, value_name = "DIR")]
    persist_to: Option<PathBuf>,
}

/// A database of a project, opened.
struct Opened {
    project: WorkerConfig,
    database: D1Database,
    store: SqliteSql,
}

impl Target {
    fn open(&self) -> anyhow::Result<Opened> {
        let project = WorkerConfig::locate(&self.config)?;
        let database = project
            .d1_databases
            .iter()
            .find(|d1| d1.is_named(&self.name))
            .cloned()
            .with_context(|| {
                let known: Vec<&str> = project
                    .d1_databases
                    .iter()
                    .map(|d1| d1.database_name.as_deref().unwrap_or(&d1.binding))
                    .collect();
                format!(
                    "no D1 database named {} in {} (it has: {})",
                    self.name,
                    project
                        .config_file
                        .as_deref()
                        .unwrap_or(&project.root)
                        .display(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
        let state = crate::state::dir(&project.root, self.persist_to.as_deref());
        let store = crate::state::open_sql(&state)?;
        Ok(Opened {
            project,
            database,
            store,
        })
    }
}

impl Opened {
    fn migrations_dir(&self) -> PathBuf {
        self.project.root.join(self.database.migrations_dir())
    }

    /// The migration files, in the order they run.
    fn migrations(&self) -> anyhow::Result<Vec<String>> {
        let dir = self.migrations_dir();
        let mut names = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The migrations that have run, as their table records them (made if need be).
    async fn applied(&self) -> anyhow::Result<Vec<String>> {
        let table = self.database.migrations_table();
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT \
             UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
            quote_identifier(table)
        );
        let select = format!("SELECT name FROM {} ORDER BY id", quote_identifier(table));
        let outcomes = self
            .store
            .exec(self.database.database(), &format!("{create};\n{select};"))
            .await?;
        let names = outcomes.last().map_or(Vec::new(), |listed| {
            listed
                .rows
                .iter()
                .filter_map(|row| match row.first() {
                    Some(SqlValue::Text(name)) => Some(name.clone()),
                    _ => None,
                })
                .collect()
        });
        Ok(names)
    }

    async fn pending(&self) -> anyhow::Result<Vec<String>> {
        let applied = self.applied().await?;
        Ok(self
            .migrations()?
            .into_iter()
            .filter(|name| !applied.contains(name))
            .collect())
    }
}

/// `name` as an SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn run(args: D1Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.command {
            D1Command::Execute {
                target,
                command,
                file,
                json,
            } => {
                let opened = target.open()?;
                let script = match (command, file) {
                    (Some(command), _) => command,
                    (None, Some(file)) => std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                    (None, None) => anyhow::bail!("give the SQL with --command or --file"),
                };
                let outcomes = opened
                    .store
                    .exec(opened.database.database(), &script)
                    .await
                    .with_context(|| format!("D1 database {}", target.name))?;
                if json {
                    let results: Vec<serde_json::Value> =
                        outcomes.iter().map(SqlOutcome::to_d1_json).collect();
                    println!("{}", serde_json::to_string_pretty(&results)?);
                } else {
                    for outcome in outcomes.iter().filter(|o| !o.columns.is_empty()) {
                        print!("{}", table(outcome));
                    }
                    let millis: f64 = outcomes.iter().map(|o| o.duration_ms).sum();
                    println!("Executed {} commands in {millis:.2} ms", outcomes.len());
                }
                Ok(())
            }
            D1Command::Migrations(MigrationsCommand::Create { target, message }) => {
                let opened = target.open()?;
                let dir = opened.migrations_dir();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let number = opened.migrations()?.len() + 1;
                let slug: String = message
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{number:04}_{slug}.sql"));
                std::fs::write(
                    &path,
                    format!("-- Migration number: {number:04}\t {message}\n"),
                )
                .with_context(|| format!("cannot write {}", path.display()))?;
                println!("Created {}", path.display());
                Ok(())
            }
            D1Command::Migrations(MigrationsCommand::List { target }) => {
                let opened = target.open()?;
                let pending = opened.pending().await?;
                if pending.is_empty() {
                    println!("No migrations to apply.");
                }
                for name in pending {
                    println!("{name}");
                }
                Ok(())
            }
            D1Command::Migrations(MigrationsCommand::Apply { target }) => {
                let opened = target.open()?;
                apply(&opened).await
            }
        }
    })
}

/// Runs each pending migration with the insert that records it, in one transaction each.
async fn apply(opened: &Opened) -> anyhow::Result<()> {
    let pending = opened.pending().await?;
    if pending.is_empty() {
        println!("No migrations to apply.");
        return Ok(());
    }
    let dir = opened.migrations_dir();
    for name in &pending {
        let path = dir.join(name);
        let sql = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let record = format!(
            "\nINSERT INTO {} (name) VALUES ('{}');",
            quote_identifier(opened.database.migrations_table()),
            name.replace('\'', "''")
        );
        opened
            .store
            .exec(opened.database.database(), &format!("{sql}{record}"))
            .await
            .with_context(|| format!("migration {name} failed and was rolled back"))?;
        println!("Applied {name}");
    }
    println!("{} migration(s) applied.", pending.len());
    Ok(())
}

/// Rows as a text table with a header, each column as wide as its widest value.
fn table(outcome: &SqlOutcome) -> String {
    let cells: Vec<Vec<String>> = outcome
        .rows
        .iter()
        .map(|row| row.iter().map(|v| v.to_json().to_string()).collect())
        .collect();
    let widths: Vec<usize> = (0..outcome.columns.len())
        .map(|column| {
            cells
                .iter()
                .filter_map(|row| row.get(column))
                .chain(std::iter::once(&outcome.columns[column]))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        format!("│ {} │\n", padded.join(" │ "))
    };
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    let mut text = line(&outcome.columns);
    text.push_str(&format!("├─{}─┤\n", rule.join("─┼─")));
    for row in &cells {
        text.push_str(&line(row));
    }
    text
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_table_pads_each_column_to_its_widest_cell() {
        let outcome = SqlOutcome {
            columns: vec!["id".into(), "name".into()],
            rows: vec![
                vec![SqlValue::Integer(1), SqlValue::Text("ana".into())],
                vec![SqlValue::Integer(10), SqlValue::Null],
            ],
            duration_ms: 0.0,
            changes: 0,
            last_row_id: 0,
            wrote: false,
            size_after: 0,
        };
        assert_eq!(
            table(&outcome),
            "│ id │ name  │\n├────┼───────┤\n│ 1  │ \"ana\" │\n│ 10 │ null  │\n"
        );
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
