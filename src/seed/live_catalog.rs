//! The seed catalog read from the live database, so that any table there can be seeded:
//! tables that `--migrations` or a baseline created, and columns another tool added to a
//! built-in table.
//!
//! Columns, nullability, defaults, keys and foreign keys with their `ON DELETE` rules come
//! from schema introspection ([`Driver::schema`]); one more query reads the declared column
//! types, which the dialect-neutral schema folds together (a PostgreSQL `uuid` or
//! `timestamptz` is text there). What no schema says about the built-in tables comes from
//! [`catalog::TABLES`]: see [`hinted`].

use std::collections::HashMap;
use std::sync::Mutex;

use super::catalog::{self, Catalog, Column, Kind, NaturalKey, OnDelete, Pk, Table};
use crate::db::history::{ADOPTION_TABLE, HISTORY_TABLE};
use crate::db::value::Value;
use crate::db::{Dialect, Driver};
use crate::error::Result;
use crate::schema::{self, CanonicalType, Schema};

/// One column as the database declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declared {
    table: String,
    column: String,
    /// `pg_type.typname` on PostgreSQL, the declared type on SQLite.
    type_name: String,
    /// `VARCHAR(n)`: at most `n` characters.
    max_chars: Option<usize>,
    /// The database draws the value: an identity, a serial, SQLite's `INTEGER PRIMARY KEY`.
    generated: bool,
}

/// Every column of schema `public` with its type, length limit and whether it is generated.
const PG_DECLARED: &str = "
    SELECT c.relname::text, a.attname::text, t.typname::text,
           CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
                THEN a.atttypmod - 4 END,
           a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%'
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0
      AND NOT a.attisdropped";

/// Every column of the main database; only a lone `INTEGER PRIMARY KEY` is a rowid alias.
const SQLITE_DECLARED: &str = "
    SELECT m.name, p.name, p.type, NULL,
           p.pk = 1 AND upper(p.type) = 'INTEGER'
           AND (SELECT count(*) FROM pragma_table_info(m.name) k WHERE k.pk > 0) = 1
    FROM main.sqlite_master m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// Reads the catalog of the database `driver` is connected to: the schema, and one query
/// for the declared types. Call it outside a transaction (PostgreSQL reads the schema in a
/// snapshot of its own).
pub fn read(driver: &mut dyn Driver) -> Result<&'static Catalog> {
    let schema = driver.schema()?;
    let dialect = driver.dialect();
    let sql = match dialect {
        Dialect::Postgres => PG_DECLARED,
        Dialect::Sqlite => SQLITE_DECLARED,
    };
    let kinds = [Kind::Text, Kind::Text, Kind::Text, Kind::Int, Kind::Bool];
    let mut declared: Vec<Declared> = driver
        .query(sql, &[], &kinds)?
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            let text = |v: Option<Value>| match v {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            };
            let (table, column, type_name) =
                (text(row.next())?, text(row.next())?, text(row.next())?);
            let max_chars = match row.next() {
                Some(Value::Int(n)) => usize::try_from(n).ok(),
                _ => sqlite_max_chars(&type_name),
            };
            let generated = matches!(row.next(), Some(Value::Bool(true)) | Some(Value::Int(1)));
            Some(Declared {
                table,
                column,
                type_name,
                max_chars,
                generated,
            })
        })
        .collect();
    declared.sort_by(|a, b| (&a.table, &a.column).cmp(&(&b.table, &b.column)));
    Ok(intern(dialect, schema, declared))
}

/// `VARCHAR(255)` → 255, as SQLite keeps the declared type's text.
fn sqlite_max_chars(type_name: &str) -> Option<usize> {
    let upper = type_name.to_uppercase();
    if !upper.contains("CHAR") {
        return None;
    }
    let (_, rest) = upper.split_once('(')?;
    rest.split(')').next()?.trim().parse().ok()
}

/// Catalogs already built, by what they were built from. The seed engine names tables and
/// columns by `&'static str` (the built-in catalog is static); a catalog read from a live
/// database is leaked once per distinct schema instead of once per seed, so a process that
/// seeds the same database many times (a test run) holds one copy.
#[allow(clippy::type_complexity)]
static BUILT: Mutex<Vec<(Dialect, Schema, Vec<Declared>, &'static Catalog)>> =
    Mutex::new(Vec::new());

fn intern(dialect: Dialect, schema: Schema, declared: Vec<Declared>) -> &'static Catalog {
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((.., catalog)) = built
        .iter()
        .find(|(d, s, c, _)| *d == dialect && *s == schema && *c == declared)
    {
        return catalog;
    }
    let catalog: &'static Catalog = Box::leak(Box::new(build(dialect, &schema, &declared)));
    built.push((dialect, schema, declared, catalog));
    catalog
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

/// Built-in tables first, in [`catalog::TABLES`] order, then the others by name: reports
/// and fixture rows keep the order they always had.
fn build(dialect: Dialect, schema: &Schema, declared: &[Declared]) -> Catalog {
    let mut names: Vec<&String> = schema
        .tables
        .keys()
        .filter(|name| name.as_str() != HISTORY_TABLE && name.as_str() != ADOPTION_TABLE)
        .collect();
    let position = |name: &str| catalog::TABLES.iter().position(|t| t.name == name);
    names.sort_by_key(|name| (position(name).unwrap_or(usize::MAX), name.as_str()));
    let mut tables = Vec::new();
    let mut natural_keys = HashMap::new();
    for name in names {
        let live = &schema.tables[name];
        let (table, naturals) = table(dialect, name, live, declared);
        let table: &'static Table = Box::leak(Box::new(table));
        natural_keys.insert(table.name, naturals);
        tables.push(table);
    }
    Catalog::new(tables, natural_keys)
}

/// What the schema cannot say about a column of a built-in table, from [`catalog::TABLES`]:
/// - the kind of a text column: a timestamp, a UUID or an SPC configuration document
///   (`TEXT` on SQLite, and `config_json` is `TEXT` on both);
/// - its length limit where SQLite declares only `TEXT` (fixtures are held to PostgreSQL's
///   `VARCHAR(n)` on both dialects);
/// - the name fixtures use for a foreign key that is not the column without `_id`
///   (`char_id` is written `characteristic`);
/// - secrets: plain in fixtures, stored encrypted or hashed.
fn hinted(table: &str, column: &str) -> Option<&'static Column> {
    catalog::table(table).and_then(|t| t.column(column))
}

fn kind_of(dialect: Dialect, ty: &CanonicalType, declared: Option<&Declared>) -> Kind {
    let type_name = declared.map_or("", |d| d.type_name.as_str());
    match dialect {
        Dialect::Postgres => match type_name {
            "int2" | "int4" | "int8" => Kind::Int,
            "float4" | "float8" | "numeric" => Kind::Float,
            "bool" => Kind::Bool,
            "json" | "jsonb" => Kind::Json,
            "uuid" => Kind::Uuid,
            "timestamptz" | "timestamp" | "date" => Kind::Time,
            _ => Kind::Text,
        },
        Dialect::Sqlite => match ty {
            CanonicalType::Integer => Kind::Int,
            CanonicalType::Real => Kind::Float,
            CanonicalType::Boolean => Kind::Bool,
            CanonicalType::Json => Kind::Json,
            _ => {
                let upper = type_name.to_uppercase();
                if upper.contains("UUID") {
                    Kind::Uuid
                } else if upper.contains("DATE") || upper.contains("TIME") {
                    Kind::Time
                } else {
                    Kind::Text
                }
            }
        },
    }
}

/// One live table as the seed engine sees it, and its unique keys other than the match key.
fn table(
    dialect: Dialect,
    name: &str,
    live: &schema::Table,
    declared: &[Declared],
) -> (Table, Vec<NaturalKey>) {
    let declared_of = |column: &str| {
        declared
            .iter()
            .find(|d| d.table == name && d.column == column)
    };
    let kind = |column: &schema::Column| {
        let own = kind_of(dialect, &column.ty, declared_of(&column.name));
        match hinted(name, &column.name) {
            // Only a text column can be more than the schema says.
            Some(hint) if own == Kind::Text => hint.kind,
            _ => own,
        }
    };
    let pk = match live.primary_key.as_slice() {
        [only] => {
            let column = live.columns.iter().find(|c| &c.name == only);
            let generated = declared_of(only).is_some_and(|d| d.generated);
            match column.map(kind) {
                Some(Kind::Int) if generated => Pk::Identity(leak(only)),
                Some(Kind::Uuid) => Pk::Uuid(leak(only)),
                Some(Kind::Text) => Pk::Text(leak(only)),
                _ => Pk::None,
            }
        }
        // A table Citus distributes has the distribution column in its primary key next to
        // the drawn id (alerts is keyed `(device_id, id)` there): the id alone still names
        // each row, since one sequence on the coordinator draws them all.
        key => match key
            .iter()
            .filter(|column| declared_of(column).is_some_and(|d| d.generated))
            .collect::<Vec<_>>()
            .as_slice()
        {
            [drawn] => Pk::Identity(leak(drawn)),
            _ => Pk::None,
        },
    };
    let filled_pk = match pk {
        Pk::Identity(c) | Pk::Uuid(c) | Pk::Text(c) => Some(c),
        Pk::None => None,
    };
    let single_fk = |column: &str| {
        live.foreign_keys
            .iter()
            .find(|fk| fk.columns.len() == 1 && fk.columns[0] == column)
    };
    let columns: Vec<Column> = live
        .columns
        .iter()
        .map(|column| {
            let hint = hinted(name, &column.name);
            let fk = single_fk(&column.name);
            let alias = match (hint, fk) {
                (Some(hint), _) if hint.alias.is_some() => hint.alias,
                (_, Some(_)) => column
                    .name
                    .strip_suffix("_id")
                    .filter(|short| !short.is_empty())
                    .filter(|short| !live.columns.iter().any(|c| c.name == *short))
                    .map(leak),
                _ => None,
            };
            Column {
                name: leak(&column.name),
                kind: kind(column),
                required: column.not_null
                    && column.default.is_none()
                    && filled_pk != Some(column.name.as_str()),
                references: fk.map(|fk| leak(&fk.ref_table)),
                on_delete: fk.map_or(OnDelete::NoAction, |fk| on_delete(&fk.on_delete)),
                alias,
                secret: hint.and_then(|h| h.secret),
                max_chars: declared_of(&column.name)
                    .and_then(|d| d.max_chars)
                    .or(hint.and_then(|h| h.max_chars)),
            }
        })
        .collect();
    let has = |key: &[String]| {
        key.iter()
            .all(|k| columns.iter().any(|c| c.name == k.as_str()))
    };
    // Every unique key the database enforces, constraints first; partial unique indexes
    // only where their condition is columns being NULL.
    let mut uniques: Vec<NaturalKey> = live
        .uniques
        .iter()
        .filter(|key| has(key))
        .map(|key| NaturalKey {
            columns: key.iter().map(|k| leak(k)).collect(),
            where_null: Vec::new(),
        })
        .collect();
    for index in live
        .indexes
        .values()
        .filter(|i| i.unique && has(&i.columns))
    {
        let where_null = match &index.predicate {
            None => Some(Vec::new()),
            Some(predicate) => null_conditions(predicate, &columns),
        };
        if let Some(where_null) = where_null {
            uniques.push(NaturalKey {
                columns: index.columns.iter().map(|k| leak(k)).collect(),
                where_null,
            });
        }
    }
    let built_in_key = catalog::table(name)
        .map(|t| t.key)
        .filter(|key| key.iter().all(|k| columns.iter().any(|c| c.name == *k)));
    let key: Vec<&'static str> = match (built_in_key, pk) {
        (Some(key), _) => key.to_vec(),
        (None, Pk::Uuid(c) | Pk::Text(c)) => vec![c],
        (None, _) if !live.primary_key.is_empty() && filled_pk.is_none() => {
            live.primary_key.iter().map(|k| leak(k)).collect()
        }
        (None, _) => match uniques.iter().find(|k| k.where_null.is_empty()) {
            Some(unique) => unique.columns.clone(),
            // No unique key: a row is the same row when its required values are.
            None => columns
                .iter()
                .filter(|c| c.required)
                .map(|c| c.name)
                .collect(),
        },
    };
    uniques
        .retain(|k| k.columns != key && !(k.columns.len() == 1 && Some(k.columns[0]) == filled_pk));
    let table = Table {
        name: leak(name),
        pk,
        columns: Box::leak(columns.into_boxed_slice()),
        key: Box::leak(key.into_boxed_slice()),
    };
    (table, uniques)
}

/// `a is null and b is null` (a normalised predicate) → `[a, b]`; `None` for any other
/// condition, whose rows the seed cannot tell apart.
fn null_conditions(predicate: &str, columns: &[Column]) -> Option<Vec<&'static str>> {
    predicate
        .split(" and ")
        .map(|part| {
            let column = part.strip_suffix(" is null")?;
            columns.iter().find(|c| c.name == column).map(|c| c.name)
        })
        .collect()
}

fn on_delete(rule: &str) -> OnDelete {
    match rule {
        "CASCADE" => OnDelete::Cascade,
        // The referencing row stays and its reference changes, as with SET NULL.
        "SET NULL" | "SET DEFAULT" => OnDelete::SetNull,
        "RESTRICT" => OnDelete::Restrict,
        _ => OnDelete::NoAction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varchar_lengths_are_read_from_sqlite_declared_types() {
        assert_eq!(sqlite_max_chars("VARCHAR(255)"), Some(255));
        assert_eq!(sqlite_max_chars("character varying ( 50 )"), Some(50));
        assert_eq!(sqlite_max_chars("TEXT"), None);
        assert_eq!(sqlite_max_chars("VARCHAR"), None);
    }

    #[test]
    fn only_null_conditions_make_a_partial_unique_index_a_key() {
        let column = |name: &'static str| Column {
            name,
            kind: Kind::Time,
            required: false,
            references: None,
            on_delete: OnDelete::NoAction,
            alias: None,
            secret: None,
            max_chars: None,
        };
        let columns = [column("deleted_at"), column("archived_at")];
        assert_eq!(
            null_conditions("deleted_at is null and archived_at is null", &columns),
            Some(vec!["deleted_at", "archived_at"])
        );
        assert_eq!(null_conditions("deleted_at is not null", &columns), None);
        assert_eq!(null_conditions("status = 'active'", &columns), None);
        assert_eq!(null_conditions("gone_at is null", &columns), None);
    }
}
