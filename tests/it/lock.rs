//! A run that finds plantdb's lock taken says what it waits for, and `--lock-timeout` bounds
//! the wait (exit 6). Both dialects; migrate and seed.

use predicates::prelude::*;

use crate::adopt::plantdb;
use crate::support::{TestDb, each_dialect};

/// Holds the lock plantdb takes until dropped: on PostgreSQL the advisory lock, from a session
/// that names itself; on SQLite an open `BEGIN IMMEDIATE`.
enum Holder {
    Postgres { _client: postgres::Client, pid: i32 },
    Sqlite { _conn: rusqlite::Connection },
}

const HOLDER_NAME: &str = "nightly-import";

fn hold_lock(db: &TestDb) -> Holder {
    match db {
        TestDb::Postgres(pg) => {
            let url = format!("{}?application_name={HOLDER_NAME}", pg.url);
            let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            let key = plantdb::db::postgres::lock_key(&pg.name);
            client
                .execute("SELECT pg_advisory_lock($1)", &[&key])
                .expect("take the advisory lock");
            let pid = client
                .query_one("SELECT pg_backend_pid()", &[])
                .expect("pid")
                .get(0);
            Holder::Postgres {
                _client: client,
                pid,
            }
        }
        TestDb::Sqlite(file) => {
            let conn = file.connection();
            conn.execute_batch("BEGIN IMMEDIATE")
                .expect("take the write lock");
            Holder::Sqlite { _conn: conn }
        }
    }
}

/// What stderr must say about the holder.
fn names_holder(db: &TestDb, holder: &Holder) -> Vec<String> {
    match (db, holder) {
        (TestDb::Postgres(pg), Holder::Postgres { pid, .. }) => vec![
            format!("plantdb's run lock on database `{}`", pg.name),
            format!("server process {pid} (application_name `{HOLDER_NAME}`"),
            "connected since".into(),
        ],
        (TestDb::Sqlite(file), Holder::Sqlite { .. }) => vec![format!(
            "the write lock on SQLite database `{}`",
            file.path.display()
        )],
        _ => unreachable!(),
    }
}

fn assert_times_out(db: &TestDb, holder: &Holder, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let assert = plantdb(dir.path())
        .args(["--database-url", &url, "--lock-timeout", "2"])
        .args(args)
        .assert()
        .code(6)
        .stderr(predicate::str::contains("gave up after 2 s waiting for"));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    // Once while waiting (after a moment), once in the error.
    for expected in names_holder(db, holder) {
        assert_eq!(
            stderr.matches(&expected).count(),
            2,
            "{} {args:?}: expected `{expected}` in the notice and the error:\n{stderr}",
            db.dialect_name()
        );
    }
    assert!(
        stderr.contains("giving up after 2 s (--lock-timeout)"),
        "{stderr}"
    );
}

fn run_ok(db: &TestDb, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    plantdb(dir.path())
        .args(["--database-url", &db.url(), "--lock-timeout", "2"])
        .args(args)
        .assert()
        .success()
        .stderr(predicate::str::contains("waiting for").not());
}

#[test]
fn migrate_up_gives_up_on_a_held_lock_naming_the_holder_then_succeeds_once_released() {
    each_dialect(|db| {
        let holder = hold_lock(&db);
        assert_times_out(&db, &holder, &["migrate", "up"]);
        drop(holder);
        run_ok(&db, &["migrate", "up"]);
    });
}

#[test]
fn seed_waits_for_the_lock_like_migrations_do() {
    each_dialect(|db| {
        run_ok(&db, &["migrate", "up"]);
        let holder = hold_lock(&db);
        assert_times_out(&db, &holder, &["seed"]);
        drop(holder);
        let dir = tempfile::tempdir().unwrap();
        plantdb(dir.path())
            .env(
                "PLANTDB_SECRET_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            )
            .args(["--database-url", &db.url(), "seed"])
            .assert()
            .success();
    });
}

#[test]
fn the_wait_notice_stays_out_of_json_output() {
    each_dialect(|db| {
        let holder = hold_lock(&db);
        let dir = tempfile::tempdir().unwrap();
        let assert = plantdb(dir.path())
            .env("PLANTDB_LOCK_TIMEOUT", "2")
            .args(["--database-url", &db.url(), "--json", "migrate", "up"])
            .assert()
            .code(6)
            .stderr(predicate::str::contains("waiting for"));
        let stdout: serde_json::Value =
            serde_json::from_slice(&assert.get_output().stdout).expect("one JSON document");
        assert_eq!(stdout["error"]["exit_code"], 6, "{stdout}");
        drop(holder);
    });
}
