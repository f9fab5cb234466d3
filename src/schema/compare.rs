//! How a live database stands against the schema plantdb's migrations produce, column by
//! column, with a verdict for each difference.
//!
//! [`Schema::diff`](super::Schema) answers "are these equal?" for two schemas plantdb wrote
//! itself. Taking over (or checking) a database that another tool or a person changed needs
//! more: which differences lose nothing if plantdb's definition is applied (*convergible*: a
//! missing server default, a wider type, `timestamp` for `timestamptz`, SQLite type names),
//! which ones make plantdb's migrations and seeds wrong about the data (*incompatible*: a
//! missing column, a narrower type, another key), and which objects are simply not plantdb's
//! (extra tables, columns, indexes), which are listed apart and never count against it.
//!
//! The canonical [`Schema`] hides spellings on purpose (`VARCHAR` and `TEXT` are both text), so
//! the comparison also takes each column's type and default as the database spells them
//! ([`Spellings`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{Column, Schema, Table};

/// One column's type and default exactly as the database reports them (`format_type` and
/// `pg_get_expr` on PostgreSQL, the declared type and `dflt_value` on SQLite).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spelling {
    pub declared: String,
    pub default: Option<String>,
}

/// Table name → column name → [`Spelling`].
pub type Spellings = BTreeMap<String, BTreeMap<String, Spelling>>;

/// Which dialect the spellings come from: their type names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Postgres,
    Sqlite,
}

/// A schema with its spellings: one side of a comparison.
#[derive(Debug, Clone)]
pub struct Described {
    pub flavor: Flavor,
    pub schema: Schema,
    pub spellings: Spellings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Spelled differently, means the same.
    Identical,
    /// Applying plantdb's definition loses nothing (`migrate adopt --converge` does it).
    Convergible,
    /// plantdb's migrations would be wrong about this table or column.
    Incompatible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    Table,
    Column,
    Type,
    NotNull,
    Default,
    PrimaryKey,
    Unique,
    ForeignKey,
    Index,
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aspect::Table => "table",
            Aspect::Column => "column",
            Aspect::Type => "type",
            Aspect::NotNull => "not null",
            Aspect::Default => "default",
            Aspect::PrimaryKey => "primary key",
            Aspect::Unique => "unique key",
            Aspect::ForeignKey => "foreign key",
            Aspect::Index => "index",
        })
    }
}

/// One way the live database differs from what plantdb's migrations produce.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Difference {
    pub table: String,
    pub column: Option<String>,
    pub aspect: Aspect,
    /// What plantdb's migrations produce ("absent" when they produce nothing).
    pub expected: String,
    /// What the live database has ("absent" when it has nothing).
    pub found: String,
    pub verdict: Verdict,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}", self.table)?;
        if let Some(column) = &self.column {
            write!(f, ".{column}")?;
        }
        write!(
            f,
            "`: {} expected {}, found {}",
            self.aspect, self.expected, self.found
        )
    }
}

/// An object of the live database that plantdb's migrations do not define.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Foreign {
    pub table: String,
    /// `table`, `column`, `index`, `unique key` or `foreign key`.
    pub kind: String,
    /// The column, or for an index or key: its name or columns.
    pub object: Option<String>,
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            None => write!(f, "table `{}`", self.table),
            Some(object) if self.kind == "column" => {
                write!(f, "column `{}.{object}`", self.table)
            }
            Some(object) => write!(f, "{} {object} on `{}`", self.kind, self.table),
        }
    }
}

/// The live database against plantdb's migrations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Convergible and incompatible differences, by table, column and aspect.
    pub differences: Vec<Difference>,
    /// What the live database has beyond plantdb's definitions: not plantdb's, never an error.
    pub not_plantdbs: Vec<Foreign>,
}

impl Comparison {
    pub fn incompatible(&self) -> impl Iterator<Item = &Difference> {
        self.with(Verdict::Incompatible)
    }

    pub fn convergible(&self) -> impl Iterator<Item = &Difference> {
        self.with(Verdict::Convergible)
    }

    fn with(&self, verdict: Verdict) -> impl Iterator<Item = &Difference> {
        self.differences
            .iter()
            .filter(move |d| d.verdict == verdict)
    }

    pub fn is_identical(&self) -> bool {
        self.differences.is_empty()
    }
}

const ABSENT: &str = "absent";

/// Compares `live` with `expected` for every table `expected` defines. Tables of `live` that
/// `expected` lacks, and their columns and indexes, are [`Comparison::not_plantdbs`].
pub fn compare(expected: &Described, live: &Described) -> Comparison {
    let mut out = Comparison::default();
    for (name, want) in &expected.schema.tables {
        match live.schema.tables.get(name) {
            Some(have) => compare_table(name, want, have, expected, live, &mut out),
            None => out.differences.push(Difference {
                table: name.clone(),
                column: None,
                aspect: Aspect::Table,
                expected: "present".into(),
                found: ABSENT.into(),
                verdict: Verdict::Incompatible,
            }),
        }
    }
    for name in live.schema.tables.keys() {
        if !expected.schema.tables.contains_key(name) {
            out.not_plantdbs.push(Foreign {
                table: name.clone(),
                object: None,
                kind: "table".into(),
            });
        }
    }
    out.differences.retain(|d| d.verdict != Verdict::Identical);
    out.differences.sort();
    out.not_plantdbs.sort();
    out
}

fn compare_table(
    name: &str,
    want: &Table,
    have: &Table,
    expected: &Described,
    live: &Described,
    out: &mut Comparison,
) {
    let mut push = |column: Option<&str>, aspect, expected: String, found: String, verdict| {
        out.differences.push(Difference {
            table: name.to_string(),
            column: column.map(str::to_string),
            aspect,
            expected,
            found,
            verdict,
        })
    };
    let spelling = |side: &Described, column: &str| {
        side.spellings
            .get(name)
            .and_then(|t| t.get(column))
            .cloned()
    };
    for w in &want.columns {
        let Some(h) = have.columns.iter().find(|c| c.name == w.name) else {
            push(
                Some(&w.name),
                Aspect::Column,
                shown_type(w, spelling(expected, &w.name).as_ref()),
                ABSENT.into(),
                Verdict::Incompatible,
            );
            continue;
        };
        let (ws, hs) = (spelling(expected, &w.name), spelling(live, &w.name));
        let (verdict, want_type, have_type) =
            type_verdict(w, ws.as_ref(), expected.flavor, h, hs.as_ref(), live.flavor);
        push(Some(&w.name), Aspect::Type, want_type, have_type, verdict);
        if w.not_null != h.not_null {
            // Either way plantdb's definition keeps every row: NOT NULL once no row holds
            // NULL, or accepting NULL where the live column refuses it.
            push(
                Some(&w.name),
                Aspect::NotNull,
                nullability(w.not_null),
                nullability(h.not_null),
                Verdict::Convergible,
            );
        }
        let (verdict, want_default, have_default) = default_verdict(w, ws.as_ref(), h, hs.as_ref());
        push(
            Some(&w.name),
            Aspect::Default,
            want_default,
            have_default,
            verdict,
        );
    }
    // A key or index over a missing column is implied by that column's absence.
    let live_columns: BTreeSet<&str> = have.columns.iter().map(|c| c.name.as_str()).collect();
    let all_there = |columns: &[String]| {
        columns
            .iter()
            .map(|c| c.trim_end_matches(" DESC"))
            .all(|c| c == "<expression>" || live_columns.contains(c))
    };
    let columns: BTreeSet<&str> = want.columns.iter().map(|c| c.name.as_str()).collect();
    for h in &have.columns {
        if !columns.contains(h.name.as_str()) {
            out.not_plantdbs.push(Foreign {
                table: name.to_string(),
                object: Some(h.name.clone()),
                kind: "column".into(),
            });
        }
    }

    if want.primary_key != have.primary_key {
        out.differences.push(Difference {
            table: name.to_string(),
            column: None,
            aspect: Aspect::PrimaryKey,
            expected: keyed(&want.primary_key),
            found: keyed(&have.primary_key),
            verdict: Verdict::Incompatible,
        });
    }

    // A UNIQUE constraint is also kept by a unique index on the same columns.
    let unique_indexes: BTreeSet<&[String]> = have
        .indexes
        .values()
        .filter(|i| i.unique && i.predicate.is_none())
        .map(|i| &i.columns[..])
        .collect();
    for key in &want.uniques {
        if have.uniques.contains(key) || !all_there(key) {
            continue;
        }
        let (found, verdict) = if unique_indexes.contains(&key[..]) {
            ("a unique index".to_string(), Verdict::Convergible)
        } else {
            (ABSENT.to_string(), Verdict::Incompatible)
        };
        out.differences.push(Difference {
            table: name.to_string(),
            column: (key.len() == 1).then(|| key[0].clone()),
            aspect: Aspect::Unique,
            expected: keyed(key),
            found,
            verdict,
        });
    }
    for key in have.uniques.difference(&want.uniques) {
        out.not_plantdbs.push(Foreign {
            table: name.to_string(),
            object: Some(keyed(key)),
            kind: "unique key".into(),
        });
    }

    for fk in &want.foreign_keys {
        if have.foreign_keys.contains(fk) || !all_there(&fk.columns) {
            continue;
        }
        let same_columns = have
            .foreign_keys
            .iter()
            .find(|h| h.columns == fk.columns)
            .map(ToString::to_string);
        out.differences.push(Difference {
            table: name.to_string(),
            column: (fk.columns.len() == 1).then(|| fk.columns[0].clone()),
            aspect: Aspect::ForeignKey,
            expected: fk.to_string(),
            found: same_columns.unwrap_or_else(|| ABSENT.into()),
            verdict: Verdict::Incompatible,
        });
    }
    for fk in have.foreign_keys.difference(&want.foreign_keys) {
        if !want.foreign_keys.iter().any(|w| w.columns == fk.columns) {
            out.not_plantdbs.push(Foreign {
                table: name.to_string(),
                object: Some(fk.to_string()),
                kind: "foreign key".into(),
            });
        }
    }

    for (index_name, w) in &want.indexes {
        let shown = |i: &super::model::Index| {
            let mut text = format!(
                "{}index `{index_name}` {}",
                if i.unique { "unique " } else { "" },
                keyed(&i.columns)
            );
            if let Some(predicate) = &i.predicate {
                text.push_str(&format!(" where {predicate}"));
            }
            text
        };
        if !all_there(&w.columns) {
            continue;
        }
        let column = (w.columns.len() == 1).then(|| w.columns[0].clone());
        let found = match have.indexes.get(index_name) {
            Some(h) if h == w => continue,
            Some(h) => shown(h),
            None => match have.indexes.iter().find(|(_, h)| *h == w) {
                // The same index under another name: only the name differs.
                Some((other, _)) => format!("the same index named `{other}`"),
                None => ABSENT.into(),
            },
        };
        // Building an index loses nothing, but a unique one is a key: data may break it.
        let verdict = if w.unique && !found.starts_with("the same") {
            Verdict::Incompatible
        } else {
            Verdict::Convergible
        };
        out.differences.push(Difference {
            table: name.to_string(),
            column,
            aspect: Aspect::Index,
            expected: shown(w),
            found,
            verdict,
        });
    }
    for (index_name, h) in &have.indexes {
        let plantdbs = want.indexes.contains_key(index_name)
            || want.indexes.values().any(|w| w == h)
            || (h.unique && h.predicate.is_none() && want.uniques.contains(&h.columns));
        if !plantdbs {
            out.not_plantdbs.push(Foreign {
                table: name.to_string(),
                object: Some(format!("`{index_name}` {}", keyed(&h.columns))),
                kind: "index".into(),
            });
        }
    }
}

fn nullability(not_null: bool) -> String {
    if not_null { "NOT NULL" } else { "NULL allowed" }.into()
}

fn keyed(columns: &[String]) -> String {
    if columns.is_empty() {
        "none".into()
    } else {
        format!("({})", columns.join(", "))
    }
}

fn shown_type(column: &Column, spelling: Option<&Spelling>) -> String {
    spelling.map_or_else(|| column.ty.to_string(), |s| s.declared.clone())
}

/// What a declared type holds, finely enough to tell wider from narrower.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holds {
    /// Text, with its maximum length if it has one.
    Text(Option<u32>),
    /// An integer of this many bytes.
    Integer(u8),
    /// A binary floating-point number of this many bytes.
    Float(u8),
    /// A timestamp, with or without time zone.
    Timestamp {
        zoned: bool,
    },
    Json,
    Jsonb,
    /// Anything else, compared by its (normalised) name only.
    Named(String),
}

/// Reads a PostgreSQL `format_type` spelling.
fn postgres_holds(declared: &str) -> Holds {
    let lower = declared.trim().to_lowercase();
    let length = |rest: &str| {
        rest.trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.trim().parse().ok())
    };
    for prefix in ["character varying", "varchar"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return Holds::Text(length(rest));
        }
    }
    match lower.as_str() {
        "text" => Holds::Text(None),
        "smallint" | "int2" => Holds::Integer(2),
        "integer" | "int" | "int4" | "serial" => Holds::Integer(4),
        "bigint" | "int8" | "bigserial" => Holds::Integer(8),
        "real" | "float4" => Holds::Float(4),
        "double precision" | "float8" => Holds::Float(8),
        "timestamp with time zone" | "timestamptz" => Holds::Timestamp { zoned: true },
        "timestamp without time zone" | "timestamp" => Holds::Timestamp { zoned: false },
        "json" => Holds::Json,
        "jsonb" => Holds::Jsonb,
        _ => Holds::Named(lower.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

/// Whether a live type keeps every value of the expected one, and how to say so.
fn type_verdict(
    want: &Column,
    want_spelling: Option<&Spelling>,
    want_flavor: Flavor,
    have: &Column,
    have_spelling: Option<&Spelling>,
    have_flavor: Flavor,
) -> (Verdict, String, String) {
    let want_text = shown_type(want, want_spelling);
    let have_text = shown_type(have, have_spelling);
    let same_spelling = want_text.trim().eq_ignore_ascii_case(have_text.trim());
    let verdict = if want_flavor == Flavor::Postgres && have_flavor == Flavor::Postgres {
        postgres_type_verdict(&postgres_holds(&want_text), &postgres_holds(&have_text))
    } else if want.ty != have.ty {
        // SQLite keeps any value in any column; what counts is what the column is for, which
        // its affinity and CHECK constraints say (the canonical type).
        Verdict::Incompatible
    } else if same_spelling {
        Verdict::Identical
    } else {
        // `VARCHAR`, `FLOAT`, `BOOLEAN`, `DATETIME` for plantdb's `TEXT`, `REAL`,
        // `INTEGER CHECK (… IN (0, 1))`, `TEXT`: the same kind of value under another name.
        Verdict::Convergible
    };
    (verdict, want_text, have_text)
}

fn postgres_type_verdict(want: &Holds, have: &Holds) -> Verdict {
    match (want, have) {
        (w, h) if w == h => Verdict::Identical,
        (Holds::Text(w), Holds::Text(h)) => match (w, h) {
            // The live column takes at least every string plantdb's does.
            (_, None) => Verdict::Convergible,
            (Some(w), Some(h)) if h >= w => Verdict::Convergible,
            _ => Verdict::Incompatible,
        },
        (Holds::Integer(w), Holds::Integer(h)) if h >= w => Verdict::Convergible,
        (Holds::Float(w), Holds::Float(h)) if h >= w => Verdict::Convergible,
        // Converging reads the stored local times as UTC (or the zoned ones at UTC).
        (Holds::Timestamp { .. }, Holds::Timestamp { .. }) => Verdict::Convergible,
        (Holds::Json, Holds::Jsonb) | (Holds::Jsonb, Holds::Json) => Verdict::Convergible,
        _ => Verdict::Incompatible,
    }
}

/// Defaults: a missing, extra or other default loses no data either way, so it is convergible;
/// the same canonical default spelled another way (`CURRENT_TIMESTAMP` for plantdb's ISO-8601
/// `strftime`) is convergible too on SQLite, where the spelling decides the stored text.
fn default_verdict(
    want: &Column,
    want_spelling: Option<&Spelling>,
    have: &Column,
    have_spelling: Option<&Spelling>,
) -> (Verdict, String, String) {
    let raw = |column: &Column, spelling: Option<&Spelling>| {
        spelling
            .and_then(|s| s.default.clone())
            .or_else(|| column.default.clone())
    };
    let (want_raw, have_raw) = (raw(want, want_spelling), raw(have, have_spelling));
    let shown = |text: &Option<String>| text.clone().unwrap_or_else(|| "none".into());
    let verdict = if want.default != have.default {
        Verdict::Convergible
    } else if want.default.is_none() || normalised(&want_raw) == normalised(&have_raw) {
        Verdict::Identical
    } else if want.default.as_deref() == Some("now") && clock_text_differs(&want_raw, &have_raw) {
        Verdict::Convergible
    } else {
        Verdict::Identical
    };
    (verdict, shown(&want_raw), shown(&have_raw))
}

fn normalised(text: &Option<String>) -> Option<String> {
    text.as_ref().map(|t| {
        t.to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    })
}

/// Whether two clock defaults write different text: `CURRENT_TIMESTAMP` writes
/// `YYYY-MM-DD HH:MM:SS`, plantdb's SQLite `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` ISO-8601.
fn clock_text_differs(want: &Option<String>, have: &Option<String>) -> bool {
    let writes_iso = |text: &Option<String>| {
        text.as_deref()
            .is_some_and(|t| t.to_lowercase().contains("strftime"))
    };
    writes_iso(want) != writes_iso(have)
}

impl Described {
    pub fn new(flavor: Flavor, schema: Schema, spellings: Spellings) -> Described {
        Described {
            flavor,
            schema,
            spellings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::of_sqlite;

    fn sqlite(sql: &str) -> Described {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(sql).expect("create");
        let schema = of_sqlite(&conn).expect("schema");
        let mut spellings = Spellings::new();
        let mut statement = conn
            .prepare(
                "SELECT m.name, p.name, p.type, p.dflt_value
                 FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
            )
            .expect("prepare");
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })
            .expect("query");
        for row in rows {
            let (table, column, declared, default) = row.expect("row");
            spellings
                .entry(table)
                .or_default()
                .insert(column, Spelling { declared, default });
        }
        Described::new(Flavor::Sqlite, schema, spellings)
    }

    fn verdicts(c: &Comparison) -> Vec<(String, Option<String>, Aspect, Verdict)> {
        c.differences
            .iter()
            .map(|d| (d.table.clone(), d.column.clone(), d.aspect, d.verdict))
            .collect()
    }

    const PLANTDB: &str = "
        CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE);
        CREATE TABLE child (
            id INTEGER PRIMARY KEY,
            parent_id INTEGER NOT NULL REFERENCES parent (id),
            label TEXT NOT NULL,
            weight REAL,
            is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE INDEX ix_child_parent_id ON child (parent_id);";

    #[test]
    fn identical_schemas_have_no_differences() {
        let c = compare(&sqlite(PLANTDB), &sqlite(PLANTDB));
        assert!(c.is_identical(), "{c:?}");
        assert!(c.not_plantdbs.is_empty());
    }

    #[test]
    fn sqlite_type_names_and_clock_defaults_are_convergible_and_extras_listed_apart() {
        let live = sqlite(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR NOT NULL UNIQUE);
             CREATE TABLE child (
                 id INTEGER PRIMARY KEY,
                 parent_id INTEGER NOT NULL REFERENCES parent (id),
                 label VARCHAR NOT NULL,
                 weight FLOAT,
                 is_active BOOLEAN NOT NULL,
                 created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                 note VARCHAR
             );
             CREATE INDEX ix_child_parent_id ON child (parent_id);
             CREATE INDEX ix_child_note ON child (note);
             CREATE TABLE audit (id INTEGER PRIMARY KEY);",
        );
        let c = compare(&sqlite(PLANTDB), &live);
        let child = |column: &str, aspect| {
            (
                "child".to_string(),
                Some(column.to_string()),
                aspect,
                Verdict::Convergible,
            )
        };
        assert_eq!(
            verdicts(&c),
            [
                child("label", Aspect::Type),
                child("weight", Aspect::Type),
                child("is_active", Aspect::Type),
                child("is_active", Aspect::Default),
                child("created_at", Aspect::Type),
                child("created_at", Aspect::Default),
                (
                    "parent".to_string(),
                    Some("code".to_string()),
                    Aspect::Type,
                    Verdict::Convergible
                ),
            ]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        let created = c
            .differences
            .iter()
            .find(|d| d.column.as_deref() == Some("created_at") && d.aspect == Aspect::Default)
            .unwrap();
        assert_eq!(created.found, "CURRENT_TIMESTAMP");
        assert_eq!(c.incompatible().count(), 0);
        let extras: Vec<String> = c.not_plantdbs.iter().map(ToString::to_string).collect();
        assert_eq!(
            extras,
            [
                "table `audit`",
                "column `child.note`",
                "index `ix_child_note` (note) on `child`"
            ]
        );
    }

    #[test]
    fn missing_columns_tables_keys_and_other_kinds_are_incompatible() {
        let live = sqlite(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT NOT NULL);
             CREATE TABLE child (
                 id INTEGER PRIMARY KEY,
                 parent_id INTEGER NOT NULL,
                 label INTEGER NOT NULL,
                 is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             );",
        );
        let c = compare(&sqlite(PLANTDB), &live);
        let incompatible: Vec<String> = c.incompatible().map(ToString::to_string).collect();
        assert_eq!(
            incompatible,
            [
                "`child.label`: type expected TEXT, found INTEGER",
                "`child.parent_id`: foreign key expected (parent_id) references `parent` (id) on delete NO ACTION, found absent",
                "`child.weight`: column expected REAL, found absent",
                "`parent.code`: unique key expected (code), found absent",
            ]
        );
        // A dropped plain index is convergible: building it again loses nothing.
        let index: Vec<&Difference> = c.convergible().collect();
        assert_eq!(index.len(), 1);
        assert_eq!(index[0].aspect, Aspect::Index);
        assert_eq!(index[0].column.as_deref(), Some("parent_id"));

        let c = compare(&sqlite(PLANTDB), &sqlite("CREATE TABLE other (x INTEGER);"));
        assert_eq!(c.incompatible().count(), 2, "{c:?}");
        assert!(c.incompatible().all(|d| d.aspect == Aspect::Table));
    }

    #[test]
    fn postgres_types_widen_or_narrow() {
        let text = |w: &str, h: &str| postgres_type_verdict(&postgres_holds(w), &postgres_holds(h));
        assert_eq!(
            text("character varying(255)", "character varying"),
            Verdict::Convergible
        );
        // Unlimited either way.
        assert_eq!(text("text", "character varying"), Verdict::Identical);
        assert_eq!(
            text("character varying(255)", "character varying(300)"),
            Verdict::Convergible
        );
        assert_eq!(
            text("character varying(255)", "character varying(50)"),
            Verdict::Incompatible
        );
        assert_eq!(text("text", "character varying(50)"), Verdict::Incompatible);
        assert_eq!(
            text("timestamp with time zone", "timestamp without time zone"),
            Verdict::Convergible
        );
        assert_eq!(text("integer", "bigint"), Verdict::Convergible);
        assert_eq!(text("bigint", "integer"), Verdict::Incompatible);
        assert_eq!(text("double precision", "real"), Verdict::Incompatible);
        assert_eq!(text("boolean", "integer"), Verdict::Incompatible);
        assert_eq!(text("boolean", "boolean"), Verdict::Identical);
        assert_eq!(text("json", "jsonb"), Verdict::Convergible);
    }

    #[test]
    fn a_comparison_survives_a_json_round_trip() {
        let c = compare(
            &sqlite(PLANTDB),
            &sqlite("CREATE TABLE parent (id INTEGER);"),
        );
        let text = serde_json::to_string(&c).unwrap();
        let back: Comparison = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        assert!(text.contains("\"verdict\":\"incompatible\""), "{text}");
    }
}
