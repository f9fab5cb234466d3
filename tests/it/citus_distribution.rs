//! The built-in migrations on a Citus cluster: the distribution migration distributes the
//! garden's tables by device, `migrate down` brings them back with their rows, `seed` writes
//! through the coordinator, and `migrate distribute` takes a plain database that already has
//! data into the cluster. The cluster tests need `PLANTDB_TEST_CITUS=1` (see
//! `support::citus`); the refusals run everywhere, on servers without Citus.

use std::process::Output;

use assert_cmd::Command;
use postgres::Client;

use crate::support::citus::{CitusDatabase, Setup};
use crate::support::{PgDatabase, SqliteFile};

/// The last version before the distribution migration.
const BEFORE_DISTRIBUTION: &str = "20260215000003";

fn plantdb(url: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a working directory");
    Command::cargo_bin("plantdb")
        .expect("the binary")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_CITUS")
        .env_remove("PLANTDB_TIMESCALE")
        .args(["--database-url", url])
        .args(args)
        .output()
        .expect("plantdb runs")
}

fn succeeds(url: &str, args: &[&str]) -> String {
    let output = plantdb(url, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What Citus manages, as `(table, kind, distribution column, colocation id)`.
fn citus_tables(client: &mut Client) -> Vec<(String, String, Option<String>, i32)> {
    client
        .query(
            "SELECT table_name::text, citus_table_type,
                    nullif(distribution_column, '<none>'), colocation_id
             FROM citus_tables ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

/// Every foreign key of the public schema: `(table, name, definition)`. Not those of the
/// shards of reference tables that the coordinator holds (`plants_102008`).
fn foreign_keys(client: &mut Client) -> Vec<(String, String, String)> {
    client
        .query(
            "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
               AND c.conrelid::regclass::text !~ '_[0-9]+$'
             ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// The garden tables' row counts and a checksum of the readings, as the coordinator sees them.
fn contents(client: &mut Client) -> Vec<(String, i64)> {
    let mut contents = Vec::new();
    for table in [
        "plants",
        "devices",
        "telemetry",
        "alerts",
        "settings",
        "care_plans",
    ] {
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        contents.push((table.to_string(), count));
    }
    let checksum: i64 = client
        .query_one(
            "SELECT coalesce(sum(hashtext(device_id || time::text || coalesce(soil_moisture::text, ''))), 0)::bigint
             FROM telemetry",
            &[],
        )
        .unwrap()
        .get(0);
    contents.push(("telemetry checksum".into(), checksum));
    contents
}

/// The design the README documents.
fn assert_distributed_by_device(client: &mut Client) {
    let tables = citus_tables(client);
    let shape: Vec<(&str, &str, Option<&str>)> = tables
        .iter()
        .map(|(t, k, c, _)| (t.as_str(), k.as_str(), c.as_deref()))
        .collect();
    assert_eq!(
        shape,
        [
            ("alerts", "distributed", Some("device_id")),
            ("care_plans", "reference", None),
            ("devices", "distributed", Some("id")),
            ("plants", "reference", None),
            ("settings", "reference", None),
            ("telemetry", "distributed", Some("device_id")),
        ],
        "{tables:?}"
    );
    let colocation = |name: &str| tables.iter().find(|t| t.0 == name).unwrap().3;
    assert_eq!(colocation("devices"), colocation("telemetry"), "colocated");
    assert_eq!(colocation("devices"), colocation("alerts"), "colocated");
}

/// Rows put in with plain SQL, the way the garden application writes them: a plant, two
/// devices, readings, an alert and a setting.
const GARDEN_ROWS: &str = "
    INSERT INTO plants (id, name) VALUES ('fern', 'Boston fern'), ('ivy', 'English ivy');
    INSERT INTO devices (id, mac_address, mqtt_username, mqtt_password_hash, plant_id)
    VALUES ('dev-1', 'aa:bb:cc:00:00:01', 'dev-1', 'x', 'fern'),
           ('dev-2', 'aa:bb:cc:00:00:02', 'dev-2', 'x', 'ivy');
    INSERT INTO telemetry (time, device_id, plant_id, soil_moisture)
    SELECT timestamptz '2026-01-01' + n * interval '1 minute', 'dev-' || (1 + n % 2),
           CASE WHEN n % 2 = 0 THEN 'fern' ELSE 'ivy' END, (n % 1000) / 10.0
    FROM generate_series(1, 20000) AS n;
    INSERT INTO alerts (plant_id, device_id, metric, value, threshold, direction)
    VALUES ('fern', 'dev-1', 'soil_moisture', 12.5, 20, 'below');
    INSERT INTO settings (key, value) VALUES ('alert_cooldown_minutes', '30');
    INSERT INTO care_plans (plant_id, plan_data) VALUES ('fern', '{\"water\": \"weekly\"}');
";

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn migrate_up_distributes_by_device_and_down_and_up_again_keep_every_row_and_key() {
    let plain = PgDatabase::new();
    succeeds(&plain.url, &["migrate", "up"]);
    let plain_keys = foreign_keys(&mut plain.client());

    let citus = CitusDatabase::new();
    let out = succeeds(&citus.url, &["migrate", "up"]);
    assert!(
        out.contains("distributed devices, telemetry and alerts by device over 2 worker(s)"),
        "{out}"
    );
    let mut client = citus.client();
    assert_distributed_by_device(&mut client);
    assert_eq!(
        foreign_keys(&mut client),
        plain_keys,
        "every foreign key kept"
    );
    client.batch_execute(GARDEN_ROWS).unwrap();
    let before = contents(&mut client);
    succeeds(&citus.url, &["verify", "--live"]);
    let status: serde_json::Value =
        serde_json::from_str(&succeeds(&citus.url, &["status", "--json"])).unwrap();
    assert_eq!(
        status["timescaledb"]["telemetry"], "distributed",
        "{status}"
    );
    let text = succeeds(&citus.url, &["status"]);
    assert!(text.contains("telemetry is distributed by Citus"), "{text}");

    succeeds(
        &citus.url,
        &["migrate", "down", "--to", BEFORE_DISTRIBUTION],
    );
    let status: serde_json::Value =
        serde_json::from_str(&succeeds(&citus.url, &["status", "--json"])).unwrap();
    assert_eq!(
        status["timescaledb"]["telemetry"], "plain-table",
        "{status}"
    );
    let mut client = citus.client();
    assert_eq!(citus_tables(&mut client), [], "back on the coordinator");
    assert_eq!(contents(&mut client), before, "every row came back");
    assert_eq!(foreign_keys(&mut client), plain_keys);
    // The unique keys and the primary key are the plain schema's again.
    succeeds(&citus.url, &["verify", "--live"]);
    let duplicate = client.batch_execute(
        "INSERT INTO devices (id, mqtt_username, mqtt_password_hash) VALUES ('dev-3', 'dev-1', 'x')",
    );
    assert!(duplicate.is_err(), "mqtt_username is unique again");

    succeeds(&citus.url, &["migrate", "up"]);
    let mut client = citus.client();
    assert_distributed_by_device(&mut client);
    assert_eq!(contents(&mut client), before, "every row distributed again");
    assert_eq!(foreign_keys(&mut client), plain_keys);
    succeeds(&citus.url, &["verify", "--live"]);
    let out = succeeds(&citus.url, &["verify", "--all"]);
    assert!(out.contains("ok: no problem found"), "{out}");
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn seed_writes_through_the_coordinator_in_both_modes_and_at_scale() {
    let plain = PgDatabase::new();
    succeeds(&plain.url, &["migrate", "up"]);
    let citus = CitusDatabase::new();
    succeeds(&citus.url, &["migrate", "up"]);
    for args in [&["seed"][..], &["seed", "--scale", "3"][..]] {
        succeeds(&plain.url, args);
        succeeds(&citus.url, args);
        let (mut plain_client, mut citus_client) = (plain.client(), citus.client());
        let expected: Vec<(String, i64)> = contents(&mut plain_client)
            .into_iter()
            .filter(|(t, _)| !t.contains("checksum"))
            .collect();
        let got: Vec<(String, i64)> = contents(&mut citus_client)
            .into_iter()
            .filter(|(t, _)| !t.contains("checksum"))
            .collect();
        assert_eq!(
            got, expected,
            "{args:?}: the same rows as on plain PostgreSQL"
        );
    }
    // Replace mode deletes what the fixtures do not name, on the shards too.
    let mut client = citus.client();
    client
        .batch_execute(
            "INSERT INTO devices (id, mqtt_password_hash) VALUES ('stray', 'x');
             INSERT INTO telemetry (time, device_id) VALUES (now(), 'stray');",
        )
        .unwrap();
    succeeds(&citus.url, &["seed", "--mode", "upsert"]);
    let strays = |client: &mut Client| -> i64 {
        client
            .query_one(
                "SELECT (SELECT count(*) FROM devices WHERE id = 'stray')
                      + (SELECT count(*) FROM telemetry WHERE device_id = 'stray')",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(strays(&mut client), 2, "upsert keeps other rows");
    let out = succeeds(&citus.url, &["seed"]);
    assert!(out.contains("replace mode"), "{out}");
    assert_eq!(
        strays(&mut client),
        0,
        "replace deletes them, telemetry by cascade"
    );
    assert_distributed_by_device(&mut client);
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn distribute_takes_a_plain_database_with_rows_into_the_cluster() {
    // A plain database, migrated and filled before Citus was there.
    let citus = CitusDatabase::with(Setup::NoExtension);
    let out = succeeds(&citus.url, &["migrate", "up"]);
    assert!(
        out.contains("the tables stay local: Citus is not in use"),
        "{out}"
    );
    citus.client().batch_execute(GARDEN_ROWS).unwrap();
    let before = contents(&mut citus.client());
    let keys = foreign_keys(&mut citus.client());

    // Not a coordinator yet: refused, nothing changed.
    let output = plantdb(&citus.url, &["migrate", "distribute"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the citus extension is not installed in this database"),
        "{}",
        stderr(&output)
    );

    citus.join_cluster();
    // Taken back below the distribution: `migrate up` is the way, and nothing changes here.
    succeeds(
        &citus.url,
        &[
            "--citus",
            "off",
            "migrate",
            "down",
            "--to",
            BEFORE_DISTRIBUTION,
        ],
    );
    let output = plantdb(&citus.url, &["migrate", "distribute"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("migration 20260301000001 (citus_distribution) is not applied yet")
            && text.contains("hint:"),
        "{text}"
    );
    assert_eq!(citus_tables(&mut citus.client()), []);
    succeeds(&citus.url, &["--citus", "off", "migrate", "up"]);

    let out = succeeds(&citus.url, &["migrate", "distribute"]);
    assert!(out.contains("distributed telemetry by device_id"), "{out}");
    let mut client = citus.client();
    assert_distributed_by_device(&mut client);
    assert_eq!(contents(&mut client), before, "every row is in the shards");
    assert_eq!(foreign_keys(&mut client), keys);
    // The coordinator's own copies are gone from disk.
    let local: i64 = client
        .query_one(
            "SELECT sum(pg_relation_size(t))::bigint
             FROM unnest('{devices,telemetry,alerts}'::regclass[]) AS t",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(local, 0, "local data truncated");
    succeeds(&citus.url, &["verify", "--live"]);

    // Again: nothing left to do, said in one JSON document too.
    let out = succeeds(&citus.url, &["--json", "migrate", "distribute"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["notices"],
        serde_json::json!(["the tables are distributed already"]),
        "{report}"
    );
    assert_eq!(report["citus"]["in_use"], true, "{report}");
    let telemetry = report["citus"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "telemetry")
        .cloned();
    assert_eq!(
        telemetry.map(|t| (t["kind"].clone(), t["distribution_column"].clone())),
        Some((
            serde_json::json!("distributed"),
            serde_json::json!("device_id")
        )),
        "{report}"
    );
    assert_eq!(contents(&mut client), before);
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn distribute_refuses_rows_without_a_device_and_changes_nothing() {
    let citus = CitusDatabase::with(Setup::NoExtension);
    succeeds(&citus.url, &["migrate", "up"]);
    let mut client = citus.client();
    client.batch_execute(GARDEN_ROWS).unwrap();
    client
        .batch_execute(
            "INSERT INTO alerts (plant_id, metric, value, threshold, direction)
             VALUES ('ivy', 'temperature', 9, 12, 'below')",
        )
        .unwrap();
    let before = contents(&mut client);
    citus.join_cluster();
    let output = plantdb(&citus.url, &["migrate", "distribute"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("20260301000001")
            && text.contains("cannot distribute alerts: 1 row(s) have no device_id"),
        "{text}"
    );
    assert!(text.contains("hint:"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let mut client = citus.client();
    assert_eq!(citus_tables(&mut client), [], "nothing distributed");
    assert_eq!(contents(&mut client), before);
    succeeds(&citus.url, &["verify", "--live"]);
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn distribute_that_fails_half_way_leaves_the_database_as_it_was() {
    // The application's own table references devices: every table gets distributed, and then
    // the last step, truncating the coordinator's copies, fails on that reference.
    let citus = CitusDatabase::with(Setup::NoExtension);
    succeeds(&citus.url, &["migrate", "up"]);
    let mut client = citus.client();
    client.batch_execute(GARDEN_ROWS).unwrap();
    client
        .batch_execute(
            "CREATE TABLE device_labels (device_id TEXT PRIMARY KEY REFERENCES devices (id), label TEXT);
             INSERT INTO device_labels VALUES ('dev-1', 'kitchen');",
        )
        .unwrap();
    let before = contents(&mut client);
    let keys = foreign_keys(&mut client);
    citus.join_cluster();
    let output = plantdb(&citus.url, &["migrate", "distribute"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("20260301000001"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let mut client = citus.client();
    assert_eq!(
        citus_tables(&mut client),
        [],
        "nothing distributed, no reference table"
    );
    assert_eq!(contents(&mut client), before, "every row where it was");
    assert_eq!(
        foreign_keys(&mut client),
        keys,
        "every foreign key where it was"
    );
    succeeds(&citus.url, &["verify", "--live"]);
}

#[test]
fn without_citus_the_distribution_is_a_no_op_and_distribute_is_refused() {
    let pg = PgDatabase::new();
    let out = succeeds(&pg.url, &["migrate", "up"]);
    assert!(
        out.contains("the tables stay local: Citus is not in use"),
        "{out}"
    );
    let keys = foreign_keys(&mut pg.client());
    for (args, message) in [
        (
            &["migrate", "distribute"][..],
            "Citus is required (--citus require) but cannot be used",
        ),
        (
            &["--citus", "off", "migrate", "distribute"][..],
            "`--citus off` and `migrate distribute` contradict each other",
        ),
    ] {
        let output = plantdb(&pg.url, args);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains(message), "{args:?}: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
    assert_eq!(foreign_keys(&mut pg.client()), keys, "nothing changed");
    succeeds(&pg.url, &["verify", "--live"]);
    // Down is a no-op too: the catalog has nothing of Citus's.
    succeeds(&pg.url, &["migrate", "down"]);
    assert_eq!(foreign_keys(&mut pg.client()), keys);

    let file = SqliteFile::new();
    succeeds(&file.url(), &["migrate", "up"]);
    let output = plantdb(&file.url(), &["migrate", "distribute"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("needs PostgreSQL: SQLite has no Citus"),
        "{}",
        stderr(&output)
    );
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn reset_refuses_a_coordinator_whose_shards_are_on_the_workers() {
    let citus = CitusDatabase::new();
    succeeds(&citus.url, &["migrate", "up"]);
    citus.client().batch_execute(GARDEN_ROWS).unwrap();
    let before = contents(&mut citus.client());
    let output = plantdb(&citus.url, &["reset", "--yes"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("it is a Citus coordinator, and dropping it would leave its tables' shards on the workers")
            && text.contains(&citus.name),
        "{text}"
    );
    assert!(text.contains("migrate down --to 0"), "{text}");
    let mut client = citus.client();
    assert_eq!(contents(&mut client), before, "nothing dropped");
    assert_distributed_by_device(&mut client);
}

/// A project's own migration that creates a table distributes it in the same script, the way
/// `migrate new`'s header shows; plain PostgreSQL gets a plain table from the same file.
fn migrations_with_device_notes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for dialect in ["postgres", "sqlite"] {
        let to = dir.path().join(dialect);
        std::fs::create_dir_all(&to).unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let up_pg = "CREATE TABLE device_notes (
            device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
            noted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            note      TEXT NOT NULL,
            PRIMARY KEY (device_id, noted_at)
        );
        DO $$ BEGIN IF current_setting('plantdb.citus', true) = 'on' THEN
            PERFORM create_distributed_table('device_notes', 'device_id', colocate_with => 'devices');
        END IF; END $$;";
    let up_sqlite = "CREATE TABLE device_notes (
            device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
            noted_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            note      TEXT NOT NULL,
            PRIMARY KEY (device_id, noted_at)
        );";
    for (dialect, up) in [("postgres", up_pg), ("sqlite", up_sqlite)] {
        let base = dir
            .path()
            .join(dialect)
            .join("V20261101000000__create_device_notes");
        std::fs::write(base.with_extension("sql"), up).unwrap();
        std::fs::write(base.with_extension("down.sql"), "DROP TABLE device_notes;").unwrap();
    }
    dir
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn a_migration_that_creates_a_table_distributes_it_in_the_same_transaction() {
    let dir = migrations_with_device_notes();
    let migrations = dir.path().to_str().unwrap();
    let citus = CitusDatabase::new();
    succeeds(&citus.url, &["--migrations", migrations, "migrate", "up"]);
    let mut client = citus.client();
    let notes: Vec<(String, String, Option<String>, i32)> = citus_tables(&mut client)
        .into_iter()
        .filter(|t| t.0 == "device_notes")
        .collect();
    let devices = citus_tables(&mut client)
        .into_iter()
        .find(|t| t.0 == "devices")
        .unwrap();
    assert_eq!(notes.len(), 1, "distributed");
    assert_eq!(notes[0].1, "distributed");
    assert_eq!(notes[0].2.as_deref(), Some("device_id"));
    assert_eq!(notes[0].3, devices.3, "colocated with devices");
    succeeds(
        &citus.url,
        &["--migrations", migrations, "verify", "--live"],
    );
    // Down drops it, up distributes it again.
    succeeds(&citus.url, &["--migrations", migrations, "migrate", "down"]);
    assert!(
        !citus_tables(&mut client)
            .iter()
            .any(|t| t.0 == "device_notes")
    );
    succeeds(&citus.url, &["--migrations", migrations, "migrate", "up"]);
    assert!(
        citus_tables(&mut client)
            .iter()
            .any(|t| t.0 == "device_notes" && t.1 == "distributed")
    );

    // The same file on plain PostgreSQL: a plain table.
    let plain = PgDatabase::new();
    succeeds(&plain.url, &["--migrations", migrations, "migrate", "up"]);
    succeeds(&plain.url, &["--migrations", migrations, "verify", "--all"]);
}
