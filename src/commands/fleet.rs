//! `plantdb fleet status|migrate up|migrate down|verify`: the single-database commands, on
//! every database of a fleet file.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::cli::{FleetArgs, FleetRunArgs, GlobalArgs};
use crate::db::LockWait;
use crate::error::{Error, Result};
use crate::fleet::{self, Action, Entry, Fleet, FleetOptions, Order, Policy};
use crate::output::Output;

/// The databases a fleet command works on, and the options it runs with.
pub struct Selected<'a> {
    global: &'a GlobalArgs,
    out: &'a Output,
    args: &'a FleetArgs,
    entries: Vec<Entry>,
}

impl<'a> Selected<'a> {
    /// Reads the fleet file and picks `--only`/`--group`'s databases.
    pub fn resolve(
        global: &'a GlobalArgs,
        out: &'a Output,
        args: &'a FleetArgs,
    ) -> Result<Selected<'a>> {
        let fleet = Fleet::load(&args.file)?;
        let entries = fleet.select(&args.only, &args.group)?;
        out.verbose(&format!(
            "fleet: {} of the {} databases of {}",
            entries.len(),
            fleet.databases.len(),
            args.file.display()
        ));
        Ok(Selected {
            global,
            out,
            args,
            entries,
        })
    }

    fn options<'i>(&self, policy: Policy, interrupted: &'i AtomicBool) -> FleetOptions<'i>
    where
        'a: 'i,
    {
        let out = *self.out;
        FleetOptions {
            migrations: self.global.migrations.as_deref(),
            timescale: self.global.timescale,
            lock_wait: LockWait {
                timeout: self.global.lock_timeout.map(Duration::from_secs),
                notify: Arc::new(move |line| out.notice(line)),
            },
            parallel: self.args.parallel as usize,
            policy,
            interrupted,
        }
    }
}

pub fn status(fleet: &Selected, check: bool) -> Result<i32> {
    let interrupted = AtomicBool::new(false);
    let report = fleet::status(
        &fleet.entries,
        &fleet.options(Policy::KeepGoing, &interrupted),
    )?;
    fleet.out.fleet_status(&report);
    if !check {
        return Ok(0);
    }
    let code = report.check_exit_code();
    if code != 0 {
        fleet.out.fleet_status_check(&report);
    }
    Ok(code)
}

pub fn run(fleet: &Selected, action: Action, run: &FleetRunArgs) -> Result<i32> {
    let policy = if run.keep_going {
        Policy::KeepGoing
    } else {
        Policy::StopOnFailure
    };
    let order = if run.waves {
        Order::Waves
    } else if !run.canary.is_empty() {
        Order::Canary(run.canary.clone())
    } else {
        Order::Together
    };
    let waves = fleet::waves(&fleet.entries, &order)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    stop_starting_on_sigint(&interrupted)?;
    let options = fleet.options(policy, &interrupted);
    let observer = fleet.out.fleet_observer(&fleet.entries);
    let report = fleet::run(&fleet.entries, &waves, action, &options, observer.as_ref());
    // The progress lines go before the summary is printed.
    drop(observer);
    let report = report?;
    fleet.out.fleet_report(&report);
    Ok(report.exit_code())
}

/// The first SIGINT (Ctrl-C) sets `flag`: the run starts nothing new and lets the running
/// databases finish; a second one ends plantdb at once, as Ctrl-C usually does.
fn stop_starting_on_sigint(flag: &Arc<AtomicBool>) -> Result<()> {
    use signal_hook::consts::SIGINT;
    let register = || -> std::io::Result<()> {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(flag))?;
        signal_hook::flag::register(SIGINT, Arc::clone(flag))?;
        Ok(())
    };
    register().map_err(|e| Error::Io {
        path: "SIGINT handler".into(),
        source: e,
    })
}
