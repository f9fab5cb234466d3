//! `plantdb migrate adopt --from TOOL`: record as applied what another tool already ran.

use super::Database;
use crate::cli::AdoptArgs;
use crate::config::TimescalePolicy;
use crate::db::Access;
use crate::error::Result;
use crate::migrate::adopt::{self, AdoptOptions};
use crate::migrate::expected::Scratch;

pub fn run(db: &Database, args: &AdoptArgs) -> Result<i32> {
    // A converge dry run on PostgreSQL works out plantdb's definitions in a schema it creates
    // and rolls back, which a read-only session may not do.
    let access = if args.dry_run && !args.converge {
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
        converge: args.converge,
        timescale: db.global.timescale,
    };
    // The scratch database is only read for plantdb's tables and columns, which TimescaleDB
    // does not change; `--timescale require` is about this database (adopt checks it), and must
    // not fail because a scratch database cannot load the extension.
    let scratch = Scratch {
        target: &db.target,
        timescale: TimescalePolicy::Off,
    };
    let report = adopt::adopt(driver.as_mut(), scratch, &set, args.from, options)?;
    db.out.adopt_report(&db.shown_url, &report);
    Ok(0)
}
