//! `plantdb migrate baseline`: take over a database plantdb knows nothing about.
//!
//! Reads the live schema (schema `public` on PostgreSQL, the main database on SQLite), writes
//! it as the first migration of a `--migrations` directory, for both dialects (see
//! [`super::baseline_sql`]), and records that migration as applied without running it, in
//! one transaction, through the adoption record like `migrate adopt`. From then on the
//! directory is the database's history: `migrate new` adds to it, `verify` checks it.
//!
//! Left out on purpose: plantdb's own tables and the history tables of the tools it replaces
//! (`alembic_version`, `pgmigrations`, `schema_migrations`), which stay in the database
//! untouched, and everything extensions own (TimescaleDB's catalogs live in schemas of their
//! own). Views, triggers and functions are refused by name: the baseline would not reproduce
//! them, and a baseline that silently loses objects is worse than none.

use std::path::{Path, PathBuf};

use super::baseline_catalog::{self, texts};
use super::baseline_sql::{self, Scripts};
use super::source::MigrationSet;
use crate::db::{ADOPTION_TABLE, AdoptedVersion, Adoption, Dialect, Driver, Locked, table_exists};
use crate::error::{Error, Result, Version};

/// The name of the migration a baseline writes.
pub const BASELINE_NAME: &str = "baseline";

pub use super::baseline_catalog::FOREIGN_HISTORY_TABLES;

#[derive(Debug, Clone, Copy, Default)]
pub struct BaselineOptions {
    /// Print what would be written; write and record nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BaselineFile {
    pub path: String,
    pub sql: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BaselineReport {
    pub version: Version,
    pub name: String,
    /// Up and down for PostgreSQL, then for SQLite.
    pub files: Vec<BaselineFile>,
    /// The tables the baseline reproduces.
    pub tables: Vec<String>,
    /// Tables present but not baselined (the old tools' history), kept as they are.
    pub left_out: Vec<String>,
    /// The old tool's history the baseline takes over from (its table and head), if any;
    /// the adoption record says `live schema` when there is none.
    pub foreign_id: Option<String>,
    pub dry_run: bool,
}

/// Writes the baseline of the database `driver` is connected to under `dir` and records it
/// as applied there.
pub fn baseline(
    driver: &mut dyn Driver,
    dir: &Path,
    options: BaselineOptions,
) -> Result<BaselineReport> {
    refuse_existing_migrations(dir)?;
    if options.dry_run {
        return plan(driver, dir, true);
    }
    let mut locked = Locked::new(driver)?;
    let report = plan(&mut *locked, dir, false)?;
    let written = write_files(&report.files)?;
    let recorded = record(&mut *locked, dir, &report);
    let released = recorded.and_then(|()| locked.release());
    if let Err(e) = released {
        // The history did not take the baseline: files that no database knows would only
        // stand in the way of the next try.
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(report)
}

/// Everything but the writing: refusals, the live schema, the scripts.
fn plan(driver: &mut dyn Driver, dir: &Path, dry_run: bool) -> Result<BaselineReport> {
    let applied = driver.applied()?;
    if let Some(latest) = applied.last() {
        return Err(Error::BaselineHasHistory {
            what: format!(
                "{} migration(s) applied, the latest {}",
                applied.len(),
                latest.version
            ),
        });
    }
    if table_exists(driver, ADOPTION_TABLE)? {
        return Err(Error::BaselineHasHistory {
            what: format!("an adoption record in `{ADOPTION_TABLE}`"),
        });
    }
    let schema = driver.schema()?;
    let (live, left_out, mut problems) = baseline_catalog::read(driver, &schema)?;
    if live.tables.is_empty() && problems.is_empty() {
        return Err(Error::BaselineEmpty);
    }
    let mut scripts: Vec<(Dialect, Scripts)> = Vec::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        match baseline_sql::scripts(&live, dialect) {
            Ok(pair) => scripts.push((dialect, pair)),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("{p} (writing the {} baseline)", dialect_name(dialect))),
            ),
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(Error::BaselineUntranslatable { problems });
    }
    let version = super::new::now_version();
    let foreign_id = foreign_head(driver)?;
    let mut files = Vec::new();
    for (dialect, pair) in scripts {
        for (suffix, body, down) in [(".sql", pair.up, false), (".down.sql", pair.down, true)] {
            let file_name = format!("V{version}__{BASELINE_NAME}{suffix}");
            let path = dir.join(dialect.dir_name()).join(&file_name);
            files.push(BaselineFile {
                path: path.display().to_string(),
                sql: header(dialect, down, foreign_id.as_deref()) + &body,
            });
        }
    }
    Ok(BaselineReport {
        version,
        name: BASELINE_NAME.into(),
        files,
        tables: live.tables.iter().map(|t| t.name.clone()).collect(),
        left_out,
        foreign_id,
        dry_run,
    })
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Sqlite => "SQLite",
    }
}

fn header(dialect: Dialect, down: bool, foreign_id: Option<&str>) -> String {
    let what = if down {
        "Down: drops every table of the baseline, and their data with them."
    } else {
        "Up: the schema as it stood when `plantdb migrate baseline` read it; recorded as applied\n\
         -- there without running. Never edit it: plantdb compares checksums."
    };
    let from = foreign_id
        .map(|id| format!(", taking over from {id}"))
        .unwrap_or_default();
    format!(
        "-- Baseline ({}){from}.\n-- {what}\n\n",
        dialect_name(dialect)
    )
}

/// A baseline is the first migration of its directory: it says where history starts.
fn refuse_existing_migrations(dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        if dir.join(dialect.dir_name()).is_dir() {
            let set = MigrationSet::from_dir(dir, dialect)?;
            files.extend(set.migrations.iter().map(|m| m.up.file.clone()));
        }
    }
    if files.is_empty() {
        Ok(())
    } else {
        Err(Error::BaselineDirNotEmpty {
            dir: dir.display().to_string(),
            files,
        })
    }
}

/// Creates the files, none of which may exist; on any failure removes those it made.
fn write_files(files: &[BaselineFile]) -> Result<Vec<PathBuf>> {
    use std::io::Write;
    let mut written: Vec<PathBuf> = Vec::new();
    let outcome = files.iter().try_for_each(|file| {
        let path = PathBuf::from(&file.path);
        let io = |e: std::io::Error| Error::Io {
            path: file.path.clone(),
            source: e,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut handle = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        written.push(path);
        handle.write_all(file.sql.as_bytes()).map_err(io)
    });
    if let Err(e) = outcome {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(written)
}

/// Records the baseline as applied, with the checksum plantdb computes from the file just
/// written, in one transaction.
fn record(driver: &mut dyn Driver, dir: &Path, report: &BaselineReport) -> Result<()> {
    let set = MigrationSet::from_dir(dir, driver.dialect())?;
    let checksum = set
        .get(report.version)
        .map(|m| m.checksum.clone())
        .unwrap_or_default();
    driver.transaction(|driver| {
        driver.ensure_history()?;
        driver.record_adoption(&Adoption {
            source: BASELINE_NAME,
            adopted: vec![AdoptedVersion {
                version: report.version,
                name: &report.name,
                checksum: &checksum,
                foreign_id: report.foreign_id.as_deref().unwrap_or("live schema"),
            }],
            gaps: &[],
            foreign_head: report.foreign_id.as_deref(),
            accepted: None,
        })
    })
}

/// What the old tool's history says, to keep in the adoption record: `alembic_version`'s
/// heads, the last `pgmigrations` name or the newest `schema_migrations` version.
fn foreign_head(driver: &mut dyn Driver) -> Result<Option<String>> {
    let queries = [
        (
            "alembic_version",
            "SELECT CAST(version_num AS TEXT) FROM alembic_version ORDER BY 1",
        ),
        (
            "pgmigrations",
            "SELECT CAST(name AS TEXT) FROM pgmigrations ORDER BY id DESC LIMIT 1",
        ),
        (
            "schema_migrations",
            "SELECT CAST(max(version) AS TEXT) FROM schema_migrations",
        ),
    ];
    for (table, sql) in queries {
        if !table_exists(driver, table)? {
            continue;
        }
        // A history table of another shape still names what the baseline replaces.
        let ids = texts(driver, sql, &[], 1).unwrap_or_default();
        let ids: Vec<String> = ids.into_iter().map(|row| row[0].clone()).collect();
        return Ok(Some(if ids.is_empty() {
            format!("`{table}`")
        } else {
            format!("`{table}` {}", ids.join(", "))
        }));
    }
    Ok(None)
}
