//! `--citus auto|require|off`: the decision and the refusals on servers without Citus (plain
//! PostgreSQL and SQLite; nothing here pretends to be Citus), and the same commands on a real
//! coordinator with two workers when `PLANTDB_TEST_CITUS=1` (see `support::citus`).

use std::process::Output;

use assert_cmd::Command;

use plantdb::db::HISTORY_TABLE;

use crate::support::citus::{CitusDatabase, Setup, WORKERS};
use crate::support::{PgDatabase, SqliteFile};

fn plantdb(url: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a working directory");
    let mut cmd = Command::cargo_bin("plantdb").expect("the binary");
    cmd.current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_CITUS")
        .env_remove("PLANTDB_TIMESCALE")
        .args(["--database-url", url]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args).output().expect("plantdb runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A database someone already uses: one plain table with a row, made with plain SQL.
fn plain_database_with_data() -> PgDatabase {
    let pg = PgDatabase::new();
    pg.client()
        .batch_execute(
            "CREATE TABLE plants (id TEXT PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO plants VALUES ('p1', 'Monstera');",
        )
        .unwrap();
    pg
}

/// The tables of the public schema, to show that nothing was created or dropped.
fn public_tables(pg: &PgDatabase) -> Vec<String> {
    pg.client()
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn require_on_plain_postgres_fails_before_anything_changes() {
    for (env, flag) in [
        (vec![], vec!["--citus", "require"]),
        (vec![("PLANTDB_CITUS", "require")], vec![]),
    ] {
        for command in [&["migrate", "up"][..], &["seed"][..]] {
            let pg = plain_database_with_data();
            let args: Vec<&str> = flag.iter().chain(command).copied().collect();
            let output = plantdb(&pg.url, &env, &args);
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
            assert!(
                text.contains("Citus is required (--citus require) but cannot be used")
                    && text.contains("127.0.0.1")
                    && text.contains("the citus extension is not available on this server"),
                "{args:?}: {text}"
            );
            assert!(
                text.contains("hint:") && text.contains("--citus auto|off"),
                "{text}"
            );
            assert!(!text.contains("panicked"), "{text}");
            assert_eq!(public_tables(&pg), ["plants"], "{args:?}: nothing created");
            let rows: i64 = pg
                .client()
                .query_one("SELECT count(*) FROM plants", &[])
                .unwrap()
                .get(0);
            assert_eq!(rows, 1);
        }
    }
}

#[test]
fn require_on_sqlite_is_refused_before_the_file_is_created() {
    for args in [
        &["--citus", "require", "migrate", "up"][..],
        &["--citus", "require", "seed"][..],
        &["--citus", "require", "reset", "--yes", "--no-seed"][..],
    ] {
        let file = SqliteFile::new();
        let output = plantdb(&file.url(), &[], args);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("`--citus require` needs PostgreSQL: SQLite has no Citus"),
            "{args:?}: {text}"
        );
        assert!(!file.path.exists(), "{args:?}: nothing was created");
    }
    // A SQLite file that exists is left as it was.
    let file = SqliteFile::new();
    file.connection()
        .execute_batch(
            "CREATE TABLE plants (id TEXT PRIMARY KEY); INSERT INTO plants VALUES ('p1');",
        )
        .unwrap();
    let output = plantdb(
        &file.url(),
        &[("PLANTDB_CITUS", "require")],
        &["migrate", "up"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let tables: i64 = file
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "no history table, no migration");
}

#[test]
fn citus_and_timescale_both_required_is_refused_before_connecting() {
    let pg = plain_database_with_data();
    let output = plantdb(
        &pg.url,
        &[("PLANTDB_TIMESCALE", "require")],
        &["--citus", "require", "migrate", "up"],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`--citus require` and `--timescale require` both claim the telemetry table"),
        "{text}"
    );
    assert!(
        text.contains("--citus off"),
        "the hint says how to choose: {text}"
    );
    assert_eq!(public_tables(&pg), ["plants"]);
}

#[test]
fn auto_and_off_stay_plain_without_citus_on_both_dialects() {
    for policy in ["auto", "off"] {
        let pg = PgDatabase::new();
        let output = plantdb(&pg.url, &[("PLANTDB_CITUS", policy)], &["migrate", "up"]);
        assert!(output.status.success(), "{policy}: {}", stderr(&output));
        let distributed: bool = pg
            .client()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(!distributed, "plantdb never creates the citus extension");
        assert!(public_tables(&pg).contains(&"telemetry".to_string()));

        let file = SqliteFile::new();
        let output = plantdb(&file.url(), &[], &["--citus", policy, "migrate", "up"]);
        assert!(output.status.success(), "{policy}: {}", stderr(&output));
    }
}

#[test]
fn an_unknown_citus_policy_is_a_usage_error() {
    let file = SqliteFile::new();
    let output = plantdb(&file.url(), &[], &["--citus", "sometimes", "status"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("auto") && text.contains("require") && text.contains("off"),
        "{text}"
    );
    assert!(!file.path.exists());
}

// On a real cluster. Without `PLANTDB_TEST_CITUS=1` these are listed as ignored, with the
// reason; with it and no Citus to be had, they fail.

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn the_test_cluster_is_a_coordinator_with_two_workers() {
    let citus = CitusDatabase::new();
    let mut client = citus.client();
    let ports: Vec<i32> = client
        .query(
            "SELECT nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive ORDER BY nodeport",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut expected: Vec<i32> = citus.worker_ports.iter().map(|p| i32::from(*p)).collect();
    expected.sort();
    assert_eq!(ports, expected);
    assert_eq!(ports.len(), WORKERS);
    // DDL inside a transaction reaches the workers: a distributed table has shards there.
    client
        .batch_execute(
            "BEGIN;
             CREATE TABLE probe (id TEXT PRIMARY KEY);
             SELECT create_distributed_table('probe', 'id');
             COMMIT;",
        )
        .unwrap();
    let nodes: i64 = client
        .query_one(
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'probe'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nodes, WORKERS as i64, "shards on both workers");
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn require_is_met_on_a_coordinator_with_workers_and_the_history_stays_on_the_coordinator() {
    let citus = CitusDatabase::new();
    let output = plantdb(
        &citus.url,
        &[("PLANTDB_CITUS", "require")],
        &["migrate", "up"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let mut client = citus.client();
    let history: i64 = client
        .query_one(&format!("SELECT count(*) FROM {HISTORY_TABLE}"), &[])
        .unwrap()
        .get(0);
    assert!(history > 0, "the history is on the coordinator");
    let output = plantdb(
        &citus.url,
        &[],
        &["--citus", "require", "status", "--check"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn require_names_what_a_half_set_up_cluster_lacks_and_auto_stays_plain_there() {
    for (setup, reason) in [
        (
            Setup::NoExtension,
            "the citus extension is not installed in this database",
        ),
        (Setup::NoWorkers, "this database has no active Citus worker"),
    ] {
        let citus = CitusDatabase::with(setup);
        let output = plantdb(&citus.url, &[], &["--citus", "require", "migrate", "up"]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{setup:?}: {text}");
        assert!(text.contains(reason), "{setup:?}: {text}");
        let tables: i64 = citus
            .client()
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "{setup:?}: nothing created");

        let output = plantdb(&citus.url, &[], &["--citus", "auto", "migrate", "up"]);
        assert!(output.status.success(), "{setup:?}: {}", stderr(&output));
    }
}

#[test]
fn status_says_citus_is_not_in_use_on_plain_postgres_and_is_null_on_sqlite() {
    let pg = plain_database_with_data();
    let output = plantdb(&pg.url, &[], &["status", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let citus = &report["citus"];
    assert_eq!(citus["installed"], false, "{report}");
    assert_eq!(citus["in_use"], false, "{report}");
    assert_eq!(citus["workers"], serde_json::json!([]), "{report}");
    assert_eq!(citus["tables"], serde_json::json!([]), "{report}");

    let file = SqliteFile::new();
    file.connection()
        .execute_batch("CREATE TABLE plants (id TEXT PRIMARY KEY)")
        .unwrap();
    let output = plantdb(&file.url(), &[], &["status", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["citus"].is_null(), "{report}");
}

#[test]
#[cfg_attr(
    not(plantdb_test_citus),
    ignore = "needs a Citus cluster: PLANTDB_TEST_CITUS=1 PLANTDB_TEST_CITUS_DIR=<DESTDIR root> (README, Citus)"
)]
fn status_lists_the_workers_and_each_distributed_table() {
    let citus = CitusDatabase::new();
    // devices distributed by id, telemetry by device_id colocated with it, plants a reference
    // table: made here with plain SQL, as Citus's own functions do it.
    citus
        .client()
        .batch_execute(
            "CREATE TABLE plants (id TEXT PRIMARY KEY, name TEXT NOT NULL);
             SELECT create_reference_table('plants');
             CREATE TABLE devices (id TEXT PRIMARY KEY, plant_id TEXT REFERENCES plants (id));
             SELECT create_distributed_table('devices', 'id', shard_count => 4);
             CREATE TABLE telemetry (time TIMESTAMPTZ NOT NULL,
                                     device_id TEXT REFERENCES devices (id));
             SELECT create_distributed_table('telemetry', 'device_id', colocate_with => 'devices');",
        )
        .unwrap();
    let output = plantdb(&citus.url, &[], &["status", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let state = &report["citus"];
    assert_eq!(state["in_use"], true, "{report}");
    let mut ports: Vec<u64> = state["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    let mut expected: Vec<u64> = citus.worker_ports.iter().map(|p| u64::from(*p)).collect();
    expected.sort();
    assert_eq!(ports, expected, "{report}");
    let tables = serde_json::json!([
        { "name": "devices", "kind": "distributed", "distribution_column": "id", "shard_count": 4 },
        { "name": "plants", "kind": "reference", "distribution_column": null, "shard_count": 1 },
        { "name": "telemetry", "kind": "distributed", "distribution_column": "device_id",
          "shard_count": 4 },
    ]);
    assert_eq!(state["tables"], tables, "{report}");

    let output = plantdb(&citus.url, &[], &["status"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("citus: in use, installed yes, 2 worker(s)"),
        "{text}"
    );
    assert!(
        text.contains("distributed devices by id, 4 shard(s)"),
        "{text}"
    );
    assert!(text.contains("reference plants, 1 shard(s)"), "{text}");
    // --citus off: the same cluster, not used by this run.
    let output = plantdb(&citus.url, &[], &["--citus", "off", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["citus"]["in_use"], false, "{report}");
}
