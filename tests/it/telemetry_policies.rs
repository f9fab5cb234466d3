//! The telemetry policy migrations: compression, retention and `telemetry_hourly`.
//!
//! Where TimescaleDB is not used (SQLite, PostgreSQL without it, `--timescale off`, and the
//! test stand-in, which has hypertables but no compression, policies or continuous
//! aggregates), the policies are recorded no-ops and `telemetry_hourly` an ordinary view; these
//! cases run everywhere. The `real_timescaledb_*` tests need the real extension: they run when
//! the tests are built with `PLANTDB_TEST_TIMESCALE=real` (and fail if the harness finds no
//! real TimescaleDB), and are reported as ignored otherwise.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value as Json;

use crate::support::{
    PgDatabase, SqliteFile, TestDb, TimescaleKind, each_dialect, timescaledb_kind,
};

/// The last version before the telemetry policy migrations.
const BEFORE_POLICIES: &str = "20260209000006";

/// `plantdb` in `dir` on `url`, with no TimescaleDB policy or telemetry setting inherited.
fn plantdb(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").expect("the binary");
    cmd.current_dir(dir)
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove("PLANTDB_TELEMETRY_COMPRESS_AFTER")
        .env_remove("PLANTDB_TELEMETRY_RETAIN_FOR")
        .env(
            "PLANTDB_SECRET_KEY",
            "K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=",
        )
        .env("DATABASE_URL", url)
        .timeout(std::time::Duration::from_secs(300));
    cmd
}

fn run_ok(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("run plantdb");
    assert!(
        output.status.success(),
        "plantdb failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn status_json(dir: &Path, url: &str) -> Json {
    let output = run_ok(plantdb(dir, url).args(["status", "--json"]));
    serde_json::from_slice(&output.stdout).expect("status --json is JSON")
}

/// Known readings, in plain SQL that both dialects take: two devices, three readings of
/// `dev-1` across two hours (one without humidity), one of `dev-2`.
const READINGS: &str = "
    INSERT INTO devices (id, mqtt_password_hash) VALUES ('dev-1', 'x'), ('dev-2', 'x');
    INSERT INTO telemetry (time, device_id, soil_moisture, temperature, humidity, light_level) VALUES
        ('2026-01-10T10:05:00Z', 'dev-1', 40, 20, 50, 100),
        ('2026-01-10T10:35:00Z', 'dev-1', 44, 22, NULL, 300),
        ('2026-01-10T11:10:00Z', 'dev-1', 30, 18, 60, 0),
        ('2026-01-10T10:20:00Z', 'dev-2', 10, 5, 90, 7);";

/// One row of `telemetry_hourly` as the tests compare it.
type HourlyRow = (String, String, f64, f64, f64, i64, i64, f64);

/// What `telemetry_hourly` must say about [`READINGS`]: device, hour (UTC), soil moisture
/// min, max, avg and count, humidity count, light level avg.
fn expected_hourly() -> Vec<HourlyRow> {
    vec![
        (
            "dev-1".into(),
            "2026-01-10T10:00:00Z".into(),
            40.0,
            44.0,
            42.0,
            2,
            1,
            200.0,
        ),
        (
            "dev-1".into(),
            "2026-01-10T11:00:00Z".into(),
            30.0,
            30.0,
            30.0,
            1,
            1,
            0.0,
        ),
        (
            "dev-2".into(),
            "2026-01-10T10:00:00Z".into(),
            10.0,
            10.0,
            10.0,
            1,
            1,
            7.0,
        ),
    ]
}

fn insert_readings(db: &TestDb) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(READINGS).expect("readings"),
        TestDb::Sqlite(file) => file.connection().execute_batch(READINGS).expect("readings"),
    }
}

fn hourly(db: &TestDb) -> Vec<HourlyRow> {
    match db {
        TestDb::Postgres(pg) => hourly_pg(pg),
        TestDb::Sqlite(file) => {
            let conn = file.connection();
            let mut stmt = conn
                .prepare(
                    "SELECT device_id, bucket, soil_moisture_min, soil_moisture_max,
                            soil_moisture_avg, soil_moisture_count, humidity_count,
                            light_level_avg
                     FROM telemetry_hourly ORDER BY device_id, bucket",
                )
                .expect("telemetry_hourly has the columns");
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
        }
    }
}

fn hourly_pg(pg: &PgDatabase) -> Vec<HourlyRow> {
    pg.client()
        .query(
            "SELECT device_id,
                    to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    soil_moisture_min, soil_moisture_max, soil_moisture_avg,
                    soil_moisture_count, humidity_count, light_level_avg
             FROM telemetry_hourly ORDER BY device_id, bucket",
            &[],
        )
        .expect("telemetry_hourly has the columns")
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            )
        })
        .collect()
}

/// Whether `telemetry_hourly` exists, as a view of either kind.
fn hourly_exists(db: &TestDb) -> bool {
    match db {
        TestDb::Postgres(pg) => pg
            .client()
            .query_one("SELECT to_regclass('telemetry_hourly') IS NOT NULL", &[])
            .expect("query")
            .get(0),
        TestDb::Sqlite(file) => {
            file.connection()
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'telemetry_hourly'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .expect("query")
                == 1
        }
    }
}

fn assert_no_ops_and_a_view(doc: &Json, case: &str) {
    let policies = &doc["telemetry_policies"];
    assert_eq!(policies["compression"]["state"], "no-op", "{case}: {doc}");
    assert_eq!(policies["retention"]["state"], "no-op", "{case}: {doc}");
    assert_eq!(policies["telemetry_hourly"], "view", "{case}: {doc}");
}

#[test]
fn without_timescaledb_the_policies_are_recorded_no_ops_and_telemetry_hourly_is_a_view() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().expect("dir");
        let url = db.url();
        let up = run_ok(plantdb(dir.path(), &url).args(["migrate", "up"]));
        let up_text = String::from_utf8_lossy(&up.stdout);
        assert!(up_text.contains("telemetry_hourly"), "{up_text}");
        let doc = status_json(dir.path(), &url);
        assert_eq!(doc["up_to_date"], true, "{doc}");
        assert_no_ops_and_a_view(&doc, db.dialect_name());
        let text = run_ok(plantdb(dir.path(), &url).arg("status"));
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains(
                "telemetry: compression no-op (TimescaleDB not used), retention no-op \
                 (TimescaleDB not used), telemetry_hourly is an ordinary view"
            ),
            "{text}"
        );

        insert_readings(&db);
        assert_eq!(hourly(&db), expected_hourly(), "{}", db.dialect_name());
    });
}

#[test]
fn the_view_fallback_holds_under_timescale_off_and_on_a_timescaledb_without_policies() {
    // `--timescale off` with the extension installed, and (on the stand-in) auto with a
    // hypertable but no compression, policies or continuous aggregates: no-ops and a view.
    let mut cases = vec![("off", "--timescale=off")];
    if timescaledb_kind() == TimescaleKind::StandIn {
        cases.push(("stand-in", "--timescale=auto"));
    }
    for (case, flag) in cases {
        let pg = PgDatabase::with_timescaledb();
        pg.client()
            .batch_execute("CREATE EXTENSION timescaledb")
            .expect("the extension");
        let dir = tempfile::tempdir().expect("dir");
        let up = run_ok(plantdb(dir.path(), &pg.url).args([flag, "migrate", "up"]));
        let notices =
            String::from_utf8_lossy(&up.stdout).to_string() + &String::from_utf8_lossy(&up.stderr);
        let doc = status_json(dir.path(), &pg.url);
        assert_no_ops_and_a_view(&doc, case);
        if case == "stand-in" {
            assert_eq!(doc["timescaledb"]["telemetry_hypertable"], true, "{doc}");
            assert!(
                notices.contains(
                    "no telemetry compression policy: this TimescaleDB has no compression"
                ),
                "{notices}"
            );
        }
        let db = TestDb::Postgres(pg);
        insert_readings(&db);
        assert_eq!(hourly(&db), expected_hourly(), "{case}");
    }
}

#[test]
fn down_removes_telemetry_hourly_and_up_down_up_and_verify_pass() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().expect("dir");
        let url = db.url();
        run_ok(plantdb(dir.path(), &url).args(["migrate", "up"]));
        assert!(hourly_exists(&db));
        run_ok(plantdb(dir.path(), &url).args(["migrate", "down", "--to", BEFORE_POLICIES]));
        assert!(!hourly_exists(&db), "{}", db.dialect_name());
        let doc = status_json(dir.path(), &url);
        assert_eq!(
            doc["telemetry_policies"]["compression"]["state"], "pending",
            "{doc}"
        );
        assert_eq!(
            doc["telemetry_policies"]["telemetry_hourly"], "absent",
            "{doc}"
        );
        run_ok(plantdb(dir.path(), &url).args(["migrate", "up"]));
        assert!(hourly_exists(&db));
        run_ok(plantdb(dir.path(), &url).args(["verify", "--all"]));
    });
}

#[test]
fn bad_durations_are_refused_before_anything_runs_and_name_the_setting() {
    let file = SqliteFile::new();
    let dir = tempfile::tempdir().expect("dir");
    for (variable, value, expected) in [
        (
            "PLANTDB_TELEMETRY_COMPRESS_AFTER",
            "7 dais",
            "unknown unit `dais`",
        ),
        (
            "PLANTDB_TELEMETRY_RETAIN_FOR",
            "3 days",
            "must be longer than",
        ),
    ] {
        let output = plantdb(dir.path(), &file.url())
            .env(variable, value)
            .args(["migrate", "up"])
            .output()
            .expect("run plantdb");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!file.path.exists(), "nothing was created");
    }
}

#[test]
fn the_durations_never_change_a_checksum() {
    // Applied with one setting, checked with another: no drift, nothing pending.
    let pg = PgDatabase::new();
    let dir = tempfile::tempdir().expect("dir");
    run_ok(
        plantdb(dir.path(), &pg.url)
            .env("PLANTDB_TELEMETRY_COMPRESS_AFTER", "2 days")
            .env("PLANTDB_TELEMETRY_RETAIN_FOR", "30 days")
            .args(["migrate", "up"]),
    );
    let output = plantdb(dir.path(), &pg.url)
        .env("PLANTDB_TELEMETRY_COMPRESS_AFTER", "3 weeks")
        .args(["status", "--check"])
        .output()
        .expect("run plantdb");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

// ---- the real TimescaleDB ----

/// The real extension's server, or a failure saying how to get it: these tests never pass
/// on the stand-in.
fn real_timescaledb() -> PgDatabase {
    assert_eq!(
        timescaledb_kind(),
        TimescaleKind::Real,
        "PLANTDB_TEST_TIMESCALE=real needs the real TimescaleDB: install it, or set \
         PLANTDB_TEST_TIMESCALEDB_DIR to where it was staged with DESTDIR"
    );
    let pg = PgDatabase::with_timescaledb();
    pg.client()
        .batch_execute("CREATE EXTENSION timescaledb")
        .expect("the extension");
    pg
}

/// `(proc_name, config)` of TimescaleDB's jobs for telemetry and `telemetry_hourly`.
fn jobs(pg: &PgDatabase) -> Vec<(String, String)> {
    pg.client()
        .query(
            "SELECT proc_name::text, config::text FROM timescaledb_information.jobs
             WHERE hypertable_name IN ('telemetry', 'telemetry_hourly')
                OR (proc_name = 'policy_refresh_continuous_aggregate')
             ORDER BY proc_name",
            &[],
        )
        .expect("jobs")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
#[cfg_attr(
    not(plantdb_real_timescale),
    ignore = "needs the real TimescaleDB: build the tests with PLANTDB_TEST_TIMESCALE=real (see README)"
)]
fn real_timescaledb_runs_the_policies_and_the_continuous_aggregate() {
    let pg = real_timescaledb();
    let dir = tempfile::tempdir().expect("dir");
    run_ok(
        plantdb(dir.path(), &pg.url)
            .env("PLANTDB_TELEMETRY_COMPRESS_AFTER", "3 days")
            .env("PLANTDB_TELEMETRY_RETAIN_FOR", "30 days")
            .args(["--timescale", "require", "migrate", "up"]),
    );

    let jobs = jobs(&pg);
    let procs: Vec<&str> = jobs.iter().map(|(proc, _)| proc.as_str()).collect();
    assert_eq!(
        procs,
        [
            "policy_compression",
            "policy_refresh_continuous_aggregate",
            "policy_retention"
        ],
        "{jobs:?}"
    );
    assert!(
        jobs[0].1.contains(r#""compress_after": "3 days""#),
        "{jobs:?}"
    );
    assert!(jobs[2].1.contains(r#""drop_after": "30 days""#), "{jobs:?}");
    let settings: (String, String) = {
        let row = pg
            .client()
            .query_one(
                "SELECT segmentby::text, orderby::text FROM timescaledb_information.hypertable_columnstore_settings
                 WHERE hypertable = 'telemetry'::regclass",
                &[],
            )
            .expect("compression settings");
        (row.get(0), row.get(1))
    };
    assert_eq!(
        settings,
        ("device_id".to_string(), r#""time" DESC"#.to_string())
    );

    let doc = status_json(dir.path(), &pg.url);
    let policies = &doc["telemetry_policies"];
    assert_eq!(policies["compression"]["state"], "applied", "{doc}");
    assert_eq!(policies["compression"]["after"], "3 days", "{doc}");
    assert_eq!(policies["retention"]["after"], "30 days", "{doc}");
    assert_eq!(
        policies["telemetry_hourly"], "continuous_aggregate",
        "{doc}"
    );

    // The continuous aggregate gives the right figures once materialized. Real-time
    // aggregation covers only the hours after the watermark, which the refresh policy's
    // background job may already have moved to an hour ago (its end offset): the readings of
    // January are then visible only after a refresh, so they are checked after one, and
    // real-time aggregation with a reading of the current hour, which no refresh reaches.
    let db = TestDb::Postgres(pg);
    insert_readings(&db);
    let TestDb::Postgres(pg) = &db else {
        unreachable!()
    };
    pg.client()
        .batch_execute("CALL refresh_continuous_aggregate('telemetry_hourly', NULL, NULL)")
        .expect("refresh");
    assert_eq!(hourly_pg(pg), expected_hourly(), "materialized");
    pg.client()
        .batch_execute(
            "INSERT INTO telemetry (time, device_id, soil_moisture) VALUES (now(), 'dev-2', 55)",
        )
        .expect("a reading of the current hour");
    let current: (i64, f64) = pg
        .client()
        .query_one(
            "SELECT soil_moisture_count, soil_moisture_max FROM telemetry_hourly
             WHERE device_id = 'dev-2' AND bucket = date_trunc('hour', now(), 'UTC')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .expect("the current hour, aggregated in real time");
    assert_eq!(current, (1, 55.0), "real-time");

    // Down removes the policies, the aggregate and compression; up again and verify pass.
    run_ok(plantdb(dir.path(), &pg.url).args(["migrate", "down", "--to", BEFORE_POLICIES]));
    assert_eq!(jobs_of(pg), 0, "no policy is left");
    assert!(!hourly_exists(&db));
    let compression: bool = pg
        .client()
        .query_one(
            "SELECT compression_enabled FROM timescaledb_information.hypertables
             WHERE hypertable_name = 'telemetry'",
            &[],
        )
        .expect("hypertable")
        .get(0);
    assert!(!compression);
    run_ok(plantdb(dir.path(), &pg.url).args(["--timescale", "require", "migrate", "up"]));
    assert_eq!(jobs_of(pg), 3);
    run_ok(plantdb(dir.path(), &pg.url).args(["verify", "--all"]));
}

fn jobs_of(pg: &PgDatabase) -> usize {
    jobs(pg).len()
}

/// Chunks of telemetry: (all, compressed).
fn chunks(pg: &PgDatabase) -> (i64, i64) {
    let row = pg
        .client()
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE is_compressed)
             FROM timescaledb_information.chunks WHERE hypertable_name = 'telemetry'",
            &[],
        )
        .expect("chunks");
    (row.get(0), row.get(1))
}

#[test]
#[cfg_attr(
    not(plantdb_real_timescale),
    ignore = "needs the real TimescaleDB: build the tests with PLANTDB_TEST_TIMESCALE=real (see README)"
)]
fn real_timescaledb_compresses_chunks_and_seed_scale_writes_into_them() {
    let pg = real_timescaledb();
    let dir = tempfile::tempdir().expect("dir");
    run_ok(plantdb(dir.path(), &pg.url).args(["--timescale", "require", "migrate", "up"]));
    run_ok(plantdb(dir.path(), &pg.url).args(["seed", "--now", "2026-02-07T12:02:00Z"]));
    let count = |pg: &PgDatabase| -> i64 {
        pg.client()
            .query_one("SELECT count(*) FROM telemetry", &[])
            .expect("count")
            .get(0)
    };
    assert_eq!(count(&pg), 3 * 7 * 288);

    pg.client()
        .batch_execute("SELECT compress_chunk(c) FROM show_chunks('telemetry') c")
        .expect("compress");
    let (all, compressed) = chunks(&pg);
    assert!(
        all > 0 && compressed == all,
        "{compressed} of {all} chunks compressed"
    );

    // Replacing the telemetry deletes from and inserts into compressed chunks.
    run_ok(plantdb(dir.path(), &pg.url).args([
        "seed",
        "--scale",
        "3",
        "--now",
        "2026-02-07T12:02:00Z",
    ]));
    assert_eq!(count(&pg), 3 * 3 * 7 * 288);
    let (_, still_compressed) = chunks(&pg);
    assert!(still_compressed > 0, "the chunks stay compressed");
    let hourly_readings: i64 = pg
        .client()
        .query_one(
            "SELECT sum(soil_moisture_count)::bigint FROM telemetry_hourly",
            &[],
        )
        .expect("hourly")
        .get(0);
    assert_eq!(
        hourly_readings,
        3 * 3 * 7 * 288,
        "telemetry_hourly sees every reading"
    );

    // Down decompresses every chunk before turning compression off, and keeps every row.
    run_ok(plantdb(dir.path(), &pg.url).args(["migrate", "down", "--to", BEFORE_POLICIES]));
    assert_eq!(chunks(&pg).1, 0, "no chunk is left compressed");
    assert_eq!(count(&pg), 3 * 3 * 7 * 288);
}

#[test]
fn timescale_require_refuses_the_policies_on_a_plain_telemetry_table() {
    // telemetry was created a plain table (`off`); `require` then stops at the compression
    // policy, naming why, and applies nothing of it.
    let pg = PgDatabase::with_timescaledb();
    pg.client()
        .batch_execute("CREATE EXTENSION timescaledb")
        .expect("the extension");
    let dir = tempfile::tempdir().expect("dir");
    run_ok(plantdb(dir.path(), &pg.url).args([
        "--timescale",
        "off",
        "migrate",
        "up",
        "--to",
        BEFORE_POLICIES,
    ]));
    let output = plantdb(dir.path(), &pg.url)
        .args(["--timescale", "require", "migrate", "up"])
        .output()
        .expect("run plantdb");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("20260215000001"), "{stderr}");
    assert!(
        stderr.contains(
            "TimescaleDB is required (--timescale require) but telemetry is not a hypertable"
        ),
        "{stderr}"
    );
    let doc = status_json(dir.path(), &pg.url);
    assert_eq!(doc["current_version"], 20260209000006i64, "{doc}");
}
