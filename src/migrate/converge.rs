//! `plantdb migrate adopt --converge`: brings the tables of adopted migrations to plantdb's
//! definitions where that loses nothing.
//!
//! plantdb's definitions are what its applied migrations produce: they are run in a scratch
//! place (a PostgreSQL schema created and rolled back in one transaction, or an in-memory
//! SQLite database) and read back column by column. Each column of plantdb's that the live
//! table has is then compared with that definition:
//! - a missing server default is added;
//! - a type is widened (`VARCHAR` to `TEXT`, or to `VARCHAR(n)` when every stored value fits);
//! - `timestamp` becomes `timestamptz`, the stored values read as UTC;
//! - on SQLite, type names (`VARCHAR`, `FLOAT`, `BOOLEAN`, `DATETIME`) and `CURRENT_TIMESTAMP`
//!   defaults become plantdb's, by rebuilding the table (SQLite has no `ALTER COLUMN`).
//!
//! Anything else (nullability, a narrower type, another default) is left as it is and listed,
//! and an extra column, index, table or row is never dropped. The one index converge drops is
//! TimescaleDB's default time index on a hypertable plantdb defines, which plantdb creates
//! without (`create_default_indexes => FALSE`): it holds no data and is rebuilt by
//! `CREATE INDEX` if wanted.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{SqliteTarget, Target, TimescalePolicy};
use crate::db::value::{Kind, Value};
use crate::db::{self, Access, Dialect, Driver, quote_ident};
use crate::error::{Error, Result, Version};
use crate::migrate::MigrationSet;
use crate::schema::Schema;

/// One column as the database declares it, spelled as the dialect spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeclaredColumn {
    name: String,
    /// `format_type` on PostgreSQL, the declared type on SQLite.
    ty: String,
    not_null: bool,
    /// The default expression as the database prints it.
    default: Option<String>,
    /// Identity or generated (PostgreSQL), hidden or generated (SQLite): never changed.
    special: bool,
}

/// Tables (by name) and their columns in declaration order.
type Columns = BTreeMap<String, Vec<DeclaredColumn>>;

/// What plantdb's applied migrations define.
struct Definitions {
    columns: Columns,
    /// Index names per table (PostgreSQL): an index named here is plantdb's.
    indexes: BTreeMap<String, BTreeSet<String>>,
    /// The `CREATE TABLE` text of each table (SQLite), the base of a rebuild.
    create_sql: BTreeMap<String, String>,
    /// The keys of each table (SQLite), which a rebuild must not take from the live table.
    schema: Option<Schema>,
}

/// One change converge makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub table: String,
    pub column: Option<String>,
    /// What changes, e.g. "type character varying → text".
    pub change: String,
    /// What the user should know about it (how stored values are read).
    pub note: Option<String>,
}

/// A difference converge leaves as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    pub table: String,
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConvergePlan {
    pub changes: Vec<Change>,
    pub kept: Vec<Kept>,
    /// The SQL that makes the changes, in order, in one transaction.
    pub statements: Vec<String>,
}

impl ConvergePlan {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

/// Works out what converge would change on the tables of `applied` (plantdb's migrations that
/// are, or are being recorded as, applied). Reads only: the scratch work is rolled back.
pub fn plan(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    applied: &BTreeSet<Version>,
) -> Result<ConvergePlan> {
    let definitions = definitions(driver, set, applied)?;
    let live = declared_columns(driver)?;
    match driver.dialect() {
        Dialect::Postgres => plan_postgres(driver, &definitions, &live),
        Dialect::Sqlite => plan_sqlite(driver, &definitions, &live),
    }
}

/// Runs the plan's statements in the caller's transaction. On SQLite the caller has turned
/// foreign keys off (a rebuild drops and renames tables others reference), so they are checked
/// here before anything commits.
pub fn apply(driver: &mut dyn Driver, plan: &ConvergePlan) -> Result<()> {
    for statement in &plan.statements {
        driver.execute(statement).map_err(|e| Error::Converge {
            what: format!("`{}`", table_of(plan, statement)),
            reason: format!("`{}` failed: {e}", first_line(statement)),
            source: Some(Box::new(e)),
        })?;
    }
    if driver.dialect() == Dialect::Sqlite && !plan.statements.is_empty() {
        let broken = driver.query(
            "SELECT \"table\", coalesce(CAST(rowid AS TEXT), '?'), parent FROM pragma_foreign_key_check",
            &[],
            &[Kind::Text, Kind::Text, Kind::Text],
        )?;
        if let Some(row) = broken.first() {
            let text = |i: usize| match row.get(i) {
                Some(Value::Text(t)) => t.clone(),
                _ => "?".into(),
            };
            return Err(Error::Converge {
                what: format!("`{}`", text(0)),
                source: None,
                reason: format!(
                    "row {} would point at a missing `{}` ({} broken reference(s) in all)",
                    text(1),
                    text(2),
                    broken.len()
                ),
            });
        }
    }
    Ok(())
}

/// A statement shortened for an error message: its first line, at most 100 characters.
fn first_line(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or(sql);
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// The table a statement works on, for an error message.
fn table_of(plan: &ConvergePlan, statement: &str) -> String {
    plan.changes
        .iter()
        .map(|c| c.table.as_str())
        .find(|t| statement.contains(&quote_ident(t)))
        .unwrap_or("?")
        .to_string()
}

const SCRATCH_SCHEMA: &str = "plantdb_converge_scratch";

/// Runs the applied migrations somewhere that is thrown away, and reads what they define.
fn definitions(
    driver: &mut dyn Driver,
    set: &MigrationSet,
    applied: &BTreeSet<Version>,
) -> Result<Definitions> {
    let migrations: Vec<_> = set
        .migrations
        .iter()
        .filter(|m| applied.contains(&m.version))
        .collect();
    let run = |scratch: &mut dyn Driver| -> Result<()> {
        for migration in &migrations {
            scratch.execute(&migration.up.sql).map_err(|e| Error::Converge {
                what: "the adopted tables".into(),
                reason: format!(
                    "plantdb's definitions come from running its migrations somewhere thrown away, and {} failed there: {e}",
                    migration.up.file
                ),
                source: Some(Box::new(e)),
            })?;
        }
        Ok(())
    };
    match driver.dialect() {
        Dialect::Postgres => driver.rehearsal(|scratch| {
            // Only the scratch schema is on the path, so every unqualified name the migrations
            // create or use is the scratch one; the telemetry migration is kept away from
            // TimescaleDB, which works on the real table only.
            scratch.execute(&format!(
                "CREATE SCHEMA {SCRATCH_SCHEMA}; SET LOCAL search_path = {SCRATCH_SCHEMA}; SET LOCAL plantdb.timescale = 'off'"
            ))?;
            run(scratch)?;
            let columns = declared_columns(scratch)?;
            let indexes = postgres_index_names(scratch)?;
            Ok(Definitions {
                columns,
                indexes,
                create_sql: BTreeMap::new(),
                schema: None,
            })
        }),
        Dialect::Sqlite => {
            let mut scratch = db::connect(
                &Target::Sqlite(SqliteTarget::Memory),
                Access::ReadWrite,
                TimescalePolicy::Off,
            )?;
            run(scratch.as_mut())?;
            let columns = declared_columns(scratch.as_mut())?;
            let create_sql = sqlite_objects(scratch.as_mut(), "table")?
                .into_iter()
                .map(|(_, name, sql)| (name, sql))
                .collect();
            let schema = scratch.schema()?;
            Ok(Definitions {
                columns,
                indexes: BTreeMap::new(),
                create_sql,
                schema: Some(schema),
            })
        }
    }
}

const POSTGRES_COLUMNS: &str = "
    SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
           (a.attidentity <> '' OR a.attgenerated <> '')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum";

/// A key column counts as NOT NULL however it is declared (`INTEGER PRIMARY KEY` says nullable).
const SQLITE_COLUMNS: &str = "
    SELECT m.name, p.name, p.type, (p.\"notnull\" <> 0 OR p.pk > 0), p.dflt_value, p.hidden <> 0
    FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY m.name, p.cid";

/// Every column of every table in the current schema (PostgreSQL) or main database (SQLite).
fn declared_columns(driver: &mut dyn Driver) -> Result<Columns> {
    let sql = match driver.dialect() {
        Dialect::Postgres => POSTGRES_COLUMNS,
        Dialect::Sqlite => SQLITE_COLUMNS,
    };
    let rows = driver.query(
        sql,
        &[],
        &[
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Bool,
            Kind::Text,
            Kind::Bool,
        ],
    )?;
    let mut columns = Columns::new();
    for row in rows {
        let text = |i: usize| match row.get(i) {
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        };
        let flag = |i: usize| match row.get(i) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Int(n)) => *n != 0,
            _ => false,
        };
        let (Some(table), Some(name)) = (text(0), text(1)) else {
            continue;
        };
        columns.entry(table).or_default().push(DeclaredColumn {
            name,
            ty: text(2).unwrap_or_default(),
            not_null: flag(3),
            default: text(4),
            special: flag(5),
        });
    }
    Ok(columns)
}

fn postgres_index_names(driver: &mut dyn Driver) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let rows = driver.query(
        "SELECT tablename::text, indexname::text FROM pg_catalog.pg_indexes WHERE schemaname = current_schema()",
        &[],
        &[Kind::Text, Kind::Text],
    )?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        if let [Value::Text(table), Value::Text(index)] = row.as_slice() {
            out.entry(table.clone()).or_default().insert(index.clone());
        }
    }
    Ok(out)
}

/// `(table, name, sql)` of SQLite's objects of one type (`table`, `index`, `trigger`, `view`)
/// that have SQL (not the automatic indexes of keys).
fn sqlite_objects(driver: &mut dyn Driver, kind: &str) -> Result<Vec<(String, String, String)>> {
    let rows = driver.query(
        "SELECT tbl_name, name, sql FROM sqlite_master
         WHERE type = ?1 AND sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY rowid",
        &[Value::Text(kind.to_string())],
        &[Kind::Text, Kind::Text, Kind::Text],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match <[Value; 3]>::try_from(row) {
            Ok([Value::Text(table), Value::Text(name), Value::Text(sql)]) => {
                Some((table, name, sql))
            }
            _ => None,
        })
        .collect())
}

fn count(driver: &mut dyn Driver, sql: &str) -> Result<i64> {
    let rows = driver.query(sql, &[], &[Kind::Int])?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    })
}

/// `character varying(255)` → 255.
fn varchar_length(ty: &str) -> Option<i64> {
    ty.strip_prefix("character varying(")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

fn plan_postgres(
    driver: &mut dyn Driver,
    definitions: &Definitions,
    live: &Columns,
) -> Result<ConvergePlan> {
    let mut plan = ConvergePlan::default();
    for (table, expected) in &definitions.columns {
        let Some(found) = live.get(table) else {
            continue;
        };
        let t = quote_ident(table);
        for want in expected {
            let Some(have) = found.iter().find(|c| c.name == want.name) else {
                continue;
            };
            let c = quote_ident(&want.name);
            let at = |reason: String| Kept {
                table: table.clone(),
                column: Some(want.name.clone()),
                reason,
            };
            if have.ty != want.ty {
                let widen = |plan: &mut ConvergePlan, note: Option<String>, using: &str| {
                    plan.statements.push(format!(
                        "ALTER TABLE {t} ALTER COLUMN {c} TYPE {}{using}",
                        want.ty
                    ));
                    plan.changes.push(Change {
                        table: table.clone(),
                        column: Some(want.name.clone()),
                        change: format!("type {} → {}", have.ty, want.ty),
                        note,
                    });
                };
                let have_length = varchar_length(&have.ty);
                match (have.ty.as_str(), want.ty.as_str()) {
                    ("timestamp without time zone", "timestamp with time zone") => widen(
                        &mut plan,
                        Some("stored values are read as UTC".into()),
                        &format!(" USING {c} AT TIME ZONE 'UTC'"),
                    ),
                    ("character varying", "text") => widen(&mut plan, None, ""),
                    (_, "text") if have_length.is_some() => widen(&mut plan, None, ""),
                    (_, wanted)
                        if varchar_length(wanted).is_some()
                            && (have.ty == "character varying" || have_length.is_some()) =>
                    {
                        let limit = varchar_length(wanted).unwrap_or(0);
                        if have_length.is_some_and(|n| n <= limit) {
                            widen(&mut plan, None, "");
                        } else {
                            // Unbounded (or longer) here: plantdb's length fits only if every
                            // stored value does.
                            let longest = count(
                                driver,
                                &format!(
                                    "SELECT coalesce(max(char_length({c})), 0)::bigint FROM {t}"
                                ),
                            )?;
                            if longest <= limit {
                                widen(
                                    &mut plan,
                                    Some(format!(
                                        "every stored value fits (the longest has {longest} characters)"
                                    )),
                                    "",
                                );
                            } else {
                                plan.kept.push(at(format!(
                                    "type {} kept: a stored value has {longest} characters, more than plantdb's {wanted}",
                                    have.ty
                                )));
                            }
                        }
                    }
                    _ => plan.kept.push(at(format!(
                        "type {} kept: plantdb defines {}, and changing it could lose data",
                        have.ty, want.ty
                    ))),
                }
            }
            if let Some(default) = &want.default
                && have.default.is_none()
                && !have.special
                && !want.special
                && !default.contains("nextval(")
            {
                plan.statements.push(format!(
                    "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {default}"
                ));
                plan.changes.push(Change {
                    table: table.clone(),
                    column: Some(want.name.clone()),
                    change: format!("server default {default} added"),
                    note: None,
                });
            }
            if have.not_null != want.not_null {
                plan.kept.push(at(format!(
                    "{} kept: plantdb defines it {}",
                    null_word(have.not_null),
                    null_word(want.not_null)
                )));
            }
        }
    }
    timescale_default_indexes(driver, definitions, &mut plan)?;
    Ok(plan)
}

fn null_word(not_null: bool) -> &'static str {
    if not_null { "NOT NULL" } else { "nullable" }
}

/// TimescaleDB's `create_hypertable` adds `<table>_<time column>_idx` unless told not to;
/// plantdb's migration tells it not to, so on a hypertable an older tool made, that index is
/// the one thing a fresh database lacks.
fn timescale_default_indexes(
    driver: &mut dyn Driver,
    definitions: &Definitions,
    plan: &mut ConvergePlan,
) -> Result<()> {
    let installed = count(
        driver,
        "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'",
    )? > 0;
    if !installed {
        return Ok(());
    }
    let dimensions = driver.query(
        "SELECT hypertable_name::text, column_name::text FROM timescaledb_information.dimensions
         WHERE hypertable_schema = current_schema()",
        &[],
        &[Kind::Text, Kind::Text],
    )?;
    for row in dimensions {
        let [Value::Text(table), Value::Text(column)] = row.as_slice() else {
            continue;
        };
        if !definitions.columns.contains_key(table) {
            continue;
        }
        let index = format!("{table}_{column}_idx");
        let plantdb_has_it = definitions
            .indexes
            .get(table)
            .is_some_and(|names| names.contains(&index));
        // Only the exact index TimescaleDB makes: on the time column alone, descending.
        let exists = count(
            driver,
            &format!(
                "SELECT count(*) FROM pg_catalog.pg_indexes
                 WHERE schemaname = current_schema() AND tablename = '{}' AND indexname = '{}'
                   AND indexdef LIKE '%({} DESC)'",
                table.replace('\'', "''"),
                index.replace('\'', "''"),
                quote_if_needed(column).replace('\'', "''")
            ),
        )? > 0;
        if exists && !plantdb_has_it {
            plan.statements
                .push(format!("DROP INDEX {}", quote_ident(&index)));
            plan.changes.push(Change {
                table: table.clone(),
                column: None,
                change: format!("TimescaleDB's default index `{index}` dropped"),
                note: Some(format!(
                    "plantdb's hypertable is created without it; `CREATE INDEX {index} ON {table} ({column} DESC)` brings it back"
                )),
            });
        }
    }
    Ok(())
}

/// A column name as `pg_get_indexdef` writes it: quoted when it is a keyword like `time`.
fn quote_if_needed(column: &str) -> String {
    // `time` is the hypertables' usual column; it is a keyword in an index definition.
    if column == "time"
        || column
            .chars()
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    {
        quote_ident(column)
    } else {
        column.to_string()
    }
}

/// SQLite's type family by its declared name, as its affinity rules read it, plus whether a
/// stored value could be something else than the family says (`BOOLEAN`, `DATETIME`, `JSON`:
/// NUMERIC affinity, so text may be kept as text and numbers as numbers).
fn sqlite_family(declared: &str) -> (&'static str, bool) {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        ("INTEGER", false)
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        ("TEXT", false)
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        ("REAL", false)
    } else if upper.starts_with("BOOL") {
        ("INTEGER", true)
    } else if upper.starts_with("DATE") || upper.starts_with("TIME") || upper.starts_with("JSON") {
        ("TEXT", true)
    } else {
        ("", false)
    }
}

/// A default as SQLite prints it, for comparing: no outer parentheses, no case, no spaces.
fn default_key(default: &str) -> String {
    let mut text = default.trim();
    while text.starts_with('(') && text.ends_with(')') {
        text = text[1..text.len() - 1].trim();
    }
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn plan_sqlite(
    driver: &mut dyn Driver,
    definitions: &Definitions,
    live: &Columns,
) -> Result<ConvergePlan> {
    let mut plan = ConvergePlan::default();
    let live_create: BTreeMap<String, String> = sqlite_objects(driver, "table")?
        .into_iter()
        .map(|(_, name, sql)| (name, sql))
        .collect();
    let indexes = sqlite_objects(driver, "index")?;
    let triggers = sqlite_objects(driver, "trigger")?;
    let views = sqlite_objects(driver, "view")?;
    let live_schema = driver.schema()?;
    let mut rebuilt = Vec::new();
    for (table, expected) in &definitions.columns {
        let (Some(found), Some(create), Some(base)) = (
            live.get(table),
            live_create.get(table),
            definitions.create_sql.get(table),
        ) else {
            continue;
        };
        let mut changes = Vec::new();
        let mut kept = Vec::new();
        let at = |column: &str, reason: String| Kept {
            table: table.clone(),
            column: Some(column.to_string()),
            reason,
        };
        if let Some(hidden) = found.iter().find(|c| c.special) {
            kept.push(at(
                &hidden.name,
                "a generated column: the table is not rebuilt".into(),
            ));
        }
        for want in expected {
            let Some(have) = found.iter().find(|c| c.name == want.name) else {
                kept.push(at(
                    &want.name,
                    "missing here: the table is not rebuilt".into(),
                ));
                continue;
            };
            let c = quote_ident(&have.name);
            if !have.ty.eq_ignore_ascii_case(&want.ty) {
                let (have_family, loose) = sqlite_family(&have.ty);
                let (want_family, _) = sqlite_family(&want.ty);
                if have_family.is_empty() || have_family != want_family {
                    kept.push(at(
                        &want.name,
                        format!("type {} kept: plantdb declares {}", have.ty, want.ty),
                    ));
                } else {
                    // A value of another storage class would be converted by the new affinity.
                    let other = if loose {
                        let storage = if want_family == "TEXT" {
                            "text"
                        } else {
                            "integer"
                        };
                        count(
                            driver,
                            &format!(
                                "SELECT count(*) FROM {} WHERE typeof({c}) NOT IN ('{storage}', 'null')",
                                quote_ident(table)
                            ),
                        )?
                    } else {
                        0
                    };
                    if other > 0 {
                        kept.push(at(&want.name, format!(
                            "type {} kept: {other} stored value(s) are not {want_family}, and plantdb's {} would convert them",
                            have.ty, want.ty
                        )));
                    } else {
                        changes.push(Change {
                            table: table.clone(),
                            column: Some(want.name.clone()),
                            change: format!("type {} → {}", have.ty, want.ty),
                            note: None,
                        });
                    }
                }
            }
            match (&have.default, &want.default) {
                (None, Some(default)) => changes.push(Change {
                    table: table.clone(),
                    column: Some(want.name.clone()),
                    change: format!("default {default} added"),
                    note: None,
                }),
                (Some(old), Some(new)) if default_key(old) != default_key(new) => {
                    if default_key(old) == "current_timestamp" && new.contains("strftime") {
                        changes.push(Change {
                            table: table.clone(),
                            column: Some(want.name.clone()),
                            change: format!("default {old} → {new}"),
                            note: Some("new rows get ISO-8601 UTC text; stored values are kept as they are".into()),
                        });
                    } else {
                        kept.push(at(
                            &want.name,
                            format!("default {old} kept: plantdb defines {new}"),
                        ));
                    }
                }
                (Some(old), None) => kept.push(at(
                    &want.name,
                    format!("default {old} kept: plantdb defines none"),
                )),
                _ => {}
            }
            if have.not_null != want.not_null {
                kept.push(at(
                    &want.name,
                    format!(
                        "{} kept: plantdb defines it {}",
                        null_word(have.not_null),
                        null_word(want.not_null)
                    ),
                ));
            }
        }
        // A rebuild writes plantdb's keys: it must not lose one of the live table's.
        let want_keys = definitions
            .schema
            .as_ref()
            .and_then(|s| s.tables.get(table));
        if let (Some(have), Some(want)) = (live_schema.tables.get(table), want_keys) {
            let plantdb_columns: BTreeSet<&str> =
                expected.iter().map(|c| c.name.as_str()).collect();
            let only_plantdb =
                |cols: &[String]| cols.iter().all(|c| plantdb_columns.contains(c.as_str()));
            if have.primary_key != want.primary_key {
                kept.push(Kept {
                    table: table.clone(),
                    column: None,
                    reason: "its primary key is not plantdb's: the table is not rebuilt".into(),
                });
            }
            for key in &have.foreign_keys {
                if only_plantdb(&key.columns) && !want.foreign_keys.contains(key) {
                    kept.push(Kept {
                        table: table.clone(),
                        column: None,
                        reason: format!(
                            "foreign key {key} is not plantdb's: the table is not rebuilt"
                        ),
                    });
                }
            }
            for unique in &have.uniques {
                if only_plantdb(unique) && !want.uniques.contains(unique) {
                    kept.push(Kept {
                        table: table.clone(),
                        column: None,
                        reason: format!(
                            "unique ({}) is not plantdb's: the table is not rebuilt",
                            unique.join(", ")
                        ),
                    });
                }
            }
        }
        // A rebuild writes plantdb's definition of every column: any difference it would not
        // keep stops it.
        let blocked = !kept.is_empty();
        if changes.is_empty() {
            plan.kept.extend(kept);
            continue;
        }
        if blocked {
            for change in changes {
                plan.kept.push(Kept {
                    table: table.clone(),
                    column: change.column,
                    reason: format!("{} not made: the table is not rebuilt because of the other differences listed", change.change),
                });
            }
            plan.kept.extend(kept);
            continue;
        }
        let extra: Vec<&DeclaredColumn> = found
            .iter()
            .filter(|c| !expected.iter().any(|e| e.name == c.name))
            .collect();
        let statements = rebuild(table, base, create, found, &extra, &indexes, &triggers)?;
        plan.statements.extend(statements);
        plan.changes.extend(changes);
        plan.kept.extend(kept);
        rebuilt.push(table.clone());
    }
    if !rebuilt.is_empty() && !views.is_empty() {
        // A view naming a table that is being dropped and renamed would stop the rename
        // (SQLite checks the schema), so the views are set aside and recreated as they were.
        let mut around: Vec<String> = views
            .iter()
            .map(|(_, name, _)| format!("DROP VIEW {}", quote_ident(name)))
            .collect();
        around.append(&mut plan.statements);
        around.extend(views.into_iter().map(|(_, _, sql)| sql));
        plan.statements = around;
    }
    Ok(plan)
}

/// The statements that rebuild `table` the way SQLite documents
/// (https://www.sqlite.org/lang_altertable.html#otheralter): create the new table from plantdb's
/// definition plus the live extra columns and their constraints, copy every row, drop the old
/// table, rename the new one, and recreate the table's indexes and triggers as they were.
fn rebuild(
    table: &str,
    base: &str,
    live_create: &str,
    live: &[DeclaredColumn],
    extra: &[&DeclaredColumn],
    indexes: &[(String, String, String)],
    triggers: &[(String, String, String)],
) -> Result<Vec<String>> {
    let fail = |reason: &str| Error::Converge {
        what: format!("`{table}`"),
        reason: reason.to_string(),
        source: None,
    };
    let new_name = format!("plantdb_converge_{table}");
    let (_, base_body) =
        split_create(base).ok_or_else(|| fail("cannot read plantdb's CREATE TABLE"))?;
    let (_, live_body) =
        split_create(live_create).ok_or_else(|| fail("cannot read the table's CREATE TABLE"))?;
    let extra_names: BTreeSet<String> = extra.iter().map(|c| c.name.to_ascii_lowercase()).collect();
    let mut columns: Vec<String> = Vec::new();
    let mut constraints: Vec<String> = Vec::new();
    for item in top_level_items(base_body) {
        if is_constraint(&item) {
            constraints.push(item);
        } else {
            columns.push(item);
        }
    }
    let mut found_extra = BTreeSet::new();
    for item in top_level_items(live_body) {
        let words = identifiers(&item);
        if is_constraint(&item) {
            // A table constraint on an extra column goes with it; one on plantdb's columns only
            // is plantdb's to define.
            if words.iter().any(|w| extra_names.contains(w)) {
                constraints.push(item);
            }
        } else if let Some(first) = words.first()
            && extra_names.contains(first)
        {
            found_extra.insert(first.clone());
            columns.push(item);
        }
    }
    if found_extra.len() != extra_names.len() {
        return Err(fail(
            "cannot find every extra column's definition in its CREATE TABLE",
        ));
    }
    columns.extend(constraints);
    let mut statements = vec![format!(
        "CREATE TABLE {} (\n    {}\n)",
        quote_ident(&new_name),
        columns.join(",\n    ")
    )];
    let names = live
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    statements.push(format!(
        "INSERT INTO {} ({names}) SELECT {names} FROM {}",
        quote_ident(&new_name),
        quote_ident(table)
    ));
    statements.push(format!("DROP TABLE {}", quote_ident(table)));
    statements.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote_ident(&new_name),
        quote_ident(table)
    ));
    for (owner, _, sql) in indexes.iter().chain(triggers) {
        if owner == table {
            statements.push(sql.clone());
        }
    }
    Ok(statements)
}

fn is_constraint(item: &str) -> bool {
    let first = item
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN"
    )
}

/// `CREATE TABLE name (body)` → (`CREATE TABLE name`, body).
fn split_create(sql: &str) -> Option<(&str, &str)> {
    let open = sql.find('(')?;
    let close = sql.rfind(')')?;
    (close > open).then(|| (&sql[..open], &sql[open + 1..close]))
}

/// The comma-separated items of a table body, outside parentheses, quotes and comments.
fn top_level_items(body: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut chars = body.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' | '"' | '`' | '[' => {
                let close = if ch == '[' { ']' } else { ch };
                current.push(ch);
                for inner in chars.by_ref() {
                    current.push(inner);
                    if inner == close {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                // A comment runs to the end of the line; it is not part of any item.
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '(' => {
                depth += 1;
                current.push(ch);
            }
            ')' => {
                depth -= 1;
                current.push(ch);
            }
            ',' if depth == 0 => {
                items.push(current.trim().to_string());
                current.clear();
            }
            _ => current.push(ch),
        }
    }
    if !current.trim().is_empty() {
        items.push(current.trim().to_string());
    }
    items
}

/// The identifiers of an item, lowercased and unquoted, outside string literals.
fn identifiers(item: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = item.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                for inner in chars.by_ref() {
                    if inner == '\'' {
                        break;
                    }
                }
            }
            '"' | '`' | '[' => {
                let close = if ch == '[' { ']' } else { ch };
                let mut word = String::new();
                for inner in chars.by_ref() {
                    if inner == close {
                        break;
                    }
                    word.push(inner);
                }
                out.push(word.to_ascii_lowercase());
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(word.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_bodies_split_at_top_level_commas_only() {
        let items = top_level_items(
            "id INTEGER PRIMARY KEY, -- the key, really\n name TEXT DEFAULT 'a,b', x NUMERIC(10, 2) CHECK (x IN (1, 2)), UNIQUE (name, x)",
        );
        assert_eq!(
            items,
            [
                "id INTEGER PRIMARY KEY,".trim_end_matches(','),
                "name TEXT DEFAULT 'a,b'",
                "x NUMERIC(10, 2) CHECK (x IN (1, 2))",
                "UNIQUE (name, x)"
            ]
        );
        assert!(is_constraint("UNIQUE (name, x)"));
        assert!(!is_constraint("unique_code TEXT"));
        assert_eq!(
            identifiers("\"Sub Mode\" VARCHAR DEFAULT 'x y'"),
            ["sub mode", "varchar", "default"]
        );
    }

    #[test]
    fn sqlite_families_follow_affinity() {
        assert_eq!(sqlite_family("VARCHAR(50)"), ("TEXT", false));
        assert_eq!(sqlite_family("FLOAT"), ("REAL", false));
        assert_eq!(sqlite_family("BOOLEAN"), ("INTEGER", true));
        assert_eq!(sqlite_family("DATETIME"), ("TEXT", true));
        assert_eq!(sqlite_family("JSON"), ("TEXT", true));
        assert_eq!(sqlite_family("GEOMETRY").0, "");
        assert_eq!(default_key("(CURRENT_TIMESTAMP)"), "current_timestamp");
        assert_eq!(varchar_length("character varying(255)"), Some(255));
        assert_eq!(varchar_length("character varying"), None);
    }
}
