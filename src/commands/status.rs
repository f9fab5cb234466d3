//! `plantdb status [--check]`: where the database stands; read-only.

use super::Database;
use crate::db::Access;
use crate::error::Result;

pub fn run(db: &Database, check: bool) -> Result<i32> {
    let set = db.migrations(db.target.dialect())?;
    let mut driver = db.connect(&db.target, Access::ReadOnly)?;
    let report = crate::status::status(driver.as_mut(), &set, &db.shown_url)?;
    db.out.status_report(&report);
    Ok(if check { report.check_exit_code() } else { 0 })
}
