//! `plantdb migrate distribute`: distribute the tables of a database that became a Citus
//! coordinator after it was migrated.

use super::Database;
use crate::config::CitusPolicy;
use crate::db::Access;
use crate::error::{Error, Result};
use crate::migrate::distribute;

pub fn run(db: &Database) -> Result<i32> {
    if db.global.citus == CitusPolicy::Off {
        return Err(Error::DistributeCitusOff);
    }
    let set = db.migrations(db.target.dialect())?;
    // Distributing is what the command is for: SQLite is refused before the file is opened,
    // and a database Citus cannot serve before anything changes, naming what it lacks.
    let mut driver = db.connect_with_citus(&db.target, Access::ReadWrite, CitusPolicy::Require)?;
    let report = distribute::distribute(driver.as_mut(), &set)?;
    db.out.distribute_report(&db.shown_url, &report);
    Ok(0)
}
