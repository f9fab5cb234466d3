//! Times a full `plantdb migrate up` on a fresh PostgreSQL database and a fresh SQLite file,
//! next to the fastest way to run the same SQL: `psql -X -1 -f` of the concatenated up scripts,
//! and `sqlite3` reading them in one transaction. Both sides are whole processes (start,
//! connect, run, exit), so the ratio is what a user sees.
//!
//! Run: `just bench-migrate` (or `cargo build --release && cargo run --release --example
//! migrate_bench`). Needs `psql` and `sqlite3` on PATH; starts its own PostgreSQL server like
//! the tests do (or uses `PLANTDB_TEST_DATABASE_URL`).

#[path = "../tests/it/support/postgres.rs"]
#[allow(dead_code)]
mod pg;
// The test server's TLS set-up, which `pg` refers to.
#[path = "../tests/it/support/tls_ca.rs"]
#[allow(dead_code)]
mod tls_ca;

mod common;

use common::{ms, plantdb_binary, time};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use plantdb::db::Dialect;
use plantdb::migrate::MigrationSet;

const RUNS: usize = 31;

fn main() {
    let plantdb = plantdb_binary();
    let work = tempfile::tempdir().expect("a temporary directory");

    // Each round runs plantdb and the limit back to back, so load on the machine hits both.
    let sqlite_sql = concatenated(Dialect::Sqlite, work.path());
    let (sqlite_plantdb, sqlite_cli) = medians(RUNS, |i| {
        let ours = work.path().join(format!("p{i}.sqlite3"));
        let theirs = work.path().join(format!("s{i}.sqlite3"));
        let script = std::fs::File::open(&sqlite_sql).expect("the concatenated script");
        (
            time(Command::new(&plantdb).args([
                "--database-url",
                &format!("sqlite://{}", ours.display()),
                "migrate",
                "up",
                "-q",
            ])),
            time(
                Command::new("sqlite3")
                    .args(["-bail", &theirs.display().to_string()])
                    .stdin(script),
            ),
        )
    });

    let pg_sql = concatenated(Dialect::Postgres, work.path());
    let (pg_plantdb, pg_cli) = medians(RUNS, |_| {
        let (ours, theirs) = (pg::PgDatabase::new(), pg::PgDatabase::new());
        (
            time(Command::new(&plantdb).args(["--database-url", &ours.url, "migrate", "up", "-q"])),
            // psql at its fastest: no GSSAPI negotiation (Debian's libpq tries it first).
            time(Command::new("psql").env("PGGSSENCMODE", "disable").args([
                "-X",
                "-1",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                &pg_sql.display().to_string(),
                &theirs.url,
            ])),
        )
    });

    let count = MigrationSet::built_in(Dialect::Postgres)
        .expect("the built-in migrations")
        .migrations
        .len();
    println!("full migrate up, {count} migrations, median of {RUNS} fresh databases");
    println!(
        "{:<12} {:>12} {:>16} {:>8}",
        "database", "plantdb", "fastest", "ratio"
    );
    for (name, ours, limit, how) in [
        ("SQLite", sqlite_plantdb, sqlite_cli, "sqlite3 < all.sql"),
        ("PostgreSQL", pg_plantdb, pg_cli, "psql -X -1 -f"),
    ] {
        println!(
            "{name:<12} {:>9.1} ms {:>13.1} ms {:>7.2}x   (fastest: {how})",
            ms(ours),
            ms(limit),
            ours.as_secs_f64() / limit.as_secs_f64()
        );
    }
}

/// All up scripts of a dialect in one file, wrapped the way the fastest client runs them.
fn concatenated(dialect: Dialect, dir: &Path) -> PathBuf {
    let set = MigrationSet::built_in(dialect).expect("the built-in migrations load");
    let mut sql = String::new();
    if dialect == Dialect::Sqlite {
        // psql -1 adds its own transaction; sqlite3 needs it spelled out.
        sql.push_str("PRAGMA foreign_keys = ON;\nBEGIN;\n");
    }
    for migration in &set.migrations {
        sql.push_str(&migration.up.sql);
        sql.push('\n');
    }
    if dialect == Dialect::Sqlite {
        sql.push_str("COMMIT;\n");
    }
    let path = dir.join(format!("all-{}.sql", dialect.dir_name()));
    std::fs::write(&path, sql).expect("write the concatenated script");
    path
}

/// Medians of both sides over `runs` rounds, after one warm-up round (page cache, the
/// server's catalog caches).
fn medians(
    runs: usize,
    mut round: impl FnMut(usize) -> (Duration, Duration),
) -> (Duration, Duration) {
    round(runs);
    let (mut ours, mut theirs): (Vec<Duration>, Vec<Duration>) = (0..runs).map(&mut round).unzip();
    ours.sort();
    theirs.sort();
    (ours[runs / 2], theirs[runs / 2])
}
