//! Everything plantdb prints. The engine returns reports; this renders them as text or JSON,
//! and shows progress on a terminal (progress.rs).

mod fleet;
mod progress;

use std::io::{IsTerminal, Write};

use indicatif::HumanCount;
use serde::Serialize;

use crate::db::{Dialect, Direction};
use crate::error::{Error, Version};
use crate::live_drift::LiveReport;
use crate::migrate::adopt::AdoptReport;
use crate::migrate::adopt_manifest::AlembicEra;
use crate::migrate::baseline::BaselineReport;
use crate::migrate::converge::ConvergePlan;
use crate::migrate::distribute::DistributeReport;
use crate::migrate::new::NewReport;
use crate::migrate::{Observer, RunReport, StepReport};
use crate::printable::{printable, printable_lines};
use crate::seed::{SeedMode, SeedObserver, SeedReport, TableReport};
use crate::status::{HourlyKind, PolicyState, StatusReport};
use crate::verify::VerifyReport;
use crate::wait::WaitObserver;

/// `println!`/`eprintln!` that shrug off a closed pipe (`plantdb status | head -1`) instead of
/// panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// What the results look like: `--json`, `--quiet` or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines for people: results on stdout, information on stderr.
    Text,
    /// One JSON document on stdout; nothing else there.
    Json,
    /// Nothing but errors (and what `notice` must always say).
    Quiet,
}

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub verbose: bool,
    /// Progress bars only where a person watches: stderr is a terminal.
    pub interactive: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Output {
        let format = if json {
            Format::Json
        } else if quiet {
            Format::Quiet
        } else {
            Format::Text
        };
        Output {
            format,
            verbose,
            interactive: std::io::stderr().is_terminal(),
        }
    }

    /// A line of information for people (stderr keeps stdout clean for results).
    pub fn info(&self, line: &str) {
        if self.format == Format::Text {
            tell!("{}", printable_lines(line));
        }
    }

    pub fn verbose(&self, line: &str) {
        if self.verbose {
            self.info(line);
        }
    }

    pub fn error(&self, error: &Error) {
        let mut stderr = std::io::stderr().lock();
        // Values from the database are escaped where the message is composed; this catches
        // whatever else a message carries (a server's text, a path).
        let _ = writeln!(stderr, "error: {}", printable_lines(&error.to_string()));
        if let Some(hint) = error.hint() {
            let _ = writeln!(stderr, "hint: {}", printable_lines(&hint));
        }
        if self.format == Format::Json {
            let doc = serde_json::json!({
                "error": {
                    "message": error.to_string(),
                    "hint": error.hint(),
                    "exit_code": error.exit_code(),
                }
            });
            say!("{doc}");
        }
    }

    /// Reports steps as they finish: a bar on a terminal, a line each otherwise.
    pub fn observer(&self) -> Box<dyn Observer> {
        match self.format {
            Format::Json | Format::Quiet => Box::new(crate::migrate::IgnoreProgress),
            Format::Text => Box::new(progress::StepPrinter::new(self.interactive, self.verbose)),
        }
    }

    pub fn run_report(&self, dialect: Dialect, url: &str, report: &RunReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(&Tagged {
                dialect,
                url,
                report,
            }),
            Format::Text if report.dry_run => print_dry_run(report),
            Format::Text => {
                for item in &report.drift_allowed {
                    tell!("warning: drift allowed: {item}");
                }
                let current = position_text(report.current_version);
                if report.steps.is_empty() {
                    say!("nothing to do: {current}");
                } else {
                    say!("{current}");
                }
            }
        }
    }

    pub fn repair_report(&self, repaired: &[crate::error::DriftItem]) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(&serde_json::json!({ "repaired": repaired })),
            Format::Text if repaired.is_empty() => {
                say!("nothing to repair: no applied migration changed")
            }
            Format::Text => {
                for item in repaired {
                    say!(
                        "accepted {} ({}): checksum {} -> {}",
                        item.version,
                        printable(item.file.as_deref().unwrap_or("?")),
                        printable(&item.recorded),
                        printable(item.current.as_deref().unwrap_or("?"))
                    );
                }
            }
        }
    }

    pub fn status_report(&self, report: &StatusReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => print_status(report),
        }
    }
}

impl Output {
    /// A line people need to see even in JSON mode (on stderr): a generated key, what reset
    /// destroys.
    pub fn notice(&self, line: &str) {
        if self.format != Format::Quiet {
            tell!("{}", printable_lines(line));
        }
    }

    pub fn secret_key(&self, key: &str) {
        match self.format {
            Format::Json => print_json(&serde_json::json!({ "key": key })),
            _ => say!("{key}"),
        }
    }

    /// Says what `--wait` waits for (stderr, text format only).
    pub fn wait_observer(&self) -> impl WaitObserver + use<> {
        progress::WaitPrinter(*self)
    }

    /// Shows a bar while a large table is seeded, on a terminal; the results come from
    /// `seed_report` once committed.
    pub fn seed_observer(&self) -> Box<dyn SeedObserver> {
        match self.format {
            Format::Json | Format::Quiet => Box::new(crate::seed::IgnoreProgress),
            Format::Text => Box::new(progress::SeedPrinter::new(self.interactive)),
        }
    }

    /// `reset`: the migration run and the seed, as one JSON document with `--json`.
    pub fn reset_report(
        &self,
        dialect: Dialect,
        url: &str,
        migrated: &RunReport,
        seeded: Option<&SeedReport>,
    ) {
        if self.format == Format::Json {
            print_json(&serde_json::json!({
                "dialect": dialect,
                "url": url,
                "migrate": migrated,
                "seed": seeded,
            }));
            return;
        }
        self.run_report(dialect, url, migrated);
        if let Some(seeded) = seeded {
            self.seed_report(seeded);
        }
    }

    /// A seed's results, printed once they are committed (or rolled back, for a dry run):
    /// nothing about a seed is printed while its transaction is open.
    pub fn seed_report(&self, report: &SeedReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => {
                let mut out = std::io::stdout().lock();
                for table in &report.tables {
                    let _ = writeln!(out, "{}", table_line(table, report.dry_run));
                }
                let mode = match report.mode {
                    SeedMode::Replace => "replace",
                    SeedMode::Upsert => "upsert",
                };
                let touched = report.tables.len();
                let _ = if report.dry_run {
                    writeln!(
                        out,
                        "dry run ({mode} mode): {touched} table(s) would change as above; nothing was written"
                    )
                } else {
                    let changed = report.tables.iter().filter(|t| t.changed()).count();
                    writeln!(
                        out,
                        "seeded {touched} table(s), {changed} changed, in {} ms ({mode} mode)",
                        HumanCount(report.duration_ms)
                    )
                };
            }
        }
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
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(&Tagged { url, report }),
            Format::Text => {
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
                if let Some(era) = report.era {
                    let era = match era {
                        AlembicEra::OriginalUpToPlant => "the original chain, up to add_plant",
                        AlembicEra::OriginalLater => "the original chain, past add_plant",
                        AlembicEra::Squash => "the chain since the squash",
                    };
                    let _ = writeln!(out, "alembic history: {era}");
                }
                // With `--converge`, its own lines below say what changed and what was kept.
                if !report.convergible.is_empty() && report.converge.is_none() {
                    let _ = writeln!(
                        out,
                        "{} difference(s) from plantdb's definitions lose nothing when converged ({}; `plantdb migrate adopt --converge` applies plantdb's definitions):",
                        report.convergible.len(),
                        if report.dry_run {
                            "would be recorded"
                        } else {
                            "recorded"
                        }
                    );
                    for difference in &report.convergible {
                        let _ = writeln!(out, "  {}", printable(&difference.to_string()));
                    }
                }
                if !report.not_plantdbs.is_empty() {
                    let _ = writeln!(out, "kept, not plantdb's ({}):", report.not_plantdbs.len());
                    for foreign in &report.not_plantdbs {
                        let _ = writeln!(out, "  {}", printable(&foreign.to_string()));
                    }
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
                if let Some(plan) = &report.converge {
                    converge_text(&mut out, plan, report.dry_run);
                }
                if report.dry_run {
                    let _ = writeln!(out, "dry run: nothing was changed");
                }
            }
        }
    }

    pub fn distribute_report(&self, url: &str, report: &DistributeReport) {
        #[derive(Serialize)]
        struct Tagged<'a> {
            url: &'a str,
            #[serde(flatten)]
            report: &'a DistributeReport,
        }
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(&Tagged { url, report }),
            Format::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "distribute {}", printable(url));
                for notice in &report.notices {
                    let _ = writeln!(out, "  {}", printable(notice));
                }
                citus_lines(&mut out, &report.citus);
            }
        }
    }

    pub fn baseline_report(&self, url: &str, report: &BaselineReport) {
        #[derive(Serialize)]
        struct Tagged<'a> {
            url: &'a str,
            #[serde(flatten)]
            report: &'a BaselineReport,
        }
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(&Tagged { url, report }),
            Format::Text => {
                let mut out = std::io::stdout().lock();
                let from = report
                    .foreign_id
                    .as_deref()
                    .map(|id| format!(", taking over from {}", printable(id)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{}: {} table(s) to baseline{from}",
                    printable(url),
                    report.tables.len()
                );
                if !report.left_out.is_empty() {
                    let _ = writeln!(
                        out,
                        "left as they are, not baselined: {}",
                        printable(&report.left_out.join(", "))
                    );
                }
                for file in &report.files {
                    if report.dry_run {
                        let _ = writeln!(out, "would write {}:", printable(&file.path));
                        let _ = writeln!(out, "{}", printable_lines(&file.sql));
                    } else {
                        let _ = writeln!(out, "wrote {}", printable(&file.path));
                    }
                }
                if report.dry_run {
                    let _ = writeln!(out, "dry run: nothing was written or recorded");
                } else {
                    let _ = writeln!(
                        out,
                        "recorded {} {} as applied (not run)",
                        report.version,
                        printable(&report.name)
                    );
                }
            }
        }
    }

    pub fn new_report(&self, report: &NewReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "created migration {} {}", report.version, report.name);
                for file in &report.files {
                    let _ = writeln!(out, "  {file}");
                }
            }
        }
    }

    pub fn live_report(&self, report: &LiveReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "live schema of {} against {} applied migration(s)",
                    printable(&report.url),
                    report.compared.len()
                );
                if !report.unknown_versions.is_empty() {
                    let list: Vec<String> = report
                        .unknown_versions
                        .iter()
                        .map(|v| v.to_string())
                        .collect();
                    let _ = writeln!(
                        out,
                        "skipped (applied, but no migration file): {}",
                        list.join(", ")
                    );
                }
                for difference in &report.drift {
                    let _ = writeln!(out, "DRIFT {}", printable(&difference.to_string()));
                }
                for added in &report.added {
                    let _ = writeln!(
                        out,
                        "DRIFT {} (no migration defines it)",
                        printable(&added.to_string())
                    );
                }
                if report.accepted_at_adoption > 0 {
                    let _ = writeln!(
                        out,
                        "{} difference(s) accepted at adoption (not drift)",
                        report.accepted_at_adoption
                    );
                }
                if !report.not_plantdbs.is_empty() {
                    let tables: Vec<String> = report
                        .not_plantdbs
                        .iter()
                        .map(|f| format!("`{}`", printable(&f.table)))
                        .collect();
                    let _ = writeln!(out, "not plantdb's (not checked): {}", tables.join(", "));
                }
                if !report.has_drift() {
                    let _ = writeln!(
                        out,
                        "ok: plantdb's tables are as their migrations made them"
                    );
                }
            }
        }
    }

    pub fn verify_report(&self, report: &VerifyReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => {
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

/// Bytes as they are (a completion script, a man page): no format applies.
pub fn write_raw(bytes: &[u8]) -> Result<(), Error> {
    match std::io::stdout().lock().write_all(bytes) {
        // A reader that stopped early (`| head`) is not an error worth reporting.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            path: "stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Counts are grouped like the progress bar's (302,400).
/// `seeded   plants   1 inserted, 0 updated, 2 deleted, 5 unchanged; 3 deleted by ON DELETE
/// CASCADE`: the four counts for a table the fixtures write, the rules' effects where any.
fn table_line(table: &TableReport, dry_run: bool) -> String {
    let written = table.inserted + table.updated + table.deleted + table.unchanged > 0;
    let mut parts = Vec::new();
    if written || (table.cascade_deleted == 0 && table.set_null == 0) {
        parts.push(format!(
            "{} inserted, {} updated, {} deleted, {} unchanged",
            HumanCount(table.inserted),
            HumanCount(table.updated),
            HumanCount(table.deleted),
            HumanCount(table.unchanged)
        ));
    }
    if table.cascade_deleted > 0 {
        parts.push(format!(
            "{} deleted by ON DELETE CASCADE",
            HumanCount(table.cascade_deleted)
        ));
    }
    if table.set_null > 0 {
        parts.push(format!(
            "{} set to NULL by ON DELETE SET NULL",
            HumanCount(table.set_null)
        ));
    }
    let verb = if dry_run { "would" } else { "seeded" };
    format!("{verb:<8} {:<22} {}", table.table, parts.join("; "))
}

#[derive(Serialize)]
struct Tagged<'a> {
    dialect: Dialect,
    url: &'a str,
    #[serde(flatten)]
    report: &'a RunReport,
}

/// Like every other print, a closed pipe (`| head`) is ignored, not a panic.
fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        Err(e) => tell!("error: cannot render JSON: {e}"),
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Sqlite => "SQLite",
    }
}

/// The version for `status`: `none` when nothing is applied.
/// `status`'s Citus lines: whether it is used, the workers, and each table Citus manages.
fn citus_lines(out: &mut impl std::io::Write, citus: &crate::db::citus::CitusState) {
    let workers: Vec<String> = citus
        .workers
        .iter()
        .map(|w| format!("{}:{}", w.host, w.port))
        .collect();
    let _ = writeln!(
        out,
        "citus: {}, installed {}, {} worker(s){}",
        if citus.in_use { "in use" } else { "not in use" },
        if citus.installed { "yes" } else { "no" },
        workers.len(),
        if workers.is_empty() {
            String::new()
        } else {
            format!(": {}", workers.join(", "))
        }
    );
    for table in &citus.tables {
        let by = table
            .distribution_column
            .as_deref()
            .map_or(String::new(), |column| format!(" by {column}"));
        let _ = writeln!(
            out,
            "  {} {}{by}, {} shard(s)",
            table.kind, table.name, table.shard_count
        );
    }
}

fn version_text(version: Option<Version>) -> String {
    version.map_or("none".into(), |v| v.to_string())
}

/// Where a run left the database, as a sentence.
fn position_text(version: Option<Version>) -> String {
    version.map_or("no migration is applied".into(), |v| {
        format!("database is at {v}")
    })
}

fn verb(direction: Direction, past: bool) -> &'static str {
    match (direction, past) {
        (Direction::Up, true) => "applied",
        (Direction::Down, true) => "reverted",
        (Direction::Up, false) => "applying",
        (Direction::Down, false) => "reverting",
    }
}

fn step_lines(report: &StepReport, verbose: bool) -> Vec<String> {
    let action = if report.faked {
        "faked"
    } else {
        verb(report.direction, true)
    };
    let mut lines = vec![format!(
        "{action:<8} {} {} ({} ms)",
        report.version,
        printable(&report.name),
        report.duration_ms
    )];
    if verbose {
        lines.push(format!("  file: {}", printable(&report.file)));
    }
    if !report.atomic {
        lines.push(
            "  note: ran outside a transaction (-- plantdb:no-transaction); not atomic".into(),
        );
    }
    lines.extend(report.notices.iter().map(|n| format!("  {}", printable(n))));
    lines
}

fn print_dry_run(report: &RunReport) {
    let mut out = std::io::stdout().lock();
    for step in &report.steps {
        let action = if step.faked {
            "record as applied (fake)"
        } else {
            verb(step.direction, false)
        };
        let _ = writeln!(
            out,
            "-- {action} {} {} ({})",
            step.version,
            printable(&step.name),
            printable(&step.file)
        );
        if !step.atomic {
            let _ = writeln!(out, "-- runs outside a transaction: not atomic");
        }
        if !step.faked
            && let Some(sql) = &step.sql
        {
            let _ = writeln!(out, "{}", printable_lines(sql.trim_end()));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "-- dry run: {} step(s), nothing was changed; {}",
        report.steps.len(),
        position_text(report.current_version)
    );
}

/// A telemetry policy in `status`'s text: what runs, or why nothing does.
fn policy_text(state: &PolicyState) -> String {
    match state {
        PolicyState::Applied { after } => format!("after {}", printable(after)),
        PolicyState::NoOp => "no-op (TimescaleDB not used)".into(),
        PolicyState::Pending => "pending".into(),
    }
}

fn print_status(report: &StatusReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "database:  {} ({})",
        printable(&report.url),
        dialect_name(report.dialect)
    );
    let state = if report.up_to_date {
        "up to date".to_string()
    } else {
        let mut parts = Vec::new();
        if !report.pending.is_empty() {
            parts.push(format!("{} pending", report.pending.len()));
        }
        if !report.drifted.is_empty() {
            parts.push(format!("{} drifted", report.drifted.len()));
        }
        if !report.missing.is_empty() {
            parts.push(format!("{} missing", report.missing.len()));
        }
        parts.join(", ")
    };
    let _ = writeln!(
        out,
        "version:   {} ({state})",
        version_text(report.current_version)
    );
    if let Some(ts) = &report.timescaledb {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let preloaded = ts.preloaded.map_or("unknown (needs superuser)", yes_no);
        let _ = writeln!(
            out,
            "timescaledb: available {}, preloaded {preloaded}, installed {}, telemetry {}",
            yes_no(ts.available),
            yes_no(ts.installed),
            ts.telemetry.describe()
        );
    }
    if let Some(policies) = &report.telemetry_policies {
        let _ = writeln!(
            out,
            "telemetry: compression {}, retention {}, telemetry_hourly {}",
            policy_text(&policies.compression),
            policy_text(&policies.retention),
            match policies.telemetry_hourly {
                HourlyKind::ContinuousAggregate => "is a continuous aggregate",
                HourlyKind::View => "is an ordinary view",
                HourlyKind::Absent => "is absent",
            }
        );
    }
    if let Some(citus) = report.citus.as_ref().filter(|c| c.available || c.installed) {
        citus_lines(&mut out, citus);
    }
    let _ = writeln!(out);
    for applied in &report.applied {
        let flag = if report.drifted.iter().any(|d| d.version == applied.version) {
            "DRIFTED"
        } else if report.missing.iter().any(|d| d.version == applied.version) {
            "MISSING"
        } else {
            "applied"
        };
        let _ = writeln!(
            out,
            "  {flag:<8} {} {:<28} {}",
            applied.version,
            printable(&applied.name),
            printable(&applied.applied_at)
        );
    }
    for pending in &report.pending {
        let _ = writeln!(
            out,
            "  {:<8} {} {}",
            "pending",
            pending.version,
            printable(&pending.name)
        );
    }
    for item in report.drifted.iter().chain(&report.missing) {
        let _ = writeln!(out, "\n  {item}");
    }
}

/// What `migrate adopt --converge` changed (or would), what it kept, and on a dry run its SQL.
fn converge_text(out: &mut impl Write, plan: &ConvergePlan, dry_run: bool) {
    let place = |table: &str, column: &Option<String>| match column {
        Some(column) => format!("{}.{}", printable(table), printable(column)),
        None => printable(table).into_owned(),
    };
    let verb = if dry_run {
        "would converge"
    } else {
        "converged"
    };
    if plan.changes.is_empty() {
        let _ = writeln!(out, "converge: nothing to change");
    }
    for change in &plan.changes {
        let note = change
            .note
            .as_deref()
            .map(|n| format!(" ({})", printable(n)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{verb} {}: {}{note}",
            place(&change.table, &change.column),
            printable(&change.change)
        );
    }
    for kept in &plan.kept {
        let _ = writeln!(
            out,
            "kept {}: {}",
            place(&kept.table, &kept.column),
            printable(&kept.reason)
        );
    }
    if dry_run && !plan.statements.is_empty() {
        let _ = writeln!(out, "converge would run, in one transaction:");
        for statement in &plan.statements {
            let _ = writeln!(
                out,
                "  {};",
                printable_lines(statement).replace('\n', "\n  ")
            );
        }
    }
}
