//! `plantdb migrate adopt`: take over a database whose history lives in another tool's table.
//!
//! Adopt reads that table, maps it through [`super::adopt_manifest`], checks that what the old
//! history claims is really there (every table and column the corresponding plantdb migrations
//! define, compared column by column with what those migrations produce in a scratch
//! database), and records those migrations as applied without running them, all in one
//! transaction. Differences that lose nothing when converged are accepted and recorded;
//! incompatible ones refuse the adoption. It also records the older built-in versions it
//! leaves unapplied (the other domains' migrations) as *gaps*, which `migrate up` may then apply
//! out of order without `--allow-out-of-order`; any other out-of-order migration still stops it.

use std::collections::BTreeSet;

use super::adopt_manifest::{
    self as manifest, ALEMBIC_BRANCHES, ALEMBIC_CHAIN, ALEMBIC_LATER, ALEMBIC_SQUASH, AlembicEra,
    Source,
};
use super::converge::{self, ConvergePlan};
use super::expected::{Scratch, schema_of};
use super::source::MigrationSet;
use crate::config::TimescalePolicy;
use crate::db::postgres::TelemetryTable;
use crate::db::value::{Kind, Value};
use crate::db::{
    AdoptedVersion, Adoption, Dialect, Driver, HISTORY_TABLE, Locked, describe, table_exists,
};
use crate::error::{Error, Result, Version};
use crate::schema::{Comparison, Difference, Foreign, Schema, compare};

/// plantdb's record of adoptions: which versions adopt recorded (`adopted`) and which older
/// versions it left for `migrate up` to fill in (`gap`).
pub use crate::db::ADOPTION_TABLE;

#[derive(Debug, Clone, Copy)]
pub struct AdoptOptions {
    /// Report what would be recorded; change nothing.
    pub dry_run: bool,
    /// Drop the other tool's history table once the adoption is recorded.
    pub drop_foreign: bool,
    /// Also bring the adopted tables to plantdb's definitions (see [`converge`]).
    pub converge: bool,
    /// The TimescaleDB policy of the run: `require` holds for an adopted telemetry table too.
    pub timescale: TimescalePolicy,
}

impl Default for AdoptOptions {
    fn default() -> Self {
        AdoptOptions {
            dry_run: false,
            drop_foreign: false,
            converge: false,
            timescale: TimescalePolicy::Auto,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adopted {
    pub version: Version,
    pub name: String,
    /// What the other tool called it (for alembic: the head revision that implies it).
    pub foreign_id: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AdoptReport {
    pub source: Source,
    pub foreign_table: &'static str,
    /// What the other tool's table says, as read.
    pub foreign_history: Vec<String>,
    /// Recorded now (or, on a dry run, that would be).
    pub recorded: Vec<Adopted>,
    /// Already in plantdb's history: left as they are.
    pub already_recorded: Vec<Version>,
    /// Older versions left unapplied, which `migrate up` applies without complaint.
    pub gaps: Vec<Version>,
    pub dropped_foreign_table: bool,
    pub dry_run: bool,
    /// For alembic: which history of the SPC app the head belongs to, settled by the live
    /// schema when the id is ambiguous.
    pub era: Option<AlembicEra>,
    /// Differences from plantdb's definitions that lose nothing when converged (recorded).
    pub convergible: Vec<Difference>,
    /// Tables, columns and indexes the database has beyond plantdb's definitions: kept.
    pub not_plantdbs: Vec<Foreign>,
    /// With `--converge`: what was (or, on a dry run, would be) changed, and what was kept.
    pub converge: Option<ConvergePlan>,
}

/// What adopt decided, before it writes anything. Pure, see [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub record: Vec<Adopted>,
    pub already: Vec<Version>,
    pub gaps: Vec<Version>,
}

/// Maps the other tool's ids to built-in versions, refusing ids plantdb does not know.
pub fn claimed(source: Source, foreign: &[String]) -> Result<Vec<(Version, String)>> {
    let unknown = |ids: Vec<String>| {
        let known = match source {
            Source::Alembic => format!(
                "001 … 008 and the {} revisions after them up to {} (the SPC app's original chain), and {} (since its squash)",
                ALEMBIC_LATER.len(),
                ALEMBIC_LATER.last().copied().unwrap_or_default(),
                ALEMBIC_SQUASH.join(", ")
            ),
            _ => manifest::entries(source)
                .flat_map(|e| e.foreign_ids.iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
        };
        Error::AdoptUnknown {
            table: source.table().to_string(),
            ids,
            known,
        }
    };
    match source {
        Source::Alembic => {
            let heads: Vec<&str> = foreign
                .iter()
                .map(|id| id.trim())
                .filter(|id| !id.is_empty())
                .collect();
            if heads.is_empty() {
                return Ok(Vec::new());
            }
            let unknown_ids: Vec<String> = heads
                .iter()
                .filter(|id| manifest::alembic_readings(id).is_empty())
                .map(|id| id.to_string())
                .collect();
            if !unknown_ids.is_empty() {
                return Err(unknown(unknown_ids));
            }
            // alembic keeps one row per head, and several heads exist only between a branch
            // point and its merge.
            if heads.len() > 1
                && !ALEMBIC_BRANCHES
                    .iter()
                    .any(|b| heads.iter().all(|h| b.contains(h)))
            {
                return Err(Error::AdoptMismatch {
                    table: source.table().to_string(),
                    problems: vec![format!(
                        "it holds {} rows ({}), but alembic keeps several rows only between a branch point and its merge, one per branch, and these are not the heads of one such stretch",
                        heads.len(),
                        heads.join(", ")
                    )],
                });
            }
            // Every revision after `008`, in either era, means everything up to add_plant.
            let up_to = heads
                .iter()
                .flat_map(|id| manifest::alembic_readings(id))
                .map(|(_, at)| at.unwrap_or(ALEMBIC_CHAIN.len() - 1))
                .max()
                .unwrap_or(0);
            let label = heads.join(", ");
            Ok(ALEMBIC_CHAIN[..=up_to]
                .iter()
                .filter_map(|(_, version)| *version)
                .map(|version| (version, label.clone()))
                .collect())
        }
        Source::NodePgMigrate | Source::SchemaMigrations => {
            let mut out = Vec::new();
            let mut bad = Vec::new();
            for id in foreign {
                let id = id.trim();
                match manifest::entries(source).find(|e| e.foreign_ids.contains(&id)) {
                    Some(entry) if !out.iter().any(|(v, _)| *v == entry.version) => {
                        out.push((entry.version, id.to_string()));
                    }
                    Some(_) => {}
                    None => bad.push(id.to_string()),
                }
            }
            if !bad.is_empty() {
                return Err(unknown(bad));
            }
            out.sort();
            Ok(out)
        }
    }
}

/// What the schema lacks of what `version` creates, as readable phrases.
fn missing_objects(version: Version, schema: &Schema) -> Vec<String> {
    let Some(entry) = manifest::entry(version) else {
        return Vec::new();
    };
    let mut missing: Vec<String> = entry
        .tables
        .iter()
        .filter(|t| !schema.tables.contains_key(**t))
        .map(|t| format!("table `{t}`"))
        .collect();
    for (table, column) in entry.columns {
        let present = schema
            .tables
            .get(*table)
            .is_some_and(|t| t.columns.iter().any(|c| c.name == *column));
        if !present {
            missing.push(format!("column `{table}.{column}`"));
        }
    }
    missing
}

/// Decides what to record. `applied` is plantdb's history, `claimed` what the other tool's
/// history implies. Refuses, naming every disagreement, when the old history claims objects
/// that do not exist, or denies migrations whose tables do exist.
pub fn decide(
    set: &MigrationSet,
    source: Source,
    applied: &BTreeSet<Version>,
    claimed: &[(Version, String)],
    schema: &Schema,
) -> Result<Decision> {
    let table = source.table();
    let mut problems = Vec::new();
    let mut record = Vec::new();
    let mut already = Vec::new();
    for (version, foreign_id) in claimed {
        let Some(migration) = set.get(*version) else {
            problems.push(format!(
                "`{foreign_id}` corresponds to migration {version}, which is not among the migrations in use ({})",
                set.origin
            ));
            continue;
        };
        if applied.contains(version) {
            already.push(*version);
            continue;
        }
        let missing = missing_objects(*version, schema);
        if !missing.is_empty() {
            problems.push(format!(
                "it says `{foreign_id}` is applied, so {version} {} should exist, but {} does not",
                migration.name,
                missing.join(", ")
            ));
        }
        record.push(Adopted {
            version: *version,
            name: migration.name.clone(),
            foreign_id: foreign_id.clone(),
        });
    }
    // The other direction: a migration of this source that the old history does not list, but
    // whose tables exist. Recording nothing would make `migrate up` fail on them later.
    for entry in manifest::entries(source) {
        if claimed.iter().any(|(v, _)| *v == entry.version) || applied.contains(&entry.version) {
            continue;
        }
        let present: Vec<&str> = entry
            .tables
            .iter()
            .copied()
            .filter(|t| schema.tables.contains_key(*t))
            .collect();
        if !present.is_empty() {
            problems.push(format!(
                "it does not list {} {}, but its table `{}` exists",
                entry.version,
                entry.name,
                present.join("`, `")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::AdoptMismatch {
            table: table.to_string(),
            problems,
        });
    }
    let gaps = gaps_created(set, applied, &record);
    Ok(Decision {
        record,
        already,
        gaps,
    })
}

/// The versions this adoption leaves behind: unapplied, older than the newest version it
/// records, and newer than everything applied before it (older pending versions were already
/// out of order before adopt, and adopt does not excuse them).
pub fn gaps_created(
    set: &MigrationSet,
    applied: &BTreeSet<Version>,
    record: &[Adopted],
) -> Vec<Version> {
    let Some(newest) = record.iter().map(|a| a.version).max() else {
        return Vec::new();
    };
    let previous_latest = applied.last().copied();
    set.migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < newest)
        .filter(|v| !applied.contains(v) && !record.iter().any(|a| a.version == *v))
        .filter(|v| previous_latest.is_none_or(|latest| *v > latest))
        .collect()
}

pub fn adopt(
    driver: &mut dyn Driver,
    scratch: Scratch,
    set: &MigrationSet,
    source: Source,
    options: AdoptOptions,
) -> Result<AdoptReport> {
    if options.dry_run {
        let checked = decide_on(driver, scratch, set, source)?;
        let plan = prepare(driver, set, &checked.decision, options)?;
        return Ok(report(source, checked, false, true, plan));
    }
    // A SQLite rebuild drops and renames tables that others reference, which needs foreign
    // keys off; SQLite ignores that switch inside a transaction, so it is turned off before
    // the lock (a transaction) is taken, and checked by `converge::apply` before commit.
    let rebuilds = options.converge && driver.dialect() == Dialect::Sqlite;
    if rebuilds {
        driver.execute("PRAGMA foreign_keys = OFF")?;
    }
    let outcome = adopt_locked(driver, scratch, set, source, options);
    if rebuilds {
        let restored = driver.execute("PRAGMA foreign_keys = ON");
        return outcome.and_then(|report| restored.map(|()| report));
    }
    outcome
}

fn adopt_locked(
    driver: &mut dyn Driver,
    scratch: Scratch,
    set: &MigrationSet,
    source: Source,
    options: AdoptOptions,
) -> Result<AdoptReport> {
    let mut locked = Locked::new(driver)?;
    let checked = decide_on(&mut *locked, scratch, set, source)?;
    let plan = prepare(&mut *locked, set, &checked.decision, options)?;
    // The history table, the history rows, the gaps, the convergence and the optional drop
    // commit together or not at all.
    locked.transaction(|driver| {
        write(driver, set, source, &checked, options.drop_foreign)?;
        match &plan {
            Some(plan) => converge::apply(driver, plan),
            None => Ok(()),
        }
    })?;
    locked.release()?;
    Ok(report(source, checked, options.drop_foreign, false, plan))
}

/// What must hold before anything is written, and the convergence plan when asked for.
fn prepare(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    decision: &Decision,
    options: AdoptOptions,
) -> Result<Option<ConvergePlan>> {
    let mut versions: BTreeSet<Version> = driver.applied()?.iter().map(|a| a.version).collect();
    versions.extend(decision.record.iter().map(|a| a.version));
    if options.timescale == TimescalePolicy::Require {
        check_timescale_required(driver, &versions)?;
    }
    if !options.converge {
        return Ok(None);
    }
    converge::plan(driver, set, &versions).map(Some)
}

/// On a database plantdb migrates itself, `--timescale require` makes the telemetry migration
/// fail unless telemetry becomes a hypertable. Adopting records that migration without running
/// it, so the promise is checked here instead: a plain telemetry table is refused.
fn check_timescale_required(driver: &mut dyn Driver, versions: &BTreeSet<Version>) -> Result<()> {
    let defines_telemetry = versions
        .iter()
        .any(|v| manifest::entry(*v).is_some_and(|entry| entry.tables.contains(&"telemetry")));
    if !defines_telemetry {
        return Ok(());
    }
    let Some(postgres) = driver.as_postgres() else {
        return Err(Error::TimescaleRequiresPostgres);
    };
    let state = postgres.timescale()?;
    if state.telemetry == TelemetryTable::PlainTable {
        return Err(Error::AdoptTimescaleRequired {
            what: state.telemetry.describe().to_string(),
        });
    }
    Ok(())
}

/// What adopt found before writing: the decision, the other tool's history as read, and how
/// the live tables compare with what the adopted migrations produce.
struct Checked {
    decision: Decision,
    foreign: Vec<String>,
    era: Option<AlembicEra>,
    comparison: Comparison,
}

/// Reads both histories and the schema, then decides. Reads only (the expected schema is
/// built in a scratch database, never in this one).
fn decide_on(
    driver: &mut dyn Driver,
    scratch: Scratch,
    set: &MigrationSet,
    source: Source,
) -> Result<Checked> {
    if !table_exists(driver, source.table())? {
        return Err(Error::AdoptNoHistory {
            table: source.table().to_string(),
            source_name: source.as_str().to_string(),
        });
    }
    let foreign: Vec<String> = driver
        .query(source.history_query(), &[], &[Kind::Text])
        .map_err(|e| match e {
            // Say which table did not look as the old tool leaves it.
            Error::Database {
                message,
                source: cause,
                ..
            } => Error::Database {
                context: format!(
                    "cannot read the {} history `{}`",
                    source.as_str(),
                    source.table()
                ),
                message,
                source: cause,
            },
            other => other,
        })?
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Value::Text(id)) => Some(id),
            _ => None,
        })
        .collect();
    let claimed = claimed(source, &foreign)?;
    let applied: BTreeSet<Version> = driver.applied()?.iter().map(|a| a.version).collect();
    let schema = driver.schema()?;
    let decision = decide(set, source, &applied, &claimed, &schema)?;
    let era = alembic_era(source, &foreign, &schema);

    // Column by column: what the claimed migrations produce against what is there.
    let versions: BTreeSet<Version> = decision
        .record
        .iter()
        .map(|a| a.version)
        .chain(decision.already.iter().copied())
        .collect();
    let comparison = if versions.is_empty() {
        Comparison::default()
    } else {
        let expected = schema_of(scratch.target, scratch.timescale, set, &versions)?;
        let mut live = describe(driver)?;
        for bookkeeping in [HISTORY_TABLE, ADOPTION_TABLE, source.table()] {
            live.schema.tables.remove(bookkeeping);
            live.spellings.remove(bookkeeping);
        }
        compare(&expected, &live)
    };
    let incompatible: Vec<String> = comparison.incompatible().map(ToString::to_string).collect();
    if !incompatible.is_empty() {
        return Err(Error::AdoptIncompatible {
            table: source.table().to_string(),
            says: foreign.join(", "),
            problems: incompatible,
            note: ambiguity_note(source, &foreign),
        });
    }
    Ok(Checked {
        decision,
        foreign,
        era,
        comparison,
    })
}

/// Which history the alembic head belongs to. An id both eras use (`a1b2c3d4e5f6`) is settled
/// by the live schema: the squash-era revision of that id adds `audit_log.plant_id`.
fn alembic_era(source: Source, foreign: &[String], schema: &Schema) -> Option<AlembicEra> {
    if source != Source::Alembic {
        return None;
    }
    let readings: BTreeSet<AlembicEra> = foreign
        .iter()
        .flat_map(|id| manifest::alembic_readings(id.trim()))
        .map(|(era, _)| era)
        .collect();
    if readings.len() <= 1 {
        return readings.into_iter().next();
    }
    let audit_log_has_plant = schema
        .tables
        .get("audit_log")
        .is_some_and(|t| t.columns.iter().any(|c| c.name == "plant_id"));
    Some(if audit_log_has_plant {
        AlembicEra::Squash
    } else {
        AlembicEra::OriginalLater
    })
}

/// Why an ambiguous alembic id was read the way it was, for a refusal's message.
fn ambiguity_note(source: Source, foreign: &[String]) -> Option<String> {
    let ambiguous: Vec<&str> = foreign
        .iter()
        .map(|id| id.trim())
        .filter(|id| source == Source::Alembic && manifest::alembic_readings(id).len() > 1)
        .collect();
    (!ambiguous.is_empty()).then(|| {
        format!(
            "`{}` has named different migrations over time (in the original chain, and since the squash audit_log_plant_id); every one of them comes after add_plant, so plantdb reads it as \"all of plantdb's SPC migrations\" and lets the live tables decide, and they do not hold them",
            ambiguous.join("`, `")
        )
    })
}

fn write(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    source: Source,
    checked: &Checked,
    drop_foreign: bool,
) -> Result<()> {
    let decision = &checked.decision;
    driver.ensure_history()?;
    let head = checked.foreign.join(", ");
    // What was accepted at adoption, so that `verify --live` tells it from later drift.
    let accepted = serde_json::to_string(&checked.comparison).map_err(|e| Error::Database {
        context: format!("cannot record the adoption in `{ADOPTION_TABLE}`"),
        message: e.to_string(),
        source: None,
    })?;
    let adopted = decision
        .record
        .iter()
        .map(|adopted| AdoptedVersion {
            version: adopted.version,
            name: &adopted.name,
            checksum: set.get(adopted.version).map_or("", |m| m.checksum.as_str()),
            foreign_id: &adopted.foreign_id,
        })
        .collect();
    driver.record_adoption(&Adoption {
        source: source.as_str(),
        adopted,
        gaps: &decision.gaps,
        foreign_head: Some(&head),
        accepted: Some(&accepted),
    })?;
    if drop_foreign {
        driver.execute(&format!("DROP TABLE {}", source.table()))?;
    }
    Ok(())
}

fn report(
    source: Source,
    checked: Checked,
    dropped: bool,
    dry_run: bool,
    converge: Option<ConvergePlan>,
) -> AdoptReport {
    let Checked {
        decision,
        foreign,
        era,
        comparison,
    } = checked;
    AdoptReport {
        source,
        foreign_table: source.table(),
        foreign_history: foreign,
        recorded: decision.record,
        already_recorded: decision.already,
        gaps: decision.gaps,
        dropped_foreign_table: dropped,
        dry_run,
        era,
        convergible: comparison.convergible().cloned().collect(),
        not_plantdbs: comparison.not_plantdbs,
        converge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Dialect;
    use crate::schema::{CanonicalType, Column, Table};

    fn built_in() -> MigrationSet {
        MigrationSet::built_in(Dialect::Sqlite).unwrap()
    }

    fn table(columns: &[&str]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|c| Column {
                    name: c.to_string(),
                    ty: CanonicalType::Text,
                    not_null: false,
                    default: None,
                })
                .collect(),
            primary_key: Vec::new(),
            uniques: Default::default(),
            foreign_keys: Default::default(),
            indexes: Default::default(),
            triggers: Default::default(),
        }
    }

    fn schema(tables: &[&str]) -> Schema {
        Schema {
            tables: tables
                .iter()
                .map(|t| (t.to_string(), table(&["id"])))
                .collect(),
            functions: Default::default(),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const SPC_TO_CONFIG: &[&str] = &[
        "hierarchy",
        "characteristic",
        "characteristic_rules",
        "sample",
        "measurement",
        "violation",
        "mqtt_broker",
        "characteristic_config",
    ];

    #[test]
    fn alembic_head_implies_the_chain_up_to_it() {
        let got = claimed(Source::Alembic, &ids(&["007"])).unwrap();
        let versions: Vec<Version> = got.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            versions,
            vec![20260202000000, 20260204000000, 20260206000000]
        );
        let by_file_name = claimed(Source::Alembic, &ids(&["20260207_add_plant"])).unwrap();
        assert_eq!(by_file_name.len(), 4);
        assert!(claimed(Source::Alembic, &[]).unwrap().is_empty());
        // A revision without a plantdb counterpart still implies everything before it.
        assert_eq!(claimed(Source::Alembic, &ids(&["005"])).unwrap().len(), 2);
    }

    #[test]
    fn unknown_ids_are_refused_by_name() {
        let err = claimed(Source::Alembic, &ids(&["0123456789ab"])).unwrap_err();
        assert!(err.to_string().contains("0123456789ab"), "{err}");
        let err = claimed(
            Source::NodePgMigrate,
            &ids(&[
                "1707345600001_create-organizations",
                "1707345600009_add-widgets",
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("1707345600009_add-widgets"),
            "{err}"
        );
        assert!(matches!(
            claimed(Source::Alembic, &ids(&["007", "008"])),
            Err(Error::AdoptMismatch { .. })
        ));
    }

    #[test]
    fn both_eras_and_branch_heads_imply_every_spc_migration() {
        let spc: Vec<Version> = manifest::entries(Source::Alembic)
            .map(|e| e.version)
            .collect();
        for heads in [
            &["009"][..],
            &["7eb49b0d3046"],
            &["c3d4e5f6a7b8"],
            &["f5006ab282e0"],
            &["a1b2c3d4e5f6"],
            &["b4c8f2a71d30", "b4c8f1a23d67", "f8e2a1b3c4d5"],
            &["e0f1a2b3c4d5", "d1e2f3a4b5c6"],
        ] {
            let got = claimed(Source::Alembic, &ids(heads)).unwrap();
            let versions: Vec<Version> = got.iter().map(|(v, _)| *v).collect();
            assert_eq!(versions, spc, "{heads:?}");
            assert!(got.iter().all(|(_, id)| *id == heads.join(", ")));
        }
        // Heads of different stretches, or of different eras, are not one alembic state.
        for heads in [
            &["b4c8f2a71d30", "d1e2f3a4b5c6"][..],
            &["009", "c3d4e5f6a7b8"],
        ] {
            assert!(
                matches!(
                    claimed(Source::Alembic, &ids(heads)),
                    Err(Error::AdoptMismatch { .. })
                ),
                "{heads:?}"
            );
        }
    }

    #[test]
    fn the_ambiguous_id_is_settled_by_audit_log_plant_id() {
        let mut with_plant = schema(&["audit_log"]);
        let era = |s: &Schema| alembic_era(Source::Alembic, &ids(&["a1b2c3d4e5f6"]), s);
        assert_eq!(era(&with_plant), Some(AlembicEra::OriginalLater));
        with_plant
            .tables
            .insert("audit_log".into(), table(&["id", "plant_id"]));
        assert_eq!(era(&with_plant), Some(AlembicEra::Squash));
        assert_eq!(
            alembic_era(Source::Alembic, &ids(&["008"]), &with_plant),
            Some(AlembicEra::OriginalUpToPlant)
        );
    }

    #[test]
    fn asyncpg_versions_with_or_without_names() {
        let got = claimed(
            Source::SchemaMigrations,
            &ids(&["001", "002_create_devices"]),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (20260209000001, "001".into()),
                (20260209000002, "002_create_devices".into())
            ]
        );
    }

    #[test]
    fn adopting_fleet_leaves_the_older_spc_versions_as_gaps() {
        let set = built_in();
        let claimed = claimed(
            Source::NodePgMigrate,
            &ids(&[
                "1707345600001_create-organizations",
                "1707345600002_create-factories",
                "1707345600003_create-gateways",
            ]),
        )
        .unwrap();
        let decision = decide(
            &set,
            Source::NodePgMigrate,
            &BTreeSet::new(),
            &claimed,
            &schema(&["organizations", "factories", "gateways", "pgmigrations"]),
        )
        .unwrap();
        assert_eq!(decision.record.len(), 3);
        assert_eq!(
            decision.gaps,
            vec![
                20260202000000,
                20260204000000,
                20260206000000,
                20260207000000
            ]
        );
    }

    #[test]
    fn refuses_when_a_claimed_table_is_missing_or_an_unclaimed_one_exists() {
        let set = built_in();
        let claimed = claimed(Source::Alembic, &ids(&["007"])).unwrap();
        let without_config = &SPC_TO_CONFIG[..7];
        let err = decide(
            &set,
            Source::Alembic,
            &BTreeSet::new(),
            &claimed,
            &schema(without_config),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`characteristic_config`") && text.contains("alembic_version"),
            "{text}"
        );

        let mut tables = SPC_TO_CONFIG.to_vec();
        tables.push("plant");
        let err = decide(
            &set,
            Source::Alembic,
            &BTreeSet::new(),
            &claimed,
            &schema(&tables),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`plant` exists"), "{err}");
    }

    #[test]
    fn add_plant_needs_its_columns() {
        let set = built_in();
        let claimed = claimed(Source::Alembic, &ids(&["008"])).unwrap();
        let mut tables = SPC_TO_CONFIG.to_vec();
        tables.push("plant");
        let err = decide(
            &set,
            Source::Alembic,
            &BTreeSet::new(),
            &claimed,
            &schema(&tables),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`hierarchy.plant_id`"), "{err}");
    }

    #[test]
    fn rerun_records_nothing_new() {
        let set = built_in();
        let claimed = claimed(Source::SchemaMigrations, &ids(&["001", "002"])).unwrap();
        let applied: BTreeSet<Version> = [20260209000001, 20260209000002].into();
        let decision = decide(
            &set,
            Source::SchemaMigrations,
            &applied,
            &claimed,
            &schema(&[]),
        )
        .unwrap();
        assert!(decision.record.is_empty());
        assert_eq!(decision.already.len(), 2);
        assert!(decision.gaps.is_empty());
    }

    #[test]
    fn gaps_never_excuse_versions_that_were_out_of_order_before() {
        let set = built_in();
        // 20260204000000 was skipped by the user before adopt: not adopt's gap.
        let applied: BTreeSet<Version> = [20260202000000, 20260206000000].into();
        let record = vec![Adopted {
            version: 20260208000001,
            name: "create_organizations".into(),
            foreign_id: "x".into(),
        }];
        assert_eq!(gaps_created(&set, &applied, &record), vec![20260207000000]);
    }
}
