//! The one error type of the engine. Every variant carries what the user needs to find the
//! problem (version, file, line, host); `main` prints it as `error: …` plus an optional hint.

use std::fmt;

/// A migration version as written in file names: `YYYYMMDDHHMMSS`.
pub type Version = i64;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed database URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("unknown database URL scheme `{scheme}` in `{url}`")]
    UnknownScheme { url: String, scheme: String },

    #[error("cannot read `{path}`: {reason}")]
    Config { path: String, reason: String },

    #[error("cannot connect to PostgreSQL at `{host}`: {reason}")]
    Connect { host: String, reason: String },

    #[error("cannot use {what} `{path}` for TLS: {reason}")]
    Tls {
        what: String,
        path: String,
        reason: String,
        hint: Option<String>,
    },

    #[error("PostgreSQL at `{host}` rejected user `{user}`: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },

    #[error("database `{name}` does not exist on `{host}`")]
    DatabaseMissing { host: String, name: String },

    #[error("cannot open SQLite database `{path}`: {reason}")]
    SqliteOpen { path: String, reason: String },

    #[error("{context}: {message}")]
    Database { context: String, message: String },

    #[error("migration {version} ({file}) failed{at}: {message}", at = position_text(.position))]
    MigrationFailed {
        version: Version,
        file: String,
        message: String,
        /// 1-based line and column in the file, when the server reported one.
        position: Option<(usize, usize)>,
        hint: Option<String>,
    },

    #[error("bad migration file `{file}`: {reason}")]
    MigrationSource { file: String, reason: String },

    #[error("cannot read migrations from `{dir}`: {reason}")]
    MigrationDir { dir: String, reason: String },

    #[error("{}", drift_text(.0))]
    Drift(Vec<DriftItem>),

    #[error("unknown migration version {0}")]
    UnknownVersion(Version),

    #[error("nothing to revert: no migration is applied")]
    NothingToRevert,

    #[error("migration {version} ({file}) has no down script, so it cannot be reverted")]
    Irreversible { version: Version, file: String },

    #[error(
        "applied migration {version} `{name}` is not among the known migrations, so it cannot be reverted"
    )]
    RevertUnknown { version: Version, name: String },

    #[error(
        "pending migration {version} ({file}) is older than the latest applied migration {latest}"
    )]
    OutOfOrder {
        version: Version,
        file: String,
        latest: Version,
    },

    #[error("{0}")]
    Timescale(String),

    #[error("another plantdb run changed the database while this one waited: {0}")]
    Raced(String),

    #[error("{at}: {message}")]
    Fixture {
        at: Location,
        message: String,
        hint: Option<String>,
    },

    #[error("cannot read seed file `{path}`: {reason}")]
    FixtureFile { path: String, reason: String },

    #[error("cannot seed: the database is not fully migrated; pending: {}", .0.join(", "))]
    SeedPending(Vec<String>),

    #[error("{0}")]
    SecretKey(String),

    #[error("refusing to reset `{url}`: it is not a local database")]
    ResetRemote { url: String },

    #[error("reset cancelled: nothing was changed")]
    Cancelled,

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("no `{table}` table in this database, so there is no {source_name} history to adopt")]
    AdoptNoHistory { table: String, source_name: String },

    #[error("`{table}` names migrations plantdb does not know: {}", ids.join(", "))]
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

    #[error("cannot create migration `{name}`: {reason}")]
    NewMigration { name: String, reason: String },

    #[error("gave up after {seconds} s waiting for {lock}{}", holder_text(.holder))]
    LockTimeout {
        lock: String,
        seconds: u64,
        holder: Option<String>,
    },

    #[error("gave up waiting for PostgreSQL at `{host}` after {seconds} s: {reason}")]
    WaitTimeout {
        host: String,
        seconds: u64,
        reason: String,
    },
}

fn holder_text(holder: &Option<String>) -> String {
    holder
        .as_ref()
        .map(|holder| format!(", held by {holder}"))
        .unwrap_or_default()
}

fn list_text(items: &[String]) -> String {
    items.iter().map(|item| format!("\n  - {item}")).collect()
}

/// Where in a seed file something is: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
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
                "{} ({file}) changed since it was applied: recorded checksum {}, file checksum {current}",
                self.version, self.recorded
            ),
            _ => write!(
                f,
                "{} `{}` is applied but missing from the known migrations (recorded checksum {})",
                self.version, self.name, self.recorded
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
            Error::Drift(_) => exit::DRIFT,
            Error::LockTimeout { .. } => exit::LOCK_TIMEOUT,
            Error::Connect { .. }
            | Error::Auth { .. }
            | Error::DatabaseMissing { .. }
            | Error::SqliteOpen { .. }
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
            Error::Connect { reason, .. }
                if !reason.contains("timed out")
                    && (reason.contains("TLS") || reason.contains("certificate")) =>
            {
                Some(
                "check `sslmode` and `sslrootcert` in the URL: verify-ca/verify-full need the server's certificate to be signed by that CA (verify-full: for this host)"
                    .into(),
                )
            }
            Error::Tls { hint, .. } => hint.clone(),
            Error::Connect { .. } => Some(
                "is the server running and reachable? `?connect_timeout=SECONDS` sets the wait"
                    .into(),
            ),
            Error::Auth { reason, .. } if reason.contains("certificate") => Some(
                "this server wants a client certificate: add `sslcert=FILE&sslkey=FILE` to the URL"
                    .into(),
            ),
            Error::Auth { .. } => Some("check the user and password in the URL".into()),
            Error::DatabaseMissing { host, name } => Some(format!(
                "create it with `createdb {name}` on `{host}`, or run `plantdb reset` on a local server"
            )),
            Error::SqliteOpen { .. } => {
                Some("does the directory exist, and may this user write to it?".into())
            }
            Error::MigrationFailed { hint, .. } => hint.clone(),
            Error::Drift(_) => Some(
                "restore the original files, or pass --allow-drift to run anyway, or `plantdb migrate repair` to accept the new checksums".into(),
            ),
            Error::UnknownVersion(_) => Some("`plantdb status` lists the known versions".into()),
            Error::OutOfOrder { .. } => {
                Some("pass --allow-out-of-order to apply it anyway".into())
            }
            Error::Raced(_) => Some("run the command again".into()),
            Error::AdoptNoHistory { .. } => Some(
                "is this the database the old tool used? `--from` names the tool: alembic, node-pg-migrate or schema-migrations".into(),
            ),
            Error::AdoptUnknown { known, .. } => Some(format!("plantdb knows: {known}")),
            Error::AdoptMismatch { .. } => Some(
                "fix the database or the old tool's history first; `plantdb migrate adopt --dry-run` shows what would be recorded".into(),
            ),
            Error::LockTimeout { .. } => Some(
                "another plantdb run (or whoever holds the lock) is still working; try again later, or raise --lock-timeout".into(),
            ),
            Error::WaitTimeout { .. } => Some(
                "is the server starting at that address? `--wait-timeout SECONDS` waits longer".into(),
            ),
            Error::Fixture { hint, .. } => hint.clone(),
            Error::SeedPending(_) => Some("run `plantdb migrate up` first".into()),
            Error::ResetRemote { .. } => Some(
                "reset drops the whole database; pass --force if you really mean this server".into(),
            ),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
