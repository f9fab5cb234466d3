//! Columns a seed cannot fill: NOT NULL, without a default, and not among the columns the
//! fixtures know (an application's own column on a table plantdb adopted). Inserting a row
//! would fail on the first of them with the database's null-violation message; this names
//! them all, at the table's first fixture row, before anything is written.

use std::collections::BTreeMap;

use super::fixture::Fixtures;
use super::yaml_node::fixture_error;
use crate::db::value::{Kind, Value};
use crate::db::{Dialect, Driver};
use crate::error::Result;

/// NOT NULL columns without a default that the database fills by no other means (identity,
/// generated, or a SQLite rowid key), by table.
const POSTGRES: &str = "
    SELECT c.relname::text, a.attname::text
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef
      AND a.attidentity = '' AND a.attgenerated = ''
    ORDER BY c.relname, a.attnum";

const SQLITE: &str = "
    SELECT m.name, p.name
    FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
    WHERE m.type = 'table' AND p.\"notnull\" <> 0 AND p.dflt_value IS NULL
      AND p.pk = 0 AND p.hidden = 0
    ORDER BY m.name, p.cid";

/// Refuses when a table the fixtures write to has columns they cannot fill.
pub fn check(driver: &mut dyn Driver, fixtures: &Fixtures) -> Result<()> {
    let sql = match driver.dialect() {
        Dialect::Postgres => POSTGRES,
        Dialect::Sqlite => SQLITE,
    };
    let mut required: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in driver.query(sql, &[], &[Kind::Text, Kind::Text])? {
        if let [Value::Text(table), Value::Text(column)] = row.as_slice() {
            required
                .entry(table.clone())
                .or_default()
                .push(column.clone());
        }
    }
    for table in fixtures.tables() {
        let Some(columns) = required.get(table.name) else {
            continue;
        };
        let unknown: Vec<&str> = columns
            .iter()
            .map(String::as_str)
            .filter(|c| table.column(c).is_none())
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let Some(first) = fixtures.rows_of(table.name).next() else {
            continue;
        };
        let listed = unknown
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(fixture_error(
            first.at.clone(),
            &format!(
                "cannot seed `{}`: its column(s) {listed} are NOT NULL without a default, and plantdb's fixtures do not fill them",
                table.name
            ),
            Some(format!(
                "nothing was written; give them a server default (ALTER TABLE {} ALTER COLUMN … SET DEFAULT …) or allow NULL",
                table.name
            )),
        ));
    }
    Ok(())
}
