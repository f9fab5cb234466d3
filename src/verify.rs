//! `plantdb verify`: a CI gate that needs no data.
//!
//! 1. The target's applied migrations still match their files (checksums).
//! 2. In a scratch database (a temporary PostgreSQL database on the target's server, created and
//!    dropped here, or a temporary SQLite file), each pending migration (each one with `--all`)
//!    goes up, down and up again; down must restore the schema from before, the second up the
//!    schema of the first.
//! 3. The PostgreSQL and SQLite migrations of each checked version describe the same schema.
//!    A scratch SQLite file can always be made; the PostgreSQL side needs a PostgreSQL target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{SqliteTarget, Target, TimescalePolicy};
use crate::db::{self, Access, Dialect, Driver, HISTORY_TABLE};
use crate::error::{Error, Result, Version};
use crate::migrate::{
    self, IgnoreProgress, MigrationSet, Request, RunOptions, adopt::ADOPTION_TABLE,
};
use crate::schema::Schema;

#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Check every migration, not only the pending ones.
    pub all: bool,
    pub timescale: TimescalePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// An applied migration's file changed or is gone.
    Checksum,
    /// A script failed in the scratch database.
    Apply,
    /// Down did not restore the schema, or up after down gave another schema.
    RoundTrip,
    /// The two dialects' migrations of one version describe different schemas.
    Parity,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub check: Check,
    pub version: Version,
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub dialect: Dialect,
    pub url: String,
    /// The versions that went up, down and up.
    pub checked: Vec<Version>,
    /// The dialects whose round trip ran.
    pub round_trip: Vec<Dialect>,
    /// Whether the dialects were compared.
    pub parity: bool,
    /// Comparisons that did not run, and why.
    pub skipped: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Runs every check. `driver` is the target database (an empty in-memory one when a SQLite
/// target does not exist yet).
pub fn verify(
    driver: &mut dyn Driver,
    target: &Target,
    url: &str,
    migrations: Option<&Path>,
    options: VerifyOptions,
) -> Result<VerifyReport> {
    let dialect = driver.dialect();
    let set = MigrationSet::load(migrations, dialect)?;
    let mut findings = Vec::new();
    let mut skipped = Vec::new();

    let applied = driver.applied()?;
    let (drifted, missing) = migrate::plan::drift(&set, &applied);
    for item in drifted.iter().chain(&missing) {
        findings.push(Finding {
            check: Check::Checksum,
            version: item.version,
            file: item
                .file
                .clone()
                .unwrap_or_else(|| format!("({})", item.name)),
            message: item.to_string(),
        });
    }

    let applied_versions: BTreeSet<Version> = applied.iter().map(|a| a.version).collect();
    let checked: BTreeSet<Version> = set
        .migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| options.all || !applied_versions.contains(v))
        .collect();
    let mut report = VerifyReport {
        dialect,
        url: url.to_string(),
        checked: checked.iter().copied().collect(),
        round_trip: Vec::new(),
        parity: false,
        skipped: Vec::new(),
        findings: Vec::new(),
    };
    if checked.is_empty() {
        skipped.push(
            "round trip and dialect parity: no migration is pending (`--all` checks every one)"
                .into(),
        );
        report.findings = findings;
        report.skipped = skipped;
        return Ok(report);
    }

    // A PostgreSQL-only `--migrations` directory (no `sqlite/` folder) has no SQLite side:
    // reading the directory itself as SQLite migrations would compare a set with itself.
    let sqlite_set = match (dialect, migrations) {
        (Dialect::Sqlite, _) => Some(set.clone()),
        (Dialect::Postgres, Some(dir)) if !dir.join(Dialect::Sqlite.dir_name()).is_dir() => {
            skipped.push(format!(
                "SQLite round trip and dialect parity: `{}` has no sqlite/ folder",
                dir.display()
            ));
            None
        }
        (Dialect::Postgres, _) => Some(MigrationSet::load(migrations, Dialect::Sqlite)?),
    };
    let sqlite_walk = match &sqlite_set {
        Some(sqlite_set) => {
            let file = tempfile::Builder::new()
                .prefix("plantdb-verify-")
                .suffix(".sqlite3")
                .tempfile()
                .map_err(|e| Error::Io {
                    path: std::env::temp_dir().display().to_string(),
                    source: e,
                })?;
            let scratch = Target::Sqlite(SqliteTarget::File(file.path().to_path_buf()));
            let mut scratch_driver = db::connect(&scratch, Access::ReadWrite, options.timescale)?;
            let walked = walk(scratch_driver.as_mut(), sqlite_set, &checked)?;
            findings.extend(walked.findings.iter().cloned());
            report.round_trip.push(Dialect::Sqlite);
            // The file is removed when `file` goes out of scope, whatever happened.
            Some(walked)
        }
        None => None,
    };

    match target {
        Target::Postgres(_) => {
            let pg_walk = walk_scratch_postgres(target, &set, &checked, options.timescale)?;
            findings.extend(pg_walk.findings.iter().cloned());
            report.round_trip.insert(0, Dialect::Postgres);
            if let (Some(sqlite_set), Some(sqlite_walk)) = (&sqlite_set, &sqlite_walk) {
                findings.extend(parity(&set, sqlite_set, &pg_walk, sqlite_walk, &checked));
                report.parity = true;
            }
        }
        Target::Sqlite(_) => skipped.push(
            "PostgreSQL round trip and dialect parity: the target is SQLite, and the PostgreSQL \
             migrations need a PostgreSQL server (run verify with a postgres:// URL)"
                .into(),
        ),
    }
    report.findings = findings;
    report.skipped = skipped;
    Ok(report)
}

/// What one dialect's scratch run found, and the schema after each checked version's up.
struct Walk {
    findings: Vec<Finding>,
    after: BTreeMap<Version, Schema>,
}

/// The schema without plantdb's own tables, which a from-scratch database and an adopted one
/// need not share.
fn user_schema(driver: &mut dyn Driver) -> Result<Schema> {
    Ok(driver
        .schema()?
        .without(HISTORY_TABLE)
        .without(ADOPTION_TABLE))
}

fn one_step(driver: &mut dyn Driver, set: &MigrationSet, request: Request) -> Result<()> {
    let options = RunOptions {
        allow_out_of_order: true,
        ..RunOptions::default()
    };
    migrate::migrate(driver, set, request, options, &mut IgnoreProgress).map(|_| ())
}

/// Applies the set in order; every checked version goes up, down and up again.
fn walk(driver: &mut dyn Driver, set: &MigrationSet, checked: &BTreeSet<Version>) -> Result<Walk> {
    let mut walk = Walk {
        findings: Vec::new(),
        after: BTreeMap::new(),
    };
    for migration in &set.migrations {
        let version = migration.version;
        let up = Request::Up {
            to: Some(version),
            count: None,
        };
        let failed = |file: &str, e: Error| Finding {
            check: Check::Apply,
            version,
            file: file.to_string(),
            message: e.to_string(),
        };
        if !checked.contains(&version) {
            if let Err(e) = one_step(driver, set, up) {
                walk.findings.push(failed(&migration.up.file, e));
                return Ok(walk);
            }
            continue;
        }
        let before = user_schema(driver)?;
        if let Err(e) = one_step(driver, set, up) {
            walk.findings.push(failed(&migration.up.file, e));
            return Ok(walk);
        }
        let after = user_schema(driver)?;
        walk.after.insert(version, after.clone());
        let Some(down) = &migration.down else {
            // Allowed (such a migration can be applied, not reverted): nothing to round-trip.
            continue;
        };
        let down_one = Request::Down {
            to: None,
            count: Some(1),
        };
        if let Err(e) = one_step(driver, set, down_one) {
            walk.findings.push(failed(&down.file, e));
            return Ok(walk);
        }
        let reverted = user_schema(driver)?;
        let diff = before.diff(&reverted);
        if !diff.is_empty() {
            walk.findings.push(Finding {
                check: Check::RoundTrip,
                version,
                file: down.file.clone(),
                message: format!(
                    "down does not restore the schema from before the up (left: before, right: after down): {}",
                    diff.join("; ")
                ),
            });
        }
        if let Err(e) = one_step(driver, set, up) {
            walk.findings.push(failed(&migration.up.file, e));
            return Ok(walk);
        }
        let again = user_schema(driver)?;
        let diff = after.diff(&again);
        if !diff.is_empty() {
            walk.findings.push(Finding {
                check: Check::RoundTrip,
                version,
                file: migration.up.file.clone(),
                message: format!(
                    "up after down gives another schema than the first up (left: first, right: again): {}",
                    diff.join("; ")
                ),
            });
        }
    }
    Ok(walk)
}

/// Runs the walk in a temporary database on the target's server, dropped afterwards even when
/// the walk failed.
fn walk_scratch_postgres(
    target: &Target,
    set: &MigrationSet,
    checked: &BTreeSet<Version>,
    timescale: TimescalePolicy,
) -> Result<Walk> {
    let Target::Postgres(pg) = target else {
        unreachable!("called for PostgreSQL targets only")
    };
    // Unique, a plain identifier, and naming the database it checks (for whoever finds one a
    // crash left behind); PostgreSQL keeps 63 bytes of a name.
    let target_name: String = pg
        .dbname()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let mut name = format!(
        "plantdb_verify_{}_{}_{target_name}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    name.truncate(63);
    let host = pg.host_display();
    let mut admin = db::postgres::maintenance_client(pg)?;
    db::postgres::create_database(&mut admin, &name, &host)?;
    let scratch = ScratchDatabase { admin, name, host };
    let mut scratch_target = target.clone();
    if let Target::Postgres(pg) = &mut scratch_target {
        pg.config.dbname(&scratch.name);
    }
    let result = db::connect(&scratch_target, Access::ReadWrite, timescale)
        .and_then(|mut driver| walk(driver.as_mut(), set, checked));
    // `driver` is closed by now, so the drop below finds no session in the scratch database.
    drop(scratch);
    result
}

struct ScratchDatabase {
    admin: postgres::Client,
    name: String,
    host: String,
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Nowhere to report a failure from a drop; the name says what the database was for.
        let _ = db::postgres::drop_database(&mut self.admin, &self.name, &self.host);
    }
}

/// Compares the dialects after each checked version, reporting only what that version adds to
/// the differences, so one mismatch is not repeated for every later version.
fn parity(
    pg_set: &MigrationSet,
    sqlite_set: &MigrationSet,
    pg: &Walk,
    sqlite: &Walk,
    checked: &BTreeSet<Version>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let pg_versions: BTreeSet<Version> = pg_set.migrations.iter().map(|m| m.version).collect();
    let sqlite_versions: BTreeSet<Version> =
        sqlite_set.migrations.iter().map(|m| m.version).collect();
    for version in pg_versions.symmetric_difference(&sqlite_versions) {
        let (file, missing) = match pg_set.get(*version) {
            Some(m) => (m.up.file.clone(), "sqlite"),
            None => (
                sqlite_set
                    .get(*version)
                    .map(|m| m.up.file.clone())
                    .unwrap_or_default(),
                "postgres",
            ),
        };
        findings.push(Finding {
            check: Check::Parity,
            version: *version,
            file,
            message: format!("there is no {missing} migration with this version"),
        });
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    for version in checked {
        let (Some(pg_schema), Some(sqlite_schema)) =
            (pg.after.get(version), sqlite.after.get(version))
        else {
            continue;
        };
        let mut pg_schema = pg_schema.clone();
        // SQLite has no functions: the trigger function exists on PostgreSQL only.
        pg_schema.functions.clear();
        let diff: BTreeSet<String> = pg_schema.diff(sqlite_schema).into_iter().collect();
        let new: Vec<&String> = diff.difference(&known).collect();
        if !new.is_empty() {
            let files = match (pg_set.get(*version), sqlite_set.get(*version)) {
                (Some(p), Some(s)) => format!("{} / {}", p.up.file, s.up.file),
                _ => String::new(),
            };
            findings.push(Finding {
                check: Check::Parity,
                version: *version,
                file: files,
                message: format!(
                    "PostgreSQL (left) and SQLite (right) differ: {}",
                    new.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            });
        }
        known = diff;
    }
    findings
}
