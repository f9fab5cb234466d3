//! The engine leaves transactions and plantdb's own tables to the driver: the SQL it sends
//! for its own use never opens or ends a transaction and never names plantdb's tables, so
//! every dialect keeps one way of committing and one writer of its history.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plantdb::db::postgres::PostgresDriver;
use plantdb::db::value::{Kind, Value};
use plantdb::db::{
    Adoption, AppliedMigration, Dialect, Driver, HISTORY_TABLE, LockWait, Locked, Step,
};
use plantdb::error::{Error, Result, Version};
use plantdb::migrate::adopt::{self, ADOPTION_TABLE, AdoptOptions};
use plantdb::migrate::adopt_manifest::Source;
use plantdb::migrate::expected::Scratch;
use plantdb::migrate::{self, IgnoreProgress, MigrationSet, Request, RunOptions};
use plantdb::schema::Schema;
use plantdb::seed::{self, SeedMode, SeedOptions, fixture};

use crate::adopt::{PGMIGRATIONS_HISTORY, old_database, versions_of};
use crate::migrate::connect;
use crate::seed::{now, test_key};
use crate::support::{TestDb, each_dialect};

/// A driver that notes every piece of SQL the engine hands it as text.
struct Recording {
    inner: Box<dyn Driver>,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn note(&self, sql: &str) {
        self.sent.lock().unwrap().push(sql.to_string());
    }
}

impl Driver for Recording {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn lock(&mut self) -> Result<()> {
        self.inner.lock()
    }
    fn set_lock_wait(&mut self, wait: LockWait) {
        self.inner.set_lock_wait(wait)
    }
    fn unlock(&mut self) -> Result<()> {
        self.inner.unlock()
    }
    fn applied(&mut self) -> Result<Vec<AppliedMigration>> {
        self.inner.applied()
    }
    fn ensure_history(&mut self) -> Result<()> {
        self.inner.ensure_history()
    }
    fn apply(&mut self, step: &Step) -> Result<Vec<String>> {
        self.inner.apply(step)
    }
    fn begin(&mut self) -> Result<()> {
        self.inner.begin()
    }
    fn commit(&mut self) -> Result<()> {
        self.inner.commit()
    }
    fn rollback(&mut self) -> Result<()> {
        self.inner.rollback()
    }
    fn set_checksum(&mut self, version: Version, checksum: &str) -> Result<()> {
        self.inner.set_checksum(version, checksum)
    }
    fn record_adoption(&mut self, adoption: &Adoption) -> Result<()> {
        self.inner.record_adoption(adoption)
    }
    fn adoption_gaps(&mut self) -> Result<BTreeSet<Version>> {
        self.inner.adoption_gaps()
    }
    fn as_postgres(&mut self) -> Option<&mut PostgresDriver> {
        self.inner.as_postgres()
    }
    fn commits_before_unlock(&self) -> bool {
        self.inner.commits_before_unlock()
    }
    fn execute(&mut self, sql: &str) -> Result<()> {
        self.note(sql);
        self.inner.execute(sql)
    }
    fn schema(&mut self) -> Result<Schema> {
        self.inner.schema()
    }
    fn query(&mut self, sql: &str, params: &[Value], kinds: &[Kind]) -> Result<Vec<Vec<Value>>> {
        self.note(sql);
        self.inner.query(sql, params, kinds)
    }
    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<Value>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        self.note(&format!("insert_rows {table}"));
        self.inner.insert_rows(table, columns, rows, progress)
    }
}

fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect(sql),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect(sql),
    }
}

/// Statements that open, end or mark a transaction.
fn controls_a_transaction(sql: &str) -> bool {
    sql.split(';').any(|statement| {
        let first = statement
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        [
            "BEGIN",
            "START",
            "COMMIT",
            "END",
            "ROLLBACK",
            "SAVEPOINT",
            "RELEASE",
        ]
        .contains(&first.as_str())
    })
}

#[test]
fn adopt_migrate_repair_and_seed_leave_transactions_and_plantdb_tables_to_the_driver() {
    each_dialect(|db| {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut driver = Recording {
            inner: connect(&db.url()),
            sent: sent.clone(),
        };
        let dialect = driver.dialect();
        let set = MigrationSet::built_in(dialect).unwrap();

        old_database(
            &db,
            &versions_of(Source::NodePgMigrate),
            PGMIGRATIONS_HISTORY,
        );
        let target = plantdb::config::Target::parse(&db.url()).unwrap();
        let scratch = Scratch {
            target: &target,
            timescale: plantdb::config::TimescalePolicy::Auto,
        };
        let adopted = adopt::adopt(
            &mut driver,
            scratch,
            &set,
            Source::NodePgMigrate,
            AdoptOptions {
                drop_foreign: true,
                ..AdoptOptions::default()
            },
        )
        .expect("adopt");
        assert_eq!(adopted.recorded.len(), 3);

        let one_transaction = RunOptions {
            single_transaction: true,
            ..RunOptions::default()
        };
        let up = Request::Up {
            to: None,
            count: None,
        };
        migrate::migrate(&mut driver, &set, up, one_transaction, &mut IgnoreProgress).expect("up");

        let first = set.migrations[0].version;
        execute(
            &db,
            &format!("UPDATE {HISTORY_TABLE} SET checksum = 'changed' WHERE version = {first}"),
        );
        let repaired = migrate::repair(&mut driver, &set).expect("repair");
        assert_eq!(repaired.len(), 1);

        let fixtures = fixture::load(&seed::built_in_sources(), now()).expect("fixtures");
        for dry_run in [true, false] {
            let options = SeedOptions {
                mode: SeedMode::Replace,
                scale: 1,
                now: now(),
                key: Some(test_key()),
                dry_run,
            };
            seed::seed(
                &mut driver,
                &set,
                &fixtures,
                &options,
                &mut seed::IgnoreProgress,
            )
            .expect("seed");
        }

        let sent = sent.lock().unwrap();
        assert!(
            sent.iter().any(|sql| sql.starts_with("insert_rows")),
            "{} the seed went through the recording driver",
            db.dialect_name()
        );
        let controls: Vec<&String> = sent
            .iter()
            .filter(|sql| controls_a_transaction(sql))
            .collect();
        assert!(
            controls.is_empty(),
            "{}: transaction control sent as SQL: {controls:#?}",
            db.dialect_name()
        );
        let own: Vec<&String> = sent
            .iter()
            .filter(|sql| sql.contains(HISTORY_TABLE) || sql.contains(ADOPTION_TABLE))
            .collect();
        assert!(
            own.is_empty(),
            "{}: plantdb's own tables named in SQL: {own:#?}",
            db.dialect_name()
        );
    });
}

#[test]
fn driver_transactions_keep_or_undo_their_work_and_never_let_go_of_the_lock() {
    each_dialect(|db| {
        let mut driver = connect(&db.url());
        let mut locked = Locked::new(driver.as_mut()).expect("lock");
        locked
            .transaction(|d| d.execute("CREATE TABLE kept (id INTEGER)"))
            .expect("a transaction that succeeds");
        let failed = locked.transaction(|d| {
            d.execute("CREATE TABLE undone (id INTEGER)")?;
            Err::<(), _>(Error::Database {
                context: "test".into(),
                message: "the work failed".into(),
                source: None,
            })
        });
        assert!(failed.is_err());
        locked
            .rehearsal(|d| d.execute("CREATE TABLE rehearsed (id INTEGER)"))
            .expect("a rehearsal");
        assert!(
            locked.begin().is_ok() && locked.begin().is_err(),
            "{}: one transaction at a time",
            db.dialect_name()
        );
        locked.rollback().expect("rollback");

        // Rolling back ended no lock: another run still has to wait.
        let mut other = connect(&db.url());
        other.set_lock_wait(LockWait {
            timeout: Some(Duration::ZERO),
            notify: Arc::new(|_| {}),
        });
        let refused = other.lock();
        assert!(
            matches!(refused, Err(Error::LockTimeout { .. })),
            "{}: {refused:?}",
            db.dialect_name()
        );
        locked.release().expect("release");

        let tables = db.schema().tables;
        assert!(tables.contains_key("kept"), "{}", db.dialect_name());
        assert!(!tables.contains_key("undone"), "{}", db.dialect_name());
        assert!(!tables.contains_key("rehearsed"), "{}", db.dialect_name());
    });
}
