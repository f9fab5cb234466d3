//! `plantdb migrate baseline`: write a database's schema as the first migration of
//! `--migrations DIR` and record it as applied.

use super::Database;
use crate::cli::BaselineArgs;
use crate::db::Access;
use crate::error::{Error, Result};
use crate::migrate::baseline::{self, BaselineOptions};

pub fn run(db: &Database, args: &BaselineArgs) -> Result<i32> {
    let dir = db
        .global
        .migrations
        .as_deref()
        .ok_or(Error::BaselineNoDir)?;
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let mut driver = db.connect(&db.target, access)?;
    let options = BaselineOptions {
        dry_run: args.dry_run,
    };
    let report = baseline::baseline(driver.as_mut(), dir, options)?;
    db.out.baseline_report(&db.shown_url, &report);
    Ok(0)
}
