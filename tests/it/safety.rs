//! The guarantees: atomic steps, exactly-once under concurrency, drift detection, dry runs that
//! change nothing, and the TimescaleDB policies.

use std::path::Path;
use std::process::Command;

use plantdb::config::TimescalePolicy;
use plantdb::db::HISTORY_TABLE;
use plantdb::error::Error;
use plantdb::migrate::{self, IgnoreProgress, MigrationSet, Request, RunOptions};

use crate::migrate::MIGRATIONS;
use crate::migrate::{LATEST, connect, connect_with, up_all};
use crate::support::{PgDatabase, SqliteFile, TestDb, each_dialect};

const UP: Request = Request::Up {
    to: None,
    count: None,
};

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

fn run_dir(
    url: &str,
    dir: &Path,
    request: Request,
    options: RunOptions,
) -> Result<migrate::RunReport, Error> {
    let mut driver = connect(url);
    let set = MigrationSet::from_dir(dir, driver.dialect()).expect("the test set loads");
    migrate::migrate(driver.as_mut(), &set, request, options, &mut IgnoreProgress)
}

fn table_exists(db: &TestDb, table: &str) -> bool {
    db.schema().tables.contains_key(table)
}

#[test]
fn a_failing_migration_leaves_nothing_of_itself_and_keeps_earlier_ones() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER PRIMARY KEY);",
        );
        write(
            dir.path(),
            "V2__broken.sql",
            "CREATE TABLE second (id INTEGER PRIMARY KEY);\nINSERT INTO first (id) VALUES (1);\nCREATE TABLE third (id INTEGER PRIMARY KEY,, oops);\n",
        );
        let err = run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap_err();
        let Error::MigrationFailed { version, file, .. } = &err else {
            panic!(
                "{}: expected a migration failure, got {err}",
                db.dialect_name()
            );
        };
        assert_eq!(*version, 2);
        assert!(file.ends_with("V2__broken.sql"), "{file}");
        // Both dialects point at the broken statement's line.
        let Error::MigrationFailed { position, .. } = &err else {
            unreachable!()
        };
        assert_eq!(
            position.map(|(line, _)| line),
            Some(3),
            "{}: {err}",
            db.dialect_name()
        );
        assert!(
            table_exists(&db, "first"),
            "{}: earlier migration lost",
            db.dialect_name()
        );
        assert!(
            !table_exists(&db, "second"),
            "{}: half of V2 persisted",
            db.dialect_name()
        );
        let versions: Vec<i64> = connect(&db.url())
            .applied()
            .unwrap()
            .iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, vec![1]);
        // V2's insert into `first` went with it.
        let rows = match &db {
            TestDb::Postgres(pg) => pg
                .client()
                .query_one("SELECT count(*) FROM first", &[])
                .unwrap()
                .get::<_, i64>(0),
            TestDb::Sqlite(f) => f
                .connection()
                .query_row("SELECT count(*) FROM first", [], |r| r.get(0))
                .unwrap(),
        };
        assert_eq!(rows, 0);
    });
}

#[test]
fn postgres_reports_the_line_of_a_failing_statement() {
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__bad.sql",
        "-- header\nCREATE TABLE a (id int);\nSELEC 1;\n",
    );
    let err = run_dir(&pg.url, dir.path(), UP, RunOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MigrationFailed {
                position: Some((3, 1)),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 3, column 1"), "{err}");
}

#[test]
fn changed_or_missing_applied_migrations_stop_the_run_unless_allowed() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "CREATE TABLE a (id INTEGER);");
        write(dir.path(), "V2__b.sql", "CREATE TABLE b (id INTEGER);");
        run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap();
        write(
            dir.path(),
            "V1__a.sql",
            "CREATE TABLE a (id INTEGER, extra TEXT);",
        );
        write(dir.path(), "V3__c.sql", "CREATE TABLE c (id INTEGER);");
        let err = run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap_err();
        let Error::Drift(items) = &err else {
            panic!("expected drift, got {err}")
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].version, 1);
        assert!(items[0].file.as_deref().unwrap().ends_with("V1__a.sql"));
        assert_ne!(Some(&items[0].recorded), items[0].current.as_ref());
        assert!(!table_exists(&db, "c"), "nothing runs on drift");
        // Explicitly allowed, the run goes on.
        let allowed = RunOptions {
            allow_drift: true,
            ..Default::default()
        };
        run_dir(&db.url(), dir.path(), UP, allowed).unwrap();
        assert!(table_exists(&db, "c"));
        // A migration that disappeared from the set is drift too.
        std::fs::remove_file(dir.path().join("V2__b.sql")).unwrap();
        write(dir.path(), "V1__a.sql", "CREATE TABLE a (id INTEGER);");
        let err = run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Drift(items) if items.len() == 1 && items[0].version == 2 && items[0].file.is_none()),
            "{err}"
        );
    });
}

#[test]
fn repair_accepts_new_checksums() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "CREATE TABLE a (id INTEGER);");
        run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap();
        write(
            dir.path(),
            "V1__a.sql",
            "-- a comment added later\nCREATE TABLE a (id INTEGER);",
        );
        let mut driver = connect(&db.url());
        let set = MigrationSet::from_dir(dir.path(), driver.dialect()).unwrap();
        let repaired = migrate::repair(driver.as_mut(), &set).unwrap();
        assert_eq!(repaired.len(), 1);
        drop(driver);
        run_dir(&db.url(), dir.path(), UP, RunOptions::default()).expect("clean after repair");
    });
}

#[test]
fn dry_run_changes_nothing() {
    each_dialect(|db| {
        let options = RunOptions {
            dry_run: true,
            ..Default::default()
        };
        let mut driver = connect(&db.url());
        let set = MigrationSet::built_in(driver.dialect()).unwrap();
        let report =
            migrate::migrate(driver.as_mut(), &set, UP, options, &mut IgnoreProgress).unwrap();
        drop(driver);
        assert!(report.dry_run);
        assert_eq!(report.steps.len(), MIGRATIONS);
        assert!(
            report.steps[0]
                .sql
                .as_deref()
                .unwrap()
                .contains("CREATE TABLE hierarchy")
        );
        assert!(
            db.schema().tables.is_empty(),
            "{}: dry run created tables",
            db.dialect_name()
        );
        // And on a migrated database, a dry run down leaves everything applied.
        up_all(&db.url());
        let before = db.schema();
        let mut driver = connect(&db.url());
        let down_all = Request::Down {
            to: Some(0),
            count: None,
        };
        let report = migrate::migrate(
            driver.as_mut(),
            &set,
            down_all,
            options,
            &mut IgnoreProgress,
        )
        .unwrap();
        assert_eq!(report.steps.len(), MIGRATIONS);
        assert_eq!(driver.applied().unwrap().len(), MIGRATIONS);
        drop(driver);
        assert!(before.diff(&db.schema()).is_empty());
    });
}

#[test]
fn a_migration_without_down_script_cannot_be_reverted_and_nothing_changes() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "CREATE TABLE a (id INTEGER);");
        write(dir.path(), "V1__a.down.sql", "DROP TABLE a;");
        write(dir.path(), "V2__b.sql", "CREATE TABLE b (id INTEGER);");
        run_dir(&db.url(), dir.path(), UP, RunOptions::default()).unwrap();
        let down_all = Request::Down {
            to: Some(0),
            count: None,
        };
        let err = run_dir(&db.url(), dir.path(), down_all, RunOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Irreversible { version: 2, .. }),
            "{err}"
        );
        assert!(table_exists(&db, "a") && table_exists(&db, "b"));
    });
}

#[test]
fn no_transaction_migrations_run_outside_a_transaction() {
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (id INTEGER);");
    write(
        dir.path(),
        "V2__index.sql",
        "-- plantdb:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);",
    );
    let report = run_dir(&pg.url, dir.path(), UP, RunOptions::default()).unwrap();
    assert!(report.steps[0].atomic);
    assert!(!report.steps[1].atomic, "the report says it was not atomic");
    // Without the directive the set is refused when it loads, and the error says how to fix it.
    write(
        dir.path(),
        "V2__index.sql",
        "CREATE INDEX CONCURRENTLY a_id ON a (id);",
    );
    let err = MigrationSet::from_dir(dir.path(), plantdb::db::Dialect::Postgres).unwrap_err();
    assert!(
        err.to_string().contains("-- plantdb:no-transaction"),
        "{err}"
    );
}

/// Eight processes start `plantdb migrate up` on one fresh database at the same moment.
fn eight_concurrent_runs(url: &str) {
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_plantdb"))
                .args(["--database-url", url, "migrate", "up", "-q"])
                .env_remove("DATABASE_URL")
                .output_spawned()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a concurrent run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

trait SpawnOutput {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start plantdb")
    }
}

#[test]
fn eight_concurrent_runs_apply_every_migration_exactly_once() {
    each_dialect(|db| {
        eight_concurrent_runs(&db.url());
        let versions: Vec<i64> = connect(&db.url())
            .applied()
            .unwrap()
            .iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(
            versions.len(),
            MIGRATIONS,
            "{}: {versions:?}",
            db.dialect_name()
        );
        let mut unique = versions.clone();
        unique.dedup();
        assert_eq!(unique, versions);
        assert_eq!(versions.last(), Some(&LATEST));
    });
}

fn telemetry_is_hypertable(pg: &PgDatabase) -> bool {
    pg.client()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'telemetry')",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or(false)
}

fn up_with(url: &str, policy: TimescalePolicy) -> Result<migrate::RunReport, Error> {
    let mut driver = connect_with(url, policy);
    let set = MigrationSet::built_in(driver.dialect()).unwrap();
    migrate::migrate(
        driver.as_mut(),
        &set,
        UP,
        RunOptions::default(),
        &mut IgnoreProgress,
    )
}

fn telemetry_notices(report: &migrate::RunReport) -> Vec<String> {
    report
        .steps
        .iter()
        .find(|s| s.name == "create_telemetry")
        .map(|s| s.notices.clone())
        .unwrap_or_default()
}

#[test]
fn timescale_auto_and_off_keep_a_plain_table_without_the_extension_and_say_so() {
    for policy in [TimescalePolicy::Auto, TimescalePolicy::Off] {
        let pg = PgDatabase::new();
        let report = up_with(&pg.url, policy).unwrap();
        assert_eq!(report.current_version, Some(LATEST));
        let notices = telemetry_notices(&report);
        assert_eq!(notices.len(), 1, "{policy:?}: {notices:?}");
        assert!(
            notices[0].contains("plain table"),
            "{policy:?}: {notices:?}"
        );
        assert!(!telemetry_is_hypertable(&pg));
    }
}

#[test]
fn timescale_require_fails_clearly_and_applies_nothing_of_that_migration() {
    let pg = PgDatabase::new();
    // Make sure the stand-in is not installed in this database (it may exist on the server).
    let err = up_with(&pg.url, TimescalePolicy::Require).unwrap_err();
    let Error::MigrationFailed {
        version,
        message,
        hint,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*version, 20260209000003);
    assert!(message.contains("TimescaleDB is required"), "{message}");
    assert!(
        hint.as_deref()
            .unwrap_or_default()
            .contains("shared_preload_libraries"),
        "{hint:?}"
    );
    let schema = TestDb::Postgres(pg).schema();
    assert!(!schema.tables.contains_key("telemetry"));
    assert!(
        schema.tables.contains_key("devices"),
        "earlier migrations stay"
    );
}

#[test]
fn timescale_require_on_sqlite_is_refused_by_the_cli() {
    let file = SqliteFile::new();
    let output = Command::new(env!("CARGO_BIN_EXE_plantdb"))
        .args([
            "--database-url",
            &file.url(),
            "--timescale",
            "require",
            "migrate",
            "up",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs PostgreSQL"));
    assert!(!file.path.exists(), "nothing was created");
}

#[test]
fn timescale_installed_makes_telemetry_a_hypertable() {
    for policy in [TimescalePolicy::Auto, TimescalePolicy::Require] {
        let pg = PgDatabase::with_timescaledb();
        pg.client()
            .batch_execute("CREATE EXTENSION timescaledb")
            .unwrap();
        let report = up_with(&pg.url, policy).unwrap();
        let notices = telemetry_notices(&report);
        assert!(
            notices.iter().any(|n| n.contains("hypertable")),
            "{notices:?}"
        );
        assert!(telemetry_is_hypertable(&pg), "{policy:?}");
        let mut driver = connect(&pg.url);
        let state = driver.as_postgres().unwrap().timescale().unwrap();
        assert!(state.installed && state.telemetry_hypertable, "{state:?}");
    }
    // off ignores even an installed extension.
    let pg = PgDatabase::with_timescaledb();
    pg.client()
        .batch_execute("CREATE EXTENSION timescaledb")
        .unwrap();
    up_with(&pg.url, TimescalePolicy::Off).unwrap();
    assert!(!telemetry_is_hypertable(&pg));
}

#[test]
fn status_never_creates_the_history_table() {
    each_dialect(|db| {
        if let TestDb::Sqlite(file) = &db {
            // Create an empty database file first: status refuses a missing file.
            file.connection()
                .execute_batch("CREATE TABLE unrelated (x)")
                .unwrap();
        }
        let output = Command::new(env!("CARGO_BIN_EXE_plantdb"))
            .args(["--database-url", &db.url(), "status", "--json"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !db.schema().tables.contains_key(HISTORY_TABLE),
            "{}",
            db.dialect_name()
        );
    });
}

#[test]
fn fake_records_migrations_without_running_them() {
    each_dialect(|db| {
        let mut driver = connect(&db.url());
        let set = MigrationSet::built_in(driver.dialect()).unwrap();
        let options = RunOptions {
            fake: true,
            ..Default::default()
        };
        let report =
            migrate::migrate(driver.as_mut(), &set, UP, options, &mut IgnoreProgress).unwrap();
        assert!(report.steps.iter().all(|s| s.faked));
        assert_eq!(driver.applied().unwrap().len(), MIGRATIONS);
        drop(driver);
        let tables: Vec<String> = db.schema().tables.into_keys().collect();
        assert_eq!(
            tables,
            vec![HISTORY_TABLE.to_string()],
            "{}",
            db.dialect_name()
        );
    });
}
