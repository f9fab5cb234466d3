//! Reading schema `public` of a PostgreSQL database from its catalogs.

use std::collections::BTreeMap;

use super::model::{CanonicalType, Column, ForeignKey, Index, Schema, Table};
use super::sql_text::{canonical_default, normalize_predicate};

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

    // `query_typed`: one round trip per query, where a prepared statement costs three.
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    for row in tx.query_typed(PG_TABLES, &[])? {
        names.insert(row.get(0), row.get(1));
    }
    let mut tables: BTreeMap<u32, Table> = names
        .keys()
        .map(|oid| (*oid, Table::new(Vec::new())))
        .collect();

    for row in tx.query_typed(PG_COLUMNS, &[])? {
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

    for row in tx.query_typed(PG_CONSTRAINTS, &[])? {
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

    for row in tx.query_typed(PG_INDEXES, &[])? {
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

    for row in tx.query_typed(PG_TRIGGERS, &[])? {
        if let Some(table) = tables.get_mut(&row.get::<_, u32>(0)) {
            table.triggers.insert(row.get(1));
        }
    }

    let functions = tx
        .query_typed(PG_FUNCTIONS, &[])?
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
