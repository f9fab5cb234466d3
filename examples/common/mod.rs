//! What the benchmarks share: finding the release binary, timing a whole process, medians,
//! this process's peak memory, and a child process's wall time with its peak memory.
// Each benchmark uses a part of this.
#![allow(dead_code)]

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// What one whole process cost: wall time and its own peak resident set.
pub struct Measured {
    pub elapsed: Duration,
    pub peak_rss_mb: f64,
}

/// Runs `command` to completion, its output kept in a temporary file and shown only if it
/// fails. The peak resident set is the child's own `ru_maxrss`, read when it is reaped.
pub fn measure(command: &mut Command) -> Measured {
    let log = tempfile::tempfile().expect("a temporary file for the command's output");
    let started = Instant::now();
    // Reaped below by wait4, which `Child::wait` cannot replace: it drops the child's rusage.
    #[allow(clippy::zombie_processes)]
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("share the output file"))
        .stderr(log.try_clone().expect("share the output file"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let pid = libc::pid_t::try_from(child.id()).expect("a process id");
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value, which wait4 overwrites.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child, and both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(reaped, pid, "wait4 for {command:?}");
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut output = String::new();
        let mut log = log;
        let _ = log.seek(SeekFrom::Start(0));
        let _ = log.read_to_string(&mut output);
        panic!("{command:?} failed ({status:#x}): {output}");
    }
    Measured {
        elapsed,
        // Linux reports ru_maxrss in kilobytes.
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}
