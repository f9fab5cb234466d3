//! plantdb: migrations and seed data for the plant databases, on PostgreSQL and SQLite.
//!
//! `run` is the whole command line; the modules below are the engine it drives, and what the
//! integration tests call directly.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod migrate;
pub mod output;
pub mod printable;
pub mod reset;
pub mod schema;
pub mod seed;
pub mod status;
pub mod verify;
pub mod wait;

mod commands;

use std::ffi::OsString;

use clap::Parser;

use cli::{Cli, Command, CommonRunArgs, MigrateCommand};
use config::{SqliteTarget, Target, TimescalePolicy};
use db::{Access, Dialect};
use error::{Error, Result};
use migrate::{MigrationSet, Request, RunOptions};
use output::Output;

/// Runs plantdb with the given arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let dotenv = std::env::current_dir()
        .map_err(|e| Error::Io {
            path: ".".into(),
            source: e,
        })
        .and_then(|dir| config::load_dotenv(&dir));
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let out = Output::new(cli.global.json, cli.global.quiet, cli.global.verbose);
    match dotenv.and_then(|()| dispatch(&cli, &out)) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

fn dispatch(cli: &Cli, out: &Output) -> Result<i32> {
    // Commands that need no database come first: a broken DATABASE_URL must not stop them.
    if let Some(result) = commands::offline(cli, out) {
        return result;
    }
    if let Command::SecretKey = cli.command {
        out.secret_key(&seed::secrets::SecretKey::generate().to_base64());
        return Ok(0);
    }
    let url = cli
        .global
        .database_url
        .clone()
        .unwrap_or_else(|| config::DEFAULT_URL.to_string());
    let target = Target::parse(&url)?;
    let shown_url = target.display();
    out.verbose(&format!("database: {shown_url}"));
    if cli.global.wait {
        let timeout = std::time::Duration::from_secs(cli.global.wait_timeout);
        wait::until_ready(&target, cli.global.timescale, timeout, out)?;
    }
    match &cli.command {
        Command::Status { check } => {
            let set = load_set(cli, target.dialect())?;
            let mut driver = db::connect(&target, Access::ReadOnly, cli.global.timescale)?;
            let report = status::status(driver.as_mut(), &set, &shown_url)?;
            out.status_report(&report);
            Ok(if *check { report.check_exit_code() } else { 0 })
        }
        Command::Migrate { action } => migrate_command(cli, out, &target, &shown_url, action),
        Command::Verify { all } => commands::verify(cli, out, &target, &shown_url, *all),
        Command::Completions { .. } | Command::Man => commands::unreachable_offline(),
        Command::Seed(args) => seed::command::seed_command(cli, out, &target, args),
        Command::Reset(args) => reset::reset_command(cli, out, &target, args),
        // Answered before the URL is parsed: printing a key needs no database.
        Command::SecretKey => Ok(0),
    }
}

fn migrate_command(
    cli: &Cli,
    out: &Output,
    target: &Target,
    shown_url: &str,
    action: &MigrateCommand,
) -> Result<i32> {
    let (request, options) = match action {
        MigrateCommand::Up(args) => (
            Request::Up {
                to: args.to,
                count: args.count,
            },
            RunOptions {
                single_transaction: args.single_transaction,
                ..run_options(&args.common, args.fake, args.allow_out_of_order)
            },
        ),
        MigrateCommand::Down(args) => (
            Request::Down {
                to: args.to,
                count: args.count,
            },
            RunOptions {
                single_transaction: args.single_transaction,
                ..run_options(&args.common, false, false)
            },
        ),
        MigrateCommand::Redo(common) => (Request::Redo, run_options(common, false, false)),
        MigrateCommand::Repair => {
            let set = load_set(cli, target.dialect())?;
            let mut driver = db::connect(target, Access::ReadWrite, cli.global.timescale)?;
            driver.set_lock_wait(lock_wait(cli, out));
            let repaired = migrate::repair(driver.as_mut(), &set)?;
            out.repair_report(&repaired);
            return Ok(0);
        }
        MigrateCommand::Adopt(args) => return commands::adopt(cli, out, target, shown_url, args),
        MigrateCommand::New { .. } => return commands::unreachable_offline(),
    };
    if matches!(target, Target::Sqlite(_)) && cli.global.timescale == TimescalePolicy::Require {
        return Err(Error::Timescale(
            "`--timescale require` needs PostgreSQL: SQLite has no TimescaleDB".into(),
        ));
    }
    // A dry run must not even create the SQLite file: a missing file is an empty database.
    let target = match target {
        Target::Sqlite(SqliteTarget::File(path)) if options.dry_run && !path.exists() => {
            Target::Sqlite(SqliteTarget::Memory)
        }
        other => other.clone(),
    };
    let access = if options.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    // Bad migration files are found before anything is opened or created.
    let set = load_set(cli, target.dialect())?;
    let mut driver = db::connect(&target, access, cli.global.timescale)?;
    driver.set_lock_wait(lock_wait(cli, out));
    let mut observer = out.observer();
    let report = migrate::migrate(driver.as_mut(), &set, request, options, observer.as_mut());
    drop(observer);
    let report = report?;
    out.run_report(driver.dialect(), shown_url, &report);
    Ok(0)
}

fn run_options(common: &CommonRunArgs, fake: bool, allow_out_of_order: bool) -> RunOptions {
    RunOptions {
        dry_run: common.dry_run,
        fake,
        allow_drift: common.allow_drift,
        allow_out_of_order,
        single_transaction: false,
    }
}

/// How a command that takes plantdb's lock waits for another holder (`--lock-timeout`); the
/// notice goes to stderr, so `--json` output stays one document.
pub(crate) fn lock_wait(cli: &Cli, out: &Output) -> db::LockWait {
    let out = *out;
    db::LockWait {
        timeout: cli.global.lock_timeout.map(std::time::Duration::from_secs),
        notify: std::sync::Arc::new(move |line| out.notice(line)),
    }
}

fn load_set(cli: &Cli, dialect: Dialect) -> Result<MigrationSet> {
    MigrationSet::load(cli.global.migrations.as_deref(), dialect)
}
