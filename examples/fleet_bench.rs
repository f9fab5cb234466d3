//! Times `plantdb fleet migrate up` of the whole built-in schema on 100 empty databases of one
//! server, with `--parallel` 1, 4 and 16, and prints each time with its ratio to `--parallel 1`
//! (the one-at-a-time way a shell loop over the databases would do the same work).
//!
//! Run: `just bench-fleet` (or `cargo build --release --bins --examples && cargo run --release
//! --example fleet_bench -- [DATABASES]`). Starts its own PostgreSQL server like the tests do
//! (or uses `PLANTDB_TEST_DATABASE_URL`). The time shrinks with parallelism until the server's
//! cores (and the client's) are busy.

#[path = "../tests/it/support/postgres.rs"]
#[allow(dead_code)]
mod pg;
// The test server's TLS set-up, which `pg` refers to.
#[path = "../tests/it/support/tls_ca.rs"]
#[allow(dead_code)]
mod tls_ca;

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use common::{plantdb_binary, time};

const LEVELS: [usize; 3] = [1, 4, 16];

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("DATABASES is a number"))
        .unwrap_or(100);
    let plantdb = plantdb_binary();
    let work = tempfile::tempdir().expect("a temporary directory");
    let fleet_file = work.path().join("plantdb-fleet.yaml");
    let migrations = plantdb::migrate::MigrationSet::built_in(plantdb::db::Dialect::Postgres)
        .expect("the built-in migrations load")
        .migrations
        .len();

    // The databases are made once (CREATE DATABASE costs a checkpoint each); between levels an
    // untimed `fleet migrate down --to 0` empties them again, so every timed run does the
    // whole rollout on empty databases.
    let databases: Vec<pg::PgDatabase> = (0..count).map(|_| pg::PgDatabase::new()).collect();
    let mut text = String::from("databases:\n");
    for (i, db) in databases.iter().enumerate() {
        let _ = writeln!(text, "  site-{i:03}: {{url: \"{}\"}}", db.url);
    }
    std::fs::write(&fleet_file, text).expect("write the fleet file");
    let fleet = |parallel: usize, action: &[&str]| {
        let mut command = Command::new(&plantdb);
        command
            .current_dir(work.path())
            .env_remove("DATABASE_URL")
            .args(["fleet", "--parallel", &parallel.to_string(), "migrate"])
            .args(action)
            .arg("-q");
        command
    };
    let mut results: Vec<(usize, Duration)> = Vec::new();
    for parallel in LEVELS {
        let took = time(&mut fleet(parallel, &["up"]));
        results.push((parallel, took));
        time(&mut fleet(16, &["down", "--to", "0"]));
    }
    // The server goes away with this process; dropping 100 databases one by one first would
    // only add minutes.
    std::mem::forget(databases);

    println!(
        "fleet migrate up, {migrations} migrations on each of {count} empty PostgreSQL databases of one server ({} cores here)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<12} {:>10} {:>14} {:>10}",
        "--parallel", "time", "per database", "ratio"
    );
    let one = results[0].1.as_secs_f64();
    for (parallel, took) in &results {
        println!(
            "{parallel:<12} {:>8.2} s {:>11.1} ms {:>9.2}x   (time / time of --parallel 1)",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / count as f64,
            took.as_secs_f64() / one
        );
    }
}
