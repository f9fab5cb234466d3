//! `plantdb migrate distribute`: distribute the tables of a database that became a Citus
//! coordinator after it was migrated.

use super::Database;
use crate::config::CitusPolicy;
use crate::db::{Access, citus};
use crate::error::{Error, Result};
use crate::migrate::distribute;

pub fn run(db: &Database) -> Result<i32> {
    if db.global.citus == CitusPolicy::Off {
        return Err(Error::DistributeCitusOff);
    }
    // Refused before a SQLite file is opened (or created).
    citus::check_policies(
        CitusPolicy::Require,
        db.global.timescale,
        db.target.dialect(),
    )?;
    let set = db.migrations(db.target.dialect())?;
    let mut driver = db.connect(&db.target, Access::ReadWrite)?;
    // Distributing is what the command is for: a database Citus cannot serve is refused
    // before anything changes, naming what it lacks.
    citus::settle(driver.as_mut(), CitusPolicy::Require, db.global.timescale)?;
    let report = distribute::distribute(driver.as_mut(), &set)?;
    db.out.distribute_report(&db.shown_url, &report);
    Ok(0)
}
