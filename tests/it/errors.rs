//! Errors keep the driver's error they come from, reachable through `source()`, and choose
//! their hint from what went wrong rather than from the words of the message.

use std::error::Error as _;

use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::{self, Access};
use plantdb::error::{AuthFailure, ConnectFailure, DbCause, Error};

use crate::migrate::connect;
use crate::support::{PgDatabase, TestDb, each_dialect};

fn connect_error(url: &str) -> Error {
    let target = Target::parse(url).expect("a valid test URL");
    match db::connect(&target, Access::ReadWrite, TimescalePolicy::Auto) {
        Ok(_) => panic!("connected to {url}"),
        Err(e) => e,
    }
}

#[test]
fn a_failed_statement_keeps_the_drivers_error_as_its_source() {
    each_dialect(|db| {
        let mut driver = connect(&db.url());
        let err = driver.execute("SELEC 1").unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        let cause = err
            .source()
            .and_then(|cause| cause.downcast_ref::<DbCause>())
            .unwrap_or_else(|| panic!("no driver error under {err:?}"));
        match (&db, cause) {
            (TestDb::Postgres(_), DbCause::Postgres(e)) => assert_eq!(
                e.code(),
                Some(&postgres::error::SqlState::SYNTAX_ERROR),
                "{e:?}"
            ),
            (TestDb::Sqlite(_), DbCause::Sqlite(e)) => {
                assert!(
                    matches!(**e, rusqlite::Error::SqlInputError { .. }),
                    "{e:?}"
                )
            }
            (_, other) => panic!("the wrong driver's error: {other:?}"),
        }
    });
}

#[test]
fn a_sqlite_file_that_cannot_be_opened_keeps_sqlites_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/no/such/dir/app.db", dir.path().display());
    let err = connect_error(&url);
    assert!(matches!(err, Error::SqliteOpen { .. }), "{err:?}");
    let cause = err
        .source()
        .and_then(|cause| cause.downcast_ref::<rusqlite::Error>())
        .unwrap_or_else(|| panic!("no SQLite error under {err:?}"));
    assert_eq!(
        cause.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen),
        "{cause:?}"
    );
}

#[test]
fn a_refused_connection_is_unreachable_and_keeps_the_io_error() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = connect_error(&format!(
        "postgres://u:pw@127.0.0.1:{port}/db?sslmode=disable"
    ));
    assert!(
        matches!(
            err,
            Error::Connect {
                kind: ConnectFailure::Unreachable,
                ..
            }
        ),
        "{err:?}"
    );
    let mut cause = err.source();
    let mut refused = false;
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        cause = inner.source();
    }
    assert!(refused, "no `connection refused` under {err:?}");
    assert!(
        err.hint()
            .unwrap_or_default()
            .contains("is the server running"),
        "{err:?}"
    );
}

/// A user called `certificate` with a wrong password is told about the password, not sent
/// looking for a client certificate because of a word in the server's message.
#[test]
fn a_wrong_password_gets_the_password_hint_whatever_the_user_is_called() {
    let db = PgDatabase::new();
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username("certificate").unwrap();
    url.set_password(Some("wrong")).unwrap();
    let err = connect_error(url.as_str());
    assert!(
        matches!(
            err,
            Error::Auth {
                kind: AuthFailure::Credentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(
        err.hint().as_deref(),
        Some("check the user and password in the URL"),
        "{err:?}"
    );
    let cause = err
        .source()
        .and_then(|cause| cause.downcast_ref::<DbCause>());
    assert!(
        matches!(cause, Some(DbCause::Postgres(e)) if e.code() == Some(&postgres::error::SqlState::INVALID_PASSWORD)),
        "{err:?}"
    );
}

/// Files that cannot be read keep the I/O error, so a caller can tell a missing file from
/// one it may not read without parsing the message.
#[test]
fn unreadable_migrations_seed_files_and_env_files_keep_the_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let io_kind = |err: &Error| {
        err.source()
            .and_then(|cause| cause.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
    };

    let err = plantdb::migrate::MigrationSet::from_dir(&missing, db::Dialect::Sqlite)
        .expect_err("a missing migrations directory is an error");
    assert!(matches!(err, Error::MigrationDir { .. }), "{err:?}");
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::NotFound), "{err:?}");

    let err = plantdb::seed::sources(&[missing.join("plants.yaml")]).unwrap_err();
    assert!(matches!(err, Error::FixtureFile { .. }), "{err:?}");
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::NotFound), "{err:?}");

    // A `.env` that is a directory: it exists, and reading it fails.
    std::fs::create_dir(dir.path().join(".env")).unwrap();
    let err = plantdb::config::load_dotenv(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(
        err.source()
            .is_some_and(|cause| cause.is::<dotenvy::Error>()),
        "{err:?}"
    );
}

/// A row the database refuses is reported at its place in the fixture file, and the
/// database's error stays under it.
#[test]
fn a_fixture_row_the_database_refuses_keeps_the_databases_error() {
    each_dialect(|db| {
        crate::migrate::up_all(&db.url());
        let mut sources = plantdb::seed::built_in_sources();
        sources.push((
            "dup.yaml".into(),
            "gateways:\n  dup: {factory: austin, gateway_id: GW-AUS-001, name: Dup, url: ws://x, email: a@b, password: p}\n".into(),
        ));
        let err = crate::seed::seed_sources(&db.url(), &sources, plantdb::seed::SeedMode::Replace)
            .expect_err("a unique violation");
        assert!(matches!(err, Error::Fixture { .. }), "{err:?}");
        let cause = err
            .source()
            .and_then(|cause| cause.downcast_ref::<DbCause>());
        match (&db, cause) {
            (TestDb::Postgres(_), Some(DbCause::Postgres(e))) => assert_eq!(
                e.code(),
                Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
                "{e:?}"
            ),
            (TestDb::Sqlite(_), Some(DbCause::Sqlite(e))) => assert_eq!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation),
                "{e:?}"
            ),
            (_, other) => panic!("not the database's error: {other:?} under {err:?}"),
        }
    });
}

#[test]
fn a_yaml_syntax_error_keeps_the_parsers_error() {
    let sources = [("t.yaml".to_string(), "plants:\n  fern: [\n".to_string())];
    let err = plantdb::seed::fixture::load(&sources, crate::seed::now()).unwrap_err();
    assert!(
        err.to_string().starts_with("t.yaml:") && err.to_string().contains("YAML syntax error"),
        "{err}"
    );
    assert!(
        err.source()
            .is_some_and(|cause| cause.is::<marked_yaml::LoadError>()),
        "{err:?}"
    );
}

/// The first error under `err` that is a `T`, however deep.
fn cause_of<T: std::error::Error + 'static>(err: &Error) -> Option<&T> {
    let mut cause = err.source();
    while let Some(inner) = cause {
        if let Some(found) = inner.downcast_ref::<T>() {
            return Some(found);
        }
        cause = inner.source();
    }
    None
}

/// A migration the database refuses keeps the database's own error under the message that
/// names the file and line.
#[test]
fn a_failed_migration_keeps_the_drivers_error() {
    each_dialect(|db| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("V1__broken.sql"),
            "CREATE TABLE first (id INTEGER PRIMARY KEY);\nCREATE TABLE second (id INTEGER PRIMARY KEY,, oops);\n",
        )
        .unwrap();
        let mut driver = connect(&db.url());
        let set = plantdb::migrate::MigrationSet::from_dir(dir.path(), driver.dialect()).unwrap();
        let up = plantdb::migrate::Request::Up {
            to: None,
            count: None,
        };
        let err = plantdb::migrate::migrate(
            driver.as_mut(),
            &set,
            up,
            plantdb::migrate::RunOptions::default(),
            &mut plantdb::migrate::IgnoreProgress,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::MigrationFailed { version: 1, .. }),
            "{err:?}"
        );
        match (&db, cause_of::<DbCause>(&err)) {
            (TestDb::Postgres(_), Some(DbCause::Postgres(e))) => assert_eq!(
                e.code(),
                Some(&postgres::error::SqlState::SYNTAX_ERROR),
                "{e:?}"
            ),
            (TestDb::Sqlite(_), Some(DbCause::Sqlite(e))) => assert!(
                matches!(**e, rusqlite::Error::SqlInputError { .. }),
                "{e:?}"
            ),
            (_, other) => panic!("not the driver's error: {other:?} under {err:?}"),
        }
    });
}

/// A value PostgreSQL's type cannot hold is refused before it is sent, naming the parameter,
/// and keeps the encoder's error.
#[test]
fn a_value_that_does_not_fit_its_parameter_keeps_the_encoders_error() {
    let pg = PgDatabase::new();
    let mut driver = connect(&pg.url);
    let err = driver
        .query(
            "SELECT $1::int4",
            &[plantdb::db::value::Value::Int(3_000_000_000)],
            &[plantdb::seed::catalog::Kind::Int],
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Bind { index: 1, pg_type, .. } if pg_type == "int4"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("parameter $1 does not fit PostgreSQL type int4: "),
        "{err}"
    );
    assert!(
        cause_of::<std::num::TryFromIntError>(&err).is_some(),
        "no encoder error under {err:?}"
    );
}
