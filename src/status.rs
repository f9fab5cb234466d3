//! `plantdb status`: where a database stands. Read-only: it never creates the history table.

use crate::db::citus::CitusState;
use crate::db::postgres::TimescaleState;
use crate::db::{Dialect, Driver};
use crate::error::{DriftItem, Result, Version, exit};
use crate::migrate::{MigrationSet, plan};

/// The stable JSON document of `status --json` (documented in the README).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub dialect: Dialect,
    /// The database URL with the password masked.
    pub url: String,
    /// Latest applied version, `null` when nothing is applied.
    pub current_version: Option<Version>,
    /// Latest known version.
    pub latest_version: Option<Version>,
    /// True when nothing is pending, drifted or missing.
    pub up_to_date: bool,
    pub applied: Vec<AppliedEntry>,
    pub pending: Vec<PendingEntry>,
    pub drifted: Vec<DriftItem>,
    pub missing: Vec<DriftItem>,
    /// `null` on SQLite.
    pub timescaledb: Option<TimescaleState>,
    /// `null` on SQLite.
    pub citus: Option<CitusState>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedEntry {
    pub version: Version,
    pub name: String,
    pub applied_at: String,
    pub checksum: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingEntry {
    pub version: Version,
    pub name: String,
    pub file: String,
}

impl StatusReport {
    /// The exit code of `status --check`.
    pub fn check_exit_code(&self) -> i32 {
        if !self.drifted.is_empty() || !self.missing.is_empty() {
            exit::DRIFT
        } else if !self.pending.is_empty() {
            exit::PENDING
        } else {
            0
        }
    }
}

pub fn status(driver: &mut dyn Driver, set: &MigrationSet, url: &str) -> Result<StatusReport> {
    // On PostgreSQL the history and TimescaleDB's state come together, in one round trip.
    // Citus's cluster is read only where the extension is installed.
    let (applied_rows, timescaledb, citus) = match driver.as_postgres() {
        Some(pg) => {
            let (applied, timescale) = pg.status_snapshot()?;
            (applied, Some(timescale), Some(pg.citus()?))
        }
        None => (driver.applied()?, None, None),
    };
    let (drifted, missing) = plan::drift(set, &applied_rows);
    let pending: Vec<PendingEntry> = set
        .pending(&applied_rows)
        .map(|m| PendingEntry {
            version: m.version,
            name: m.name.clone(),
            file: m.up.file.clone(),
        })
        .collect();
    Ok(StatusReport {
        dialect: driver.dialect(),
        url: url.to_string(),
        current_version: applied_rows.last().map(|a| a.version),
        latest_version: set.latest_version(),
        up_to_date: pending.is_empty() && drifted.is_empty() && missing.is_empty(),
        applied: applied_rows
            .into_iter()
            .map(|a| AppliedEntry {
                version: a.version,
                name: a.name,
                applied_at: a.applied_at,
                checksum: a.checksum,
            })
            .collect(),
        pending,
        drifted,
        missing,
        timescaledb,
        citus,
    })
}
