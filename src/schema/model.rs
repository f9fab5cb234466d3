//! The dialect-neutral description of a database's tables.

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
    /// Canonical default (see [`canonical_default`](super::canonical_default)); `None` for
    /// identities.
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
    /// The WHERE clause of a partial index, normalised by
    /// [`normalize_predicate`](super::normalize_predicate).
    pub predicate: Option<String>,
}

impl Schema {
    /// A copy without `table`, e.g. to compare schemas while ignoring the history table.
    pub fn without(&self, table: &str) -> Schema {
        let mut copy = self.clone();
        copy.tables.remove(table);
        copy
    }
}

impl Table {
    pub(super) fn new(columns: Vec<Column>) -> Table {
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
    pub(super) fn mark_primary_key_not_null(&mut self) {
        for column in &mut self.columns {
            if self.primary_key.contains(&column.name) {
                column.not_null = true;
            }
        }
    }
}
