//! Embeds every file under `migrations/`, with the contents of the SQL ones: the built-in set
//! is then read from static strings, with no file-name parsing or scanning at run time, and
//! plantdb can refuse files that do not belong there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    collect(&root.join("migrations"), &mut files);
    files.sort();

    let mut out = String::from(
        "/// Every file under `migrations/`: (path relative to it, contents of SQL files).\n",
    );
    out.push_str("pub static FILES: &[(&str, Option<&str>)] = &[\n");
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
            writeln!(
                out,
                "    ({relative:?}, Some(include_str!({:?}))),",
                path.display().to_string()
            )
            .expect("writing to a String");
        } else {
            writeln!(out, "    ({relative:?}, None),").expect("writing to a String");
        }
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
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
