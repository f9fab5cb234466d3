//! Executes a plan under the run lock. The CLI and the tests call this same function.

use std::time::Instant;

use super::plan::{self, PlanOptions, PlannedStep, Request};
use super::source::{MigrationSet, Script};
use crate::db::{Dialect, Direction, Driver, Locked, Step};
use crate::error::{DriftItem, Error, Result, Version};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Show the SQL that would run; change nothing.
    pub dry_run: bool,
    /// Record migrations as applied without running them.
    pub fake: bool,
    pub allow_drift: bool,
    pub allow_out_of_order: bool,
    /// Run the whole plan in one transaction: every step or none (`psql -1`).
    pub single_transaction: bool,
    /// Revert migrations `migrate adopt` recorded from another tool's history too.
    pub below_adoption: bool,
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
    /// The step is committed: a crash from here on keeps it. Steps are told in order, and only
    /// steps that are committed; on SQLite (whose run is one write transaction) and in a
    /// one-transaction run that is when the run commits, not when the step ran.
    fn step_committed(&mut self, _report: &StepReport) {}
}

/// An observer for callers that show no progress (tests, `--json`, `--quiet`).
pub struct IgnoreProgress;
impl Observer for IgnoreProgress {}

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
    let scope = OneTransaction::of(request, options);
    if options.dry_run {
        // No lock and no history table: a dry run must leave the database exactly as it was.
        let applied = driver.applied()?;
        let gaps = driver.adoption_gaps()?;
        let steps = plan::plan_with_gaps(set, &applied, request, plan_options, &gaps)?;
        refuse_below_adoption(driver, set, &steps, options)?;
        if let Some(scope) = scope {
            scope.check(set, &steps, options.fake)?;
        }
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
    // Planned and checked before the history table is created: a refused run changes nothing.
    let applied = locked.applied()?;
    let gaps = locked.adoption_gaps()?;
    let planned = plan::plan_with_gaps(set, &applied, request, plan_options, &gaps)?;
    refuse_below_adoption(&mut *locked, set, &planned, options)?;
    if let Some(scope) = scope {
        scope.check(set, &planned, options.fake)?;
    }
    locked.ensure_history()?;
    let (mut drift, missing) = plan::drift(set, &applied);
    drift.extend(missing);
    observer.planned(planned.len());

    let mut progress = Progress {
        reports: Vec::with_capacity(planned.len()),
        told: 0,
    };
    let commits_before_unlock = locked.commits_before_unlock();
    let outcome = if scope.is_some() {
        locked
            .transaction(|driver| {
                run_steps(
                    driver,
                    set,
                    &planned,
                    options,
                    false,
                    observer,
                    &mut progress,
                )
            })
            .map(|()| {
                if commits_before_unlock {
                    progress.tell(observer);
                }
            })
    } else {
        run_steps(
            &mut *locked,
            set,
            &planned,
            options,
            commits_before_unlock,
            observer,
            &mut progress,
        )
    };
    if let Err(error) = outcome {
        // The database itself may have rolled back the whole run (SQLite `OR ROLLBACK`).
        let run_lost = matches!(error, Error::RolledBack { .. });
        if let Some(scope) = scope {
            // Nothing of the run is left (the transaction was rolled back), so none of its
            // steps is reported. A failure to release the lock would only hide the run's own
            // error.
            let _ = locked.release();
            return Err(if run_lost {
                error
            } else {
                Error::RolledBack {
                    cause: Box::new(error),
                    note: scope.rolled_back(set, &applied, &planned),
                }
            });
        }
        // The steps before the failing one stay, as on PostgreSQL where each committed on its
        // own; on SQLite they commit as the lock is released, and only then are reported.
        if locked.release().is_ok() && !run_lost {
            progress.tell(observer);
        }
        return Err(error);
    }
    locked.release()?;
    progress.tell(observer);

    // What the history holds now follows from what it held and the steps that ran.
    let mut versions: std::collections::BTreeSet<Version> =
        applied.iter().map(|a| a.version).collect();
    for step in &progress.reports {
        match step.direction {
            Direction::Up => versions.insert(step.version),
            Direction::Down => versions.remove(&step.version),
        };
    }
    let current_version = versions.last().copied();
    Ok(RunReport {
        dry_run: false,
        steps: progress.reports,
        current_version,
        drift_allowed: drift,
    })
}

/// Refuses a plan that reverts a migration `migrate adopt` recorded, unless asked: its down
/// script would drop tables that the other application created and may still use (Flyway
/// refuses to undo past its baseline for the same reason).
fn refuse_below_adoption(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    steps: &[PlannedStep],
    options: RunOptions,
) -> Result<()> {
    if options.below_adoption || !steps.iter().any(|s| s.direction == Direction::Down) {
        return Ok(());
    }
    let adopted = driver.adopted_versions()?;
    let below: Vec<String> = steps
        .iter()
        .filter(|s| s.direction == Direction::Down && adopted.contains(&s.version))
        .map(|s| match set.get(s.version) {
            Some(m) => format!("{} {}", s.version, m.name),
            None => s.version.to_string(),
        })
        .collect();
    if below.is_empty() {
        return Ok(());
    }
    Err(Error::BelowAdoption { versions: below })
}

/// The steps that ran, and how many of them the observer has been told about (the committed
/// ones, from the start).
struct Progress {
    reports: Vec<StepReport>,
    told: usize,
}

impl Progress {
    /// Everything that ran is committed: tell the observer what it does not know yet.
    fn tell(&mut self, observer: &mut dyn Observer) {
        for report in &self.reports[self.told..] {
            observer.step_committed(report);
        }
        self.told = self.reports.len();
    }
}

/// Runs the plan's steps under the lock, each in its own transaction unless the caller opened
/// one for them all. Reports each step to `progress` as it runs, and tells the observer at
/// once when `commits_each_step` (the driver has committed it by then).
fn run_steps(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    planned: &[PlannedStep],
    options: RunOptions,
    commits_each_step: bool,
    observer: &mut dyn Observer,
    progress: &mut Progress,
) -> Result<()> {
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
        let notices = driver.apply(&step)?;
        progress.reports.push(StepReport {
            version: migration.version,
            name: migration.name.clone(),
            direction: planned_step.direction,
            file: script.file.clone(),
            atomic: script.transactional,
            faked: fake,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            notices,
            sql: None,
        });
        if commits_each_step {
            progress.tell(observer);
        }
    }
    Ok(())
}

/// A run that must take effect as one transaction: `migrate redo` always, `up` and `down` with
/// `--single-transaction`.
#[derive(Debug, Clone, Copy)]
enum OneTransaction {
    Redo,
    SingleTransaction,
}

impl OneTransaction {
    fn of(request: Request, options: RunOptions) -> Option<OneTransaction> {
        match request {
            Request::Redo => Some(OneTransaction::Redo),
            _ if options.single_transaction => Some(OneTransaction::SingleTransaction),
            _ => None,
        }
    }

    /// Refuses, before anything runs, a plan with a step that cannot join a transaction:
    /// a no-transaction script, or on SQLite a foreign-keys-off one (`PRAGMA foreign_keys`
    /// does nothing inside a transaction, so the script would run with foreign keys on, and
    /// dropping a parent table would cascade into its children).
    fn check(self, set: &MigrationSet, planned: &[PlannedStep], fake: bool) -> Result<()> {
        for step in planned {
            if fake && step.direction == Direction::Up {
                // Only the history row is written, which any transaction can hold.
                continue;
            }
            let (migration, script) = resolve(set, step);
            let reason = if !script.transactional {
                "it runs outside a transaction (`-- plantdb:no-transaction`)"
            } else if script.foreign_keys_off && set.dialect == Dialect::Sqlite {
                "it turns foreign keys off (`-- plantdb:foreign-keys-off`), which SQLite cannot do inside a transaction"
            } else {
                continue;
            };
            let (scope, hint) = match self {
                OneTransaction::Redo => (
                    "`migrate redo`",
                    "run `plantdb migrate down` and then `plantdb migrate up`: each step then commits on its own",
                ),
                OneTransaction::SingleTransaction => (
                    "--single-transaction",
                    "run without --single-transaction, or stop before this migration with --to or --count",
                ),
            };
            return Err(Error::NotAtomic {
                scope: scope.into(),
                version: migration.version,
                file: script.file.clone(),
                reason: reason.into(),
                hint: hint.into(),
            });
        }
        Ok(())
    }

    /// What the user must know after a failed one-transaction run.
    fn rolled_back(
        self,
        set: &MigrationSet,
        applied: &[crate::db::AppliedMigration],
        planned: &[PlannedStep],
    ) -> String {
        let still =
            applied
                .last()
                .map_or("the database still has no migration applied".into(), |a| {
                    let name = set.get(a.version).map_or(a.name.as_str(), |m| &m.name);
                    format!("the database is still at {} {name}", a.version)
                });
        match self {
            OneTransaction::Redo => format!(
                "nothing was changed: redo runs as one transaction, which was rolled back; {still}"
            ),
            OneTransaction::SingleTransaction => {
                let verb = match planned.first().map(|s| s.direction) {
                    Some(Direction::Down) => "reverted",
                    _ => "applied",
                };
                format!(
                    "nothing was {verb}: --single-transaction rolled back all {} step(s); {still}",
                    planned.len()
                )
            }
        }
    }
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
    locked.transaction(|driver| {
        for item in &drifted {
            if let Some(current) = &item.current {
                driver.set_checksum(item.version, current)?;
            }
        }
        Ok(())
    })?;
    locked.release()?;
    Ok(drifted)
}
