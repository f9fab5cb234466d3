//! Smoke tests of the test support itself, and of `plantdb::schema` across dialects.

use std::sync::Mutex;

use plantdb::schema;
use postgres::error::SqlState;
use postgres::{Client, NoTls};

use crate::support::postgres::{TEST_PASSWORD, TEST_ROLE};
use crate::support::{
    PgDatabase, SqliteFile, TestDb, TimescaleKind, each_dialect, server_url_for, timescaledb_kind,
};

fn current(client: &mut Client) -> (String, String) {
    let row = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .expect("query");
    (row.get(0), row.get(1))
}

#[test]
fn postgres_is_reachable_over_tcp_with_the_password_and_over_the_socket() {
    let db = PgDatabase::new();
    assert!(db.url.contains("127.0.0.1:"), "a TCP URL: {}", db.url);
    assert!(db.url.contains(TEST_PASSWORD));
    assert_eq!(
        current(&mut db.client()),
        (TEST_ROLE.to_owned(), db.name.clone())
    );

    let socket_url = db.socket_url();
    let mut over_socket = Client::connect(&socket_url, NoTls).expect("connect over the socket");
    assert_eq!(current(&mut over_socket).1, db.name);
    let address = over_socket
        .query_one("SELECT inet_client_addr() IS NULL", &[])
        .expect("query");
    assert!(address.get::<_, bool>(0), "{socket_url} is a unix socket");
}

#[test]
fn postgres_rejects_a_wrong_password() {
    let db = PgDatabase::new();
    let mut url = url::Url::parse(&db.url).expect("url");
    url.set_password(Some("not-the-password"))
        .expect("password");
    let Err(error) = Client::connect(url.as_str(), NoTls) else {
        panic!("a wrong password must fail");
    };
    assert_eq!(error.code(), Some(&SqlState::INVALID_PASSWORD), "{error}");
}

#[test]
fn postgres_databases_are_fresh_and_distinct() {
    let count_tables = |db: &PgDatabase| -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .expect("count")
            .get(0)
    };
    let a = PgDatabase::new();
    let b = PgDatabase::new();
    assert_ne!(a.name, b.name);
    assert_eq!((count_tables(&a), count_tables(&b)), (0, 0));
    a.client()
        .batch_execute("CREATE TABLE only_in_a (id integer)")
        .expect("create");
    assert_eq!((count_tables(&a), count_tables(&b)), (1, 0));
}

#[test]
fn postgres_database_is_dropped_on_drop() {
    let db = PgDatabase::new();
    let name = db.name.clone();
    // A connection left open must not keep the database alive.
    let _leaked = db.client();
    drop(db);
    let mut admin = Client::connect(&server_url_for("postgres"), NoTls).expect("connect");
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .expect("query")
        .get(0);
    assert_eq!(left, 0, "database `{name}` still exists");
}

#[test]
fn test_timescaledb_records_hypertables() {
    // Real or stand-in, the same statements and catalog views work.
    println!("TimescaleDB of the tests: {:?}", timescaledb_kind());
    let db = PgDatabase::with_timescaledb();
    let mut client = db.client();
    client
        .batch_execute(
            "CREATE EXTENSION timescaledb;
             CREATE TABLE t (time timestamptz NOT NULL, value double precision);
             SELECT create_hypertable('t', 'time');",
        )
        .expect("create a hypertable");
    let hypertables = |client: &mut Client| -> Vec<(String, String, String)> {
        client
            .query(
                "SELECT h.hypertable_schema::text, h.hypertable_name::text, d.column_name::text
                 FROM timescaledb_information.hypertables h
                 JOIN timescaledb_information.dimensions d
                   USING (hypertable_schema, hypertable_name)",
                &[],
            )
            .expect("query")
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect()
    };
    let version: String = client
        .query_one(
            "SELECT extversion::text FROM pg_extension WHERE extname = 'timescaledb'",
            &[],
        )
        .expect("query")
        .get(0);
    assert_eq!(
        version.contains("standin"),
        timescaledb_kind() == TimescaleKind::StandIn,
        "{version}"
    );
    let expected = vec![("public".to_owned(), "t".to_owned(), "time".to_owned())];
    assert_eq!(hypertables(&mut client), expected);

    let again = client.batch_execute("SELECT create_hypertable('t', 'time')");
    assert!(again.is_err(), "a second call without if_not_exists fails");
    client
        .batch_execute("SELECT create_hypertable('t', 'time', if_not_exists => true)")
        .expect("if_not_exists");
    assert_eq!(hypertables(&mut client), expected);

    // The extension's own function is not a user function of the schema.
    let schema = schema::of_postgres(&mut client).expect("schema");
    assert!(schema.functions.is_empty(), "{:?}", schema.functions);
}

#[test]
fn the_test_server_runs_from_its_own_installation_in_its_temporary_directory() {
    // Its share directory (where extensions are found) is the private one beside the data
    // directory, so adding the TimescaleDB stand-in never touches the system's.
    let db = PgDatabase::new();
    let mut client = db.client();
    let setting = |client: &mut Client, sql: &str| -> String {
        client.query_one(sql, &[]).expect("query").get(0)
    };
    let sharedir = setting(
        &mut client,
        "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'",
    );
    let data_directory = setting(&mut client, "SHOW data_directory");
    let base = std::path::Path::new(&data_directory)
        .parent()
        .expect("the data directory is in the temporary directory");
    assert!(
        std::path::Path::new(&sharedir).starts_with(base),
        "SHAREDIR {sharedir} is outside {}",
        base.display()
    );
    let available: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'",
            &[],
        )
        .expect("query")
        .get(0);
    assert_eq!(available, 1, "the timescaledb extension is offered");
}

const PG_DESIGN: &str = "
    CREATE TABLE parent (
        id serial PRIMARY KEY,
        code varchar(10) NOT NULL UNIQUE,
        is_active boolean NOT NULL DEFAULT true,
        settings jsonb NOT NULL DEFAULT '{}',
        port integer NOT NULL DEFAULT 1883,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE child (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        parent_id integer NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
        name varchar(255) NOT NULL,
        timezone varchar(100) NOT NULL DEFAULT 'UTC',
        score double precision,
        deleted_at timestamptz,
        UNIQUE (parent_id, name)
    );
    CREATE INDEX idx_child_live ON child (deleted_at) WHERE deleted_at IS NULL;
    CREATE INDEX idx_child_recent ON child (parent_id, deleted_at DESC);
    CREATE UNIQUE INDEX idx_child_name_live ON child (name) WHERE deleted_at IS NULL;
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER child_touch BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
";

/// The same design as [`PG_DESIGN`], spelled for SQLite; `{score}` and `{recent}` let a test
/// change it.
const SQLITE_DESIGN: &str = "
    CREATE TABLE parent (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
        port INTEGER NOT NULL DEFAULT 1883,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE child (
        id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(16)))),
        parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        score {score},
        deleted_at TEXT,
        UNIQUE (parent_id, name)
    );
    CREATE INDEX idx_child_live ON child (deleted_at) WHERE deleted_at IS NULL;
    CREATE INDEX idx_child_recent ON child ({recent});
    CREATE UNIQUE INDEX idx_child_name_live ON child (name) WHERE deleted_at IS NULL;
    CREATE TRIGGER child_touch AFTER UPDATE ON child BEGIN SELECT 1; END;
";

fn both_schemas(score: &str, recent: &str) -> (schema::Schema, schema::Schema) {
    let pg = PgDatabase::new();
    let mut client = pg.client();
    client
        .batch_execute(PG_DESIGN)
        .expect("create on PostgreSQL");
    let mut pg_schema = schema::of_postgres(&mut client).expect("PostgreSQL schema");
    assert_eq!(
        pg_schema.functions,
        ["touch".to_owned()].into(),
        "PostgreSQL reports its trigger function"
    );
    // SQLite has no functions: a cross-dialect comparison leaves them out.
    pg_schema.functions.clear();

    let file = SqliteFile::new();
    let ddl = SQLITE_DESIGN
        .replace("{score}", score)
        .replace("{recent}", recent);
    file.connection()
        .execute_batch(&ddl)
        .expect("create on SQLite");
    let sqlite_schema = schema::of_sqlite(&file.connection()).expect("SQLite schema");
    (pg_schema, sqlite_schema)
}

#[test]
fn schema_of_the_same_design_is_equal_on_both_dialects() {
    let (pg, sqlite) = both_schemas("REAL", "parent_id, deleted_at DESC");
    assert_eq!(pg.diff(&sqlite), Vec::<String>::new());
    assert_eq!(pg, sqlite);
    assert_eq!(pg.tables["child"].uniques.len(), 1);
    assert_eq!(pg.tables["child"].indexes.len(), 3);
    assert_eq!(pg.tables["child"].foreign_keys.len(), 1);
}

#[test]
fn schema_diff_names_what_differs_between_dialects() {
    let (pg, sqlite) = both_schemas("REAL NOT NULL", "parent_id, deleted_at");
    assert_eq!(
        pg.diff(&sqlite),
        [
            "table `child`: column `score`: not null differs (left false, right true)",
            "table `child`: index `idx_child_recent`: columns differ \
             (left (parent_id, deleted_at DESC), right (parent_id, deleted_at))",
        ]
    );
    assert_ne!(pg, sqlite);
}

#[test]
fn each_dialect_runs_on_sqlite_then_postgres() {
    let seen = Mutex::new(Vec::new());
    each_dialect(|db: TestDb| {
        assert!(db.schema().tables.is_empty(), "a fresh database");
        let url = db.url();
        let prefix = match db {
            TestDb::Postgres(_) => "postgres://",
            TestDb::Sqlite(_) => "sqlite://",
        };
        assert!(url.starts_with(prefix), "{url}");
        seen.lock().expect("lock").push(db.dialect_name());
    });
    assert_eq!(*seen.lock().expect("lock"), ["sqlite", "postgres"]);
}
