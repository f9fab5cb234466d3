//! Databases as the SPC application's own alembic history leaves them, built with plain SQL
//! from what is known about that history (never from plantdb's migrations), on PostgreSQL and
//! SQLite.
//!
//! At `007` and `008` a real alembic-built database differs from plantdb's schema in these
//! ways (constraint and index names all match):
//! - the table `sample_edit_history` (from `006`), whose `sample_id` references `sample`;
//! - 14 extra columns on characteristic, sample, characteristic_rules and violation;
//! - `VARCHAR` without a length where plantdb has `VARCHAR(255)` or `TEXT`;
//! - `timestamp without time zone` on sample.timestamp, violation.ack_timestamp and
//!   characteristic_config.created_at/updated_at;
//! - no server default on characteristic_rules.is_enabled, sample.is_excluded,
//!   sample.timestamp, violation.acknowledged and characteristic_config.is_active;
//! - on SQLite also the type names `VARCHAR`, `FLOAT`, `BOOLEAN`, `DATETIME` and
//!   `CURRENT_TIMESTAMP` defaults.
//!
//! Later revisions add tables and columns ([`add_later_revisions`]); from `017` on,
//! characteristic no longer has provider_type, mqtt_topic or trigger_tag ([`move_to_data_sources`]).

use std::collections::BTreeMap;

use super::TestDb;

/// How far the SPC application's history went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `007` add_characteristic_config.
    At007,
    /// `008` add_plant.
    At008,
}

/// Runs `sql` on the test database.
pub fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg
            .client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{e}: {sql}")),
        TestDb::Sqlite(file) => file
            .connection()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}: {sql}")),
    }
}

/// One integer from `sql`.
pub fn scalar(db: &TestDb, sql: &str) -> i64 {
    match db {
        TestDb::Postgres(pg) => pg
            .client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
            .get(0),
        TestDb::Sqlite(file) => file
            .connection()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{e}: {sql}")),
    }
}

/// Type names as each dialect's alembic run spells them.
struct Types {
    serial_pk: &'static str,
    varchar: &'static str,
    float: &'static str,
    boolean: &'static str,
    /// `timestamp without time zone` / `DATETIME`.
    naive_time: &'static str,
    /// `timestamp with time zone` / `DATETIME`.
    zoned_time: &'static str,
    now: &'static str,
    json: &'static str,
    yes: &'static str,
    no: &'static str,
}

fn types(db: &TestDb) -> Types {
    match db {
        TestDb::Postgres(_) => Types {
            serial_pk: "SERIAL PRIMARY KEY",
            varchar: "VARCHAR",
            float: "DOUBLE PRECISION",
            boolean: "BOOLEAN",
            naive_time: "TIMESTAMP WITHOUT TIME ZONE",
            zoned_time: "TIMESTAMP WITH TIME ZONE",
            now: "now()",
            json: "JSON",
            yes: "true",
            no: "false",
        },
        TestDb::Sqlite(_) => Types {
            serial_pk: "INTEGER NOT NULL PRIMARY KEY",
            varchar: "VARCHAR",
            float: "FLOAT",
            boolean: "BOOLEAN",
            naive_time: "DATETIME",
            zoned_time: "DATETIME",
            now: "CURRENT_TIMESTAMP",
            json: "JSON",
            yes: "1",
            no: "0",
        },
    }
}

/// Creates the tables of revisions `001` … `007` (and `008` for [`Stage::At008`]) as alembic
/// did, with some data, without any history table.
pub fn build(db: &TestDb, stage: Stage) {
    let Types {
        serial_pk,
        varchar,
        float,
        boolean,
        naive_time,
        zoned_time,
        now,
        yes,
        no,
        ..
    } = types(db);
    execute(
        db,
        &format!(
            "
CREATE TABLE hierarchy (
    id {serial_pk},
    parent_id INTEGER REFERENCES hierarchy (id),
    name {varchar} NOT NULL,
    type {varchar} NOT NULL
);
CREATE TABLE characteristic (
    id {serial_pk},
    hierarchy_id INTEGER NOT NULL REFERENCES hierarchy (id),
    name {varchar} NOT NULL,
    description TEXT,
    subgroup_size INTEGER NOT NULL,
    target_value {float},
    usl {float},
    lsl {float},
    ucl {float},
    lcl {float},
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
    id {serial_pk},
    char_id INTEGER NOT NULL REFERENCES characteristic (id),
    timestamp {naive_time} NOT NULL,
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
    id {serial_pk},
    sample_id INTEGER NOT NULL REFERENCES sample (id),
    value {float} NOT NULL
);
CREATE TABLE violation (
    id {serial_pk},
    sample_id INTEGER NOT NULL REFERENCES sample (id),
    rule_id INTEGER NOT NULL,
    rule_name {varchar},
    severity {varchar} NOT NULL,
    acknowledged {boolean} NOT NULL,
    ack_user {varchar},
    ack_reason {varchar},
    ack_timestamp {naive_time},
    requires_acknowledgement {boolean} NOT NULL DEFAULT {yes}
);
CREATE INDEX ix_characteristic_hierarchy_id ON characteristic (hierarchy_id);
CREATE INDEX ix_sample_char_id ON sample (char_id);
CREATE INDEX ix_sample_timestamp ON sample (timestamp);
CREATE INDEX ix_measurement_sample_id ON measurement (sample_id);
CREATE INDEX ix_violation_sample_id ON violation (sample_id);
CREATE INDEX ix_violation_acknowledged ON violation (acknowledged);

CREATE TABLE mqtt_broker (
    id {serial_pk},
    name VARCHAR(100) NOT NULL UNIQUE,
    host {varchar} NOT NULL,
    port INTEGER NOT NULL DEFAULT 1883,
    username VARCHAR(100),
    password {varchar},
    client_id VARCHAR(100) NOT NULL DEFAULT 'openspc-client',
    keepalive INTEGER NOT NULL DEFAULT 60,
    max_reconnect_delay INTEGER NOT NULL DEFAULT 300,
    use_tls {boolean} NOT NULL DEFAULT {no},
    is_active {boolean} NOT NULL DEFAULT {yes},
    created_at {zoned_time} NOT NULL DEFAULT {now},
    updated_at {zoned_time} NOT NULL DEFAULT {now}
);

CREATE TABLE sample_edit_history (
    id {serial_pk},
    sample_id INTEGER NOT NULL REFERENCES sample (id),
    edited_at {naive_time} NOT NULL DEFAULT {now},
    edited_by {varchar},
    reason {varchar} NOT NULL,
    previous_values TEXT NOT NULL
);
CREATE INDEX ix_sample_edit_history_sample_id ON sample_edit_history (sample_id);

CREATE TABLE characteristic_config (
    id {serial_pk},
    characteristic_id INTEGER NOT NULL UNIQUE REFERENCES characteristic (id) ON DELETE CASCADE,
    config_json TEXT NOT NULL,
    is_active {boolean} NOT NULL,
    created_at {naive_time} NOT NULL DEFAULT {now},
    updated_at {naive_time} NOT NULL DEFAULT {now}
);
CREATE INDEX ix_characteristic_config_characteristic_id ON characteristic_config (characteristic_id);

INSERT INTO hierarchy (id, parent_id, name, type) VALUES
    (1, NULL, 'Acme', 'Enterprise'), (2, 1, 'Line 1', 'Line');
INSERT INTO characteristic (id, hierarchy_id, name, subgroup_size, usl, lsl, provider_type, mqtt_topic, trigger_tag, subgroup_mode, decimal_precision) VALUES
    (1, 2, 'Bore diameter', 5, 10.05, 9.95, 'MANUAL', NULL, NULL, 'NOMINAL_TOLERANCE', 4),
    (2, 2, 'Fill weight', 1, 505.0, 495.0, 'TAG', 'plant/line1/weight', 'trigger', 'STANDARDIZED', 2);
INSERT INTO characteristic_rules (char_id, rule_id, is_enabled, require_acknowledgement) VALUES
    (1, 1, {yes}, {yes}), (1, 2, {no}, {no}), (2, 1, {yes}, {yes});
INSERT INTO sample (id, char_id, timestamp, batch_number, is_excluded, actual_n, z_score, is_modified) VALUES
    (1, 1, '2026-01-05 08:00:00', 'B-1', {no}, 5, 0.5, {no}),
    (2, 1, '2026-01-05 09:00:00', 'B-1', {no}, 5, 3.2, {yes}),
    (3, 2, '2026-01-05 10:30:00', NULL, {yes}, 1, NULL, {no});
INSERT INTO measurement (sample_id, value) VALUES
    (1, 10.01), (1, 9.99), (2, 10.2), (2, 10.1), (3, 500.5);
INSERT INTO violation (sample_id, rule_id, rule_name, severity, acknowledged, ack_user, ack_timestamp) VALUES
    (2, 1, 'Beyond 3 sigma', 'CRITICAL', {yes}, 'inspector', '2026-01-05 09:15:00');
INSERT INTO mqtt_broker (name, host) VALUES ('Line broker', 'broker.local');
INSERT INTO sample_edit_history (sample_id, edited_by, reason, previous_values) VALUES
    (2, 'inspector', 'typo', '{{\"value\": 11.2}}');
INSERT INTO characteristic_config (characteristic_id, config_json, is_active) VALUES
    (2, '{{\"config_type\": \"TAG\"}}', {yes});
"
        ),
    );
    if db_is_postgres(db) {
        // Explicit ids above: move the sequences past them, as the application's inserts did.
        execute(
            db,
            "SELECT setval('hierarchy_id_seq', 2); SELECT setval('characteristic_id_seq', 2);
             SELECT setval('sample_id_seq', 3);",
        );
    }
    if stage == Stage::At008 {
        add_plant(db);
    }
}

fn db_is_postgres(db: &TestDb) -> bool {
    matches!(db, TestDb::Postgres(_))
}

/// `008` add_plant, as alembic ran it.
fn add_plant(db: &TestDb) {
    let Types {
        serial_pk,
        boolean,
        zoned_time,
        now,
        json,
        yes,
        ..
    } = types(db);
    execute(
        db,
        &format!(
            "
CREATE TABLE plant (
    id {serial_pk},
    name VARCHAR(100) NOT NULL UNIQUE,
    code VARCHAR(10) NOT NULL UNIQUE,
    is_active {boolean} NOT NULL DEFAULT {yes},
    settings {json},
    created_at {zoned_time} NOT NULL DEFAULT {now},
    updated_at {zoned_time} NOT NULL DEFAULT {now}
);
ALTER TABLE hierarchy ADD COLUMN plant_id INTEGER CONSTRAINT fk_hierarchy_plant REFERENCES plant (id) ON DELETE CASCADE;
ALTER TABLE mqtt_broker ADD COLUMN plant_id INTEGER CONSTRAINT fk_mqtt_broker_plant REFERENCES plant (id) ON DELETE CASCADE;
INSERT INTO plant (name, code, is_active, settings) VALUES ('Default Plant', 'DEFAULT', {yes}, '{{}}');
UPDATE hierarchy SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
UPDATE mqtt_broker SET plant_id = (SELECT id FROM plant WHERE code = 'DEFAULT');
"
        ),
    );
}

/// What revisions after `008` add that leaves plantdb's columns alone: the user tables of
/// `009`, a data-source table, an audit log and extra columns on plantdb's tables, with rows.
pub fn add_later_revisions(db: &TestDb) {
    let Types {
        serial_pk,
        varchar,
        boolean,
        naive_time,
        now,
        yes,
        ..
    } = types(db);
    execute(
        db,
        &format!(
            "
CREATE TABLE \"user\" (
    id {serial_pk},
    username VARCHAR(50) NOT NULL UNIQUE,
    hashed_password {varchar} NOT NULL,
    is_active {boolean} NOT NULL DEFAULT {yes}
);
CREATE TABLE user_plant_role (
    id {serial_pk},
    user_id INTEGER NOT NULL REFERENCES \"user\" (id) ON DELETE CASCADE,
    plant_id INTEGER NOT NULL REFERENCES plant (id) ON DELETE CASCADE,
    role {varchar} NOT NULL
);
CREATE TABLE data_source (
    id {serial_pk},
    characteristic_id INTEGER NOT NULL UNIQUE REFERENCES characteristic (id) ON DELETE CASCADE,
    type {varchar} NOT NULL,
    is_active {boolean} NOT NULL DEFAULT {yes}
);
CREATE TABLE audit_log (
    id {serial_pk},
    action {varchar} NOT NULL,
    resource_type {varchar},
    timestamp {naive_time} NOT NULL DEFAULT {now}
);
ALTER TABLE hierarchy ADD COLUMN description TEXT;
ALTER TABLE violation ADD COLUMN char_id INTEGER REFERENCES characteristic (id);
CREATE INDEX ix_violation_char_id ON violation (char_id);
INSERT INTO \"user\" (username, hashed_password) VALUES ('admin', 'x');
INSERT INTO user_plant_role (user_id, plant_id, role) VALUES (1, 1, 'admin');
INSERT INTO data_source (characteristic_id, type) VALUES (2, 'mqtt');
INSERT INTO audit_log (action, resource_type) VALUES ('login', 'user');
"
        ),
    );
}

/// `017`: characteristic's provider_type, mqtt_topic and trigger_tag moved to data-source
/// tables; every later revision, and the squash, has characteristic without them.
pub fn move_to_data_sources(db: &TestDb) {
    execute(
        db,
        "ALTER TABLE characteristic DROP COLUMN provider_type;
         ALTER TABLE characteristic DROP COLUMN mqtt_topic;
         ALTER TABLE characteristic DROP COLUMN trigger_tag;",
    );
}

/// Squash-era `a1b2c3d4e5f6` audit_log_plant_id: audit_log gets a plant.
pub fn add_audit_log_plant_id(db: &TestDb) {
    execute(
        db,
        "ALTER TABLE audit_log ADD COLUMN plant_id INTEGER REFERENCES plant (id);",
    );
}

/// alembic's own table, holding `revisions` (one row per head).
pub fn stamp(db: &TestDb, revisions: &[&str]) {
    let rows: Vec<String> = revisions.iter().map(|r| format!("('{r}')")).collect();
    execute(
        db,
        &format!(
            "CREATE TABLE alembic_version (
                 version_num VARCHAR(32) NOT NULL,
                 CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
             );
             INSERT INTO alembic_version (version_num) VALUES {};",
            rows.join(", ")
        ),
    );
}

/// Rows per table of the SPC application, for "no row is lost" checks; tables that do not
/// exist are left out.
pub fn row_counts(db: &TestDb) -> BTreeMap<&'static str, i64> {
    const TABLES: &[&str] = &[
        "hierarchy",
        "characteristic",
        "characteristic_rules",
        "sample",
        "measurement",
        "violation",
        "mqtt_broker",
        "sample_edit_history",
        "characteristic_config",
        "plant",
        "\"user\"",
        "user_plant_role",
        "data_source",
        "audit_log",
    ];
    let exists = |table: &str| {
        let name = table.trim_matches('"');
        let sql = match db {
            TestDb::Postgres(_) => format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '{name}'"
            ),
            TestDb::Sqlite(_) => format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{name}'"
            ),
        };
        scalar(db, &sql) > 0
    };
    TABLES
        .iter()
        .filter(|t| exists(t))
        .map(|t| (*t, scalar(db, &format!("SELECT count(*) FROM {t}"))))
        .collect()
}
