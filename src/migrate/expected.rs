//! The schema a chosen set of plantdb's migrations produces, as the column-level comparison
//! needs it: built by running exactly those migrations in a scratch database of the target's
//! dialect (in memory for SQLite; a temporary database on the target's server for PostgreSQL,
//! as `verify` does), read, and thrown away. Running them is the only faithful way: the
//! migrations are the definition, and no second description of them can drift.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use super::run::{IgnoreProgress, RunOptions, migrate};
use super::{MigrationSet, Request};
use crate::config::{SqliteTarget, Target, TimescalePolicy};
use crate::db::{self, ADOPTION_TABLE, Access, HISTORY_TABLE, describe};
use crate::error::{Result, Version};
use crate::schema::Described;

/// Where the scratch database is made: beside `target` (same server, same credentials), with
/// the run's TimescaleDB policy.
#[derive(Debug, Clone, Copy)]
pub struct Scratch<'a> {
    pub target: &'a Target,
    pub timescale: TimescalePolicy,
}

/// What `versions` of `set` produce on a fresh database of `target`'s dialect, without
/// plantdb's own tables.
pub fn schema_of(
    target: &Target,
    timescale: TimescalePolicy,
    set: &MigrationSet,
    versions: &BTreeSet<Version>,
) -> Result<Described> {
    let mut chosen = set.clone();
    chosen.migrations.retain(|m| versions.contains(&m.version));
    let build = |scratch: &Target| -> Result<Described> {
        let mut driver = db::connect(scratch, Access::ReadWrite, timescale)?;
        migrate(
            driver.as_mut(),
            &chosen,
            Request::Up {
                to: None,
                count: None,
            },
            RunOptions::default(),
            &mut IgnoreProgress,
        )?;
        let mut described = describe(driver.as_mut())?;
        for own in [HISTORY_TABLE, ADOPTION_TABLE] {
            described.schema.tables.remove(own);
            described.spellings.remove(own);
        }
        Ok(described)
    };
    match target {
        Target::Sqlite(_) => build(&Target::Sqlite(SqliteTarget::Memory)),
        Target::Postgres(pg) => {
            // Unique among concurrent runs: the process, a counter within it, and the time.
            static BUILT: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "plantdb_expected_{}_{}_{}",
                std::process::id(),
                BUILT.fetch_add(1, Ordering::Relaxed),
                chrono::Utc::now().timestamp_micros() % 1_000_000_000
            );
            let host = pg.host_display();
            let mut admin = db::postgres::maintenance_client(pg)?;
            db::postgres::create_database(&mut admin, &name, &host)?;
            let mut scratch = pg.clone();
            scratch.config.dbname(&name);
            let built = build(&Target::Postgres(scratch));
            // Dropped whatever happened; the scratch driver is closed by now.
            let dropped = db::postgres::drop_database(&mut admin, &name, &host);
            let built = built?;
            dropped?;
            Ok(built)
        }
    }
}
