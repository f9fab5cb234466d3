//! How many round trips the CLI makes to PostgreSQL. A relay between plantdb and the test
//! server counts the server's ReadyForQuery messages: the server sends one when start-up is
//! done and one at the end of every simple query or extended-protocol Sync, so each one past
//! the first is a round trip plantdb waited for.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;

use crate::migrate::up_all;
use crate::support::PgDatabase;
use plantdb::db::Dialect;
use plantdb::migrate::MigrationSet;

/// Relays every connection made to its port to the test server, counting ReadyForQuery.
struct CountingRelay {
    /// The database URL through the relay, without TLS so the messages can be read.
    url: String,
    ready_for_query: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl CountingRelay {
    fn new(db: &PgDatabase) -> CountingRelay {
        let mut target = url::Url::parse(&db.url).expect("the test URL parses");
        let server = format!(
            "{}:{}",
            target.host_str().expect("a TCP test URL"),
            target.port().expect("a port")
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port for the relay");
        target
            .set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        target.query_pairs_mut().append_pair("sslmode", "disable");
        let ready_for_query = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (ready, count) = (ready_for_query.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(&server).expect("the test server");
                relay(client, server, ready.clone());
            }
        });
        CountingRelay {
            url: target.to_string(),
            ready_for_query,
            connections,
        }
    }

    /// Round trips after start-up, over every connection so far.
    fn round_trips(&self) -> usize {
        self.ready_for_query.load(Ordering::SeqCst) - self.connections.load(Ordering::SeqCst)
    }
}

/// Copies both ways; the server's side is read message by message (type byte, length).
fn relay(client: TcpStream, server: TcpStream, ready: Arc<AtomicUsize>) {
    let (mut client_in, mut server_out) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    // The server speaks in framed messages from its first byte when TLS is off.
    let mut header = [0u8; 5];
    while server_in.read_exact(&mut header).is_ok() {
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        if server_in.read_exact(&mut body).is_err() {
            break;
        }
        if header[0] == b'Z' {
            ready.fetch_add(1, Ordering::SeqCst);
        }
        if client_out.write_all(&header).is_err() || client_out.write_all(&body).is_err() {
            break;
        }
    }
    let _ = client_out.shutdown(Shutdown::Both);
}

fn plantdb(url: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("plantdb")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PLANTDB_TIMESCALE")
        .timeout(std::time::Duration::from_secs(60))
        .args(["--database-url", url])
        .args(args)
        .assert()
        .success();
}

#[test]
fn status_of_an_up_to_date_database_is_at_most_one_round_trip_over_reading_the_history() {
    let db = PgDatabase::new();
    up_all(&db.url);
    let relay = CountingRelay::new(&db);
    plantdb(&relay.url, &["status", "--check"]);
    // The least is one query reading the history; one more sets up the session.
    assert_eq!(relay.connections.load(Ordering::SeqCst), 1);
    assert!(
        relay.round_trips() <= 2,
        "status made {} round trips",
        relay.round_trips()
    );
}

#[test]
fn migrate_up_costs_one_round_trip_per_migration_plus_a_few_for_the_run() {
    let db = PgDatabase::new();
    let steps = MigrationSet::built_in(Dialect::Postgres)
        .expect("the built-in set loads")
        .migrations
        .len();
    let relay = CountingRelay::new(&db);
    plantdb(&relay.url, &["migrate", "up", "-q"]);
    // Session set-up, lock, history, adoption gaps, history table, unlock: six; and one for
    // each migration, its script and history row together.
    assert_eq!(relay.connections.load(Ordering::SeqCst), 1);
    assert!(
        relay.round_trips() <= steps + 6,
        "migrate up of {steps} migrations made {} round trips",
        relay.round_trips()
    );
}

/// Round trips of reading the seed catalog over one connection, and of a `plantdb seed` of
/// one settings row that is stored already (the same work every time).
fn catalog_and_seed_round_trips(db: &PgDatabase, fixture: &std::path::Path) -> (usize, usize) {
    let relay = CountingRelay::new(db);
    let mut driver = crate::migrate::connect(&relay.url);
    let before = relay.round_trips();
    plantdb::seed::live_catalog::read(driver.as_mut()).expect("the catalog reads");
    let catalog = relay.round_trips() - before;
    drop(driver);
    let relay = CountingRelay::new(db);
    plantdb(
        &relay.url,
        &["seed", "--mode", "upsert", fixture.to_str().unwrap()],
    );
    (catalog, relay.round_trips())
}

#[test]
fn seed_reads_the_live_catalog_in_the_same_round_trips_however_many_tables_there_are() {
    let db = PgDatabase::new();
    up_all(&db.url);
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("one.yaml");
    std::fs::write(&fixture, "settings:\n  units: {value: metric}\n").unwrap();
    plantdb(
        &db.url,
        &["seed", "--mode", "upsert", fixture.to_str().unwrap()],
    );
    let (catalog, seed) = catalog_and_seed_round_trips(&db, &fixture);
    let extra: String = (0..40)
        .map(|i| {
            format!(
                "CREATE TABLE extra_{i} (id SERIAL PRIMARY KEY, code TEXT UNIQUE, \
                 parent_id INTEGER REFERENCES extra_{i} (id));"
            )
        })
        .collect();
    db.client().batch_execute(&extra).expect("extra tables");
    let (catalog_extra, seed_extra) = catalog_and_seed_round_trips(&db, &fixture);
    eprintln!(
        "catalog read: {catalog} round trips ({catalog_extra} with 40 more tables); \
         seed of one stored row: {seed} ({seed_extra})"
    );
    // One query per kind of information, whatever the number of tables.
    assert_eq!(catalog, catalog_extra);
    assert_eq!(seed, seed_extra);
    assert!(catalog <= 10, "the catalog read made {catalog} round trips");
}
