//! Many databases at once: the fleet file names them, and `status`, `migrate up`/`down` and
//! `verify` run on each with the single-database engine, a few at a time (`schedule`).

pub mod file;
pub mod schedule;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub use file::{DEFAULT_FILE, Entry, Fleet};
pub use schedule::{NotStarted, Policy};

use crate::config::{SqliteTarget, Target, TimescalePolicy};
use crate::db::postgres::TimescaleState;
use crate::db::{self, Access, Dialect, Driver, LockWait};
use crate::error::{Error, Result, Version, exit};
use crate::migrate::{self, MigrationSet, Observer, Request, RunOptions, StepReport};
use crate::verify::{self, Finding, VerifyOptions};

/// What every fleet command shares.
pub struct FleetOptions<'a> {
    /// `--migrations`: the fleet-wide migrations, unless an entry has its own.
    pub migrations: Option<&'a Path>,
    pub timescale: TimescalePolicy,
    /// How each database's run waits for plantdb's lock on it.
    pub lock_wait: LockWait,
    /// How many databases are worked on at once.
    pub parallel: usize,
    pub policy: Policy,
    /// Set (by SIGINT) to start nothing new.
    pub interrupted: &'a AtomicBool,
}

/// Which databases go first.
#[derive(Debug, Clone)]
pub enum Order {
    /// One wave: every database.
    Together,
    /// These databases (names, or groups whose members) first; the rest once they succeeded.
    Canary(Vec<String>),
    /// One wave per group, in the order the fleet file first names the groups; databases in no
    /// group last. A database in several groups goes with the first of them.
    Waves,
}

/// What a fleet run does on each database.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Up { to: Option<Version> },
    Down { to: Version },
    Verify { all: bool },
}

impl Action {
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up { .. } => "migrate up",
            Action::Down { .. } => "migrate down",
            Action::Verify { .. } => "verify",
        }
    }
}

/// Told as the run goes, from the worker threads, so a terminal can show progress.
pub trait FleetObserver: Sync {
    fn started(&self, _name: &str) {}
    fn step_committed(&self, _name: &str, _step: &StepReport) {}
    fn finished(&self, _report: &DatabaseReport) {}
}

/// An observer for callers that show no progress.
pub struct IgnoreProgress;
impl FleetObserver for IgnoreProgress {}

/// The summary of a fleet run, as `--json` prints it (documented in the README).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FleetReport {
    pub action: &'static str,
    /// True when every selected database succeeded and the run was not interrupted.
    pub ok: bool,
    /// True when SIGINT stopped the run from starting more.
    pub interrupted: bool,
    pub parallel: usize,
    pub policy: Policy,
    pub waves: usize,
    pub duration_ms: u64,
    pub succeeded: usize,
    pub failed: usize,
    pub not_started: usize,
    /// In fleet file order.
    pub databases: Vec<DatabaseReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Succeeded,
    Failed,
    NotStarted,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseReport {
    pub name: String,
    /// Password masked.
    pub url: String,
    pub dialect: Dialect,
    pub groups: Vec<String>,
    /// 1-based.
    pub wave: usize,
    pub state: State,
    /// `null` when it did not start.
    pub duration_ms: Option<u64>,
    /// The latest applied version after the run (migrate), `null` when none or unknown.
    pub version: Option<Version>,
    /// The migrations applied or reverted, each once committed.
    pub steps: Vec<StepReport>,
    /// `verify`'s findings.
    pub findings: Vec<Finding>,
    pub error: Option<Failure>,
    /// Why it did not start.
    pub not_started: Option<NotStarted>,
}

/// An error, as the summary keeps it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    pub exit_code: i32,
    /// The database could not be reached or opened.
    pub unreachable: bool,
}

impl Failure {
    fn of(error: &Error) -> Failure {
        Failure {
            message: error.to_string(),
            hint: error.hint(),
            exit_code: error.exit_code(),
            unreachable: error.exit_code() == exit::UNREACHABLE,
        }
    }
}

impl FleetReport {
    /// 0 when every database succeeded (and no SIGINT came), else 1.
    pub fn exit_code(&self) -> i32 {
        if self.ok { 0 } else { exit::ERROR }
    }
}

/// The waves of `entries` (indices into it) for `order`.
pub fn waves(entries: &[Entry], order: &Order) -> Result<Vec<Vec<usize>>> {
    let all: Vec<usize> = (0..entries.len()).collect();
    match order {
        Order::Together => Ok(vec![all]),
        Order::Canary(names) => {
            for name in names {
                let known = entries
                    .iter()
                    .any(|e| &e.name == name || e.groups.contains(name));
                if !known {
                    return Err(Error::Fleet {
                        message: format!(
                            "`--canary {name}`: no selected database is named `{name}` or is in group `{name}`"
                        ),
                        hint: "name a database or a group of the fleet file (and of --only/--group, if given)".into(),
                        source: None,
                    });
                }
            }
            let (first, rest): (Vec<usize>, Vec<usize>) = all.into_iter().partition(|&i| {
                let e = &entries[i];
                names.iter().any(|n| &e.name == n || e.groups.contains(n))
            });
            Ok([first, rest]
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect())
        }
        Order::Waves => {
            let mut groups: Vec<&String> = Vec::new();
            for group in entries.iter().flat_map(|e| &e.groups) {
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
            if groups.is_empty() {
                return Err(Error::Fleet {
                    message: "`--waves`: no selected database is in a group".into(),
                    hint: file::group_list(&[]),
                    source: None,
                });
            }
            let mut waves: Vec<Vec<usize>> = vec![Vec::new(); groups.len() + 1];
            for (i, e) in entries.iter().enumerate() {
                let wave = e
                    .groups
                    .first()
                    .and_then(|g| groups.iter().position(|known| *known == g))
                    .unwrap_or(groups.len());
                waves[wave].push(i);
            }
            Ok(waves.into_iter().filter(|w| !w.is_empty()).collect())
        }
    }
}

/// The migrations each entry runs, loaded before anything starts: a bad migration file stops
/// the whole run before any database is touched.
struct Sets(HashMap<(Option<PathBuf>, Dialect), MigrationSet>);

impl Sets {
    fn load(entries: &[Entry], options: &FleetOptions) -> Result<Sets> {
        let mut sets = HashMap::new();
        for entry in entries {
            let key = (migrations_of(entry, options), entry.target.dialect());
            if let std::collections::hash_map::Entry::Vacant(slot) = sets.entry(key) {
                let (dir, dialect) = slot.key();
                let set = MigrationSet::load(dir.as_deref(), *dialect)?;
                slot.insert(set);
            }
        }
        Ok(Sets(sets))
    }

    fn of(&self, entry: &Entry, options: &FleetOptions) -> &MigrationSet {
        &self.0[&(migrations_of(entry, options), entry.target.dialect())]
    }
}

fn migrations_of(entry: &Entry, options: &FleetOptions) -> Option<PathBuf> {
    entry
        .migrations
        .clone()
        .or_else(|| options.migrations.map(Path::to_path_buf))
}

/// Runs `action` on each of `entries` in `waves`.
pub fn run(
    entries: &[Entry],
    waves: &[Vec<usize>],
    action: Action,
    options: &FleetOptions,
    observer: &dyn FleetObserver,
) -> Result<FleetReport> {
    let sets = Sets::load(entries, options)?;
    let wave_of = |index: usize| {
        waves
            .iter()
            .position(|w| w.contains(&index))
            .map_or(0, |w| w + 1)
    };
    let report_of = |entry: &Entry, wave: usize, state: State| DatabaseReport {
        name: entry.name.clone(),
        url: entry.shown_url.clone(),
        dialect: entry.target.dialect(),
        groups: entry.groups.clone(),
        wave,
        state,
        duration_ms: None,
        version: None,
        steps: Vec::new(),
        findings: Vec::new(),
        error: None,
        not_started: None,
    };
    let started = Instant::now();
    let work = |index: usize| {
        let entry = &entries[index];
        observer.started(&entry.name);
        let began = Instant::now();
        let mut report = report_of(entry, wave_of(index), State::Succeeded);
        let outcome = match action {
            Action::Verify { all } => verify_one(entry, all, options).map(|found| {
                report.findings = found;
            }),
            Action::Up { .. } | Action::Down { .. } => {
                let mut told = Told {
                    name: &entry.name,
                    observer,
                    steps: Vec::new(),
                };
                let outcome =
                    migrate_one(entry, sets.of(entry, options), action, options, &mut told);
                report.steps = told.steps;
                outcome.map(|version| report.version = version)
            }
        };
        report.duration_ms = Some(began.elapsed().as_millis() as u64);
        match outcome {
            Ok(()) if report.findings.is_empty() => {}
            Ok(()) => {
                report.state = State::Failed;
                report.error = Some(Failure {
                    message: format!("verify found {} problem(s)", report.findings.len()),
                    hint: None,
                    exit_code: exit::ERROR,
                    unreachable: false,
                });
            }
            Err(e) => {
                report.state = State::Failed;
                report.error = Some(Failure::of(&e));
            }
        }
        observer.finished(&report);
        let ok = report.state == State::Succeeded;
        (report, ok)
    };
    let slots = schedule::run(
        entries.len(),
        waves,
        options.parallel,
        options.policy,
        options.interrupted,
        &work,
    );
    let databases: Vec<DatabaseReport> = slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| match slot {
            schedule::Slot::Ran { result, .. } => result,
            schedule::Slot::NotStarted(why) => DatabaseReport {
                not_started: Some(why),
                ..report_of(&entries[index], wave_of(index), State::NotStarted)
            },
        })
        .collect();
    let count = |state: State| databases.iter().filter(|d| d.state == state).count();
    let succeeded = count(State::Succeeded);
    let interrupted = options
        .interrupted
        .load(std::sync::atomic::Ordering::SeqCst);
    Ok(FleetReport {
        action: action.describe(),
        // An interrupted run is not a success, even when nothing was left to start.
        ok: succeeded == databases.len() && !interrupted,
        interrupted,
        parallel: options.parallel,
        policy: options.policy,
        waves: waves.len(),
        duration_ms: started.elapsed().as_millis() as u64,
        succeeded,
        failed: count(State::Failed),
        not_started: count(State::NotStarted),
        databases,
    })
}

/// Passes each committed step on to the fleet's observer, and keeps it for the summary.
struct Told<'a> {
    name: &'a str,
    observer: &'a dyn FleetObserver,
    steps: Vec<StepReport>,
}

impl Observer for Told<'_> {
    fn step_committed(&mut self, report: &StepReport) {
        self.observer.step_committed(self.name, report);
        self.steps.push(report.clone());
    }
}

fn connect(entry: &Entry, access: Access, options: &FleetOptions) -> Result<Box<dyn Driver>> {
    let mut driver = db::connect(&entry.target, access, options.timescale)?;
    driver.set_lock_wait(options.lock_wait.clone());
    Ok(driver)
}

/// One database's `migrate up`/`down`, under its own lock, as `plantdb migrate` runs it.
fn migrate_one(
    entry: &Entry,
    set: &MigrationSet,
    action: Action,
    options: &FleetOptions,
    observer: &mut dyn Observer,
) -> Result<Option<Version>> {
    if matches!(entry.target, Target::Sqlite(_)) && options.timescale == TimescalePolicy::Require {
        return Err(Error::TimescaleRequiresPostgres);
    }
    let request = match action {
        Action::Up { to } => Request::Up { to, count: None },
        Action::Down { to } => Request::Down {
            to: Some(to),
            count: None,
        },
        Action::Verify { .. } => unreachable!("verify is not a migration run"),
    };
    let mut driver = connect(entry, Access::ReadWrite, options)?;
    let report = migrate::migrate(
        driver.as_mut(),
        set,
        request,
        RunOptions::default(),
        observer,
    )?;
    Ok(report.current_version)
}

fn verify_one(entry: &Entry, all: bool, options: &FleetOptions) -> Result<Vec<Finding>> {
    // A SQLite file that does not exist yet is an empty database: everything is pending.
    let mut driver = match &entry.target {
        Target::Sqlite(SqliteTarget::File(path)) if !path.exists() => db::connect(
            &Target::Sqlite(SqliteTarget::Memory),
            Access::ReadOnly,
            options.timescale,
        )?,
        _ => connect(entry, Access::ReadOnly, options)?,
    };
    let report = verify::verify(
        driver.as_mut(),
        &entry.target,
        &entry.shown_url,
        migrations_of(entry, options).as_deref(),
        VerifyOptions {
            all,
            timescale: options.timescale,
        },
    )?;
    Ok(report.findings)
}

/// `fleet status`: where each database stands, as `--json` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FleetStatus {
    /// True when every database is reachable, up to date and without drift.
    pub up_to_date: bool,
    /// The names of the databases with pending migrations, with drift, and that could not be
    /// reached (or read).
    pub behind: Vec<String>,
    pub drifted: Vec<String>,
    pub unreachable: Vec<String>,
    pub databases: Vec<DatabaseStatus>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseStatus {
    pub name: String,
    pub url: String,
    pub dialect: Dialect,
    pub groups: Vec<String>,
    pub reachable: bool,
    pub current_version: Option<Version>,
    pub latest_version: Option<Version>,
    pub pending: usize,
    /// Applied migrations that changed or are missing.
    pub drifted: usize,
    /// `null` on SQLite and when unreachable.
    pub timescaledb: Option<TimescaleState>,
    pub error: Option<Failure>,
}

impl FleetStatus {
    /// `fleet status --check`: 5 when a database could not be reached, else 4 on drift, else 3
    /// when migrations are pending, else 0.
    pub fn check_exit_code(&self) -> i32 {
        if !self.unreachable.is_empty() {
            exit::UNREACHABLE
        } else if !self.drifted.is_empty() {
            exit::DRIFT
        } else if !self.behind.is_empty() {
            exit::PENDING
        } else {
            0
        }
    }
}

/// Reads each database's status (read-only), `options.parallel` at a time.
pub fn status(entries: &[Entry], options: &FleetOptions) -> Result<FleetStatus> {
    let sets = Sets::load(entries, options)?;
    let work = |index: usize| {
        let entry = &entries[index];
        let mut row = DatabaseStatus {
            name: entry.name.clone(),
            url: entry.shown_url.clone(),
            dialect: entry.target.dialect(),
            groups: entry.groups.clone(),
            reachable: true,
            current_version: None,
            latest_version: None,
            pending: 0,
            drifted: 0,
            timescaledb: None,
            error: None,
        };
        let read = connect(entry, Access::ReadOnly, options).and_then(|mut driver| {
            crate::status::status(driver.as_mut(), sets.of(entry, options), &entry.shown_url)
        });
        match read {
            Ok(report) => {
                row.current_version = report.current_version;
                row.latest_version = report.latest_version;
                row.pending = report.pending.len();
                row.drifted = report.drifted.len() + report.missing.len();
                row.timescaledb = report.timescaledb;
            }
            Err(e) => {
                // Whatever kept the status from being read, the database is not known to be
                // fine: `--check` counts it as unreachable, and the error says what happened.
                row.reachable = false;
                row.error = Some(Failure::of(&e));
            }
        }
        (row, true)
    };
    let slots = schedule::run(
        entries.len(),
        &[(0..entries.len()).collect()],
        options.parallel,
        Policy::KeepGoing,
        options.interrupted,
        &work,
    );
    let mut databases = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        match slot {
            schedule::Slot::Ran { result, .. } => databases.push(result),
            schedule::Slot::NotStarted(_) => {
                return Err(Error::Fleet {
                    message: format!(
                        "interrupted before the status of `{}` was read",
                        entries[index].name
                    ),
                    hint: "run `plantdb fleet status` again".into(),
                    source: None,
                });
            }
        }
    }
    let names = |keep: &dyn Fn(&DatabaseStatus) -> bool| -> Vec<String> {
        databases
            .iter()
            .filter(|d| keep(d))
            .map(|d| d.name.clone())
            .collect()
    };
    let behind = names(&|d| d.pending > 0);
    let drifted = names(&|d| d.drifted > 0);
    let unreachable = names(&|d| !d.reachable);
    Ok(FleetStatus {
        up_to_date: behind.is_empty() && drifted.is_empty() && unreachable.is_empty(),
        behind,
        drifted,
        unreachable,
        databases,
    })
}
