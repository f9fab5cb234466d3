//! Introspection of a live database into a dialect-neutral schema description.
//!
//! The PostgreSQL and SQLite migrations must describe the same schema, so both are read
//! into one [`Schema`] whose types, defaults and index predicates are canonicalised until
//! equal designs compare equal with `==`; [`Schema::diff`] explains any remaining mismatch.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// Every user table of one database (PostgreSQL schema `public`, or one SQLite file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    /// PostgreSQL user functions in `public` (not those of extensions); empty on SQLite.
    pub functions: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// In declaration order.
    pub columns: Vec<Column>,
    /// In key order; empty when the table has none.
    pub primary_key: Vec<String>,
    /// UNIQUE constraints (not unique indexes: those are in `indexes`).
    pub uniques: BTreeSet<Vec<String>>,
    pub foreign_keys: BTreeSet<ForeignKey>,
    /// Explicitly created indexes by name; never the ones backing a key or UNIQUE constraint.
    pub indexes: BTreeMap<String, Index>,
    pub triggers: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub ty: CanonicalType,
    pub not_null: bool,
    /// Canonical default (see [`canonical_default`]); `None` for identities.
    pub default: Option<String>,
}

/// What a column holds, independent of how the dialect spells it.
///
/// Dates and times are [`CanonicalType::Text`]: SQLite stores them as ISO-8601 text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CanonicalType {
    Integer,
    Real,
    Text,
    Boolean,
    Json,
    Blob,
    /// A type with no counterpart in the other dialect, as the database spells it.
    Other(String),
}

impl fmt::Display for CanonicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonicalType::Integer => f.write_str("integer"),
            CanonicalType::Real => f.write_str("real"),
            CanonicalType::Text => f.write_str("text"),
            CanonicalType::Boolean => f.write_str("boolean"),
            CanonicalType::Json => f.write_str("json"),
            CanonicalType::Blob => f.write_str("blob"),
            CanonicalType::Other(name) => write!(f, "{name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_delete: String,
}

impl fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) references `{}` ({}) on delete {}",
            self.columns.join(", "),
            self.ref_table,
            self.ref_columns.join(", "),
            self.on_delete
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Key columns in order, with a ` DESC` suffix where descending. An expression column
    /// is `<expression>` on both dialects, since SQLite does not report its text.
    pub columns: Vec<String>,
    pub unique: bool,
    /// The WHERE clause of a partial index, normalised by [`normalize_predicate`].
    pub predicate: Option<String>,
}

impl Schema {
    /// A copy without `table`, e.g. to compare schemas while ignoring the history table.
    pub fn without(&self, table: &str) -> Schema {
        let mut copy = self.clone();
        copy.tables.remove(table);
        copy
    }

    /// Human-readable differences between `self` (left) and `other` (right); empty when equal.
    pub fn diff(&self, other: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        for (name, left) in &self.tables {
            match other.tables.get(name) {
                Some(right) => diff_table(name, left, right, &mut out),
                None => out.push(format!("table `{name}`: only in left")),
            }
        }
        for name in other.tables.keys() {
            if !self.tables.contains_key(name) {
                out.push(format!("table `{name}`: only in right"));
            }
        }
        diff_sets("function", &self.functions, &other.functions, "", &mut out);
        out
    }
}

fn diff_table(name: &str, left: &Table, right: &Table, out: &mut Vec<String>) {
    let prefix = format!("table `{name}`: ");
    let find = |columns: &[Column], name: &str| columns.iter().position(|c| c.name == name);
    for l in &left.columns {
        let Some(r) = find(&right.columns, &l.name).map(|i| &right.columns[i]) else {
            out.push(format!("{prefix}column `{}`: only in left", l.name));
            continue;
        };
        let column = format!("{prefix}column `{}`: ", l.name);
        if l.ty != r.ty {
            out.push(format!(
                "{column}type differs (left {}, right {})",
                l.ty, r.ty
            ));
        }
        if l.not_null != r.not_null {
            out.push(format!(
                "{column}not null differs (left {}, right {})",
                l.not_null, r.not_null
            ));
        }
        if l.default != r.default {
            out.push(format!(
                "{column}default differs (left {}, right {})",
                l.default.as_deref().unwrap_or("none"),
                r.default.as_deref().unwrap_or("none")
            ));
        }
    }
    for r in &right.columns {
        if find(&left.columns, &r.name).is_none() {
            out.push(format!("{prefix}column `{}`: only in right", r.name));
        }
    }
    // Order matters only among the columns both sides have; the rest is reported above.
    let common = |a: &[Column], b: &[Column]| -> Vec<String> {
        a.iter()
            .filter(|c| find(b, &c.name).is_some())
            .map(|c| c.name.clone())
            .collect()
    };
    let (left_order, right_order) = (
        common(&left.columns, &right.columns),
        common(&right.columns, &left.columns),
    );
    if left_order != right_order {
        out.push(format!(
            "{prefix}column order differs (left {}, right {})",
            left_order.join(", "),
            right_order.join(", ")
        ));
    }

    if left.primary_key != right.primary_key {
        out.push(format!(
            "{prefix}primary key differs (left ({}), right ({}))",
            left.primary_key.join(", "),
            right.primary_key.join(", ")
        ));
    }
    let uniques = |set: &BTreeSet<Vec<String>>| -> BTreeSet<String> {
        set.iter()
            .map(|cols| format!("({})", cols.join(", ")))
            .collect()
    };
    diff_sets(
        "unique",
        &uniques(&left.uniques),
        &uniques(&right.uniques),
        &prefix,
        out,
    );
    let fks = |set: &BTreeSet<ForeignKey>| -> BTreeSet<String> {
        set.iter().map(ToString::to_string).collect()
    };
    diff_sets(
        "foreign key",
        &fks(&left.foreign_keys),
        &fks(&right.foreign_keys),
        &prefix,
        out,
    );

    for (index_name, l) in &left.indexes {
        let Some(r) = right.indexes.get(index_name) else {
            out.push(format!("{prefix}index `{index_name}`: only in left"));
            continue;
        };
        let index = format!("{prefix}index `{index_name}`: ");
        if l.columns != r.columns {
            out.push(format!(
                "{index}columns differ (left ({}), right ({}))",
                l.columns.join(", "),
                r.columns.join(", ")
            ));
        }
        if l.unique != r.unique {
            out.push(format!(
                "{index}unique differs (left {}, right {})",
                l.unique, r.unique
            ));
        }
        if l.predicate != r.predicate {
            out.push(format!(
                "{index}predicate differs (left {}, right {})",
                l.predicate.as_deref().unwrap_or("none"),
                r.predicate.as_deref().unwrap_or("none")
            ));
        }
    }
    for index_name in right.indexes.keys() {
        if !left.indexes.contains_key(index_name) {
            out.push(format!("{prefix}index `{index_name}`: only in right"));
        }
    }
    diff_sets("trigger", &left.triggers, &right.triggers, &prefix, out);
}

fn diff_sets(
    what: &str,
    left: &BTreeSet<String>,
    right: &BTreeSet<String>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for item in left.difference(right) {
        out.push(format!("{prefix}{what} `{item}`: only in left"));
    }
    for item in right.difference(left) {
        out.push(format!("{prefix}{what} `{item}`: only in right"));
    }
}

impl Table {
    fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            primary_key: Vec::new(),
            uniques: BTreeSet::new(),
            foreign_keys: BTreeSet::new(),
            indexes: BTreeMap::new(),
            triggers: BTreeSet::new(),
        }
    }

    /// A primary key column is not null on both dialects, whatever SQLite's
    /// `PRAGMA table_info` says about an `INTEGER PRIMARY KEY`.
    fn mark_primary_key_not_null(&mut self) {
        for column in &mut self.columns {
            if self.primary_key.contains(&column.name) {
                column.not_null = true;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// Tables of schema `public` that no extension owns.
const PG_TABLES: &str = "
    SELECT c.oid, c.relname::text
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
      AND c.relkind IN ('r', 'p')
      AND NOT EXISTS (
          SELECT 1 FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')";

const PG_COLUMNS: &str = "
    SELECT a.attrelid, a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod),
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum";

/// Primary key, unique and foreign key constraints, with column names in key order.
const PG_CONSTRAINTS: &str = "
    SELECT c.conrelid, c.contype::text,
           ARRAY(SELECT a.attname::text
                 FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                 ORDER BY k.ord),
           f.relname::text,
           ARRAY(SELECT a.attname::text
                 FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
                 ORDER BY k.ord),
           c.confdeltype::text
    FROM pg_constraint c
    JOIN pg_class r ON r.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = r.relnamespace
    LEFT JOIN pg_class f ON f.oid = c.confrelid
    WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')";

/// Indexes that back no primary key, unique or exclusion constraint. Plain columns are
/// named by `attname` because `pg_get_indexdef` quotes keywords such as `time`.
const PG_INDEXES: &str = "
    SELECT ix.indrelid, i.relname::text, ix.indisunique,
           pg_get_expr(ix.indpred, ix.indrelid),
           ARRAY(SELECT CASE WHEN ix.indkey[k - 1] = 0 THEN '<expression>'
                             ELSE (SELECT a.attname::text FROM pg_attribute a
                                   WHERE a.attrelid = ix.indrelid
                                     AND a.attnum = ix.indkey[k - 1]) END
                        || CASE WHEN (ix.indoption[k - 1]::int & 1) = 1 THEN ' DESC' ELSE '' END
                 FROM generate_series(1, ix.indnkeyatts) AS k
                 ORDER BY k)
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE n.nspname = 'public'
      AND NOT EXISTS (
          SELECT 1 FROM pg_constraint c
          WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid
            AND c.contype IN ('p', 'u', 'x'))";

const PG_TRIGGERS: &str = "
    SELECT t.tgrelid, t.tgname::text
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND NOT t.tgisinternal";

const PG_FUNCTIONS: &str = "
    SELECT p.proname::text
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public'
      AND NOT EXISTS (
          SELECT 1 FROM pg_depend d
          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

/// Reads schema `public` of the database `client` is connected to.
pub fn of_postgres(client: &mut postgres::Client) -> Result<Schema, postgres::Error> {
    // Everything is read in one repeatable-read snapshot, so a concurrent migration
    // cannot show up half-applied.
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;

    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    for row in tx.query(PG_TABLES, &[])? {
        names.insert(row.get(0), row.get(1));
    }
    let mut tables: BTreeMap<u32, Table> = names
        .keys()
        .map(|oid| (*oid, Table::new(Vec::new())))
        .collect();

    for row in tx.query(PG_COLUMNS, &[])? {
        let Some(table) = tables.get_mut(&row.get::<_, u32>(0)) else {
            continue; // a view, sequence or extension table
        };
        let type_name: String = row.get(2);
        let formatted: String = row.get(3);
        let ty = postgres_type(&type_name, &formatted);
        let identity: String = row.get(6);
        let default = if identity.is_empty() {
            row.get::<_, Option<String>>(5)
                .and_then(|raw| canonical_default(&raw, &ty))
        } else {
            None
        };
        table.columns.push(Column {
            name: row.get(1),
            ty,
            not_null: row.get(4),
            default,
        });
    }

    for row in tx.query(PG_CONSTRAINTS, &[])? {
        let Some(table) = tables.get_mut(&row.get::<_, u32>(0)) else {
            continue;
        };
        let kind: String = row.get(1);
        let columns: Vec<String> = row.get(2);
        match kind.as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                table.uniques.insert(columns);
            }
            _ => {
                let action: Option<String> = row.get(5);
                table.foreign_keys.insert(ForeignKey {
                    columns,
                    ref_table: row.get::<_, Option<String>>(3).unwrap_or_default(),
                    ref_columns: row.get(4),
                    on_delete: postgres_action(action.as_deref().unwrap_or("a")).to_owned(),
                });
            }
        }
    }

    for row in tx.query(PG_INDEXES, &[])? {
        let Some(table) = tables.get_mut(&row.get::<_, u32>(0)) else {
            continue;
        };
        let predicate: Option<String> = row.get(3);
        table.indexes.insert(
            row.get(1),
            Index {
                columns: row.get(4),
                unique: row.get(2),
                predicate: predicate.as_deref().map(normalize_predicate),
            },
        );
    }

    for row in tx.query(PG_TRIGGERS, &[])? {
        if let Some(table) = tables.get_mut(&row.get::<_, u32>(0)) {
            table.triggers.insert(row.get(1));
        }
    }

    let functions = tx
        .query(PG_FUNCTIONS, &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    tx.commit()?;

    let tables = tables
        .into_iter()
        .filter_map(|(oid, mut table)| {
            table.mark_primary_key_not_null();
            names.remove(&oid).map(|name| (name, table))
        })
        .collect();
    Ok(Schema { tables, functions })
}

/// Maps a PostgreSQL type (`pg_type.typname`, with `format_type` for the fallback).
fn postgres_type(type_name: &str, formatted: &str) -> CanonicalType {
    match type_name {
        "int2" | "int4" | "int8" => CanonicalType::Integer,
        "float4" | "float8" | "numeric" => CanonicalType::Real,
        "text" | "varchar" | "bpchar" | "char" | "name" | "uuid" | "citext" => CanonicalType::Text,
        // SQLite stores dates and times as ISO-8601 text.
        "timestamptz" | "timestamp" | "date" | "time" | "timetz" => CanonicalType::Text,
        "bool" => CanonicalType::Boolean,
        "json" | "jsonb" => CanonicalType::Json,
        "bytea" => CanonicalType::Blob,
        _ => CanonicalType::Other(formatted.to_owned()),
    }
}

/// `pg_constraint.confdeltype` as the words of the ON DELETE clause.
fn postgres_action(code: &str) -> &'static str {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

// ---------------------------------------------------------------------------------------
// SQLite

/// Reads every table of the main database of `conn`, except SQLite's own `sqlite_*`.
pub fn of_sqlite(conn: &rusqlite::Connection) -> Result<Schema, rusqlite::Error> {
    let mut tables = BTreeMap::new();
    let mut statement = conn.prepare(
        "SELECT name, coalesce(sql, '') FROM main.sqlite_master
         WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY name",
    )?;
    let listed = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (name, sql) in listed {
        let table = sqlite_table(conn, &name, &sql)?;
        tables.insert(name, table);
    }
    Ok(Schema {
        tables,
        functions: BTreeSet::new(),
    })
}

fn sqlite_table(
    conn: &rusqlite::Connection,
    name: &str,
    sql: &str,
) -> Result<Table, rusqlite::Error> {
    let checks = check_constraints(sql);
    let mut primary_key: Vec<(i64, String)> = Vec::new();
    let mut columns = Vec::new();
    let mut statement = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
    )?;
    let mut rows = statement.query([name])?;
    while let Some(row) = rows.next()? {
        let column: String = row.get(0)?;
        let declared: String = row.get(1)?;
        let pk: i64 = row.get(4)?;
        if pk > 0 {
            primary_key.push((pk, column.clone()));
        }
        let ty = sqlite_type(&declared, &column, &checks);
        let default = row
            .get::<_, Option<String>>(3)?
            .and_then(|raw| canonical_default(&raw, &ty));
        columns.push(Column {
            name: column,
            ty,
            not_null: row.get::<_, i64>(2)? != 0,
            default,
        });
    }
    primary_key.sort();

    let mut table = Table::new(columns);
    table.primary_key = primary_key.into_iter().map(|(_, column)| column).collect();
    table.mark_primary_key_not_null();
    table.foreign_keys = sqlite_foreign_keys(conn, name)?;

    let mut statement =
        conn.prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")?;
    let indexes = statement
        .query_map([name], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)? != 0,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (index_name, unique, origin) in indexes {
        match origin.as_str() {
            // The primary key is read from table_info above.
            "pk" => {}
            "u" => {
                let columns = sqlite_index_columns(conn, &index_name, false)?;
                table.uniques.insert(columns);
            }
            _ => {
                let columns = sqlite_index_columns(conn, &index_name, true)?;
                let index_sql: Option<String> = conn.query_row(
                    "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND name = ?1",
                    [&index_name],
                    |row| row.get(0),
                )?;
                let predicate = index_sql
                    .as_deref()
                    .and_then(where_clause)
                    .map(normalize_predicate);
                table.indexes.insert(
                    index_name,
                    Index {
                        columns,
                        unique,
                        predicate,
                    },
                );
            }
        }
    }

    let mut statement = conn
        .prepare("SELECT name FROM main.sqlite_master WHERE type = 'trigger' AND tbl_name = ?1")?;
    table.triggers = statement
        .query_map([name], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(table)
}

/// Key columns of an index, in order; with ` DESC` where descending if `with_order`.
fn sqlite_index_columns(
    conn: &rusqlite::Connection,
    index: &str,
    with_order: bool,
) -> Result<Vec<String>, rusqlite::Error> {
    let mut statement = conn.prepare(
        "SELECT name, \"desc\" FROM pragma_index_xinfo(?1) WHERE \"key\" = 1 ORDER BY seqno",
    )?;
    statement
        .query_map([index], |row| {
            let name = row
                .get::<_, Option<String>>(0)?
                .unwrap_or_else(|| "<expression>".to_owned());
            let descending = row.get::<_, i64>(1)? != 0;
            Ok(if with_order && descending {
                format!("{name} DESC")
            } else {
                name
            })
        })?
        .collect()
}

fn sqlite_foreign_keys(
    conn: &rusqlite::Connection,
    table: &str,
) -> Result<BTreeSet<ForeignKey>, rusqlite::Error> {
    let mut statement = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1)
         ORDER BY id, seq",
    )?;
    let rows = statement
        .query_map([table], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;

    let mut grouped: BTreeMap<i64, ForeignKey> = BTreeMap::new();
    for (id, ref_table, from, to, on_delete) in rows {
        let key = grouped.entry(id).or_insert_with(|| ForeignKey {
            columns: Vec::new(),
            ref_table,
            ref_columns: Vec::new(),
            on_delete: on_delete.to_uppercase(),
        });
        key.columns.push(from);
        if let Some(to) = to {
            key.ref_columns.push(to);
        }
    }
    // `REFERENCES t` without columns means the primary key of `t`.
    for key in grouped.values_mut() {
        if key.ref_columns.is_empty() {
            let mut statement =
                conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
            key.ref_columns = statement
                .query_map([&key.ref_table], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
        }
    }
    Ok(grouped.into_values().collect())
}

/// Maps a declared SQLite type, refined by the column's CHECK constraints: the SQLite
/// migrations spell booleans `INTEGER CHECK (col IN (0, 1))` and JSON
/// `TEXT CHECK (json_valid(col))`.
fn sqlite_type(declared: &str, column: &str, checks: &[String]) -> CanonicalType {
    let column = column.to_lowercase();
    let json = format!("json_valid({column})");
    let booleans = [format!("{column} in(0,1)"), format!("{column} in(1,0)")];
    if checks.iter().any(|c| c.contains(&json)) {
        return CanonicalType::Json;
    }
    if checks.iter().any(|c| booleans.contains(c)) {
        return CanonicalType::Boolean;
    }
    // SQLite's own affinity rules (https://sqlite.org/datatype3.html, 3.1), plus the
    // names that say more than their affinity.
    let upper = declared.to_uppercase();
    if upper.contains("INT") {
        CanonicalType::Integer
    } else if upper.contains("BOOL") {
        CanonicalType::Boolean
    } else if upper.contains("JSON") {
        CanonicalType::Json
    } else if ["CHAR", "CLOB", "TEXT", "UUID", "DATE", "TIME"]
        .iter()
        .any(|word| upper.contains(word))
    {
        CanonicalType::Text
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|word| upper.contains(word))
    {
        CanonicalType::Real
    } else if upper.is_empty() || upper.contains("BLOB") {
        CanonicalType::Blob
    } else {
        CanonicalType::Other(declared.to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// Pure helpers: SQL text scanning and canonical forms

/// The bodies of every `CHECK (...)` in `sql`, compacted for comparison: lowercase, without
/// identifier quotes or outer parentheses, single spaces, and no space next to `(`, `)` or `,`.
/// So `CHECK ("is_active" IN (0, 1))` gives `is_active in(0,1)`.
pub fn check_constraints(sql: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = sql;
    while let Some(at) = find_keyword(rest, "CHECK") {
        let after = rest[at + "CHECK".len()..].trim_start();
        let consumed = rest.len() - after.len();
        if let Some(body) = after
            .starts_with('(')
            .then(|| balanced_prefix(after))
            .flatten()
        {
            found.push(compact(strip_outer_parens(body)));
            rest = &after[body.len()..];
        } else {
            rest = &rest[consumed..];
        }
    }
    found
}

/// The text after the top-level `WHERE` of a `CREATE INDEX` statement.
pub fn where_clause(index_sql: &str) -> Option<&str> {
    find_keyword(index_sql, "WHERE").map(|at| index_sql[at + "WHERE".len()..].trim())
}

/// Canonical form of an index predicate: lowercase, no parentheses, no identifier quotes,
/// no PostgreSQL `::type` casts, whitespace collapsed. PostgreSQL's `(deleted_at IS NULL)`
/// and SQLite's `deleted_at IS NULL` both become `deleted_at is null`.
pub fn normalize_predicate(predicate: &str) -> String {
    let without_casts = strip_casts(predicate);
    let cleaned: String = without_casts
        .chars()
        .map(|c| match c {
            '(' | ')' | '"' | '`' | '[' | ']' => ' ',
            other => other,
        })
        .collect();
    cleaned
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Canonical form of a column default, so equal intent compares equal across dialects:
/// - the current time (`now()`, `CURRENT_TIMESTAMP`, `strftime(..., 'now')`) → `now`
/// - a random UUID (`gen_random_uuid()`, SQLite's `randomblob` expression) → `uuid`
/// - a sequence (`nextval(...)`, i.e. serial) → `None`, like an identity
/// - a literal with a cast (`'UTC'::character varying`) → the literal (`'UTC'`)
/// - `true`/`false`, and `1`/`0` on a boolean column → `true`/`false`
/// - a quoted number on a numeric column (`'-1'::integer`) → the number (`-1`)
/// - anything else as written, without outer parentheses.
pub fn canonical_default(raw: &str, ty: &CanonicalType) -> Option<String> {
    let expr = strip_outer_parens(raw.trim()).trim();
    let lower = expr.to_lowercase();
    if expr.is_empty() || lower == "null" || lower.starts_with("null::") {
        return None;
    }
    if lower.contains("nextval(") {
        return None;
    }
    let is_clock = lower.contains("now()")
        || lower.contains("current_timestamp")
        || lower.contains("transaction_timestamp()")
        || lower.contains("statement_timestamp()")
        || lower.contains("clock_timestamp()")
        || ((lower.starts_with("strftime(") || lower.starts_with("datetime("))
            && lower.contains("'now'"));
    if is_clock {
        return Some("now".to_owned());
    }
    if lower.contains("gen_random_uuid()")
        || lower.contains("uuid_generate_v4()")
        || lower.contains("randomblob")
    {
        return Some("uuid".to_owned());
    }

    let literal = strip_outer_parens(strip_casts(expr).trim())
        .trim()
        .to_owned();
    let literal_lower = literal.to_lowercase();
    if *ty == CanonicalType::Boolean {
        match literal_lower.as_str() {
            "true" | "1" | "'t'" | "'true'" => return Some("true".to_owned()),
            "false" | "0" | "'f'" | "'false'" => return Some("false".to_owned()),
            _ => {}
        }
    }
    if literal_lower == "true" || literal_lower == "false" {
        return Some(literal_lower);
    }
    // PostgreSQL shows a negative number default as `'-1'::integer`.
    if matches!(ty, CanonicalType::Integer | CanonicalType::Real)
        && let Some(inner) = literal
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
        && inner.parse::<f64>().is_ok()
    {
        return Some(inner.to_owned());
    }
    Some(literal)
}

/// Removes PostgreSQL `::type` casts (including multi-word types such as
/// `character varying` and `timestamp with time zone`) outside string literals.
fn strip_casts(sql: &str) -> String {
    const MULTI_WORD: [&str; 5] = [
        "character varying",
        "double precision",
        "timestamp with time zone",
        "timestamp without time zone",
        "time with time zone",
    ];
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    let mut in_string = false;
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
            out.push(c);
            continue;
        }
        if in_string || c != ':' || !sql[at..].starts_with("::") {
            out.push(c);
            continue;
        }
        let rest = &sql[at + 2..];
        let rest_lower = rest.to_lowercase();
        let skip = MULTI_WORD
            .iter()
            .find(|word| rest_lower.starts_with(*word))
            .map(|word| word.len())
            .unwrap_or_else(|| {
                rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '"'))
                    .unwrap_or(rest.len())
            });
        // Also skip a type modifier such as `(100)` and an array suffix `[]`.
        let mut end = 2 + skip;
        let tail = &sql[at + end..];
        if tail.starts_with('(')
            && let Some(modifier) = balanced_prefix(tail)
        {
            end += modifier.len();
        }
        if sql[at + end..].starts_with("[]") {
            end += 2;
        }
        while chars.peek().is_some_and(|(i, _)| *i < at + end) {
            chars.next();
        }
    }
    out
}

/// Whitespace-insensitive comparison form of a CHECK body (see [`check_constraints`]).
fn compact(body: &str) -> String {
    let unquoted: String = body
        .chars()
        .filter(|c| !matches!(c, '"' | '`' | '[' | ']'))
        .collect();
    let spaced = unquoted
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::with_capacity(spaced.len());
    for c in spaced.chars() {
        if c == ' ' && out.ends_with(['(', ',']) {
            continue;
        }
        if matches!(c, '(' | ')' | ',') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out
}

/// Removes parentheses that wrap the whole expression, as often as they do.
fn strip_outer_parens(expr: &str) -> &str {
    let mut expr = expr.trim();
    while expr.starts_with('(') && balanced_prefix(expr).is_some_and(|p| p.len() == expr.len()) {
        expr = expr[1..expr.len() - 1].trim();
    }
    expr
}

/// The prefix of `text` (which starts with `(`) up to and including its matching `)`,
/// skipping string literals and quoted identifiers.
fn balanced_prefix(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[..=at]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte offset of the first `keyword` in `sql` that stands as a whole word outside string
/// literals and quoted identifiers, ignoring case.
fn find_keyword(sql: &str, keyword: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut quote: Option<char> = None;
    let mut previous: Option<char> = None;
    for (at, c) in sql.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None => {
                let candidate = sql.get(at..at + keyword.len());
                if previous.is_none_or(|p| !is_word(p))
                    && candidate.is_some_and(|word| word.eq_ignore_ascii_case(keyword))
                    && sql[at + keyword.len()..]
                        .chars()
                        .next()
                        .is_none_or(|next| !is_word(next))
                {
                    return Some(at);
                }
            }
        }
        previous = Some(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default(raw: &str) -> Option<String> {
        canonical_default(raw, &CanonicalType::Text)
    }

    #[test]
    fn defaults_of_the_current_time_are_now() {
        assert_eq!(default("now()").as_deref(), Some("now"));
        assert_eq!(default("CURRENT_TIMESTAMP").as_deref(), Some("now"));
        assert_eq!(
            default("(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))").as_deref(),
            Some("now")
        );
        assert_eq!(default("strftime('%s', 'now')").as_deref(), Some("now"));
    }

    #[test]
    fn defaults_of_random_uuids_are_uuid() {
        assert_eq!(default("gen_random_uuid()").as_deref(), Some("uuid"));
        let sqlite = "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))))";
        assert_eq!(default(sqlite).as_deref(), Some("uuid"));
    }

    #[test]
    fn sequences_have_no_default() {
        assert_eq!(
            canonical_default("nextval('t_id_seq'::regclass)", &CanonicalType::Integer),
            None
        );
        assert_eq!(default("NULL"), None);
        assert_eq!(default("NULL::character varying"), None);
    }

    #[test]
    fn literal_defaults_lose_their_casts() {
        assert_eq!(
            default("'UTC'::character varying").as_deref(),
            Some("'UTC'")
        );
        assert_eq!(
            canonical_default("'{}'::jsonb", &CanonicalType::Json).as_deref(),
            Some("'{}'")
        );
        assert_eq!(default("'UTC'").as_deref(), Some("'UTC'"));
        assert_eq!(
            default("'it''s::odd'::text").as_deref(),
            Some("'it''s::odd'")
        );
        assert_eq!(
            canonical_default("(1883)", &CanonicalType::Integer).as_deref(),
            Some("1883")
        );
        assert_eq!(
            canonical_default("'-1'::integer", &CanonicalType::Integer).as_deref(),
            Some("-1")
        );
        assert_eq!(
            canonical_default("0.5", &CanonicalType::Real).as_deref(),
            Some("0.5")
        );
    }

    #[test]
    fn boolean_defaults_agree_across_dialects() {
        let boolean = CanonicalType::Boolean;
        assert_eq!(canonical_default("true", &boolean).as_deref(), Some("true"));
        assert_eq!(canonical_default("1", &boolean).as_deref(), Some("true"));
        assert_eq!(
            canonical_default("FALSE", &boolean).as_deref(),
            Some("false")
        );
        assert_eq!(canonical_default("0", &boolean).as_deref(), Some("false"));
        // Only on boolean columns is 1 a boolean.
        assert_eq!(
            canonical_default("1", &CanonicalType::Integer).as_deref(),
            Some("1")
        );
    }

    #[test]
    fn checks_are_found_and_compacted() {
        let sql = r#"CREATE TABLE t (
            id INTEGER PRIMARY KEY,
            "is_active" INTEGER NOT NULL DEFAULT 1 CHECK ( "is_active" IN (0 , 1) ),
            settings TEXT CHECK (settings IS NULL OR json_valid(settings)),
            note TEXT DEFAULT 'CHECK (note IN (0, 1))',
            checked INTEGER,
            CHECK(checked in (1,0))
        )"#;
        assert_eq!(
            check_constraints(sql),
            vec![
                "is_active in(0,1)".to_owned(),
                "settings is null or json_valid(settings)".to_owned(),
                "checked in(1,0)".to_owned(),
            ]
        );
    }

    #[test]
    fn sqlite_types_follow_checks_then_declared_type() {
        let checks = check_constraints(
            "CREATE TABLE t (a INTEGER CHECK (a IN (0, 1)), b TEXT CHECK (json_valid(b)), \
             ab INTEGER)",
        );
        assert_eq!(sqlite_type("INTEGER", "a", &checks), CanonicalType::Boolean);
        assert_eq!(sqlite_type("TEXT", "b", &checks), CanonicalType::Json);
        // `ab` is not `a` or `b`.
        assert_eq!(
            sqlite_type("INTEGER", "ab", &checks),
            CanonicalType::Integer
        );
        assert_eq!(sqlite_type("VARCHAR(100)", "x", &[]), CanonicalType::Text);
        assert_eq!(
            sqlite_type("DOUBLE PRECISION", "x", &[]),
            CanonicalType::Real
        );
        assert_eq!(sqlite_type("", "x", &[]), CanonicalType::Blob);
    }

    #[test]
    fn predicates_normalize_alike() {
        assert_eq!(
            normalize_predicate("(deleted_at IS NULL)"),
            normalize_predicate("deleted_at IS NULL")
        );
        assert_eq!(
            normalize_predicate("((status)::text = 'active'::text)"),
            "status = 'active'"
        );
        assert_eq!(
            normalize_predicate("\"deleted_at\"  IS\n NULL"),
            "deleted_at is null"
        );
    }

    #[test]
    fn where_clause_is_found_outside_strings() {
        assert_eq!(
            where_clause("CREATE INDEX i ON t (a) WHERE deleted_at IS NULL"),
            Some("deleted_at IS NULL")
        );
        assert_eq!(where_clause("CREATE INDEX \"where\" ON t (a)"), None);
        assert_eq!(where_clause("CREATE INDEX nowhere ON t (a)"), None);
    }

    #[test]
    fn sqlite_schema_is_read() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE);
             CREATE TABLE child (
                 id TEXT PRIMARY KEY,
                 parent_id INTEGER NOT NULL REFERENCES parent ON DELETE CASCADE,
                 is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
                 settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                 deleted_at TEXT
             );
             CREATE INDEX idx_child_live ON child (parent_id, created_at DESC)
                 WHERE deleted_at IS NULL;
             CREATE UNIQUE INDEX idx_child_settings ON child (settings);
             CREATE TRIGGER child_touch AFTER UPDATE ON child BEGIN SELECT 1; END;",
        )
        .expect("create");

        let schema = of_sqlite(&conn).expect("schema");
        assert_eq!(
            schema.tables.keys().collect::<Vec<_>>(),
            ["child", "parent"]
        );
        assert!(schema.functions.is_empty());

        let parent = &schema.tables["parent"];
        assert_eq!(parent.primary_key, ["id"]);
        assert!(
            parent.columns[0].not_null,
            "INTEGER PRIMARY KEY is not null"
        );
        assert_eq!(parent.uniques, BTreeSet::from([vec!["code".to_owned()]]));
        assert!(parent.indexes.is_empty(), "auto-indexes are not indexes");

        let child = &schema.tables["child"];
        let column = |name: &str| {
            child
                .columns
                .iter()
                .find(|c| c.name == name)
                .expect("column")
        };
        assert_eq!(column("id").ty, CanonicalType::Text);
        assert!(column("id").not_null);
        assert_eq!(column("is_active").ty, CanonicalType::Boolean);
        assert_eq!(column("is_active").default.as_deref(), Some("true"));
        assert_eq!(column("settings").ty, CanonicalType::Json);
        assert_eq!(column("settings").default.as_deref(), Some("'{}'"));
        assert_eq!(column("created_at").default.as_deref(), Some("now"));
        assert!(!column("deleted_at").not_null);

        assert_eq!(
            child.foreign_keys,
            BTreeSet::from([ForeignKey {
                columns: vec!["parent_id".to_owned()],
                ref_table: "parent".to_owned(),
                ref_columns: vec!["id".to_owned()],
                on_delete: "CASCADE".to_owned(),
            }])
        );
        assert_eq!(
            child.indexes["idx_child_live"],
            Index {
                columns: vec!["parent_id".to_owned(), "created_at DESC".to_owned()],
                unique: false,
                predicate: Some("deleted_at is null".to_owned()),
            }
        );
        assert!(child.indexes["idx_child_settings"].unique);
        assert!(
            child.uniques.is_empty(),
            "a unique index is not a constraint"
        );
        assert_eq!(child.triggers, BTreeSet::from(["child_touch".to_owned()]));
    }

    #[test]
    fn diff_names_what_differs() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (a INTEGER NOT NULL, b TEXT);")
            .expect("create");
        let left = of_sqlite(&conn).expect("schema");
        assert!(left.diff(&left).is_empty());

        conn.execute_batch(
            "CREATE TABLE u (x INTEGER);
             DROP TABLE t; CREATE TABLE t (a INTEGER, c TEXT);",
        )
        .expect("change");
        let right = of_sqlite(&conn).expect("schema");
        assert_eq!(
            left.diff(&right),
            [
                "table `t`: column `a`: not null differs (left true, right false)",
                "table `t`: column `b`: only in left",
                "table `t`: column `c`: only in right",
                "table `u`: only in right",
            ]
        );
        assert!(right.without("u").diff(&left).len() == 3);
    }
}
