//! Reading what a baseline needs from the live database, beyond the canonical
//! [`Schema`]: each column's own type, default and identity, named keys and checks, ON UPDATE
//! and DEFERRABLE, index definitions and sequences (PostgreSQL catalogs); the stored `CREATE`
//! statements and pragmas (SQLite). Also what stops a baseline: views, triggers, functions,
//! generated columns, partitioned tables. Reads only, through the driver.

use super::baseline_sql::{
    Check, Identity, Key, LiveColumn, LiveForeignKey, LiveIndex, LiveSchema, LiveSequence,
    LiveTable,
};
use crate::db::value::{Kind, Value};
use crate::db::{ADOPTION_TABLE, Dialect, Driver, HISTORY_TABLE, Params};
use crate::error::Result;
use crate::schema::{Schema, check_bodies};

/// History tables of the tools a baseline replaces: kept in the database, never baselined.
pub const FOREIGN_HISTORY_TABLES: [&str; 3] =
    ["alembic_version", "pgmigrations", "schema_migrations"];

/// TimescaleDB puts this trigger on every hypertable; it is the extension's, not the schema's.
const TIMESCALE_TRIGGER: &str = "ts_insert_blocker";

/// The live description, the tables left out, and the objects that stop a baseline.
pub(super) type Read = (LiveSchema, Vec<String>, Vec<String>);

/// Reads the database `driver` is connected to; `schema` is its canonical reading.
pub(super) fn read(driver: &mut dyn Driver, schema: &Schema) -> Result<Read> {
    match driver.dialect() {
        Dialect::Postgres => read_postgres(driver, schema),
        Dialect::Sqlite => read_sqlite(driver, schema),
    }
}

/// Runs `sql` and reads every column as text (`""` for NULL).
pub(super) fn texts(
    driver: &mut dyn Driver,
    sql: &str,
    params: &[Value],
    columns: usize,
) -> Result<Vec<Vec<String>>> {
    let kinds = vec![Kind::Text; columns];
    let rows = driver.query(sql, params, &kinds)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|value| match value {
                    Value::Null => String::new(),
                    Value::Text(text) => text,
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect())
}

/// Tables plantdb never baselines: its own and the old tools' history.
fn left_out(name: &str) -> bool {
    name == HISTORY_TABLE || name == ADOPTION_TABLE || FOREIGN_HISTORY_TABLES.contains(&name)
}

/// Units between names in one text column: no identifier holds it.
const SEP: char = '\u{1f}';

const PG_COLUMNS: &str = "
    SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
           pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                THEN (SELECT l.collname::text FROM pg_collation l WHERE l.oid = a.attcollation)
           END
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum";

const PG_CONSTRAINTS: &str = "
    SELECT r.relname::text, c.conname::text, c.contype::text, pg_get_constraintdef(c.oid),
           (SELECT string_agg(a.attname::text, chr(31) ORDER BY k.ord)
            FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
           f.relname::text,
           (SELECT string_agg(a.attname::text, chr(31) ORDER BY k.ord)
            FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum),
           c.confupdtype::text, c.confdeltype::text,
           CASE WHEN c.condeferrable
                THEN 'DEFERRABLE INITIALLY '
                     || CASE WHEN c.condeferred THEN 'DEFERRED' ELSE 'IMMEDIATE' END
           END
    FROM pg_constraint c
    JOIN pg_class r ON r.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = r.relnamespace
    LEFT JOIN pg_class f ON f.oid = c.confrelid
    WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f', 'c', 'x')
    ORDER BY r.relname, c.conname";

/// Indexes that back no constraint (those come with their constraint).
const PG_INDEXES: &str = "
    SELECT t.relname::text, i.relname::text, ix.indisunique::text, pg_get_indexdef(ix.indexrelid)
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE n.nspname = 'public'
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                      WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid
                        AND c.contype IN ('p', 'u', 'x'))
    ORDER BY t.relname, i.relname";

/// Sequences of schema `public` that no identity column and no extension owns.
const PG_SEQUENCES: &str = "
    SELECT s.relname::text,
           format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s%s',
                  format_type(q.seqtypid, NULL), q.seqincrement, q.seqmin, q.seqmax,
                  q.seqstart, CASE WHEN q.seqcycle THEN ' CYCLE' ELSE '' END),
           ot.relname::text, oa.attname::text
    FROM pg_class s
    JOIN pg_namespace n ON n.oid = s.relnamespace
    JOIN pg_sequence q ON q.seqrelid = s.oid
    LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
         AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
    LEFT JOIN pg_class ot ON ot.oid = d.refobjid
    LEFT JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
    WHERE n.nspname = 'public' AND s.relkind = 'S'
      AND NOT EXISTS (SELECT 1 FROM pg_depend e
                      WHERE e.classid = 'pg_class'::regclass AND e.objid = s.oid
                        AND e.deptype IN ('i', 'e'))
    ORDER BY s.relname";

/// Tables whose rows live in other tables: a baseline would write them as plain tables.
const PG_PARTITIONED: &str = "
    SELECT c.relname::text FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
      AND (c.relkind = 'p' OR c.relispartition
           OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid))
    ORDER BY 1";

const PG_VIEWS: &str = "
    SELECT c.relname::text FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
    ORDER BY 1";

fn read_postgres(driver: &mut dyn Driver, schema: &Schema) -> Result<Read> {
    let mut problems = refused_objects(schema);
    for row in texts(driver, PG_VIEWS, &[], 1)? {
        problems.push(format!(
            "view `{}`: views are not baselined; drop it, baseline, and add it back in a migration",
            row[0]
        ));
    }
    for row in texts(driver, PG_PARTITIONED, &[], 1)? {
        problems.push(format!(
            "table `{}`: partitioned and inheriting tables are not baselined",
            row[0]
        ));
    }
    let (mut tables, left) = tables_of(schema);
    // The catalogs below give the keys with their names.
    for table in &mut tables {
        table.primary_key = None;
        table.uniques.clear();
    }
    let find = |tables: &mut Vec<LiveTable>, name: &str| -> Option<usize> {
        tables.iter().position(|t| t.name == name)
    };

    for row in texts(driver, PG_COLUMNS, &[], 7)? {
        let Some(at) = find(&mut tables, &row[0]) else {
            continue;
        };
        let table = &mut tables[at];
        let Some(column) = table.columns.iter_mut().find(|c| c.name == row[1]) else {
            continue;
        };
        column.native_type = row[2].clone();
        column.default = (!row[3].is_empty()).then(|| row[3].clone());
        column.identity = match row[4].as_str() {
            "a" => Some(Identity::Always),
            "d" => Some(Identity::ByDefault),
            _ => None,
        };
        if !row[5].is_empty() {
            problems.push(format!(
                "table `{}`, column `{}`: generated columns are not baselined",
                row[0], row[1]
            ));
        }
        if !row[6].is_empty() {
            problems.push(format!(
                "table `{}`, column `{}`: its collation `{}` is not baselined",
                row[0], row[1], row[6]
            ));
        }
    }

    let split = |text: &str| -> Vec<String> {
        text.split(SEP)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    for row in texts(driver, PG_CONSTRAINTS, &[], 10)? {
        let Some(at) = find(&mut tables, &row[0]) else {
            continue;
        };
        let table = &mut tables[at];
        let name = Some(row[1].clone());
        let columns = split(&row[4]);
        match row[2].as_str() {
            "p" => table.primary_key = Some(Key { name, columns }),
            "u" => table.uniques.push(Key { name, columns }),
            "c" => table.checks.push(Check {
                name,
                expression: check_expression(&row[3]),
            }),
            "f" => table.foreign_keys.push(LiveForeignKey {
                name,
                columns,
                ref_table: row[5].clone(),
                ref_columns: split(&row[6]),
                on_update: postgres_action(&row[7]).into(),
                on_delete: postgres_action(&row[8]).into(),
                deferrable: (!row[9].is_empty()).then(|| row[9].clone()),
            }),
            _ => problems.push(format!(
                "table `{}`, constraint `{}`: exclusion constraints are not baselined",
                row[0], row[1]
            )),
        }
    }
    for row in texts(driver, PG_INDEXES, &[], 4)? {
        if let Some(at) = find(&mut tables, &row[0]) {
            tables[at].indexes.push(LiveIndex {
                name: row[1].clone(),
                unique: row[2] == "true",
                create_sql: row[3].clone(),
            });
        }
    }
    let sequences = texts(driver, PG_SEQUENCES, &[], 4)?
        .into_iter()
        .map(|row| LiveSequence {
            name: row[0].clone(),
            options: row[1].clone(),
            owned_by: (!row[2].is_empty()).then(|| (row[2].clone(), row[3].clone())),
        })
        .collect();
    Ok((
        LiveSchema {
            dialect: Dialect::Postgres,
            tables,
            sequences,
        },
        left,
        problems,
    ))
}

/// The expression of `CHECK ((a > 0)) [NOT VALID]`, as `pg_get_constraintdef` prints it.
fn check_expression(definition: &str) -> String {
    let body = definition
        .trim()
        .strip_prefix("CHECK")
        .unwrap_or(definition)
        .trim();
    let body = body
        .strip_suffix("NOT VALID")
        .unwrap_or(body)
        .trim()
        .strip_suffix("NO INHERIT")
        .unwrap_or(body)
        .trim();
    crate::schema::strip_outer_parens(body).to_owned()
}

fn postgres_action(code: &str) -> &'static str {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

fn read_sqlite(driver: &mut dyn Driver, schema: &Schema) -> Result<Read> {
    let mut problems = refused_objects(schema);
    for row in texts(
        driver,
        "SELECT name FROM main.sqlite_master WHERE type = 'view' ORDER BY name",
        &[],
        1,
    )? {
        problems.push(format!(
            "view `{}`: views are not baselined; drop it, baseline, and add it back in a migration",
            row[0]
        ));
    }
    let (mut tables, left) = tables_of(schema);
    let mut order = Vec::new();
    for row in texts(
        driver,
        "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' ORDER BY rowid",
        &[],
        2,
    )? {
        order.push(row[0].clone());
        let Some(table) = tables.iter_mut().find(|t| t.name == row[0]) else {
            continue;
        };
        let create_sql = row[1].clone();
        table.checks = check_bodies(&create_sql)
            .into_iter()
            .map(|expression| Check {
                name: None,
                expression: expression.to_owned(),
            })
            .collect();
        table.create_sql = Some(create_sql);
        let name = table.name.clone();
        let bind = |driver: &dyn Driver| {
            let mut params = Params::new(driver.dialect());
            let placeholder = params.bind(Value::Text(name.clone()));
            (params, placeholder)
        };

        let (params, at) = bind(driver);
        let columns = texts(
            driver,
            &format!("SELECT name, type, dflt_value, pk, hidden FROM pragma_table_xinfo({at})"),
            params.values(),
            5,
        )?;
        let key_columns: Vec<&Vec<String>> = columns.iter().filter(|c| c[3] != "0").collect();
        for column in &columns {
            if column[4] != "0" {
                problems.push(format!(
                    "table `{name}`, column `{}`: generated columns are not baselined",
                    column[0]
                ));
                continue;
            }
            let Some(live) = table.columns.iter_mut().find(|c| c.name == column[0]) else {
                continue;
            };
            live.native_type = column[1].clone();
            live.default = (!column[2].is_empty()).then(|| column[2].clone());
            // `INTEGER PRIMARY KEY` is the rowid: it numbers itself.
            if key_columns.len() == 1
                && column[3] != "0"
                && column[1].eq_ignore_ascii_case("INTEGER")
            {
                live.identity = Some(Identity::ByDefault);
            }
        }

        let (params, at) = bind(driver);
        let keys = texts(
            driver,
            &format!(
                "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete
                 FROM pragma_foreign_key_list({at}) ORDER BY id, seq"
            ),
            params.values(),
            6,
        )?;
        let mut foreign_keys: Vec<(String, LiveForeignKey)> = Vec::new();
        for key in keys {
            if foreign_keys.last().is_none_or(|(id, _)| *id != key[0]) {
                foreign_keys.push((
                    key[0].clone(),
                    LiveForeignKey {
                        name: None,
                        columns: Vec::new(),
                        ref_table: key[1].clone(),
                        ref_columns: Vec::new(),
                        on_update: key[4].to_uppercase(),
                        on_delete: key[5].to_uppercase(),
                        // SQLite's pragma does not say; the SQLite script keeps it verbatim.
                        deferrable: None,
                    },
                ));
            }
            if let Some((_, live)) = foreign_keys.last_mut() {
                live.columns.push(key[2].clone());
                if !key[3].is_empty() {
                    live.ref_columns.push(key[3].clone());
                }
            }
        }
        table.foreign_keys = foreign_keys.into_iter().map(|(_, key)| key).collect();

        let (params, at) = bind(driver);
        for index in texts(
            driver,
            &format!(
                "SELECT name, sql FROM main.sqlite_master
                 WHERE type = 'index' AND tbl_name = {at} AND sql IS NOT NULL ORDER BY rowid"
            ),
            params.values(),
            2,
        )? {
            table.indexes.push(LiveIndex {
                unique: schema.tables[&name]
                    .indexes
                    .get(&index[0])
                    .is_some_and(|i| i.unique),
                name: index[0].clone(),
                create_sql: index[1].clone(),
            });
        }
    }
    // `REFERENCES t` without columns means the primary key of `t`.
    let primary_keys: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|t| {
            let key = t.primary_key.as_ref().map(|k| k.columns.clone());
            (t.name.clone(), key.unwrap_or_default())
        })
        .collect();
    for table in &mut tables {
        for key in &mut table.foreign_keys {
            if key.ref_columns.is_empty()
                && let Some((_, columns)) = primary_keys.iter().find(|(t, _)| *t == key.ref_table)
            {
                key.ref_columns = columns.clone();
            }
        }
    }
    // Creation order, as SQLite keeps it.
    tables.sort_by_key(|t| order.iter().position(|name| *name == t.name));
    Ok((
        LiveSchema {
            dialect: Dialect::Sqlite,
            tables,
            sequences: Vec::new(),
        },
        left,
        problems,
    ))
}

/// The tables to baseline as the canonical reading has them (columns, keys), to be completed
/// from the catalogs; and the tables left out.
fn tables_of(schema: &Schema) -> (Vec<LiveTable>, Vec<String>) {
    let mut tables = Vec::new();
    let mut left = Vec::new();
    for (name, table) in &schema.tables {
        if left_out(name) {
            left.push(name.clone());
            continue;
        }
        tables.push(LiveTable {
            name: name.clone(),
            columns: table
                .columns
                .iter()
                .map(|c| LiveColumn {
                    name: c.name.clone(),
                    ty: c.ty.clone(),
                    native_type: c.ty.to_string(),
                    not_null: c.not_null,
                    default: None,
                    identity: None,
                })
                .collect(),
            primary_key: (!table.primary_key.is_empty()).then(|| Key {
                name: None,
                columns: table.primary_key.clone(),
            }),
            uniques: table
                .uniques
                .iter()
                .map(|columns| Key {
                    name: None,
                    columns: columns.clone(),
                })
                .collect(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            create_sql: None,
        });
    }
    (tables, left)
}

/// Triggers and functions: neither dialect's can be written for the other.
fn refused_objects(schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, table) in &schema.tables {
        if left_out(name) {
            continue;
        }
        for trigger in table.triggers.iter().filter(|t| *t != TIMESCALE_TRIGGER) {
            problems.push(format!(
                "table `{name}`, trigger `{trigger}`: triggers are not baselined; drop it, baseline, and add it back in a migration"
            ));
        }
    }
    for function in &schema.functions {
        problems.push(format!(
            "function `{function}`: functions are not baselined; drop it, baseline, and add it back in a migration"
        ));
    }
    problems
}
