//! `plantdb migrate adopt --converge`: a database the SPC app's alembic history built at `007`
//! or `008`, and a garden database whose hypertable the old asyncpg runner made, brought to
//! plantdb's definitions without losing a row, a column or a table; then every command works
//! on it as on a fresh one. Also `--timescale require` and `status` on adopted telemetry.

use std::collections::BTreeMap;
use std::path::Path;

use crate::adopt::plantdb;
use crate::support::{PgDatabase, TestDb, TimescaleKind, each_dialect, timescaledb_kind};

fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect("SQL runs"),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect("SQL runs"),
    }
}

fn text(db: &TestDb, sql: &str) -> String {
    match db {
        TestDb::Postgres(pg) => pg.client().query_one(sql, &[]).expect("query").get(0),
        TestDb::Sqlite(file) => file
            .connection()
            .query_row(sql, [], |row| row.get(0))
            .expect("query"),
    }
}

/// Words the two dialects spell differently in the alembic-built schema.
struct Spelling {
    key: &'static str,
    /// A VARCHAR without length (SQLAlchemy's `sa.String()`).
    varchar: &'static str,
    float: &'static str,
    boolean: &'static str,
    /// `sa.DateTime()` without time zone.
    timestamp: &'static str,
    timestamptz: &'static str,
    now: &'static str,
    yes: &'static str,
    no: &'static str,
}

const PG: Spelling = Spelling {
    key: "SERIAL PRIMARY KEY",
    varchar: "VARCHAR",
    float: "DOUBLE PRECISION",
    boolean: "BOOLEAN",
    timestamp: "TIMESTAMP WITHOUT TIME ZONE",
    timestamptz: "TIMESTAMP WITH TIME ZONE",
    now: "now()",
    yes: "true",
    no: "false",
};

const SQLITE: Spelling = Spelling {
    key: "INTEGER NOT NULL PRIMARY KEY",
    varchar: "VARCHAR",
    float: "FLOAT",
    boolean: "BOOLEAN",
    timestamp: "DATETIME",
    timestamptz: "DATETIME",
    now: "CURRENT_TIMESTAMP",
    yes: "1",
    no: "0",
};

/// The SPC database as its alembic history leaves it at `007` (or `008` with `plant`): the
/// constraint and index names plantdb uses, `sample_edit_history` from `006`, the 14 extra
/// columns, VARCHAR without length, `timestamp without time zone` on four columns, no server
/// default on five, and on SQLite SQLAlchemy's type names and `CURRENT_TIMESTAMP` defaults.
/// Then some rows, with `revision` in `alembic_version`.
fn spc_alembic(db: &TestDb, revision: &str) {
    spc_alembic_with(db, revision, false)
}

/// [`spc_alembic`]; `strict` leaves two of the app's NOT NULL columns without a default.
fn spc_alembic_with(db: &TestDb, revision: &str, strict: bool) {
    let s = match db {
        TestDb::Postgres(_) => &PG,
        TestDb::Sqlite(_) => &SQLITE,
    };
    let Spelling {
        key,
        varchar,
        float,
        boolean,
        timestamp,
        timestamptz,
        now,
        yes,
        no,
    } = s;
    let mut sql = format!(
        "CREATE TABLE alembic_version (
            version_num VARCHAR(32) NOT NULL,
            CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
        );
        CREATE TABLE hierarchy (
            id {key},
            parent_id INTEGER REFERENCES hierarchy (id),
            name {varchar} NOT NULL,
            type {varchar} NOT NULL
        );
        CREATE TABLE characteristic (
            id {key},
            hierarchy_id INTEGER NOT NULL REFERENCES hierarchy (id),
            name {varchar} NOT NULL,
            description {varchar},
            subgroup_size INTEGER NOT NULL,
            target_value {float}, usl {float}, lsl {float}, ucl {float}, lcl {float},
            provider_type {varchar} NOT NULL,
            mqtt_topic {varchar},
            trigger_tag {varchar},
            subgroup_mode {varchar} NOT NULL DEFAULT 'NOMINAL_TOLERANCE',
            min_measurements INTEGER NOT NULL DEFAULT 1,
            warn_below_count INTEGER,
            stored_sigma {float},
            stored_center_line {float},
            decimal_precision INTEGER NOT NULL DEFAULT 3
        );
        CREATE TABLE characteristic_rules (
            char_id INTEGER NOT NULL REFERENCES characteristic (id),
            rule_id INTEGER NOT NULL,
            is_enabled {boolean} NOT NULL,
            require_acknowledgement {boolean} NOT NULL DEFAULT {yes},
            PRIMARY KEY (char_id, rule_id)
        );
        CREATE TABLE sample (
            id {key},
            char_id INTEGER NOT NULL REFERENCES characteristic (id),
            timestamp {timestamp} NOT NULL,
            batch_number {varchar},
            operator_id {varchar},
            is_excluded {boolean} NOT NULL,
            actual_n INTEGER NOT NULL DEFAULT 1,
            is_undersized {boolean} NOT NULL DEFAULT {no},
            effective_ucl {float},
            effective_lcl {float},
            z_score {float},
            is_modified {boolean} NOT NULL DEFAULT {no}
        );
        CREATE TABLE measurement (
            id {key},
            sample_id INTEGER NOT NULL REFERENCES sample (id),
            value {float} NOT NULL
        );
        CREATE TABLE violation (
            id {key},
            sample_id INTEGER NOT NULL REFERENCES sample (id),
            rule_id INTEGER NOT NULL,
            rule_name {varchar},
            severity {varchar} NOT NULL,
            acknowledged {boolean} NOT NULL,
            ack_user {varchar},
            ack_reason {varchar},
            ack_timestamp {timestamp},
            requires_acknowledgement {boolean} NOT NULL DEFAULT {yes}
        );
        CREATE INDEX ix_characteristic_hierarchy_id ON characteristic (hierarchy_id);
        CREATE INDEX ix_sample_char_id ON sample (char_id);
        CREATE INDEX ix_sample_timestamp ON sample (timestamp);
        CREATE INDEX ix_measurement_sample_id ON measurement (sample_id);
        CREATE INDEX ix_violation_sample_id ON violation (sample_id);
        CREATE INDEX ix_violation_acknowledged ON violation (acknowledged);
        CREATE TABLE mqtt_broker (
            id {key},
            name VARCHAR(100) NOT NULL UNIQUE,
            host VARCHAR(255) NOT NULL,
            port INTEGER NOT NULL DEFAULT 1883,
            username VARCHAR(100),
            password VARCHAR(255),
            client_id VARCHAR(100) NOT NULL DEFAULT 'openspc-client',
            keepalive INTEGER NOT NULL DEFAULT 60,
            max_reconnect_delay INTEGER NOT NULL DEFAULT 300,
            use_tls {boolean} NOT NULL DEFAULT {no},
            is_active {boolean} NOT NULL DEFAULT {yes},
            created_at {timestamptz} NOT NULL DEFAULT {now},
            updated_at {timestamptz} NOT NULL DEFAULT {now}
        );
        CREATE TABLE sample_edit_history (
            id {key},
            sample_id INTEGER NOT NULL REFERENCES sample (id),
            edited_by {varchar},
            reason {varchar} NOT NULL,
            previous_values {varchar} NOT NULL,
            edited_at {timestamp} NOT NULL
        );
        CREATE INDEX ix_sample_edit_history_sample_id ON sample_edit_history (sample_id);
        CREATE TABLE characteristic_config (
            id {key},
            characteristic_id INTEGER NOT NULL UNIQUE REFERENCES characteristic (id) ON DELETE CASCADE,
            config_json {varchar} NOT NULL,
            is_active {boolean} NOT NULL,
            created_at {timestamp} NOT NULL DEFAULT {now},
            updated_at {timestamp} NOT NULL DEFAULT {now}
        );
        CREATE INDEX ix_characteristic_config_characteristic_id ON characteristic_config (characteristic_id);
        INSERT INTO hierarchy (id, parent_id, name, type) VALUES
            (1, NULL, 'Acme', 'Enterprise'), (2, 1, 'Line 1', 'Line');
        INSERT INTO characteristic (id, hierarchy_id, name, description, subgroup_size, usl, lsl,
                                    provider_type, subgroup_mode, stored_sigma, decimal_precision)
            VALUES (1, 2, 'Bore diameter', 'an old, long description', 5, 10.5, 9.5, 'MANUAL', 'STANDARDIZED', 0.25, 4);
        INSERT INTO characteristic_rules (char_id, rule_id, is_enabled, require_acknowledgement) VALUES
            (1, 1, {yes}, {no}), (1, 2, {no}, {yes});
        INSERT INTO sample (id, char_id, timestamp, batch_number, is_excluded, actual_n, z_score, is_modified) VALUES
            (1, 1, '2026-01-05 10:00:00', 'B-1', {no}, 5, 1.5, {yes}),
            (2, 1, '2026-01-05 11:30:00', NULL, {yes}, 3, NULL, {no});
        INSERT INTO measurement (id, sample_id, value) VALUES (1, 1, 10.01), (2, 1, 9.98), (3, 2, 10.2);
        INSERT INTO violation (id, sample_id, rule_id, rule_name, severity, acknowledged, ack_timestamp, requires_acknowledgement) VALUES
            (1, 2, 1, 'Outlier', 'CRITICAL', {yes}, '2026-01-05 12:00:00', {no});
        INSERT INTO sample_edit_history (id, sample_id, edited_by, reason, previous_values, edited_at) VALUES
            (1, 1, 'ann', 'typo', '[10.1, 9.98]', '2026-01-06 08:00:00');
        INSERT INTO characteristic_config (id, characteristic_id, config_json, is_active, created_at, updated_at) VALUES
            (1, 1, '{{\"config_type\": \"MANUAL\"}}', {yes}, '2026-01-04 09:00:00', '2026-01-04 09:00:00');
        INSERT INTO mqtt_broker (id, name, host) VALUES (1, 'plant floor', '127.0.0.1');
        INSERT INTO alembic_version (version_num) VALUES ('{revision}');"
    );
    if revision == "008" {
        sql.push_str(&format!(
            "CREATE TABLE plant (
                id {key},
                name VARCHAR(100) NOT NULL UNIQUE,
                code VARCHAR(10) NOT NULL UNIQUE,
                is_active {boolean} NOT NULL DEFAULT {yes},
                settings {json},
                created_at {timestamptz} NOT NULL DEFAULT {now},
                updated_at {timestamptz} NOT NULL DEFAULT {now}
            );
            ALTER TABLE hierarchy ADD COLUMN plant_id INTEGER CONSTRAINT fk_hierarchy_plant REFERENCES plant (id) ON DELETE CASCADE;
            ALTER TABLE mqtt_broker ADD COLUMN plant_id INTEGER CONSTRAINT fk_mqtt_broker_plant REFERENCES plant (id) ON DELETE CASCADE;
            INSERT INTO plant (name, code, is_active, settings) VALUES ('Default Plant', 'DEFAULT', {yes}, '{{}}');
            UPDATE hierarchy SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
            UPDATE mqtt_broker SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');",
            json = match db {
                TestDb::Postgres(_) => "JSON",
                TestDb::Sqlite(_) => "TEXT CHECK (settings IS NULL OR json_valid(settings))",
            }
        ));
    }
    if strict {
        sql = sql
            .replace("NOT NULL DEFAULT 'NOMINAL_TOLERANCE'", "NOT NULL")
            .replace(
                "decimal_precision INTEGER NOT NULL DEFAULT 3",
                "decimal_precision INTEGER NOT NULL",
            );
    }
    if let TestDb::Postgres(_) = db {
        // The sequences move past the explicit ids, as the app's own inserts would have.
        sql.push_str(
            "SELECT setval(pg_get_serial_sequence(t, 'id'), 100)
             FROM unnest(ARRAY['hierarchy', 'characteristic', 'sample', 'measurement', 'violation',
                               'mqtt_broker', 'sample_edit_history', 'characteristic_config']) AS t;",
        );
    }
    execute(db, &sql);
}

/// Every row of every table except plantdb's and alembic's bookkeeping, each as column →
/// value, with timestamps read as UTC (PostgreSQL) so that a timestamp read in another zone
/// shows. Column order does not count: a SQLite rebuild puts the extra columns last.
fn all_rows(db: &TestDb) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    match db {
        TestDb::Postgres(pg) => {
            let mut client = pg.client();
            client.batch_execute("SET TIME ZONE 'UTC'").unwrap();
            let tables: Vec<String> = client
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'
                     AND tablename NOT LIKE 'plantdb%' ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            for table in tables {
                let mut rows: Vec<BTreeMap<String, String>> = client
                    .query(&format!("SELECT to_jsonb(t)::text FROM \"{table}\" t"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let json: serde_json::Value =
                            serde_json::from_str(&r.get::<_, String>(0)).unwrap();
                        json.as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| {
                                // timestamptz in UTC prints `+00:00`; timestamp prints none.
                                let v = v.to_string().replace("+00:00", "");
                                (k.clone(), v)
                            })
                            .collect()
                    })
                    .collect();
                rows.sort();
                out.insert(table, rows);
            }
        }
        TestDb::Sqlite(file) => {
            let conn = file.connection();
            let tables: Vec<String> = conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table'
                     AND name NOT LIKE 'plantdb%' AND name NOT LIKE 'sqlite%' ORDER BY 1",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for table in tables {
                let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let names: Vec<String> = statement.column_names().map(|s| s.to_string()).collect();
                let mut rows: Vec<BTreeMap<String, String>> = statement
                    .query_map([], |r| {
                        let mut row = BTreeMap::new();
                        for (i, name) in names.iter().enumerate() {
                            // The storage class counts as much as the value.
                            let value: rusqlite::types::Value = r.get(i)?;
                            row.insert(name.clone(), format!("{value:?}"));
                        }
                        Ok(row)
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                rows.sort();
                out.insert(table, rows);
            }
        }
    }
    out
}

/// The whole schema as the database prints it (types as declared), to see that a dry run
/// changed nothing.
fn declared_schema(db: &TestDb) -> String {
    match db {
        TestDb::Postgres(_) => text(
            db,
            "SELECT string_agg(c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                               || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), E'\\n' ORDER BY 1)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped",
        ),
        TestDb::Sqlite(_) => text(
            db,
            "SELECT group_concat(sql, char(10)) FROM (SELECT sql FROM sqlite_master ORDER BY name)",
        ),
    }
}

fn run(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    plantdb(dir).args(&all).output().unwrap()
}

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The facts checked after converge: plantdb's definitions where they lose nothing.
fn assert_converged(db: &TestDb) {
    match db {
        TestDb::Postgres(_) => {
            let column = |table: &str, column: &str| {
                text(
                    db,
                    &format!(
                        "SELECT format_type(a.atttypid, a.atttypmod) || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
                         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                         WHERE a.attrelid = '{table}'::regclass AND a.attname = '{column}'"
                    ),
                )
            };
            assert_eq!(
                column("sample", "timestamp"),
                "timestamp with time zone now()"
            );
            assert_eq!(
                column("violation", "ack_timestamp"),
                "timestamp with time zone -"
            );
            assert_eq!(column("characteristic_config", "is_active"), "boolean true");
            assert_eq!(column("characteristic_rules", "is_enabled"), "boolean true");
            assert_eq!(column("violation", "acknowledged"), "boolean false");
            assert_eq!(column("sample", "is_excluded"), "boolean false");
            assert_eq!(column("hierarchy", "name"), "character varying(255) -");
            assert_eq!(column("characteristic", "description"), "text -");
            // Extra columns are the app's: untouched.
            assert_eq!(
                column("characteristic", "subgroup_mode"),
                "character varying 'NOMINAL_TOLERANCE'::character varying"
            );
        }
        TestDb::Sqlite(_) => {
            let column = |table: &str, column: &str| {
                text(
                    db,
                    &format!(
                        "SELECT type || ' ' || coalesce(dflt_value, '-') FROM pragma_table_info('{table}') WHERE name = '{column}'"
                    ),
                )
            };
            assert_eq!(
                column("sample", "timestamp"),
                "TEXT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            );
            assert_eq!(column("characteristic_config", "is_active"), "INTEGER 1");
            assert_eq!(
                column("characteristic_config", "created_at"),
                "TEXT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            );
            assert_eq!(column("characteristic", "usl"), "REAL -");
            assert_eq!(column("hierarchy", "name"), "TEXT -");
            assert_eq!(
                column("characteristic", "subgroup_mode"),
                "VARCHAR 'NOMINAL_TOLERANCE'"
            );
            // The rebuilt tables keep their indexes, the app's included.
            assert_eq!(
                text(
                    db,
                    "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('sample', 'sample_edit_history') AND sql IS NOT NULL ORDER BY name)"
                ),
                "ix_sample_char_id,ix_sample_edit_history_sample_id,ix_sample_timestamp"
            );
        }
    }
}

fn spc_converge_then_everything_works(db: TestDb, revision: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    spc_alembic(&db, revision);
    if let TestDb::Postgres(pg) = &db {
        // plantdb's session reads naive timestamps in this zone unless told UTC.
        execute(
            &db,
            &format!(
                "ALTER DATABASE {} SET timezone = 'America/New_York'",
                pg.name
            ),
        );
    }
    let rows = all_rows(&db);
    let schema = declared_schema(&db);

    let dry = ok(&run(
        dir.path(),
        &url,
        &[
            "migrate",
            "adopt",
            "--from",
            "alembic",
            "--converge",
            "--dry-run",
        ],
    ));
    assert!(
        dry.contains("converge would run, in one transaction:"),
        "{dry}"
    );
    match db {
        TestDb::Postgres(_) => assert!(
            dry.contains("ALTER TABLE \"sample\" ALTER COLUMN \"timestamp\" TYPE timestamp with time zone USING \"timestamp\" AT TIME ZONE 'UTC'"),
            "{dry}"
        ),
        TestDb::Sqlite(_) => assert!(dry.contains("CREATE TABLE \"plantdb_converge_sample\""), "{dry}"),
    }
    assert_eq!(
        declared_schema(&db),
        schema,
        "the dry run changed the schema"
    );
    assert_eq!(all_rows(&db), rows, "the dry run changed rows");
    assert_eq!(
        text(&db, "SELECT CAST(count(*) AS TEXT) FROM alembic_version"),
        "1"
    );

    let out = ok(&run(
        dir.path(),
        &url,
        &["migrate", "adopt", "--from", "alembic", "--converge"],
    ));
    if let TestDb::Postgres(_) = db {
        assert!(
            out.contains("converged sample.timestamp: type timestamp without time zone → timestamp with time zone (stored values are read as UTC)"),
            "{out}"
        );
    }
    assert!(out.contains("characteristic_config.is_active"), "{out}");
    assert_eq!(all_rows(&db), rows, "converge lost or changed a row");
    assert_converged(&db);

    // The column-level comparison finds nothing left to converge, and the app's extras are
    // still listed as not plantdb's.
    let json = ok(&run(
        dir.path(),
        &url,
        &[
            "--json",
            "migrate",
            "adopt",
            "--from",
            "alembic",
            "--dry-run",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["convergible"], serde_json::json!([]), "{report:#}");
    let extras = report["not_plantdbs"].to_string();
    assert!(
        extras.contains("sample_edit_history") && extras.contains("subgroup_mode"),
        "{extras}"
    );

    // Converge again: nothing left to change.
    let again = ok(&run(
        dir.path(),
        &url,
        &["migrate", "adopt", "--from", "alembic", "--converge"],
    ));
    assert!(again.contains("converge: nothing to change"), "{again}");

    ok(&run(dir.path(), &url, &["migrate", "up"]));
    ok(&run(dir.path(), &url, &["status", "--check"]));
    ok(&run(dir.path(), &url, &["verify"]));
    ok(&run(dir.path(), &url, &["verify", "--live"]));
    // Upsert leaves the app's rows alone and fills plantdb's columns by their defaults.
    ok(&run(dir.path(), &url, &["seed", "--mode", "upsert"]));
    assert_eq!(
        text(
            &db,
            "SELECT CAST(count(*) AS TEXT) FROM sample_edit_history"
        ),
        "1"
    );
    assert_eq!(
        text(
            &db,
            "SELECT subgroup_mode FROM characteristic WHERE name = 'Bore diameter'"
        ),
        "STANDARDIZED"
    );
    // Replace deletes the rows the fixtures do not name. As on a fresh database holding the
    // same rows, the app's samples keep their characteristic from going (refused, naming
    // them, nothing written); once they are deleted, replace runs.
    let refused = run(dir.path(), &url, &["seed"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("`sample` id=1 references deleted `characteristic` id=1"),
        "{stderr}"
    );
    assert_eq!(
        text(
            &db,
            "SELECT CAST(count(*) AS TEXT) FROM sample WHERE batch_number = 'B-1'"
        ),
        "1"
    );
    execute(
        &db,
        "DELETE FROM sample_edit_history; DELETE FROM measurement; DELETE FROM violation; DELETE FROM sample;",
    );
    ok(&run(dir.path(), &url, &["seed"]));
    assert_eq!(
        text(
            &db,
            "SELECT CAST(count(*) AS TEXT) FROM characteristic WHERE name = 'Bore diameter'"
        ),
        "0"
    );
    ok(&run(dir.path(), &url, &["verify"]));
}

#[test]
fn spc_007_converges_and_then_up_status_verify_and_seed_work() {
    each_dialect(|db| spc_converge_then_everything_works(db, "007"));
}

#[test]
fn spc_008_converges_and_then_up_status_verify_and_seed_work() {
    each_dialect(|db| spc_converge_then_everything_works(db, "008"));
}

/// The garden app's six migrations as its asyncpg runner ran them (the seed documents' SQL,
/// `create_hypertable` without `create_default_indexes => FALSE` when `hypertable`), its
/// `schema_migrations` history and a few readings.
fn garden_asyncpg(db: &TestDb, hypertable: bool) {
    let mut sql = String::new();
    if hypertable {
        sql.push_str("CREATE EXTENSION IF NOT EXISTS timescaledb;");
    }
    sql.push_str(
        "CREATE TABLE IF NOT EXISTS plants (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, species TEXT, thresholds JSONB,
          created_at TIMESTAMPTZ DEFAULT NOW());
        CREATE TABLE IF NOT EXISTS devices (
          id TEXT PRIMARY KEY, mac_address TEXT UNIQUE, mqtt_username TEXT UNIQUE,
          mqtt_password_hash TEXT NOT NULL,
          plant_id TEXT REFERENCES plants(id) ON DELETE SET NULL,
          status TEXT DEFAULT 'provisioning', firmware_version TEXT, sensor_types JSONB,
          last_seen_at TIMESTAMPTZ, created_at TIMESTAMPTZ DEFAULT NOW());
        CREATE INDEX IF NOT EXISTS idx_devices_plant_id ON devices(plant_id);
        CREATE INDEX IF NOT EXISTS idx_devices_status ON devices(status);
        CREATE TABLE IF NOT EXISTS telemetry (
          time TIMESTAMPTZ NOT NULL,
          device_id TEXT REFERENCES devices(id) ON DELETE CASCADE,
          plant_id TEXT REFERENCES plants(id) ON DELETE SET NULL,
          soil_moisture FLOAT, temperature FLOAT, humidity FLOAT, light_level FLOAT);",
    );
    if hypertable {
        sql.push_str("SELECT create_hypertable('telemetry', 'time', if_not_exists => TRUE);");
        if timescaledb_kind() == TimescaleKind::StandIn {
            // What the real create_hypertable adds by default; the stand-in only records the call.
            sql.push_str("CREATE INDEX telemetry_time_idx ON telemetry (time DESC);");
        }
    }
    sql.push_str(
        "CREATE INDEX IF NOT EXISTS idx_telemetry_device ON telemetry(device_id, time DESC);
        CREATE INDEX IF NOT EXISTS idx_telemetry_plant ON telemetry(plant_id, time DESC);
        CREATE TABLE IF NOT EXISTS alerts (
          id SERIAL PRIMARY KEY,
          plant_id TEXT REFERENCES plants(id) ON DELETE CASCADE,
          device_id TEXT REFERENCES devices(id) ON DELETE CASCADE,
          metric TEXT NOT NULL, value FLOAT NOT NULL, threshold FLOAT NOT NULL,
          direction TEXT NOT NULL, sent_at TIMESTAMPTZ DEFAULT NOW());
        CREATE INDEX IF NOT EXISTS idx_alerts_plant ON alerts(plant_id, sent_at DESC);
        CREATE TABLE IF NOT EXISTS settings (
          key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TIMESTAMPTZ DEFAULT NOW());
        CREATE TABLE IF NOT EXISTS care_plans (
          id SERIAL PRIMARY KEY,
          plant_id TEXT REFERENCES plants(id) ON DELETE CASCADE UNIQUE,
          plan_data JSONB NOT NULL, generated_at TIMESTAMPTZ DEFAULT NOW());
        CREATE TABLE schema_migrations (
          version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ DEFAULT NOW());
        INSERT INTO schema_migrations (version)
          VALUES ('001'), ('002'), ('003'), ('004'), ('005'), ('006');
        INSERT INTO plants (id, name) VALUES ('fern', 'Fern');
        INSERT INTO devices (id, mqtt_password_hash, plant_id) VALUES ('dev-1', 'x', 'fern');
        INSERT INTO telemetry (time, device_id, plant_id, soil_moisture)
          SELECT '2026-01-01T00:00:00Z'::timestamptz + n * interval '1 minute', 'dev-1', 'fern', n
          FROM generate_series(1, 50) AS n;",
    );
    execute(db, &sql);
}

fn has_index(db: &TestDb, name: &str) -> bool {
    text(
        db,
        &format!("SELECT CAST(count(*) AS TEXT) FROM pg_indexes WHERE indexname = '{name}'"),
    ) == "1"
}

fn telemetry_state(dir: &Path, url: &str) -> serde_json::Value {
    let out = ok(&run(dir, url, &["--json", "status"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    report["timescaledb"]["telemetry"].clone()
}

#[test]
fn timescaledb_default_index_of_an_old_hypertable_is_converged() {
    let db = TestDb::Postgres(PgDatabase::with_timescaledb());
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    garden_asyncpg(&db, true);
    let rows = all_rows(&db);
    assert!(has_index(&db, "telemetry_time_idx"));
    assert_eq!(telemetry_state(dir.path(), &url), "hypertable");

    let dry = ok(&run(
        dir.path(),
        &url,
        &[
            "migrate",
            "adopt",
            "--from",
            "schema-migrations",
            "--converge",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("DROP INDEX \"telemetry_time_idx\""), "{dry}");
    assert!(
        has_index(&db, "telemetry_time_idx"),
        "the dry run dropped it"
    );
    let json = ok(&run(
        dir.path(),
        &url,
        &[
            "--json",
            "migrate",
            "adopt",
            "--from",
            "schema-migrations",
            "--converge",
            "--dry-run",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["converge"]["statements"],
        serde_json::json!(["DROP INDEX \"telemetry_time_idx\""]),
        "{report:#}"
    );
    assert_eq!(report["converge"]["changes"][0]["table"], "telemetry");

    // `require` holds: telemetry is a hypertable.
    let out = ok(&run(
        dir.path(),
        &url,
        &[
            "--timescale",
            "require",
            "migrate",
            "adopt",
            "--from",
            "schema-migrations",
            "--converge",
        ],
    ));
    assert!(
        out.contains(
            "converged telemetry: TimescaleDB's default index `telemetry_time_idx` dropped"
        ),
        "{out}"
    );
    assert!(!has_index(&db, "telemetry_time_idx"));
    assert!(has_index(&db, "idx_telemetry_device") && has_index(&db, "idx_telemetry_plant"));
    assert_eq!(all_rows(&db), rows, "converge lost or changed a row");
    ok(&run(dir.path(), &url, &["migrate", "up"]));
    ok(&run(dir.path(), &url, &["verify"]));
    assert_eq!(telemetry_state(dir.path(), &url), "hypertable");
}

#[test]
fn timescale_require_refuses_a_plain_adopted_telemetry_and_status_tells_plain_from_absent() {
    let db = TestDb::Postgres(PgDatabase::new());
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    assert_eq!(telemetry_state(dir.path(), &url), "absent");
    garden_asyncpg(&db, false);
    assert_eq!(telemetry_state(dir.path(), &url), "plain-table");
    let status = ok(&run(dir.path(), &url, &["status"]));
    assert!(status.contains("telemetry is a plain table"), "{status}");

    let refused = run(
        dir.path(),
        &url,
        &[
            "--timescale",
            "require",
            "migrate",
            "adopt",
            "--from",
            "schema-migrations",
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("`--timescale require` needs `telemetry` to be a TimescaleDB hypertable, but in this database it is a plain table"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    // Refused before anything was written: no history, no adoption record.
    assert_eq!(
        text(
            &db,
            "SELECT CAST(count(*) AS TEXT) FROM pg_tables WHERE tablename LIKE 'plantdb%'"
        ),
        "0"
    );
    // Without `require`, the plain table is adopted as it is.
    ok(&run(
        dir.path(),
        &url,
        &["migrate", "adopt", "--from", "schema-migrations"],
    ));
    assert_eq!(telemetry_state(dir.path(), &url), "plain-table");
}

#[test]
fn seed_names_the_apps_not_null_columns_it_cannot_fill() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url();
        spc_alembic_with(&db, "007", true);
        ok(&run(
            dir.path(),
            &url,
            &["migrate", "adopt", "--from", "alembic", "--converge"],
        ));
        ok(&run(dir.path(), &url, &["migrate", "up"]));
        let before = all_rows(&db);
        for mode in ["upsert", "replace"] {
            let refused = run(dir.path(), &url, &["seed", "--mode", mode]);
            assert_eq!(refused.status.code(), Some(1), "{refused:?}");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(
                stderr.contains("seeds/002_spc.yaml:")
                    && stderr.contains("of `characteristic` does not give `subgroup_mode`, `decimal_precision`, which the database requires (NOT NULL without a default)"),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_eq!(all_rows(&db), before, "a refused seed wrote something");
        }
    });
}

#[test]
fn a_converge_that_fails_leaves_the_database_as_it_was() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url();
        spc_alembic(&db, "008");
        let (breaker, cause) = match db {
            // A view on sample.timestamp keeps PostgreSQL from changing the column's type.
            TestDb::Postgres(_) => (
                "CREATE VIEW recent_samples AS SELECT id, timestamp FROM sample",
                "`sample`",
            ),
            // A BOOLEAN holding 2: plantdb's CHECK (is_excluded IN (0, 1)) refuses the copy.
            TestDb::Sqlite(_) => ("UPDATE sample SET is_excluded = 2 WHERE id = 2", "`sample`"),
        };
        execute(&db, breaker);
        let rows = all_rows(&db);
        let schema = declared_schema(&db);
        let failed = run(
            dir.path(),
            &url,
            &["migrate", "adopt", "--from", "alembic", "--converge"],
        );
        assert_eq!(failed.status.code(), Some(1), "{failed:?}");
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(
            stderr.contains(&format!("error: cannot converge {cause}: ")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        // Nothing half-written: no history, no adoption, no table changed.
        assert_eq!(declared_schema(&db), schema);
        assert_eq!(all_rows(&db), rows);
        if let TestDb::Sqlite(file) = &db {
            let on: i64 = file
                .connection()
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(on, 0);
        }
    });
}

/// A database past `008` (later revisions' tables and columns, stamped with today's squash-era
/// head): converge fixes plantdb's columns, keeps every later table and row, and the commands
/// work on it.
#[test]
fn a_database_past_008_converges_keeping_the_later_tables() {
    use crate::support::spc_alembic::{self, Stage};
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url();
        spc_alembic::build(&db, Stage::At008);
        spc_alembic::add_later_revisions(&db);
        spc_alembic::stamp(&db, &["c3d4e5f6a7b8"]);
        let counts = spc_alembic::row_counts(&db);
        let rows = all_rows(&db);
        let tables = text(
            &db,
            match db {
                TestDb::Postgres(_) => {
                    "SELECT CAST(count(*) AS TEXT) FROM pg_tables WHERE schemaname = 'public'"
                }
                TestDb::Sqlite(_) => {
                    "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'table'"
                }
            },
        );
        ok(&run(
            dir.path(),
            &url,
            &["migrate", "adopt", "--from", "alembic", "--converge"],
        ));
        assert_eq!(spc_alembic::row_counts(&db), counts);
        assert_eq!(all_rows(&db), rows, "converge lost or changed a row");
        let json = ok(&run(
            dir.path(),
            &url,
            &[
                "--json",
                "migrate",
                "adopt",
                "--from",
                "alembic",
                "--dry-run",
            ],
        ));
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(report["convergible"], serde_json::json!([]), "{report:#}");
        ok(&run(dir.path(), &url, &["migrate", "up"]));
        ok(&run(dir.path(), &url, &["status", "--check"]));
        ok(&run(dir.path(), &url, &["verify"]));
        ok(&run(dir.path(), &url, &["seed", "--mode", "upsert"]));
        // plantdb's history and adoption tables, and those `migrate up` added, are the only new ones.
        let after: i64 = text(
            &db,
            match db {
                TestDb::Postgres(_) => {
                    "SELECT CAST(count(*) AS TEXT) FROM pg_tables WHERE schemaname = 'public'"
                }
                TestDb::Sqlite(_) => {
                    "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'table'"
                }
            },
        )
        .parse()
        .unwrap();
        assert!(
            after >= tables.parse::<i64>().unwrap() + 2,
            "{after} tables after, {tables} before"
        );
    });
}
