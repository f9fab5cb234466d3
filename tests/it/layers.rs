//! The shape of the crate: the command line (`cli`), the command layer (`commands`) and what is
//! printed (`output`) sit on top of the engine, and the engine never reaches back up to them.
//! The integration tests and the benchmarks drive the engine directly, which only works while
//! it needs neither parsed arguments nor a terminal.

use std::path::{Path, PathBuf};

/// The modules above the engine: they may use everything, nothing below may use them.
const UPPER_LAYER: &[&str] = &["cli", "commands", "output"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as (path relative to `src/`, text).
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src_dir()).unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((relative.display().to_string(), text));
            }
        }
    }
    found.sort();
    found
}

/// The top-level module a file belongs to: `seed` for `seed/mod.rs` and `seed/plan.rs`,
/// `reset` for `reset.rs`.
fn module_of(file: &str) -> &str {
    let first = file.split('/').next().unwrap_or(file);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The crate-level modules a file names through `crate::`, including those in a
/// `use crate::{a, b::c}` group.
fn crate_modules_used(text: &str) -> Vec<(usize, String)> {
    let mut used = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // A group may span lines: read on to its closing brace.
                let mut body = group.to_string();
                if !body.contains('}') {
                    for more in text.lines().skip(index + 1) {
                        body.push_str(more);
                        if more.contains('}') {
                            break;
                        }
                    }
                }
                for item in body.split(['}', ';']).next().unwrap_or("").split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        used.push((index + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                used.push((index + 1, name));
            }
        }
    }
    used
}

#[test]
fn engine_modules_never_use_the_command_line_the_commands_or_the_output() {
    let mut offences = Vec::new();
    for (file, text) in sources(&src_dir()) {
        let module = module_of(&file);
        if UPPER_LAYER.contains(&module) || module == "lib" || module == "main" {
            continue;
        }
        for (line, used) in crate_modules_used(&text) {
            if UPPER_LAYER.contains(&used.as_str()) {
                offences.push(format!("src/{file}:{line} uses crate::{used}"));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the engine must report through observers and return reports, not reach up:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_parsed_command_is_matched_in_one_place() {
    // The one `match` over the parsed command lives in src/commands/mod.rs; the command files
    // beside it each receive their own arguments, already taken apart.
    let mut matched_in = Vec::new();
    for (file, text) in sources(&src_dir()) {
        if file == "cli.rs" {
            continue;
        }
        let code: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains("Command::") {
            matched_in.push(file.clone());
        }
        assert!(
            !(module_of(&file) == "commands" && code.contains("unreachable!")),
            "src/{file}: every command is handled where it is matched, none is unreachable"
        );
    }
    assert_eq!(
        matched_in,
        ["commands/mod.rs"],
        "files that take the parsed command apart"
    );
}
