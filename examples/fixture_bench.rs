//! Loads and seeds generated fixture files of many rows of one table, and prints rows per
//! second and this process's peak resident memory.
//!
//!   cargo run --release --example fixture_bench -- ROWS [load]
//!
//! One size per process, so the peak memory is that size's own (`just bench-fixtures` runs
//! 10,000, 100,000 and 1,000,000 rows). The file holds ROWS `plants` rows; they are parsed
//! and checked (`load`), then seeded into a fresh, migrated SQLite file in replace mode, twice:
//! once into the empty table, once more where every row is kept. With `load` only the
//! loading is timed.

mod common;

use common::peak_rss_mb;
use std::time::Instant;

use chrono::Utc;
use plantdb::config::{Target, TimescalePolicy};
use plantdb::db::{self, Access};
use plantdb::migrate::{self, IgnoreProgress, MigrationSet, Request, RunOptions};
use plantdb::seed::{self, SeedMode, SeedOptions, fixture};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args
        .first()
        .ok_or("usage: fixture_bench ROWS [load]")?
        .parse()?;
    let load_only = args.get(1).is_some_and(|a| a == "load");

    let mut text = String::from("plants:\n");
    for i in 0..rows {
        text.push_str(&format!(
            "  plant-{i}: {{name: Plant {i}, species: Species {}}}\n",
            i % 97
        ));
    }
    let file_mb = text.len() as f64 / 1e6;
    let now = Utc::now();
    let started = Instant::now();
    let fixtures = fixture::load(&[("bench.yaml".into(), text)], now)?;
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "{rows} rows, {file_mb:.1} MB file: load {load_secs:.2} s, {:.0} rows/s, peak RSS so far {:.1} MB ({:.1} x the file)",
        rows as f64 / load_secs,
        peak_rss_mb(),
        peak_rss_mb() / file_mb
    );
    if !load_only {
        let dir =
            std::env::temp_dir().join(format!("plantdb-fixture-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let target = Target::parse(&format!("sqlite://{}/bench.sqlite3", dir.display()))?;
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
        let options = SeedOptions {
            mode: SeedMode::Replace,
            scale: 1,
            now,
            key: None,
            dry_run: false,
        };
        for run in ["into an empty table", "again, every row kept"] {
            let started = Instant::now();
            seed::seed(
                driver.as_mut(),
                &set,
                &fixtures,
                &options,
                &mut seed::IgnoreProgress,
            )?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  seed {run}: {secs:.2} s, {:.0} rows/s",
                rows as f64 / secs
            );
        }
        drop(driver);
        std::fs::remove_dir_all(&dir)?;
    }
    println!(
        "  peak RSS {:.1} MB ({:.1} x the file)",
        peak_rss_mb(),
        peak_rss_mb() / file_mb
    );
    Ok(())
}
