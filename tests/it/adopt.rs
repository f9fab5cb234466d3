//! `plantdb migrate adopt`: databases left by alembic, node-pg-migrate and the asyncpg runner,
//! taken over and brought up to date, end up exactly like a database plantdb built itself.

use std::path::Path;

use assert_cmd::Command;
use plantdb::db::{Dialect, HISTORY_TABLE};
use plantdb::migrate::MigrationSet;
use plantdb::migrate::adopt::ADOPTION_TABLE;
use plantdb::migrate::adopt_manifest::{self, Source};
use plantdb::schema::Schema;
use predicates::prelude::*;

use crate::support::{PgDatabase, SqliteFile, TestDb};

/// `plantdb` in a clean working directory, with no database configured from outside.
pub fn plantdb(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").unwrap();
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .timeout(std::time::Duration::from_secs(120));
    cmd
}

fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect("SQL runs"),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect("SQL runs"),
    }
}

fn count(db: &TestDb, sql: &str) -> i64 {
    match db {
        TestDb::Postgres(pg) => pg.client().query_one(sql, &[]).expect("query").get(0),
        TestDb::Sqlite(file) => file
            .connection()
            .query_row(sql, [], |row| row.get(0))
            .expect("query"),
    }
}

fn dialect(db: &TestDb) -> Dialect {
    match db {
        TestDb::Postgres(_) => Dialect::Postgres,
        TestDb::Sqlite(_) => Dialect::Sqlite,
    }
}

/// Builds what the old tool left: the tables of `versions` (plantdb's own up scripts, run
/// directly, so no plantdb history exists), then the old tool's history table and `rows`.
pub(crate) fn old_database(db: &TestDb, versions: &[i64], history: &str) {
    let set = MigrationSet::built_in(dialect(db)).unwrap();
    for version in versions {
        execute(db, &set.get(*version).unwrap().up.sql);
    }
    execute(db, history);
}

pub(crate) fn versions_of(source: Source) -> Vec<i64> {
    adopt_manifest::entries(source).map(|e| e.version).collect()
}

const ALEMBIC_HISTORY: &str = "CREATE TABLE alembic_version (
        version_num VARCHAR(32) NOT NULL,
        CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
    );";

pub(crate) const PGMIGRATIONS_HISTORY: &str = "CREATE TABLE pgmigrations (
        id SERIAL PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        run_on TIMESTAMP NOT NULL
    );
    INSERT INTO pgmigrations (name, run_on) VALUES
        ('1707345600001_create-organizations', CURRENT_TIMESTAMP),
        ('1707345600002_create-factories', CURRENT_TIMESTAMP),
        ('1707345600003_create-gateways', CURRENT_TIMESTAMP);";

const SCHEMA_MIGRATIONS_HISTORY: &str = "CREATE TABLE schema_migrations (
        version TEXT PRIMARY KEY,
        applied_at TIMESTAMPTZ DEFAULT NOW()
    );
    INSERT INTO schema_migrations (version) VALUES ('001'), ('002'), ('003'), ('004'), ('005'), ('006');";

/// The schema without plantdb's and the old tool's bookkeeping.
fn user_schema(db: &TestDb, foreign: &str) -> Schema {
    db.schema()
        .without(HISTORY_TABLE)
        .without(ADOPTION_TABLE)
        .without(foreign)
}

fn from_scratch(db: TestDb) -> Schema {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["--database-url", &db.url(), "migrate", "up", "-q"])
        .assert()
        .success();
    user_schema(&db, "none")
}

/// Adopts, re-adopts (a no-op), migrates up, and compares with a from-scratch database.
fn adopt_then_up_matches_scratch(db: TestDb, fresh: TestDb, source: Source, adopted: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let from = source_arg(source);
    let output = plantdb(dir.path())
        .args([
            "--database-url",
            &url,
            "--json",
            "migrate",
            "adopt",
            "--from",
            from,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["recorded"].as_array().unwrap().len(),
        adopted,
        "{report}"
    );
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM {HISTORY_TABLE}")),
        adopted as i64
    );

    // Safe to re-run: nothing new, nothing changed.
    let again = plantdb(dir.path())
        .args([
            "--database-url",
            &url,
            "--json",
            "migrate",
            "adopt",
            "--from",
            from,
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["recorded"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["already_recorded"].as_array().unwrap().len(), adopted);
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM {HISTORY_TABLE}")),
        adopted as i64
    );

    // The older domains' migrations fill in without --allow-out-of-order.
    plantdb(dir.path())
        .args(["--database-url", &url, "migrate", "up"])
        .assert()
        .success();
    plantdb(dir.path())
        .args(["--database-url", &url, "status", "--check"])
        .assert()
        .code(0);

    // The old tool's table is left as it was.
    assert!(count(&db, &format!("SELECT count(*) FROM {}", source.table())) > 0);
    let adopted_schema = user_schema(&db, source.table());
    let scratch_schema = from_scratch(fresh);
    let diff = adopted_schema.diff(&scratch_schema);
    assert!(
        diff.is_empty(),
        "adopted (left) vs from scratch (right): {diff:#?}"
    );
}

fn source_arg(source: Source) -> &'static str {
    source.as_str()
}

#[test]
fn alembic_on_sqlite_adopts_up_to_007_then_migrates_like_a_fresh_database() {
    let db = TestDb::Sqlite(SqliteFile::new());
    old_database(
        &db,
        &[20260202000000, 20260204000000, 20260206000000],
        &format!("{ALEMBIC_HISTORY} INSERT INTO alembic_version VALUES ('007');"),
    );
    adopt_then_up_matches_scratch(db, TestDb::Sqlite(SqliteFile::new()), Source::Alembic, 3);
}

#[test]
fn alembic_on_postgres_adopts_the_add_plant_head() {
    let db = TestDb::Postgres(PgDatabase::new());
    old_database(
        &db,
        &versions_of(Source::Alembic),
        &format!("{ALEMBIC_HISTORY} INSERT INTO alembic_version VALUES ('20260207_add_plant');"),
    );
    adopt_then_up_matches_scratch(db, TestDb::Postgres(PgDatabase::new()), Source::Alembic, 4);
}

#[test]
fn node_pg_migrate_on_postgres_lets_the_older_spc_migrations_fill_in() {
    let db = TestDb::Postgres(PgDatabase::new());
    old_database(
        &db,
        &versions_of(Source::NodePgMigrate),
        PGMIGRATIONS_HISTORY,
    );
    adopt_then_up_matches_scratch(
        db,
        TestDb::Postgres(PgDatabase::new()),
        Source::NodePgMigrate,
        3,
    );
}

#[test]
fn asyncpg_runner_on_postgres() {
    let db = TestDb::Postgres(PgDatabase::new());
    old_database(
        &db,
        &versions_of(Source::SchemaMigrations),
        SCHEMA_MIGRATIONS_HISTORY,
    );
    adopt_then_up_matches_scratch(
        db,
        TestDb::Postgres(PgDatabase::new()),
        Source::SchemaMigrations,
        6,
    );
}

#[test]
fn adopt_refuses_when_the_history_claims_a_table_that_does_not_exist() {
    let db = TestDb::Sqlite(SqliteFile::new());
    // alembic says 007, but add_characteristic_config's table is not there.
    old_database(
        &db,
        &[20260202000000, 20260204000000],
        &format!("{ALEMBIC_HISTORY} INSERT INTO alembic_version VALUES ('007');"),
    );
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args([
            "--database-url",
            &db.url(),
            "migrate",
            "adopt",
            "--from",
            "alembic",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`alembic_version`"))
        .stderr(predicate::str::contains("`characteristic_config`"))
        .stderr(predicate::str::contains("007"));
    // Nothing was written: not even plantdb's history table.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'plantdb_%'"
        ),
        0
    );
}

#[test]
fn adopt_refuses_unknown_revisions_and_a_missing_history_table() {
    let db = TestDb::Sqlite(SqliteFile::new());
    let dir = tempfile::tempdir().unwrap();
    execute(&db, "CREATE TABLE unrelated (id INTEGER)");
    plantdb(dir.path())
        .args([
            "--database-url",
            &db.url(),
            "migrate",
            "adopt",
            "--from",
            "alembic",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no `alembic_version` table"));
    execute(
        &db,
        &format!("{ALEMBIC_HISTORY} INSERT INTO alembic_version VALUES ('0123456789ab');"),
    );
    plantdb(dir.path())
        .args([
            "--database-url",
            &db.url(),
            "migrate",
            "adopt",
            "--from",
            "alembic",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("0123456789ab"))
        .stderr(predicate::str::contains("hint: plantdb knows: 001"));
}

#[test]
fn only_the_gaps_adopt_made_fill_in_silently_and_the_flag_drops_the_old_table() {
    let db = TestDb::Sqlite(SqliteFile::new());
    old_database(
        &db,
        &versions_of(Source::NodePgMigrate),
        PGMIGRATIONS_HISTORY,
    );
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let adopt = [
        "--database-url",
        &url,
        "migrate",
        "adopt",
        "--from",
        "node-pg-migrate",
    ];
    // A dry run says what it would do and writes nothing.
    plantdb(dir.path())
        .args(adopt)
        .args(["--drop-foreign-table", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "would record 20260208000001 create_organizations",
        ));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'plantdb_%'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM pgmigrations"), 3);
    plantdb(dir.path())
        .args(adopt)
        .args(["--drop-foreign-table"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "recorded 20260208000003 create_gateways",
        ))
        .stdout(predicate::str::contains("dropped `pgmigrations`"));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'pgmigrations'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM {ADOPTION_TABLE} WHERE kind = 'gap'")
        ),
        4
    );
    // Take one of those gaps back: it is now an ordinary out-of-order migration, which stops
    // the run before anything is applied.
    execute(
        &db,
        &format!("DELETE FROM {ADOPTION_TABLE} WHERE version = 20260206000000"),
    );
    plantdb(dir.path())
        .args(["--database-url", &url, "migrate", "up"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("20260206000000"))
        .stderr(predicate::str::contains("--allow-out-of-order"));
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM {HISTORY_TABLE}")),
        3
    );
}
