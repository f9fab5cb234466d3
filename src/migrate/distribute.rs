//! `plantdb migrate distribute`: distributes the tables of a database that was migrated
//! before it became a Citus coordinator.
//!
//! The distribution migration (`V20260301000001__citus_distribution`) distributes the tables
//! when `migrate up` runs it with Citus in use. A database migrated as plain PostgreSQL has it
//! recorded already, as the no-op it was there; once the database is a coordinator with
//! workers, this command runs the same script again, in one transaction under plantdb's lock:
//! the tables are distributed in dependency order, `create_distributed_table` copies their rows
//! to the shards, and the coordinator's local copies are truncated. Nothing is recorded: the
//! migration is applied already, and its checksum is the file's.

use crate::db::citus::CitusState;
use crate::db::{Direction, Driver, Locked, Step};
use crate::error::{Error, Result, Version};
use crate::migrate::MigrationSet;

/// The migration that distributes the tables.
pub const DISTRIBUTION_VERSION: Version = 20260301000001;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DistributeReport {
    /// What the script said: the keys it changed, or that the tables were distributed already.
    pub notices: Vec<String>,
    /// The cluster and the tables Citus manages afterwards.
    pub citus: CitusState,
}

/// Runs the distribution migration's script again on a database where it is applied. The
/// caller has settled `--citus` to Citus (see [`crate::db::citus::settle`]).
pub fn distribute(driver: &mut dyn Driver, set: &MigrationSet) -> Result<DistributeReport> {
    let migration = set
        .get(DISTRIBUTION_VERSION)
        .ok_or(Error::DistributeMissing(DISTRIBUTION_VERSION))?;
    let step = Step {
        version: migration.version,
        name: &migration.name,
        direction: Direction::Up,
        sql: &migration.up.sql,
        file: &migration.up.file,
        checksum: &migration.checksum,
        transactional: true,
        foreign_keys_off: false,
        fake: false,
        expected_latest: None,
    };
    // Read under the lock: a migration run cannot take the migration back in between.
    let mut locked = Locked::new(driver)?;
    if !locked
        .applied()?
        .iter()
        .any(|a| a.version == DISTRIBUTION_VERSION)
    {
        return Err(Error::DistributePending(DISTRIBUTION_VERSION));
    }
    let notices = locked.transaction(|driver| match driver.as_postgres() {
        Some(pg) => pg.run_again(&step),
        None => Err(Error::CitusRequiresPostgres),
    })?;
    locked.release()?;
    let citus = match driver.as_postgres() {
        Some(pg) => pg.citus()?,
        None => CitusState::default(),
    };
    Ok(DistributeReport { notices, citus })
}
