//! What the benchmarks share: finding the release binary, timing a whole process, medians,
//! and this process's peak memory.
// Each benchmark uses a part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The release binary next to this example (`target/release/examples/..` → `target/release`).
pub fn plantdb_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the example's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("examples live in target/<profile>/examples");
    let binary = dir.join("plantdb");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --release` first",
        binary.display()
    );
    binary
}

/// How long `command` takes as a whole process; it must succeed.
pub fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let output = command.output().expect("start the command");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// This process's peak resident set (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
