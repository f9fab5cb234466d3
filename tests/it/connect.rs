//! Connecting never hangs: every phase is bounded by the connect timeout. And the server
//! sees who is connected (`application_name`).

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plantdb::config::Target;
use plantdb::db::postgres::open_client;
use predicates::prelude::*;

use crate::adopt::plantdb;
use crate::support::PgDatabase;

/// A "server" on 127.0.0.1 that accepts connections and never says a word. The accepted
/// sockets are kept open for as long as the value lives, so the client sees no end of file.
struct SilentServer {
    port: u16,
    _accepted: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentServer {
    fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let keep = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        SilentServer {
            port,
            _accepted: accepted,
        }
    }

    fn url(&self, options: &str) -> String {
        format!(
            "postgres://u:pw@127.0.0.1:{}/db?connect_timeout=2{options}",
            self.port
        )
    }
}

/// Only a liveness limit, so a regression fails instead of hanging the suite; the point is
/// the exit code and the message.
const WALL_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_server_that_never_answers_times_out_in_every_sslmode() {
    let server = SilentServer::start();
    let dir = tempfile::tempdir().unwrap();
    for options in [
        "",
        "&sslmode=prefer",
        "&sslmode=disable",
        "&sslmode=require",
    ] {
        let url = server.url(options);
        plantdb(dir.path())
            .timeout(WALL_LIMIT)
            .args(["--database-url", &url, "status"])
            .assert()
            .code(5)
            .stderr(predicate::str::contains(format!(
                "cannot connect to PostgreSQL at `127.0.0.1:{}`",
                server.port
            )))
            .stderr(predicate::str::contains(
                "timed out after 2 s (connect_timeout)",
            ))
            .stderr(predicate::str::contains("pw@").not());
    }
}

#[test]
fn wait_gives_up_on_a_server_that_never_answers() {
    let server = SilentServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("");
    plantdb(dir.path())
        .timeout(WALL_LIMIT)
        .args([
            "--database-url",
            &url,
            "--wait",
            "--wait-timeout",
            "3",
            "status",
        ])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(format!(
            "gave up waiting for PostgreSQL at `127.0.0.1:{}` after 3 s",
            server.port
        )))
        .stderr(predicate::str::contains("timed out"));
}

fn application_name(url: &str) -> String {
    let Ok(Target::Postgres(target)) = Target::parse(url) else {
        panic!("not a PostgreSQL URL: {url}");
    };
    let mut client = open_client(&target, None).expect("connect");
    client
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_activity")
        .get(0)
}

#[test]
fn the_server_sees_plantdb_unless_the_url_names_the_application() {
    let pg = PgDatabase::new();
    assert_eq!(application_name(&pg.url), "plantdb");
    assert_eq!(
        application_name(&format!("{}?application_name=nightly-deploy", pg.url)),
        "nightly-deploy"
    );
}
