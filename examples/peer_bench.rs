//! Times a full `migrate up` of the built-in PostgreSQL schema by plantdb and by its peers,
//! each as a whole process (start, connect, run, exit) on a fresh database of one throwaway
//! server, in interleaved rounds:
//!
//! - `plantdb migrate up`;
//! - refinery_cli, sqlx-cli and dbmate running the same up scripts, each from its own
//!   directory layout (generated into a temporary directory);
//! - `psql -X -1 -f` of the concatenated scripts: one process, one transaction, no
//!   bookkeeping, which is the limit;
//! - for reference, `psql -X -1 -c` of the same text, which sends it as one message where
//!   `-f` sends each statement on its own and waits for its answer.
//!
//! It prints each tool's median and its ratio to psql.
//!
//! Run: `just bench-peers` (installs the peers with `scripts/bench-peers-setup.sh` first), or
//! `cargo run --release --example peer_bench -- [ROUNDS]` (default 21). The peers are looked
//! for in `PLANTDB_PEERS_DIR` (default `.peers/bin` in the repository); one that is missing is
//! left out, saying so. Needs `psql` on PATH; starts its own PostgreSQL server like the tests do
//! (or uses `PLANTDB_TEST_DATABASE_URL`).

#[path = "../tests/it/support/postgres.rs"]
#[allow(dead_code)]
mod pg;
// The test server's TLS set-up, which `pg` refers to.
#[path = "../tests/it/support/tls_ca.rs"]
#[allow(dead_code)]
mod tls_ca;

mod common;

use common::{median, ms, plantdb_binary, time};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use plantdb::db::Dialect;
use plantdb::migrate::MigrationSet;
use plantdb::migrate::source::Migration;

const DEFAULT_ROUNDS: usize = 21;

/// One contender: how to run it on a fresh database's URL.
struct Tool {
    name: &'static str,
    command: Box<dyn Fn(&str) -> Command>,
    times: Vec<Duration>,
}

fn main() {
    let rounds = match std::env::args().nth(1) {
        Some(n) => n.parse().expect("ROUNDS is a number"),
        None => DEFAULT_ROUNDS,
    };
    let plantdb = plantdb_binary();
    let peers = peers_dir();
    let work = tempfile::tempdir().expect("a temporary directory");
    let set = MigrationSet::built_in(Dialect::Postgres).expect("the built-in migrations load");

    let mut tools = vec![
        Tool {
            name: "psql -X -1 -f",
            command: psql(&concatenated(&set, work.path())),
            times: Vec::new(),
        },
        // The same SQL as one simple-query message: what psql's statement-by-statement
        // `-f` costs in round trips shows as the gap between the two.
        Tool {
            name: "psql -X -1 -c",
            command: psql_one_message(&concatenated(&set, work.path())),
            times: Vec::new(),
        },
        Tool {
            name: "plantdb",
            command: Box::new(move |url| {
                let mut command = Command::new(&plantdb);
                command.args(["--database-url", url, "migrate", "up", "-q"]);
                command
            }),
            times: Vec::new(),
        },
    ];
    for (name, binary, layout) in [
        (
            "refinery",
            "refinery",
            refinery_layout as fn(&MigrationSet, &Path) -> PathBuf,
        ),
        ("sqlx", "sqlx", sqlx_layout),
        ("dbmate", "dbmate", dbmate_layout),
    ] {
        let binary = peers.join(binary);
        if !binary.exists() {
            eprintln!(
                "{name}: not installed ({} is missing; run scripts/bench-peers-setup.sh)",
                binary.display()
            );
            continue;
        }
        let dir = layout(&set, &work.path().join(name));
        let command = match name {
            "refinery" => refinery(binary, dir),
            "sqlx" => sqlx(binary, dir),
            _ => dbmate(binary, dir),
        };
        tools.push(Tool {
            name,
            command,
            times: Vec::new(),
        });
    }

    // One warm-up round (page cache, the server's catalog caches), then the measured ones.
    // Each round runs every tool once, starting one tool later than the round before, so
    // that no tool always runs first or right after the same neighbour.
    for round in 0..=rounds {
        let count = tools.len();
        for turn in 0..count {
            let tool = &mut tools[(round + turn) % count];
            let database = pg::PgDatabase::new();
            let elapsed = time(&mut (tool.command)(&database.url));
            assert_schema_built(tool.name, &database.url);
            if round > 0 {
                tool.times.push(elapsed);
            }
        }
    }

    let limit = median(&mut tools[0].times);
    println!(
        "full migrate up of the built-in PostgreSQL schema ({} files), whole processes,",
        set.migrations.len()
    );
    println!("median of {rounds} interleaved rounds, a fresh database each time");
    println!("{:<16} {:>11} {:>9}", "tool", "median", "vs psql");
    for tool in &mut tools {
        let median = median(&mut tool.times);
        println!(
            "{:<16} {:>8.1} ms {:>8.2}x",
            tool.name,
            ms(median),
            median.as_secs_f64() / limit.as_secs_f64()
        );
    }
}

fn peers_dir() -> PathBuf {
    match std::env::var_os("PLANTDB_PEERS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/bin"),
    }
}

/// All up scripts in one file, for `psql -1` (which adds the one transaction itself).
fn concatenated(set: &MigrationSet, dir: &Path) -> PathBuf {
    let mut sql = String::new();
    for migration in &set.migrations {
        sql.push_str(&migration.up.sql);
        sql.push('\n');
    }
    let path = dir.join("all-postgres.sql");
    std::fs::write(&path, sql).expect("write the concatenated script");
    path
}

/// refinery: `V{version}__{name}.sql`, the naming plantdb's own files use.
fn refinery_layout(set: &MigrationSet, dir: &Path) -> PathBuf {
    write_each(set, dir, |m| {
        (format!("V{}__{}.sql", m.version, m.name), m.up.sql.clone())
    })
}

/// sqlx: `{version}_{description}.sql`, up only.
fn sqlx_layout(set: &MigrationSet, dir: &Path) -> PathBuf {
    write_each(set, dir, |m| {
        (format!("{}_{}.sql", m.version, m.name), m.up.sql.clone())
    })
}

/// dbmate: `{version}_{name}.sql` with its `-- migrate:up` section marker.
fn dbmate_layout(set: &MigrationSet, dir: &Path) -> PathBuf {
    write_each(set, dir, |m| {
        (
            format!("{}_{}.sql", m.version, m.name),
            format!("-- migrate:up\n{}\n\n-- migrate:down\n", m.up.sql),
        )
    })
}

fn write_each(
    set: &MigrationSet,
    dir: &Path,
    file: impl Fn(&Migration) -> (String, String),
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create a peer's migration directory");
    for migration in &set.migrations {
        let (name, contents) = file(migration);
        std::fs::write(dir.join(name), contents).expect("write a peer's migration file");
    }
    dir.to_path_buf()
}

fn psql(script: &Path) -> Box<dyn Fn(&str) -> Command> {
    let script = script.display().to_string();
    Box::new(move |url| {
        let mut command = Command::new("psql");
        // psql at its fastest: no GSSAPI negotiation (Debian's libpq tries it first).
        command.env("PGGSSENCMODE", "disable").args([
            "-X",
            "-1",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            &script,
            url,
        ]);
        command
    })
}

fn psql_one_message(script: &Path) -> Box<dyn Fn(&str) -> Command> {
    let sql = std::fs::read_to_string(script).expect("read the concatenated script");
    Box::new(move |url| {
        let mut command = Command::new("psql");
        command.env("PGGSSENCMODE", "disable").args([
            "-X",
            "-1",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &sql,
            url,
        ]);
        command
    })
}

fn refinery(binary: PathBuf, dir: PathBuf) -> Box<dyn Fn(&str) -> Command> {
    Box::new(move |url| {
        let mut command = Command::new(&binary);
        // refinery reads the URL from the environment variable that `-e` names.
        command
            .env("PLANTDB_BENCH_URL", url)
            .args(["migrate", "-e", "PLANTDB_BENCH_URL", "-p"])
            .arg(&dir);
        command
    })
}

fn sqlx(binary: PathBuf, dir: PathBuf) -> Box<dyn Fn(&str) -> Command> {
    Box::new(move |url| {
        let mut command = Command::new(&binary);
        command
            .args(["migrate", "run", "--database-url", url, "--source"])
            .arg(&dir);
        command
    })
}

fn dbmate(binary: PathBuf, dir: PathBuf) -> Box<dyn Fn(&str) -> Command> {
    Box::new(move |url| {
        let mut command = Command::new(&binary);
        // dbmate's driver (lib/pq) defaults to sslmode=require; the test server has no TLS.
        let url = format!("{url}?sslmode=disable");
        command
            .args(["--url", &url, "--no-dump-schema", "--migrations-dir"])
            .arg(&dir)
            .arg("migrate");
        command
    })
}

/// A tool that exits 0 without running the scripts (a layout it does not read) must not
/// count: the last migration's table has to be there.
fn assert_schema_built(tool: &str, url: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect to check");
    let built: bool = client
        .query_one("SELECT to_regclass('public.care_plans') IS NOT NULL", &[])
        .expect("look for the last migration's table")
        .get(0);
    assert!(built, "{tool} exited 0 but did not build the schema");
}
