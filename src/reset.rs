//! What `plantdb reset` destroys before it migrates up and seeds: the PostgreSQL database
//! (dropped from the maintenance database, terminating its connections, and created again) or
//! the SQLite file with its companions. Only local databases, unless forced.

use std::path::{Path, PathBuf};

use crate::config::{CitusPolicy, PostgresTarget, SqliteTarget, Target, TimescalePolicy};
use crate::db::{self, Access};
use crate::error::{Error, Result};
use crate::printable::printable;

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

/// `--citus require` cannot outlive a reset: the database is created again bare, and plantdb
/// never creates extensions, so the requirement would fail only once everything is gone.
/// Refused from the options alone, before anything is opened or destroyed.
pub fn refuse_citus_required(citus: CitusPolicy) -> Result<()> {
    if citus == CitusPolicy::Require {
        Err(Error::ResetCitusRequired)
    } else {
        Ok(())
    }
}

/// A Citus coordinator's tables have their rows on the workers: dropping the coordinator's
/// database would leave the shards behind there, out of anyone's reach, and the database made
/// again would not be a coordinator. Refused before anything is destroyed; a database that
/// cannot be opened (it may not exist) is left for `destroy` to deal with.
pub fn refuse_citus_coordinator(target: &Target) -> Result<()> {
    let Target::Postgres(pg) = target else {
        return Ok(());
    };
    let Ok(mut driver) = db::connect(target, Access::ReadOnly, TimescalePolicy::Off) else {
        return Ok(());
    };
    if driver.as_postgres().is_some_and(|d| d.citus_installed()) {
        return Err(Error::ResetCitusCoordinator {
            database: pg.dbname(),
            host: pg.host_display(),
        });
    }
    Ok(())
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
