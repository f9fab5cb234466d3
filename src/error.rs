//! The one error type of the engine. Every variant carries what the user needs to find the
//! problem (version, file, line, host); `main` prints it as `error: …` plus an optional hint.

use std::fmt;

use crate::printable::printable;

/// A migration version as written in file names: `YYYYMMDDHHMMSS`.
pub type Version = i64;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed database URL `{}`: {}", printable(.url), printable(.reason))]
    InvalidUrl { url: String, reason: String },

    #[error(
        "unknown database URL scheme `{}` in `{}`",
        printable(.scheme),
        printable(.url)
    )]
    UnknownScheme { url: String, scheme: String },

    #[error("cannot read `{}`: {reason}", printable(.path))]
    Config {
        path: String,
        reason: String,
        /// Not kept for a line that does not parse: dotenvy's error quotes the line, which
        /// may hold a password.
        #[source]
        source: Option<dotenvy::Error>,
    },

    #[error(
        "cannot connect to PostgreSQL at `{}`: {}",
        printable(.host),
        printable(.reason)
    )]
    Connect {
        host: String,
        reason: String,
        /// What went wrong, which decides the hint and whether `--wait` may retry.
        kind: ConnectFailure,
        #[source]
        source: Option<DbCause>,
    },

    #[error("cannot use {what} `{}` for TLS: {reason}", printable(.path))]
    Tls {
        what: String,
        path: String,
        reason: String,
        hint: Option<String>,
    },

    #[error(
        "PostgreSQL at `{}` rejected user `{}`: {}",
        printable(.host),
        printable(.user),
        printable(.reason)
    )]
    Auth {
        host: String,
        user: String,
        reason: String,
        kind: AuthFailure,
        #[source]
        source: Option<DbCause>,
    },

    #[error(
        "database `{}` does not exist on `{}`",
        printable(.name),
        printable(.host)
    )]
    DatabaseMissing { host: String, name: String },

    #[error("cannot open SQLite database `{}`: {source}", printable(.path))]
    SqliteOpen {
        path: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("SQLite database `{}` does not exist", printable(.path))]
    SqliteMissing { path: String },

    #[error("`{}` is not a SQLite database", printable(.path))]
    SqliteNotADatabase { path: String },

    #[error(
        "SQLite database `{}` is read-only for this user (the file, or its directory), and plantdb needs to write to it",
        printable(.path)
    )]
    SqliteReadOnly { path: String },

    #[error("{context}: {}", printable(.message))]
    Database {
        context: String,
        message: String,
        /// The driver's own error, when there is one (`message` is its text, made readable).
        #[source]
        source: Option<DbCause>,
    },

    #[error(
        "migration {version} ({}) failed{at}: {}",
        printable(.file),
        printable(.message),
        at = position_text(.position)
    )]
    MigrationFailed {
        version: Version,
        file: String,
        message: String,
        /// 1-based line and column in the file, when the server reported one.
        position: Option<(usize, usize)>,
        hint: Option<String>,
        /// The driver's own error; `None` when plantdb itself refused the step.
        #[source]
        source: Option<DbCause>,
    },

    /// `migrate redo` or `--single-transaction` met a step that cannot run in a transaction.
    #[error(
        "{scope} runs as one transaction, but migration {version} ({}) cannot: {reason}",
        printable(.file)
    )]
    NotAtomic {
        scope: String,
        version: Version,
        file: String,
        reason: String,
        hint: String,
    },

    /// A step failed and the whole run was rolled back with it: a one-transaction run, or
    /// SQLite ending the run's transaction itself (`INSERT OR ROLLBACK`).
    #[error("{cause}\n  {note}")]
    RolledBack { cause: Box<Error>, note: String },

    #[error("bad migration file `{}`: {reason}", printable(.file))]
    MigrationSource { file: String, reason: String },

    #[error("cannot read migrations from `{}`: {source}", printable(.dir))]
    MigrationDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", drift_text(.0))]
    Drift(Vec<DriftItem>),

    #[error("unknown migration version {0}")]
    UnknownVersion(Version),

    #[error("nothing to revert: no migration is applied")]
    NothingToRevert,

    #[error(
        "migration {version} ({}) has no down script, so it cannot be reverted",
        printable(.file)
    )]
    Irreversible { version: Version, file: String },

    #[error(
        "applied migration {version} `{}` is not among the known migrations, so it cannot be reverted",
        printable(.name)
    )]
    RevertUnknown { version: Version, name: String },

    #[error(
        "pending migration {version} ({}) is older than the latest applied migration {latest}",
        printable(.file)
    )]
    OutOfOrder {
        version: Version,
        file: String,
        latest: Version,
    },

    #[error("`--timescale require` needs PostgreSQL: SQLite has no TimescaleDB")]
    TimescaleRequiresPostgres,

    /// A setting from the environment (or `./.env`) that plantdb cannot use.
    #[error("setting `{name}` = `{}` (environment or ./.env): {reason}", printable(.value))]
    Setting {
        name: &'static str,
        value: String,
        reason: String,
    },

    #[error(
        "cannot distribute: migration {0} (citus_distribution) is not applied yet, and `migrate up` distributes the tables when it applies it"
    )]
    DistributePending(Version),

    #[error(
        "cannot distribute: the migrations have no {0} (citus_distribution), which distributes the tables"
    )]
    DistributeMissing(Version),

    #[error(
        "`--citus off` and `migrate distribute` contradict each other: distributing needs Citus"
    )]
    DistributeCitusOff,

    #[error("`--citus require` needs PostgreSQL: SQLite has no Citus")]
    CitusRequiresPostgres,

    #[error(
        "Citus is required (--citus require) but cannot be used on PostgreSQL `{}`: {}",
        printable(.host),
        printable(.reason)
    )]
    CitusUnusable {
        host: String,
        reason: String,
        hint: String,
    },

    #[error(
        "`--citus require` and `--timescale require` both claim the telemetry table, which is \
         either distributed by Citus or a TimescaleDB hypertable"
    )]
    CitusTimescaleConflict,

    #[error(
        "refusing to reset with `--citus require`: reset creates the database afresh, without \
         the citus extension (plantdb never creates extensions), so Citus could not be used \
         after the drop"
    )]
    ResetCitusRequired,

    #[error(
        "refusing to reset `{database}` on `{host}`: it is a Citus coordinator, and dropping it would leave its tables' shards on the workers"
    )]
    ResetCitusCoordinator { database: String, host: String },

    #[error("another plantdb run changed the database while this one waited: {}", printable(.0))]
    Raced(String),

    /// A fixture names a table the catalog it was checked against does not have: the live
    /// database's tables may still hold it.
    #[error("{at}: unknown table `{name}`")]
    FixtureUnknownTable {
        at: Location,
        name: String,
        /// The tables that catalog does have.
        known: Vec<String>,
    },

    #[error("{at}: {message}")]
    Fixture {
        at: Location,
        message: String,
        hint: Option<String>,
        /// The YAML parser's or the database's error, when one is behind the mistake.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A mistake in a fleet file, at a place in it.
    #[error("{at}: {message}")]
    FleetFile {
        at: Location,
        message: String,
        hint: Option<String>,
        /// The YAML parser's or the URL's error, when one is behind the mistake.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A fleet file that cannot be read, or a choice of databases it does not have.
    #[error("{message}")]
    Fleet {
        message: String,
        hint: String,
        #[source]
        source: Option<std::io::Error>,
    },

    #[error("cannot read seed file `{}`: {reason}", printable(.path))]
    FixtureFile {
        path: String,
        reason: String,
        #[source]
        source: Option<std::io::Error>,
    },

    #[error("cannot seed: the database is not fully migrated; pending: {}", .0.join(", "))]
    SeedPending(Vec<String>),

    #[error(
        "cannot replace: foreign keys forbid deleting rows the fixtures do not name; in the way:{}{}",
        list_text(rows),
        if *more > 0 { format!("\n  … and {more} more") } else { String::new() }
    )]
    SeedBlocked { rows: Vec<String>, more: u64 },

    /// A value PostgreSQL cannot take for a statement's parameter (1-based `index`), found
    /// before sending it; `column` once the caller knows which column the parameter fills.
    #[error("{} does not fit PostgreSQL type {pg_type}: {reason}", column.clone().unwrap_or_else(|| format!("parameter ${index}")))]
    Bind {
        index: usize,
        column: Option<String>,
        pg_type: String,
        reason: String,
        /// The encoder's error (`reason` is its text).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The fixtures hold a password to encrypt and no key is set.
    #[error("the fixtures hold gateway passwords, but `{var}` is not set")]
    SecretKeyMissing { var: &'static str },

    /// No key is set, and the database is not local, so none is invented for it.
    #[error(
        "`{var}` is not set, and `{}` is not a local database, so plantdb will not invent a key for it; set `{var}` to the key its applications use",
        printable(.url)
    )]
    SecretKeyNotInvented { var: &'static str, url: String },

    /// A `.env` file names the key without a value; plantdb never overwrites it.
    #[error(
        "`{}` sets `{var}` to an empty value; plantdb never replaces a key there: put one in (`plantdb secret-key` prints one)",
        printable(.path)
    )]
    SecretKeyEmptyInFile { var: &'static str, path: String },

    #[error("`{var}` is malformed: {problem}")]
    SecretKeyMalformed {
        var: &'static str,
        #[source]
        problem: MalformedKey,
    },

    #[error("cannot encrypt a gateway password")]
    Encrypt,

    /// `argon2`'s error type is not a `std::error::Error` without its `std` feature, so
    /// only its text is kept.
    #[error("cannot hash a device password: {reason}")]
    PasswordHash { reason: String },

    #[error("refusing to reset `{}`: it is not a local database", printable(.url))]
    ResetRemote { url: String },

    #[error("reset cancelled: nothing was changed")]
    Cancelled,

    #[error("{}: {source}", printable(.path))]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("no `{table}` table in this database, so there is no {source_name} history to adopt")]
    AdoptNoHistory { table: String, source_name: String },

    #[error("`{table}` names migrations plantdb does not know: {}", printable(&ids.join(", ")))]
    AdoptUnknown {
        table: String,
        ids: Vec<String>,
        known: String,
    },

    #[error("`{table}` and the database disagree, so nothing was adopted:{}", list_text(.problems))]
    AdoptMismatch {
        table: String,
        problems: Vec<String>,
    },

    #[error(
        "`{table}` says {}, but the live tables do not hold what plantdb's migrations define for it, so nothing was adopted:{}{}",
        printable(.says),
        capped_list_text(.problems, 20),
        .note.as_ref().map(|n| format!("\n({})", printable(n))).unwrap_or_default()
    )]
    AdoptIncompatible {
        table: String,
        says: String,
        /// `table.column`: what plantdb's migrations define, what is there.
        problems: Vec<String>,
        /// How an ambiguous id was read.
        note: Option<String>,
    },

    #[error(
        "refusing to revert {}: `migrate adopt` recorded {} from another tool's history, and {} down script would drop tables that application created and may still use, with their data",
        .versions.join(", "),
        if .versions.len() == 1 { "it" } else { "them" },
        if .versions.len() == 1 { "its" } else { "their" }
    )]
    BelowAdoption { versions: Vec<String> },

    #[error("`migrate baseline` writes the baseline under `--migrations DIR`, and none was given")]
    BaselineNoDir,

    #[error(
        "this database already has plantdb history ({}): a baseline is only for databases plantdb does not know",
        printable(.what)
    )]
    BaselineHasHistory { what: String },

    #[error("`{}` already holds migrations ({}): a baseline must be the first", printable(.dir), printable(&.files.join(", ")))]
    BaselineDirNotEmpty { dir: String, files: Vec<String> },

    #[error("this database has no tables to baseline")]
    BaselineEmpty,

    #[error("cannot baseline this database, so nothing was written:{}", list_text(.problems))]
    BaselineUntranslatable { problems: Vec<String> },
    #[error(
        "`--timescale require` needs `telemetry` to be a TimescaleDB hypertable, but in this database it {what}, and adopting records its migration without running it"
    )]
    AdoptTimescaleRequired { what: String },

    #[error("cannot converge {what}: {reason}")]
    Converge {
        /// `` `table` ``, or what else could not be brought to plantdb's definitions.
        what: String,
        reason: String,
        /// The database's error, when a statement failed.
        #[source]
        source: Option<Box<Error>>,
    },

    #[error("cannot create migration `{name}`: {reason}")]
    NewMigration { name: String, reason: String },

    #[error("gave up after {seconds} s waiting for {lock}{}", holder_text(.holder))]
    LockTimeout {
        lock: String,
        seconds: u64,
        holder: Option<String>,
    },

    #[error(
        "gave up waiting for PostgreSQL at `{}` after {seconds} s: {}",
        printable(.host),
        printable(.reason)
    )]
    WaitTimeout {
        host: String,
        seconds: u64,
        reason: String,
        /// The last attempt's failure.
        #[source]
        source: Option<Box<Error>>,
    },
}

/// The driver error under a database failure, kept so that `source()` reaches it. SQLite's
/// error is boxed: held inline it would make every `Result` of the engine several times larger.
#[derive(Debug, thiserror::Error)]
pub enum DbCause {
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    #[error(transparent)]
    Sqlite(Box<rusqlite::Error>),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for DbCause {
    fn from(e: rusqlite::Error) -> DbCause {
        DbCause::Sqlite(Box::new(e))
    }
}

/// Why a connection to PostgreSQL could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing (or not PostgreSQL) answered at the address: refused, reset, unresolvable.
    Unreachable,
    /// The connect timeout ran out before the connection and start-up were complete.
    TimedOut,
    /// TLS could not be set up or negotiated: no TLS where it is required, a certificate
    /// that does not verify, a connector that cannot be built.
    Tls,
}

/// Why PostgreSQL refused the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Wrong user or password, or no `pg_hba.conf` rule lets this login in.
    Credentials,
    /// Refused over TLS without a client certificate, where one may be what the server wants.
    ClientCertificateMissing,
}

/// What is wrong with the text of the secret key.
#[derive(Debug, thiserror::Error)]
pub enum MalformedKey {
    #[error("it is not valid UTF-8")]
    NotUtf8,
    /// The decoder's own error is not kept: it quotes a character of the key.
    #[error("it is not base64; {KEY_EXPECTED}")]
    NotBase64,
    #[error("it decodes to {0} bytes, not 32; {KEY_EXPECTED}")]
    WrongLength(usize),
}

const KEY_EXPECTED: &str =
    "expected the base64 of 32 random bytes (`plantdb secret-key` prints one)";

fn holder_text(holder: &Option<String>) -> String {
    holder
        .as_ref()
        .map(|holder| format!(", held by {holder}"))
        .unwrap_or_default()
}

/// Like [`list_text`], but at most `shown` lines, so the message fits on one screen.
fn capped_list_text(items: &[String], shown: usize) -> String {
    let mut text = list_text(&items[..items.len().min(shown)]);
    if items.len() > shown {
        text.push_str(&format!("\n  - … and {} more", items.len() - shown));
    }
    text
}

fn list_text(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("\n  - {}", printable(item)))
        .collect()
}

/// Where in a seed file something is: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Shared by every place in one file: a fixture row keeps one.
    pub file: std::sync::Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", printable(&self.file), self.line, self.column)
    }
}

/// One applied migration whose recorded checksum no longer matches, or that is no longer known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DriftItem {
    pub version: Version,
    pub name: String,
    /// The file this binary has for the version; `None` when the migration is missing.
    pub file: Option<String>,
    /// Checksum recorded in the database when the migration was applied.
    pub recorded: String,
    /// Checksum of this binary's copy; `None` when the migration is missing.
    pub current: Option<String>,
}

impl fmt::Display for DriftItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.current) {
            (Some(file), Some(current)) => write!(
                f,
                "{} ({}) changed since it was applied: recorded checksum {}, file checksum {}",
                self.version,
                printable(file),
                printable(&self.recorded),
                printable(current)
            ),
            _ => write!(
                f,
                "{} `{}` is applied but missing from the known migrations (recorded checksum {})",
                self.version,
                printable(&self.name),
                printable(&self.recorded)
            ),
        }
    }
}

fn position_text(position: &Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    }
}

/// What to do depends on the kind of drift: `migrate repair` accepts changed files, but a
/// missing migration has no file to take a checksum from.
fn drift_hint(items: &[DriftItem]) -> String {
    let changed = items.iter().any(|item| item.current.is_some());
    let missing: Vec<String> = items
        .iter()
        .filter(|item| item.current.is_none())
        .map(|item| item.version.to_string())
        .collect();
    let mut ways = Vec::new();
    if changed {
        ways.push(
            "restore the changed files, or run `plantdb migrate repair` to accept their new checksums"
                .to_string(),
        );
    }
    if !missing.is_empty() {
        ways.push(format!(
            "run the plantdb binary (or `--migrations` directory) that has {}",
            missing.join(", ")
        ));
    }
    ways.push("pass --allow-drift to run anyway".into());
    ways.join("; or ")
}

fn drift_text(items: &[DriftItem]) -> String {
    let mut text = String::from("applied migrations differ from this binary's copies");
    for item in items {
        text.push_str("\n  ");
        text.push_str(&item.to_string());
    }
    text
}

/// Exit codes, documented in the README.
pub mod exit {
    pub const ERROR: i32 = 1;
    /// clap's own code for usage errors.
    pub const USAGE: i32 = 2;
    /// `status --check`: migrations are pending.
    pub const PENDING: i32 = 3;
    /// Drift: an applied migration changed or is missing.
    pub const DRIFT: i32 = 4;
    /// The database could not be reached or opened.
    pub const UNREACHABLE: i32 = 5;
    /// `--lock-timeout`: another run held the lock for longer.
    pub const LOCK_TIMEOUT: i32 = 6;
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::RolledBack { cause, .. } => cause.exit_code(),
            Error::Drift(_) => exit::DRIFT,
            Error::LockTimeout { .. } => exit::LOCK_TIMEOUT,
            Error::Connect { .. }
            | Error::Auth { .. }
            | Error::DatabaseMissing { .. }
            | Error::SqliteOpen { .. }
            | Error::SqliteMissing { .. }
            | Error::SqliteNotADatabase { .. }
            | Error::SqliteReadOnly { .. }
            | Error::WaitTimeout { .. } => exit::UNREACHABLE,
            _ => exit::ERROR,
        }
    }

    /// A second line telling the user what to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::UnknownScheme { .. } | Error::InvalidUrl { .. } => Some(
                "use postgres://USER:PASSWORD@HOST:PORT/DB, sqlite://PATH or sqlite::memory:"
                    .into(),
            ),
            Error::Connect {
                kind: ConnectFailure::Tls,
                ..
            } => Some(
                "check `sslmode` and `sslrootcert` in the URL: verify-ca/verify-full need the server's certificate to be signed by that CA (verify-full: for this host)"
                    .into(),
            ),
            Error::Tls { hint, .. } => hint.clone(),
            Error::Connect {
                kind: ConnectFailure::Unreachable | ConnectFailure::TimedOut,
                ..
            } => Some(
                "is the server running and reachable? `?connect_timeout=SECONDS` sets the wait"
                    .into(),
            ),
            Error::Auth {
                kind: AuthFailure::ClientCertificateMissing,
                ..
            } => Some(
                "this server wants a client certificate: add `sslcert=FILE&sslkey=FILE` to the URL"
                    .into(),
            ),
            Error::Auth {
                kind: AuthFailure::Credentials,
                ..
            } => Some("check the user and password in the URL".into()),
            Error::DatabaseMissing { host, name } => Some(format!(
                "create it with `createdb {name}` on `{host}`, or run `plantdb reset` on a local server"
            )),
            Error::SqliteOpen { .. } => {
                Some("does the directory exist, and may this user write to it?".into())
            }
            Error::SqliteMissing { .. } => Some(
                "check the path (a relative one starts at the working directory); `plantdb migrate up` creates the database".into(),
            ),
            Error::SqliteNotADatabase { .. } => {
                Some("check the path in the database URL: it names some other file".into())
            }
            Error::SqliteReadOnly { .. } => Some(
                "SQLite writes the file and a journal beside it: make both the file and its directory writable for this user, or run as a user who may write them".into(),
            ),
            Error::MigrationFailed { hint, .. } => hint.clone(),
            Error::NotAtomic { hint, .. } => Some(hint.clone()),
            Error::RolledBack { cause, .. } => cause.hint(),
            Error::Drift(items) => Some(drift_hint(items)),
            Error::UnknownVersion(_) => Some("`plantdb status` lists the known versions".into()),
            Error::OutOfOrder { .. } => {
                Some("pass --allow-out-of-order to apply it anyway".into())
            }
            Error::Raced(_) => Some("run the command again".into()),
            Error::Setting { .. } => Some(
                "give a whole number and a unit, e.g. `12 hours`, `7 days`, `2 weeks`; unset it for the default".into(),
            ),
            Error::AdoptNoHistory { .. } => Some(
                "is this the database the old tool used? `--from` names the tool: alembic, node-pg-migrate or schema-migrations".into(),
            ),
            Error::AdoptUnknown { known, .. } => Some(format!("plantdb knows: {known}")),
            Error::AdoptMismatch { .. } => Some(
                "fix the database or the old tool's history first; `plantdb migrate adopt --dry-run` shows what would be recorded".into(),
            ),
            Error::AdoptTimescaleRequired { .. } => Some(
                "make it a hypertable first (as a superuser: CREATE EXTENSION timescaledb; SELECT create_hypertable('telemetry', 'time', migrate_data => true)), or adopt with --timescale auto".into(),
            ),
            Error::Converge { .. } => Some(
                "nothing was changed; `plantdb migrate adopt --converge --dry-run` shows the SQL it would run".into(),
            ),
            Error::AdoptIncompatible { .. } => Some(
                "plantdb's migrations cannot take over these tables as they are (the application moved on, or the history is wrong): `plantdb migrate baseline` takes the database over as it is, as plantdb's first migration".into(),
            ),
            Error::BelowAdoption { .. } => Some(
                "plantdb does not revert below the adoption point (as Flyway does not undo past its baseline); pass --below-adoption to `migrate down` if the other application is gone and the tables may go".into(),
            ),
            Error::BaselineNoDir => Some(
                "e.g. `plantdb --migrations db/migrations migrate baseline`; it writes DIR/postgres and DIR/sqlite".into(),
            ),
            Error::BaselineHasHistory { .. } => Some(
                "plantdb already keeps this database's history: add changes with `plantdb migrate new`".into(),
            ),
            Error::BaselineDirNotEmpty { .. } => Some(
                "give an empty (or new) directory to `--migrations`".into(),
            ),
            Error::BaselineEmpty => Some(
                "a new database needs no baseline: write migrations with `plantdb migrate new` and run `plantdb migrate up`".into(),
            ),
            Error::BaselineUntranslatable { .. } => Some(
                "change or drop what is named, or leave it to a later migration, then run the baseline again; `--dry-run` shows the scripts".into(),
            ),
            Error::LockTimeout { .. } => Some(
                "another plantdb run (or whoever holds the lock) is still working; try again later, or raise --lock-timeout".into(),
            ),
            Error::WaitTimeout { .. } => Some(
                "is the server starting at that address? `--wait-timeout SECONDS` waits longer".into(),
            ),
            Error::Fixture { hint, .. } => hint.clone(),
            Error::FixtureUnknownTable { known, .. } => Some(format!("tables: {}", known.join(", "))),
            Error::FleetFile { hint, .. } => hint.clone(),
            Error::Fleet { hint, .. } => Some(hint.clone()),
            Error::SeedPending(_) => Some("run `plantdb migrate up` first".into()),
            Error::SeedBlocked { .. } => Some(
                "name those rows (or the rows they reference) in the fixtures, delete them first, or seed with `--mode upsert`".into(),
            ),
            Error::ResetRemote { .. } => Some(
                "reset drops the whole database; pass --force if you really mean this server".into(),
            ),
            Error::CitusUnusable { hint, .. } => Some(hint.clone()),
            Error::ResetCitusCoordinator { .. } => Some(
                "`plantdb migrate down --to 0`, `migrate up` and `seed` start over inside the cluster; or drop the database on every node yourself".into(),
            ),
            Error::DistributePending(_) => Some(
                "run `plantdb --citus require migrate up`; `migrate distribute` is for a database migrated before it joined a cluster".into(),
            ),
            Error::DistributeMissing(_) => Some(
                "`migrate distribute` runs plantdb's built-in distribution migration; without --migrations, or with a directory that has it".into(),
            ),
            Error::ResetCitusRequired => Some(
                "create the database with `CREATE EXTENSION citus` (and its workers) yourself, then run `plantdb --citus require migrate up` and `plantdb --citus require seed`; or reset without `--citus require`".into(),
            ),
            Error::CitusTimescaleConflict => Some(
                "choose one: `--timescale auto` or `off` lets Citus distribute telemetry, `--citus off` keeps it a hypertable".into(),
            ),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn item(version: Version, current: Option<&str>) -> DriftItem {
        DriftItem {
            version,
            name: "m".into(),
            file: current.map(|_| format!("V{version}__m.sql")),
            recorded: "old".into(),
            current: current.map(str::to_string),
        }
    }

    /// The hint follows the kind the connection code decided, whatever words the server's or
    /// the network's message happens to hold.
    #[test]
    fn the_connection_hint_is_chosen_by_kind_not_by_the_words_of_the_message() {
        let connect = |reason: &str, kind| Error::Connect {
            host: "127.0.0.1:5432".into(),
            reason: reason.into(),
            kind,
            source: None,
        };
        let tls_hint = |e: &Error| e.hint().unwrap_or_default().contains("sslrootcert");
        let refused = connect(
            "cannot reach the TLS terminator `certificate-proxy`",
            ConnectFailure::Unreachable,
        );
        assert!(!tls_hint(&refused), "{:?}", refused.hint());
        let handshake = connect("error performing handshake", ConnectFailure::Tls);
        assert!(tls_hint(&handshake), "{:?}", handshake.hint());
        let timed_out = connect(
            "TLS certificate exchange timed out",
            ConnectFailure::TimedOut,
        );
        assert!(
            timed_out
                .hint()
                .unwrap_or_default()
                .contains("connect_timeout"),
            "{:?}",
            timed_out.hint()
        );

        let auth = |reason: &str, kind| Error::Auth {
            host: "127.0.0.1:5432".into(),
            user: "certificate".into(),
            reason: reason.into(),
            kind,
            source: None,
        };
        let wrong_password = auth(
            "password authentication failed for user \"certificate\"",
            AuthFailure::Credentials,
        );
        assert_eq!(
            wrong_password.hint().as_deref(),
            Some("check the user and password in the URL")
        );
        let no_certificate = auth("connection refused", AuthFailure::ClientCertificateMissing);
        assert!(
            no_certificate
                .hint()
                .unwrap_or_default()
                .contains("sslcert=FILE"),
            "{:?}",
            no_certificate.hint()
        );
    }

    #[test]
    fn a_wait_timeout_keeps_the_last_attempts_error() {
        let last = Error::Connect {
            host: "127.0.0.1:5432".into(),
            reason: "connection refused".into(),
            kind: ConnectFailure::Unreachable,
            source: Some(DbCause::Io(std::io::ErrorKind::ConnectionRefused.into())),
        };
        let err = Error::WaitTimeout {
            host: "127.0.0.1:5432".into(),
            seconds: 3,
            reason: "connection refused".into(),
            source: Some(Box::new(last)),
        };
        let under = std::error::Error::source(&err).expect("the last attempt's error");
        let io = under
            .source()
            .and_then(|cause| cause.downcast_ref::<DbCause>());
        assert!(
            matches!(io, Some(DbCause::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), exit::UNREACHABLE);
    }

    #[test]
    fn the_secret_key_and_timescale_errors_read_as_before_with_their_own_causes() {
        assert_eq!(
            Error::TimescaleRequiresPostgres.to_string(),
            "`--timescale require` needs PostgreSQL: SQLite has no TimescaleDB"
        );
        assert_eq!(Error::TimescaleRequiresPostgres.exit_code(), exit::ERROR);
        let missing = Error::SecretKeyMissing { var: "KEY" };
        assert_eq!(
            missing.to_string(),
            "the fixtures hold gateway passwords, but `KEY` is not set"
        );
        let not_utf8 = Error::SecretKeyMalformed {
            var: "KEY",
            problem: MalformedKey::NotUtf8,
        };
        assert_eq!(
            not_utf8.to_string(),
            "`KEY` is malformed: it is not valid UTF-8"
        );
        let short = Error::SecretKeyMalformed {
            var: "KEY",
            problem: MalformedKey::WrongLength(16),
        };
        assert_eq!(
            short.to_string(),
            "`KEY` is malformed: it decodes to 16 bytes, not 32; expected the base64 of 32 random bytes (`plantdb secret-key` prints one)"
        );
        for err in [missing, not_utf8, short] {
            assert_eq!(err.exit_code(), exit::ERROR, "{err}");
            assert_eq!(err.hint(), None, "{err}");
        }
    }

    #[test]
    fn the_drift_hint_offers_repair_only_for_changed_files() {
        let hint = |items: Vec<DriftItem>| Error::Drift(items).hint().unwrap_or_default();
        let changed = hint(vec![item(1, Some("new"))]);
        assert!(changed.contains("migrate repair"), "{changed}");
        let missing = hint(vec![item(2, None)]);
        assert!(
            !missing.contains("repair") && missing.contains("that has 2"),
            "{missing}"
        );
        let both = hint(vec![item(1, Some("new")), item(2, None)]);
        assert!(
            both.contains("migrate repair") && both.contains("that has 2"),
            "{both}"
        );
        for text in [changed, missing, both] {
            assert!(text.contains("--allow-drift"), "{text}");
        }
    }
}
