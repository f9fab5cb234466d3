//! `plantdb verify --live`: does the live database still have the schema its applied
//! migrations produce? A hotfix made by hand in production (an index dropped, a column added
//! or changed) shows up here with its table and column.
//!
//! The expected side is built the way adopt builds it: the applied migrations run in a scratch
//! database (see [`crate::migrate::expected`]), compared column by column
//! ([`crate::schema::compare`]). What plantdb does not own is listed apart and is never drift:
//! tables no applied migration defines, and on an adopted database what adopt accepted (the
//! other application's columns and indexes, the differences converge may still fix).

use std::collections::BTreeSet;

use crate::db::{ADOPTION_TABLE, Driver, HISTORY_TABLE, citus, describe};
use crate::error::{Error, Result, Version};
use crate::migrate::MigrationSet;
use crate::migrate::expected::{Scratch, schema_of};
use crate::schema::{Comparison, Difference, Foreign, compare};

#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveReport {
    pub url: String,
    /// The applied versions whose migrations define the expected schema.
    pub compared: Vec<Version>,
    /// Applied versions without a migration file: what they made cannot be expected.
    pub unknown_versions: Vec<Version>,
    /// How plantdb's objects differ from what their migrations produce: drift.
    pub drift: Vec<Difference>,
    /// Columns, indexes and keys on plantdb's tables that no migration defines: drift.
    pub added: Vec<Foreign>,
    /// Differences and extra objects adopt accepted: not drift.
    pub accepted_at_adoption: usize,
    /// Tables plantdb does not own: listed, never drift.
    pub not_plantdbs: Vec<Foreign>,
}

impl LiveReport {
    pub fn has_drift(&self) -> bool {
        !self.drift.is_empty() || !self.added.is_empty()
    }
}

/// Compares the live schema with what the applied migrations of `set` produce. Reads only.
pub fn live_drift(
    driver: &mut dyn Driver,
    scratch: Scratch,
    set: &MigrationSet,
    url: &str,
) -> Result<LiveReport> {
    let applied: BTreeSet<Version> = driver.applied()?.iter().map(|a| a.version).collect();
    let (compared, unknown): (BTreeSet<Version>, BTreeSet<Version>) =
        applied.iter().partition(|v| set.get(**v).is_some());
    let mut expected = schema_of(scratch.target, scratch.timescale, set, &compared)?;
    // The scratch database is not part of a cluster: what Citus's distribution changed is
    // expected where the live tables are distributed.
    if let Some(pg) = driver.as_postgres().filter(|pg| pg.citus_installed()) {
        citus::expect_distributed(&mut expected.schema, &pg.citus()?.tables);
    }
    let mut live = describe(driver)?;
    for own in [HISTORY_TABLE, ADOPTION_TABLE] {
        live.schema.tables.remove(own);
        live.spellings.remove(own);
    }
    let comparison = compare(&expected, &live);

    let mut accepted = Comparison::default();
    for text in driver.accepted_at_adoption()? {
        let recorded: Comparison = serde_json::from_str(&text).map_err(|e| Error::Database {
            context: format!("cannot read what `{ADOPTION_TABLE}` accepted at adoption"),
            message: e.to_string(),
            source: None,
        })?;
        accepted.differences.extend(recorded.differences);
        accepted.not_plantdbs.extend(recorded.not_plantdbs);
    }
    let mut accepted_count = 0;
    let mut drift = Vec::new();
    for difference in comparison.differences {
        if accepted.differences.contains(&difference) {
            accepted_count += 1;
        } else {
            drift.push(difference);
        }
    }
    let mut added = Vec::new();
    let mut not_plantdbs = Vec::new();
    for foreign in comparison.not_plantdbs {
        if foreign.object.is_none() {
            not_plantdbs.push(foreign);
        } else if accepted.not_plantdbs.contains(&foreign) {
            accepted_count += 1;
        } else {
            added.push(foreign);
        }
    }
    Ok(LiveReport {
        url: url.to_string(),
        compared: compared.into_iter().collect(),
        unknown_versions: unknown.into_iter().collect(),
        drift,
        added,
        accepted_at_adoption: accepted_count,
        not_plantdbs,
    })
}
