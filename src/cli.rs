//! The command line, as clap types only. Nothing here opens a connection.

use std::path::PathBuf;

use chrono::{DateTime, SubsecRound, Utc};
use clap::{Args, Parser, Subcommand};

use crate::config::{CitusPolicy, TimescalePolicy};
use crate::error::Version;

#[derive(Debug, Parser)]
#[command(
    name = "plantdb",
    version,
    about = "Migrations and seed data for the plant databases, on PostgreSQL and SQLite",
    long_about = "Migrations and seed data for the plant databases, on PostgreSQL and SQLite.\n\n\
        With no database configured, plantdb works on the SQLite file plantdb.sqlite3 in the \
        working directory.",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 pending migrations (status --check), \
        4 drift, 5 database unreachable, 6 lock wait timed out (--lock-timeout)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL: postgres://USER:PASSWORD@HOST:PORT/DB, sqlite://PATH or sqlite::memory:
    /// [default: sqlite://plantdb.sqlite3]
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Run the migrations in DIR (DIR/postgres and DIR/sqlite, or DIR itself) instead of the
    /// built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations: Option<PathBuf>,

    /// What the telemetry table does about TimescaleDB (PostgreSQL).
    #[arg(
        long,
        global = true,
        env = "PLANTDB_TIMESCALE",
        value_enum,
        default_value = "auto"
    )]
    pub timescale: TimescalePolicy,

    /// Whether the tables are distributed with Citus (PostgreSQL): auto when the database is a
    /// Citus coordinator with workers. Telemetry goes to Citus rather than TimescaleDB unless
    /// `--timescale require` or `--citus off`.
    #[arg(
        long,
        global = true,
        env = "PLANTDB_CITUS",
        value_enum,
        default_value = "auto"
    )]
    pub citus: CitusPolicy,

    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: the database and each step's SQL file.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Keep retrying the connection (with backoff) while the server starts, up to --wait-timeout.
    #[arg(long, global = true)]
    pub wait: bool,

    /// How long --wait keeps trying, in seconds.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 60,
        env = "PLANTDB_WAIT_TIMEOUT"
    )]
    pub wait_timeout: u64,

    /// Give up (exit 6) when another run holds plantdb's lock for longer than this, in seconds.
    /// Without it, plantdb waits as long as it takes, and says what it waits for.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        env = "PLANTDB_LOCK_TIMEOUT"
    )]
    pub lock_timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, revert, repair, adopt or create migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateCommand,
    },
    /// Show where the database stands; never changes anything.
    Status {
        /// Exit 0 only when fully up to date and clean: 3 when migrations are pending,
        /// 4 on drift.
        #[arg(long)]
        check: bool,
    },
    /// Check the migrations, for CI: checksums, up/down/up, PostgreSQL-SQLite parity.
    ///
    /// Compares the applied migrations' checksums; runs each pending migration (each one with
    /// --all) up, down and up again in a scratch database (a temporary PostgreSQL database on the
    /// target's server, dropped afterwards, and a temporary SQLite file) and compares the
    /// introspected schemas, and those of the two dialects. Exits 1 on any finding.
    ///
    /// With --live, instead compares the live schema of plantdb's tables with what the applied
    /// migrations produce (a hand-made hotfix is drift), and exits 4 on drift.
    Verify {
        /// Round-trip and compare every migration, not only the pending ones.
        #[arg(long)]
        all: bool,
        /// Compare the live schema of plantdb's tables with what the applied migrations
        /// produce; exit 4 on drift. Tables plantdb does not own are listed, never drift.
        #[arg(long, conflicts_with = "all")]
        live: bool,
    },
    /// Print a shell completion script (e.g. `plantdb completions bash > /etc/bash_completion.d/plantdb`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, in roff (e.g. `plantdb man > plantdb.1`).
    Man,
    /// Load YAML seed fixtures in one transaction (the built-in ones unless FILEs are given).
    Seed(SeedArgs),
    /// Drop and recreate the database, migrate up and seed (local databases unless --force).
    Reset(ResetArgs),
    /// Print a fresh PLANTDB_SECRET_KEY (base64 of 32 random bytes).
    SecretKey,
    /// Work on every database of a fleet file at once: status, migrate up/down, verify.
    Fleet(FleetArgs),
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The fleet file: `databases: {NAME: {url: URL, groups: [GROUP], migrations: DIR}}`.
    #[arg(long = "fleet", global = true, value_name = "FILE", default_value = crate::fleet::DEFAULT_FILE, env = "PLANTDB_FLEET")]
    pub file: PathBuf,
    /// Only these databases (repeatable, or comma-separated).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        value_delimiter = ',',
        conflicts_with = "group"
    )]
    pub only: Vec<String>,
    /// Only the databases in group G (repeatable, or comma-separated).
    #[arg(long, global = true, value_name = "G", value_delimiter = ',')]
    pub group: Vec<String>,
    /// Work on N databases at once.
    #[arg(long, global = true, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    #[command(subcommand)]
    pub action: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// One table of every database: version, pending, drift, TimescaleDB, reachable.
    Status {
        /// Exit 0 only when every database is reachable and up to date: 5 when one cannot be
        /// reached, else 4 on drift, else 3 when migrations are pending.
        #[arg(long)]
        check: bool,
    },
    /// Apply or revert migrations on every database.
    Migrate {
        #[command(subcommand)]
        action: FleetMigrateCommand,
    },
    /// `plantdb verify` on every database.
    Verify {
        /// Round-trip and compare every migration, not only the pending ones.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        run: FleetRunArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetMigrateCommand {
    /// Apply pending migrations on every database.
    Up {
        /// Apply up to and including VERSION.
        #[arg(long, value_name = "VERSION")]
        to: Option<Version>,
        #[command(flatten)]
        run: FleetRunArgs,
    },
    /// Revert every migration newer than VERSION on every database (0: revert all).
    Down {
        #[arg(long, value_name = "VERSION")]
        to: Version,
        #[command(flatten)]
        run: FleetRunArgs,
    },
}

/// How a fleet run orders its databases and what a failure stops.
#[derive(Debug, Args)]
pub struct FleetRunArgs {
    /// Run these databases (names or groups) first; the rest start only once they succeeded.
    #[arg(
        long,
        value_name = "NAME",
        value_delimiter = ',',
        conflicts_with = "waves"
    )]
    pub canary: Vec<String>,
    /// One wave per group, in the order the fleet file first names them, then the databases
    /// in no group; each wave starts only once the one before succeeded.
    #[arg(long)]
    pub waves: bool,
    /// After a failure, start nothing new and let the running ones finish (the default).
    #[arg(long, conflicts_with = "keep_going")]
    pub stop_on_failure: bool,
    /// After a failure, go on with the other databases of the wave.
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Fixture files, or directories of *.yaml files [default: the built-in fixtures]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// replace: the tables the fixtures write end up holding exactly the fixtures' rows
    /// (other tables change only through their foreign keys' ON DELETE rules);
    /// upsert: insert or update by key, keep other rows (generated telemetry is regenerated).
    #[arg(long, value_enum, default_value = "replace")]
    pub mode: crate::seed::SeedMode,
    /// Generate N times the telemetry the fixtures describe (load testing).
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    pub scale: u32,
    /// Print what the seed would insert, update and delete in each table, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub now: NowArg,
}

/// `--now`: pins the clock that relative times (`now-2m`) and generated telemetry use, so
/// that seeding again with the same value changes nothing.
#[derive(Debug, Args)]
pub struct NowArg {
    /// Use TIME (RFC 3339, e.g. 2026-02-07T12:00:00Z) as "now" for relative times and
    /// generated telemetry [default: the current time]
    #[arg(long = "now", value_name = "TIME", env = "PLANTDB_NOW", value_parser = parse_now)]
    pub time: Option<DateTime<Utc>>,
}

impl NowArg {
    /// The pinned time, or the clock. Milliseconds: what SQLite keeps, so both dialects
    /// store the same times.
    pub fn resolve(&self) -> DateTime<Utc> {
        self.time.unwrap_or_else(Utc::now).trunc_subsecs(3)
    }
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; expected an RFC 3339 time such as 2026-02-07T12:00:00Z"))
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Fixture files or directories to seed with [default: the built-in fixtures]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Migrate up but load no seed data.
    #[arg(long)]
    pub no_seed: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Reset a database that is not on this machine.
    #[arg(long)]
    pub force: bool,
    /// Generate N times the telemetry the fixtures describe.
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    pub scale: u32,
    #[command(flatten)]
    pub now: NowArg,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (all of them unless --to or --count).
    Up(UpArgs),
    /// Revert applied migrations (one unless --to or --count).
    Down(DownArgs),
    /// Revert the latest migration and apply it again, in one transaction.
    Redo(CommonRunArgs),
    /// Accept the current files' checksums for applied migrations that changed.
    Repair,
    /// Take over a database migrated by alembic, node-pg-migrate or the asyncpg runner: record
    /// the corresponding migrations as applied, without running them.
    Adopt(AdoptArgs),
    /// Take over a database plantdb does not know (another tool's, or hand-made): write its
    /// schema as the first migration under --migrations DIR, for both dialects, and record it
    /// as applied there without running it.
    Baseline(BaselineArgs),
    /// Distribute the tables of a database migrated before it became a Citus coordinator
    /// (PostgreSQL): the tables in dependency order, their rows copied to the workers, in one
    /// transaction. Implies `--citus require`.
    Distribute,
    /// Create the up and down files of a new migration for both dialects.
    New {
        /// The migration's name, in snake_case.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool whose history to read.
    #[arg(long, value_enum)]
    pub from: crate::migrate::adopt_manifest::Source,
    /// Drop the other tool's history table once the adoption is recorded.
    #[arg(long)]
    pub drop_foreign_table: bool,
    /// Show what would be recorded and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also bring the adopted tables to plantdb's definitions where that loses nothing
    /// (server defaults, wider types, timestamptz read as UTC; SQLite: table rebuilds).
    #[arg(long)]
    pub converge: bool,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Print the files it would write, and write and record nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply up to and including VERSION.
    #[arg(long, value_name = "VERSION", conflicts_with = "count")]
    pub to: Option<Version>,
    /// Apply at most N migrations.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Record migrations as applied without running them (adopting an existing schema).
    #[arg(long)]
    pub fake: bool,
    /// Apply pending migrations older than the latest applied one.
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// Apply the whole plan in one transaction: every migration or none (like `psql -1`).
    #[arg(long)]
    pub single_transaction: bool,
    #[command(flatten)]
    pub common: CommonRunArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert every migration newer than VERSION, keeping VERSION applied (0: revert all).
    #[arg(long, value_name = "VERSION", conflicts_with = "count")]
    pub to: Option<Version>,
    /// Revert the latest N migrations.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Revert the whole plan in one transaction: every migration or none (like `psql -1`).
    #[arg(long)]
    pub single_transaction: bool,
    /// Also revert migrations `migrate adopt` recorded: their down scripts drop tables the
    /// other application may still use.
    #[arg(long)]
    pub below_adoption: bool,
    #[command(flatten)]
    pub common: CommonRunArgs,
}

#[derive(Debug, Args)]
pub struct CommonRunArgs {
    /// Print the SQL that would run, in order, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run even though applied migrations changed or are missing.
    #[arg(long)]
    pub allow_drift: bool,
}
