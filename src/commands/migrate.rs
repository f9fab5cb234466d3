//! `plantdb migrate up`, `down`, `redo` and `repair`: the actions that run migrations or touch
//! their history. (`adopt` and `new` have files of their own.)

use super::Database;
use crate::cli::{CommonRunArgs, DownArgs, UpArgs};
use crate::config::{SqliteTarget, Target, TimescalePolicy};
use crate::db::Access;
use crate::error::{Error, Result};
use crate::migrate::{self, Request, RunOptions};

pub fn up(db: &Database, args: &UpArgs) -> Result<i32> {
    let request = Request::Up {
        to: args.to,
        count: args.count,
    };
    let options = RunOptions {
        single_transaction: args.single_transaction,
        ..run_options(&args.common, args.fake, args.allow_out_of_order)
    };
    run(db, request, options)
}

pub fn down(db: &Database, args: &DownArgs) -> Result<i32> {
    let request = Request::Down {
        to: args.to,
        count: args.count,
    };
    let options = RunOptions {
        single_transaction: args.single_transaction,
        below_adoption: args.below_adoption,
        ..run_options(&args.common, false, false)
    };
    run(db, request, options)
}

pub fn redo(db: &Database, args: &CommonRunArgs) -> Result<i32> {
    run(db, Request::Redo, run_options(args, false, false))
}

pub fn repair(db: &Database) -> Result<i32> {
    let set = db.migrations(db.target.dialect())?;
    let mut driver = db.connect(&db.target, Access::ReadWrite)?;
    let repaired = migrate::repair(driver.as_mut(), &set)?;
    db.out.repair_report(&repaired);
    Ok(0)
}

fn run_options(common: &CommonRunArgs, fake: bool, allow_out_of_order: bool) -> RunOptions {
    RunOptions {
        dry_run: common.dry_run,
        fake,
        allow_drift: common.allow_drift,
        allow_out_of_order,
        single_transaction: false,
        below_adoption: false,
    }
}

fn run(db: &Database, request: Request, options: RunOptions) -> Result<i32> {
    if matches!(db.target, Target::Sqlite(_)) && db.global.timescale == TimescalePolicy::Require {
        return Err(Error::TimescaleRequiresPostgres);
    }
    // A dry run must not even create the SQLite file: a missing file is an empty database.
    let target = match &db.target {
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
    let set = db.migrations(target.dialect())?;
    let mut driver = db.connect(&target, access)?;
    let mut observer = db.out.observer();
    let report = migrate::migrate(driver.as_mut(), &set, request, options, observer.as_mut());
    // The progress bar goes before the results are printed.
    drop(observer);
    let report = report?;
    db.out.run_report(driver.dialect(), &db.shown_url, &report);
    Ok(0)
}
