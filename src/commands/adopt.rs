//! `plantdb migrate adopt --from TOOL`: record as applied what another tool already ran.

use super::Database;
use crate::cli::AdoptArgs;
use crate::db::Access;
use crate::error::Result;
use crate::migrate::adopt::{self, AdoptOptions};
use crate::migrate::expected::Scratch;

pub fn run(db: &Database, args: &AdoptArgs) -> Result<i32> {
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    // Bad migration files are found before anything is opened.
    let set = db.migrations(db.target.dialect())?;
    let mut driver = db.connect(&db.target, access)?;
    let options = AdoptOptions {
        dry_run: args.dry_run,
        drop_foreign: args.drop_foreign_table,
    };
    let scratch = Scratch {
        target: &db.target,
        timescale: db.global.timescale,
    };
    let report = adopt::adopt(driver.as_mut(), scratch, &set, args.from, options)?;
    db.out.adopt_report(&db.shown_url, &report);
    Ok(0)
}
