//! `plantdb seed`: read the fixtures, find the key, run the engine. The key handling is shared
//! with `reset`.

use super::Database;
use crate::cli::SeedArgs;
use crate::config::{SqliteTarget, Target};
use crate::db::{Access, Driver};
use crate::error::{Error, MalformedKey, Result};
use crate::migrate::MigrationSet;
use crate::output::Output;
use crate::seed::secrets::{self, KeySource, SecretKey};
use crate::seed::{self, Fixtures, SeedOptions, SeedReport, fixture};

pub fn run(db: &Database, args: &SeedArgs) -> Result<i32> {
    let now = args.now.resolve();
    let sources = seed::sources(&args.files)?;
    // Fixtures for the built-in tables are checked before connecting; fixtures naming other
    // tables are checked against the live database's tables once connected.
    let built_in = match fixture::load(&sources, now) {
        Err(Error::FixtureUnknownTable { .. }) => None,
        loaded => Some(loaded?),
    };
    let configured = configured_key()?;
    if let Some(fixtures) = &built_in {
        refuse_remote_without_key(fixtures, configured.as_deref(), &db.target)?;
    }
    // A missing SQLite file is an unmigrated database: say so without creating the file.
    let access = match &db.target {
        Target::Sqlite(SqliteTarget::File(path)) if !path.exists() => Access::ReadOnly,
        _ => Access::ReadWrite,
    };
    let mut driver = db.connect(&db.target, access)?;
    let set = db.migrations(driver.dialect())?;
    seed::check_migrated(driver.as_mut(), &set)?;
    let fixtures = match built_in {
        Some(fixtures) => fixtures,
        None => {
            let live = seed::live_catalog::read(driver.as_mut())?;
            fixture::load_for(&sources, now, live)?
        }
    };
    let key = key_for(&fixtures, configured, &db.target, db.out)?;
    let options = SeedOptions {
        mode: args.mode,
        scale: args.scale,
        now,
        key,
        dry_run: args.dry_run,
    };
    let report = run_seed(driver.as_mut(), &set, &fixtures, &options, db.out)?;
    db.out.seed_report(&report);
    Ok(0)
}

/// The seed engine with a progress bar on a terminal, gone before the report is printed.
pub(super) fn run_seed(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    fixtures: &Fixtures,
    options: &SeedOptions,
    out: &Output,
) -> Result<SeedReport> {
    let mut observer = out.seed_observer();
    let report = seed::seed(driver, set, fixtures, options, observer.as_mut());
    drop(observer);
    report
}

/// The key in the environment (or `.env`), checked now: a malformed key is always an error,
/// even for fixtures that would not need it.
pub(super) fn configured_key() -> Result<Option<String>> {
    match std::env::var(secrets::KEY_VAR) {
        Ok(value) if !value.trim().is_empty() => {
            SecretKey::parse(&value)?;
            Ok(Some(value))
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::SecretKeyMalformed {
            var: secrets::KEY_VAR,
            problem: MalformedKey::NotUtf8,
        }),
    }
}

/// A remote database without a key is refused from the URL alone, before connecting.
pub(super) fn refuse_remote_without_key(
    fixtures: &Fixtures,
    configured: Option<&str>,
    target: &Target,
) -> Result<()> {
    if fixtures.needs_secret_key() && configured.is_none() && !target.is_local() {
        let dir = std::path::Path::new(".");
        secrets::resolve_key(None, false, &target.display(), dir)?;
    }
    Ok(())
}

/// The key the fixtures need, generated into `.env` for a local database that has none.
pub(super) fn key_for(
    fixtures: &Fixtures,
    configured: Option<String>,
    target: &Target,
    out: &Output,
) -> Result<Option<SecretKey>> {
    if !fixtures.needs_secret_key() {
        return configured.map(|k| SecretKey::parse(&k)).transpose();
    }
    let dir = std::env::current_dir().map_err(|e| Error::Io {
        path: ".".into(),
        source: e,
    })?;
    let (key, source) =
        secrets::resolve_key(configured, target.is_local(), &target.display(), &dir)?;
    if let KeySource::Generated(path) = source {
        out.notice(&format!(
            "generated a secret key and saved it as {} in `{path}`; gateway passwords are encrypted with it, so keep it",
            secrets::KEY_VAR
        ));
    }
    if let Some(warning) = secrets::exposed_key_warning(&dir) {
        out.notice(&format!("warning: {warning}"));
    }
    Ok(Some(key))
}
