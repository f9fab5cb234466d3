//! The one seam between the engine and the two databases.

pub mod describe;
pub mod history;
pub mod params;
pub mod postgres;
pub mod sqlite;
pub mod tls;
pub mod value;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

// The dialect is named by the target the URL gives; the driver seam speaks of it too.
pub use crate::config::Dialect;
use crate::config::{Target, TimescalePolicy};
use crate::error::{Error, Result, Version};
use crate::schema::Schema;
pub use describe::describe;
pub use history::{ADOPTION_TABLE, AdoptedVersion, Adoption, HISTORY_TABLE};
pub use params::Params;
use value::{Kind, Value};

/// A row of the history table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    pub version: Version,
    pub name: String,
    pub checksum: String,
    /// RFC 3339, UTC.
    pub applied_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// One migration script to run, with what the history table must say afterwards.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub version: Version,
    pub name: &'a str,
    pub direction: Direction,
    pub sql: &'a str,
    /// Where the SQL came from, for error messages.
    pub file: &'a str,
    /// Checksum of the up script, recorded when going up.
    pub checksum: &'a str,
    /// False for `-- plantdb:no-transaction` scripts.
    pub transactional: bool,
    /// `-- plantdb:foreign-keys-off` (SQLite table rebuilds).
    pub foreign_keys_off: bool,
    /// Record the history change without running the SQL (`--fake`).
    pub fake: bool,
    /// The latest applied version the plan expects right before this step. A driver whose lock
    /// has a gap (SQLite around foreign-keys-off steps) checks it again after re-locking.
    pub expected_latest: Option<Version>,
}

/// The database operations the engine needs; implemented once per dialect. The driver owns
/// transactions (`begin`, `commit`, `rollback`, or the closures of `dyn Driver`) and every
/// read and write of plantdb's own tables: the engine sends neither as SQL.
pub trait Driver {
    fn dialect(&self) -> Dialect;

    /// Takes the run lock: blocks concurrent plantdb runs on the same database until `unlock`.
    /// Waits for another holder as `set_lock_wait` says.
    fn lock(&mut self) -> Result<()>;
    fn set_lock_wait(&mut self, wait: LockWait);
    fn unlock(&mut self) -> Result<()>;

    /// Opens a transaction; `apply`, `query`, `execute` and the writes below join it until
    /// `commit` or `rollback`, and take effect together or not at all. One at a time. Only
    /// steps that can run in a transaction may join: not no-transaction scripts, nor
    /// foreign-keys-off scripts on SQLite.
    fn begin(&mut self) -> Result<()>;
    /// Ends the transaction, keeping its work. When this fails, nothing of it is left.
    fn commit(&mut self) -> Result<()>;
    /// Ends the transaction, undoing its work.
    fn rollback(&mut self) -> Result<()>;

    /// True when work is committed once `apply` or `commit` returns (PostgreSQL); false when
    /// it commits only as the run lock is released (SQLite, whose lock is a write
    /// transaction). The engine reports a step as done only once it is committed.
    fn commits_before_unlock(&self) -> bool;

    /// The history, oldest first; empty when the history table does not exist. Never creates it.
    fn applied(&mut self) -> Result<Vec<AppliedMigration>>;
    fn ensure_history(&mut self) -> Result<()>;

    /// Runs a step and writes or deletes its history row in the same transaction (unless the
    /// step opted out of transactions). Returns the notices the server printed.
    fn apply(&mut self, step: &Step) -> Result<Vec<String>>;

    /// Records `checksum` as the one of applied `version` (`migrate repair`).
    fn set_checksum(&mut self, version: Version, checksum: &str) -> Result<()> {
        history::set_checksum(self, version, checksum)
    }

    /// Writes what `migrate adopt` decided, in the caller's transaction.
    fn record_adoption(&mut self, adoption: &Adoption) -> Result<()> {
        history::record_adoption(self, adoption)
    }

    /// The versions adoption left for `migrate up` to apply out of order. Reads only.
    fn adoption_gaps(&mut self) -> Result<BTreeSet<Version>> {
        history::adoption_gaps(self)
    }

    /// The versions adoption recorded as applied without running them. Reads only.
    fn adopted_versions(&mut self) -> Result<BTreeSet<Version>> {
        history::adopted_versions(self)
    }

    /// The schema differences each adoption accepted, as the JSON it recorded. Reads only.
    fn accepted_at_adoption(&mut self) -> Result<Vec<String>> {
        history::accepted_at_adoption(self)
    }

    /// Runs SQL that is not a migration.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// The live schema, for comparisons.
    fn schema(&mut self) -> Result<Schema>;

    /// Runs one statement with parameters (placeholders as [`Params`] writes them) and
    /// returns its rows, each column read as `kinds` says.
    fn query(&mut self, sql: &str, params: &[Value], kinds: &[Kind]) -> Result<Vec<Vec<Value>>>;

    /// Inserts many rows in the caller's transaction, the fastest way each database has:
    /// `COPY … FROM STDIN` on PostgreSQL, one prepared statement on SQLite. `progress` is told
    /// the running count now and then. Returns the number of rows.
    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<Value>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64>;

    /// The PostgreSQL driver, for what only PostgreSQL has (TimescaleDB).
    fn as_postgres(&mut self) -> Option<&mut postgres::PostgresDriver> {
        None
    }
}

impl dyn Driver + '_ {
    /// Runs `work` in one transaction: kept when it succeeds, undone when it fails.
    pub fn transaction<T>(&mut self, work: impl FnOnce(&mut dyn Driver) -> Result<T>) -> Result<T> {
        self.begin()?;
        match work(self) {
            Ok(value) => {
                self.commit()?;
                Ok(value)
            }
            Err(e) => {
                // The work's own error is what the user needs; a failed rollback adds nothing.
                let _ = self.rollback();
                Err(e)
            }
        }
    }

    /// Runs `work` in a transaction that is undone whatever happens (dry runs).
    pub fn rehearsal<T>(&mut self, work: impl FnOnce(&mut dyn Driver) -> Result<T>) -> Result<T> {
        self.begin()?;
        let outcome = work(self);
        let rolled_back = self.rollback();
        let value = outcome?;
        rolled_back.map(|()| value)
    }
}

/// How `lock` waits while someone else holds the lock.
#[derive(Clone)]
pub struct LockWait {
    /// Give up after this long (`--lock-timeout`); `None` waits as long as it takes.
    pub timeout: Option<Duration>,
    /// Told once, after [`LOCK_NOTICE_AFTER`], what the run is waiting for.
    pub notify: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Default for LockWait {
    /// Waits as long as it takes and tells nobody: the engine never prints, so the command
    /// layer gives every driver it opens a `notify` that reaches the user.
    fn default() -> Self {
        LockWait {
            timeout: None,
            notify: Arc::new(|_| {}),
        }
    }
}

/// A lock released within this time is not worth a word; one held longer is.
pub const LOCK_NOTICE_AFTER: Duration = Duration::from_millis(1500);
/// How often a waiting run tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// The waiting loop both drivers share: tries the lock until it is free, tells once what it
/// waits for (`lock`, and the holder where the database says), gives up at the timeout.
pub(crate) fn wait_for_lock<D: ?Sized>(
    driver: &mut D,
    wait: &LockWait,
    lock: &str,
    try_lock: impl Fn(&mut D) -> Result<bool>,
    holder: impl Fn(&mut D) -> Option<String>,
) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    loop {
        if try_lock(driver)? {
            return Ok(());
        }
        let waited = started.elapsed();
        // The notice comes first, so a timeout longer than the notice delay always has one.
        if !told && waited >= LOCK_NOTICE_AFTER {
            told = true;
            let held_by = holder(driver).unwrap_or_else(|| "someone else".into());
            let policy = match wait.timeout {
                Some(timeout) => {
                    format!("giving up after {} s (--lock-timeout)", timeout.as_secs())
                }
                None => "waiting as long as it takes (--lock-timeout SECONDS gives up)".into(),
            };
            (wait.notify)(&format!("waiting for {lock}, held by {held_by}; {policy}"));
        }
        if let Some(timeout) = wait.timeout
            && waited >= timeout
        {
            return Err(Error::LockTimeout {
                lock: lock.to_string(),
                seconds: timeout.as_secs(),
                holder: holder(driver),
            });
        }
        std::thread::sleep(LOCK_POLL);
    }
}

/// Whether a command may change the database. Read-only connections refuse writes at the
/// database level, so `status` provably changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

pub fn connect(
    target: &Target,
    access: Access,
    timescale: TimescalePolicy,
) -> Result<Box<dyn Driver>> {
    match target {
        Target::Postgres(pg) => Ok(Box::new(postgres::PostgresDriver::connect(
            pg, access, timescale,
        )?)),
        Target::Sqlite(sqlite) => Ok(Box::new(sqlite::SqliteDriver::open(sqlite, access)?)),
    }
}

/// Holds the run lock and releases it when dropped, even when the run failed.
pub struct Locked<'a, D: Driver + ?Sized> {
    driver: &'a mut D,
    released: bool,
}

impl<'a, D: Driver + ?Sized> Locked<'a, D> {
    pub fn new(driver: &'a mut D) -> Result<Self> {
        driver.lock()?;
        Ok(Locked {
            driver,
            released: false,
        })
    }

    /// Releases the lock and reports whether that worked (on SQLite this is the commit).
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.driver.unlock()
    }
}

impl<D: Driver + ?Sized> std::ops::Deref for Locked<'_, D> {
    type Target = D;
    fn deref(&self) -> &D {
        self.driver
    }
}

impl<D: Driver + ?Sized> std::ops::DerefMut for Locked<'_, D> {
    fn deref_mut(&mut self) -> &mut D {
        self.driver
    }
}

impl<D: Driver + ?Sized> Drop for Locked<'_, D> {
    fn drop(&mut self) {
        // An unlock failure after a failed run must not hide the run's own error.
        if !self.released {
            let _ = self.driver.unlock();
        }
    }
}

/// A step that must run outside a transaction was given to `apply` inside `begin`. The
/// engine refuses such plans before anything runs; this keeps the drivers' promise anyway.
fn cannot_join_atomic(step: &Step) -> crate::error::Error {
    crate::error::Error::MigrationFailed {
        version: step.version,
        file: step.file.to_string(),
        message: "this script cannot run inside the run's single transaction".into(),
        position: None,
        hint: None,
    }
}

/// Whether `table` exists, by the dialect's catalogue.
pub fn table_exists<D: Driver + ?Sized>(driver: &mut D, table: &str) -> Result<bool> {
    let dialect = driver.dialect();
    let mut params = Params::new(dialect);
    let sql = match dialect {
        Dialect::Postgres => format!(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = {}",
            params.bind(Value::Text(table.to_string()))
        ),
        Dialect::Sqlite => format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = {}",
            params.bind(Value::Text(table.to_string()))
        ),
    };
    let rows = driver.query(&sql, params.values(), &[Kind::Int])?;
    Ok(matches!(
        rows.first().and_then(|row| row.first()),
        Some(Value::Int(count)) if *count > 0
    ))
}

/// `begin` while a transaction is open: the engine opens one at a time.
fn already_in_transaction(database: &str) -> Error {
    Error::Database {
        context: format!("cannot start a transaction (`{database}`)"),
        message: "a transaction is already open".into(),
        source: None,
    }
}

/// `"name"` with embedded quotes doubled: valid in both dialects, and safe for names that
/// come from a user's URL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Identifiers joined for a column list: `"a", "b"`.
pub fn quote_idents(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a 1-based character offset in `sql` to a 1-based (line, column).
pub fn line_column(sql: &str, char_offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for ch in sql.chars().take(char_offset.saturating_sub(1)) {
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("plant\"db"), "\"plant\"\"db\"");
        assert_eq!(quote_idents(&["a", "b"]), "\"a\", \"b\"");
    }

    #[test]
    fn lock_waits_until_free_and_gives_up_at_the_timeout_naming_the_holder() {
        let told = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let notes = told.clone();
        let mut wait = LockWait {
            timeout: None,
            notify: Arc::new(move |line| notes.lock().unwrap().push(line.to_string())),
        };
        let mut tries = 0;
        let free_on_third_try = |tries: &mut i32| {
            *tries += 1;
            Ok(*tries == 3)
        };
        wait_for_lock(&mut tries, &wait, "the lock", free_on_third_try, |_| None).unwrap();
        assert_eq!(tries, 3);
        assert!(
            told.lock().unwrap().is_empty(),
            "a short wait is not worth a word"
        );

        wait.timeout = Some(Duration::ZERO);
        let err = wait_for_lock(
            &mut (),
            &wait,
            "the lock",
            |_| Ok(false),
            |_| Some("process 42".into()),
        )
        .unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }));
        assert_eq!(err.exit_code(), crate::error::exit::LOCK_TIMEOUT);
        assert_eq!(
            err.to_string(),
            "gave up after 0 s waiting for the lock, held by process 42"
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncd", 1), (1, 1));
        assert_eq!(line_column("ab\ncd", 5), (2, 2));
    }
}
