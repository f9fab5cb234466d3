//! What replace mode deletes, worked out before anything is written.
//!
//! Replace mode deletes, in each table the fixtures write, the rows the fixtures do not name.
//! Rows of other tables change only through the foreign keys' own `ON DELETE` rules, which
//! the database applies: CASCADE deletes the referencing rows, SET NULL clears the
//! reference, NO ACTION and RESTRICT make the delete fail. This module turns those rules into
//! SQL conditions ("the rows that will be deleted"), so that the counts can be reported and a
//! delete that a rule forbids is refused, naming the rows in the way, before the first write.

use std::collections::HashMap;

use super::catalog::{Catalog, Column, OnDelete, Table};
use crate::db::value::{Kind, Value};
use crate::db::{Dialect, Driver, Params, quote_ident};
use crate::error::{Error, Result};

/// How many of the rows in the way an error names; the rest are counted.
const BLOCKERS_SHOWN: usize = 5;

/// The existing rows the fixtures name, per table the fixtures write: every other row of
/// those tables is deleted.
///
/// The named keys are written to temporary tables ([`Named::stage`]) and the conditions
/// join against them: one condition per named row (`NOT (k = 1 OR k = 2 …)`) grows with the
/// fixtures until SQLite refuses the expression as too deep and either database runs out of
/// parameters, and costs time quadratic in the number of rows.
#[derive(Debug, Default)]
pub struct Named {
    tables: HashMap<&'static str, (Vec<&'static str>, Vec<Vec<Value>>)>,
    /// The tables Citus manages here. Citus cannot join them with a temporary table, which
    /// only the coordinator has: their keys are staged in a reference table instead, which
    /// every node has.
    citus_tables: Vec<String>,
}

impl Named {
    /// `table` is written by the fixtures; the rows whose `columns` hold one of `rows` stay.
    pub fn insert(
        &mut self,
        table: &'static str,
        columns: Vec<&'static str>,
        rows: Vec<Vec<Value>>,
    ) {
        self.tables.insert(table, (columns, rows));
    }

    pub fn writes(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// Writes the named keys into one temporary table per table (a reference table where
    /// Citus manages the table), for the conditions to join against. Inside the seed's transaction: a rollback takes them away, and
    /// [`Named::unstage`] drops them before a commit.
    pub fn stage(&mut self, driver: &mut dyn Driver) -> Result<()> {
        if let Some(pg) = driver.as_postgres().filter(|pg| pg.citus_installed()) {
            self.citus_tables = pg.citus()?.tables.into_iter().map(|t| t.name).collect();
        }
        for (table, (columns, rows)) in &self.tables {
            let staged = staged_name(table);
            let selected = crate::db::quote_idents(columns);
            let on_citus = self.citus_tables.iter().any(|t| t == table);
            let create = match driver.dialect() {
                // Dropped by `unstage` before the commit, or with the rollback.
                Dialect::Postgres if on_citus => format!(
                    "CREATE TABLE {staged} AS SELECT {selected} FROM {} WITH NO DATA;\n\
                     SELECT create_reference_table('{}')",
                    quote_ident(table),
                    staged.replace('\'', "''")
                ),
                Dialect::Postgres => format!(
                    "CREATE TEMPORARY TABLE {staged} ON COMMIT DROP AS \
                     SELECT {selected} FROM {} WITH NO DATA",
                    quote_ident(table)
                ),
                // The columns keep the table's declared types, so values compare the same.
                Dialect::Sqlite => format!(
                    "CREATE TEMPORARY TABLE {staged} AS SELECT {selected} FROM {} WHERE 0;\n\
                     CREATE INDEX temp.{} ON {staged} ({selected})",
                    quote_ident(table),
                    quote_ident(&format!("{}_key", staged_bare(table)))
                ),
            };
            driver.execute(&create)?;
            driver.insert_rows(
                &staged_bare(table),
                columns,
                &mut rows.iter().cloned(),
                &mut |_| {},
            )?;
            if driver.dialect() == Dialect::Postgres && !on_citus {
                // Without statistics the planner guesses the table's size and may loop over it.
                driver.execute(&format!("ANALYZE {staged}"))?;
            }
        }
        Ok(())
    }

    /// Drops the tables [`Named::stage`] wrote.
    pub fn unstage(&self, driver: &mut dyn Driver) -> Result<()> {
        for table in self.tables.keys() {
            driver.execute(&format!("DROP TABLE {}", staged_name(table)))?;
        }
        Ok(())
    }
}

/// The temporary table holding the named keys of `table`, unquoted.
fn staged_bare(table: &str) -> String {
    format!("plantdb_named_{table}")
}

fn staged_name(table: &str) -> String {
    quote_ident(&staged_bare(table))
}

/// Rows that replace mode removes or changes in one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    /// Rows of a table the fixtures write that the fixtures do not name.
    pub deleted: u64,
    /// Rows the database deletes through `ON DELETE CASCADE`.
    pub cascade_deleted: u64,
    /// Rows whose reference the database sets to NULL through `ON DELETE SET NULL`.
    pub set_null: u64,
}

/// SQL conditions over the catalog's tables, with their parameters numbered as they are
/// added.
pub struct Conditions<'a> {
    named: &'a Named,
    catalog: &'a Catalog,
    dialect: Dialect,
    params: Params,
    /// The tables whose doomed rows are being worked out, outermost first: a cascade that
    /// comes back to one of them (a cycle a live schema may hold) adds nothing new.
    visiting: Vec<&'static str>,
}

impl<'a> Conditions<'a> {
    pub fn new(dialect: Dialect, named: &'a Named, catalog: &'a Catalog) -> Conditions<'a> {
        Conditions {
            named,
            catalog,
            dialect,
            params: Params::new(dialect),
            visiting: Vec::new(),
        }
    }

    /// The values of the conditions' placeholders, in order.
    pub fn params(&self) -> &[Value] {
        self.params.values()
    }

    /// The rows of a table the fixtures write that they do not name; `None` for other tables.
    /// Reads the table [`Named::stage`] wrote.
    pub fn unnamed(&mut self, table: &str) -> Option<String> {
        let (columns, rows) = self.named.tables.get(table)?;
        if rows.is_empty() {
            return Some("1 = 1".into());
        }
        let pk = self.catalog.table(table).and_then(|t| t.pk_column());
        let own = quote_ident(table);
        let matches: Vec<String> = columns
            .iter()
            .map(|column| {
                let name = quote_ident(column);
                let (stored, named) = (format!("{own}.{name}"), format!("k.{name}"));
                // A primary key is never NULL: plain equality lets the databases hash or
                // index the lookup. Natural keys may hold NULL, which matches NULL here.
                match (Some(*column) == pk, self.dialect) {
                    (true, _) => format!("{named} = {stored}"),
                    (false, Dialect::Postgres) => {
                        format!("{named} IS NOT DISTINCT FROM {stored}")
                    }
                    (false, Dialect::Sqlite) => format!("{named} IS {stored}"),
                }
            })
            .collect();
        Some(format!(
            "NOT EXISTS (SELECT 1 FROM {} k WHERE {})",
            staged_name(table),
            matches.join(" AND ")
        ))
    }

    /// The rows of `table` that replace mode deletes, by its own delete or by a cascade;
    /// `None` when it deletes none.
    pub fn doomed(&mut self, table: &'static Table) -> Option<String> {
        let mut parts: Vec<String> = self.unnamed(table.name).into_iter().collect();
        if self.visiting.contains(&table.name) {
            return parts.pop();
        }
        self.visiting.push(table.name);
        // A self-reference with CASCADE would need a recursive query; the catalog has none
        // (a unit test keeps it that way).
        for column in table
            .columns
            .iter()
            .filter(|c| c.on_delete == OnDelete::Cascade)
        {
            if let Some(reference) = self.references_doomed(table, column) {
                parts.push(reference);
            }
        }
        self.visiting.pop();
        if parts.is_empty() {
            None
        } else {
            Some(format!("({})", parts.join(" OR ")))
        }
    }

    /// The rows whose `column` references a row replace mode deletes.
    pub fn references_doomed(&mut self, table: &Table, column: &Column) -> Option<String> {
        let parent = self.catalog.table(column.references?)?;
        if parent.name == table.name && column.on_delete == OnDelete::Cascade {
            return None;
        }
        let doomed = self.doomed(parent)?;
        let key = quote_ident(parent.pk_column().unwrap_or("id"));
        let name = quote_ident(column.name);
        Some(format!(
            "({name} IS NOT NULL AND {name} IN (SELECT {key} FROM {} WHERE {doomed}))",
            quote_ident(parent.name)
        ))
    }
}

fn count(driver: &mut dyn Driver, table: &str, condition: &str, params: &[Value]) -> Result<u64> {
    let sql = format!(
        "SELECT count(*) FROM {} WHERE {condition}",
        quote_ident(table)
    );
    let rows = driver.query(&sql, params, &[Kind::Int])?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    })
}

/// What replace mode will do to each table, or an error naming the rows a foreign key keeps
/// from being deleted. Reads only.
pub fn effects(
    driver: &mut dyn Driver,
    named: &Named,
    catalog: &Catalog,
) -> Result<Vec<(&'static str, Effect)>> {
    let dialect = driver.dialect();
    let mut effects = Vec::new();
    let mut blocked: Vec<String> = Vec::new();
    let mut blocked_total = 0u64;
    for table in catalog.parent_first() {
        let mut effect = Effect::default();
        let mut conditions = Conditions::new(dialect, named, catalog);
        if let Some(unnamed) = conditions.unnamed(table.name) {
            effect.deleted = count(driver, table.name, &unnamed, conditions.params())?;
        }
        let mut conditions = Conditions::new(dialect, named, catalog);
        let doomed = conditions.doomed(table);
        if let Some(doomed) = &doomed {
            let all = count(driver, table.name, doomed, conditions.params())?;
            effect.cascade_deleted = all.saturating_sub(effect.deleted);
        }
        // Rows that stay but reference a deleted row: set to NULL, or in the way.
        for rule in [OnDelete::SetNull, OnDelete::NoAction] {
            for column in table.columns.iter().filter(|c| {
                if rule == OnDelete::SetNull {
                    c.on_delete == OnDelete::SetNull
                } else {
                    c.on_delete.blocks()
                }
            }) {
                let mut conditions = Conditions::new(dialect, named, catalog);
                let Some(reference) = conditions.references_doomed(table, column) else {
                    continue;
                };
                let stays = match conditions.doomed(table) {
                    Some(doomed) => format!("NOT {doomed}"),
                    None => "1 = 1".into(),
                };
                let condition = format!("{reference} AND {stays}");
                let n = count(driver, table.name, &condition, conditions.params())?;
                if n == 0 {
                    continue;
                }
                if rule == OnDelete::SetNull {
                    effect.set_null += n;
                } else {
                    blocked_total += n;
                    let shown = BLOCKERS_SHOWN.saturating_sub(blocked.len());
                    blocked.extend(blocking_rows(
                        driver,
                        catalog,
                        table,
                        column,
                        &condition,
                        conditions.params(),
                        shown,
                    )?);
                }
            }
        }
        if effect != Effect::default() {
            effects.push((table.name, effect));
        }
    }
    if blocked_total > 0 {
        return Err(Error::SeedBlocked {
            rows: blocked,
            more: blocked_total.saturating_sub(BLOCKERS_SHOWN as u64),
        });
    }
    Ok(effects)
}

/// Up to `limit` rows in the way, as `table` key=value … -> parent key=value.
fn blocking_rows(
    driver: &mut dyn Driver,
    catalog: &Catalog,
    table: &Table,
    column: &Column,
    condition: &str,
    params: &[Value],
    limit: usize,
) -> Result<Vec<String>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let key: Vec<&str> = match table.pk_column() {
        Some(pk) => vec![pk],
        None => table.key.to_vec(),
    };
    let selected: Vec<String> = key
        .iter()
        .chain(std::iter::once(&column.name))
        .map(|c| format!("CAST({} AS TEXT)", quote_ident(c)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {condition} ORDER BY 1 LIMIT {limit}",
        selected.join(", "),
        quote_ident(table.name)
    );
    let kinds = vec![Kind::Text; selected.len()];
    let rows = driver.query(&sql, params, &kinds)?;
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        _ => "NULL".into(),
    };
    let parent = column.references.unwrap_or("?");
    let parent_key = catalog
        .table(parent)
        .and_then(|t| t.pk_column())
        .unwrap_or("id");
    Ok(rows
        .iter()
        .map(|row| {
            let own: Vec<String> = key
                .iter()
                .zip(row)
                .map(|(k, v)| format!("{k}={}", text(v)))
                .collect();
            format!(
                "`{}` {} references deleted `{parent}` {parent_key}={} (`{}` is ON DELETE {})",
                table.name,
                own.join(", "),
                row.last().map(text).unwrap_or_default(),
                column.name,
                column.on_delete.sql()
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::catalog;
    use super::*;

    #[test]
    fn no_table_cascades_into_itself() {
        for table in catalog::TABLES {
            for column in table.columns {
                assert!(
                    !(column.references == Some(table.name)
                        && column.on_delete == OnDelete::Cascade),
                    "{}.{} cascades into its own table",
                    table.name,
                    column.name
                );
            }
        }
    }

    #[test]
    fn conditions_join_the_staged_keys_and_follow_cascades() {
        let mut named = Named::default();
        named.insert("plants", vec!["id"], vec![vec![Value::Text("fern".into())]]);
        let mut conditions = Conditions::new(Dialect::Postgres, &named, Catalog::built_in());
        let alerts = catalog::table("alerts").unwrap();
        let doomed = conditions
            .doomed(alerts)
            .expect("alerts cascade from plants");
        assert!(
            doomed.contains("\"plant_id\" IN (SELECT \"id\" FROM \"plants\" WHERE"),
            "{doomed}"
        );
        // The named keys are joined from their staged table, however many they are.
        assert!(
            doomed.contains(
                "NOT EXISTS (SELECT 1 FROM \"plantdb_named_plants\" k WHERE k.\"id\" = \"plants\".\"id\")"
            ),
            "{doomed}"
        );
        // Devices only lose their plant (SET NULL): their alerts stay.
        assert!(!doomed.contains("\"devices\""), "{doomed}");
        let mut conditions = Conditions::new(Dialect::Postgres, &named, Catalog::built_in());
        assert!(
            conditions
                .doomed(catalog::table("organizations").unwrap())
                .is_none()
        );
    }

    #[test]
    fn a_refusal_counts_the_rows_it_does_not_show() {
        let e = Error::SeedBlocked {
            rows: vec!["`sample` id=1 references deleted `characteristic` id=2".into()],
            more: 7,
        };
        let text = e.to_string();
        assert!(text.contains("\n  - `sample` id=1"), "{text}");
        assert!(text.ends_with("… and 7 more"), "{text}");
    }
}
