//! The built-in migrations on real databases, through the same engine function the CLI calls.

use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::{self, Access, Driver, HISTORY_TABLE};
use plantdb::error::Error;
use plantdb::migrate::{self, IgnoreProgress, MigrationSet, Request, RunOptions, RunReport};

use crate::schema_spec;
use crate::support::{TestDb, each_dialect};

pub const ADD_PLANT: i64 = 20260207000000;
pub const CHARACTERISTIC_CONFIG: i64 = 20260206000000;
pub const LATEST: i64 = 20260301000001;
/// How many built-in migrations there are.
pub const MIGRATIONS: usize = 17;

pub fn connect(url: &str) -> Box<dyn Driver> {
    connect_with(url, TimescalePolicy::Auto)
}

pub fn connect_with(url: &str, timescale: TimescalePolicy) -> Box<dyn Driver> {
    let target = Target::parse(url).expect("a valid test URL");
    db::connect(&target, Access::ReadWrite, timescale).expect("connect to the test database")
}

pub fn run(url: &str, request: Request) -> Result<RunReport, Error> {
    let mut driver = connect(url);
    let set = MigrationSet::built_in(driver.dialect()).expect("the built-in set loads");
    migrate::migrate(
        driver.as_mut(),
        &set,
        request,
        RunOptions::default(),
        &mut IgnoreProgress,
    )
}

pub fn up_all(url: &str) -> RunReport {
    run(
        url,
        Request::Up {
            to: None,
            count: None,
        },
    )
    .expect("migrate up")
}

fn step(url: &str, up: bool) {
    let request = if up {
        Request::Up {
            to: None,
            count: Some(1),
        }
    } else {
        Request::Down {
            to: None,
            count: Some(1),
        }
    };
    run(url, request).expect("one step");
}

fn applied_versions(url: &str) -> Vec<i64> {
    connect(url)
        .applied()
        .expect("read history")
        .iter()
        .map(|a| a.version)
        .collect()
}

#[test]
fn full_up_creates_every_table_column_key_and_index_of_the_schema() {
    each_dialect(|db| {
        let report = up_all(&db.url());
        assert_eq!(report.steps.len(), MIGRATIONS, "{}", db.dialect_name());
        assert_eq!(report.current_version, Some(LATEST));
        let problems = schema_spec::check(&db.schema());
        assert!(
            problems.is_empty(),
            "{}: schema differs from SCHEMA.md:\n{}",
            db.dialect_name(),
            problems.join("\n")
        );
    });
}

#[test]
fn up_down_up_round_trip_gives_identical_schemas_and_all_the_way_down_leaves_only_history() {
    each_dialect(|db| {
        let url = db.url();
        let mut before = db.schema().without(HISTORY_TABLE);
        for _ in 0..16 {
            step(&url, true);
            let after = db.schema().without(HISTORY_TABLE);
            step(&url, false);
            let reverted = db.schema().without(HISTORY_TABLE);
            let diff = before.diff(&reverted);
            assert!(
                diff.is_empty(),
                "{}: down did not restore: {diff:?}",
                db.dialect_name()
            );
            step(&url, true);
            let again = db.schema().without(HISTORY_TABLE);
            let diff = after.diff(&again);
            assert!(
                diff.is_empty(),
                "{}: up again differs: {diff:?}",
                db.dialect_name()
            );
            before = again;
        }
        run(
            &url,
            Request::Down {
                to: Some(0),
                count: None,
            },
        )
        .expect("down to 0");
        let schema = db.schema();
        let left: Vec<_> = schema.tables.keys().collect();
        assert_eq!(left, vec![HISTORY_TABLE], "{}", db.dialect_name());
        assert!(
            schema.functions.is_empty(),
            "functions left: {:?}",
            schema.functions
        );
        assert!(applied_versions(&url).is_empty());
    });
}

#[test]
fn postgres_and_sqlite_schemas_match() {
    let sqlite = crate::support::SqliteFile::new();
    let pg = crate::support::PgDatabase::new();
    up_all(&sqlite.url());
    up_all(&pg.url);
    let lite = TestDb::Sqlite(sqlite).schema();
    let mut postgres = TestDb::Postgres(pg).schema();
    // The updated_at trigger function is how PostgreSQL spells a trigger body; SQLite has none.
    postgres.functions.clear();
    let diff = postgres.diff(&lite);
    assert!(diff.is_empty(), "dialects differ:\n{}", diff.join("\n"));
}

#[test]
fn add_plant_assigns_existing_rows_to_the_default_plant_and_down_keeps_them() {
    each_dialect(|db| {
        let url = db.url();
        run(
            &url,
            Request::Up {
                to: Some(CHARACTERISTIC_CONFIG),
                count: None,
            },
        )
        .unwrap();
        let mut driver = connect(&url);
        driver
            .execute(
                "INSERT INTO hierarchy (id, parent_id, name, type) VALUES
                    (1, NULL, 'Acme', 'Enterprise'), (2, 1, 'Springfield', 'Site'), (3, 2, 'Line 1', 'Line');
                 INSERT INTO mqtt_broker (id, name, host) VALUES (1, 'main', 'broker.local'), (2, 'backup', 'broker2.local');
                 INSERT INTO characteristic (id, hierarchy_id, name, subgroup_size, provider_type)
                    VALUES (1, 3, 'Bore diameter', 5, 'MANUAL');",
            )
            .unwrap();
        drop(driver);
        let before_plant = db.schema().without(HISTORY_TABLE);

        run(
            &url,
            Request::Up {
                to: Some(ADD_PLANT),
                count: None,
            },
        )
        .unwrap();
        let rows = query_pairs(
            &db,
            "SELECT h.id, p.code FROM hierarchy h JOIN plant p ON p.id = h.plant_id ORDER BY h.id",
        );
        assert_eq!(
            rows,
            vec![
                (1, "DEFAULT".into()),
                (2, "DEFAULT".into()),
                (3, "DEFAULT".into())
            ]
        );
        let rows = query_pairs(
            &db,
            "SELECT b.id, p.code FROM mqtt_broker b JOIN plant p ON p.id = b.plant_id ORDER BY b.id",
        );
        assert_eq!(rows, vec![(1, "DEFAULT".into()), (2, "DEFAULT".into())]);

        run(
            &url,
            Request::Down {
                to: None,
                count: Some(1),
            },
        )
        .unwrap();
        let rows = query_pairs(&db, "SELECT id, name FROM hierarchy ORDER BY id");
        assert_eq!(
            rows,
            vec![
                (1, "Acme".into()),
                (2, "Springfield".into()),
                (3, "Line 1".into())
            ]
        );
        let rows = query_pairs(&db, "SELECT id, host FROM mqtt_broker ORDER BY id");
        assert_eq!(
            rows,
            vec![(1, "broker.local".into()), (2, "broker2.local".into())]
        );
        let rows = query_pairs(&db, "SELECT id, name FROM characteristic ORDER BY id");
        assert_eq!(rows, vec![(1, "Bore diameter".into())]);
        let diff = before_plant.diff(&db.schema().without(HISTORY_TABLE));
        assert!(
            diff.is_empty(),
            "{}: down lost structure: {diff:?}",
            db.dialect_name()
        );
        // Foreign keys are still enforced after the rebuild.
        let mut driver = connect(&url);
        let orphan = driver.execute(
            "INSERT INTO characteristic (id, hierarchy_id, name, subgroup_size, provider_type) VALUES (2, 99, 'x', 1, 'TAG')",
        );
        assert!(
            orphan.is_err(),
            "{}: orphan row accepted",
            db.dialect_name()
        );
    });
}

/// Runs a query returning (integer, text) rows.
fn query_pairs(db: &TestDb, sql: &str) -> Vec<(i64, String)> {
    match db {
        TestDb::Postgres(pg) => pg
            .client()
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1)))
            .collect(),
        TestDb::Sqlite(file) => {
            let conn = file.connection();
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
    }
}

#[test]
fn migrate_up_twice_is_a_no_op() {
    each_dialect(|db| {
        up_all(&db.url());
        let second = up_all(&db.url());
        assert!(second.steps.is_empty());
        assert_eq!(applied_versions(&db.url()).len(), MIGRATIONS);
    });
}

#[test]
fn down_to_keeps_the_target_and_errors_name_the_problem() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        run(
            &url,
            Request::Down {
                to: Some(ADD_PLANT),
                count: None,
            },
        )
        .unwrap();
        assert_eq!(applied_versions(&url).last(), Some(&ADD_PLANT));
        let err = run(
            &url,
            Request::Down {
                to: Some(12345),
                count: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnknownVersion(12345)), "{err}");
        let err = run(
            &url,
            Request::Up {
                to: Some(999),
                count: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnknownVersion(999)), "{err}");
        run(
            &url,
            Request::Down {
                to: Some(0),
                count: None,
            },
        )
        .unwrap();
        let err = run(
            &url,
            Request::Down {
                to: None,
                count: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::NothingToRevert), "{err}");
    });
}

#[test]
fn redo_reverts_and_reapplies_the_latest_migration() {
    each_dialect(|db| {
        let url = db.url();
        up_all(&url);
        let before = db.schema();
        let report = run(&url, Request::Redo).unwrap();
        assert_eq!(report.steps.len(), 2);
        assert!(report.steps.iter().all(|s| s.version == LATEST));
        assert!(before.diff(&db.schema()).is_empty());
    });
}
