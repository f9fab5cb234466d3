//! `plantdb seed`: loads YAML fixtures into a fully migrated database in one transaction.
//!
//! Fixtures are read and checked completely first (fixture.rs); only then is the database
//! touched, and everything a seed writes commits together or not at all.

pub mod catalog;
pub mod fixture;
mod fixture_row;
pub mod fixture_time;
pub mod live_catalog;
pub mod plan;
pub mod secrets;
pub mod spc_config;
pub mod telemetry;
pub mod telemetry_spec;
pub mod yaml_node;
pub mod yaml_stream;
pub mod yaml_text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::db::value::{Kind, Value};
use crate::db::{Dialect, Driver, Locked, Params, quote_ident};
use crate::error::{Error, Location, Result};
use crate::migrate::MigrationSet;
use catalog::{Catalog, Column, NaturalKey, Pk, Secret, Table};
pub use fixture::Fixtures;
use fixture::{Cell, Row};
use secrets::SecretKey;
use yaml_node::{fixture_error, fixture_error_from};

/// How `seed` treats rows already in the tables it writes. Replace deletes the rows the
/// fixtures do not name and matches the others by key, updating them in place, so the
/// migration's DEFAULT plant keeps its id and a second run changes nothing. Rows of other
/// tables change only through the foreign keys' own `ON DELETE` rules (plan.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedMode {
    /// The tables the fixtures write end up holding exactly the fixtures' rows.
    Replace,
    /// Insert rows, or update the row with the same key; keep other rows. Generated telemetry
    /// has no key: the readings of the devices it is generated for are replaced, unless they
    /// are exactly what would be generated.
    Upsert,
}

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub mode: SeedMode,
    /// Multiplies the telemetry span (load testing).
    pub scale: u32,
    /// What `now` in relative times and generated telemetry means: the clock, or `--now`.
    pub now: DateTime<Utc>,
    /// Needed when the fixtures hold gateway passwords.
    pub key: Option<SecretKey>,
    /// Work everything out in the transaction, then roll it back.
    pub dry_run: bool,
}

/// What a seed did to one table. `inserted`, `updated`, `deleted` and `unchanged` count the
/// rows of a table the fixtures write; `cascade_deleted` and `set_null` count what the
/// database's `ON DELETE CASCADE` / `SET NULL` rules did because of those deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub cascade_deleted: u64,
    pub set_null: u64,
}

impl TableReport {
    /// Whether the seed changed a row of this table.
    pub fn changed(&self) -> bool {
        self.inserted + self.updated + self.deleted + self.cascade_deleted + self.set_null > 0
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub mode: SeedMode,
    /// True when nothing was written: the report is what the seed would do.
    pub dry_run: bool,
    /// The tables the seed touched, parents first: the tables the fixtures write, and the
    /// tables their deletes changed through `ON DELETE` rules.
    pub tables: Vec<TableReport>,
    pub duration_ms: u64,
}

/// Told about progress, for a terminal's progress bar. Never used for results: those are
/// printed from the report, once committed.
pub trait SeedObserver {
    fn table_started(&mut self, _table: &str, _rows: u64) {}
    fn progress(&mut self, _table: &str, _done: u64) {}
    fn table_finished(&mut self, _report: &TableReport) {}
}

/// A seed observer for callers that show no progress (tests, `--json`, `--quiet`).
pub struct IgnoreProgress;
impl SeedObserver for IgnoreProgress {}

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

/// Reads fixture files; a directory stands for its `*.yaml`/`*.yml` files in name order, and
/// a directory without any is an error (seeding nothing is never what was meant).
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| Error::FixtureFile {
                path: path.display().to_string(),
                reason: e.to_string(),
                source: Some(e),
            })?;
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            if found.is_empty() {
                return Err(Error::FixtureFile {
                    path: path.display().to_string(),
                    reason: "the directory holds no seed files (*.yaml or *.yml)".into(),
                    source: None,
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files.iter().map(|path| read_source(path)).collect()
}

/// One fixture file as text. YAML is read as UTF-8; a byte that is not names its position.
fn read_source(path: &std::path::Path) -> Result<(String, String)> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::FixtureFile {
        path: name.clone(),
        reason: e.to_string(),
        source: Some(e),
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => {
            let bytes = e.as_bytes();
            let valid = e.utf8_error().valid_up_to();
            // Everything before the bad byte is valid UTF-8: count lines and characters there.
            let before = String::from_utf8_lossy(&bytes[..valid]);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
            Err(fixture_error(
                crate::error::Location {
                    file: name.into(),
                    line,
                    column,
                },
                &format!("byte 0x{:02X} is not valid UTF-8", bytes[valid]),
                Some(if utf16 {
                    "the file is UTF-16; save it as UTF-8".into()
                } else {
                    "plantdb reads seed files as UTF-8; save the file in that encoding".into()
                }),
            ))
        }
    }
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

/// Loads `fixtures` into the database: the CLI and the tests call this. Nothing is printed
/// here; the report describes a committed seed (or, with `dry_run`, a rolled-back one).
pub fn seed(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    fixtures: &Fixtures,
    options: &SeedOptions,
    observer: &mut dyn SeedObserver,
) -> Result<SeedReport> {
    let started = Instant::now();
    fixtures.check_telemetry_reach(options.scale, options.now)?;
    check_migrated(driver, set)?;
    // Fixtures checked against the live tables already hold their catalog; built-in ones
    // are held to the live tables here (an adopted table may have columns of its own).
    let live = if std::ptr::eq(fixtures.catalog(), Catalog::built_in()) {
        live_catalog::read(driver)?
    } else {
        fixtures.catalog()
    };
    check_fits(fixtures, live)?;
    if fixtures.needs_secret_key() && options.key.is_none() {
        return Err(Error::SecretKeyMissing {
            var: secrets::KEY_VAR,
        });
    }
    // PostgreSQL's run lock keeps a seed from interleaving with a migration run; SQLite's
    // lock is its write lock. Everything the seed writes is one transaction inside it.
    let mut locked = Locked::new(driver)?;
    let work = |driver: &mut dyn Driver| -> Result<HashMap<&'static str, TableReport>> {
        let mut seeder = Seeder {
            driver,
            options,
            live,
            fixtures,
            stored: vec![false; fixtures.rows.len()],
            ids: HashMap::new(),
        };
        let series = telemetry_series(fixtures);
        // Generated readings already stored exactly as they would be generated are kept.
        let mut same_series = Vec::new();
        for s in &series {
            if seeder.stored_series_matches(s)? {
                same_series.push(s.device_id.clone());
            }
        }
        // Everything replace mode deletes is worked out (and refused when a foreign key forbids
        // it) before the first write.
        let (effects, named) = match options.mode {
            SeedMode::Replace => {
                let mut named = seeder.named_rows(fixtures, &same_series)?;
                named.stage(seeder.driver)?;
                (plan::effects(seeder.driver, &named, live)?, Some(named))
            }
            SeedMode::Upsert => (Vec::new(), None),
        };
        if let Some(named) = &named {
            seeder.delete_unnamed(fixtures, named)?;
            named.unstage(seeder.driver)?;
        }
        let mut reports: HashMap<&'static str, TableReport> = HashMap::new();
        for table in fixtures.tables() {
            let report = if table.name == "telemetry" {
                seeder.telemetry(&series, &same_series, observer)?
            } else {
                let rows: Vec<&Row> = fixtures.rows_of(table.name).collect();
                observer.table_started(table.name, rows.len() as u64);
                seeder.table(table, &rows)?
            };
            observer.table_finished(&report);
            reports.insert(table.name, report);
        }
        for (table, effect) in effects {
            let report = reports.entry(table).or_insert_with(|| TableReport {
                table: table.to_string(),
                ..TableReport::default()
            });
            report.deleted += effect.deleted;
            report.cascade_deleted += effect.cascade_deleted;
            report.set_null += effect.set_null;
        }
        Ok(reports)
    };
    let mut reports = if options.dry_run {
        locked.rehearsal(work)?
    } else {
        locked.transaction(work)?
    };
    locked.release()?;
    // The fixtures' tables in their catalog's order, then tables only the live database has
    // (changed through their foreign keys' `ON DELETE` rules).
    let tables = fixtures
        .catalog()
        .parent_first()
        .into_iter()
        .chain(live.parent_first())
        .filter_map(|t| reports.remove(t.name))
        .collect();
    Ok(SeedReport {
        mode: options.mode,
        dry_run: options.dry_run,
        tables,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The telemetry the fixtures generate, one series per device. Devices and plants have text
/// keys the fixtures state, so no database lookup is needed.
pub fn telemetry_series(fixtures: &Fixtures) -> Vec<telemetry::Series> {
    let text_key = |table: &str, label: &str| match fixture_key(fixtures, table, label) {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    };
    fixtures
        .telemetry
        .iter()
        .map(|spec| {
            let device = fixtures.row("devices", &spec.device);
            let plant_id = device.and_then(|r| match r.cell("plant_id") {
                Some(Cell::Label { table, label }) => text_key(table, &label),
                _ => None,
            });
            telemetry::Series {
                device_id: text_key("devices", &spec.device).unwrap_or(spec.device.clone()),
                plant_id,
                interval: spec.interval,
                span: spec.span,
            }
        })
        .collect()
}

/// Said with a database's refusal: the seed's results are never printed, so say what became
/// of them.
const ROLLED_BACK: &str = "the seed was rolled back: nothing was written";

/// The key of a fixture row whose key does not come from the database (text and UUID keys).
fn fixture_key(fixtures: &Fixtures, table: &str, label: &str) -> Option<Value> {
    row_key(fixtures.row(table, label)?)
}

/// The key `row` gives itself, when its table's key does not come from the database.
fn row_key(row: &Row) -> Option<Value> {
    let pk = match row.table.pk {
        Pk::Text(pk) | Pk::Uuid(pk) => pk,
        Pk::Identity(_) | Pk::None => return None,
    };
    match row.cell(pk) {
        Some(Cell::Value(v)) => Some(v),
        _ => None,
    }
}

struct Seeder<'a, 'o> {
    driver: &'a mut dyn Driver,
    options: &'o SeedOptions,
    /// The live database's tables, for their unique keys.
    live: &'static Catalog,
    fixtures: &'o Fixtures,
    /// Which fixture rows are stored, by their position in `fixtures.rows`, for foreign
    /// keys: no copy of the labels.
    stored: Vec<bool>,
    /// The stored key of each stored row whose key is not the one its fixture gives
    /// (generated keys, rows found by another unique key), by position.
    ids: HashMap<usize, Value>,
}

impl Seeder<'_, '_> {
    /// An empty parameter list that writes placeholders as this database wants them.
    fn params(&self) -> Params {
        Params::new(self.driver.dialect())
    }

    /// The stored key of the fixture row of `table` labelled `label`, once it is known.
    fn id(&self, table: &str, label: &str) -> Option<Value> {
        self.stored_id(self.fixtures.position(table, label)?)
    }

    /// The stored key of the fixture row at position `i`, once it is known.
    fn stored_id(&self, i: usize) -> Option<Value> {
        if !self.stored[i] {
            return None;
        }
        match self.ids.get(&i) {
            Some(id) => Some(id.clone()),
            None => row_key(&self.fixtures.rows[i]),
        }
    }

    fn set_id(&mut self, row: &Row, id: Value) {
        if let Some(i) = self.fixtures.position(row.table.name, row.label()) {
            self.stored[i] = true;
            if row_key(row).as_ref() == Some(&id) {
                self.ids.remove(&i);
            } else {
                self.ids.insert(i, id);
            }
        }
    }

    /// Replace mode: the existing rows the fixtures name, per table they write, found by
    /// key, parents first (a child can only match when its parent did). They are kept, so
    /// they keep their ids and timestamps and a second run changes nothing; `table` then
    /// updates them in place. Kept rows are identified by their primary key, or by their
    /// natural key in tables without one (characteristic_rules); kept telemetry by device.
    fn named_rows(&mut self, fixtures: &Fixtures, same_series: &[String]) -> Result<plan::Named> {
        let mut named = plan::Named::default();
        for table in fixtures.tables() {
            if table.name == "telemetry" {
                let devices = same_series.iter().map(|d| vec![Value::Text(d.clone())]);
                named.insert(table.name, vec!["device_id"], devices.collect());
                continue;
            }
            let columns = match table.pk_column() {
                Some(pk) => vec![pk],
                None => table.key.to_vec(),
            };
            let mut kept = Vec::new();
            for row in fixtures.rows_of(table.name) {
                let Some(values) = self.resolve_existing(fixtures, row) else {
                    continue;
                };
                match (table.pk_column(), self.find(table, row, &values)?) {
                    (Some(_), Some(Existing { id: Some(id), .. })) => {
                        self.set_id(row, id.clone());
                        kept.push(vec![id]);
                    }
                    (None, Some(_)) => kept.push(Self::key_values(table, &values)),
                    _ => {}
                }
            }
            named.insert(table.name, columns, kept);
        }
        self.stored.fill(false);
        self.ids.clear();
        Ok(named)
    }

    /// Replace mode: deletes the rows the fixtures do not name, children first; the database
    /// applies the foreign keys' `ON DELETE` rules to the rows referencing them.
    fn delete_unnamed(&mut self, fixtures: &Fixtures, named: &plan::Named) -> Result<()> {
        let mut tables = fixtures.tables();
        tables.reverse();
        for table in tables {
            let mut conditions = plan::Conditions::new(self.driver.dialect(), named, self.live);
            let Some(unnamed) = conditions.unnamed(table.name) else {
                continue;
            };
            let sql = format!("DELETE FROM {} WHERE {unnamed}", quote_ident(table.name));
            self.driver.query(&sql, conditions.params(), &[])?;
        }
        Ok(())
    }

    /// A row's values for finding it among the stored rows, or `None` when it cannot be
    /// stored: a key column references a row with a generated key that is not stored. A
    /// reference outside the key does not matter for finding the row (it is updated later),
    /// and a text or UUID key is known from the fixtures whether or not its row is stored:
    /// a device whose plant was deleted is still the same device.
    fn resolve_existing(
        &self,
        fixtures: &Fixtures,
        row: &Row,
    ) -> Option<Vec<(&'static str, Value)>> {
        self.values(row, |column, table, label, _| {
            if row.table.key.contains(&column.name) {
                fixture_key(fixtures, table, label).ok_or(())
            } else {
                Ok(Value::Null)
            }
        })
        .ok()
    }

    fn table(&mut self, table: &'static Table, rows: &[&Row]) -> Result<TableReport> {
        let mut report = TableReport {
            table: table.name.to_string(),
            ..TableReport::default()
        };
        for row in rows {
            self.row(table, row, &mut report).map_err(|e| match e {
                Error::Database {
                    message, source, ..
                } => Error::Fixture {
                    at: row.at.clone(),
                    message: format!(
                        "the database refused row `{}` of `{}`: {message}",
                        row.label(),
                        table.name
                    ),
                    hint: Some(ROLLED_BACK.into()),
                    source: source.map(|cause| Box::new(cause) as _),
                },
                // Pointed at the value itself when the fixture states it.
                Error::Bind {
                    column: Some(column),
                    pg_type,
                    reason,
                    source,
                    ..
                } => {
                    let at = row.cell_at(&column);
                    fixture_error_from(
                        at,
                        &format!(
                            "the database refused row `{}` of `{}`: the value of `{column}` does not fit PostgreSQL type {pg_type} ({reason})",
                            row.label(),
                            table.name
                        ),
                        Some(ROLLED_BACK.into()),
                        source,
                    )
                }
                other => other,
            })?;
        }
        Ok(report)
    }

    fn row(&mut self, table: &'static Table, row: &Row, report: &mut TableReport) -> Result<()> {
        let mut values = self.resolve(row)?;
        let existing = if !table.key.is_empty() {
            self.find(table, row, &values)?
        } else {
            None
        };
        // Found by another unique key: the stored row keeps its id, and the fixtures' rows
        // that reference this one get that id.
        if let Some(Existing {
            id: Some(id),
            by_natural_key: true,
            ..
        }) = &existing
            && let Pk::Uuid(pk) | Pk::Text(pk) = table.pk
            && let Some(slot) = values.iter_mut().find(|(c, _)| *c == pk)
        {
            slot.1 = id.clone();
        }
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
                    self.update(table, &values, &existing, &changed)?;
                    report.updated += 1;
                }
                existing.id
            }
            None => {
                report.inserted += 1;
                self.insert(table, &values)?
            }
        };
        if let Pk::Identity(pk) = table.pk
            && values.iter().any(|(c, v)| *c == pk && *v != Value::Null)
        {
            self.catch_up_sequence(table, pk)?;
        }
        if let Some(id) = id {
            self.set_id(row, id);
        }
        Ok(())
    }

    /// The row's values with labels turned into the referenced rows' keys.
    fn resolve(&self, row: &Row) -> Result<Vec<(&'static str, Value)>> {
        self.values(row, |_, table, label, at| {
            Err(fixture_error(
                at.clone(),
                &format!(
                    "`{label}` in `{table}` was not inserted before `{}`",
                    row.table.name
                ),
                None,
            ))
        })
    }

    /// The row's values, each label turned into the key stored for the row it names; a label
    /// whose row has no key yet becomes what `unknown(column, table, label, at)` says.
    fn values<E>(
        &self,
        row: &Row,
        mut unknown: impl FnMut(&Column, &'static str, &str, &Location) -> Result<Value, E>,
    ) -> Result<Vec<(&'static str, Value)>, E> {
        row.cells()
            .map(|(column, cell, at)| {
                let value = match cell {
                    Cell::Value(v) => v,
                    // Sealed by `seal_secrets` once the existing row is known.
                    Cell::Plain(_) => Value::Null,
                    Cell::Label { table, label } => match self.id(table, &label) {
                        Some(id) => id,
                        None => unknown(column, table, &label, &at)?,
                    },
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
        for (column, cell, _) in row.cells() {
            let Cell::Plain(plain) = cell else { continue };
            let stored = existing.and_then(|e| match e.values.get(column.name) {
                Some(Value::Text(t)) => Some(t.as_str()),
                _ => None,
            });
            let sealed = match column.secret {
                Some(Secret::Encrypted) => {
                    let key = self.options.key.as_ref().ok_or(Error::SecretKeyMissing {
                        var: secrets::KEY_VAR,
                    })?;
                    match stored {
                        Some(s) if key.decrypt(s).as_deref() == Some(plain.as_str()) => {
                            s.to_string()
                        }
                        _ => key.encrypt(&plain)?,
                    }
                }
                _ => match stored {
                    Some(s) if secrets::verify_password(s, &plain) => s.to_string(),
                    _ => secrets::hash_password(&plain)?,
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

    /// The stored row a fixture row is, found by the table's match key or, in a table with a
    /// primary key, by any other unique key of the live table whose values the row gives
    /// (a row another tool wrote with an id of its own). Two stored rows found by different
    /// keys, or a stated key (a text key, a UUID the fixture gives) naming no row while
    /// another key names one, is refused: one fixture row cannot be both.
    fn find(
        &mut self,
        table: &'static Table,
        row: &Row,
        values: &[(&'static str, Value)],
    ) -> Result<Option<Existing>> {
        let pk = table.pk_column();
        let naturals: Vec<&NaturalKey> = match pk {
            Some(_) => self
                .live
                .natural_keys(table.name)
                .iter()
                .filter(|key| natural_key_applies(key, values))
                .collect(),
            None => Vec::new(),
        };
        let mut columns: Vec<&'static str> = values.iter().map(|(c, _)| *c).collect();
        if let Some(pk) = pk
            && !columns.contains(&pk)
        {
            columns.push(pk);
        }
        let mut kinds: Vec<Kind> = columns
            .iter()
            .map(|c| table.column(c).map_or(Kind::Text, |col| col.kind))
            .collect();
        let mut params = self.params();
        let by_key: Vec<String> = table
            .key
            .iter()
            .zip(Self::key_values(table, values))
            .map(|(k, value)| params.same(k, value))
            .collect();
        let mut branches = vec![by_key.join(" AND ")];
        for key in &naturals {
            let mut parts: Vec<String> = key
                .columns
                .iter()
                .map(|c| params.same(c, value_of(values, c)))
                .collect();
            parts.extend(
                key.where_null
                    .iter()
                    .map(|c| format!("{} IS NULL", quote_ident(c))),
            );
            branches.push(parts.join(" AND "));
        }
        // Which keys found each row: worked out by the database, which compares as it stores.
        let mut selected: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        selected.extend(
            branches
                .iter()
                .map(|b| format!("CASE WHEN {b} THEN 1 ELSE 0 END")),
        );
        kinds.extend(branches.iter().map(|_| Kind::Int));
        let sql = format!(
            "SELECT {} FROM {} WHERE ({}) LIMIT {}",
            selected.join(", "),
            quote_ident(table.name),
            branches.join(") OR ("),
            branches.len()
        );
        let named: Vec<&str> = table
            .key
            .iter()
            .copied()
            .chain(naturals.iter().flat_map(|k| k.columns.iter().copied()))
            .collect();
        let rows = self
            .driver
            .query(&sql, params.values(), &kinds)
            .map_err(|e| name_parameter(e, &named))?;
        let mut found: Vec<(HashMap<&'static str, Value>, Vec<bool>)> = rows
            .into_iter()
            .map(|mut row| {
                let matched = row
                    .split_off(columns.len())
                    .into_iter()
                    .map(|v| v == Value::Int(1))
                    .collect();
                (columns.iter().copied().zip(row).collect(), matched)
            })
            .collect();
        let by = |matched: &[bool]| -> Vec<(Vec<&'static str>, Vec<Value>)> {
            let keys = std::iter::once(table.key.to_vec())
                .chain(naturals.iter().map(|k| k.columns.clone()));
            keys.zip(matched)
                .filter(|(_, m)| **m)
                .map(|(k, _)| {
                    let shown = k.iter().map(|c| value_of(values, c)).collect();
                    (k, shown)
                })
                .collect()
        };
        let stated_key_missed = found.len() == 1
            && !found[0].1[0]
            && match table.pk {
                Pk::Text(_) => true,
                Pk::Uuid(pk) => {
                    value_of(values, pk)
                        != Value::Uuid(fixture::derived_uuid(table.name, row.label()))
                }
                Pk::Identity(_) | Pk::None => false,
            };
        if found.len() > 1 || stated_key_missed {
            let pk = pk.unwrap_or("id");
            let mut described: Vec<String> = found
                .iter()
                .map(|(stored, matched)| {
                    let keys: Vec<String> =
                        by(matched).iter().map(|(k, v)| key_text(k, v)).collect();
                    format!(
                        "{} finds the stored row {pk}={}",
                        keys.join(" and "),
                        shown(stored.get(pk).unwrap_or(&Value::Null))
                    )
                })
                .collect();
            if stated_key_missed {
                described.insert(
                    0,
                    format!(
                        "{} finds no stored row",
                        key_text(table.key, &Self::key_values(table, values))
                    ),
                );
            }
            return Err(fixture_error(
                row.at.clone(),
                &format!(
                    "row `{}` of `{}` matches different stored rows by different unique keys: {}",
                    row.label(),
                    table.name,
                    described.join("; ")
                ),
                Some(
                    "a fixture row updates one stored row: change the fixture's values, or the stored rows, so that its keys agree"
                        .into(),
                ),
            ));
        }
        let Some((stored, matched)) = found.pop() else {
            return Ok(None);
        };
        let id = match table.pk {
            Pk::Identity(pk) | Pk::Uuid(pk) | Pk::Text(pk) => stored.get(pk).cloned(),
            Pk::None => None,
        };
        // A row another fixture row of this seed wrote is that row's: this one is a new row,
        // whose duplicate key the database refuses.
        if !matched[0]
            && (0..self.stored.len()).any(|i| {
                let other = &self.fixtures.rows[i];
                other.table.name == table.name
                    && other.label() != row.label()
                    && id.is_some()
                    && self.stored_id(i) == id
            })
        {
            return Ok(None);
        }
        Ok(Some(Existing {
            id,
            values: stored,
            by_natural_key: !matched[0],
        }))
    }

    fn update(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, Value)],
        existing: &Existing,
        changed: &[(&'static str, Value)],
    ) -> Result<()> {
        let mut params = self.params();
        let sets: Vec<String> = changed
            .iter()
            .map(|(c, v)| format!("{} = {}", quote_ident(c), params.bind(v.clone())))
            .collect();
        // The stored row by its primary key: it may have been found by another unique key.
        let (conditions, key): (Vec<String>, Vec<&str>) = match (table.pk_column(), &existing.id) {
            (Some(pk), Some(id)) => (vec![params.same(pk, id.clone())], vec![pk]),
            _ => (
                table
                    .key
                    .iter()
                    .zip(Self::key_values(table, values))
                    .map(|(k, value)| params.same(k, value))
                    .collect(),
                table.key.to_vec(),
            ),
        };
        let sql = format!(
            "UPDATE {} SET {} WHERE {}",
            quote_ident(table.name),
            sets.join(", "),
            conditions.join(" AND ")
        );
        let filled: Vec<&str> = changed.iter().map(|(c, _)| *c).chain(key).collect();
        self.driver
            .query(&sql, params.values(), &[])
            .map_err(|e| name_parameter(e, &filled))?;
        Ok(())
    }

    /// Inserts one row and returns its key (read back for identities).
    fn insert(
        &mut self,
        table: &'static Table,
        values: &[(&'static str, Value)],
    ) -> Result<Option<Value>> {
        let columns: Vec<String> = values.iter().map(|(c, _)| quote_ident(c)).collect();
        let mut params = self.params();
        let placeholders: Vec<String> =
            values.iter().map(|(_, v)| params.bind(v.clone())).collect();
        let params = params.values();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(table.name),
            columns.join(", "),
            placeholders.join(", ")
        );
        let filled: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
        match table.pk {
            Pk::Identity(pk) => {
                sql.push_str(&format!(" RETURNING {}", quote_ident(pk)));
                let rows = self
                    .driver
                    .query(&sql, params, &[Kind::Int])
                    .map_err(|e| name_parameter(e, &filled))?;
                Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()))
            }
            Pk::Uuid(pk) | Pk::Text(pk) => {
                self.driver
                    .query(&sql, params, &[])
                    .map_err(|e| name_parameter(e, &filled))?;
                Ok(values
                    .iter()
                    .find(|(c, _)| *c == pk)
                    .map(|(_, v)| v.clone()))
            }
            Pk::None => {
                self.driver
                    .query(&sql, params, &[])
                    .map_err(|e| name_parameter(e, &filled))?;
                Ok(None)
            }
        }
    }

    /// After a fixture gave an identity key explicitly (`alerts: {a: {id: 5, …}}`), moves the
    /// column's PostgreSQL sequence up to the table's largest key, so that the seed's next
    /// rows and the application's inserts do not draw a key that is taken. Never moves a
    /// sequence back. SQLite needs nothing: a new rowid is always above the largest one.
    ///
    /// `ALTER SEQUENCE … RESTART` rather than `setval`: `setval` survives a rollback, so a dry
    /// run or a failed seed would move the sequence for good (up to the column's maximum, which
    /// makes every later insert fail); `RESTART` is undone with the seed's transaction.
    fn catch_up_sequence(&mut self, table: &Table, pk: &str) -> Result<()> {
        if self.driver.dialect() != Dialect::Postgres {
            return Ok(());
        }
        let mut params = self.params();
        let sql = format!(
            "SELECT format('ALTER SEQUENCE %s RESTART WITH %s', s.seq, m.top::bigint + 1)
             FROM (SELECT pg_get_serial_sequence({}, {}) AS seq) s,
                  (SELECT max({}) AS top FROM {}) m
             WHERE s.seq IS NOT NULL AND m.top IS NOT NULL
               AND m.top > coalesce(pg_sequence_last_value(s.seq::regclass), 0)",
            params.bind(Value::Text(quote_ident(table.name))),
            params.bind(Value::Text(pk.to_string())),
            quote_ident(pk),
            quote_ident(table.name)
        );
        let rows = self.driver.query(&sql, params.values(), &[Kind::Text])?;
        // At the column's largest value there is no next id: PostgreSQL refuses the restart,
        // and the seed with it, rather than leave the table unable to take a new row.
        if let Some(Value::Text(restart)) = rows.first().and_then(|row| row.first()) {
            self.driver.execute(restart)?;
        }
        Ok(())
    }

    /// Whether the readings stored for a series' device are exactly those it generates (same
    /// times, plant and values): then they are kept, and a re-run with the same `now`
    /// changes nothing.
    fn stored_series_matches(&mut self, series: &telemetry::Series) -> Result<bool> {
        let columns: Vec<String> = telemetry::COLUMNS.iter().map(|c| quote_ident(c)).collect();
        let mut params = self.params();
        let sql = format!(
            "SELECT {} FROM \"telemetry\" WHERE \"device_id\" = {} ORDER BY \"time\" DESC",
            columns.join(", "),
            params.bind(Value::Text(series.device_id.clone()))
        );
        let kinds = [
            Kind::Time,
            Kind::Text,
            Kind::Text,
            Kind::Float,
            Kind::Float,
            Kind::Float,
            Kind::Float,
        ];
        let stored = self.driver.query(&sql, params.values(), &kinds)?;
        let generated =
            telemetry::Generator::new(vec![series.clone()], self.options.scale, self.options.now);
        if generated.total() != stored.len() as u64 {
            return Ok(false);
        }
        Ok(generated.zip(&stored).all(|(new, old)| &new == old))
    }

    /// Generated telemetry: series whose readings are stored already are kept (`unchanged`);
    /// the others are (re)generated. Replace mode has deleted every other reading already;
    /// upsert mode replaces the readings of the devices it regenerates.
    fn telemetry(
        &mut self,
        series: &[telemetry::Series],
        same_series: &[String],
        observer: &mut dyn SeedObserver,
    ) -> Result<TableReport> {
        let mut report = TableReport {
            table: "telemetry".into(),
            ..TableReport::default()
        };
        let (kept, regenerated): (Vec<_>, Vec<_>) = series
            .iter()
            .cloned()
            .partition(|s| same_series.contains(&s.device_id));
        report.unchanged = kept.iter().map(|s| s.steps(self.options.scale)).sum();
        if self.options.mode == SeedMode::Upsert && !regenerated.is_empty() {
            // Readings have no key to match: the regenerated devices' readings are replaced.
            let mut devices = self.params();
            let list: Vec<String> = regenerated
                .iter()
                .map(|s| devices.bind(Value::Text(s.device_id.clone())))
                .collect();
            let devices = devices.values();
            let condition = format!("\"device_id\" IN ({})", list.join(", "));
            let counted = self.driver.query(
                &format!("SELECT count(*) FROM \"telemetry\" WHERE {condition}"),
                devices,
                &[Kind::Int],
            )?;
            if let Some(Value::Int(n)) = counted.first().and_then(|r| r.first()) {
                report.deleted = u64::try_from(*n).unwrap_or(0);
            }
            self.driver.query(
                &format!("DELETE FROM \"telemetry\" WHERE {condition}"),
                devices,
                &[],
            )?;
        }
        let mut generator =
            telemetry::Generator::new(regenerated, self.options.scale, self.options.now);
        observer.table_started("telemetry", generator.total());
        report.inserted = self.driver.insert_rows(
            "telemetry",
            &telemetry::COLUMNS,
            &mut generator,
            &mut |done| observer.progress("telemetry", done),
        )?;
        Ok(report)
    }
}

/// Names the column a parameter that PostgreSQL could not take was for: `filled[i]` is the
/// column of parameter `i + 1`.
fn name_parameter(e: Error, filled: &[&str]) -> Error {
    match e {
        Error::Bind {
            index,
            column: None,
            pg_type,
            reason,
            source,
        } => Error::Bind {
            column: index
                .checked_sub(1)
                .and_then(|i| filled.get(i))
                .map(|c| c.to_string()),
            index,
            pg_type,
            reason,
            source,
        },
        other => other,
    }
}

struct Existing {
    id: Option<Value>,
    values: HashMap<&'static str, Value>,
    /// Found by a unique key other than the table's match key.
    by_natural_key: bool,
}

/// The value a row gives `column`; NULL when it gives none.
fn value_of(values: &[(&'static str, Value)], column: &str) -> Value {
    values
        .iter()
        .find(|(c, _)| *c == column)
        .map_or(Value::Null, |(_, v)| v.clone())
}

/// Whether a unique key can find the row: the row gives every column of it (NULLs never
/// collide), and a partial index's NULL condition holds for the row.
fn natural_key_applies(key: &NaturalKey, values: &[(&'static str, Value)]) -> bool {
    key.columns
        .iter()
        .all(|c| value_of(values, c) != Value::Null)
        && key
            .where_null
            .iter()
            .all(|c| value_of(values, c) == Value::Null)
}

/// `(gateway_id) = ('GW-1')`, for messages.
fn key_text(columns: &[&str], values: &[Value]) -> String {
    let values: Vec<String> = values.iter().map(shown).collect();
    format!("({}) = ({})", columns.join(", "), values.join(", "))
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(t) => format!("'{t}'"),
        Value::Uuid(u) => format!("'{u}'"),
        Value::Time(t) => format!("'{}'", Value::time_text(t)),
        other => format!("{other:?}"),
    }
}

/// Refuses, before anything is written, fixtures the live tables cannot take: a table or
/// column the database lacks, or a column the database requires (NOT NULL without a
/// default) that a row does not give, such as one another application added to a built-in
/// table. The database's own refusal would name one column, after the seed began.
fn check_fits(fixtures: &Fixtures, live: &Catalog) -> Result<()> {
    for table in fixtures.tables() {
        let first_at = || {
            fixtures
                .rows_of(table.name)
                .next()
                .map(|r| r.at.clone())
                .or_else(|| fixtures.telemetry.first().map(|t| t.at.clone()))
                .unwrap_or_else(|| Location {
                    file: "".into(),
                    line: 1,
                    column: 1,
                })
        };
        let Some(stored) = live.table(table.name) else {
            return Err(fixture_error(
                first_at(),
                &format!("the database has no table `{}`", table.name),
                Some("run its migrations first, or name a table the database has".into()),
            ));
        };
        if table.name == "telemetry" {
            let missing: Vec<String> = stored
                .columns
                .iter()
                .filter(|c| c.required && !telemetry::COLUMNS.contains(&c.name))
                .map(|c| format!("`{}`", c.name))
                .collect();
            if !missing.is_empty() {
                return Err(fixture_error(
                    first_at(),
                    &format!(
                        "generated telemetry cannot fill {} of `telemetry`: the database requires them (NOT NULL without a default)",
                        missing.join(", ")
                    ),
                    Some("give those columns a default in a migration".into()),
                ));
            }
            continue;
        }
        for row in fixtures.rows_of(table.name) {
            let gives = |name: &str| row.columns().any(|c| c.name == name);
            if let Some(column) = row.columns().find(|c| stored.column(c.name).is_none()) {
                return Err(fixture_error(
                    row.cell_at(column.name),
                    &format!(
                        "the database's `{}` has no column `{}` (row `{}`)",
                        table.name,
                        column.name,
                        row.label()
                    ),
                    Some(format!("columns: {}", stored.fixture_names().join(", "))),
                ));
            }
            let missing: Vec<String> = stored
                .columns
                .iter()
                .filter(|c| c.required && !gives(c.name))
                .map(|c| format!("`{}`", c.alias.unwrap_or(c.name)))
                .collect();
            if !missing.is_empty() {
                return Err(fixture_error(
                    row.at.clone(),
                    &format!(
                        "row `{}` of `{}` does not give {}, which the database requires (NOT NULL without a default)",
                        row.label(),
                        table.name,
                        missing.join(", ")
                    ),
                    Some(
                        "give them in the fixture, or give the columns a default in a migration"
                            .into(),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The fixtures to load: the given files, or the built-in ones.
pub fn sources(files: &[PathBuf]) -> Result<Vec<(String, String)>> {
    if files.is_empty() {
        Ok(built_in_sources())
    } else {
        read_sources(files)
    }
}
