//! The glue between the command line and the engine for `migrate adopt`, `migrate new`,
//! `verify`, `completions`, `man` and `--wait`.

use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::{AdoptArgs, Cli, Command, MigrateCommand};
use crate::config::{SqliteTarget, Target};
use crate::db::{self, Access};
use crate::error::{Error, Result};
use crate::migrate::adopt::{self, AdoptOptions};
use crate::migrate::{MigrationSet, new};
use crate::output::Output;
use crate::verify::{self, VerifyOptions};

/// Runs the commands that need no database; `None` for the others.
pub fn offline(cli: &Cli, out: &Output) -> Option<Result<i32>> {
    match &cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "plantdb", &mut script);
            Some(write_stdout(&script).map(|()| 0))
        }
        Command::Man => {
            let mut page = Vec::new();
            Some(
                man(&mut page)
                    .and_then(|()| write_stdout(&page))
                    .map(|()| 0),
            )
        }
        Command::Migrate {
            action: MigrateCommand::New { name },
        } => {
            let dir = cli
                .global
                .migrations
                .clone()
                .unwrap_or_else(|| PathBuf::from("migrations"));
            Some(new::create(&dir, name).map(|report| {
                out.new_report(&report);
                0
            }))
        }
        _ => None,
    }
}

/// Writes the man page, generated from the clap definition so it never disagrees with `--help`.
pub fn man(to: &mut dyn std::io::Write) -> Result<()> {
    clap_mangen::Man::new(Cli::command())
        .render(to)
        .map_err(|e| Error::Io {
            path: "stdout".into(),
            source: e,
        })
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        // A reader that stopped early (`| head`) is not an error worth reporting.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            path: "stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// `offline` has handled these before any database is looked at.
pub fn unreachable_offline() -> Result<i32> {
    unreachable!("handled by commands::offline")
}

pub fn adopt(
    cli: &Cli,
    out: &Output,
    target: &Target,
    shown_url: &str,
    args: &AdoptArgs,
) -> Result<i32> {
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    // Bad migration files are found before anything is opened.
    let set = MigrationSet::load(cli.global.migrations.as_deref(), target.dialect())?;
    let mut driver = db::connect(target, access, cli.global.timescale)?;
    driver.set_lock_wait(crate::lock_wait(cli, out));
    let options = AdoptOptions {
        dry_run: args.dry_run,
        drop_foreign: args.drop_foreign_table,
    };
    let report = adopt::adopt(driver.as_mut(), &set, args.from, options)?;
    out.adopt_report(shown_url, &report);
    Ok(0)
}

pub fn verify(cli: &Cli, out: &Output, target: &Target, shown_url: &str, all: bool) -> Result<i32> {
    // A SQLite file that does not exist yet is an empty database: everything is pending.
    let opened = match target {
        Target::Sqlite(SqliteTarget::File(path)) if !path.exists() => db::connect(
            &Target::Sqlite(SqliteTarget::Memory),
            Access::ReadOnly,
            cli.global.timescale,
        )?,
        _ => db::connect(target, Access::ReadOnly, cli.global.timescale)?,
    };
    let mut driver = opened;
    let options = VerifyOptions {
        all,
        timescale: cli.global.timescale,
    };
    let report = verify::verify(
        driver.as_mut(),
        target,
        shown_url,
        cli.global.migrations.as_deref(),
        options,
    )?;
    out.verify_report(&report);
    if report.findings.is_empty() {
        Ok(0)
    } else {
        // Not an `Err`: with --json the report is the one document, and it holds the findings.
        out.info(&format!(
            "error: verify found {} problem(s)",
            report.findings.len()
        ));
        Ok(crate::error::exit::ERROR)
    }
}
