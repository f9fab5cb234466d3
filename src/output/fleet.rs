//! What `plantdb fleet` prints: a progress line per database while it runs (a live line each on
//! a terminal, plain lines otherwise), then one table, or one JSON document.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Format, Output, print_json, verb};
use crate::fleet::{
    DatabaseReport, DatabaseStatus, Entry, FleetObserver, FleetReport, FleetStatus, IgnoreProgress,
    State,
};
use crate::migrate::StepReport;
use crate::printable::printable;

impl Output {
    /// Progress of a fleet run: nothing with `--json` or `--quiet`.
    pub fn fleet_observer(&self, entries: &[Entry]) -> Box<dyn FleetObserver> {
        match self.format {
            Format::Json | Format::Quiet => Box::new(IgnoreProgress),
            Format::Text if self.interactive => Box::new(LiveLines::new(entries)),
            Format::Text => Box::new(PlainLines {
                verbose: self.verbose,
            }),
        }
    }

    pub fn fleet_report(&self, report: &FleetReport) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => print_fleet_report(report),
        }
    }

    pub fn fleet_status(&self, report: &FleetStatus) {
        match self.format {
            Format::Quiet => {}
            Format::Json => print_json(report),
            Format::Text => print_fleet_status(report),
        }
    }

    /// Why `fleet status --check` fails: which databases, on stderr (also with `--json`).
    pub fn fleet_status_check(&self, report: &FleetStatus) {
        for (what, names) in [
            ("unreachable", &report.unreachable),
            ("drifted", &report.drifted),
            ("behind (migrations pending)", &report.behind),
        ] {
            if !names.is_empty() {
                self.notice(&format!("{what}: {}", names.join(", ")));
            }
        }
    }
}

/// One line per database as it starts and ends, for logs and pipes.
struct PlainLines {
    verbose: bool,
}

impl FleetObserver for PlainLines {
    fn started(&self, name: &str) {
        tell(&format!("{}: started", shown(name)));
    }

    fn step_committed(&self, name: &str, step: &StepReport) {
        if self.verbose {
            tell(&format!("{}: {}", shown(name), step_text(step)));
        }
    }

    fn finished(&self, report: &DatabaseReport) {
        tell(&format!(
            "{}: {}",
            shown(&report.name),
            outcome_text(report)
        ));
    }
}

/// A live line per database on a terminal, kept once the database is done.
struct LiveLines {
    bars: MultiProgress,
    lines: Mutex<HashMap<String, ProgressBar>>,
    width: usize,
}

impl LiveLines {
    fn new(entries: &[Entry]) -> LiveLines {
        LiveLines {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            lines: Mutex::new(HashMap::new()),
            width: entries
                .iter()
                .map(|e| e.name.chars().count())
                .max()
                .unwrap_or(0),
        }
    }

    fn line(&self, name: &str) -> Option<ProgressBar> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

impl FleetObserver for LiveLines {
    fn started(&self, name: &str) {
        let bar = self.bars.add(ProgressBar::new_spinner());
        let template = format!("{{spinner}} {{prefix:{}}} {{msg}}", self.width);
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.set_prefix(shown(name));
        bar.set_message("connecting");
        bar.enable_steady_tick(Duration::from_millis(100));
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), bar);
    }

    fn step_committed(&self, name: &str, step: &StepReport) {
        if let Some(bar) = self.line(name) {
            bar.set_message(step_text(step));
        }
    }

    fn finished(&self, report: &DatabaseReport) {
        if let Some(bar) = self.line(&report.name) {
            let mark = if report.state == State::Succeeded {
                "ok"
            } else {
                "!!"
            };
            if let Ok(style) =
                ProgressStyle::with_template(&format!("{mark} {{prefix:{}}} {{msg}}", self.width))
            {
                bar.set_style(style);
            }
            bar.finish_with_message(outcome_text(report));
        }
    }
}

/// A value for the terminal: control characters escaped.
fn shown(text: &str) -> String {
    printable(text).into_owned()
}

fn tell(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn step_text(step: &StepReport) -> String {
    format!(
        "{} {} {}",
        verb(step.direction, true),
        step.version,
        shown(&step.name)
    )
}

fn seconds(ms: Option<u64>) -> String {
    ms.map_or_else(String::new, |ms| format!("{:.2} s", ms as f64 / 1000.0))
}

/// How one database's run ended, in one line.
fn outcome_text(report: &DatabaseReport) -> String {
    let time = seconds(report.duration_ms);
    match report.state {
        State::Succeeded if !report.findings.is_empty() || report.steps.is_empty() => {
            match report.version {
                Some(v) => format!("done in {time}, nothing to do, at {v}"),
                None => format!("done in {time}"),
            }
        }
        State::Succeeded => {
            let up = report
                .steps
                .iter()
                .all(|s| s.direction == crate::db::Direction::Up);
            let at = report
                .version
                .map_or("no migration applied".into(), |v| format!("at {v}"));
            format!(
                "done in {time}, {} {} migration(s), {at}",
                if up { "applied" } else { "reverted" },
                report.steps.len()
            )
        }
        State::Failed => format!("FAILED after {time}: {}", first_line(report)),
        State::NotStarted => report
            .not_started
            .map_or("not started", |why| why.describe())
            .to_string(),
    }
}

fn first_line(report: &DatabaseReport) -> String {
    report
        .error
        .as_ref()
        .map(|e| shown(e.message.lines().next().unwrap_or("")))
        .unwrap_or_default()
}

/// Lays out rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.to_string()
                } else {
                    format!("{c:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines
}

fn print_fleet_report(report: &FleetReport) {
    let mut rows = Vec::new();
    for db in &report.databases {
        let result = match db.state {
            State::Succeeded => match db.steps.len() {
                0 if db.findings.is_empty() => "nothing to do".to_string(),
                0 => String::new(),
                n => format!("{} {n}", verb(db.steps[0].direction, true)),
            },
            State::Failed => first_line(db),
            State::NotStarted => db.not_started.map_or("", |why| why.describe()).to_string(),
        };
        let state = match db.state {
            State::Succeeded => "ok",
            State::Failed => "FAILED",
            State::NotStarted => "not started",
        };
        rows.push(vec![
            shown(&db.name),
            db.wave.to_string(),
            state.to_string(),
            seconds(db.duration_ms),
            db.version.map_or_else(String::new, |v| v.to_string()),
            result,
        ]);
    }
    for line in table(
        &["NAME", "WAVE", "STATE", "TIME", "VERSION", "RESULT"],
        &rows,
    ) {
        say(&line);
    }
    let failed: Vec<&DatabaseReport> = report
        .databases
        .iter()
        .filter(|d| d.state == State::Failed)
        .collect();
    if !failed.is_empty() {
        say("");
        for db in failed {
            if let Some(error) = &db.error {
                say(&format!(
                    "{}: error: {}",
                    shown(&db.name),
                    shown(&error.message)
                ));
                if let Some(hint) = &error.hint {
                    say(&format!("{}: hint: {}", shown(&db.name), shown(hint)));
                }
            }
            for finding in &db.findings {
                say(&format!(
                    "{}: {} ({}): {}",
                    shown(&db.name),
                    finding.version,
                    shown(&finding.file),
                    shown(&finding.message)
                ));
            }
        }
    }
    say("");
    say(&format!(
        "fleet {}: {} succeeded, {} failed, {} not started, in {} (--parallel {}, {}, {} wave(s)){}",
        report.action,
        report.succeeded,
        report.failed,
        report.not_started,
        seconds(Some(report.duration_ms)),
        report.parallel,
        match report.policy {
            crate::fleet::Policy::StopOnFailure => "stop on failure",
            crate::fleet::Policy::KeepGoing => "keep going",
        },
        report.waves,
        if report.interrupted {
            "; interrupted: the running databases finished, no more were started"
        } else {
            ""
        }
    ));
}

fn timescale_text(db: &DatabaseStatus) -> String {
    match &db.timescaledb {
        None if db.reachable => "-".into(),
        None => String::new(),
        Some(t) if t.telemetry_hypertable => "hypertable".into(),
        Some(t) if t.installed => "installed".into(),
        Some(t) if t.available => "available".into(),
        Some(_) => "not available".into(),
    }
}

fn print_fleet_status(report: &FleetStatus) {
    let rows: Vec<Vec<String>> = report
        .databases
        .iter()
        .map(|db| {
            let reached = match &db.error {
                None => "yes".to_string(),
                Some(e) => format!("NO: {}", shown(e.message.lines().next().unwrap_or(""))),
            };
            let known = |text: String| if db.reachable { text } else { String::new() };
            vec![
                shown(&db.name),
                shown(&db.url),
                known(db.current_version.map_or("-".into(), |v| v.to_string())),
                known(db.pending.to_string()),
                known(db.drifted.to_string()),
                timescale_text(db),
                reached,
            ]
        })
        .collect();
    for line in table(
        &[
            "NAME",
            "URL",
            "VERSION",
            "PENDING",
            "DRIFT",
            "TIMESCALEDB",
            "REACHABLE",
        ],
        &rows,
    ) {
        say(&line);
    }
}
