//! `plantdb verify [--all]`: checksums, up/down/up round trips and dialect parity, for CI;
//! `plantdb verify --live`: the live schema against what the applied migrations produce.

use super::Database;
use crate::config::{SqliteTarget, Target};
use crate::db::Access;
use crate::error::{Result, exit};
use crate::live_drift;
use crate::migrate::expected::Scratch;
use crate::verify::{self, VerifyOptions};

pub fn live(db: &Database) -> Result<i32> {
    let set = db.migrations(db.target.dialect())?;
    let mut driver = db.connect(&db.target, Access::ReadOnly)?;
    let scratch = Scratch {
        target: &db.target,
        timescale: db.global.timescale,
    };
    let report = live_drift::live_drift(driver.as_mut(), scratch, &set, &db.shown_url)?;
    db.out.live_report(&report);
    if report.has_drift() {
        db.out.info(&format!(
            "error: the live schema drifted from plantdb's migrations in {} place(s)",
            report.drift.len() + report.added.len()
        ));
        Ok(exit::DRIFT)
    } else {
        Ok(0)
    }
}

pub fn run(db: &Database, all: bool) -> Result<i32> {
    // A SQLite file that does not exist yet is an empty database: everything is pending.
    let mut driver = match &db.target {
        Target::Sqlite(SqliteTarget::File(path)) if !path.exists() => {
            db.connect(&Target::Sqlite(SqliteTarget::Memory), Access::ReadOnly)?
        }
        target => db.connect(target, Access::ReadOnly)?,
    };
    let options = VerifyOptions {
        all,
        timescale: db.global.timescale,
    };
    let report = verify::verify(
        driver.as_mut(),
        &db.target,
        &db.shown_url,
        db.global.migrations.as_deref(),
        options,
    )?;
    db.out.verify_report(&report);
    if report.findings.is_empty() {
        Ok(0)
    } else {
        // Not an `Err`: with --json the report is the one document, and it holds the findings.
        db.out.info(&format!(
            "error: verify found {} problem(s)",
            report.findings.len()
        ));
        Ok(exit::ERROR)
    }
}
