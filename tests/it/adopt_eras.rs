//! Taking over the databases the SPC application's real alembic history leaves: column by
//! column, in both eras of that history, and keeping them honest afterwards.

use std::collections::BTreeSet;

use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::{self, Access};
use plantdb::migrate::MigrationSet;
use plantdb::migrate::expected::schema_of;
use plantdb::schema::{Aspect, Comparison, Verdict, compare};

use crate::support::spc_alembic::{self, Stage};
use crate::support::{TestDb, each_dialect};

const SPC: [i64; 4] = [
    20260202000000,
    20260204000000,
    20260206000000,
    20260207000000,
];

/// The live database against what plantdb's SPC migrations up to `add_plant` produce.
fn compare_with_spc(db: &TestDb, versions: &[i64]) -> Comparison {
    let target = Target::parse(&db.url()).unwrap();
    let mut driver = db::connect(&target, Access::ReadOnly, TimescalePolicy::Off).unwrap();
    let set = MigrationSet::built_in(driver.dialect()).unwrap();
    let versions: BTreeSet<i64> = versions.iter().copied().collect();
    let expected = schema_of(&target, TimescalePolicy::Off, &set, &versions).unwrap();
    let live = db::describe(driver.as_mut()).unwrap();
    compare(&expected, &live)
}

fn has(c: &Comparison, table: &str, column: &str, aspect: Aspect, verdict: Verdict) -> bool {
    c.differences.iter().any(|d| {
        d.table == table
            && d.column.as_deref() == Some(column)
            && d.aspect == aspect
            && d.verdict == verdict
    })
}

#[test]
fn the_alembic_008_database_differs_only_in_convergible_ways_and_extras() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        let c = compare_with_spc(&db, &SPC);
        let incompatible: Vec<String> = c.incompatible().map(ToString::to_string).collect();
        assert!(incompatible.is_empty(), "{incompatible:#?}");
        // Missing server defaults.
        for (table, column) in [
            ("characteristic_rules", "is_enabled"),
            ("sample", "is_excluded"),
            ("sample", "timestamp"),
            ("violation", "acknowledged"),
            ("characteristic_config", "is_active"),
        ] {
            assert!(
                has(&c, table, column, Aspect::Default, Verdict::Convergible),
                "{table}.{column}: {c:#?}"
            );
        }
        // timestamp without time zone (PostgreSQL), DATETIME (SQLite).
        for (table, column) in [
            ("sample", "timestamp"),
            ("violation", "ack_timestamp"),
            ("characteristic_config", "created_at"),
        ] {
            assert!(
                has(&c, table, column, Aspect::Type, Verdict::Convergible),
                "{table}.{column}: {c:#?}"
            );
        }
        // VARCHAR without a length for plantdb's VARCHAR(255).
        assert!(has(
            &c,
            "hierarchy",
            "name",
            Aspect::Type,
            Verdict::Convergible
        ));
        let extras: Vec<String> = c.not_plantdbs.iter().map(ToString::to_string).collect();
        assert!(
            extras.contains(&"table `sample_edit_history`".to_string()),
            "{extras:?}"
        );
        for column in ["subgroup_mode", "decimal_precision", "stored_sigma"] {
            assert!(
                extras.contains(&format!("column `characteristic.{column}`")),
                "{extras:?}"
            );
        }
        let extra_columns = c.not_plantdbs.iter().filter(|f| f.kind == "column").count();
        assert_eq!(extra_columns, 14, "{extras:#?}");
    });
}

#[test]
fn a_database_past_017_lacks_plantdbs_characteristic_columns() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        spc_alembic::move_to_data_sources(&db);
        let c = compare_with_spc(&db, &SPC);
        let incompatible: Vec<String> = c.incompatible().map(ToString::to_string).collect();
        assert_eq!(incompatible.len(), 3, "{incompatible:#?}");
        for column in ["provider_type", "mqtt_topic", "trigger_tag"] {
            assert!(has(
                &c,
                "characteristic",
                column,
                Aspect::Column,
                Verdict::Incompatible
            ));
        }
    });
}
