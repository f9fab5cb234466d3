//! Embeds every file under `migrations/`, with the contents of the SQL ones: the built-in set
//! is then read from static strings, with no file-name parsing or scanning at run time, and
//! plantdb can refuse files that do not belong there. refinery parses each up script's name
//! and computes its checksum here, at build time, so a run does not pay for refinery's
//! file-name regex (a quarter of a whole SQLite `migrate up`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // `PLANTDB_TEST_TIMESCALE=real` turns on the integration tests that need the real
    // TimescaleDB; without it they are reported as ignored, never passed silently.
    println!("cargo::rustc-check-cfg=cfg(plantdb_real_timescale)");
    println!("cargo:rerun-if-env-changed=PLANTDB_TEST_TIMESCALE");
    if std::env::var("PLANTDB_TEST_TIMESCALE").is_ok_and(|v| v == "real") {
        println!("cargo:rustc-cfg=plantdb_real_timescale");
    }
    // The tests against a real Citus cluster run only when asked for: the variable turns
    // their `#[ignore]` off (see tests/it/citus.rs), so cargo lists them as ignored otherwise.
    println!("cargo::rustc-check-cfg=cfg(plantdb_test_citus)");
    println!("cargo::rerun-if-env-changed=PLANTDB_TEST_CITUS");
    if std::env::var("PLANTDB_TEST_CITUS").is_ok_and(|v| !v.is_empty() && v != "0") {
        println!("cargo::rustc-cfg=plantdb_test_citus");
    }
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    collect(&root.join("migrations"), &mut files);
    files.sort();

    let mut out = String::from(
        "/// Every file under `migrations/`: (path relative to it, contents of SQL files,\n\
         /// refinery's checksum of an up script).\n",
    );
    out.push_str("pub static FILES: &[(&str, Option<&str>, Option<u64>)] = &[\n");
    for path in &files {
        let relative = path
            .strip_prefix(root.join("migrations"))
            .expect("collected below migrations/")
            .to_string_lossy()
            .replace('\\', "/");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".sql") {
            let checksum = up_checksum(&name, path);
            writeln!(
                out,
                "    ({relative:?}, Some(include_str!({:?})), {checksum:?}),",
                path.display().to_string()
            )
            .expect("writing to a String");
        } else {
            writeln!(out, "    ({relative:?}, None, None),").expect("writing to a String");
        }
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// refinery's checksum of an up script (`V{version}__{name}.sql`), line endings normalised so
/// a checkout with CRLF does not look like drift; `None` for down scripts and for names
/// refinery does not take, which plantdb refuses by name when it loads the set.
fn up_checksum(file_name: &str, path: &Path) -> Option<u64> {
    let stem = file_name.strip_suffix(".sql")?;
    if stem.ends_with(".down") {
        return None;
    }
    let sql = std::fs::read_to_string(path).ok()?.replace("\r\n", "\n");
    refinery::Migration::unapplied(stem, &sql)
        .ok()
        .map(|migration| migration.checksum())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
