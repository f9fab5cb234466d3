//! Taking over the databases the SPC application's real alembic history leaves: column by
//! column, in both eras of that history, and keeping them honest afterwards.

use std::collections::BTreeSet;

use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::{self, Access};
use plantdb::migrate::MigrationSet;
use plantdb::migrate::expected::schema_of;
use plantdb::schema::{Aspect, Comparison, Verdict, compare};

use crate::adopt::plantdb;
use crate::support::spc_alembic::{self, Stage, scalar};
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

/// `plantdb --json migrate adopt --from alembic` on `db`: the exit code, the report (when it
/// succeeded) and stderr.
fn adopt(db: &TestDb) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = plantdb(dir.path())
        .args([
            "--database-url",
            &db.url(),
            "--json",
            "migrate",
            "adopt",
            "--from",
            "alembic",
        ])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), report, stderr)
}

fn recorded(report: &serde_json::Value) -> Vec<i64> {
    report["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect()
}

fn plantdb_tables(db: &TestDb) -> i64 {
    let sql = match db {
        TestDb::Postgres(_) => {
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'plantdb%'"
        }
        TestDb::Sqlite(_) => "SELECT count(*) FROM sqlite_master WHERE name LIKE 'plantdb%'",
    };
    scalar(db, sql)
}

fn text(db: &TestDb, sql: &str) -> String {
    match db {
        TestDb::Postgres(pg) => pg.client().query_one(sql, &[]).unwrap().get(0),
        TestDb::Sqlite(file) => file
            .connection()
            .query_row(sql, [], |row| row.get(0))
            .unwrap(),
    }
}

#[test]
fn the_007_and_008_databases_are_adopted_with_their_differences_recorded_and_no_row_lost() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At007);
        spc_alembic::stamp(&db, &["007"]);
        let before = spc_alembic::row_counts(&db);
        let (code, report, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(recorded(&report), SPC[..3]);
        assert_eq!(report["era"], "original-up-to-plant");
        let convergible = report["convergible"].as_array().unwrap();
        assert!(
            convergible
                .iter()
                .any(|d| d["table"] == "characteristic_config"
                    && d["column"] == "is_active"
                    && d["aspect"] == "default"
                    && d["found"] == "none"),
            "{report:#}"
        );
        let kept = report["not_plantdbs"].to_string();
        assert!(
            kept.contains("sample_edit_history") && kept.contains("z_score"),
            "{kept}"
        );
        assert_eq!(spc_alembic::row_counts(&db), before);
        assert_eq!(
            text(
                &db,
                "SELECT foreign_head FROM plantdb_adoption WHERE version = 20260206000000"
            ),
            "007"
        );
        // The accepted differences are recorded for `verify --live`.
        let accepted: serde_json::Value = serde_json::from_str(&text(
            &db,
            "SELECT accepted FROM plantdb_adoption WHERE version = 20260202000000",
        ))
        .unwrap();
        assert!(!accepted["differences"].as_array().unwrap().is_empty());
    });
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::stamp(&db, &["008"]);
        let before = spc_alembic::row_counts(&db);
        let (code, report, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(recorded(&report), SPC);
        assert_eq!(spc_alembic::row_counts(&db), before);
    });
}

#[test]
fn a_database_past_008_is_adopted_from_an_original_or_a_squash_era_head_keeping_its_extras() {
    for (head, era) in [
        ("042", "original-later"),
        ("7eb49b0d3046", "original-later"),
        ("c3d4e5f6a7b8", "squash"),
    ] {
        each_dialect(|db| {
            spc_alembic::build(&db, Stage::At008);
            spc_alembic::add_later_revisions(&db);
            spc_alembic::stamp(&db, &[head]);
            let before = spc_alembic::row_counts(&db);
            let (code, report, stderr) = adopt(&db);
            assert_eq!(code, 0, "{head}: {stderr}");
            assert_eq!(recorded(&report), SPC, "{head}");
            assert_eq!(report["era"], era, "{head}");
            let kept = report["not_plantdbs"].to_string();
            for extra in [
                "data_source",
                "audit_log",
                "user_plant_role",
                "ix_violation_char_id",
            ] {
                assert!(kept.contains(extra), "{head}: {extra} in {kept}");
            }
            assert_eq!(spc_alembic::row_counts(&db), before, "{head}");
            assert_eq!(
                text(
                    &db,
                    "SELECT foreign_head FROM plantdb_adoption WHERE version = 20260207000000"
                ),
                head
            );
        });
    }
}

#[test]
fn a_database_that_moved_past_plantdbs_columns_is_refused_even_when_relabelled_008() {
    for head in ["008", "c3d4e5f6a7b8"] {
        each_dialect(|db| {
            spc_alembic::build(&db, Stage::At008);
            spc_alembic::add_later_revisions(&db);
            spc_alembic::move_to_data_sources(&db);
            spc_alembic::stamp(&db, &[head]);
            let before = spc_alembic::row_counts(&db);
            let (code, _, stderr) = adopt(&db);
            assert_eq!(code, 1, "{head}: {stderr}");
            for column in ["provider_type", "mqtt_topic", "trigger_tag"] {
                assert!(
                    stderr.contains(&format!("`characteristic.{column}`: column expected")),
                    "{head}: {stderr}"
                );
            }
            assert!(stderr.contains("found absent"), "{stderr}");
            assert!(stderr.contains("`plantdb migrate baseline`"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            // Nothing written, nothing lost.
            assert_eq!(plantdb_tables(&db), 0, "{head}");
            assert_eq!(spc_alembic::row_counts(&db), before);
        });
    }
}

#[test]
fn the_ambiguous_a1b2c3d4e5f6_is_settled_by_the_live_schema_or_refused_with_the_reason() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        spc_alembic::add_audit_log_plant_id(&db);
        spc_alembic::stamp(&db, &["a1b2c3d4e5f6"]);
        let (code, report, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(report["era"], "squash");
        assert_eq!(recorded(&report), SPC);
    });
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        spc_alembic::stamp(&db, &["a1b2c3d4e5f6"]);
        let (code, report, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(report["era"], "original-later");
    });
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        spc_alembic::move_to_data_sources(&db);
        spc_alembic::add_audit_log_plant_id(&db);
        spc_alembic::stamp(&db, &["a1b2c3d4e5f6"]);
        let (code, _, stderr) = adopt(&db);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("`a1b2c3d4e5f6` has named different migrations over time"),
            "{stderr}"
        );
        assert!(
            stderr.contains("`characteristic.provider_type`"),
            "{stderr}"
        );
        assert_eq!(plantdb_tables(&db), 0);
    });
}

#[test]
fn several_alembic_rows_between_a_branch_point_and_its_merge_are_one_state() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        let heads = ["b4c8f2a71d30", "b4c8f1a23d67", "f8e2a1b3c4d5"];
        spc_alembic::stamp(&db, &heads);
        let (code, report, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(recorded(&report), SPC);
        assert_eq!(report["foreign_history"].as_array().unwrap().len(), 3);
        assert_eq!(
            text(
                &db,
                "SELECT foreign_id FROM plantdb_adoption WHERE version = 20260207000000"
            )
            .split(", ")
            .count(),
            3
        );
    });
    // Rows from two different stretches cannot be one alembic state.
    let db = TestDb::Sqlite(crate::support::SqliteFile::new());
    spc_alembic::build(&db, Stage::At008);
    spc_alembic::stamp(&db, &["b4c8f2a71d30", "d1e2f3a4b5c6"]);
    let (code, _, stderr) = adopt(&db);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("between a branch point and its merge"),
        "{stderr}"
    );
}

#[test]
fn migrate_down_stops_at_the_adoption_point_unless_asked() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::stamp(&db, &["008"]);
        let (code, _, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        let dir = tempfile::tempdir().unwrap();
        let url = db.url();
        plantdb(dir.path())
            .args(["--database-url", &url, "migrate", "up", "-q"])
            .assert()
            .success();
        let history = || scalar(&db, "SELECT count(*) FROM plantdb_migrations");
        let applied = history();
        let before = spc_alembic::row_counts(&db);

        for extra in [&[][..], &["--dry-run"]] {
            let output = plantdb(dir.path())
                .args(["--database-url", &url, "migrate", "down", "--to", "0"])
                .args(extra)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains("refusing to revert 20260207000000 add_plant"),
                "{stderr}"
            );
            assert!(stderr.contains("--below-adoption"), "{stderr}");
            assert!(stderr.contains("Flyway"), "{stderr}");
        }
        // Nothing was reverted: not even the migrations above the adoption point.
        assert_eq!(history(), applied);
        assert_eq!(spc_alembic::row_counts(&db), before);
        assert_eq!(scalar(&db, "SELECT count(*) FROM sample_edit_history"), 1);
        // Asked explicitly, the plan goes below it (shown here as a dry run).
        plantdb(dir.path())
            .args(["--database-url", &url, "migrate", "down", "--to", "0"])
            .args(["--below-adoption", "--dry-run"])
            .assert()
            .success()
            .stdout(predicates::str::contains("20260202000000"));

        // Above the adoption point, down works as ever.
        plantdb(dir.path())
            .args(["--database-url", &url, "migrate", "down", "--count", "1"])
            .assert()
            .success();
        assert_eq!(history(), applied - 1);
    });
}

/// `plantdb --json verify --live`: the exit code and the report.
fn verify_live(db: &TestDb) -> (i32, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let output = plantdb(dir.path())
        .args(["--database-url", &db.url(), "--json", "verify", "--live"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    (output.status.code().unwrap_or(-1), report)
}

fn named(list: &serde_json::Value, table: &str, what: &str) -> bool {
    list.as_array().unwrap().iter().any(|item| {
        item["table"] == table
            && match what {
                "" => item["object"].is_null(),
                _ => item["column"] == what || item["object"] == what,
            }
    })
}

#[test]
fn verify_live_reports_hand_made_hotfixes_on_a_database_plantdb_built() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        plantdb(dir.path())
            .args(["--database-url", &db.url(), "migrate", "up", "-q"])
            .assert()
            .success();
        // Another application's table is not plantdb's business.
        spc_alembic::execute(
            &db,
            "CREATE TABLE app_notes (id INTEGER PRIMARY KEY, note TEXT)",
        );
        let (code, report) = verify_live(&db);
        assert_eq!(code, 0, "{report:#}");
        assert!(report["drift"].as_array().unwrap().is_empty());
        assert!(
            named(&report["not_plantdbs"], "app_notes", ""),
            "{report:#}"
        );

        // The hotfixes: an index dropped, a column added.
        spc_alembic::execute(
            &db,
            "DROP INDEX ix_sample_char_id; ALTER TABLE sample ADD COLUMN hotfix_note TEXT;",
        );
        if let TestDb::Postgres(_) = db {
            // And a column changed (SQLite cannot change a column in place).
            spc_alembic::execute(
                &db,
                "ALTER TABLE violation ALTER COLUMN rule_name TYPE VARCHAR(50)",
            );
        }
        let (code, report) = verify_live(&db);
        assert_eq!(code, 4, "{report:#}");
        assert!(named(&report["drift"], "sample", "char_id"), "{report:#}");
        assert!(
            named(&report["added"], "sample", "hotfix_note"),
            "{report:#}"
        );
        if let TestDb::Postgres(_) = db {
            assert!(
                named(&report["drift"], "violation", "rule_name"),
                "{report:#}"
            );
        }
        assert!(!named(&report["added"], "app_notes", ""));
    });
}

#[test]
fn verify_live_accepts_what_adoption_accepted_and_reports_later_hotfixes() {
    each_dialect(|db| {
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::stamp(&db, &["008"]);
        let (code, _, stderr) = adopt(&db);
        assert_eq!(code, 0, "{stderr}");
        let (code, report) = verify_live(&db);
        assert_eq!(code, 0, "{report:#}");
        assert!(
            report["accepted_at_adoption"].as_i64().unwrap() > 14,
            "{report:#}"
        );
        assert!(
            named(&report["not_plantdbs"], "sample_edit_history", ""),
            "{report:#}"
        );

        spc_alembic::execute(&db, "DROP INDEX ix_violation_acknowledged");
        let (code, report) = verify_live(&db);
        assert_eq!(code, 4, "{report:#}");
        let drift = report["drift"].as_array().unwrap();
        assert_eq!(drift.len(), 1, "{report:#}");
        assert_eq!(drift[0]["table"], "violation");
        assert_eq!(drift[0]["column"], "acknowledged");
        assert_eq!(drift[0]["aspect"], "index");
    });
}

#[test]
fn an_adoption_table_of_an_older_plantdb_gains_the_new_columns_in_place() {
    each_dialect(|db| {
        crate::adopt::old_database(
            &db,
            &crate::adopt::versions_of(plantdb::migrate::adopt_manifest::Source::NodePgMigrate),
            crate::adopt::PGMIGRATIONS_HISTORY,
        );
        // The shape older plantdb versions wrote, with a row of theirs.
        let time = match db {
            TestDb::Postgres(_) => "TIMESTAMPTZ",
            TestDb::Sqlite(_) => "TEXT",
        };
        spc_alembic::execute(
            &db,
            &format!(
                "CREATE TABLE plantdb_adoption (
                     version BIGINT PRIMARY KEY,
                     kind TEXT NOT NULL CHECK (kind IN ('adopted', 'gap')),
                     source TEXT NOT NULL,
                     foreign_id TEXT,
                     recorded_at {time} NOT NULL
                 );
                 INSERT INTO plantdb_adoption VALUES (20260101000000, 'gap', 'alembic', NULL, '2026-01-01T00:00:00Z');"
            ),
        );
        let (code, _) = verify_live(&db);
        assert_eq!(code, 0, "an old adoption table reads as accepting nothing");
        let dir = tempfile::tempdir().unwrap();
        plantdb(dir.path())
            .args([
                "--database-url",
                &db.url(),
                "migrate",
                "adopt",
                "--from",
                "node-pg-migrate",
            ])
            .assert()
            .success();
        assert_eq!(
            text(
                &db,
                "SELECT foreign_head FROM plantdb_adoption WHERE version = 20260208000003"
            ),
            "1707345600001_create-organizations, 1707345600002_create-factories, 1707345600003_create-gateways"
        );
        assert_eq!(
            scalar(
                &db,
                "SELECT count(*) FROM plantdb_adoption WHERE version = 20260101000000"
            ),
            1
        );
    });
}
