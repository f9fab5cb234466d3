//! `plantdb seed`: loads YAML fixtures into a fully migrated database in one transaction.
//!
//! Fixtures are read and checked completely first (fixture.rs); only then is the database
//! touched, and everything a seed writes commits together or not at all.

pub mod catalog;
pub mod command;
pub mod fixture;
pub mod secrets;
pub mod spc_config;
pub mod telemetry;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::db::value::{Kind, Value};
use crate::db::{Dialect, Driver, quote_ident};
use crate::error::{Error, Result};
use crate::migrate::MigrationSet;
use catalog::{Pk, Secret, Table};
pub use fixture::Fixtures;
use fixture::{Cell, Row};
use secrets::SecretKey;

/// How `seed` treats rows already in the tables it writes. Replace deletes the rows the
/// fixtures do not name (with the rows referencing them) and matches the others by key,
/// updating them in place, so the migration's DEFAULT plant keeps its id and a second run
/// changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The tables the fixtures write end up holding exactly the fixtures' rows.
    Replace,
    /// Insert rows, or update the row with the same key; keep other rows. Generated telemetry
    /// has no key: the readings of the devices it is generated for are replaced.
    Upsert,
}

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub mode: Mode,
    /// Multiplies the telemetry span (load testing).
    pub scale: u32,
    /// What `now` in relative times means; fixed by tests so two runs compare equal.
    pub now: DateTime<Utc>,
    /// Needed when the fixtures hold gateway passwords.
    pub key: Option<SecretKey>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub mode: Mode,
    /// Tables emptied before inserting (replace mode), including tables that reference them.
    pub emptied: Vec<String>,
    pub tables: Vec<TableReport>,
    pub duration_ms: u64,
}

/// Told about progress, for a terminal's progress bar. Never used for results.
pub trait SeedObserver {
    fn table_started(&mut self, _table: &str, _rows: u64) {}
    fn progress(&mut self, _table: &str, _done: u64) {}
    fn table_finished(&mut self, _report: &TableReport) {}
}

pub struct Quiet;
impl SeedObserver for Quiet {}

/// The fixtures shipped with plantdb (the same files as `seeds/` in the repository).
pub fn built_in_sources() -> Vec<(String, String)> {
    BUILT_IN
        .iter()
        .map(|(name, text)| (format!("seeds/{name}"), (*text).to_string()))
        .collect()
}

const BUILT_IN: &[(&str, &str)] = &[
    ("001_fleet.yaml", include_str!("../../seeds/001_fleet.yaml")),
    ("002_spc.yaml", include_str!("../../seeds/002_spc.yaml")),
    (
        "003_garden.yaml",
        include_str!("../../seeds/003_garden.yaml"),
    ),
];

/// Reads fixture files; a directory stands for its `*.yaml`/`*.yml` files in name order.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| Error::FixtureFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| Error::FixtureFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// Refuses a database with pending migrations, naming them: the fixtures describe the
/// complete schema.
pub fn check_migrated(driver: &mut dyn Driver, set: &MigrationSet) -> Result<()> {
    let applied = driver.applied()?;
    let pending: Vec<String> = set
        .pending(&applied)
        .map(|m| format!("{} {}", m.version, m.name))
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(Error::SeedPending(pending))
    }
}

/// Loads `fixtures` into the database: the CLI and the tests call this.
pub fn seed(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    fixtures: &Fixtures,
    options: &SeedOptions,
    observer: &mut dyn SeedObserver,
) -> Result<SeedReport> {
    let started = Instant::now();
    check_migrated(driver, set)?;
    if fixtures.needs_secret_key() && options.key.is_none() {
        return Err(Error::SecretKey(format!(
            "the fixtures hold gateway passwords, but `{}` is not set",
            secrets::KEY_VAR
        )));
    }
    let mut tx = Transaction::begin(driver)?;
    let mut seeder = Seeder {
        driver: tx.driver(),
        options,
        ids: HashMap::new(),
    };
    let emptied = match options.mode {
        Mode::Replace => seeder.empty(fixtures)?,
        Mode::Upsert => Vec::new(),
    };
    let mut tables = Vec::new();
    for table in fixtures.tables() {
        let report = if table.name == "telemetry" {
            seeder.telemetry(fixtures, observer)?
        } else {
            let rows: Vec<&Row> = fixtures.rows_of(table.name).collect();
            observer.table_started(table.name, rows.len() as u64);
            seeder.table(table, &rows)?
        };
        observer.table_finished(&report);
        tables.push(report);
    }
    tx.commit()?;
    Ok(SeedReport {
        mode: options.mode,
        emptied: emptied.into_iter().map(str::to_string).collect(),
        tables,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The seed's one transaction. PostgreSQL also holds plantdb's advisory lock, so a seed never
/// interleaves with a migration run; SQLite's `BEGIN IMMEDIATE` is that lock. Dropped without
/// `commit`, it rolls back.
struct Transaction<'a> {
    driver: &'a mut dyn Driver,
    open: bool,
}

impl<'a> Transaction<'a> {
    fn begin(driver: &'a mut dyn Driver) -> Result<Transaction<'a>> {
        match driver.dialect() {
            Dialect::Postgres => {
                driver.lock()?;
                if let Err(e) = driver.execute("BEGIN") {
                    let _ = driver.unlock();
                    return Err(e);
                }
            }
            // `BEGIN IMMEDIATE`, waiting for other writers as the run lock does.
            Dialect::Sqlite => driver.lock()?,
        }
        Ok(Transaction { driver, open: true })
    }

    fn driver(&mut self) -> &mut dyn Driver {
        &mut *self.driver
    }

    fn commit(mut self) -> Result<()> {
        self.open = false;
        let committed = self.driver.execute("COMMIT");
        if committed.is_err() {
            let _ = self.driver.execute("ROLLBACK");
        }
        let unlocked = self.driver.unlock();
        committed.and(unlocked)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // The seed's own error is what the user needs; a failed rollback adds nothing.
            let _ = self.driver.execute("ROLLBACK");
            let _ = self.driver.unlock();
        }
    }
}

struct Seeder<'a, 'o> {
    driver: &'a mut dyn Driver,
    options: &'o SeedOptions,
    /// The stored key of every row, by (table, label), for foreign keys.
    ids: HashMap<(&'static str, String), Value>,
}

impl Seeder<'_, '_> {
    fn placeholder(&self, n: usize) -> String {
        match self.driver.dialect() {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// `column = value` that also matches NULL to NULL (hierarchy roots have no parent).
    fn same(&self, column: &str, n: usize) -> String {
        match self.driver.dialect() {
            Dialect::Postgres => format!(
                "{} IS NOT DISTINCT FROM {}",
                quote_ident(column),
                self.placeholder(n)
            ),
            Dialect::Sqlite => format!("{} IS {}", quote_ident(column), self.placeholder(n)),
        }
    }

    /// Replace mode: removes every row of the tables the fixtures write (and of the tables
    /// referencing them) that the fixtures do not name, children first. Rows the fixtures
    /// name are found by key first and kept, so they keep their ids and timestamps and a
    /// second run changes nothing; `table` then updates them in place.
    fn empty(&mut self, fixtures: &Fixtures) -> Result<Vec<&'static str>> {
        let written: Vec<&'static str> = fixtures.tables().iter().map(|t| t.name).collect();
        let emptied = catalog::with_dependents(&written);
        // Which existing rows the fixtures name, parents first (a child can only match
        // when its parent did).
        // Kept rows are identified by their primary key, or by their natural key in tables
        // without one (characteristic_rules), so neither kind is deleted and re-inserted.
        let mut keep: HashMap<&'static str, (Vec<&'static str>, Vec<Vec<Value>>)> = HashMap::new();
        for table in fixtures.tables() {
            if table.key.is_empty() {
                continue;
            }
            let columns = match table.pk_column() {
                Some(pk) => vec![pk],
                None => table.key.to_vec(),
            };
            let mut kept = Vec::new();
            for row in fixtures.rows_of(table.name) {
                let Some(values) = self.resolve_existing(row) else {
                    continue;
                };
                match (table.pk_column(), self.find(table, &values)?) {
                    (Some(_), Some(Existing { id: Some(id), .. })) => {
                        self.ids.insert((table.name, row.label.clone()), id.clone());
                        kept.push(vec![id]);
                    }
                    (None, Some(_)) => kept.push(Self::key_values(table, &values)),
                    _ => {}
                }
            }
            keep.insert(table.name, (columns, kept));
        }
        self.ids.clear();
        let mut order = catalog::parent_first();
        order.reverse();
        for table in order.into_iter().filter(|t| emptied.contains(&t.name)) {
            let (sql, params) = match keep.get(table.name) {
                Some((columns, kept)) if !kept.is_empty() => {
                    let mut n = 0;
                    let rows: Vec<String> = kept
                        .iter()
                        .map(|_| {
                            let same: Vec<String> = columns
                                .iter()
                                .map(|c| {
                                    n += 1;
                                    self.same(c, n)
                                })
                                .collect();
                            format!("({})", same.join(" AND "))
                        })
                        .collect();
                    (
                        format!(
                            "DELETE FROM {} WHERE NOT ({})",
                            quote_ident(table.name),
                            rows.join(" OR ")
                        ),
                        kept.concat(),
                    )
                }
                _ => (
                    format!("DELETE FROM {}", quote_ident(table.name)),
                    Vec::new(),
                ),
            };
            self.driver.query(&sql, &params, &[])?;
        }
        Ok(emptied)
    }

    /// A row's values for matching against what is stored, or `None` when a parent it
    /// references is not stored (then it cannot be stored either).
    fn resolve_existing(&self, row: &Row) -> Option<Vec<(&'static str, Value)>> {
        row.cells
            .iter()
            .map(|(column, cell, _)| {
                let value = match cell {
                    Cell::Value(v) => v.clone(),
                    Cell::Plain(_) => Value::Null,
                    Cell::Label { table, label } => self.ids.get(&(*table, label.clone()))?.clone(),
                };
                Some((column.name, value))
            })
            .collect()
    }

    fn table(&mut self, table: &'static Table, rows: &[&Row]) -> Result<TableReport> {
        let mut report = TableReport {
            table: table.name.to_string(),
            ..TableReport::default()
        };
        for row in rows {
            self.row(table, row, &mut report).map_err(|e| match e {
                Error::Database { message, .. } => fixture::fixture_error(
                    row.at.clone(),
                    &format!(
                        "the database refused row `{}` of `{}`: {message}",
                        row.label, table.name
                    ),
                    None,
                ),
                other => other,
            })?;
        }
        Ok(report)
    }

    fn row(&mut self, table: &'static Table, row: &Row, report: &mut TableReport) -> Result<()> {
        let mut values = self.resolve(row)?;
        let existing = if !table.key.is_empty() {
            self.find(table, &values)?
        } else {
            None
        };
        self.seal_secrets(row, &mut values, existing.as_ref())?;
        let id = match existing {
            Some(existing) => {
                let changed: Vec<(&'static str, Value)> = values
                    .iter()
                    .filter(|(col, value)| existing.values.get(col) != Some(value))
                    .cloned()
                    .collect();
                if changed.is_empty() {
                    report.unchanged += 1;
                } else {
                    self.update(table, &values, &changed)?;
                    report.updated += 1;
                }
                existing.id
            }
            None => {
                report.inserted += 1;
                self.insert(table, &values)?
            }
        };
        if let Some(id) = id {
            self.ids.insert((table.name, row.label.clone()), id);
        }
        Ok(())
    }

    /// The row's values with labels turned into the referenced rows' keys.
    fn resolve(&self, row: &Row) -> Result<Vec<(&'static str, Value)>> {
        row.cells
            .iter()
            .map(|(column, cell, at)| {
                let value = match cell {
                    Cell::Value(v) => v.clone(),
                    // Sealed by `seal_secrets` once the existing row is known.
                    Cell::Plain(_) => Value::Null,
                    Cell::Label { table, label } => self
                        .ids
                        .get(&(*table, label.clone()))
                        .cloned()
                        .ok_or_else(|| {
                            fixture::fixture_error(
                                at.clone(),
                                &format!(
                                    "`{label}` in `{table}` was not inserted before `{}`",
                                    row.table.name
                                ),
                                None,
                            )
                        })?,
                };
                Ok((column.name, value))
            })
            .collect()
    }

    /// Encrypts or hashes plain secrets, keeping the stored value when it already holds the
    /// same secret (a fresh nonce or salt would change the row on every run).
    fn seal_secrets(
        &self,
        row: &Row,
        values: &mut [(&'static str, Value)],
        existing: Option<&Existing>,
    ) -> Result<()> {
        for (column, cell, _) in &row.cells {
            let Cell::Plain(plain) = cell else { continue };
            let stored = existing.and_then(|e| match e.values.get(column.name) {
                Some(Value::Text(t)) => Some(t.as_str()),
                _ => None,
            });
            let sealed = match column.secret {
                Some(Secret::Encrypted) => {
                    let key = self.options.key.as_ref().ok_or_else(|| {
                        Error::SecretKey(format!("`{}` is not set", secrets::KEY_VAR))
                    })?;
                    match stored {
                        Some(s) if key.decrypt(s).as_deref() == Some(plain.as_str()) => {
                            s.to_string()
                        }
                        _ => key.encrypt(plain)?,
                    }
                }
                _ => match stored {
                    Some(s) if secrets::verify_password(s, plain) => s.to_string(),
                    _ => secrets::hash_password(plain)?,
                },
            };
            if let Some(slot) = values.iter_mut().find(|(c, _)| *c == column.name) {
                slot.1 = Value::Text(sealed);
            }
        }
        Ok(())
    }

    fn key_values(table: &Table, values: &[(&'static str, Value)]) -> Vec<Value> {
        table
            .key
            .iter()
            .map(|k| {
                values
                    .iter()
                    .find(|(c, _)| c == k)
                    .map_or(Value::Null, |(_, v)| v.clone())
            })
            .collect()
    }

    fn find(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, Value)],
    ) -> Result<Option<Existing>> {
        let pk = match table.pk {
            Pk::Identity(pk) => Some(pk),
            _ => None,
        };
        let mut columns: Vec<&'static str> = values.iter().map(|(c, _)| *c).collect();
        if let Some(pk) = pk {
            columns.push(pk);
        }
        let kinds: Vec<Kind> = columns
            .iter()
            .map(|c| table.column(c).map_or(Kind::Text, |col| col.kind))
            .collect();
        let conditions: Vec<String> = table
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| self.same(k, i + 1))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} LIMIT 1",
            columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(table.name),
            conditions.join(" AND ")
        );
        let rows = self
            .driver
            .query(&sql, &Self::key_values(table, values), &kinds)?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let found: HashMap<&'static str, Value> = columns.iter().copied().zip(row).collect();
        let id = match table.pk {
            Pk::Identity(pk) => found.get(pk).cloned(),
            Pk::Uuid(pk) | Pk::Text(pk) => values
                .iter()
                .find(|(c, _)| *c == pk)
                .map(|(_, v)| v.clone()),
            Pk::None => None,
        };
        Ok(Some(Existing { id, values: found }))
    }

    fn update(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, Value)],
        changed: &[(&'static str, Value)],
    ) -> Result<()> {
        let mut params: Vec<Value> = changed.iter().map(|(_, v)| v.clone()).collect();
        let sets: Vec<String> = changed
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{} = {}", quote_ident(c), self.placeholder(i + 1)))
            .collect();
        let conditions: Vec<String> = table
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| self.same(k, changed.len() + i + 1))
            .collect();
        params.extend(Self::key_values(table, values));
        let sql = format!(
            "UPDATE {} SET {} WHERE {}",
            quote_ident(table.name),
            sets.join(", "),
            conditions.join(" AND ")
        );
        self.driver.query(&sql, &params, &[])?;
        Ok(())
    }

    /// Inserts one row and returns its key (read back for identities).
    fn insert(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, Value)],
    ) -> Result<Option<Value>> {
        let columns: Vec<String> = values.iter().map(|(c, _)| quote_ident(c)).collect();
        let params: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
        let placeholders: Vec<String> = (1..=values.len()).map(|n| self.placeholder(n)).collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(table.name),
            columns.join(", "),
            placeholders.join(", ")
        );
        match table.pk {
            Pk::Identity(pk) => {
                sql.push_str(&format!(" RETURNING {}", quote_ident(pk)));
                let rows = self.driver.query(&sql, &params, &[Kind::Int])?;
                Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()))
            }
            Pk::Uuid(pk) | Pk::Text(pk) => {
                self.driver.query(&sql, &params, &[])?;
                Ok(values
                    .iter()
                    .find(|(c, _)| *c == pk)
                    .map(|(_, v)| v.clone()))
            }
            Pk::None => {
                self.driver.query(&sql, &params, &[])?;
                Ok(None)
            }
        }
    }

    fn telemetry(
        &mut self,
        fixtures: &Fixtures,
        observer: &mut dyn SeedObserver,
    ) -> Result<TableReport> {
        let mut series = Vec::new();
        for spec in &fixtures.telemetry {
            let device = self
                .ids
                .get(&("devices", spec.device.clone()))
                .cloned()
                .unwrap_or(Value::Text(spec.device.clone()));
            let Value::Text(device_id) = device else {
                continue;
            };
            let plant_id = fixtures
                .rows_of("devices")
                .find(|r| r.label == spec.device)
                .and_then(|r| match r.cell("plant_id") {
                    Some(Cell::Label { table, label }) => {
                        self.ids.get(&(*table, label.clone())).cloned()
                    }
                    _ => None,
                })
                .and_then(|v| match v {
                    Value::Text(t) => Some(t),
                    _ => None,
                });
            series.push(telemetry::Series {
                device_id,
                plant_id,
                interval: spec.interval,
                span: spec.span,
            });
        }
        if self.options.mode == Mode::Upsert {
            // Readings have no key to match: the generated devices' readings are replaced.
            let devices: Vec<Value> = series
                .iter()
                .map(|s| Value::Text(s.device_id.clone()))
                .collect();
            let list: Vec<String> = (1..=devices.len()).map(|n| self.placeholder(n)).collect();
            if !devices.is_empty() {
                self.driver.query(
                    &format!(
                        "DELETE FROM \"telemetry\" WHERE \"device_id\" IN ({})",
                        list.join(", ")
                    ),
                    &devices,
                    &[],
                )?;
            }
        }
        let mut generator = telemetry::Generator::new(series, self.options.scale, self.options.now);
        observer.table_started("telemetry", generator.total());
        let inserted = self.driver.insert_rows(
            "telemetry",
            &telemetry::COLUMNS,
            &mut generator,
            &mut |done| observer.progress("telemetry", done),
        )?;
        Ok(TableReport {
            table: "telemetry".into(),
            inserted,
            ..TableReport::default()
        })
    }
}

struct Existing {
    id: Option<Value>,
    values: HashMap<&'static str, Value>,
}

/// The fixtures to load: the given files, or the built-in ones.
pub fn sources(files: &[PathBuf]) -> Result<Vec<(String, String)>> {
    if files.is_empty() {
        Ok(built_in_sources())
    } else {
        read_sources(files)
    }
}
