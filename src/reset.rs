//! `plantdb reset`: the one-command local workflow. Drop the database (PostgreSQL, from the
//! maintenance database, terminating its connections) or delete the SQLite file with its
//! companions, migrate up, seed. Everything that can be checked without destroying anything
//! (fixtures, key, locality) is checked first.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::cli::{Cli, ResetArgs};
use crate::config::{PostgresTarget, SqliteTarget, Target};
use crate::db::{self, Access};
use crate::error::{Error, Result};
use crate::migrate::{self, MigrationSet, Request, RunOptions};
use crate::output::Output;
use crate::printable::printable;
use crate::seed::{self, SeedOptions, fixture};

pub fn reset_command(cli: &Cli, out: &Output, target: &Target, args: &ResetArgs) -> Result<i32> {
    refuse_remote(target, args.force)?;
    let now = args.now.resolve();
    let fixtures = if args.no_seed {
        None
    } else {
        Some(fixture::load(&seed::sources(&args.files)?, now)?)
    };
    let configured = seed::command::configured_key()?;
    if let Some(fixtures) = &fixtures {
        seed::command::refuse_remote_without_key(fixtures, configured.as_deref(), target)?;
    }
    out.notice(&format!("about to destroy {}", describe(target)));
    if !args.yes && out.interactive && std::io::stdin().is_terminal() && !confirm()? {
        return Err(Error::Cancelled);
    }
    let key = match &fixtures {
        Some(f) => seed::command::key_for(f, configured, target, out)?,
        None => None,
    };
    destroy(target)?;

    let mut driver = db::connect(target, Access::ReadWrite, cli.global.timescale)?;
    driver.set_lock_wait(crate::lock_wait(cli, out));
    let set = MigrationSet::load(cli.global.migrations.as_deref(), driver.dialect())?;
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
                mode: seed::Mode::Replace,
                scale: args.scale,
                now,
                key,
                dry_run: false,
            };
            Some(seed::command::run_seed(
                driver.as_mut(),
                &set,
                &fixtures,
                &options,
                out,
            )?)
        }
        None => None,
    };
    out.reset_report(
        driver.dialect(),
        &target.display(),
        &migrated,
        seeded.as_ref(),
    );
    Ok(0)
}

/// Reset destroys everything in the database: only on this machine unless forced. Decided
/// from the URL alone, before any connection.
pub fn refuse_remote(target: &Target, force: bool) -> Result<()> {
    if target.is_local() || force {
        Ok(())
    } else {
        Err(Error::ResetRemote {
            url: target.display(),
        })
    }
}

/// What reset will destroy, as the user would recognise it (password masked).
pub fn describe(target: &Target) -> String {
    match target {
        Target::Postgres(pg) => format!(
            "PostgreSQL database `{}` on `{}` ({})",
            printable(&pg.dbname()),
            printable(&pg.host_display()),
            printable(&target.display())
        ),
        Target::Sqlite(SqliteTarget::File(path)) => format!(
            "SQLite database `{}` (with its -wal, -shm and -journal files)",
            printable(&path.display().to_string())
        ),
        Target::Sqlite(SqliteTarget::Memory) => "an in-memory SQLite database".into(),
    }
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

pub fn destroy(target: &Target) -> Result<()> {
    match target {
        Target::Postgres(pg) => recreate_postgres(pg),
        Target::Sqlite(SqliteTarget::File(path)) => remove_sqlite(path),
        Target::Sqlite(SqliteTarget::Memory) => Ok(()),
    }
}

fn remove_sqlite(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Io {
                    path: file.display().to_string(),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

fn recreate_postgres(target: &PostgresTarget) -> Result<()> {
    let (name, host) = (target.dbname(), target.host_display());
    let mut admin = db::postgres::maintenance_client(target)?;
    db::postgres::drop_database(&mut admin, &name, &host)?;
    db::postgres::create_database(&mut admin, &name, &host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_remote_hosts_without_force() {
        let remote = Target::parse("postgres://u:pw@db.example.com/x").unwrap();
        let e = refuse_remote(&remote, false).unwrap_err().to_string();
        assert!(
            e.contains("not a local database") && !e.contains("pw@"),
            "{e}"
        );
        assert!(refuse_remote(&remote, true).is_ok());
        for local in [
            "postgres://u@localhost/x",
            "postgres://u@127.0.0.1/x",
            "postgres://u@[::1]/x",
            "sqlite://x.db",
        ] {
            assert!(
                refuse_remote(&Target::parse(local).unwrap(), false).is_ok(),
                "{local}"
            );
        }
    }

    #[test]
    fn removes_sqlite_file_and_companions() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        for suffix in ["", "-wal", "-shm"] {
            std::fs::write(format!("{}{suffix}", db.display()), "x").unwrap();
        }
        remove_sqlite(&db).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        remove_sqlite(&db).unwrap();
    }
}
