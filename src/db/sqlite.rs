//! SQLite: the lock is an immediate transaction held for the whole run (with a busy timeout so
//! concurrent runs wait instead of failing); each migration is a savepoint inside it.

use std::time::Duration;

use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags};

use super::history::{self, HISTORY_TABLE};
use super::value::{Kind, Value, from_sqlite_row};
use super::{Access, AppliedMigration, Dialect, Driver, LockWait, Step};
use crate::config::SqliteTarget;
use crate::error::{Error, Result};
use crate::schema::Schema;

/// How long a run waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// How many rows go in between two progress reports.
const PROGRESS_EVERY: u64 = 10_000;

/// What `begin` opened. Under the run lock (itself a write transaction) a transaction is
/// the savepoint `plantdb_transaction`; without the lock, a write transaction of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Nothing,
    Savepoint,
    Transaction,
}

pub struct SqliteDriver {
    conn: Connection,
    /// The file, for messages.
    path: String,
    locked: bool,
    /// The run lock's write transaction holds work to commit when the lock is released:
    /// something ran under the lock outside `begin`, or a transaction was committed. A lock
    /// whose only work was rolled back ends with a rollback, leaving the file untouched.
    keep: bool,
    /// What `begin` opened, until `commit` or `rollback`.
    open: Open,
    lock_wait: LockWait,
}

impl SqliteDriver {
    pub fn open(target: &SqliteTarget, access: Access) -> Result<SqliteDriver> {
        let (conn, path) = match target {
            SqliteTarget::Memory => (Connection::open_in_memory(), ":memory:".to_string()),
            SqliteTarget::File(path) => {
                let shown = path.display().to_string();
                if access == Access::ReadOnly && !path.exists() {
                    return Err(Error::SqliteMissing { path: shown });
                }
                let flags = match access {
                    // Read-only at the file level: a read-only command cannot write by mistake.
                    Access::ReadOnly => {
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    }
                    Access::ReadWrite => OpenFlags::default(),
                };
                (Connection::open_with_flags(path, flags), shown)
            }
        };
        let conn = conn.map_err(|e| Error::SqliteOpen {
            path: path.clone(),
            source: e,
        })?;
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // SQLite leaves foreign keys off unless every connection asks for them.
            conn.pragma_update(None, "foreign_keys", true)
        };
        setup().map_err(|e| Error::SqliteOpen {
            path: path.clone(),
            source: e,
        })?;
        if let SqliteTarget::File(_) = target {
            check_file(&conn, &path, access)?;
        }
        Ok(SqliteDriver {
            conn,
            path,
            locked: false,
            keep: false,
            open: Open::Nothing,
            lock_wait: LockWait::default(),
        })
    }

    /// The underlying connection, for seeding and tests.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn db_error(&self, context: &str, e: rusqlite::Error) -> Error {
        if let Some(read_only) = self.read_only_error(&e) {
            return read_only;
        }
        Error::Database {
            context: format!("{context} (SQLite `{}`)", self.path),
            message: e.to_string(),
            source: Some(e.into()),
        }
    }

    fn latest_version(&self) -> rusqlite::Result<Option<i64>> {
        self.conn
            .query_row(history::SELECT_LATEST, [], |row| row.get(0))
    }

    fn record(&self, step: &Step) -> rusqlite::Result<()> {
        let (sql, params) = history::record_step(Dialect::Sqlite, step);
        self.conn
            .execute(&sql, rusqlite::params_from_iter(params.values().iter()))?;
        Ok(())
    }

    fn run_script(&self, step: &Step) -> Result<()> {
        if step.fake {
            return Ok(());
        }
        self.conn.execute_batch(step.sql).map_err(|e| {
            self.read_only_error(&e)
                .unwrap_or_else(|| migration_error(step, e))
        })
    }

    /// A write refused because the file or its directory (where the journal goes) is
    /// read-only: the file's fault, not the statement's. The file itself is checked on
    /// opening; a read-only directory shows only at the first write.
    fn read_only_error(&self, e: &rusqlite::Error) -> Option<Error> {
        (e.sqlite_error_code() == Some(ErrorCode::ReadOnly)).then(|| Error::SqliteReadOnly {
            path: self.path.clone(),
        })
    }

    /// Work under the run lock but outside `begin`: the lock's transaction keeps it.
    fn work_outside_transaction(&mut self) {
        if self.open == Open::Nothing {
            self.keep = true;
        }
    }

    /// The usual path: a savepoint inside the run's transaction.
    fn apply_in_savepoint(&mut self, step: &Step) -> Result<()> {
        self.conn
            .execute_batch("SAVEPOINT plantdb_step")
            .map_err(|e| self.db_error("cannot start a savepoint", e))?;
        let outcome = self.run_script(step).and_then(|()| {
            self.record(step)
                .map_err(|e| self.db_error("cannot write the history row", e))
        });
        if self.conn.is_autocommit() {
            // SQLite ended the run's transaction itself (`INSERT OR ROLLBACK`, a trigger's
            // `RAISE(ROLLBACK, …)`): the steps before this one are gone with it.
            let cause = outcome.err().unwrap_or_else(|| Error::MigrationFailed {
                version: step.version,
                file: step.file.to_string(),
                message: "the script ended the transaction it ran in".into(),
                position: None,
                hint: None,
                source: None,
            });
            return Err(Error::RolledBack {
                cause: Box::new(cause),
                note: "nothing of this run was applied: SQLite rolled back the run's whole transaction"
                    .into(),
            });
        }
        let end = match outcome {
            Ok(()) => "RELEASE plantdb_step",
            Err(_) => "ROLLBACK TO plantdb_step; RELEASE plantdb_step",
        };
        self.conn
            .execute_batch(end)
            .map_err(|e| self.db_error("cannot end the savepoint", e))?;
        outcome
    }

    /// Steps that must run outside the run's transaction: `PRAGMA foreign_keys` is a no-op
    /// inside one (https://www.sqlite.org/foreignkeys.html), and no-transaction scripts want
    /// none. The lock is released for a moment, so the expected history is checked again.
    fn apply_outside(&mut self, step: &Step) -> Result<()> {
        let relock = self.locked;
        if relock {
            self.unlock()?;
        }
        if step.foreign_keys_off {
            self.conn
                .pragma_update(None, "foreign_keys", false)
                .map_err(|e| self.db_error("cannot turn foreign keys off", e))?;
        }
        let outcome = if step.transactional {
            self.apply_rebuild_transaction(step)
        } else {
            self.check_expected(step)
                .and_then(|()| self.run_script(step))
                .and_then(|()| {
                    self.record(step)
                        .map_err(|e| self.db_error("cannot write the history row", e))
                })
        };
        let restore = self
            .conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(|e| self.db_error("cannot turn foreign keys back on", e));
        if relock {
            self.lock()?;
        }
        outcome.and(restore)
    }

    fn apply_rebuild_transaction(&mut self, step: &Step) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.db_error("cannot lock the database", e))?;
        let outcome = self
            .check_expected(step)
            .and_then(|()| self.run_script(step))
            .and_then(|()| self.check_foreign_keys(step))
            .and_then(|()| {
                self.record(step)
                    .map_err(|e| self.db_error("cannot write the history row", e))
            });
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        self.conn
            .execute_batch(end)
            .map_err(|e| self.db_error("cannot end the transaction", e))?;
        outcome
    }

    fn check_expected(&self, step: &Step) -> Result<()> {
        let latest = self
            .latest_version()
            .map_err(|e| self.db_error("cannot read the history", e))?;
        if latest != step.expected_latest {
            return Err(Error::Raced(format!(
                "expected the latest applied migration to be {:?}, found {:?}",
                step.expected_latest, latest
            )));
        }
        Ok(())
    }

    /// With foreign keys off nothing stopped the script from breaking them: look before commit.
    fn check_foreign_keys(&self, step: &Step) -> Result<()> {
        if !step.foreign_keys_off {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(|e| self.db_error("cannot check foreign keys", e))?;
        let violations: Vec<String> = stmt
            .query_map([], |row| {
                let table: String = row.get(0)?;
                let rowid: Option<i64> = row.get(1)?;
                let parent: String = row.get(2)?;
                Ok(format!(
                    "`{table}` row {} points at a missing `{parent}`",
                    rowid.map_or("?".into(), |r| r.to_string())
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.db_error("cannot check foreign keys", e))?;
        if violations.is_empty() {
            return Ok(());
        }
        Err(Error::MigrationFailed {
            version: step.version,
            file: step.file.to_string(),
            message: format!(
                "it would break foreign keys: {}",
                violations
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            position: None,
            hint: None,
            source: None,
        })
    }
}

/// SQLite reads a file only when a statement needs it, and opens a file it may not write
/// read-only without a word: look now, so a wrong or read-only file is named as such instead
/// of failing whatever statement comes first (a migration, the lock).
fn check_file(conn: &Connection, path: &str, access: Access) -> Result<()> {
    let read = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()));
    match read {
        Ok(()) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Err(Error::SqliteNotADatabase { path: path.into() });
        }
        Err(e) => {
            return Err(Error::SqliteOpen {
                path: path.into(),
                source: e,
            });
        }
    }
    let read_only = conn.is_readonly(MAIN_DB).map_err(|e| Error::SqliteOpen {
        path: path.into(),
        source: e,
    })?;
    if access == Access::ReadWrite && read_only {
        return Err(Error::SqliteReadOnly { path: path.into() });
    }
    Ok(())
}

fn migration_error(step: &Step, e: rusqlite::Error) -> Error {
    let (message, position) = match &e {
        // SQLite reports where a statement failed to parse, relative to the statement text.
        rusqlite::Error::SqlInputError {
            msg, sql, offset, ..
        } => {
            let position = step
                .sql
                .len()
                .checked_sub(sql.len())
                .filter(|start| step.sql[*start..] == **sql)
                .and_then(|start| {
                    let byte = start + usize::try_from(*offset).ok()?;
                    let chars = step.sql.get(..byte)?.chars().count();
                    Some(super::line_column(step.sql, chars + 1))
                });
            (msg.clone(), position)
        }
        other => (other.to_string(), None),
    };
    Error::MigrationFailed {
        version: step.version,
        file: step.file.to_string(),
        message,
        position,
        hint: None,
        source: Some(e.into()),
    }
}

impl Driver for SqliteDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn lock(&mut self) -> Result<()> {
        // Tried without SQLite's busy handler, so that the wait can be reported and bounded.
        self.conn
            .busy_timeout(Duration::ZERO)
            .map_err(|e| self.db_error("cannot lock the database for writing", e))?;
        let wait = self.lock_wait.clone();
        let lock = format!("the write lock on SQLite database `{}`", self.path);
        let taken = super::wait_for_lock(
            self,
            &wait,
            &lock,
            |driver| match driver.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => Ok(true),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy =>
                {
                    Ok(false)
                }
                Err(e) => Err(driver.db_error("cannot lock the database for writing", e)),
            },
            // SQLite does not say who holds its locks.
            |_| Some("another connection to that file".into()),
        );
        let restored = self
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.db_error("cannot lock the database for writing", e));
        taken.and(restored)?;
        self.locked = true;
        self.keep = false;
        Ok(())
    }

    fn set_lock_wait(&mut self, wait: LockWait) {
        self.lock_wait = wait;
    }

    fn unlock(&mut self) -> Result<()> {
        if !self.locked {
            return Ok(());
        }
        if self.open != Open::Nothing {
            // Work left in a transaction nobody committed must not commit with the lock.
            let _ = self.rollback();
        }
        self.locked = false;
        if self.conn.is_autocommit() {
            return Ok(());
        }
        if !self.keep {
            return self
                .conn
                .execute_batch("ROLLBACK")
                .map_err(|e| self.db_error("cannot release the lock", e));
        }
        self.conn.execute_batch("COMMIT").map_err(|e| {
            // A failed COMMIT leaves the transaction open: end it without a trace.
            let _ = self.conn.execute_batch("ROLLBACK");
            self.db_error("cannot commit", e)
        })
    }

    fn applied(&mut self) -> Result<Vec<AppliedMigration>> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                [HISTORY_TABLE],
                |row| row.get(0),
            )
            .map_err(|e| self.db_error("cannot read the schema", e))?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(&history::select_applied(Dialect::Sqlite))
            .map_err(|e| self.db_error("cannot read the history", e))?;
        stmt.query_map([], |row| {
            Ok(AppliedMigration {
                version: row.get(0)?,
                name: row.get(1)?,
                checksum: row.get(2)?,
                applied_at: row.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.db_error("cannot read the history", e))
    }

    fn ensure_history(&mut self) -> Result<()> {
        self.work_outside_transaction();
        self.conn
            .execute_batch(&history::create_history(Dialect::Sqlite))
            .map_err(|e| self.db_error("cannot create the history table", e))
    }

    fn apply(&mut self, step: &Step) -> Result<Vec<String>> {
        self.work_outside_transaction();
        let joins_transaction = step.transactional && !step.foreign_keys_off;
        let in_transaction = self.open != Open::Nothing;
        if in_transaction && !joins_transaction && !step.fake {
            return Err(super::cannot_join_atomic(step));
        }
        if in_transaction || (joins_transaction && self.locked) {
            self.apply_in_savepoint(step)?;
        } else {
            self.apply_outside(step)?;
        }
        Ok(Vec::new())
    }

    /// Under the run lock, a savepoint around the steps' own ones; else `BEGIN IMMEDIATE`.
    fn begin(&mut self) -> Result<()> {
        if self.open != Open::Nothing {
            return Err(super::already_in_transaction(&self.path));
        }
        let (sql, open) = if self.locked {
            ("SAVEPOINT plantdb_transaction", Open::Savepoint)
        } else {
            ("BEGIN IMMEDIATE", Open::Transaction)
        };
        self.conn
            .execute_batch(sql)
            .map_err(|e| self.db_error("cannot start the transaction", e))?;
        self.open = open;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let open = std::mem::replace(&mut self.open, Open::Nothing);
        let sql = match open {
            Open::Nothing => return Ok(()),
            Open::Savepoint => "RELEASE plantdb_transaction",
            Open::Transaction => "COMMIT",
        };
        self.conn.execute_batch(sql).map_err(|e| {
            // A commit that failed leaves nothing behind, as on PostgreSQL.
            self.open = open;
            let _ = self.rollback();
            self.db_error("cannot commit the transaction", e)
        })?;
        if open == Open::Savepoint {
            self.keep = true;
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        let open = std::mem::replace(&mut self.open, Open::Nothing);
        // Some errors make SQLite roll back the whole transaction itself: nothing is left.
        if open == Open::Nothing || self.conn.is_autocommit() {
            return Ok(());
        }
        let sql = match open {
            Open::Savepoint => "ROLLBACK TO plantdb_transaction; RELEASE plantdb_transaction",
            _ => "ROLLBACK",
        };
        self.conn.execute_batch(sql).map_err(|e| {
            // Releasing the lock would commit what is left: roll the whole run back.
            let _ = self.conn.execute_batch("ROLLBACK");
            self.db_error("cannot roll back the transaction", e)
        })
    }

    fn commits_before_unlock(&self) -> bool {
        false
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.work_outside_transaction();
        self.conn
            .execute_batch(sql)
            .map_err(|e| self.db_error("statement failed", e))
    }

    fn schema(&mut self) -> Result<Schema> {
        crate::schema::of_sqlite(&self.conn).map_err(|e| self.db_error("cannot read the schema", e))
    }

    fn query(&mut self, sql: &str, params: &[Value], kinds: &[Kind]) -> Result<Vec<Vec<Value>>> {
        self.work_outside_transaction();
        let run = || -> rusqlite::Result<Vec<Vec<Value>>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |row| {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| from_sqlite_row(row, i, *kind))
                    .collect()
            })?;
            rows.collect()
        };
        run().map_err(|e| self.db_error("seed statement failed", e))
    }

    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<Value>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        self.work_outside_transaction();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            super::quote_ident(table),
            super::quote_idents(columns),
            placeholders.join(", ")
        );
        let mut count = 0u64;
        let run = |count: &mut u64| -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            for row in rows {
                stmt.execute(rusqlite::params_from_iter(row.iter()))?;
                *count += 1;
                if count.is_multiple_of(PROGRESS_EVERY) {
                    progress(*count);
                }
            }
            Ok(())
        };
        run(&mut count).map_err(|e| self.db_error(&format!("cannot insert into `{table}`"), e))?;
        progress(count);
        Ok(count)
    }
}
