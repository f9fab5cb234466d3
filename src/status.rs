//! `plantdb status`: where a database stands. Read-only: it never creates the history table.

use crate::db::citus::CitusState;
use crate::db::postgres::{TelemetryPolicyState, TelemetryTable, TimescaleState};
use crate::db::value::{Kind, Value};
use crate::db::{AppliedMigration, Dialect, Driver};
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
    /// What the telemetry policy migrations did here; `null` when the migrations in use have
    /// none of them.
    pub telemetry_policies: Option<TelemetryPolicies>,
    /// `null` on SQLite.
    pub citus: Option<CitusState>,
}

/// What became of the telemetry compression and retention policies and of `telemetry_hourly`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TelemetryPolicies {
    pub compression: PolicyState,
    pub retention: PolicyState,
    pub telemetry_hourly: HourlyKind,
}

/// A TimescaleDB policy: running (`after` the configured period), a recorded no-op (its
/// migration is applied, but TimescaleDB could not or was not to be used), or not migrated yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PolicyState {
    Applied { after: String },
    NoOp,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HourlyKind {
    ContinuousAggregate,
    View,
    Absent,
}

/// The names of the telemetry policy migrations.
const COMPRESSION_MIGRATION: &str = "telemetry_compression_policy";
const RETENTION_MIGRATION: &str = "telemetry_retention_policy";
const HOURLY_MIGRATION: &str = "telemetry_hourly";

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
    // The telemetry policies too: nothing more to ask without TimescaleDB. Citus's cluster is
    // read only where the extension is installed.
    let (applied_rows, timescaledb, live_policies, citus) = match driver.as_postgres() {
        Some(pg) => {
            let (applied, mut timescale, policies) = pg.status_snapshot()?;
            let citus = pg.citus()?;
            if citus
                .tables
                .iter()
                .any(|t| t.name == "telemetry" && t.kind == "distributed")
            {
                timescale.telemetry = TelemetryTable::Distributed;
            }
            (applied, Some(timescale), Some(policies), Some(citus))
        }
        None => (driver.applied()?, None, None, None),
    };
    let telemetry_policies = telemetry_policies(driver, set, &applied_rows, live_policies)?;
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
        telemetry_policies,
        citus,
    })
}

/// What the telemetry policy migrations did, from `live` (what PostgreSQL's catalogs say) or,
/// on SQLite, which only ever has the view, from its schema.
fn telemetry_policies(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    applied: &[AppliedMigration],
    live: Option<TelemetryPolicyState>,
) -> Result<Option<TelemetryPolicies>> {
    let known = |name: &str| {
        set.migrations.iter().any(|m| m.name == name) || applied.iter().any(|a| a.name == name)
    };
    if ![COMPRESSION_MIGRATION, RETENTION_MIGRATION, HOURLY_MIGRATION]
        .iter()
        .any(|name| known(name))
    {
        return Ok(None);
    }
    let live = match live {
        Some(live) => live,
        None => {
            let rows = driver.query(
                "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = 'telemetry_hourly'",
                &[],
                &[Kind::Int],
            )?;
            TelemetryPolicyState {
                hourly_exists: rows.first().and_then(|row| row.first()) == Some(&Value::Int(1)),
                ..TelemetryPolicyState::default()
            }
        }
    };
    let is_applied = |name: &str| applied.iter().any(|a| a.name == name);
    let policy = |after: Option<String>, name: &str| match after {
        Some(after) => PolicyState::Applied { after },
        None if is_applied(name) => PolicyState::NoOp,
        None => PolicyState::Pending,
    };
    Ok(Some(TelemetryPolicies {
        compression: policy(live.compress_after, COMPRESSION_MIGRATION),
        retention: policy(live.retain_for, RETENTION_MIGRATION),
        telemetry_hourly: match (live.hourly_continuous, live.hourly_exists) {
            (true, _) => HourlyKind::ContinuousAggregate,
            (false, true) => HourlyKind::View,
            (false, false) => HourlyKind::Absent,
        },
    }))
}
