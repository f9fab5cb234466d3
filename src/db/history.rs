//! plantdb's own tables: the migration history and the adoption record. Their SQL lives here
//! only; the drivers run it, and the engine reaches these tables through driver methods.

use std::collections::BTreeSet;

use super::params::Params;
use super::value::{Kind, Value};
use super::{Dialect, Direction, Driver, Step};
use crate::error::{Result, Version};

/// The name of plantdb's own history table.
pub const HISTORY_TABLE: &str = "plantdb_migrations";

/// What `migrate adopt` recorded: the versions it took over and the gaps it left for
/// `migrate up` to fill out of order.
pub const ADOPTION_TABLE: &str = "plantdb_adoption";

/// The current time as each dialect stores it in these tables.
fn now(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "now()",
        Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    }
}

pub(super) fn create_history(dialect: Dialect) -> String {
    let (version_type, time_type) = column_types(dialect);
    let default = match dialect {
        Dialect::Postgres => now(dialect).to_string(),
        Dialect::Sqlite => format!("({})", now(dialect)),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                    version {version_type} PRIMARY KEY,
                    name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at {time_type} NOT NULL DEFAULT {default}
                )"
    )
}

fn column_types(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::Postgres => ("BIGINT", "TIMESTAMPTZ"),
        Dialect::Sqlite => ("INTEGER", "TEXT"),
    }
}

/// The history change a step makes: its row inserted going up, deleted going down.
pub(super) fn record_step(dialect: Dialect, step: &Step) -> (String, Params) {
    let mut params = Params::new(dialect);
    let sql = match step.direction {
        Direction::Up => format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, checksum, applied_at) VALUES ({}, {}, {}, {})",
            params.bind(Value::Int(step.version)),
            params.bind(Value::Text(step.name.to_string())),
            params.bind(Value::Text(step.checksum.to_string())),
            now(dialect)
        ),
        Direction::Down => format!(
            "DELETE FROM {HISTORY_TABLE} WHERE version = {}",
            params.bind(Value::Int(step.version))
        ),
    };
    (sql, params)
}

/// The history change of a step as one self-contained PostgreSQL statement, its values
/// written as literals: it then travels in the same simple-query message as the script, so a
/// step costs one round trip instead of one per statement plus a prepare.
pub(super) fn record_step_postgres_inline(step: &Step) -> String {
    match step.direction {
        Direction::Up => format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, checksum, applied_at) VALUES ({}, {}, {}, {})",
            step.version,
            postgres_text_literal(step.name),
            postgres_text_literal(step.checksum),
            now(Dialect::Postgres)
        ),
        Direction::Down => format!(
            "DELETE FROM {HISTORY_TABLE} WHERE version = {}",
            step.version
        ),
    }
}

/// `E'…'` with quotes and backslashes escaped: read the same whatever the server's
/// `standard_conforming_strings` says.
fn postgres_text_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The history, oldest first, with `applied_at` as RFC 3339 UTC text.
pub(super) fn select_applied(dialect: Dialect) -> String {
    let applied_at = match dialect {
        Dialect::Postgres => {
            "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        }
        Dialect::Sqlite => "applied_at",
    };
    format!("SELECT version, name, checksum, {applied_at} FROM {HISTORY_TABLE} ORDER BY version")
}

/// The latest applied version (SQLite checks it again after re-taking its lock).
pub(super) const SELECT_LATEST: &str = "SELECT max(version) FROM plantdb_migrations";

pub(super) fn set_checksum<D: Driver + ?Sized>(
    driver: &mut D,
    version: Version,
    checksum: &str,
) -> Result<()> {
    let mut params = Params::new(driver.dialect());
    let sql = format!(
        "UPDATE {HISTORY_TABLE} SET checksum = {} WHERE version = {}",
        params.bind(Value::Text(checksum.to_string())),
        params.bind(Value::Int(version))
    );
    driver.query(&sql, params.values(), &[]).map(|_| ())
}

/// One version `migrate adopt` records as applied.
#[derive(Debug, Clone)]
pub struct AdoptedVersion<'a> {
    pub version: Version,
    pub name: &'a str,
    pub checksum: &'a str,
    /// The other tool's id for it.
    pub foreign_id: &'a str,
}

/// What one `migrate adopt` writes into plantdb's tables.
#[derive(Debug, Clone)]
pub struct Adoption<'a> {
    /// The tool whose history is taken over (`alembic`…).
    pub source: &'a str,
    pub adopted: Vec<AdoptedVersion<'a>>,
    /// Older versions left unapplied, which `migrate up` may apply out of order.
    pub gaps: &'a [Version],
    /// What the other tool's history said (for alembic: its head or heads).
    pub foreign_head: Option<&'a str>,
    /// The differences from plantdb's definitions accepted at adoption, as JSON (a
    /// `schema::Comparison`): `verify --live` does not count them as drift.
    pub accepted: Option<&'a str>,
}

/// Columns the adoption table gained after it was first released, with their types: added in
/// place to tables of older plantdb versions, so the record never needs a migration of its own.
const ADOPTION_LATER_COLUMNS: &[(&str, &str)] = &[("foreign_head", "TEXT"), ("accepted", "TEXT")];

/// Creates the adoption table, or brings one of an older plantdb to today's shape.
fn ensure_adoption_table<D: Driver + ?Sized>(driver: &mut D) -> Result<()> {
    let dialect = driver.dialect();
    let (version_type, time_type) = column_types(dialect);
    driver.execute(&format!(
        "CREATE TABLE IF NOT EXISTS {ADOPTION_TABLE} (
            version {version_type} PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('adopted', 'gap')),
            source TEXT NOT NULL,
            foreign_id TEXT,
            recorded_at {time_type} NOT NULL,
            foreign_head TEXT,
            accepted TEXT
        )"
    ))?;
    for (column, ty) in ADOPTION_LATER_COLUMNS {
        match dialect {
            Dialect::Postgres => driver.execute(&format!(
                "ALTER TABLE {ADOPTION_TABLE} ADD COLUMN IF NOT EXISTS {column} {ty}"
            ))?,
            Dialect::Sqlite => {
                let mut params = Params::new(dialect);
                let sql = format!(
                    "SELECT count(*) FROM pragma_table_info('{ADOPTION_TABLE}') WHERE name = {}",
                    params.bind(Value::Text(column.to_string()))
                );
                let rows = driver.query(&sql, params.values(), &[Kind::Int])?;
                if matches!(rows.first().and_then(|r| r.first()), Some(Value::Int(0))) {
                    driver.execute(&format!(
                        "ALTER TABLE {ADOPTION_TABLE} ADD COLUMN {column} {ty}"
                    ))?;
                }
            }
        }
    }
    Ok(())
}

/// Writes an adoption in the caller's transaction: the history rows, and the adoption table
/// (created when missing) with one row per adopted version and per gap.
pub(super) fn record_adoption<D: Driver + ?Sized>(
    driver: &mut D,
    adoption: &Adoption,
) -> Result<()> {
    let dialect = driver.dialect();
    let now = now(dialect);
    ensure_adoption_table(driver)?;
    let mut run = |sql: String, params: Params| -> Result<()> {
        driver.query(&sql, params.values(), &[]).map(|_| ())
    };
    for adopted in &adoption.adopted {
        let mut params = Params::new(dialect);
        let sql = format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, checksum, applied_at) VALUES ({}, {}, {}, {now})",
            params.bind(Value::Int(adopted.version)),
            params.bind(Value::Text(adopted.name.to_string())),
            params.bind(Value::Text(adopted.checksum.to_string()))
        );
        run(sql, params)?;
        let mut params = Params::new(dialect);
        let text = |t: Option<&str>| t.map_or(Value::Null, |t| Value::Text(t.to_string()));
        let sql = format!(
            "INSERT INTO {ADOPTION_TABLE} \
             (version, kind, source, foreign_id, recorded_at, foreign_head, accepted) \
             VALUES ({}, 'adopted', {}, {}, {now}, {}, {}) \
             ON CONFLICT (version) DO UPDATE SET kind = excluded.kind, source = excluded.source, \
             foreign_id = excluded.foreign_id, recorded_at = excluded.recorded_at, \
             foreign_head = excluded.foreign_head, accepted = excluded.accepted",
            params.bind(Value::Int(adopted.version)),
            params.bind(Value::Text(adoption.source.to_string())),
            params.bind(Value::Text(adopted.foreign_id.to_string())),
            params.bind(text(adoption.foreign_head)),
            params.bind(text(adoption.accepted))
        );
        run(sql, params)?;
    }
    for gap in adoption.gaps {
        let mut params = Params::new(dialect);
        let sql = format!(
            "INSERT INTO {ADOPTION_TABLE} (version, kind, source, foreign_id, recorded_at) \
             VALUES ({}, 'gap', {}, NULL, {now}) ON CONFLICT (version) DO NOTHING",
            params.bind(Value::Int(*gap)),
            params.bind(Value::Text(adoption.source.to_string()))
        );
        run(sql, params)?;
    }
    Ok(())
}

/// The gaps adoption left, one version a row.
pub(super) fn select_gaps() -> String {
    format!("SELECT version FROM {ADOPTION_TABLE} WHERE kind = 'gap'")
}

/// The versions adoption left for `migrate up` to apply out of order. Read-only: an absent
/// table means none.
pub(super) fn adoption_gaps<D: Driver + ?Sized>(driver: &mut D) -> Result<BTreeSet<Version>> {
    if !super::table_exists(driver, ADOPTION_TABLE)? {
        return Ok(BTreeSet::new());
    }
    let rows = driver.query(&select_gaps(), &[], &[Kind::Int])?;
    Ok(rows
        .iter()
        .filter_map(|row| match row.first() {
            Some(Value::Int(version)) => Some(*version),
            _ => None,
        })
        .collect())
}

/// The versions adoption recorded as applied without running them. Read-only: an absent
/// table means none.
pub(super) fn adopted_versions<D: Driver + ?Sized>(driver: &mut D) -> Result<BTreeSet<Version>> {
    if !super::table_exists(driver, ADOPTION_TABLE)? {
        return Ok(BTreeSet::new());
    }
    let sql = format!("SELECT version FROM {ADOPTION_TABLE} WHERE kind = 'adopted'");
    let rows = driver.query(&sql, &[], &[Kind::Int])?;
    Ok(rows
        .iter()
        .filter_map(|row| match row.first() {
            Some(Value::Int(version)) => Some(*version),
            _ => None,
        })
        .collect())
}

/// The differences each adoption accepted, as the JSON it recorded (none from adoption
/// tables older than that record). Read-only.
pub(super) fn accepted_at_adoption<D: Driver + ?Sized>(driver: &mut D) -> Result<Vec<String>> {
    if !super::table_exists(driver, ADOPTION_TABLE)? {
        return Ok(Vec::new());
    }
    let has_column = match driver.dialect() {
        Dialect::Postgres => format!(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{ADOPTION_TABLE}' \
             AND column_name = 'accepted'"
        ),
        Dialect::Sqlite => format!(
            "SELECT count(*) FROM pragma_table_info('{ADOPTION_TABLE}') WHERE name = 'accepted'"
        ),
    };
    let rows = driver.query(&has_column, &[], &[Kind::Int])?;
    if matches!(rows.first().and_then(|r| r.first()), Some(Value::Int(0))) {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT DISTINCT accepted FROM {ADOPTION_TABLE} WHERE accepted IS NOT NULL");
    let rows = driver.query(&sql, &[], &[Kind::Text])?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_reads_the_same_whatever_standard_conforming_strings_says() {
        assert_eq!(postgres_text_literal("it's"), "E'it''s'");
        assert_eq!(postgres_text_literal(r"a\'b"), r"E'a\\''b'");
    }
}
