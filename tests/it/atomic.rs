//! Atomic means atomic: transaction control refused before anything runs, `redo` and
//! `--single-transaction` as one transaction, and output that only reports committed steps.

use std::path::Path;

use assert_cmd::Command;
use plantdb::error::Error;
use plantdb::migrate::{
    self, IgnoreProgress, MigrationSet, Observer, Request, RunOptions, StepReport,
};

use crate::migrate::connect;
use crate::support::{TestDb, each_dialect};

const UP: Request = Request::Up {
    to: None,
    count: None,
};

const DOWN_ALL: Request = Request::Down {
    to: Some(0),
    count: None,
};

const SINGLE: RunOptions = RunOptions {
    dry_run: false,
    fake: false,
    allow_drift: false,
    allow_out_of_order: false,
    single_transaction: true,
    below_adoption: false,
};

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

fn run_dir(
    url: &str,
    dir: &Path,
    request: Request,
    options: RunOptions,
    observer: &mut dyn Observer,
) -> Result<migrate::RunReport, Error> {
    let mut driver = connect(url);
    let set = MigrationSet::from_dir(dir, driver.dialect()).expect("the test set loads");
    migrate::migrate(driver.as_mut(), &set, request, options, observer)
}

fn versions(url: &str) -> Vec<i64> {
    connect(url)
        .applied()
        .unwrap()
        .iter()
        .map(|a| a.version)
        .collect()
}

fn tables(db: &TestDb) -> Vec<String> {
    db.schema().tables.into_keys().collect()
}

fn plantdb(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::cargo_bin("plantdb").unwrap();
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .args(["--database-url", url, "--migrations"])
        .arg(dir)
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// Three migrations; the third fails on both dialects.
fn three_with_a_broken_third(dir: &Path) {
    write(dir, "V1__first.sql", "CREATE TABLE first (id INTEGER);");
    write(dir, "V1__first.down.sql", "DROP TABLE first;");
    write(dir, "V2__second.sql", "CREATE TABLE second (id INTEGER);");
    write(dir, "V2__second.down.sql", "DROP TABLE second;");
    write(
        dir,
        "V3__third.sql",
        "CREATE TABLE third (id INTEGER);\nCREATE TABLE broken (id INTEGER,, oops);",
    );
}

#[test]
fn transaction_control_in_a_migration_is_refused_before_anything_runs() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER);",
        );
        // Fails on PostgreSQL (division by zero) after the COMMIT; succeeds on SQLite.
        write(
            dir.path(),
            "V2__commits.sql",
            "CREATE TABLE a (id INTEGER);\nCOMMIT;\nCREATE TABLE b (id INTEGER);\nSELECT 1/0;\n",
        );
        let output = plantdb(dir.path(), &db.url())
            .args(["migrate", "up"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            db.dialect_name()
        );
        assert!(stderr.contains("V2__commits.sql:2:1"), "{stderr}");
        assert!(stderr.contains("`COMMIT`"), "{stderr}");
        assert!(stderr.contains("-- plantdb:no-transaction"), "{stderr}");
        // Refused when the files load: not even the first migration ran.
        assert!(
            tables(&db).iter().all(|t| t != "a" && t != "first"),
            "{}: {:?}",
            db.dialect_name(),
            tables(&db)
        );

        // Marked as managing its own transactions, the script may hold them.
        write(
            dir.path(),
            "V2__commits.sql",
            "-- plantdb:no-transaction\nBEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;\n",
        );
        plantdb(dir.path(), &db.url())
            .args(["migrate", "up"])
            .assert()
            .success();
        assert_eq!(versions(&db.url()), vec![1, 2], "{}", db.dialect_name());
        assert!(tables(&db).contains(&"a".to_string()));
    });
}

#[test]
fn names_and_savepoints_cannot_smuggle_transaction_control_past_the_check() {
    each_dialect(|db| {
        // An object called `begin` looks like the start of a body; releasing plantdb's own
        // savepoint commits the step behind its back. Both used to run, leaving tables and a
        // history row behind while plantdb exited 1.
        let named_begin = match db {
            TestDb::Postgres(_) => {
                "CREATE TABLE t (id INTEGER);\nCREATE FUNCTION begin() RETURNS int AS 'SELECT 1' LANGUAGE sql;\nCOMMIT;\nCREATE TABLE b (id INTEGER);\n"
            }
            TestDb::Sqlite(_) => {
                "CREATE TABLE t (id INTEGER);\nCREATE TRIGGER begin AFTER INSERT ON t BEGIN SELECT 1; END;\nCOMMIT;\nCREATE TABLE b (id INTEGER);\n"
            }
        };
        for (sql, at, shown) in [
            (named_begin, "V1__smuggle.sql:3:1", "`COMMIT`"),
            (
                "CREATE TABLE t (id INTEGER);\nRELEASE plantdb_step;\nCREATE TABLE b (id INTEGER);\n",
                "V1__smuggle.sql:2:1",
                "`RELEASE`",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "V1__smuggle.sql", sql);
            let output = plantdb(dir.path(), &db.url())
                .args(["migrate", "up"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let dialect = db.dialect_name();
            assert_eq!(output.status.code(), Some(1), "{dialect}: {stderr}");
            assert!(stderr.contains(at), "{dialect}: {stderr}");
            assert!(stderr.contains(shown), "{dialect}: {stderr}");
            assert!(
                tables(&db).iter().all(|t| t != "t" && t != "b"),
                "{dialect}: {:?}",
                tables(&db)
            );
        }
    });
}

#[test]
fn a_commit_after_a_carriage_return_in_a_comment_is_refused_on_postgres() {
    // PostgreSQL ends a `--` comment at a carriage return, so the COMMIT runs: it used to leave
    // table `a` behind without a history row when the script failed later.
    let pg = crate::support::PgDatabase::new();
    let db = TestDb::Postgres(pg);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__cr.sql",
        "CREATE TABLE a (id INTEGER);\n-- note\rCOMMIT;\nCREATE TABLE b (id INTEGER);\nSELECT 1/0;\n",
    );
    let output = plantdb(dir.path(), &db.url())
        .args(["migrate", "up"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`COMMIT`"), "{stderr}");
    assert!(stderr.contains("-- plantdb:no-transaction"), "{stderr}");
    assert!(
        tables(&db).iter().all(|t| t != "a" && t != "b"),
        "{:?}",
        tables(&db)
    );
}

#[test]
fn a_quoted_foreign_keys_pragma_is_refused_before_a_rebuild_can_cascade() {
    // Inside the migration's transaction SQLite ignores the pragma, so the rebuild's
    // DROP TABLE would delete every child row through ON DELETE CASCADE.
    let db = crate::support::SqliteFile::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__tables.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);\nINSERT INTO parent VALUES (1);\nINSERT INTO child VALUES (1);\n",
    );
    plantdb(dir.path(), &db.url())
        .args(["migrate", "up"])
        .assert()
        .success();
    write(
        dir.path(),
        "V2__rebuild.sql",
        "PRAGMA \"foreign_keys\" = OFF;\nCREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO parent_new (id) SELECT id FROM parent;\nDROP TABLE parent;\nALTER TABLE parent_new RENAME TO parent;\n",
    );
    let output = plantdb(dir.path(), &db.url())
        .args(["migrate", "up"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("V2__rebuild.sql:1:1"), "{stderr}");
    assert!(stderr.contains("plantdb:foreign-keys-off"), "{stderr}");
    let children: i64 = db
        .connection()
        .query_row("SELECT count(*) FROM child", [], |row| row.get(0))
        .unwrap();
    assert_eq!(children, 1);
}

#[test]
fn a_postgres_no_transaction_script_runs_statement_by_statement() {
    let pg = crate::support::PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__a.sql",
        "CREATE TABLE a (id INTEGER, x INTEGER);",
    );
    // Sent as one string, PostgreSQL would run both in one implicit transaction and refuse.
    write(
        dir.path(),
        "V2__indexes.sql",
        "-- plantdb:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n",
    );
    run_dir(
        &pg.url,
        dir.path(),
        UP,
        RunOptions::default(),
        &mut IgnoreProgress,
    )
    .unwrap();
    let indexes: i64 = pg
        .client()
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'a' AND indexname IN ('a_id', 'a_x')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(indexes, 2);
    // A failing statement is still reported at its line in the file.
    write(
        dir.path(),
        "V3__bad.sql",
        "-- plantdb:no-transaction\nCREATE INDEX CONCURRENTLY a_both ON a (id, x);\nSELECT nope FROM a;\n",
    );
    let err = run_dir(
        &pg.url,
        dir.path(),
        UP,
        RunOptions::default(),
        &mut IgnoreProgress,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MigrationFailed {
                version: 3,
                position: Some((3, 8)),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn redo_is_one_transaction_and_a_failing_up_leaves_version_and_schema_unchanged() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER);",
        );
        // The down script forgets `b`, so the up script fails when it runs again.
        write(
            dir.path(),
            "V2__second.sql",
            "CREATE TABLE b (id INTEGER);\nCREATE TABLE c (id INTEGER);",
        );
        write(dir.path(), "V2__second.down.sql", "DROP TABLE c;");
        run_dir(
            &db.url(),
            dir.path(),
            UP,
            RunOptions::default(),
            &mut IgnoreProgress,
        )
        .unwrap();
        let before = db.schema();

        let err = run_dir(
            &db.url(),
            dir.path(),
            Request::Redo,
            RunOptions::default(),
            &mut IgnoreProgress,
        )
        .unwrap_err();
        let Error::RolledBack { cause, .. } = &err else {
            panic!(
                "{}: expected a rolled-back redo, got {err}",
                db.dialect_name()
            );
        };
        assert!(
            matches!(**cause, Error::MigrationFailed { version: 2, .. }),
            "{cause}"
        );
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert_eq!(versions(&db.url()), vec![1, 2], "{}", db.dialect_name());
        let diff = before.diff(&db.schema());
        assert!(diff.is_empty(), "{}: {diff:?}", db.dialect_name());

        // A redo that works still reverts and applies in one go.
        write(
            dir.path(),
            "V2__second.down.sql",
            "DROP TABLE c;\nDROP TABLE b;",
        );
        let report = run_dir(
            &db.url(),
            dir.path(),
            Request::Redo,
            RunOptions::default(),
            &mut IgnoreProgress,
        )
        .unwrap();
        assert_eq!(report.steps.len(), 2);
        assert_eq!(versions(&db.url()), vec![1, 2]);
    });
}

#[test]
fn redo_refuses_a_script_that_cannot_run_in_a_transaction_and_changes_nothing() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER);",
        );
        write(
            dir.path(),
            "V1__first.down.sql",
            "-- plantdb:no-transaction\nDROP TABLE first;",
        );
        run_dir(
            &db.url(),
            dir.path(),
            UP,
            RunOptions::default(),
            &mut IgnoreProgress,
        )
        .unwrap();
        let err = run_dir(
            &db.url(),
            dir.path(),
            Request::Redo,
            RunOptions::default(),
            &mut IgnoreProgress,
        )
        .unwrap_err();
        let Error::NotAtomic { version, file, .. } = &err else {
            panic!("{}: {err}", db.dialect_name());
        };
        assert_eq!(*version, 1);
        assert!(file.ends_with("V1__first.down.sql"), "{file}");
        assert!(err.hint().unwrap().contains("migrate down"), "{err}");
        assert_eq!(versions(&db.url()), vec![1]);
        assert!(tables(&db).contains(&"first".to_string()));
    });
}

#[test]
fn single_transaction_up_and_down_are_all_or_nothing() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        three_with_a_broken_third(dir.path());
        let err = run_dir(&db.url(), dir.path(), UP, SINGLE, &mut IgnoreProgress).unwrap_err();
        assert!(
            matches!(&err, Error::RolledBack { cause, .. }
                if matches!(**cause, Error::MigrationFailed { version: 3, .. })),
            "{}: {err}",
            db.dialect_name()
        );
        assert!(err.to_string().contains("nothing was applied"), "{err}");
        assert!(versions(&db.url()).is_empty(), "{}", db.dialect_name());
        let left = tables(&db);
        assert!(
            !left.iter().any(|t| t == "first" || t == "second"),
            "{}: {left:?}",
            db.dialect_name()
        );

        // Down: the first migration's down script fails after the others were reverted.
        write(
            dir.path(),
            "V3__third.sql",
            "CREATE TABLE third (id INTEGER);",
        );
        write(dir.path(), "V3__third.down.sql", "DROP TABLE third;");
        write(dir.path(), "V1__first.down.sql", "DROP TABLE not_there;");
        run_dir(&db.url(), dir.path(), UP, SINGLE, &mut IgnoreProgress).unwrap();
        assert_eq!(versions(&db.url()), vec![1, 2, 3]);
        let before = db.schema();
        let err =
            run_dir(&db.url(), dir.path(), DOWN_ALL, SINGLE, &mut IgnoreProgress).unwrap_err();
        assert!(err.to_string().contains("nothing was reverted"), "{err}");
        assert_eq!(versions(&db.url()), vec![1, 2, 3], "{}", db.dialect_name());
        assert!(
            before.diff(&db.schema()).is_empty(),
            "{}",
            db.dialect_name()
        );
    });
}

#[test]
fn single_transaction_refuses_a_plan_with_a_no_transaction_step_before_anything_changes() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER);",
        );
        write(
            dir.path(),
            "V2__second.sql",
            "-- plantdb:no-transaction\nCREATE TABLE second (id INTEGER);",
        );
        let err = run_dir(&db.url(), dir.path(), UP, SINGLE, &mut IgnoreProgress).unwrap_err();
        assert!(
            matches!(&err, Error::NotAtomic { version: 2, .. }),
            "{}: {err}",
            db.dialect_name()
        );
        assert!(err.to_string().contains("plantdb:no-transaction"), "{err}");
        assert!(
            tables(&db).is_empty(),
            "{}: {:?}",
            db.dialect_name(),
            tables(&db)
        );
        // Stopping before it is fine.
        let to_first = Request::Up {
            to: Some(1),
            count: None,
        };
        run_dir(&db.url(), dir.path(), to_first, SINGLE, &mut IgnoreProgress).unwrap();
        assert_eq!(versions(&db.url()), vec![1]);
    });
}

#[test]
fn single_transaction_on_sqlite_refuses_a_foreign_keys_off_step_and_postgres_runs_it() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "V1__first.sql",
            "CREATE TABLE first (id INTEGER);",
        );
        write(
            dir.path(),
            "V2__rebuild.sql",
            "-- plantdb:foreign-keys-off\nCREATE TABLE second (id INTEGER);",
        );
        let result = run_dir(&db.url(), dir.path(), UP, SINGLE, &mut IgnoreProgress);
        match db {
            TestDb::Sqlite(_) => {
                let err = result.unwrap_err();
                assert!(matches!(&err, Error::NotAtomic { version: 2, .. }), "{err}");
                assert!(err.to_string().contains("foreign keys off"), "{err}");
                assert!(tables(&db).is_empty(), "{:?}", tables(&db));
            }
            TestDb::Postgres(_) => {
                result.unwrap();
                assert_eq!(versions(&db.url()), vec![1, 2]);
            }
        }
    });
}

/// Remembers, for each step it is told about, whether the history (read on a connection of
/// its own) already holds it: what a crash at that moment would keep.
struct CheckCommitted {
    url: String,
    told: Vec<(i64, bool)>,
}

impl Observer for CheckCommitted {
    fn step_committed(&mut self, report: &StepReport) {
        let in_history = versions(&self.url).contains(&report.version);
        self.told.push((report.version, in_history));
    }
}

#[test]
fn steps_are_reported_only_once_committed() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        three_with_a_broken_third(dir.path());
        let mut observer = CheckCommitted {
            url: db.url(),
            told: Vec::new(),
        };
        // In one transaction, a failure reports nothing: nothing was committed.
        run_dir(&db.url(), dir.path(), UP, SINGLE, &mut observer).unwrap_err();
        assert!(observer.told.is_empty(), "{:?}", observer.told);

        let err = run_dir(
            &db.url(),
            dir.path(),
            UP,
            RunOptions::default(),
            &mut observer,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::MigrationFailed { version: 3, .. }),
            "{err}"
        );
        // The first two were reported, each at a moment when it was committed, and they stay.
        assert_eq!(
            observer.told,
            vec![(1, true), (2, true)],
            "{}",
            db.dialect_name()
        );
        assert_eq!(versions(&db.url()), vec![1, 2]);
    });
}

#[test]
fn a_sqlite_conflict_that_rolls_back_the_whole_run_reports_nothing_as_applied() {
    let db = TestDb::Sqlite(crate::support::SqliteFile::new());
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__first.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
    );
    // `OR ROLLBACK` ends the whole transaction, the run's earlier steps included.
    write(
        dir.path(),
        "V2__second.sql",
        "INSERT INTO t VALUES (1);\nINSERT OR ROLLBACK INTO t VALUES (1);",
    );
    let mut observer = CheckCommitted {
        url: db.url(),
        told: Vec::new(),
    };
    let err = run_dir(
        &db.url(),
        dir.path(),
        UP,
        RunOptions::default(),
        &mut observer,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("nothing of this run was applied"),
        "{err}"
    );
    assert!(observer.told.is_empty(), "{:?}", observer.told);
    assert!(versions(&db.url()).is_empty());
    assert!(!tables(&db).contains(&"t".to_string()));
}

#[test]
fn the_command_line_prints_what_was_committed_and_says_when_nothing_was() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        three_with_a_broken_third(dir.path());
        let output = plantdb(dir.path(), &db.url())
            .args(["migrate", "up", "--single-transaction"])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            !stdout.contains("applied"),
            "{}: {stdout}",
            db.dialect_name()
        );
        assert!(
            stderr.contains("nothing was applied: --single-transaction rolled back all 3 step(s)"),
            "{stderr}"
        );
        assert!(versions(&db.url()).is_empty());

        let output = plantdb(dir.path(), &db.url())
            .args(["migrate", "up"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1));
        assert!(stdout.contains("applied  1 first"), "{stdout}");
        assert!(stdout.contains("applied  2 second"), "{stdout}");
        assert!(!stdout.contains("third"), "{stdout}");
        assert_eq!(versions(&db.url()), vec![1, 2], "{}", db.dialect_name());
    });
}

#[test]
fn version_zero_is_refused_when_the_migrations_load() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V0__zero.sql",
        "CREATE TABLE zero (id INTEGER);",
    );
    write(dir.path(), "V1__one.sql", "CREATE TABLE one (id INTEGER);");
    let db = crate::support::SqliteFile::new();
    let output = plantdb(dir.path(), &db.url())
        .args(["migrate", "up"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("V0__zero.sql"), "{stderr}");
    assert!(stderr.contains("versions start at 1"), "{stderr}");
    assert!(!db.path.exists(), "nothing was created");
}
