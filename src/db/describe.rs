//! A live database as the column-level comparison needs it: the canonical schema plus each
//! column's type and default as the database spells them.

use super::value::{Kind, Value};
use super::{Dialect, Driver};
use crate::error::Result;
use crate::schema::{Described, Flavor, Spelling, Spellings};

/// Every column of the tables [`Driver::schema`] reads, as (table, column, type, default).
fn spellings_query(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    pg_get_expr(d.adbin, d.adrelid)
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped"
        }
        Dialect::Sqlite => {
            "SELECT m.name, p.name, p.type, p.dflt_value
             FROM main.sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        }
    }
}

/// Reads the schema and its spellings (two reads; a concurrent migration could fall between
/// them, which the callers rule out by holding plantdb's lock or by reading only).
pub fn describe<D: Driver + ?Sized>(driver: &mut D) -> Result<Described> {
    let dialect = driver.dialect();
    let schema = driver.schema()?;
    let rows = driver.query(spellings_query(dialect), &[], &[Kind::Text; 4])?;
    let mut spellings = Spellings::new();
    for row in rows {
        let text = |i: usize| match row.get(i) {
            Some(Value::Text(text)) => Some(text.clone()),
            _ => None,
        };
        let (Some(table), Some(column)) = (text(0), text(1)) else {
            continue;
        };
        spellings.entry(table).or_default().insert(
            column,
            Spelling {
                declared: text(2).unwrap_or_default(),
                default: text(3),
            },
        );
    }
    let flavor = match dialect {
        Dialect::Postgres => Flavor::Postgres,
        Dialect::Sqlite => Flavor::Sqlite,
    };
    Ok(Described::new(flavor, schema, spellings))
}
