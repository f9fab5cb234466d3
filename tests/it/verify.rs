//! `plantdb verify`: the CI gate. It passes on the built-in migrations, and catches a broken
//! down script, a dialect mismatch and a changed applied file, naming version and file.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::adopt::plantdb;
use crate::migrate::MIGRATIONS;
use crate::support::{PgDatabase, SqliteFile};

/// A copy of the built-in migrations, to break on purpose.
fn copy_of_migrations(into: &Path) -> PathBuf {
    let root = into.join("migrations");
    for dialect in ["postgres", "sqlite"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let to = root.join(dialect);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    root
}

fn replace_in(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

const SETTINGS: &str = "V20260209000005__create_settings";

fn scratch_databases(pg: &PgDatabase) -> i64 {
    pg.client()
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'plantdb_verify_%_' || $1",
            &[&pg.name],
        )
        .unwrap()
        .get(0)
}

#[test]
fn built_in_migrations_pass_on_sqlite_and_the_postgres_side_is_reported_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteFile::new();
    plantdb(dir.path())
        .args(["--database-url", &file.url(), "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("17 migration(s) on SQLite"))
        .stdout(predicate::str::contains(
            "skipped: PostgreSQL round trip and dialect parity",
        ));
    // verify changes nothing: the target file was not even created.
    assert!(!file.path.exists());
}

#[test]
fn built_in_migrations_pass_on_postgres_with_both_dialects_compared() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::new();
    let output = plantdb(dir.path())
        .args(["--database-url", &pg.url, "--json", "verify", "--all"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["parity"], true, "{report}");
    assert_eq!(
        report["round_trip"],
        serde_json::json!(["postgres", "sqlite"])
    );
    assert_eq!(report["checked"].as_array().unwrap().len(), MIGRATIONS);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(scratch_databases(&pg), 0, "the scratch database is dropped");
}

#[test]
fn a_down_script_that_leaves_its_table_is_caught_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = copy_of_migrations(dir.path());
    std::fs::write(
        migrations.join(format!("sqlite/{SETTINGS}.down.sql")),
        "-- forgets to drop the table\nSELECT 1;\n",
    )
    .unwrap();
    let file = SqliteFile::new();
    plantdb(dir.path())
        .args(["--database-url", &file.url(), "--migrations"])
        .arg(&migrations)
        .arg("verify")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "FAIL round-trip 20260209000005 ({}/sqlite/{SETTINGS}.down.sql)",
            migrations.display()
        )))
        .stdout(predicate::str::contains("table `settings`"))
        .stderr(predicate::str::contains("verify found"));
}

#[test]
fn a_failing_down_script_is_caught_on_postgres_and_the_scratch_database_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = copy_of_migrations(dir.path());
    std::fs::write(
        migrations.join(format!("postgres/{SETTINGS}.down.sql")),
        "DROP TABLE no_such_table;\n",
    )
    .unwrap();
    let pg = PgDatabase::new();
    plantdb(dir.path())
        .args(["--database-url", &pg.url, "--migrations"])
        .arg(&migrations)
        .arg("verify")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "FAIL apply 20260209000005 ({}/postgres/{SETTINGS}.down.sql)",
            migrations.display()
        )))
        .stdout(predicate::str::contains("no_such_table"));
    assert_eq!(scratch_databases(&pg), 0, "dropped even after a failure");
}

#[test]
fn a_dialect_mismatch_is_caught_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = copy_of_migrations(dir.path());
    // SQLite's settings.value loses its NOT NULL.
    replace_in(
        &migrations.join(format!("sqlite/{SETTINGS}.sql")),
        "value      TEXT NOT NULL",
        "value      TEXT",
    );
    let pg = PgDatabase::new();
    let output = plantdb(dir.path())
        .args(["--database-url", &pg.url, "--json", "--migrations"])
        .arg(&migrations)
        .arg("verify")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["check"], "parity");
    assert_eq!(findings[0]["version"], 20260209000005_i64);
    let file = findings[0]["file"].as_str().unwrap();
    assert!(
        file.contains(&format!("postgres/{SETTINGS}.sql"))
            && file.contains(&format!("sqlite/{SETTINGS}.sql")),
        "{file}"
    );
    assert!(
        findings[0]["message"].as_str().unwrap().contains("value"),
        "{report}"
    );
}

#[test]
fn a_changed_applied_migration_is_a_checksum_finding() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = copy_of_migrations(dir.path());
    let file = SqliteFile::new();
    plantdb(dir.path())
        .args(["--database-url", &file.url(), "-q", "--migrations"])
        .arg(&migrations)
        .args(["migrate", "up"])
        .assert()
        .success();
    replace_in(
        &migrations.join(format!("sqlite/{SETTINGS}.sql")),
        "CREATE TABLE",
        "-- edited after it was applied\nCREATE TABLE",
    );
    plantdb(dir.path())
        .args(["--database-url", &file.url(), "--migrations"])
        .arg(&migrations)
        .arg("verify")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "FAIL checksum 20260209000005 ({}/sqlite/{SETTINGS}.sql)",
            migrations.display()
        )))
        .stdout(predicate::str::contains("no migration is pending"));
}
