//! Seed input that would lose data, crash, seed nothing, or be stored differently by the two
//! dialects: each is refused before the database is touched, with its position.

use std::path::Path;

use plantdb::seed::{SeedMode, secrets};

use crate::migrate::up_all;
use crate::seed::{plantdb, rows, seed_built_in, seed_sources, snapshot, test_key};
use crate::support::{TestDb, each_dialect};

/// `plantdb seed ARGS` in `dir`: (exit code, stderr).
fn seed_cli(dir: &Path, db: &TestDb, args: &[&str]) -> (Option<i32>, String) {
    let output = plantdb(dir, &db.url())
        .env(secrets::KEY_VAR, test_key().to_base64())
        .arg("seed")
        .args(args)
        .output()
        .expect("run plantdb");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs each (case, file contents, expected error start) through `plantdb seed bad.yaml` and
/// checks the one-screen error, exit code 1 and that nothing changed.
fn refuses_each(db: &TestDb, cases: &[(&str, Vec<u8>, String)]) {
    let before = snapshot(db);
    let dir = tempfile::tempdir().expect("a directory");
    for (case, contents, expected) in cases {
        std::fs::write(dir.path().join("bad.yaml"), contents).expect("write");
        let (code, stderr) = seed_cli(dir.path(), db, &["bad.yaml"]);
        assert_eq!(code, Some(1), "{case}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {expected}")),
            "{case}: {stderr}"
        );
        assert!(stderr.lines().count() <= 3, "{case}: one screen: {stderr}");
        assert_eq!(snapshot(db), before, "{case} wrote something");
    }
}

#[test]
fn characters_yaml_forbids_are_refused_where_they_are() {
    let cases = [
        (
            // The loader stopped reading at the NUL: `b` was lost and the run exited 0.
            "a NUL in a plain value",
            b"plants:\n  a:\n    name: A\0\n  b:\n    name: B\n".to_vec(),
            "bad.yaml:3:12: a NUL character (U+0000) is not allowed in a YAML file".to_string(),
        ),
        (
            "a NUL in a quoted value",
            b"plants:\n  a: {name: \"A\0\"}\n  c: {name: C}\n".to_vec(),
            "bad.yaml:2:15: a NUL character (U+0000) is not allowed".to_string(),
        ),
        (
            "an escape character",
            b"plants:\r\n  a: {name: \"A\x1b[31m\"}\r\n".to_vec(),
            "bad.yaml:2:15: the control character U+001B is not allowed".to_string(),
        ),
        (
            "DEL",
            b"plants:\n  a: {name: A\x7f}\n".to_vec(),
            "bad.yaml:2:14: the control character U+007F is not allowed".to_string(),
        ),
        (
            "a byte order mark inside",
            "plants:\n  a: {name: \u{feff}A}\n".as_bytes().to_vec(),
            "bad.yaml:2:13: a byte order mark (U+FEFF) after the start".to_string(),
        ),
        (
            "not UTF-8",
            b"plants:\n  a: {name: caf\xe9}\n".to_vec(),
            "bad.yaml:2:16: byte 0xE9 is not valid UTF-8".to_string(),
        ),
        (
            "a NUL escape",
            b"plants:\n  a: {name: \"A\\0\"}\n".to_vec(),
            "bad.yaml:2:13: `plants`.`name` of row `a` cannot hold a NUL character".to_string(),
        ),
    ];
    each_dialect(|db| {
        up_all(&db.url());
        seed_built_in(&db.url(), SeedMode::Replace);
        refuses_each(&db, &cases);
    });
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    each_dialect(|db| {
        up_all(&db.url());
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(
            dir.path().join("bom.yaml"),
            "\u{feff}settings:\n  greeting: {value: hello}\n",
        )
        .expect("write");
        let (code, stderr) = seed_cli(dir.path(), &db, &["bom.yaml"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            rows(
                &db,
                "SELECT key, value FROM settings WHERE key = 'greeting'"
            ),
            vec![vec![Some("greeting".into()), Some("hello".into())]]
        );
    });
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // 50,000 levels overflowed the main thread's stack; the loader runs here in a test
    // thread, whose stack is smaller still.
    let deep = 50_000;
    let block = format!(
        "plants:\n  a:\n    name: A\n    thresholds:\n      {}x\n",
        "- ".repeat(deep)
    );
    let flow = format!(
        "plants:\n  a: {{name: A, thresholds: {}{}}}\n",
        "[".repeat(deep),
        "]".repeat(deep)
    );
    let mut mappings = String::from("plants:\n  a:\n    name: A\n    thresholds:\n");
    for level in 0..200 {
        mappings.push_str(&format!("{}k{level}:\n", " ".repeat(6 + 2 * level)));
    }
    for (case, text) in [("block", &block), ("flow", &flow), ("mappings", &mappings)] {
        let err =
            plantdb::seed::fixture::load(&[("deep.yaml".into(), text.clone())], crate::seed::now())
                .expect_err(case);
        let message = err.to_string();
        assert!(
            message.starts_with("deep.yaml:")
                && message.contains("mappings and lists are nested more than 64 levels deep"),
            "{case}: {message}"
        );
    }
    // 64 levels, counting the top-level mapping, still load.
    let fine = format!(
        "plants:\n  a: {{name: A, thresholds: {{x: {}{}}}}}\n",
        "[".repeat(60),
        "]".repeat(60)
    );
    plantdb::seed::fixture::load(&[("fine.yaml".into(), fine)], crate::seed::now())
        .expect("64 levels load");
    // And through the command, on both dialects, with nothing written.
    // Level 4 is the first list; the 62nd `- ` opens level 65.
    let cases = [(
        "block",
        block.into_bytes(),
        "bad.yaml:5:129: mappings and lists are nested more than 64 levels deep".to_string(),
    )];
    each_dialect(|db| {
        up_all(&db.url());
        refuses_each(&db, &cases);
    });
}

#[test]
fn a_directory_without_seed_files_and_an_empty_file_are_errors() {
    each_dialect(|db| {
        up_all(&db.url());
        seed_built_in(&db.url(), SeedMode::Replace);
        let before = snapshot(&db);
        let dir = tempfile::tempdir().expect("a directory");
        let fixtures = dir.path().join("fixtures");
        std::fs::create_dir(&fixtures).expect("mkdir");
        std::fs::write(fixtures.join("README.md"), "not a seed file").expect("write");
        let (code, stderr) = seed_cli(dir.path(), &db, &["fixtures"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.starts_with(
                "error: cannot read seed file `fixtures`: the directory holds no seed files (*.yaml or *.yml)"
            ),
            "{stderr}"
        );
        std::fs::write(fixtures.join("empty.yaml"), "# nothing yet\n").expect("write");
        let (code, stderr) = seed_cli(dir.path(), &db, &["fixtures"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: fixtures/empty.yaml:1:1: nothing to seed: no table is named in fixtures/empty.yaml"),
            "{stderr}"
        );
        assert_eq!(snapshot(&db), before);
    });
}

/// A characteristic with a CRON schedule of `expression`.
fn cron_fixture(expression: &str) -> String {
    format!(
        "hierarchy:\n  h: {{name: H, type: Site}}\n\
         characteristic:\n  c: {{hierarchy: h, name: C, subgroup_size: 1, provider_type: MANUAL}}\n\
         characteristic_config:\n  c:\n    characteristic: c\n    config_json:\n      config_type: MANUAL\n      schedule:\n        schedule_type: CRON\n        cron_expression: '{expression}'\n"
    )
}

#[test]
fn cron_fields_out_of_range_are_refused_by_name() {
    let cases = [
        (
            "all out of range",
            cron_fixture("99 99 99 99 99").into_bytes(),
            "bad.yaml:12:26: characteristic_config `c`: `schedule.cron_expression` has an invalid minute field `99` in `99 99 99 99 99` (allowed: 0-59) (CronSchedule)".to_string(),
        ),
        (
            "day of week",
            cron_fixture("0 6 * * 9").into_bytes(),
            "bad.yaml:12:26: characteristic_config `c`: `schedule.cron_expression` has an invalid day-of-week field `9`".to_string(),
        ),
    ];
    each_dialect(|db| {
        up_all(&db.url());
        refuses_each(&db, &cases);
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(
            dir.path().join("ok.yaml"),
            cron_fixture("30 6 1-15 JAN-JUN MON-FRI"),
        )
        .expect("write");
        let (code, stderr) = seed_cli(dir.path(), &db, &["ok.yaml"]);
        assert_eq!(code, Some(0), "{stderr}");
    });
}

/// Values one dialect would store and the other refuse or store differently, and the error
/// both must give instead.
fn out_of_bounds() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "integer above 32 bits",
            "mqtt_broker:\n  b: {name: B, host: h, port: 3000000000}\n",
            "bad.yaml:2:31: `mqtt_broker`.`port` of row `b` must be an integer from -2147483648 to 2147483647 (a 32-bit INTEGER), not 3000000000",
        ),
        (
            "integer below 32 bits",
            "characteristic_rules:\n  r: {characteristic: c, rule_id: -2147483649}\n\
             hierarchy:\n  h: {name: H, type: Site}\n\
             characteristic:\n  c: {hierarchy: h, name: C, subgroup_size: 1, provider_type: TAG}\n",
            "bad.yaml:2:35: `characteristic_rules`.`rule_id` of row `r` must be an integer from -2147483648 to 2147483647",
        ),
        (
            "relative time past year 9999",
            "plants:\n  fern: {name: F, created_at: now+5000000w}\n",
            "bad.yaml:2:31: `plants`.`created_at` of row `fern` must be a time from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z, not +97852-11-06T12:02:00.000Z",
        ),
        (
            "time zone offset past year 9999",
            "plants:\n  fern: {name: F, created_at: '9999-12-31T23:00:00-05:00'}\n",
            "bad.yaml:2:31: `plants`.`created_at` of row `fern` must be a time from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z, not +10000-01-01T04:00:00.000Z",
        ),
        (
            "year 0",
            "plants:\n  fern: {name: F, created_at: '0000-12-31T00:00:00Z'}\n",
            "bad.yaml:2:31: `plants`.`created_at` of row `fern` must be a time from 0001-01-01T00:00:00.000Z",
        ),
        (
            "telemetry before year 1",
            "plants:\n  fern: {name: F}\ndevices:\n  d: {plant: fern, mqtt_password: x}\n\
             telemetry:\n  w: {device: d, interval: 100000w, span: 200000w}\n",
            "bad.yaml:6:43: telemetry `w`: `span` reaches back before 0001-01-01T00:00:00.000Z",
        ),
        (
            "text longer than its VARCHAR",
            "plant:\n  p: {name: P, code: ABCDEFGHIJK}\n",
            "bad.yaml:2:22: `plant`.`code` of row `p` must be at most 10 characters (VARCHAR(10)), not 11",
        ),
        (
            "a NUL escape in JSON",
            "plants:\n  fern: {name: F, thresholds: {note: \"a\\0\"}}\n",
            "bad.yaml:2:31: `plants`.`thresholds` of row `fern` cannot hold a NUL character (U+0000)",
        ),
    ]
}

#[test]
fn both_dialects_refuse_the_same_out_of_range_values_alike() {
    let messages = std::sync::Mutex::new(Vec::new());
    each_dialect(|db| {
        up_all(&db.url());
        seed_built_in(&db.url(), SeedMode::Replace);
        let before = snapshot(&db);
        let mut seen = Vec::new();
        for (case, text, expected) in out_of_bounds() {
            let sources = [("bad.yaml".to_string(), text.to_string())];
            let message = match seed_sources(&db.url(), &sources, SeedMode::Upsert) {
                Ok(_) => format!("accepted by {}", db.dialect_name()),
                Err(e) => e.to_string(),
            };
            assert!(
                message.starts_with(expected),
                "{case} on {}: {message}",
                db.dialect_name()
            );
            assert_eq!(snapshot(&db), before, "{case} wrote something");
            seen.push(message);
        }
        messages.lock().expect("lock").push(seen);
    });
    let messages = messages.into_inner().expect("lock");
    assert_eq!(messages[0], messages[1], "sqlite and postgres differ");
}

#[test]
fn values_at_the_bounds_are_stored_alike_on_both_dialects() {
    let fixture = "mqtt_broker:\n  max: {name: max, host: h, port: 2147483647}\n  min: {name: min, host: h, port: -2147483648}\n\
                   plants:\n  first: {name: F, created_at: '0001-01-01T00:00:00Z'}\n  last: {name: L, created_at: '9999-12-31T23:59:59.999Z'}\n\
                   plant:\n  p: {name: P, code: ÉÉÉÉÉÉÉÉÉÉ}\n";
    let stored = std::sync::Mutex::new(Vec::new());
    each_dialect(|db| {
        up_all(&db.url());
        seed_sources(
            &db.url(),
            &[("edge.yaml".into(), fixture.into())],
            SeedMode::Upsert,
        )
        .expect("values at the bounds are accepted");
        let mut found = rows(
            &db,
            "SELECT name, CAST(port AS TEXT) FROM mqtt_broker WHERE name IN ('max', 'min') ORDER BY name",
        );
        found.extend(rows(
            &db,
            "SELECT code, name FROM plant WHERE code LIKE 'É%'",
        ));
        // Ordered as text, the way SQLite compares its stored times.
        let times = rows(&db, "SELECT id FROM plants ORDER BY created_at");
        found.extend(times);
        stored.lock().expect("lock").push(found);
    });
    let stored = stored.into_inner().expect("lock");
    assert_eq!(stored[0], stored[1], "sqlite and postgres differ");
    assert_eq!(
        stored[0].last().and_then(|r| r[0].clone()).as_deref(),
        Some("last")
    );
}

#[test]
fn the_catalog_bounds_are_the_postgresql_column_types() {
    use plantdb::db::value::Kind;
    use plantdb::seed::catalog;
    let db = crate::support::PgDatabase::new();
    up_all(&db.url);
    let mut client = db.client();
    for table in catalog::TABLES {
        for column in table.columns {
            let row = client
                .query_one(
                    "SELECT data_type, character_maximum_length FROM information_schema.columns
                     WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
                    &[&table.name, &column.name],
                )
                .unwrap_or_else(|e| panic!("{}.{}: {e}", table.name, column.name));
            let data_type: String = row.get(0);
            let max_chars: Option<i32> = row.get(1);
            let at = format!("{}.{} ({data_type})", table.name, column.name);
            if column.kind == Kind::Int {
                assert_eq!(data_type, "integer", "{at}: INTEGER_RANGE no longer fits");
            }
            assert_eq!(
                column.max_chars,
                max_chars.map(|n| usize::try_from(n).expect("a length")),
                "{at}: max_chars"
            );
        }
    }
}

#[test]
fn telemetry_stretched_by_scale_before_year_one_is_refused_on_both_dialects() {
    // About 192 years back: fine alone, 3,800 years at `--scale 20` (SQLite would store
    // negative years as text, PostgreSQL would take them).
    let fixture = "plants:\n  fern: {name: F}\ndevices:\n  d: {plant: fern, mqtt_password: x}\n\
                   telemetry:\n  w: {device: d, interval: 10000w, span: 10000w}\n";
    each_dialect(|db| {
        up_all(&db.url());
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(dir.path().join("t.yaml"), fixture).expect("write");
        let (code, stderr) = seed_cli(dir.path(), &db, &["--scale", "20", "t.yaml"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.starts_with(
                "error: t.yaml:6:3: telemetry `w`: `span` × `--scale` 20 reaches back before 0001-01-01T00:00:00.000Z"
            ),
            "{stderr}"
        );
        assert_eq!(crate::seed::count(&db, "telemetry"), 0);
        assert_eq!(crate::seed::count(&db, "plants"), 0);
        let (code, stderr) = seed_cli(dir.path(), &db, &["t.yaml"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(crate::seed::count(&db, "telemetry"), 1);
    });
}
