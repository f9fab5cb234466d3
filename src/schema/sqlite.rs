//! Reading the tables of a SQLite database from `sqlite_master` and its pragmas.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{CanonicalType, Column, ForeignKey, Index, Schema, Table};
use super::sql_text::{canonical_default, check_constraints, normalize_predicate, where_clause};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
