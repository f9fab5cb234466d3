//! How `migrate adopt`, `migrate new` and `verify` reports look, as text and as JSON.

use std::io::Write;

use serde::Serialize;

use crate::db::Dialect;
use crate::migrate::adopt::AdoptReport;
use crate::migrate::new::NewReport;
use crate::output::{Mode, Output};
use crate::printable::printable;
use crate::verify::VerifyReport;

/// Like every other print, a closed pipe (`| head`) is ignored, not a panic.
fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: cannot render JSON: {e}");
        }
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Sqlite => "SQLite",
    }
}

impl Output {
    pub fn adopt_report(&self, url: &str, report: &AdoptReport) {
        #[derive(Serialize)]
        struct Tagged<'a> {
            url: &'a str,
            #[serde(flatten)]
            report: &'a AdoptReport,
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => json(&Tagged { url, report }),
            Mode::Human => {
                let mut out = std::io::stdout().lock();
                let verb = if report.dry_run {
                    "would record"
                } else {
                    "recorded"
                };
                let history = if report.foreign_history.is_empty() {
                    "empty".to_string()
                } else {
                    printable(&report.foreign_history.join(", ")).into_owned()
                };
                let _ = writeln!(
                    out,
                    "{}: `{}` says {history}",
                    printable(url),
                    printable(report.foreign_table)
                );
                for adopted in &report.recorded {
                    let _ = writeln!(
                        out,
                        "{verb} {} {} as applied (from `{}`; not run)",
                        adopted.version,
                        printable(&adopted.name),
                        printable(&adopted.foreign_id)
                    );
                }
                for version in &report.already_recorded {
                    let _ = writeln!(out, "already recorded {version}");
                }
                if report.recorded.is_empty() {
                    let _ = writeln!(
                        out,
                        "nothing to adopt: plantdb's history already has it all"
                    );
                }
                if !report.gaps.is_empty() {
                    let list: Vec<String> = report.gaps.iter().map(|v| v.to_string()).collect();
                    let _ = writeln!(
                        out,
                        "left for `plantdb migrate up` (older, applied out of order without complaint): {}",
                        list.join(", ")
                    );
                }
                if report.dropped_foreign_table {
                    let _ = writeln!(out, "dropped `{}`", report.foreign_table);
                } else if !report.dry_run {
                    let _ = writeln!(
                        out,
                        "`{}` was left as it was (`--drop-foreign-table` drops it)",
                        report.foreign_table
                    );
                }
                if report.dry_run {
                    let _ = writeln!(out, "dry run: nothing was changed");
                }
            }
        }
    }

    pub fn new_report(&self, report: &NewReport) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => json(report),
            Mode::Human => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "created migration {} {}", report.version, report.name);
                for file in &report.files {
                    let _ = writeln!(out, "  {file}");
                }
            }
        }
    }

    pub fn verify_report(&self, report: &VerifyReport) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => json(report),
            Mode::Human => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "verify {} ({})",
                    printable(&report.url),
                    dialect_name(report.dialect)
                );
                if !report.checked.is_empty() {
                    let dialects: Vec<&str> =
                        report.round_trip.iter().map(|d| dialect_name(*d)).collect();
                    let _ = writeln!(
                        out,
                        "round trip (up, down, up) of {} migration(s) on {}{}",
                        report.checked.len(),
                        dialects.join(" and "),
                        if report.parity {
                            "; PostgreSQL and SQLite compared"
                        } else {
                            ""
                        }
                    );
                }
                for skipped in &report.skipped {
                    let _ = writeln!(out, "skipped: {skipped}");
                }
                for finding in &report.findings {
                    let check = serde_json::to_value(finding.check)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "FAIL {check} {} ({}): {}",
                        finding.version,
                        printable(&finding.file),
                        printable(&finding.message)
                    );
                }
                if report.findings.is_empty() {
                    let _ = writeln!(out, "ok: no problem found");
                }
            }
        }
    }
}
