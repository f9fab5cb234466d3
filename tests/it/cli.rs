//! The command line as users meet it: exit codes, `status --json`, errors, password masking.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::migrate::MIGRATIONS;
use crate::support::{PgDatabase, SqliteFile};

/// `plantdb` in a clean working directory, with no database configured from outside.
fn plantdb(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").unwrap();
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[test]
fn the_default_database_is_a_sqlite_file_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["migrate", "up"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "applied  20260202000000 spc_initial_schema",
        ))
        .stdout(predicate::str::contains("database is at 20260301000001"));
    assert!(dir.path().join("plantdb.sqlite3").exists());
    plantdb(dir.path())
        .args(["status", "--check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("up to date"));
}

#[test]
fn status_json_is_the_documented_document() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["migrate", "up", "--to", "20260207000000", "-q"])
        .assert()
        .success();
    let output = plantdb(dir.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let doc = json(&output.stdout);
    assert_eq!(doc["dialect"], "sqlite");
    assert_eq!(doc["url"], "sqlite://plantdb.sqlite3");
    assert_eq!(doc["current_version"], 20260207000000i64);
    assert_eq!(doc["latest_version"], 20260301000001i64);
    assert_eq!(doc["up_to_date"], false);
    let applied = doc["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 4);
    assert_eq!(applied[3]["name"], "add_plant");
    assert!(applied[3]["applied_at"].as_str().unwrap().ends_with('Z'));
    let pending = doc["pending"].as_array().unwrap();
    assert_eq!(pending.len(), MIGRATIONS - 4);
    assert_eq!(pending[0]["version"], 20260208000001i64);
    assert_eq!(pending[0]["name"], "create_organizations");
    assert_eq!(doc["drifted"], serde_json::json!([]));
    assert_eq!(doc["missing"], serde_json::json!([]));
    assert_eq!(doc["timescaledb"], serde_json::Value::Null);
}

#[test]
fn status_check_exit_codes_tell_pending_from_drift() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("m");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(migrations.join("V2__b.sql"), "CREATE TABLE b (id INTEGER);").unwrap();
    let with_dir = |args: &[&str]| {
        let mut cmd = plantdb(dir.path());
        cmd.args(["--migrations", "m"]).args(args);
        cmd
    };
    with_dir(&["migrate", "up", "--count", "1"])
        .assert()
        .success();
    with_dir(&["status", "--check"]).assert().code(3);
    with_dir(&["migrate", "up"]).assert().success();
    with_dir(&["status", "--check"]).assert().code(0);
    std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (id BIGINT);").unwrap();
    with_dir(&["status", "--check"]).assert().code(4);
    let output = with_dir(&["status", "--json"]).output().unwrap();
    let doc = json(&output.stdout);
    assert_eq!(doc["drifted"][0]["version"], 1);
    assert_ne!(doc["drifted"][0]["recorded"], doc["drifted"][0]["current"]);
    // Running on drift fails with the drift exit code and names the file.
    with_dir(&["migrate", "up"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("V1__a.sql"));
    with_dir(&["migrate", "repair"]).assert().success();
    with_dir(&["status", "--check"]).assert().code(0);
}

#[test]
fn postgres_status_masks_the_password_everywhere() {
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let password = pg
        .url
        .split(':')
        .nth(2)
        .and_then(|s| s.split('@').next())
        .unwrap()
        .to_string();
    assert!(!password.is_empty());
    for args in [
        vec!["migrate", "up", "-v"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["migrate", "down", "--dry-run"],
    ] {
        let output = plantdb(dir.path())
            .arg("--database-url")
            .arg(&pg.url)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !all.contains(&password),
            "{args:?} printed the password:\n{all}"
        );
    }
    let output = plantdb(dir.path())
        .arg("--database-url")
        .arg(&pg.url)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let doc = json(&output.stdout);
    assert_eq!(doc["dialect"], "postgres");
    assert!(
        doc["url"].as_str().unwrap().contains(":****@"),
        "{}",
        doc["url"]
    );
    assert_eq!(doc["up_to_date"], true);
    assert_eq!(doc["timescaledb"]["telemetry_hypertable"], false);
}

#[test]
fn database_url_comes_from_the_environment_and_from_dot_env() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .env("DATABASE_URL", "sqlite://from-env.db")
        .args(["migrate", "up", "-q"])
        .assert()
        .success();
    assert!(dir.path().join("from-env.db").exists());
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://from-dotenv.db\n",
    )
    .unwrap();
    plantdb(dir.path())
        .args(["migrate", "up", "-q"])
        .assert()
        .success();
    assert!(dir.path().join("from-dotenv.db").exists());
    // The flag beats both.
    plantdb(dir.path())
        .args([
            "--database-url",
            "sqlite://from-flag.db",
            "migrate",
            "up",
            "-q",
        ])
        .assert()
        .success();
    assert!(dir.path().join("from-flag.db").exists());
    assert!(!dir.path().join("plantdb.sqlite3").exists());
}

#[test]
fn global_options_work_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let output = plantdb(dir.path())
        .args([
            "migrate",
            "up",
            "--database-url",
            "sqlite://late.db",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let doc = json(&output.stdout);
    assert_eq!(doc["steps"].as_array().unwrap().len(), MIGRATIONS);
    assert_eq!(doc["current_version"], 20260301000001i64);
    assert!(dir.path().join("late.db").exists());
}

#[test]
fn unreachable_host_fails_fast_naming_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://someone:pa55word-x@127.0.0.1:{port}/plant?connect_timeout=3");
    let started = std::time::Instant::now();
    plantdb(dir.path())
        .args(["--database-url", &url, "status"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(format!("127.0.0.1:{port}")))
        .stderr(predicate::str::contains("pa55word-x").not());
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn wrong_password_and_missing_database_are_named() {
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let wrong = pg.url.replacen("s3cret-test-pw", "not-the-password", 1);
    assert_ne!(
        wrong, pg.url,
        "the harness password changed; update this test"
    );
    plantdb(dir.path())
        .args(["--database-url", &wrong, "status"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("rejected user `plantdb_test`"))
        .stderr(predicate::str::contains("not-the-password").not());
    let missing = pg
        .url
        .replace(&format!("/{}", pg.name), "/no_such_database_here");
    plantdb(dir.path())
        .args(["--database-url", &missing, "status"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "database `no_such_database_here` does not exist",
        ))
        .stderr(predicate::str::contains("hint: create it"));
}

#[test]
fn bad_urls_and_paths_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["--database-url", "mysql://root:hunter2@db/x", "status"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown database URL scheme `mysql`",
        ))
        .stderr(predicate::str::contains("hunter2").not());
    plantdb(dir.path())
        .args([
            "--database-url",
            "postgres://u:hunter2@localhost:notaport/x",
            "status",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("malformed database URL"))
        .stderr(predicate::str::contains("hunter2").not());
    plantdb(dir.path())
        .args([
            "--database-url",
            "sqlite:///nonexistent-dir/sub/plant.db",
            "migrate",
            "up",
        ])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "cannot open SQLite database `/nonexistent-dir/sub/plant.db`",
        ));
}

#[test]
fn revert_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["migrate", "down"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing to revert"));
    plantdb(dir.path())
        .args(["migrate", "up", "-q"])
        .assert()
        .success();
    plantdb(dir.path())
        .args(["migrate", "down", "--to", "20260207000001"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown migration version 20260207000001",
        ));
}

#[test]
fn dry_run_prints_sql_and_does_not_create_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["migrate", "up", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "-- applying 20260202000000 spc_initial_schema",
        ))
        .stdout(predicate::str::contains("CREATE TABLE hierarchy"))
        .stdout(predicate::str::contains("nothing was changed"));
    assert!(!dir.path().join("plantdb.sqlite3").exists());
}

#[test]
fn a_bad_migrations_directory_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("m");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(migrations.join("v2_b.sql"), "CREATE TABLE b (id INTEGER);").unwrap();
    plantdb(dir.path())
        .args(["--migrations", "m", "migrate", "up"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("v2_b.sql"));
    assert!(
        !dir.path().join("plantdb.sqlite3").exists() || {
            let conn = rusqlite::Connection::open(dir.path().join("plantdb.sqlite3")).unwrap();
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'a'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 0
        }
    );
}

#[test]
fn sqlite_status_on_a_missing_file_says_so() {
    let file = SqliteFile::new();
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["--database-url", &file.url(), "status"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("does not exist"));
    assert!(!file.path.exists());
}

#[test]
fn postgres_over_a_unix_socket() {
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["--database-url", &pg.socket_url(), "migrate", "up", "-q"])
        .assert()
        .success();
    plantdb(dir.path())
        .args(["--database-url", &pg.url, "status", "--check"])
        .assert()
        .success();
}
