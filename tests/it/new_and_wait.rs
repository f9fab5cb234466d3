//! `migrate new`, `--wait`, and the shell integration (completions, man page).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use plantdb::db::Dialect;
use plantdb::migrate::MigrationSet;
use predicates::prelude::*;

use crate::adopt::plantdb;
use crate::support::PgDatabase;

fn files_in(dir: &Path) -> usize {
    ["postgres", "sqlite"]
        .iter()
        .map(|d| std::fs::read_dir(dir.join(d)).map_or(0, |entries| entries.count()))
        .sum()
}

#[test]
fn migrate_new_creates_four_files_with_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    // An existing migration far in the future: the new one must come after it.
    std::fs::create_dir_all(migrations.join("sqlite")).unwrap();
    std::fs::write(
        migrations.join("sqlite/V29990101000000__future.sql"),
        "SELECT 1;",
    )
    .unwrap();
    plantdb(dir.path())
        .args(["migrate", "new", "add_widgets"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "created migration 29990101000001 add_widgets",
        ));
    assert_eq!(files_in(&migrations), 5);
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let set = MigrationSet::from_dir(&migrations, dialect).unwrap();
        let new = set.get(29990101000001).expect("the new migration");
        assert_eq!(new.name, "add_widgets");
        assert!(new.up.sql.contains("same schema as"), "{}", new.up.sql);
        assert!(new.down.as_ref().unwrap().sql.contains("undo exactly"));
    }

    // A second one without --migrations elsewhere goes into ./migrations too, later still.
    plantdb(dir.path())
        .args(["--json", "migrate", "new", "add_gadgets"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"version\": 29990101000002"));
    assert_eq!(files_in(&migrations), 9);
}

#[test]
fn migrate_new_refuses_bad_and_taken_names_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("m");
    plantdb(dir.path())
        .args(["--migrations", "m", "migrate", "new", "add_widgets"])
        .assert()
        .success();
    assert_eq!(files_in(&migrations), 4);
    for bad in [
        "AddWidgets",
        "add-widgets",
        "add__widgets",
        "9lives",
        "trailing_",
    ] {
        plantdb(dir.path())
            .args(["--migrations", "m", "migrate", "new", bad])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!("`{bad}`")))
            .stderr(predicate::str::contains("snake_case"));
    }
    plantdb(dir.path())
        .args(["--migrations", "m", "migrate", "new", "add_widgets"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("taken"))
        .stderr(predicate::str::contains("__add_widgets.sql"));
    assert_eq!(files_in(&migrations), 4);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn wait_gives_up_after_the_timeout_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("postgres://someone:pa55word-w@127.0.0.1:{port}/plant");
    let started = Instant::now();
    plantdb(dir.path())
        .args([
            "--database-url",
            &url,
            "--wait",
            "--wait-timeout",
            "2",
            "status",
        ])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(format!(
            "waiting up to 2 s for PostgreSQL at 127.0.0.1:{port}"
        )))
        .stderr(predicate::str::contains(format!(
            "gave up waiting for PostgreSQL at `127.0.0.1:{port}` after 2 s"
        )))
        .stderr(predicate::str::contains("pa55word-w").not());
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn wait_does_not_retry_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::new();
    let mut url = url::Url::parse(&pg.url).unwrap();
    url.set_password(Some("not-the-password")).unwrap();
    let started = Instant::now();
    plantdb(dir.path())
        .args([
            "--database-url",
            url.as_str(),
            "--wait",
            "--wait-timeout",
            "30",
            "status",
        ])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("rejected user"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Forwards one accepted connection to `to`, both ways, until either side closes.
fn forward(client: TcpStream, to: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
        return;
    };
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn wait_succeeds_once_the_server_starts_listening() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::new();
    let server_port = url::Url::parse(&pg.url).unwrap().port().unwrap();
    // The "server" appears 1.5 s after plantdb starts: a forwarder to the test server on a port
    // that refuses connections until then.
    let port = free_port();
    let mut url = url::Url::parse(&pg.url).unwrap();
    url.set_port(Some(port)).unwrap();
    let appear = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        for client in listener.incoming().take(4).flatten() {
            forward(client, server_port);
        }
    });
    let started = Instant::now();
    plantdb(dir.path())
        .args([
            "--database-url",
            url.as_str(),
            "--wait",
            "--wait-timeout",
            "30",
        ])
        .args(["migrate", "up"])
        .assert()
        .success()
        .stderr(predicate::str::contains("waiting up to 30 s"))
        .stderr(predicate::str::contains("answered after"));
    assert!(started.elapsed() >= Duration::from_millis(1400));
    drop(appear);
    // It really migrated the database behind the forwarder.
    let applied: i64 = pg
        .client()
        .query_one("SELECT count(*) FROM plantdb_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, crate::migrate::MIGRATIONS as i64);
}

#[test]
fn wait_on_a_running_server_connects_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::new();
    plantdb(dir.path())
        .args(["--database-url", &pg.url, "--wait", "status"])
        .assert()
        .success()
        .stderr(predicate::str::contains("waiting").not());
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let dir = tempfile::tempdir().unwrap();
    // No database is needed, not even a valid URL.
    plantdb(dir.path())
        .env("DATABASE_URL", "mysql://nope")
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("plantdb"))
        .stdout(predicate::str::contains("adopt"));
    plantdb(dir.path())
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("#compdef plantdb"));
    plantdb(dir.path())
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH plantdb"))
        .stdout(predicate::str::contains("verify"));
}

#[test]
fn wait_counts_a_missing_database_as_an_answer_so_reset_can_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("plantdb_wait_reset_{}", std::process::id());
    let url = crate::support::server_url_for(&name);
    let started = Instant::now();
    plantdb(dir.path())
        .args(["--database-url", &url, "--wait", "--wait-timeout", "30"])
        .args(["reset", "--no-seed", "--yes"])
        .assert()
        .success();
    assert!(started.elapsed() < Duration::from_secs(25));
    let mut admin =
        postgres::Client::connect(&crate::support::server_url_for("postgres"), postgres::NoTls)
            .unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
}
