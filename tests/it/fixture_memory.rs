//! Loading a fixture file holds the file's text and its rows, never a tree of the whole
//! file: the peak memory of `plantdb seed` grows by a small multiple of the file's size.

use std::path::Path;
use std::process::{Command, Stdio};

use plantdb::seed::secrets;

use crate::migrate::up_all;
use crate::support::SqliteFile;

/// A fixture file of `rows` plants, as a user would write it.
fn plants(rows: usize) -> String {
    let mut text = String::from("plants:\n");
    for i in 0..rows {
        text.push_str(&format!(
            "  plant-{i}: {{name: Plant {i}, species: Species {}}}\n",
            i % 97
        ));
    }
    text
}

/// Seeds `file` into the SQLite database at `url` with the CLI, and returns the child's peak
/// resident memory in bytes, as the kernel accounts it for that one process.
fn seed_peak_bytes(url: &str, dir: &Path, file: &Path) -> u64 {
    let stderr = dir.join("stderr.txt");
    // Reaped by `wait4` below, which also reports the child's own peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_plantdb"))
        .current_dir(dir)
        .env_remove("PLANTDB_TIMESCALE")
        .env_remove(secrets::KEY_VAR)
        .env("DATABASE_URL", url)
        .arg("seed")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("a file for stderr"))
        .spawn()
        .expect("run plantdb");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain data that the kernel fills in; `wait4` reaps only this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "plantdb seed failed: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    // Linux gives `ru_maxrss` in kilobytes.
    u64::try_from(usage.ru_maxrss).expect("a size") * 1024
}

#[test]
fn seeding_a_large_fixture_file_takes_a_small_multiple_of_its_size() {
    let dir = tempfile::tempdir().expect("a directory");
    let small = dir.path().join("small.yaml");
    let large = dir.path().join("large.yaml");
    std::fs::write(&small, plants(100)).expect("write");
    let text = plants(40_000);
    std::fs::write(&large, &text).expect("write");

    // What the process takes anyway: the binary, SQLite, a few rows.
    let db = SqliteFile::new();
    up_all(&db.url());
    let baseline = seed_peak_bytes(&db.url(), dir.path(), &small);
    let db = SqliteFile::new();
    up_all(&db.url());
    let peak = seed_peak_bytes(&db.url(), dir.path(), &large);

    let file = text.len() as u64;
    let grown = peak.saturating_sub(baseline);
    // A tree of the whole file took about 40 times its size, rows of owned cells with a place
    // each about 15. Packed rows, with the ids the seed keeps per row, take about 4 to 6.
    assert!(
        grown < 8 * file,
        "seeding a {file}-byte file grew the peak memory by {grown} bytes ({:.1} times the file; \
         {baseline} bytes with 100 rows, {peak} with 40,000)",
        grown as f64 / file as f64
    );
}
