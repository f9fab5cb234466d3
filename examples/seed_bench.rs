//! Loads N telemetry rows (default 1,000,000) with the seed engine (`plantdb seed --scale`),
//! then the same rows the fastest way the database has, and prints rows per second, the
//! ratio and this process's peak resident memory.
//!
//!   cargo run --release --example seed_bench -- sqlite [ROWS]
//!   cargo run --release --example seed_bench -- postgres URL [ROWS]
//!
//! The limit: PostgreSQL `psql \copy` from a CSV file; SQLite one prepared statement in one
//! transaction over rows prepared in memory beforehand. Run one dialect per process so the
//! peak memory is the seed's own. The PostgreSQL URL's database is dropped and recreated.

mod common;

use common::peak_rss_mb;
use std::io::Write as _;
use std::time::Instant;

use chrono::Utc;
use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::value::Value;
use plantdb::db::{self, Access};
use plantdb::migrate::{self, IgnoreProgress, MigrationSet, Request, RunOptions};
use plantdb::seed::{self, SeedMode, SeedOptions, fixture, telemetry};

/// 4 devices × 250 one-minute readings = 1,000 rows per unit of `--scale`.
const FIXTURE: &str = "\
plants:
  fern: {name: Bench Fern}
devices:
  d1: {plant: fern, mqtt_password: bench-1}
  d2: {plant: fern, mqtt_password: bench-2}
  d3: {plant: fern, mqtt_password: bench-3}
  d4: {plant: fern, mqtt_password: bench-4}
telemetry:
  t1: {device: d1, interval: 1m, span: 250m}
  t2: {device: d2, interval: 1m, span: 250m}
  t3: {device: d3, interval: 1m, span: 250m}
  t4: {device: d4, interval: 1m, span: 250m}
";
const ROWS_PER_SCALE: u64 = 1_000;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, rows) = match args.first().map(String::as_str) {
        Some("sqlite") => {
            let dir = tempfile_dir()?;
            let url = format!("sqlite://{}/bench.sqlite3", dir);
            (url, args.get(1))
        }
        Some("postgres") => (
            args.get(1)
                .cloned()
                .ok_or("usage: seed_bench postgres URL [ROWS]")?,
            args.get(2),
        ),
        _ => return Err("usage: seed_bench sqlite [ROWS] | seed_bench postgres URL [ROWS]".into()),
    };
    let rows: u64 = rows.map_or(Ok(1_000_000), |r| r.parse())?;
    let scale = u32::try_from(rows.div_ceil(ROWS_PER_SCALE))?;
    let target = Target::parse(&url)?;
    println!("target: {}", target.display());

    // A fresh, migrated database.
    plantdb::reset::destroy(&target)?;
    let mut driver = db::connect(&target, Access::ReadWrite, TimescalePolicy::Off)?;
    let set = MigrationSet::built_in(driver.dialect())?;
    let up = Request::Up {
        to: None,
        count: None,
    };
    migrate::migrate(
        driver.as_mut(),
        &set,
        up,
        RunOptions::default(),
        &mut IgnoreProgress,
    )?;

    // 1. The seed engine, as `plantdb seed --scale` runs it.
    let now = Utc::now();
    let fixtures = fixture::load(&[("bench.yaml".into(), FIXTURE.into())], now)?;
    let options = SeedOptions {
        mode: SeedMode::Replace,
        scale,
        now,
        key: None,
        dry_run: false,
    };
    let started = Instant::now();
    let report = seed::seed(
        driver.as_mut(),
        &set,
        &fixtures,
        &options,
        &mut seed::IgnoreProgress,
    )?;
    let seed_secs = started.elapsed().as_secs_f64();
    let loaded = report
        .tables
        .iter()
        .find(|t| t.table == "telemetry")
        .map_or(0, |t| t.inserted);
    let seed_rss = peak_rss_mb();
    drop(driver);

    // The same rows, generated the same way.
    let series: Vec<telemetry::Series> = fixtures
        .telemetry
        .iter()
        .map(|spec| telemetry::Series {
            device_id: spec.device.clone(),
            plant_id: Some("fern".into()),
            interval: spec.interval,
            span: spec.span,
        })
        .collect();

    // 2. The limit.
    let limit_secs = match &target {
        Target::Postgres(_) => copy_with_psql(&url, telemetry::Generator::new(series, scale, now))?,
        Target::Sqlite(_) => {
            prepared_insert(&target, telemetry::Generator::new(series, scale, now))?
        }
    };

    let seed_rate = loaded as f64 / seed_secs;
    let limit_rate = loaded as f64 / limit_secs;
    println!("rows:            {loaded}");
    println!("plantdb seed:    {seed_secs:.2} s, {seed_rate:.0} rows/s, peak RSS {seed_rss:.1} MB");
    println!("limit:           {limit_secs:.2} s, {limit_rate:.0} rows/s");
    println!(
        "ratio:           {:.2}x of the limit",
        seed_rate / limit_rate
    );
    Ok(())
}

fn tempfile_dir() -> Result<String, Error> {
    let dir = std::env::temp_dir().join(format!("plantdb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir.display().to_string())
}

/// `TRUNCATE` then `psql -c "\copy telemetry … FROM file CSV"`; only psql is timed.
fn copy_with_psql(url: &str, rows: telemetry::Generator) -> Result<f64, Error> {
    let csv = std::env::temp_dir().join(format!("plantdb-bench-{}.csv", std::process::id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    for row in rows {
        let fields: Vec<String> = row.iter().map(csv_field).collect();
        writeln!(out, "{}", fields.join(","))?;
    }
    out.flush()?;
    drop(out);
    let psql = |command: &str| -> Result<(), Error> {
        let status = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", command])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("psql failed: {command}").into())
        }
    };
    psql("TRUNCATE telemetry")?;
    let started = Instant::now();
    psql(&format!(
        "\\copy telemetry ({}) FROM '{}' WITH (FORMAT csv)",
        telemetry::COLUMNS.join(", "),
        csv.display()
    ))?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&csv);
    Ok(secs)
}

fn csv_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Time(t) => Value::time_text(t),
        Value::Text(s) => s.clone(),
        Value::Float(f) => f.to_string(),
        other => format!("{other:?}"),
    }
}

/// One prepared statement in one transaction, rows prepared beforehand; only the inserts are
/// timed.
fn prepared_insert(target: &Target, rows: telemetry::Generator) -> Result<f64, Error> {
    let Target::Sqlite(plantdb::config::SqliteTarget::File(path)) = target else {
        return Err("a SQLite file".into());
    };
    let rows: Vec<Vec<Value>> = rows.collect();
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // VACUUM gives the pages of the seeded rows back, so both runs grow the file alike.
    conn.execute_batch("DELETE FROM telemetry; VACUUM;")?;
    let started = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO telemetry (time, device_id, plant_id, soil_moisture, temperature, humidity, light_level)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for row in &rows {
            stmt.execute(rusqlite::params_from_iter(row.iter()))?;
        }
    }
    tx.commit()?;
    Ok(started.elapsed().as_secs_f64())
}
