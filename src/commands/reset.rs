//! `plantdb reset`: check everything that can be checked without destroying anything
//! (fixtures, key, locality), ask, then destroy, migrate up and seed.

use std::io::{BufRead, IsTerminal, Write};

use super::Database;
use super::seed::{configured_key, key_for, refuse_remote_without_key, run_seed};
use crate::cli::ResetArgs;
use crate::db::{Access, citus};
use crate::error::{Error, Result};
use crate::migrate::{self, Request, RunOptions};
use crate::reset;
use crate::seed::{self, SeedMode, SeedOptions, fixture};

pub fn run(db: &Database, args: &ResetArgs) -> Result<i32> {
    let (target, out) = (&db.target, db.out);
    reset::refuse_remote(target, args.force)?;
    citus::check_policies(db.global.citus, db.global.timescale, target.dialect())?;
    reset::refuse_citus_required(db.global.citus)?;
    reset::refuse_citus_coordinator(target)?;
    let now = args.now.resolve();
    let fixtures = if args.no_seed {
        None
    } else {
        let fixtures = fixture::load(&seed::sources(&args.files)?, now)?;
        // `seed` checks this too, but only after the database is gone: how far back the
        // telemetry reaches depends on --scale, which loading alone does not know.
        fixtures.check_telemetry_reach(args.scale, now)?;
        Some(fixtures)
    };
    let configured = configured_key()?;
    if let Some(fixtures) = &fixtures {
        refuse_remote_without_key(fixtures, configured.as_deref(), target)?;
    }
    out.notice(&format!("about to destroy {}", reset::describe(target)));
    if !args.yes && out.interactive && std::io::stdin().is_terminal() && !confirm()? {
        return Err(Error::Cancelled);
    }
    let key = match &fixtures {
        Some(f) => key_for(f, configured, target, out)?,
        None => None,
    };
    reset::destroy(target)?;

    let mut driver = db.connect(target, Access::ReadWrite)?;
    let set = db.migrations(driver.dialect())?;
    let mut observer = out.observer();
    let report = migrate::migrate(
        driver.as_mut(),
        &set,
        Request::Up {
            to: None,
            count: None,
        },
        RunOptions::default(),
        observer.as_mut(),
    );
    drop(observer);
    let migrated = report?;
    let seeded = match fixtures {
        Some(fixtures) => {
            let options = SeedOptions {
                mode: SeedMode::Replace,
                scale: args.scale,
                now,
                key,
                dry_run: false,
            };
            Some(run_seed(driver.as_mut(), &set, &fixtures, &options, out)?)
        }
        None => None,
    };
    out.reset_report(driver.dialect(), &db.shown_url, &migrated, seeded.as_ref());
    Ok(0)
}

fn confirm() -> Result<bool> {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "type `yes` to continue: ");
    let _ = stderr.flush();
    drop(stderr);
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Io {
            path: "stdin".into(),
            source: e,
        })?;
    Ok(matches!(answer.trim(), "yes" | "y" | "YES" | "Yes"))
}
