//! Citus: whether a PostgreSQL database is a Citus coordinator with workers, and what
//! `--citus auto|require|off` makes of it. The decision is taken once per connection, before
//! anything is written, and handed to the migrations in the session setting `plantdb.citus`
//! (`on` when Citus distributes the tables; unset otherwise).
//!
//! TimescaleDB and Citus are alternatives for the telemetry table: a hypertable cannot be
//! distributed, and a table that stays local cannot reference a distributed one. When both
//! could be used, Citus wins under `auto`, since a cluster exists to spread the data over its
//! workers, and the session's TimescaleDB policy becomes `off`. `--timescale require` (with
//! `--citus auto`) or `--citus off` selects TimescaleDB instead; both `require` is refused.

use super::Driver;
use crate::config::{CitusPolicy, Dialect, TimescalePolicy};
use crate::error::{Error, Result};

/// What Citus looks like on a database.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CitusState {
    /// The server can install the extension (`pg_available_extensions`).
    pub available: bool,
    /// The extension is installed in this database.
    pub installed: bool,
    /// `citus` is in `shared_preload_libraries` (`null` when this role may not see it).
    pub preloaded: Option<bool>,
    /// The active primary workers of the cluster this database coordinates.
    pub workers: Vec<CitusWorker>,
    /// The tables Citus manages here (`citus_tables`), by name.
    pub tables: Vec<CitusTable>,
    /// This session distributes the tables (`--citus` allowed it and Citus can be used).
    pub in_use: bool,
}

/// A table Citus manages, as `citus_tables` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CitusTable {
    pub name: String,
    /// `distributed`, `reference` or `local`.
    pub kind: String,
    /// `null` for a reference or local table.
    pub distribution_column: Option<String>,
    pub shard_count: i64,
}

/// A worker node as the coordinator's `pg_dist_node` names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CitusWorker {
    pub host: String,
    pub port: u16,
}

/// Whether Citus distributes the tables of this session's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Ordinary local tables (TimescaleDB may still make telemetry a hypertable).
    Plain,
    /// Citus distributes the tables; telemetry is not a hypertable.
    Citus,
}

/// Whether Citus is available, installed and preloaded; read together with the session set-up,
/// in the same message, so a plain server pays no extra round trip.
pub(super) const CITUS_PROBE: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus'),
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus'),
            (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries')";

/// The workers that hold shards: active primaries outside the coordinator's group 0. Only
/// valid where the extension is installed (`pg_dist_node` is one of its tables).
pub(super) const CITUS_WORKERS: &str = "SELECT nodename, nodeport FROM pg_dist_node
     WHERE noderole = 'primary' AND isactive AND groupid <> 0
     ORDER BY nodename, nodeport";

/// The tables Citus manages; like [`CITUS_WORKERS`], only where the extension is installed.
pub(super) const CITUS_TABLES: &str =
    "SELECT table_name::text, citus_table_type, distribution_column, shard_count
     FROM citus_tables ORDER BY 1";

/// Refuses, before any database is opened or created, the policies no server can satisfy.
pub fn check_policies(
    citus: CitusPolicy,
    timescale: TimescalePolicy,
    dialect: Dialect,
) -> Result<()> {
    if citus != CitusPolicy::Require {
        return Ok(());
    }
    if dialect == Dialect::Sqlite {
        return Err(Error::CitusRequiresPostgres);
    }
    if timescale == TimescalePolicy::Require {
        return Err(Error::CitusTimescaleConflict);
    }
    Ok(())
}

/// Whether the policies leave anything to ask the server: `off`, and `auto` next to
/// `--timescale require`, are plain whatever the server has.
fn needs_state(citus: CitusPolicy, timescale: TimescalePolicy) -> bool {
    match citus {
        CitusPolicy::Off => false,
        CitusPolicy::Auto => timescale != TimescalePolicy::Require,
        CitusPolicy::Require => true,
    }
}

impl CitusState {
    /// Why Citus cannot distribute this database's tables, with what to do about it; `None`
    /// when it can. plantdb never creates the extension itself: a cluster is set up on purpose,
    /// on the coordinator and every worker.
    pub fn unusable(&self) -> Option<(String, String)> {
        if !self.available {
            return Some((
                "the citus extension is not available on this server".into(),
                "install Citus on the coordinator and every worker, preload it, create the extension and add the workers (see README, Citus); or use --citus auto|off".into(),
            ));
        }
        if !self.installed {
            let reason = if self.preloaded == Some(false) {
                "the citus extension is not installed in this database, and citus is not in shared_preload_libraries"
            } else {
                "the citus extension is not installed in this database"
            };
            return Some((
                reason.into(),
                "with citus in shared_preload_libraries, run CREATE EXTENSION citus in this database on the coordinator and every worker, then citus_set_coordinator_host and citus_add_node on the coordinator; or use --citus auto|off".into(),
            ));
        }
        if self.workers.is_empty() {
            return Some((
                "this database has no active Citus worker (pg_dist_node lists none)".into(),
                "add the workers on the coordinator with SELECT citus_add_node('HOST', PORT), or use --citus auto|off".into(),
            ));
        }
        None
    }
}

/// What the policies make of a database's Citus state. `host` names the server in a refusal.
pub fn decide(
    citus: CitusPolicy,
    timescale: TimescalePolicy,
    state: &CitusState,
    host: &str,
) -> Result<Distribution> {
    check_policies(citus, timescale, Dialect::Postgres)?;
    if !needs_state(citus, timescale) {
        return Ok(Distribution::Plain);
    }
    match (state.unusable(), citus) {
        (None, _) => Ok(Distribution::Citus),
        (Some((reason, hint)), CitusPolicy::Require) => Err(Error::CitusUnusable {
            host: host.to_string(),
            reason,
            hint,
        }),
        (Some(_), _) => Ok(Distribution::Plain),
    }
}

/// Decides for a connected database and tells its session, before anything is written: a
/// `--citus require` that cannot be met fails here. Reads nothing when the policies leave
/// nothing to decide, and one query more than the connection's set-up only on a database
/// where the extension is installed.
pub fn settle(
    driver: &mut dyn Driver,
    citus: CitusPolicy,
    timescale: TimescalePolicy,
) -> Result<Distribution> {
    check_policies(citus, timescale, driver.dialect())?;
    if !needs_state(citus, timescale) {
        return Ok(Distribution::Plain);
    }
    let Some(pg) = driver.as_postgres() else {
        return Ok(Distribution::Plain);
    };
    let state = pg.citus()?;
    let distribution = decide(citus, timescale, &state, pg.host())?;
    if distribution == Distribution::Citus {
        pg.use_citus()?;
    }
    Ok(distribution)
}

/// The schema a table has once Citus distributes it, as the distribution migration leaves it
/// (`V20260301000001__citus_distribution.sql`): Citus enforces a unique key only with the
/// distribution column in it, so a primary key without the column gets the column in front
/// (and the column becomes NOT NULL), and other unique keys without it are gone. `expected`
/// comes from migrations run where Citus is not; this makes it what they make on `tables`.
pub fn expect_distributed(expected: &mut crate::schema::Schema, tables: &[CitusTable]) {
    for citus_table in tables {
        let (Some(column), Some(table)) = (
            citus_table.distribution_column.as_deref(),
            expected.tables.get_mut(&citus_table.name),
        ) else {
            continue;
        };
        let has_column = |key: &[String]| key.iter().any(|k| k == column);
        if !table.primary_key.is_empty() && !has_column(&table.primary_key) {
            table.primary_key.insert(0, column.to_string());
            if let Some(c) = table.columns.iter_mut().find(|c| c.name == column) {
                c.not_null = true;
            }
        }
        table.uniques.retain(|key| has_column(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distributed_table_is_expected_with_the_distribution_column_in_every_unique_key() {
        use crate::schema::{CanonicalType, Column, Schema, Table};
        let column = |name: &str, not_null: bool| Column {
            name: name.into(),
            ty: CanonicalType::Text,
            not_null,
            default: None,
        };
        let table = Table {
            columns: vec![column("id", true), column("device_id", false)],
            primary_key: vec!["id".into()],
            uniques: [vec!["device_id".into(), "id".into()], vec!["id".into()]].into(),
            foreign_keys: Default::default(),
            indexes: Default::default(),
            triggers: Default::default(),
        };
        let mut schema = Schema {
            tables: [
                ("alerts".to_string(), table.clone()),
                ("plants".to_string(), table),
            ]
            .into(),
            functions: Default::default(),
        };
        let citus_table = |name: &str, column: Option<&str>| CitusTable {
            name: name.into(),
            kind: if column.is_some() {
                "distributed"
            } else {
                "reference"
            }
            .into(),
            distribution_column: column.map(Into::into),
            shard_count: 32,
        };
        expect_distributed(
            &mut schema,
            &[
                citus_table("alerts", Some("device_id")),
                citus_table("plants", None),
            ],
        );
        let alerts = &schema.tables["alerts"];
        assert_eq!(alerts.primary_key, ["device_id", "id"]);
        assert!(alerts.columns[1].not_null);
        assert_eq!(
            alerts.uniques,
            [vec!["device_id".to_string(), "id".to_string()]].into()
        );
        // A reference table keeps its keys.
        assert_eq!(schema.tables["plants"].primary_key, ["id"]);
        assert_eq!(schema.tables["plants"].uniques.len(), 2);
    }

    fn coordinator(workers: usize) -> CitusState {
        CitusState {
            available: true,
            installed: true,
            preloaded: Some(true),
            workers: (0..workers)
                .map(|i| CitusWorker {
                    host: "127.0.0.1".into(),
                    port: 9701 + i as u16,
                })
                .collect(),
            ..CitusState::default()
        }
    }

    fn decided(citus: CitusPolicy, timescale: TimescalePolicy, state: &CitusState) -> String {
        match decide(citus, timescale, state, "db.example:5432") {
            Ok(distribution) => format!("{distribution:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn auto_distributes_only_on_a_coordinator_with_a_worker() {
        use TimescalePolicy::Auto as Ts;
        assert_eq!(decided(CitusPolicy::Auto, Ts, &coordinator(2)), "Citus");
        assert_eq!(decided(CitusPolicy::Auto, Ts, &coordinator(0)), "Plain");
        let not_installed = CitusState {
            installed: false,
            ..coordinator(0)
        };
        assert_eq!(decided(CitusPolicy::Auto, Ts, &not_installed), "Plain");
        assert_eq!(
            decided(CitusPolicy::Auto, Ts, &CitusState::default()),
            "Plain"
        );
    }

    #[test]
    fn off_never_distributes_even_on_a_full_cluster() {
        assert_eq!(
            decided(CitusPolicy::Off, TimescalePolicy::Auto, &coordinator(2)),
            "Plain"
        );
    }

    #[test]
    fn require_names_the_missing_piece_and_the_server() {
        let require =
            |state: &CitusState| decided(CitusPolicy::Require, TimescalePolicy::Auto, state);
        assert_eq!(require(&coordinator(1)), "Citus");
        let missing = require(&CitusState::default());
        assert!(
            missing.contains("`db.example:5432`")
                && missing.contains("not available on this server"),
            "{missing}"
        );
        let not_installed = require(&CitusState {
            installed: false,
            preloaded: Some(false),
            ..coordinator(0)
        });
        assert!(
            not_installed.contains("not installed in this database")
                && not_installed.contains("shared_preload_libraries"),
            "{not_installed}"
        );
        let lonely = require(&coordinator(0));
        assert!(lonely.contains("no active Citus worker"), "{lonely}");
    }

    #[test]
    fn timescale_require_selects_timescaledb_and_both_require_is_refused() {
        assert_eq!(
            decided(CitusPolicy::Auto, TimescalePolicy::Require, &coordinator(2)),
            "Plain"
        );
        assert!(matches!(
            decide(
                CitusPolicy::Require,
                TimescalePolicy::Require,
                &coordinator(2),
                "h"
            ),
            Err(Error::CitusTimescaleConflict)
        ));
        assert!(matches!(
            check_policies(CitusPolicy::Require, TimescalePolicy::Auto, Dialect::Sqlite),
            Err(Error::CitusRequiresPostgres)
        ));
        assert!(
            check_policies(CitusPolicy::Auto, TimescalePolicy::Require, Dialect::Sqlite).is_ok()
        );
    }
}
