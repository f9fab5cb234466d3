//! Shared test support: a fresh database per test, on SQLite and on PostgreSQL.
// A toolbox for every test module: not each module uses each helper.
#![allow(dead_code)]

pub mod postgres;
pub mod spc_alembic;
pub mod tls_ca;

use std::path::PathBuf;

use plantdb::schema::{self, Schema};

pub use self::postgres::{
    PgDatabase, TimescaleKind, server_url_for, timescaledb_kind, tls_pki, tls_server_url_for,
};

/// A fresh SQLite database file (not created yet) in its own temporary directory, which is
/// removed on drop.
pub struct SqliteFile {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SqliteFile {
    pub fn new() -> SqliteFile {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("test.sqlite3");
        SqliteFile { dir, path }
    }

    /// `sqlite://` followed by the absolute path.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    pub fn connection(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("open the SQLite test database")
    }
}

/// A fresh database of either dialect.
pub enum TestDb {
    Postgres(PgDatabase),
    Sqlite(SqliteFile),
}

impl TestDb {
    pub fn url(&self) -> String {
        match self {
            TestDb::Postgres(db) => db.url.clone(),
            TestDb::Sqlite(file) => file.url(),
        }
    }

    /// `postgres` or `sqlite`.
    pub fn dialect_name(&self) -> &'static str {
        match self {
            TestDb::Postgres(_) => "postgres",
            TestDb::Sqlite(_) => "sqlite",
        }
    }

    /// The schema as it is now. Remember that `functions` is always empty on SQLite.
    pub fn schema(&self) -> Schema {
        let read = match self {
            TestDb::Postgres(db) => {
                schema::of_postgres(&mut db.client()).map_err(|e| e.to_string())
            }
            TestDb::Sqlite(file) => {
                schema::of_sqlite(&file.connection()).map_err(|e| e.to_string())
            }
        };
        read.unwrap_or_else(|e| panic!("cannot read the {} schema: {e}", self.dialect_name()))
    }
}

/// Runs `f` on a fresh SQLite file, then on a fresh PostgreSQL database.
pub fn each_dialect(f: impl Fn(TestDb)) {
    // Printed so a failure's captured output tells which dialect failed.
    println!("each_dialect: sqlite");
    f(TestDb::Sqlite(SqliteFile::new()));
    println!("each_dialect: postgres");
    f(TestDb::Postgres(PgDatabase::new()));
}
