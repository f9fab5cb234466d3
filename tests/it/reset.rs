//! `plantdb reset` through the command line, as a developer runs it.

use plantdb::seed::secrets;

use crate::migrate::MIGRATIONS;
use crate::migrate::up_all;
use crate::seed::{count, migrated_and_seeded_with_junk, plantdb, snapshot, test_key};
use crate::support::{PgDatabase, SqliteFile, TestDb, each_dialect};

#[test]
fn reset_on_a_database_full_of_data_ends_in_the_clean_seeded_state() {
    // The state a fresh database gets from migrate up + seed with the same fixtures.
    each_dialect(|db| {
        migrated_and_seeded_with_junk(&db);
        // A session left open on the database must not stop the drop.
        let _open = match &db {
            TestDb::Postgres(pg) => Some(pg.client()),
            TestDb::Sqlite(_) => None,
        };
        let dir = tempfile::tempdir().expect("dir");
        let output = plantdb(dir.path(), &db.url())
            .env(secrets::KEY_VAR, test_key().to_base64())
            .args(["reset", "--yes"])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("about to destroy"), "{stderr}");
        assert!(
            !stderr.contains(crate::support::postgres::TEST_PASSWORD),
            "{stderr}"
        );
        assert_eq!(count(&db, "organizations"), 1);
        assert_eq!(count(&db, "factories"), 3);
        assert_eq!(count(&db, "gateways"), 6);
        assert_eq!(count(&db, "settings WHERE key = 'junk'"), 0);
        assert_eq!(count(&db, "plant WHERE code = 'DEFAULT'"), 1);
        assert_eq!(count(&db, "telemetry"), 3 * 7 * 288);
        let junk_table = match &db {
            TestDb::Postgres(_) => count(&db, "pg_tables WHERE tablename = 'junk'"),
            TestDb::Sqlite(_) => count(&db, "sqlite_master WHERE name = 'junk'"),
        };
        assert_eq!(junk_table, 0, "the stray table is gone");
        plantdb(dir.path(), &db.url())
            .args(["status", "--check"])
            .assert()
            .success();
        assert!(!snapshot(&db).is_empty());
    });
}

#[test]
fn reset_no_seed_leaves_an_empty_migrated_database() {
    each_dialect(|db| {
        migrated_and_seeded_with_junk(&db);
        let dir = tempfile::tempdir().expect("dir");
        plantdb(dir.path(), &db.url())
            .args(["reset", "--yes", "--no-seed"])
            .assert()
            .success();
        assert_eq!(count(&db, "organizations"), 0);
        assert_eq!(count(&db, "telemetry"), 0);
        assert_eq!(count(&db, "plant"), 1, "only the migration's DEFAULT plant");
        assert!(
            !dir.path().join(".env").exists(),
            "no key needed without seeding"
        );
    });
}

#[test]
fn reset_removes_sqlite_companion_files() {
    let file = SqliteFile::new();
    up_all(&file.url());
    let wal = format!("{}-wal", file.path.display());
    let shm = format!("{}-shm", file.path.display());
    std::fs::write(&wal, "stale").expect("write");
    std::fs::write(&shm, "stale").expect("write");
    let dir = tempfile::tempdir().expect("dir");
    plantdb(dir.path(), &file.url())
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["reset", "--yes"])
        .assert()
        .success();
    for companion in [&wal, &shm] {
        let stale = std::fs::read(companion)
            .map(|b| b == b"stale")
            .unwrap_or(false);
        assert!(!stale, "{companion} was removed");
    }
    assert_eq!(count(&TestDb::Sqlite(file), "gateways"), 6);
}

#[test]
fn reset_refuses_a_remote_host_without_force_before_connecting() {
    let dir = tempfile::tempdir().expect("dir");
    let started = std::time::Instant::now();
    let output = plantdb(dir.path(), "postgres://u:hunter2@db.example.com/x")
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["reset", "--yes"])
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("refusing to reset `postgres://u:****@db.example.com/x`"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "it did not try to connect"
    );
}

#[test]
fn reset_with_a_bad_fixture_destroys_nothing() {
    let db = PgDatabase::new();
    let db = TestDb::Postgres(db);
    migrated_and_seeded_with_junk(&db);
    let before = snapshot(&db);
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "plants:\n  fern: {name: Fern, colour: green}\n",
    )
    .expect("write");
    let output = plantdb(dir.path(), &db.url())
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["reset", "--yes", "bad.yaml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.yaml:2:22"));
    assert_eq!(snapshot(&db), before);
}

#[test]
fn reset_json_is_one_document_with_the_migration_run_and_the_seed() {
    let file = SqliteFile::new();
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), &file.url())
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["reset", "--yes", "--json"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(doc["dialect"], "sqlite");
    assert_eq!(
        doc["migrate"]["steps"].as_array().map(Vec::len),
        Some(MIGRATIONS)
    );
    assert_eq!(doc["seed"]["mode"], "replace");
}

/// The value of `PLANTDB_SECRET_KEY=` in a `.env` text.
fn key_in(dotenv: &str) -> String {
    dotenv
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{}=", secrets::KEY_VAR)))
        .expect("a key line")
        .to_owned()
}

#[test]
fn reset_writes_a_generated_key_to_a_new_dotenv_only_its_owner_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let file = SqliteFile::new();
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), &file.url())
        .args(["reset", "--yes"])
        .output()
        .expect("run");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    let dotenv = dir.path().join(".env");
    let mode = std::fs::metadata(&dotenv)
        .expect(".env")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:04o}");
    let key = key_in(&std::fs::read_to_string(&dotenv).expect("read .env"));
    assert!(!printed.contains(&key), "the key was printed:\n{printed}");
    assert!(
        !printed.contains("chmod"),
        "no warning for its own file:\n{printed}"
    );
}

#[test]
fn a_key_in_a_dotenv_others_can_read_is_warned_about_without_showing_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let dotenv = dir.path().join(".env");
    let key = test_key().to_base64();
    std::fs::write(&dotenv, format!("{}={key}\n", secrets::KEY_VAR)).expect("write");
    for (mode, warned) in [(0o644, true), (0o640, true), (0o600, false)] {
        std::fs::set_permissions(&dotenv, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let file = SqliteFile::new();
        let output = plantdb(dir.path(), &file.url())
            .args(["reset", "--yes"])
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let warning = format!("restrict it with `chmod 600 {}`", dotenv.display());
        assert_eq!(
            stderr.contains(&warning),
            warned,
            "mode {mode:04o}:\n{stderr}"
        );
        assert!(
            !stdout.contains(&key) && !stderr.contains(&key),
            "the key was printed"
        );
        let unchanged = std::fs::metadata(&dotenv)
            .expect(".env")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(
            unchanged, mode,
            "plantdb leaves an existing file's mode alone"
        );
    }
}

#[test]
fn reset_refuses_telemetry_that_scale_stretches_before_year_one_before_destroying_anything() {
    // Fine at scale 1 (about 192 years back), before year 1 at `--scale 20`: found only once
    // the scale is known, which must still be before the database is dropped.
    let fixture = "plants:\n  fern: {name: F}\ndevices:\n  d: {plant: fern, mqtt_password: x}\n\
                   telemetry:\n  w: {device: d, interval: 10000w, span: 10000w}\n";
    each_dialect(|db| {
        migrated_and_seeded_with_junk(&db);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("t.yaml"), fixture).expect("write");
        let output = plantdb(dir.path(), &db.url())
            .env(secrets::KEY_VAR, test_key().to_base64())
            .args(["reset", "--yes", "--scale", "20", "t.yaml"])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("reaches back before 0001-01-01"),
            "{stderr}"
        );
        assert!(!stderr.contains("about to destroy"), "{stderr}");
        assert_eq!(snapshot(&db), before, "nothing was destroyed");
        assert_eq!(count(&db, "settings WHERE key = 'junk'"), 1);
    });
}

#[test]
fn reset_refuses_citus_require_before_dropping_anything() {
    // The database comes back without the citus extension, so `--citus require` could only
    // fail after the drop: it is refused first, and the rows stay.
    let pg = PgDatabase::new();
    pg.client()
        .batch_execute(
            "CREATE TABLE kept (id integer PRIMARY KEY, name text NOT NULL);
             INSERT INTO kept VALUES (1, 'north'), (2, 'south');",
        )
        .expect("starting rows");
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), &pg.url)
        .env_remove("PLANTDB_CITUS")
        .args(["--citus", "require", "reset", "--yes", "--no-seed"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let rows: i64 = pg
        .client()
        .query_one("SELECT count(*) FROM kept", &[])
        .expect("the table is still there")
        .get(0);
    assert_eq!(rows, 2);
    assert!(stderr.contains("--citus require"), "{stderr}");
    assert!(
        stderr.contains("CREATE EXTENSION citus"),
        "the way out: {stderr}"
    );
    assert!(stderr.contains("migrate up"), "the way out: {stderr}");
    assert!(!stderr.contains("about to destroy"), "{stderr}");
}
