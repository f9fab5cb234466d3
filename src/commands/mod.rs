//! The command layer: one file per subcommand, each turning its parsed arguments into a call
//! to the engine and handing the report the engine returns to `Output`. The parsed command is
//! taken apart here, in `run`, and nowhere else.

mod adopt;
mod baseline;
mod completions;
mod distribute;
mod fleet;
mod man;
mod migrate;
mod new;
mod reset;
mod secret_key;
mod seed;
mod status;
mod verify;

use std::time::Duration;

use crate::cli::{Cli, Command, FleetCommand, FleetMigrateCommand, GlobalArgs, MigrateCommand};
use crate::config::{self, CitusPolicy, Target};
use crate::db::{self, Access, Dialect, Driver, LockWait, citus};
use crate::error::Result;
use crate::fleet::Action;
use crate::migrate::MigrationSet;
use crate::output::Output;
use crate::wait;

/// Runs the parsed command; the exit code on success.
pub fn run(cli: &Cli, out: &Output) -> Result<i32> {
    let global = &cli.global;
    // Completions, man, secret-key and `migrate new` need no database: a broken DATABASE_URL
    // must not stop them, so only the other commands resolve it.
    match &cli.command {
        Command::Completions { shell } => completions::run(*shell),
        Command::Man => man::run(),
        Command::SecretKey => secret_key::run(out),
        Command::Fleet(args) => {
            let fleet = fleet::Selected::resolve(global, out, args)?;
            match &args.action {
                FleetCommand::Status { check } => fleet::status(&fleet, *check),
                FleetCommand::Verify { all, run } => {
                    fleet::run(&fleet, Action::Verify { all: *all }, run)
                }
                FleetCommand::Migrate { action } => match action {
                    FleetMigrateCommand::Up { to, run } => {
                        fleet::run(&fleet, Action::Up { to: *to }, run)
                    }
                    FleetMigrateCommand::Down { to, run } => {
                        fleet::run(&fleet, Action::Down { to: *to }, run)
                    }
                },
            }
        }
        Command::Status { check } => status::run(&Database::resolve(global, out)?, *check),
        Command::Verify { all, live } => {
            let db = Database::resolve(global, out)?;
            if *live {
                verify::live(&db)
            } else {
                verify::run(&db, *all)
            }
        }
        Command::Seed(args) => seed::run(&Database::resolve(global, out)?, args),
        Command::Reset(args) => reset::run(&Database::resolve(global, out)?, args),
        Command::Migrate { action } => match action {
            MigrateCommand::New { name } => new::run(global, out, name),
            MigrateCommand::Up(args) => migrate::up(&Database::resolve(global, out)?, args),
            MigrateCommand::Down(args) => migrate::down(&Database::resolve(global, out)?, args),
            MigrateCommand::Redo(args) => migrate::redo(&Database::resolve(global, out)?, args),
            MigrateCommand::Repair => migrate::repair(&Database::resolve(global, out)?),
            MigrateCommand::Adopt(args) => adopt::run(&Database::resolve(global, out)?, args),
            MigrateCommand::Baseline(args) => baseline::run(&Database::resolve(global, out)?, args),
            MigrateCommand::Distribute => distribute::run(&Database::resolve(global, out)?),
        },
    }
}

/// What every command that works on a database shares: where the database is, the global
/// options, and where to print.
struct Database<'a> {
    global: &'a GlobalArgs,
    out: &'a Output,
    target: Target,
    /// The URL as people see it: the password masked.
    shown_url: String,
}

impl<'a> Database<'a> {
    /// The database of `--database-url` (the SQLite file `plantdb.sqlite3` by default); with
    /// `--wait`, once its server accepts connections.
    fn resolve(global: &'a GlobalArgs, out: &'a Output) -> Result<Database<'a>> {
        let url = global
            .database_url
            .clone()
            .unwrap_or_else(|| config::DEFAULT_URL.to_string());
        let target = Target::parse(&url)?;
        let shown_url = target.display();
        out.verbose(&format!("database: {shown_url}"));
        if global.wait {
            let timeout = Duration::from_secs(global.wait_timeout);
            wait::until_ready(&target, global.timescale, timeout, &mut out.wait_observer())?;
        }
        Ok(Database {
            global,
            out,
            target,
            shown_url,
        })
    }

    /// Connects to `target` (this database, or a stand-in for one that does not exist yet),
    /// waiting for plantdb's lock as `--lock-timeout` says.
    /// `--citus` is settled here, before the command writes anything.
    fn connect(&self, target: &Target, access: Access) -> Result<Box<dyn Driver>> {
        self.connect_with_citus(target, access, self.global.citus)
    }

    /// [`Database::connect`] with `citus` instead of `--citus`, for a command that needs Citus
    /// whatever the option says.
    fn connect_with_citus(
        &self,
        target: &Target,
        access: Access,
        citus: CitusPolicy,
    ) -> Result<Box<dyn Driver>> {
        let timescale = self.global.timescale;
        citus::check_policies(citus, timescale, target.dialect())?;
        // Read before connecting, so that a bad setting stops the command before anything.
        let telemetry = match access {
            Access::ReadWrite => Some(config::TelemetrySettings::from_env()?),
            Access::ReadOnly => None,
        };
        let mut driver =
            db::connect_with_telemetry(target, access, timescale, &telemetry.unwrap_or_default())?;
        citus::settle(driver.as_mut(), citus, timescale)?;
        driver.set_lock_wait(self.lock_wait());
        Ok(driver)
    }

    /// The migrations of `--migrations`, or the built-in ones.
    fn migrations(&self, dialect: Dialect) -> Result<MigrationSet> {
        MigrationSet::load(self.global.migrations.as_deref(), dialect)
    }

    /// How a command that takes plantdb's lock waits for another holder (`--lock-timeout`);
    /// the notice goes to stderr, so `--json` output stays one document.
    fn lock_wait(&self) -> LockWait {
        let out = *self.out;
        LockWait {
            timeout: self.global.lock_timeout.map(Duration::from_secs),
            notify: std::sync::Arc::new(move |line| out.notice(line)),
        }
    }
}
