//! What a seed changes and what it says about it: replace mode touches only the tables the
//! fixtures write (other tables change only through the foreign keys' ON DELETE rules),
//! `--dry-run` writes nothing, `--now` makes a second run change nothing, explicit identity
//! keys leave the sequences ahead, and a failed seed reports no results.

use std::path::{Path, PathBuf};

use plantdb::seed::SeedMode;
use plantdb::seed::secrets;
use serde_json::Value as Json;

use crate::migrate::up_all;
use crate::seed::{count, plantdb, rows, seed_built_in, seed_sources, snapshot, test_key};
use crate::support::{PgDatabase, TestDb, each_dialect};

const NOW: &str = "2026-02-07T12:02:00Z";

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect(sql),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect(sql),
    }
}

/// Runs `plantdb ARGS --json` with the test key and returns the JSON report, failing the
/// test (with stderr) when the command fails.
fn seed_json(dir: &Path, url: &str, args: &[&str]) -> Json {
    let output = plantdb(dir, url)
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(args)
        .arg("--json")
        .output()
        .expect("run plantdb");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON document")
}

/// The report's tables by name: (inserted, updated, deleted, unchanged, cascade_deleted,
/// set_null).
fn counts(report: &Json) -> Vec<(String, [u64; 6])> {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            let n = |field: &str| t[field].as_u64().expect(field);
            (
                t["table"].as_str().expect("table").to_string(),
                [
                    n("inserted"),
                    n("updated"),
                    n("deleted"),
                    n("unchanged"),
                    n("cascade_deleted"),
                    n("set_null"),
                ],
            )
        })
        .collect()
}

fn table_counts(report: &Json, table: &str) -> [u64; 6] {
    counts(report)
        .into_iter()
        .find(|(name, _)| name == table)
        .unwrap_or_else(|| panic!("{table} is not in the report: {report}"))
        .1
}

#[test]
fn replace_with_only_organizations_keeps_every_factory_and_gateway() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().expect("dir");
        let url = db.url();
        seed_json(dir.path(), &url, &["reset", "--yes"]);
        std::fs::write(
            dir.path().join("org.yaml"),
            "organizations:\n  acme: {name: Acme Manufacturing}\n",
        )
        .expect("write");
        let before = snapshot(&db);
        let report = seed_json(dir.path(), &url, &["seed", "org.yaml"]);
        assert_eq!(count(&db, "factories"), 3);
        assert_eq!(count(&db, "gateways"), 6);
        assert_eq!(snapshot(&db), before, "nothing changed");
        // Only the table the fixture writes is listed: nothing else was touched.
        assert_eq!(
            counts(&report),
            vec![("organizations".to_string(), [0, 0, 0, 1, 0, 0])]
        );
    });
}

#[test]
fn replace_with_only_plants_keeps_every_device_and_reports_what_the_rules_did() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        seed_built_in(&url, SeedMode::Replace);
        execute(
            &db,
            "INSERT INTO devices (id, mqtt_password_hash, status) VALUES ('loose', 'x', 'spare')",
        );
        let alerts_of_gone_plants = count(&db, "alerts WHERE plant_id IN ('snake-plant', 'basil')");
        let readings_of_gone_plants =
            count(&db, "telemetry WHERE plant_id IN ('snake-plant', 'basil')");
        assert!(alerts_of_gone_plants > 0 && readings_of_gone_plants > 0);
        let devices = count(&db, "devices");
        let alerts = count(&db, "alerts");
        let telemetry = count(&db, "telemetry");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("plants.yaml"),
            "plants:\n  monstera: {name: Living Room Monstera, species: Monstera deliciosa}\n",
        )
        .expect("write");
        let report = seed_json(dir.path(), &url, &["seed", "plants.yaml"]);

        // Only the unnamed plants are deleted; devices stay, and lose the deleted plants
        // (ON DELETE SET NULL), including the ones that had none.
        assert_eq!(
            rows(&db, "SELECT id FROM plants"),
            vec![vec![Some("monstera".to_string())]]
        );
        assert_eq!(count(&db, "devices"), devices);
        assert_eq!(
            count(
                &db,
                "devices WHERE id IN ('loose', 'sensor-spare') AND plant_id IS NULL"
            ),
            2
        );
        assert_eq!(
            count(
                &db,
                "devices WHERE id = 'sensor-monstera' AND plant_id = 'monstera'"
            ),
            1
        );
        assert_eq!(
            count(
                &db,
                "devices WHERE id IN ('sensor-snake', 'sensor-basil') AND plant_id IS NULL"
            ),
            2
        );
        assert_eq!(count(&db, "telemetry"), telemetry);
        assert_eq!(count(&db, "care_plans"), 1);
        assert_eq!(count(&db, "settings"), 3);
        let alerts_left = count(&db, "alerts");

        let n = |v: i64| u64::try_from(v).expect("a count");
        assert_eq!(
            counts(&report),
            vec![
                ("plants".to_string(), [0, 0, 2, 1, 0, 0]),
                ("devices".to_string(), [0, 0, 0, 0, 0, 2]),
                (
                    "telemetry".to_string(),
                    [0, 0, 0, 0, 0, n(readings_of_gone_plants)]
                ),
                (
                    "alerts".to_string(),
                    [0, 0, 0, 0, n(alerts_of_gone_plants), 0]
                ),
            ],
            "{report}"
        );
        assert!(alerts_left > 0, "the monstera's alert stays");
        // The database applied the rules itself (on SQLite too: foreign keys are on).
        assert_eq!(alerts_left, alerts - alerts_of_gone_plants);

        // Seeding every plant again gives the devices their plants back, in place: a device
        // whose plant was deleted is still the same device.
        let again = seed_json(dir.path(), &url, &["seed", "--now", NOW]);
        assert_eq!(
            table_counts(&again, "devices"),
            [0, 2, 1, 2, 0, 0],
            "{again}"
        );
    });
}

#[test]
fn replace_refuses_a_delete_that_a_foreign_key_forbids_and_names_the_rows() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        seed_built_in(&url, SeedMode::Replace);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("dir");
        // Deleting the stored plants would cascade to their hierarchy, which characteristics
        // reference without a rule (NO ACTION).
        std::fs::write(
            dir.path().join("plant.yaml"),
            "plant:\n  other: {name: Other Plant, code: OTHER}\n",
        )
        .expect("write");
        let output = plantdb(dir.path(), &url)
            .args(["seed", "plant.yaml"])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: cannot replace: foreign keys forbid deleting"),
            "{stderr}"
        );
        assert!(
            stderr.contains("`characteristic` id=")
                && stderr.contains("references deleted `hierarchy` id=")
                && stderr.contains("(`hierarchy_id` is ON DELETE NO ACTION)"),
            "{stderr}"
        );
        assert!(stderr.lines().count() <= 10, "one screen: {stderr}");
        assert!(output.stdout.is_empty(), "no results for a refused seed");
        assert_eq!(snapshot(&db), before, "nothing was written");
    });
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        seed_built_in(&url, SeedMode::Replace);
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("plants.yaml"),
            "plants:\n  monstera: {name: Big Monstera}\n  cactus: {name: Cactus}\n",
        )
        .expect("write");
        let before = snapshot(&db);
        let file_before = match &db {
            TestDb::Sqlite(file) => Some(std::fs::read(&file.path).expect("read")),
            TestDb::Postgres(_) => None,
        };

        let plan = seed_json(dir.path(), &url, &["seed", "--dry-run", "plants.yaml"]);
        let text = plantdb(dir.path(), &url)
            .args(["seed", "--dry-run", "plants.yaml"])
            .output()
            .expect("run");
        assert!(text.status.success());
        let stdout = String::from_utf8_lossy(&text.stdout);

        assert_eq!(snapshot(&db), before, "rows unchanged");
        if let (TestDb::Sqlite(file), Some(bytes)) = (&db, file_before) {
            assert!(
                std::fs::read(&file.path).expect("read") == bytes,
                "the SQLite file is byte for byte the same"
            );
        }
        assert_eq!(plan["dry_run"], true);
        assert_eq!(table_counts(&plan, "plants"), [1, 1, 2, 0, 0, 0]);
        assert!(
            stdout.contains("would    plants")
                && stdout.contains("1 inserted, 1 updated, 2 deleted, 0 unchanged")
                && stdout.contains("set to NULL by ON DELETE SET NULL")
                && stdout.contains("nothing was written"),
            "{stdout}"
        );

        // The plan is what the real run then does.
        let done = seed_json(dir.path(), &url, &["seed", "plants.yaml"]);
        assert_eq!(done["dry_run"], false);
        assert_eq!(counts(&done), counts(&plan));
        assert_eq!(count(&db, "plants"), 2);
    });
}

#[test]
fn seeding_again_with_the_same_now_changes_nothing() {
    each_dialect(|db| {
        let url = db.url();
        let dir = tempfile::tempdir().expect("dir");
        // Pinned through the environment for reset, on the command line for seed.
        let output = plantdb(dir.path(), &url)
            .env(secrets::KEY_VAR, test_key().to_base64())
            .env("PLANTDB_NOW", NOW)
            .args(["reset", "--yes"])
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let after_reset = snapshot(&db);
        let again = seed_json(dir.path(), &url, &["seed", "--now", NOW]);
        for (table, [inserted, updated, deleted, _, cascade_deleted, set_null]) in counts(&again) {
            assert_eq!(
                (inserted, updated, deleted, cascade_deleted, set_null),
                (0, 0, 0, 0, 0),
                "{table} changed on a second run with the same --now"
            );
        }
        assert_eq!(table_counts(&again, "telemetry")[3], 3 * 7 * 288);
        assert_eq!(snapshot(&db), after_reset);
        // Relative times count from the pinned now.
        let seen = rows(
            &db,
            "SELECT CAST(last_seen_at AS TEXT) FROM devices WHERE id = 'sensor-monstera'",
        );
        let seen = seen[0][0].clone().expect("a time");
        assert!(
            seen.starts_with("2026-02-07T12:01:00") || seen.starts_with("2026-02-07 12:01:00"),
            "{seen}"
        );
        // A different now moves the relative times and the generated readings.
        let later = seed_json(dir.path(), &url, &["seed", "--now", "2026-02-07T13:02:00Z"]);
        assert!(table_counts(&later, "devices")[1] > 0, "{later}");
        assert!(table_counts(&later, "telemetry")[0] > 0, "{later}");
    });
}

#[test]
fn a_malformed_now_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), "sqlite://unused.db")
        .args(["seed", "--now", "yesterday"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--now") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
    assert!(!dir.path().join("unused.db").exists());
}

#[test]
fn explicit_identity_keys_leave_room_for_the_applications_next_insert() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        let fixture = "alerts:\n\
            \x20 a: {id: 1, metric: temperature, value: 30, threshold: 25, direction: above}\n\
            \x20 b: {id: 2, metric: temperature, value: 31, threshold: 25, direction: above}\n\
            \x20 c: {metric: humidity, value: 20, threshold: 30, direction: below}\n";
        let report = seed_sources(
            &url,
            &[("ids.yaml".into(), fixture.into())],
            SeedMode::Replace,
        )
        .expect("the seed's own row without an id gets a free one");
        assert_eq!(report.tables[0].inserted, 3);
        // What the application does: insert without an id.
        execute(
            &db,
            "INSERT INTO alerts (metric, value, threshold, direction) VALUES ('light_level', 1, 2, 'below')",
        );
        assert_eq!(count(&db, "alerts"), 4);
        assert_eq!(count(&db, "alerts WHERE id > 2"), 2);
    });
}

/// What the application does: insert an alert without an id.
fn application_insert(db: &TestDb) {
    execute(
        db,
        "INSERT INTO alerts (metric, value, threshold, direction) VALUES ('light_level', 1, 2, 'below')",
    );
}

#[test]
fn a_dry_run_leaves_the_id_sequences_where_they_were() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("ids.yaml"),
            "alerts:\n  a: {id: 1000000, metric: temperature, value: 30, threshold: 25, direction: above}\n",
        )
        .expect("write");
        let report = seed_json(dir.path(), &url, &["seed", "--dry-run", "ids.yaml"]);
        assert_eq!(report["dry_run"], true);
        application_insert(&db);
        assert_eq!(
            count(&db, "alerts WHERE id < 1000"),
            1,
            "{}",
            db.dialect_name()
        );
    });
}

#[test]
fn a_postgres_explicit_id_that_leaves_no_next_id_is_refused_and_moves_no_sequence() {
    let pg = PgDatabase::new();
    up_all(&pg.url);
    let db = TestDb::Postgres(pg);
    let dir = tempfile::tempdir().expect("dir");
    // The largest id the column takes leaves no id for the next insert: refused. The sequence
    // used to be moved there for good, so every later insert without an id failed.
    std::fs::write(
        dir.path().join("ids.yaml"),
        "alerts:\n  a: {id: 2147483647, metric: temperature, value: 30, threshold: 25, direction: above}\n",
    )
    .expect("write");
    let output = plantdb(dir.path(), &db.url())
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["seed", "ids.yaml"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ids.yaml:2:3") && stderr.contains("MAXVALUE"),
        "{stderr}"
    );
    assert_eq!(count(&db, "alerts"), 0);
    application_insert(&db);
    assert_eq!(count(&db, "alerts WHERE id < 1000"), 1);
}

#[test]
fn a_failed_seed_prints_no_results() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        seed_built_in(&url, SeedMode::Replace);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("dir");
        // Refused by the database (the unique index on active gateway ids) after other
        // tables were written in the transaction.
        std::fs::write(
            dir.path().join("dup.yaml"),
            "gateways:\n  dup: {factory: austin, gateway_id: GW-AUS-001, name: Dup, url: ws://x, email: a@b, password: p}\n",
        )
        .expect("write");
        let output = plantdb(dir.path(), &url)
            .env(secrets::KEY_VAR, test_key().to_base64())
            .arg("seed")
            .arg(seeds_dir())
            .arg("dup.yaml")
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: dup.yaml:2:3: the database refused row `dup` of `gateways`"),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint: the seed was rolled back: nothing was written"),
            "{stderr}"
        );
        assert!(
            !stdout.contains("inserted") && !stdout.contains("seeded"),
            "results of a seed that was rolled back: {stdout}"
        );
        assert_eq!(snapshot(&db), before);
    });
}

#[test]
fn a_value_postgresql_cannot_take_is_reported_by_column_and_position() {
    let db = PgDatabase::new();
    up_all(&db.url);
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("big.yaml"),
        "mqtt_broker:\n  b: {name: B, host: h, port: 3000000000}\n",
    )
    .expect("write");
    let output = plantdb(dir.path(), &db.url)
        .args(["seed", "big.yaml"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: big.yaml:2:"), "{stderr}");
    assert!(
        stderr.contains("`port`") && stderr.contains("`mqtt_broker`"),
        "{stderr}"
    );
    assert!(!stderr.contains("parameter"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(
        count(&TestDb::Postgres(db), "mqtt_broker WHERE name = 'B'"),
        0
    );
}

#[test]
fn upsert_deletes_nothing_outside_the_regenerated_readings() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        seed_built_in(&url, SeedMode::Replace);
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("plants.yaml"),
            "plants:\n  fern: {name: Fern}\n",
        )
        .expect("write");
        let report = seed_json(
            dir.path(),
            &url,
            &["seed", "--mode", "upsert", "plants.yaml"],
        );
        assert_eq!(
            counts(&report),
            vec![("plants".to_string(), [1, 0, 0, 0, 0, 0])]
        );
        assert_eq!(count(&db, "plants"), 4);
    });
}
