//! Times `plantdb seed --scale N` (default 165: 997,920 rows of generated telemetry from the
//! built-in fixtures) as a whole process against the fastest way each database has of loading
//! the same rows from a CSV file written beforehand (not timed):
//!
//! - PostgreSQL: `psql -X -c "\copy telemetry (…) FROM file WITH (FORMAT csv)"`;
//! - SQLite: `sqlite3 file ".import --csv file telemetry"` (one prepared insert, one
//!   transaction, foreign keys on as plantdb has them).
//!
//! Every turn starts from the same state, prepared untimed: a fresh database, migrated, the
//! built-in fixtures seeded, the telemetry table emptied (so both sides meet the same indexes
//! and foreign keys). Rounds are interleaved, each starting with the other contender; the first
//! round is a warm-up that also checks both sides stored exactly the same rows. It prints each
//! contender's median, rows per second, the ratio of plantdb's throughput to the limit's and
//! plantdb's peak resident memory.
//!
//! Run: `just bench-seed`, or
//! `cargo run --release --example seed_bench -- [ROUNDS] [SCALE] [postgres|sqlite|both]`
//! (default 5, 165, both). Needs `psql` and `sqlite3` on PATH; starts its own PostgreSQL
//! server like the tests do (or uses `PLANTDB_TEST_DATABASE_URL`).

#[path = "../tests/it/support/postgres.rs"]
#[allow(dead_code)]
mod pg;
// The test server's TLS set-up, which `pg` refers to.
#[path = "../tests/it/support/tls_ca.rs"]
#[allow(dead_code)]
mod tls_ca;

mod common;

use common::{Measured, measure, median, plantdb_binary};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use plantdb::db::value::Value;
use plantdb::seed::{self, fixture, telemetry};

/// A pinned clock, so that every run generates the same readings.
const NOW: &str = "2026-02-07T12:00:00Z";
/// A throwaway key for the built-in fixtures' gateway passwords.
const SECRET_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

type Error = Box<dyn std::error::Error>;

/// One contender: the command that loads the rows into the database at `target`.
struct Contender {
    name: &'static str,
    command: Box<dyn Fn(&str) -> Command>,
    times: Vec<Duration>,
    peak_rss_mb: Vec<f64>,
}

/// How one dialect prepares a database and looks at what was loaded.
trait Bench {
    /// A fresh database in the starting state; returns its URL and what keeps it alive.
    fn prepare(&self, work: &Path, turn: usize) -> (String, Box<dyn std::any::Any>);
    /// Rows in telemetry and a fingerprint of their values in a fixed order.
    fn fingerprint(&self, url: &str) -> (u64, u64);
    /// Rows in telemetry.
    fn count(&self, url: &str) -> u64;
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.first().map_or(Ok(5), |r| r.parse())?;
    let scale: u32 = args.get(1).map_or(Ok(165), |s| s.parse())?;
    let which = args.get(2).map_or("both", String::as_str);
    let plantdb = plantdb_binary();
    let work = tempfile::tempdir()?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(NOW)?.with_timezone(&Utc);

    // The rows `plantdb seed --scale` generates, as CSV: not timed.
    let fixtures = fixture::load(&seed::built_in_sources(), now)?;
    let series = seed::telemetry_series(&fixtures);
    let csv = work.path().join("telemetry.csv");
    let rows = write_csv(&csv, telemetry::Generator::new(series, scale, now))?;
    println!(
        "{rows} telemetry rows (--scale {scale}), CSV {:.1} MB",
        std::fs::metadata(&csv)?.len() as f64 / 1e6
    );

    let seed_command = {
        let plantdb = plantdb.clone();
        let cwd = work.path().to_path_buf();
        move |url: &str| {
            let mut command = plantdb_command(&plantdb, &cwd, url);
            command.args(["seed", "--scale", &scale.to_string(), "--now", NOW]);
            command
        }
    };
    let columns = telemetry::COLUMNS.join(", ");
    if which == "postgres" || which == "both" {
        let copy = format!(
            "\\copy telemetry ({columns}) FROM '{}' WITH (FORMAT csv)",
            csv.display()
        );
        let contenders = vec![
            contender("psql \\copy", move |url| {
                let mut command = Command::new("psql");
                // psql at its fastest: no GSSAPI negotiation (Debian's libpq tries it first).
                command.env("PGGSSENCMODE", "disable").args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    &copy,
                    url,
                ]);
                command
            }),
            contender("plantdb seed", seed_command.clone()),
        ];
        let bench = Postgres {
            plantdb: plantdb.clone(),
        };
        run("PostgreSQL", &bench, contenders, rounds, rows, work.path());
    }
    if which == "sqlite" || which == "both" {
        let import = format!(".import --csv '{}' telemetry", csv.display());
        let contenders = vec![
            contender("sqlite3 .import", move |url| {
                let path = url.strip_prefix("sqlite://").expect("a SQLite URL");
                let mut command = Command::new("sqlite3");
                command.args(["-bail", "-cmd", "PRAGMA foreign_keys = ON", path, &import]);
                command
            }),
            contender("plantdb seed", seed_command),
        ];
        let bench = Sqlite {
            plantdb: plantdb.clone(),
        };
        run("SQLite", &bench, contenders, rounds, rows, work.path());
    }
    Ok(())
}

fn contender(name: &'static str, command: impl Fn(&str) -> Command + 'static) -> Contender {
    Contender {
        name,
        command: Box::new(command),
        times: Vec::new(),
        peak_rss_mb: Vec::new(),
    }
}

fn plantdb_command(plantdb: &Path, cwd: &Path, url: &str) -> Command {
    let mut command = Command::new(plantdb);
    command
        .current_dir(cwd)
        .env("PLANTDB_SECRET_KEY", SECRET_KEY)
        .env_remove("DATABASE_URL")
        .args(["--database-url", url]);
    command
}

/// The rounds of one dialect; the first contender is the limit.
fn run(
    dialect: &str,
    bench: &dyn Bench,
    mut contenders: Vec<Contender>,
    rounds: usize,
    rows: u64,
    work: &Path,
) {
    let mut turn = 0;
    for round in 0..=rounds {
        let mut fingerprints = Vec::new();
        let count = contenders.len();
        for k in 0..count {
            let contender = &mut contenders[(round + k) % count];
            let (url, keep) = bench.prepare(work, turn);
            turn += 1;
            let Measured {
                elapsed,
                peak_rss_mb,
            } = measure(&mut (contender.command)(&url));
            if round == 0 {
                // The warm-up: both must have stored the very same rows.
                let fingerprint = bench.fingerprint(&url);
                assert_eq!(fingerprint.0, rows, "{} loaded every row", contender.name);
                fingerprints.push((contender.name, fingerprint));
            } else {
                assert_eq!(
                    bench.count(&url),
                    rows,
                    "{} loaded every row",
                    contender.name
                );
                contender.times.push(elapsed);
                contender.peak_rss_mb.push(peak_rss_mb);
            }
            drop(keep);
        }
        if let [(a, first), (b, second)] = fingerprints.as_slice() {
            assert_eq!(first, second, "{a} and {b} stored different rows");
        }
    }

    let limit = median(&mut contenders[0].times);
    println!(
        "\n{dialect}: median of {rounds} interleaved rounds, whole processes, into an empty telemetry table"
    );
    println!(
        "{:<16} {:>9} {:>12} {:>17} {:>14}",
        "contender", "median", "rows/s", "throughput ratio", "peak RSS (max)"
    );
    for contender in &mut contenders {
        let time = median(&mut contender.times);
        let peak = contender.peak_rss_mb.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<16} {:>7.2} s {:>12.0} {:>16.2}x {:>11.1} MB",
            contender.name,
            time.as_secs_f64(),
            rows as f64 / time.as_secs_f64(),
            limit.as_secs_f64() / time.as_secs_f64(),
            peak
        );
    }
}

/// Writes the rows as CSV (NULL as an empty field, times as plantdb sends them).
fn write_csv(path: &Path, rows: telemetry::Generator) -> Result<u64, Error> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut count = 0;
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            match value {
                Value::Null => {}
                Value::Time(t) => out.write_all(Value::time_text(t).as_bytes())?,
                Value::Text(s) => {
                    assert!(!s.contains([',', '"', '\n']), "plain CSV text: {s}");
                    out.write_all(s.as_bytes())?;
                }
                Value::Float(f) => write!(out, "{f}")?,
                other => panic!("no telemetry column holds {other:?}"),
            }
        }
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

/// Migrates with plantdb and seeds the fixtures (scale 1), both untimed.
fn migrate_and_seed(plantdb: &Path, work: &Path, url: &str) {
    for args in [
        &["migrate", "up", "-q"][..],
        &["seed", "-q", "--now", NOW][..],
    ] {
        measure(plantdb_command(plantdb, work, url).args(args));
    }
}

struct Postgres {
    plantdb: PathBuf,
}

impl Bench for Postgres {
    fn prepare(&self, work: &Path, _turn: usize) -> (String, Box<dyn std::any::Any>) {
        let database = pg::PgDatabase::new();
        migrate_and_seed(&self.plantdb, work, &database.url);
        let mut client = database.client();
        // The dirty pages of the setup are written out now rather than during the load.
        client
            .batch_execute("TRUNCATE telemetry; CHECKPOINT")
            .expect("empty telemetry");
        (database.url.clone(), Box::new(database))
    }

    fn fingerprint(&self, url: &str) -> (u64, u64) {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        let row = client
            .query_one(
                "SELECT count(*), md5(string_agg(concat_ws(',', time, device_id, plant_id, \
                 soil_moisture, temperature, humidity, light_level), '|' ORDER BY device_id, time)) \
                 FROM telemetry",
                &[],
            )
            .expect("fingerprint telemetry");
        let count: i64 = row.get(0);
        let md5: Option<String> = row.get(1);
        let mut hash = DefaultHasher::new();
        md5.hash(&mut hash);
        (u64::try_from(count).unwrap_or(0), hash.finish())
    }

    fn count(&self, url: &str) -> u64 {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        let count: i64 = client
            .query_one("SELECT count(*) FROM telemetry", &[])
            .expect("count telemetry")
            .get(0);
        u64::try_from(count).unwrap_or(0)
    }
}

struct Sqlite {
    plantdb: PathBuf,
}

impl Bench for Sqlite {
    fn prepare(&self, work: &Path, turn: usize) -> (String, Box<dyn std::any::Any>) {
        let path = work.join(format!("bench-{turn}.sqlite3"));
        let url = format!("sqlite://{}", path.display());
        migrate_and_seed(&self.plantdb, work, &url);
        let conn = rusqlite::Connection::open(&path).expect("open the SQLite file");
        conn.execute_batch("DELETE FROM telemetry; VACUUM;")
            .expect("empty telemetry");
        (url, Box::new(RemoveOnDrop(path)))
    }

    fn fingerprint(&self, url: &str) -> (u64, u64) {
        let conn = open(url);
        let mut stmt = conn
            .prepare(
                "SELECT time, device_id, plant_id, soil_moisture, temperature, humidity, \
                 light_level FROM telemetry ORDER BY device_id, time",
            )
            .expect("read telemetry");
        let mut rows = stmt.query([]).expect("read telemetry");
        let (mut count, mut hash) = (0, DefaultHasher::new());
        while let Some(row) = rows.next().expect("a telemetry row") {
            for i in 0..7 {
                // The storage class counts too: REAL 23.4 is not TEXT '23.4'.
                format!("{:?}", row.get_ref(i).expect("a column")).hash(&mut hash);
            }
            count += 1;
        }
        (count, hash.finish())
    }

    fn count(&self, url: &str) -> u64 {
        open(url)
            .query_row("SELECT count(*) FROM telemetry", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .expect("count telemetry")
    }
}

fn open(url: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(url.strip_prefix("sqlite://").expect("a SQLite URL"))
        .expect("open the SQLite file")
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}
