//! Executes a plan under the run lock. The CLI and the tests call this same function.

use std::time::Instant;

use super::plan::{self, PlanOptions, PlannedStep, Request};
use super::source::{MigrationSet, Script};
use crate::db::{Direction, Driver, Locked, Step};
use crate::error::{DriftItem, Result, Version};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Show the SQL that would run; change nothing.
    pub dry_run: bool,
    /// Record migrations as applied without running them.
    pub fake: bool,
    pub allow_drift: bool,
    pub allow_out_of_order: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    pub version: Version,
    pub name: String,
    pub direction: Direction,
    pub file: String,
    /// False for `-- plantdb:no-transaction` scripts: a failure may leave part of it behind.
    pub atomic: bool,
    pub faked: bool,
    pub duration_ms: u64,
    /// What the server said while running it (e.g. whether telemetry became a hypertable).
    pub notices: Vec<String>,
    /// The SQL, on dry runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    /// The latest applied version afterwards (before, on dry runs).
    pub current_version: Option<Version>,
    /// Drift that `--allow-drift` let through.
    pub drift_allowed: Vec<DriftItem>,
}

/// Told about each step as it happens, so a terminal can show progress. Never used for results.
pub trait Observer {
    fn planned(&mut self, _total: usize) {}
    fn step_started(
        &mut self,
        _index: usize,
        _version: Version,
        _name: &str,
        _direction: Direction,
    ) {
    }
    fn step_finished(&mut self, _report: &StepReport) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

pub fn migrate(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    request: Request,
    options: RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunReport> {
    let plan_options = PlanOptions {
        allow_drift: options.allow_drift,
        allow_out_of_order: options.allow_out_of_order,
    };
    if options.dry_run {
        // No lock and no history table: a dry run must leave the database exactly as it was.
        let applied = driver.applied()?;
        let gaps = super::adopt::gaps(driver)?;
        let steps = plan::plan_with_gaps(set, &applied, request, plan_options, &gaps)?;
        let (mut drift, missing) = plan::drift(set, &applied);
        drift.extend(missing);
        return Ok(RunReport {
            dry_run: true,
            steps: steps
                .iter()
                .map(|step| dry_report(set, step, options.fake))
                .collect(),
            current_version: applied.last().map(|a| a.version),
            drift_allowed: drift,
        });
    }

    let mut locked = Locked::new(driver)?;
    locked.ensure_history()?;
    let applied = locked.applied()?;
    let gaps = super::adopt::gaps(&mut *locked)?;
    let planned = plan::plan_with_gaps(set, &applied, request, plan_options, &gaps)?;
    let (mut drift, missing) = plan::drift(set, &applied);
    drift.extend(missing);
    observer.planned(planned.len());

    let mut reports = Vec::with_capacity(planned.len());
    for (index, planned_step) in planned.iter().enumerate() {
        let (migration, script) = resolve(set, planned_step);
        observer.step_started(
            index,
            migration.version,
            &migration.name,
            planned_step.direction,
        );
        let fake = options.fake && planned_step.direction == Direction::Up;
        let step = Step {
            version: migration.version,
            name: &migration.name,
            direction: planned_step.direction,
            sql: &script.sql,
            file: &script.file,
            checksum: &migration.checksum,
            transactional: script.transactional,
            foreign_keys_off: script.foreign_keys_off,
            fake,
            expected_latest: planned_step.expected_latest,
        };
        let started = Instant::now();
        let notices = locked.apply(&step)?;
        let report = StepReport {
            version: migration.version,
            name: migration.name.clone(),
            direction: planned_step.direction,
            file: script.file.clone(),
            atomic: script.transactional,
            faked: fake,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            notices,
            sql: None,
        };
        observer.step_finished(&report);
        reports.push(report);
    }
    // What the history holds now follows from what it held and the steps that ran.
    let mut versions: std::collections::BTreeSet<Version> =
        applied.iter().map(|a| a.version).collect();
    for step in &reports {
        match step.direction {
            Direction::Up => versions.insert(step.version),
            Direction::Down => versions.remove(&step.version),
        };
    }
    let current_version = versions.last().copied();
    locked.release()?;
    Ok(RunReport {
        dry_run: false,
        steps: reports,
        current_version,
        drift_allowed: drift,
    })
}

/// The migration and the script a planned step runs. The plan only names known versions.
fn resolve<'a>(
    set: &'a MigrationSet,
    step: &PlannedStep,
) -> (&'a super::source::Migration, &'a Script) {
    let migration = set
        .get(step.version)
        .unwrap_or_else(|| unreachable!("plan::plan names only known versions"));
    let script = match step.direction {
        Direction::Up => &migration.up,
        Direction::Down => migration
            .down
            .as_ref()
            .unwrap_or_else(|| unreachable!("plan::plan checks reversibility")),
    };
    (migration, script)
}

fn dry_report(set: &MigrationSet, step: &PlannedStep, fake: bool) -> StepReport {
    let (migration, script) = resolve(set, step);
    StepReport {
        version: migration.version,
        name: migration.name.clone(),
        direction: step.direction,
        file: script.file.clone(),
        atomic: script.transactional,
        faked: fake && step.direction == Direction::Up,
        duration_ms: 0,
        notices: Vec::new(),
        sql: Some(script.sql.clone()),
    }
}

/// Records the current files' checksums for applied migrations whose files changed, after the
/// user has decided the change is harmless (e.g. a comment). Missing migrations are left alone:
/// there is no file to take a checksum from. Returns what it changed.
pub fn repair(driver: &mut dyn Driver, set: &MigrationSet) -> Result<Vec<DriftItem>> {
    let mut locked = Locked::new(driver)?;
    let applied = locked.applied()?;
    let (drifted, _missing) = plan::drift(set, &applied);
    for item in &drifted {
        if let Some(current) = &item.current {
            // Both values are ours (a 16-digit hex checksum and an integer), safe to inline.
            locked.execute(&format!(
                "UPDATE {} SET checksum = '{current}' WHERE version = {}",
                crate::db::HISTORY_TABLE,
                item.version
            ))?;
        }
    }
    locked.release()?;
    Ok(drifted)
}
