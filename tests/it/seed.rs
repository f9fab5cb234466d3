//! `plantdb seed` on real databases: the data users get, its keys and secrets, idempotence,
//! and bad input that leaves the database exactly as it was.

use std::path::Path;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use plantdb::error::Error;
use plantdb::migrate::{MigrationSet, Request};
use plantdb::seed::catalog::{self, Secret};
use plantdb::seed::fixture::{self, Cell};
use plantdb::seed::secrets::{self, SecretKey};
use plantdb::seed::{self, SeedMode, SeedOptions, SeedReport};

use crate::migrate::{connect, run, up_all};
use crate::support::{PgDatabase, SqliteFile, TestDb, each_dialect};

/// One fixed `now`, so relative times are equal across runs and "changes nothing" is exact.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-07T12:02:00Z")
        .expect("a valid time")
        .with_timezone(&Utc)
}

pub fn test_key() -> SecretKey {
    SecretKey::parse("K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=").expect("a valid key")
}

pub fn seed_sources(
    url: &str,
    sources: &[(String, String)],
    mode: SeedMode,
) -> Result<SeedReport, Error> {
    let fixtures = fixture::load(sources, now())?;
    let mut driver = connect(url);
    let set = MigrationSet::built_in(driver.dialect()).expect("the built-in set loads");
    let options = SeedOptions {
        mode,
        scale: 1,
        now: now(),
        key: Some(test_key()),
        dry_run: false,
    };
    seed::seed(
        driver.as_mut(),
        &set,
        &fixtures,
        &options,
        &mut seed::IgnoreProgress,
    )
}

pub fn seed_built_in(url: &str, mode: SeedMode) -> SeedReport {
    seed_sources(url, &seed::built_in_sources(), mode).expect("seed the built-in fixtures")
}

/// Rows of `sql` with every column read as text (write `CAST(x AS TEXT)` for non-text).
pub fn rows(db: &TestDb, sql: &str) -> Vec<Vec<Option<String>>> {
    match db {
        TestDb::Postgres(pg) => pg
            .client()
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| (0..row.len()).map(|i| row.get(i)).collect())
            .collect(),
        TestDb::Sqlite(file) => {
            let conn = file.connection();
            let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let n = stmt.column_count();
            stmt.query_map([], |row| (0..n).map(|i| row.get(i)).collect())
                .and_then(|r| r.collect())
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    }
}

pub fn count(db: &TestDb, table: &str) -> i64 {
    let text = rows(db, &format!("SELECT CAST(count(*) AS TEXT) FROM {table}"));
    text[0][0]
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("a count")
}

/// Every row of every seedable table, as sorted text: equal snapshots mean equal data.
pub fn snapshot(db: &TestDb) -> Vec<(String, Vec<String>)> {
    catalog::TABLES
        .iter()
        .map(|table| {
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("coalesce(CAST(\"{}\" AS TEXT), '<null>')", c.name))
                .collect();
            let sql = format!("SELECT {} FROM {}", columns.join(" || '|' || "), table.name);
            let mut lines: Vec<String> = rows(db, &sql)
                .into_iter()
                .map(|r| r[0].clone().unwrap_or_default())
                .collect();
            lines.sort();
            (table.name.to_string(), lines)
        })
        .collect()
}

fn migrated_and_seeded(db: &TestDb) {
    up_all(&db.url());
    seed_built_in(&db.url(), SeedMode::Replace);
}

/// Seeded, plus rows and a table no fixture knows about.
pub fn migrated_and_seeded_with_junk(db: &TestDb) {
    migrated_and_seeded(db);
    let junk = "INSERT INTO settings (key, value) VALUES ('junk', 'x');
                CREATE TABLE junk (id integer);
                INSERT INTO junk VALUES (1);";
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(junk).expect("junk"),
        TestDb::Sqlite(file) => file.connection().execute_batch(junk).expect("junk"),
    }
}

/// The plain secrets the built-in fixtures give, by (table, label).
fn fixture_secrets(secret: Secret) -> Vec<(String, String)> {
    let fixtures = fixture::load(&seed::built_in_sources(), now()).expect("fixtures load");
    fixtures
        .rows
        .iter()
        .flat_map(|row| {
            row.cells().filter_map(move |(column, cell, _)| match cell {
                Cell::Plain(plain) if column.secret == Some(secret) => {
                    Some((row.label().to_string(), plain))
                }
                _ => None,
            })
        })
        .collect()
}

#[test]
fn fleet_data_is_seeded_as_described() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        assert_eq!(count(&db, "organizations"), 1);
        assert_eq!(count(&db, "factories"), 3);
        assert_eq!(count(&db, "gateways"), 6);
        assert_eq!(
            rows(&db, "SELECT name FROM organizations"),
            vec![vec![Some("Acme Manufacturing".to_string())]]
        );
        let factories = rows(
            &db,
            "SELECT name, location, timezone FROM factories ORDER BY name",
        );
        let text = |r: &Vec<Option<String>>| {
            r.iter()
                .map(|c| c.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            factories.iter().map(text).collect::<Vec<_>>(),
            vec![
                vec![
                    "Austin Facility",
                    "500 Tech Blvd, Austin, TX",
                    "America/Chicago"
                ],
                vec![
                    "Detroit Assembly",
                    "1200 Industrial Pkwy, Detroit, MI",
                    "America/Detroit"
                ],
                vec![
                    "Springfield Plant",
                    "Building 3, Springfield, IL",
                    "America/Chicago"
                ],
            ]
        );
        let gateways = rows(
            &db,
            "SELECT f.name, g.gateway_id, g.name, g.email, g.model FROM gateways g
             JOIN factories f ON f.id = g.factory_id ORDER BY g.gateway_id",
        );
        let gateways: Vec<Vec<String>> = gateways.iter().map(text).collect();
        let expected = [
            ("Austin Facility", "GW-AUS-001", "Lab Gateway"),
            ("Austin Facility", "GW-AUS-002", "Server Room Gateway"),
            ("Detroit Assembly", "GW-DET-001", "Main Floor Gateway"),
            ("Detroit Assembly", "GW-DET-002", "Assembly Line Gateway"),
            ("Springfield Plant", "GW-SPR-001", "North Wing Gateway"),
            ("Springfield Plant", "GW-SPR-002", "South Wing Gateway"),
        ];
        for (row, (factory, id, name)) in gateways.iter().zip(expected) {
            assert_eq!(
                (row[0].as_str(), row[1].as_str(), row[2].as_str()),
                (factory, id, name)
            );
            assert_eq!(row[3], "admin@example.com");
            assert!(row[4] == "CTC-GW-100" || row[4] == "CTC-GW-200", "{row:?}");
        }
        let urls = rows(&db, "SELECT DISTINCT url FROM gateways");
        assert_eq!(urls.len(), 6, "distinct ws:// URLs");
        assert!(
            urls.iter()
                .all(|u| u[0].as_deref().unwrap_or("").starts_with("ws://"))
        );
        let seen = count(&db, "gateways WHERE last_seen_at IS NOT NULL");
        assert!(
            (1..6).contains(&seen),
            "some gateways seen recently: {seen}"
        );
        let metadata = rows(
            &db,
            "SELECT CAST(metadata AS TEXT) FROM factories WHERE name = 'Springfield Plant'",
        );
        assert!(
            metadata[0][0].as_deref().unwrap_or("").contains("manager"),
            "{metadata:?}"
        );
    });
}

#[test]
fn uuid_keys_are_derived_from_table_and_label() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let id = rows(&db, "SELECT CAST(id AS TEXT) FROM organizations");
        assert_eq!(
            id[0][0].as_deref(),
            Some(
                fixture::derived_uuid("organizations", "acme")
                    .to_string()
                    .as_str()
            )
        );
    });
}

#[test]
fn every_foreign_key_joins_and_every_domain_has_data() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        for table in catalog::TABLES {
            for column in table.columns {
                let Some(parent) = column.references else {
                    continue;
                };
                let parent_pk = catalog::table(parent)
                    .and_then(|t| t.pk_column())
                    .unwrap_or("id");
                let orphans = count(
                    &db,
                    &format!(
                        "{} c WHERE c.{} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_pk} = c.{})",
                        table.name, column.name, column.name
                    ),
                );
                assert_eq!(orphans, 0, "{}.{} -> {parent}", table.name, column.name);
            }
        }
        for table in [
            "plant",
            "hierarchy",
            "mqtt_broker",
            "characteristic",
            "characteristic_config",
            "plants",
            "devices",
            "settings",
            "care_plans",
            "alerts",
            "telemetry",
        ] {
            assert!(count(&db, table) > 0, "{table} has rows");
        }
        // The migration's DEFAULT plant is reused, not duplicated, and a second plant exists.
        assert_eq!(count(&db, "plant WHERE code = 'DEFAULT'"), 1);
        assert_eq!(count(&db, "plant WHERE code = 'DEFAULT' AND id = 1"), 1);
        assert!(count(&db, "plant") >= 2);
        assert_eq!(count(&db, "hierarchy WHERE plant_id IS NULL"), 0);
        // Every characteristic has a config, and both provider types appear.
        assert_eq!(
            count(&db, "characteristic"),
            count(&db, "characteristic_config")
        );
        assert!(count(&db, "characteristic WHERE provider_type = 'MANUAL'") > 0);
        assert!(count(&db, "characteristic WHERE provider_type = 'TAG'") > 0);
        // About a week of 5-minute telemetry per device with a generator.
        assert_eq!(count(&db, "telemetry"), 3 * 7 * 288);
        assert_eq!(count(&db, "telemetry WHERE plant_id IS NULL"), 0);
    });
}

#[test]
fn gateway_passwords_decrypt_and_no_secret_is_stored_in_plain_text() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let key = test_key();
        let gateways = fixture_secrets(Secret::Encrypted);
        assert_eq!(gateways.len(), 6);
        for (label, plain) in &gateways {
            let id = fixture::derived_uuid("gateways", label);
            let stored = rows(
                &db,
                &format!("SELECT password_encrypted FROM gateways WHERE CAST(id AS TEXT) = '{id}'"),
            );
            let stored = stored[0][0].clone().expect("a ciphertext");
            assert_eq!(
                key.decrypt(&stored).as_deref(),
                Some(plain.as_str()),
                "{label}"
            );
        }
        let devices = fixture_secrets(Secret::Hashed);
        let everything = snapshot(&db);
        for (_, plain) in gateways.iter().chain(&devices) {
            for (table, lines) in &everything {
                assert!(
                    !lines.iter().any(|l| l.contains(plain.as_str())),
                    "a plain password is stored in {table}"
                );
            }
        }
    });
}

#[test]
fn device_password_hashes_are_argon2id_and_verify() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let devices = fixture_secrets(Secret::Hashed);
        assert!(devices.len() >= 3);
        for (label, plain) in &devices {
            let hash = rows(
                &db,
                &format!("SELECT mqtt_password_hash FROM devices WHERE id = '{label}'"),
            );
            let hash = hash[0][0].clone().expect("a hash");
            assert!(hash.starts_with("$argon2id$"), "{hash}");
            assert!(secrets::verify_password(&hash, plain), "{label}");
            assert!(!secrets::verify_password(&hash, "wrong"), "{label}");
        }
    });
}

#[test]
fn seeding_twice_changes_nothing_in_either_mode() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let first = snapshot(&db);
        let again = seed_built_in(&db.url(), SeedMode::Replace);
        assert_eq!(snapshot(&db), first, "replace twice");
        // Rows are kept and compared, not deleted and inserted again, also in a table
        // without a primary key of its own.
        let rules = again
            .tables
            .iter()
            .find(|t| t.table == "characteristic_rules")
            .expect("characteristic_rules");
        assert_eq!((rules.inserted, rules.updated, rules.unchanged), (0, 0, 3));
        let report = seed_built_in(&db.url(), SeedMode::Upsert);
        assert_eq!(snapshot(&db), first, "upsert after replace");
        let gateways = report
            .tables
            .iter()
            .find(|t| t.table == "gateways")
            .expect("gateways");
        assert_eq!(
            (gateways.inserted, gateways.updated, gateways.unchanged),
            (0, 0, 6)
        );
    });
}

#[test]
fn upsert_keeps_other_rows_and_replace_removes_them() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let url = db.url();
        let extra = "INSERT INTO settings (key, value) VALUES ('mine', 'kept')";
        match &db {
            TestDb::Postgres(pg) => pg.client().batch_execute(extra).expect("insert"),
            TestDb::Sqlite(file) => file.connection().execute_batch(extra).expect("insert"),
        }
        seed_built_in(&url, SeedMode::Upsert);
        assert_eq!(count(&db, "settings WHERE key = 'mine'"), 1);
        seed_built_in(&url, SeedMode::Replace);
        assert_eq!(count(&db, "settings WHERE key = 'mine'"), 0);
    });
}

/// Each bad fixture: (file contents, what the error must say at which position).
fn bad_fixtures() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "syntax",
            "plants:\n  fern: {name: Fern\n",
            "YAML syntax error",
        ),
        (
            "unknown table",
            "plantz:\n  fern: {name: Fern}\n",
            "bad.yaml:1:1: unknown table `plantz`",
        ),
        (
            "unknown column",
            "plants:\n  fern: {name: Fern, colour: green}\n",
            "bad.yaml:2:22: unknown column `colour` in table `plants`",
        ),
        (
            "undefined label",
            "devices:\n  d1: {plant: ghost, mqtt_password: x}\n",
            "bad.yaml:2:15: `ghost` is not defined in `plants` (used by `devices`.`plant` of row `d1`)",
        ),
        (
            "duplicate label",
            "settings:\n  a: {value: '1'}\n  a: {value: '2'}\n",
            "bad.yaml:3:3: duplicate key `a`",
        ),
        (
            "wrong type",
            "mqtt_broker:\n  b: {name: B, host: h, port: eighty}\n",
            "bad.yaml:2:31: `mqtt_broker`.`port` of row `b` must be an integer",
        ),
        (
            "config schema",
            "hierarchy:\n  h: {name: H, type: Site}\ncharacteristic:\n  c: {hierarchy: h, name: C, subgroup_size: 1, provider_type: MANUAL}\n\
             characteristic_config:\n  c: {characteristic: c, config_json: {config_type: MANUAL, schedule: {schedule_type: INTERVAL, interval_minutes: 0}}}\n",
            "`schedule.interval_minutes` must be between 1 and 10080 (IntervalSchedule), got 0",
        ),
        (
            "cycle",
            "hierarchy:\n  a: {parent: b, name: A, type: Site}\n  b: {parent: a, name: B, type: Area}\n",
            "foreign-key cycle in `hierarchy`",
        ),
    ]
}

/// `plantdb` in `dir` with only the given database configured.
pub fn plantdb(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").expect("the binary");
    cmd.current_dir(dir)
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove(secrets::KEY_VAR)
        .env("DATABASE_URL", url)
        .timeout(std::time::Duration::from_secs(120));
    cmd
}

#[test]
fn every_bad_input_fails_with_its_position_and_writes_nothing() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("a directory");
        for (case, text, expected) in bad_fixtures() {
            std::fs::write(dir.path().join("bad.yaml"), text).expect("write");
            let output = plantdb(dir.path(), &db.url())
                .env(secrets::KEY_VAR, test_key().to_base64())
                .args(["seed", "bad.yaml"])
                .output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
            assert!(stderr.starts_with("error: bad.yaml:"), "{case}: {stderr}");
            assert!(stderr.contains(expected), "{case}: {stderr}");
            assert!(stderr.lines().count() <= 3, "{case}: one screen: {stderr}");
            assert_eq!(snapshot(&db), before, "{case} wrote something");
        }
    });
}

#[test]
fn a_database_error_half_way_rolls_back_everything() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let before = snapshot(&db);
        // Valid for the fixture checks, refused by the database at the second gateway (the
        // unique index on active gateway ids), after replace mode has already emptied tables.
        let mut sources = seed::built_in_sources();
        sources.push((
            "dup.yaml".into(),
            "gateways:\n  dup: {factory: austin, gateway_id: GW-AUS-001, name: Dup, url: ws://x, email: a@b, password: p}\n".into(),
        ));
        let err =
            seed_sources(&db.url(), &sources, SeedMode::Replace).expect_err("a unique violation");
        let text = err.to_string();
        assert!(
            text.starts_with("dup.yaml:2:3: the database refused row `dup` of `gateways`"),
            "{text}"
        );
        assert_eq!(snapshot(&db), before);
    });
}

#[test]
fn a_database_with_pending_migrations_is_refused_by_name() {
    each_dialect(|db| {
        run(
            &db.url(),
            Request::Up {
                to: Some(crate::migrate::ADD_PLANT),
                count: None,
            },
        )
        .expect("migrate part way");
        let err = seed_sources(&db.url(), &seed::built_in_sources(), SeedMode::Replace)
            .expect_err("pending migrations");
        let text = err.to_string();
        assert!(matches!(err, Error::SeedPending(_)), "{text}");
        assert!(
            text.contains("20260208000001 create_organizations"),
            "{text}"
        );
        assert!(text.contains("20260209000006 create_care_plans"), "{text}");
        assert!(!text.contains("add_plant"), "{text}");
        assert_eq!(count(&db, "plant"), 1, "only the migration's DEFAULT plant");
        assert_eq!(count(&db, "hierarchy"), 0);
    });
}

#[test]
fn scale_multiplies_telemetry() {
    let file = SqliteFile::new();
    up_all(&file.url());
    let fixtures = fixture::load(&seed::built_in_sources(), now()).expect("fixtures");
    let mut driver = connect(&file.url());
    let set = MigrationSet::built_in(driver.dialect()).expect("set");
    let options = SeedOptions {
        mode: SeedMode::Replace,
        scale: 3,
        now: now(),
        key: Some(test_key()),
        dry_run: false,
    };
    seed::seed(
        driver.as_mut(),
        &set,
        &fixtures,
        &options,
        &mut seed::IgnoreProgress,
    )
    .expect("seed");
    let db = TestDb::Sqlite(file);
    assert_eq!(count(&db, "telemetry"), 3 * 3 * 7 * 288);
}

#[test]
fn a_local_database_without_a_key_gets_one_in_dot_env() {
    let file = SqliteFile::new();
    up_all(&file.url());
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join(".env"), "# mine\nOTHER=1").expect("write");
    let output = plantdb(dir.path(), &file.url())
        .arg("seed")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("generated a secret key") && stderr.contains(".env"),
        "{stderr}"
    );
    let env = std::fs::read_to_string(dir.path().join(".env")).expect("read");
    assert!(
        env.starts_with("# mine\nOTHER=1\nPLANTDB_SECRET_KEY="),
        "{env}"
    );
    let key_text = env
        .lines()
        .last()
        .and_then(|l| l.split_once('='))
        .map(|(_, v)| v)
        .expect("key");
    assert!(!stderr.contains(key_text), "the key is never printed");
    let key = SecretKey::parse(key_text).expect("a valid key");
    let db = TestDb::Sqlite(file);
    let stored = rows(&db, "SELECT password_encrypted FROM gateways");
    assert!(
        stored
            .iter()
            .all(|r| key.decrypt(r[0].as_deref().unwrap_or("")).is_some())
    );
    // A second run reads the key from .env and appends nothing.
    plantdb(dir.path(), &db.url())
        .arg("seed")
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).expect("read"),
        env
    );
}

#[test]
fn a_malformed_key_is_refused_without_echoing_it_and_writes_nothing() {
    each_dialect(|db| {
        migrated_and_seeded(&db);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("dir");
        let output = plantdb(dir.path(), &db.url())
            .env(secrets::KEY_VAR, "tooshort-secret-value")
            .arg("seed")
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("`PLANTDB_SECRET_KEY` is malformed"),
            "{stderr}"
        );
        assert!(!stderr.contains("tooshort-secret-value"), "{stderr}");
        assert_eq!(snapshot(&db), before);
        assert!(!dir.path().join(".env").exists());
    });
}

#[test]
fn a_remote_database_without_a_key_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("dir");
    let started = std::time::Instant::now();
    let output = plantdb(dir.path(), "postgres://u:hunter2@db.example.com/x")
        .arg("seed")
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`PLANTDB_SECRET_KEY` is not set") && text.contains("not a local database"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "it did not try to connect"
    );
    assert!(!dir.path().join(".env").exists());
}

#[test]
fn cli_seed_reports_tables_and_json() {
    let db = PgDatabase::new();
    up_all(&db.url);
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), &db.url)
        .env(secrets::KEY_VAR, test_key().to_base64())
        .args(["seed", "--json", "--mode", "upsert"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["mode"], "upsert");
    let telemetry = doc["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == "telemetry"))
        .expect("telemetry");
    assert_eq!(telemetry["inserted"], 3 * 7 * 288);
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!everything.contains(crate::support::postgres::TEST_PASSWORD));
}

#[test]
fn secret_key_prints_a_usable_key() {
    let dir = tempfile::tempdir().expect("dir");
    let output = plantdb(dir.path(), "sqlite://unused.db")
        .arg("secret-key")
        .output()
        .expect("run");
    assert!(output.status.success());
    let key = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let parsed = SecretKey::parse(&key).expect("a valid key");
    assert_eq!(
        parsed
            .decrypt(&parsed.encrypt("x").expect("encrypt"))
            .as_deref(),
        Some("x")
    );
    assert!(!dir.path().join("unused.db").exists());
}

#[test]
fn the_repository_fixtures_are_the_built_in_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let on_disk = seed::read_sources(&[dir]).expect("read seeds/");
    let built_in = seed::built_in_sources();
    assert_eq!(
        on_disk.len(),
        built_in.len(),
        "every seeds/*.yaml is embedded"
    );
    for ((_, disk), (_, embedded)) in on_disk.iter().zip(&built_in) {
        assert_eq!(disk, embedded);
    }
}

#[test]
fn the_catalog_matches_the_migrated_schema() {
    use plantdb::db::value::Kind;
    use plantdb::schema::CanonicalType;
    each_dialect(|db| {
        up_all(&db.url());
        let schema = db.schema();
        for table in catalog::TABLES {
            let live = schema.tables.get(table.name).unwrap_or_else(|| {
                panic!("{} is not in the {} schema", table.name, db.dialect_name())
            });
            let mut catalog_columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            let mut live_columns: Vec<&str> =
                live.columns.iter().map(|c| c.name.as_str()).collect();
            catalog_columns.sort_unstable();
            live_columns.sort_unstable();
            assert_eq!(catalog_columns, live_columns, "{}", table.name);
            for column in table.columns {
                let live_column = live
                    .columns
                    .iter()
                    .find(|c| c.name == column.name)
                    .expect("column");
                let expected = match column.kind {
                    Kind::Int => Some(CanonicalType::Integer),
                    Kind::Float => Some(CanonicalType::Real),
                    Kind::Bool => Some(CanonicalType::Boolean),
                    Kind::Json => Some(CanonicalType::Json),
                    _ => None,
                };
                if let Some(expected) = expected {
                    assert_eq!(live_column.ty, expected, "{}.{}", table.name, column.name);
                }
                let is_pk = table.pk_column() == Some(column.name);
                if !is_pk {
                    let required = live_column.not_null && live_column.default.is_none();
                    assert_eq!(
                        column.required, required,
                        "{}.{} required",
                        table.name, column.name
                    );
                }
                if let Some(parent) = column.references {
                    assert!(
                        live.foreign_keys
                            .iter()
                            .any(|fk| fk.columns == [column.name]
                                && fk.ref_table == parent
                                && fk.on_delete == column.on_delete.sql()),
                        "{}.{} -> {parent} ON DELETE {}",
                        table.name,
                        column.name,
                        column.on_delete.sql()
                    );
                }
            }
        }
    });
}

/// A fixture file with `n` plants, for seeding many rows of one table.
fn many_plants(n: usize) -> Vec<(String, String)> {
    let mut text = String::from("plants:\n");
    for i in 0..n {
        text.push_str(&format!("  p{i}: {{name: Plant {i}}}\n"));
    }
    vec![("seeds/many.yaml".into(), text)]
}

#[test]
fn replace_mode_keeps_thousands_of_named_rows_of_one_table() {
    each_dialect(|db| {
        up_all(&db.url());
        let sources = many_plants(5_000);
        let first = seed_sources(&db.url(), &sources, SeedMode::Replace).expect("first seed");
        let plants = |report: &SeedReport| {
            let t = report
                .tables
                .iter()
                .find(|t| t.table == "plants")
                .expect("plants");
            (t.inserted, t.updated, t.deleted, t.unchanged)
        };
        assert_eq!(plants(&first), (5_000, 0, 0, 0));
        // Every stored row is named now: the second run must keep all of them, by key.
        let again = seed_sources(&db.url(), &sources, SeedMode::Replace).expect("second seed");
        assert_eq!(plants(&again), (0, 0, 0, 5_000));
        assert_eq!(count(&db, "plants"), 5_000);
        // One row fewer in the fixtures: exactly that row goes.
        let fewer = many_plants(4_999);
        let third = seed_sources(&db.url(), &fewer, SeedMode::Replace).expect("third seed");
        assert_eq!(plants(&third), (0, 0, 1, 4_999));
        assert_eq!(count(&db, "plants WHERE id = 'p4999'"), 0);
    });
}
