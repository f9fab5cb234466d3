//! Seeds the same generated telemetry (10,000,000 rows by default: 100 devices × 100,000
//! readings, one a minute) into one plain PostgreSQL server and into a Citus coordinator with
//! two workers, all on this machine, and times a per-device hourly aggregate over all of it on
//! both. On one small machine the point is not a speed-up but that the distributed path works
//! at that size; the figures are there to compare on real hardware.
//!
//! For each database (plain first, then Citus):
//!
//! 1. `plantdb migrate up` (`--citus off` on the plain server, `--citus require` on the
//!    coordinator), then a check that telemetry is a distributed table with shards on both
//!    workers on Citus, and no Citus table at all on the plain server;
//! 2. `plantdb seed DIR` of a bench fixture written to a temporary directory (plants, devices
//!    and one generated telemetry series per device), timed as a whole process; the row count
//!    must be exact;
//! 3. later, after the aggregates: telemetry emptied and the same rows loaded by the fastest
//!    way there is, `psql \copy telemetry (…) FROM` a CSV file written beforehand (untimed),
//!    timed the same way; it must store the same rows (count and aggregate checksum).
//!
//! Every timed load starts after a `CHECKPOINT` on every node, so no load writes out the dirty
//! pages of the one before; the aggregates run after `VACUUM (ANALYZE) telemetry`. The aggregate
//! (`SELECT device_id, date_trunc('hour', time, 'UTC'), avg(soil_moisture), min(temperature),
//! max(temperature), count(*) FROM telemetry GROUP BY 1, 2`, consumed whole by an outer query
//! that counts the groups and sums a checksum) runs once on each side as a warm-up, then in 5
//! interleaved rounds (plain, Citus, plain, Citus, …); both must give the groups and checksum
//! computed from the generated rows themselves. It prints the medians and Citus's ratio to
//! plain, and a table at the end.
//!
//! Run: `just bench-citus [ROWS]`, or `cargo build --release --bins --examples && cargo run
//! --release --example citus_bench -- [ROWS]` (default 10000000). Needs `psql` on PATH and
//! Citus: installed in the PostgreSQL installation, or staged with `make install DESTDIR=…`
//! and named by `PLANTDB_TEST_CITUS_DIR` (README, Citus). It starts its own throwaway servers
//! like the tests do (a plain one, and a coordinator with two workers); without Citus it exits
//! with the reason, before writing anything.

#[path = "../tests/it/support/citus.rs"]
#[allow(dead_code)]
mod citus;
// Named `postgres` because `citus` refers to it by that name; the driver crate is therefore
// spelled `::postgres` in this file.
#[path = "../tests/it/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;
// The test server's TLS set-up, which `postgres` refers to.
#[path = "../tests/it/support/tls_ca.rs"]
#[allow(dead_code)]
mod tls_ca;

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use plantdb::db::value::Value;
use plantdb::seed::{self, fixture, telemetry};

use common::{Measured, measure, median, plantdb_binary};

/// A pinned clock, so that every run generates the same readings.
const NOW: &str = "2026-02-07T12:00:00Z";
/// A throwaway key, in case a fixture needs one (this one does not).
const SECRET_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// The rows are spread over this many devices (fewer when there are fewer rows), so that they
/// fall into many of the distributed table's shards.
const DEVICES: u64 = 100;
/// Devices per plant; every device has a plant, so every reading has one too.
const DEVICES_PER_PLANT: u64 = 10;
/// Timed rounds of the aggregate on each side, after one warm-up each.
const ROUNDS: usize = 5;

/// The per-device hourly aggregate, consumed whole: the number of groups, the rows they
/// count, and a checksum of exact values (minima and maxima, not averages, whose last bits
/// depend on the order in which partial sums are combined).
const AGGREGATE: &str = "SELECT count(*), sum(n)::bigint, \
     sum(round(t_min * 10) + round(t_max * 10))::bigint \
     FROM (SELECT device_id, date_trunc('hour', time, 'UTC') AS hour, \
                  avg(soil_moisture) AS soil, min(temperature) AS t_min, \
                  max(temperature) AS t_max, count(*) AS n \
           FROM telemetry GROUP BY 1, 2) s";

type Error = Box<dyn std::error::Error>;

/// What the aggregate returns: groups, rows, checksum.
type Checksum = (i64, i64, i64);

/// One of the two databases.
struct Target {
    name: &'static str,
    url: String,
    citus: bool,
    client: ::postgres::Client,
    seed: Option<Measured>,
    copy: Option<Measured>,
    aggregate: Vec<Duration>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("citus_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let rows: u64 = match std::env::args().nth(1) {
        None => 10_000_000,
        Some(text) => text
            .replace(['_', ','], "")
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("ROWS must be a positive number of rows, not `{text}`"))?,
    };
    let plantdb = plantdb_binary();
    let started = Instant::now();

    // Citus first: without it there is nothing to compare.
    let cluster = citus_database().map_err(|reason| {
        // The harness's reason says how to get Citus where it found none.
        let reason = reason
            .strip_prefix("no Citus cluster for the tests that asked for one: ")
            .unwrap_or(&reason);
        format!("no Citus cluster to benchmark: {reason}")
    })?;
    let plain = postgres::PgDatabase::new();

    let work = tempfile::tempdir()?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(NOW)?.with_timezone(&Utc);
    let devices = DEVICES.min(rows);
    let fixtures = work.path().join("fixtures");
    std::fs::create_dir(&fixtures)?;
    std::fs::write(fixtures.join("bench.yaml"), bench_fixture(rows, devices))?;

    // The same rows as CSV, from the same fixture and clock: not timed.
    let loaded = fixture::load(&seed::read_sources(std::slice::from_ref(&fixtures))?, now)?;
    let csv = work.path().join("telemetry.csv");
    let generated = write_csv(
        &csv,
        telemetry::Generator::new(seed::telemetry_series(&loaded), 1, now),
    )?;
    if generated.1 != rows {
        return Err(format!("the fixture generates {} rows, not {rows}", generated.1).into());
    }
    println!(
        "{} telemetry rows ({devices} devices, {} per device, one a minute), {} device-hours; \
         CSV {:.1} MB",
        group_digits(rows),
        group_digits(rows / devices),
        group_digits(generated.0 as u64),
        std::fs::metadata(&csv)?.len() as f64 / 1e6
    );

    let mut targets = [
        Target::new("plain PostgreSQL", plain.url.clone(), false)?,
        Target::new("Citus (2 workers)", cluster.url.clone(), true)?,
    ];

    // 1 and 2: migrate, check the layout, seed (timed), count.
    for target in &mut targets {
        plantdb_run(&plantdb, work.path(), target, &["migrate", "up", "-q"]);
        target.check_layout()?;
        target.checkpoint()?;
        let seeded = plantdb_run(
            &plantdb,
            work.path(),
            target,
            &["seed", "-q", "--now", NOW, &fixtures.to_string_lossy()],
        );
        println!(
            "{}: plantdb seed {:.2} s, {} rows/s, peak RSS {:.1} MB",
            target.name,
            seeded.elapsed.as_secs_f64(),
            group_digits(per_second(rows, seeded.elapsed)),
            seeded.peak_rss_mb
        );
        target.seed = Some(seeded);
        target.check_count(rows)?;
    }
    report_workers(&mut targets[1], rows)?;
    // Both tables in the state a query meets after a bulk load has settled: hint bits set,
    // statistics taken, no autovacuum to start in the middle of the timed rounds.
    for target in &mut targets {
        target.client.batch_execute("VACUUM (ANALYZE) telemetry")?;
        target.checkpoint()?;
    }

    // 4: the aggregate, interleaved; the warm-up round also checks the result.
    let expected: Checksum = (generated.0, i64::try_from(rows)?, generated.2);
    for round in 0..=ROUNDS {
        for target in &mut targets {
            let (elapsed, result) = target.aggregate()?;
            if result != expected {
                return Err(format!(
                    "{}: the hourly aggregate gave (groups, rows, checksum) {result:?}, the \
                     generated rows {expected:?}",
                    target.name
                )
                .into());
            }
            if round > 0 {
                target.aggregate.push(elapsed);
            }
        }
    }
    let medians: Vec<Duration> = targets
        .iter_mut()
        .map(|t| median(&mut t.aggregate))
        .collect();
    println!(
        "hourly aggregate, median of {ROUNDS} interleaved runs: plain {:.3} s, Citus {:.3} s, \
         Citus/plain {:.2}x",
        medians[0].as_secs_f64(),
        medians[1].as_secs_f64(),
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );

    // 3: the limit, psql \copy of the same rows into the emptied table.
    let copy = format!(
        "\\copy telemetry ({}) FROM '{}' WITH (FORMAT csv)",
        telemetry::COLUMNS.join(", "),
        csv.display()
    );
    for target in &mut targets {
        target.client.batch_execute("TRUNCATE telemetry")?;
        target.checkpoint()?;
        let copied = measure(
            Command::new("psql")
                // psql at its fastest: no GSSAPI negotiation (Debian's libpq tries it first).
                .env("PGGSSENCMODE", "disable")
                .args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    &copy,
                    &target.url,
                ]),
        );
        println!(
            "{}: psql \\copy {:.2} s, {} rows/s",
            target.name,
            copied.elapsed.as_secs_f64(),
            group_digits(per_second(rows, copied.elapsed))
        );
        target.copy = Some(copied);
        target.check_count(rows)?;
        let (_, result) = target.aggregate()?;
        if result != expected {
            return Err(format!(
                "{}: the rows psql loaded aggregate to {result:?}, plantdb's to {expected:?}",
                target.name
            )
            .into());
        }
    }

    print_table(&targets, rows, &medians);
    println!(
        "\n(whole run {:.0} s; the servers and {} go away now)",
        started.elapsed().as_secs_f64(),
        work.path().display()
    );
    Ok(())
}

/// A Citus database on the harness's cluster, or why there is none (the harness panics with
/// the reason; here it becomes an error message instead of a backtrace).
fn citus_database() -> Result<citus::CitusDatabase, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(citus::CitusDatabase::new);
    std::panic::set_hook(hook);
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the Citus cluster did not start".to_owned())
    })
}

/// Plants, `devices` devices, and one telemetry series per device that together make `rows`
/// readings, one a minute (the first `rows % devices` devices have one more).
fn bench_fixture(rows: u64, devices: u64) -> String {
    let mut yaml = String::from("# Written by examples/citus_bench.rs.\nplants:\n");
    for plant in 0..devices.div_ceil(DEVICES_PER_PLANT) {
        let _ = writeln!(
            yaml,
            "  bench-plant-{plant:03}: {{name: Bench plant {plant}}}"
        );
    }
    yaml.push_str("devices:\n");
    for device in 0..devices {
        let _ = writeln!(
            yaml,
            "  bench-device-{device:03}: {{mqtt_password: bench-{device:03}, \
             plant: bench-plant-{:03}, status: online}}",
            device / DEVICES_PER_PLANT
        );
    }
    yaml.push_str("telemetry:\n");
    for device in 0..devices {
        let readings = rows / devices + u64::from(device < rows % devices);
        let _ = writeln!(
            yaml,
            "  bench-series-{device:03}: {{device: bench-device-{device:03}, interval: 1m, \
             span: {readings}m}}"
        );
    }
    yaml
}

/// Writes the rows as CSV (NULL as an empty field, times as plantdb sends them); returns
/// what the aggregate should find in them: the device-hours, the rows, and the checksum.
fn write_csv(path: &Path, rows: telemetry::Generator) -> Result<(i64, u64, i64), Error> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut count = 0;
    // Per device-hour: the lowest and highest temperature (readings have one decimal).
    let mut hours: HashMap<(String, i64), (f64, f64)> = HashMap::new();
    for row in rows {
        let (Value::Time(time), Value::Text(device), Value::Float(temperature)) =
            (&row[0], &row[1], &row[4])
        else {
            return Err(format!("unexpected telemetry row {row:?}").into());
        };
        let hour = hours
            .entry((device.clone(), time.timestamp().div_euclid(3600)))
            .or_insert((f64::INFINITY, f64::NEG_INFINITY));
        hour.0 = hour.0.min(*temperature);
        hour.1 = hour.1.max(*temperature);
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
                other => return Err(format!("no telemetry column holds {other:?}").into()),
            }
        }
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    // PostgreSQL's round() of a double rounds half to even (rint).
    let checksum = hours
        .values()
        .map(|(low, high)| {
            (low * 10.0).round_ties_even() as i64 + (high * 10.0).round_ties_even() as i64
        })
        .sum();
    Ok((i64::try_from(hours.len())?, count, checksum))
}

impl Target {
    fn new(name: &'static str, url: String, citus: bool) -> Result<Target, Error> {
        let client = ::postgres::Client::connect(&url, ::postgres::NoTls)
            .map_err(|e| format!("cannot connect to the {name} database: {e}"))?;
        Ok(Target {
            name,
            url,
            citus,
            client,
            seed: None,
            copy: None,
            aggregate: Vec::new(),
        })
    }

    /// Telemetry is a distributed table with shards on every worker on Citus, and no Citus
    /// table at all on the plain server.
    fn check_layout(&mut self) -> Result<(), Error> {
        let citus_installed: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                &[],
            )?
            .get(0);
        if !self.citus {
            if citus_installed {
                return Err(format!("{}: the citus extension is installed", self.name).into());
            }
            return Ok(());
        }
        let kind: Option<String> = self
            .client
            .query_opt(
                "SELECT citus_table_type::text FROM citus_tables \
                 WHERE table_name = 'telemetry'::regclass",
                &[],
            )?
            .map(|row| row.get(0));
        let workers: i64 = self
            .client
            .query_one(
                "SELECT count(DISTINCT nodeport) FROM citus_shards \
                 WHERE table_name = 'telemetry'::regclass",
                &[],
            )?
            .get(0);
        if kind.as_deref() != Some("distributed") || workers != citus::WORKERS as i64 {
            return Err(format!(
                "{}: after `plantdb migrate up` telemetry is {} with shards on {workers} \
                 node(s), not a distributed table on {} workers",
                self.name,
                kind.map_or("not a Citus table".to_owned(), |k| format!("a {k} table")),
                citus::WORKERS
            )
            .into());
        }
        Ok(())
    }

    /// Writes out every dirty page (on every node of a cluster), so that a timed load does
    /// not pay for the writes of what came before it.
    fn checkpoint(&mut self) -> Result<(), Error> {
        self.client.batch_execute("CHECKPOINT")?;
        if self.citus {
            self.client
                .batch_execute("SELECT run_command_on_workers('CHECKPOINT')")?;
        }
        Ok(())
    }

    fn check_count(&mut self, rows: u64) -> Result<(), Error> {
        let count: i64 = self
            .client
            .query_one("SELECT count(*) FROM telemetry", &[])?
            .get(0);
        if u64::try_from(count).ok() != Some(rows) {
            return Err(format!("{}: telemetry holds {count} rows, not {rows}", self.name).into());
        }
        Ok(())
    }

    fn aggregate(&mut self) -> Result<(Duration, Checksum), Error> {
        let started = Instant::now();
        let row = self.client.query_one(AGGREGATE, &[])?;
        let elapsed = started.elapsed();
        Ok((elapsed, (row.get(0), row.get(1), row.get(2))))
    }
}

/// Runs plantdb against `target` with the `--citus` it calls for; it must succeed.
fn plantdb_run(plantdb: &Path, cwd: &Path, target: &Target, args: &[&str]) -> Measured {
    let citus = if target.citus { "require" } else { "off" };
    measure(
        Command::new(plantdb)
            .current_dir(cwd)
            .env("PLANTDB_SECRET_KEY", SECRET_KEY)
            .env_remove("DATABASE_URL")
            .env_remove("PLANTDB_CITUS")
            .env_remove("PLANTDB_TIMESCALE")
            .args(["--database-url", &target.url])
            .args(["--citus", citus, "--timescale", "off"])
            .args(args),
    )
}

/// How many rows each worker holds, from the shards themselves: they must add up.
fn report_workers(target: &mut Target, rows: u64) -> Result<(), Error> {
    let per_worker: Vec<(i32, i64)> = target
        .client
        .query(
            "SELECT s.nodeport, sum(r.result::bigint)::bigint \
             FROM run_command_on_shards('telemetry', 'SELECT count(*) FROM %s') r \
             JOIN citus_shards s ON s.shardid = r.shardid AND s.table_name = 'telemetry'::regclass \
             WHERE r.success GROUP BY 1 ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let total: i64 = per_worker.iter().map(|(_, n)| n).sum();
    let listed: Vec<String> = per_worker
        .iter()
        .map(|(port, n)| format!("port {port}: {}", group_digits(*n as u64)))
        .collect();
    println!("{}: rows per worker, {}", target.name, listed.join(", "));
    if u64::try_from(total).ok() != Some(rows) {
        return Err(format!(
            "{}: the workers' shards hold {total} rows, not {rows}",
            target.name
        )
        .into());
    }
    Ok(())
}

fn print_table(targets: &[Target], rows: u64, aggregate: &[Duration]) {
    let load = |m: &Option<Measured>| {
        m.as_ref().map_or("-".to_owned(), |m| {
            format!(
                "{:.1} s, {} rows/s",
                m.elapsed.as_secs_f64(),
                group_digits(per_second(rows, m.elapsed))
            )
        })
    };
    let time = |m: &Option<Measured>| m.as_ref().map_or(f64::NAN, |m| m.elapsed.as_secs_f64());
    println!("\n{} telemetry rows", group_digits(rows));
    println!("{:<34} {:>28} {:>28}", "", targets[0].name, targets[1].name);
    println!(
        "{:<34} {:>28} {:>28}",
        "psql \\copy (the limit)",
        load(&targets[0].copy),
        load(&targets[1].copy)
    );
    println!(
        "{:<34} {:>28} {:>28}",
        "plantdb seed",
        load(&targets[0].seed),
        load(&targets[1].seed)
    );
    println!(
        "{:<34} {:>27.2}x {:>27.2}x",
        "seed throughput / \\copy throughput",
        time(&targets[0].copy) / time(&targets[0].seed),
        time(&targets[1].copy) / time(&targets[1].seed)
    );
    println!(
        "{:<34} {:>26.3} s {:>26.3} s",
        format!("hourly aggregate, median of {ROUNDS}"),
        aggregate[0].as_secs_f64(),
        aggregate[1].as_secs_f64()
    );
    println!(
        "ratios Citus/plain (time): seed {:.2}x, \\copy {:.2}x, aggregate {:.2}x",
        time(&targets[1].seed) / time(&targets[0].seed),
        time(&targets[1].copy) / time(&targets[0].copy),
        aggregate[1].as_secs_f64() / aggregate[0].as_secs_f64()
    );
}

fn per_second(rows: u64, elapsed: Duration) -> u64 {
    (rows as f64 / elapsed.as_secs_f64()) as u64
}

/// 10000000 → 10,000,000.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
