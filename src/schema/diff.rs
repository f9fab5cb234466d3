//! What differs between two schemas, in words a reader can act on.

use std::collections::BTreeSet;

use super::model::{Column, ForeignKey, Schema, Table};

impl Schema {
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
        let mut column = Place::new(out, format!("{prefix}column `{}`: ", l.name));
        column.compare("type differs", &l.ty, &r.ty, shown);
        column.compare("not null differs", &l.not_null, &r.not_null, shown);
        column.compare("default differs", &l.default, &r.default, or_none);
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
    let mut table = Place::new(out, prefix.clone());
    table.compare(
        "column order differs",
        &left_order[..],
        &right_order[..],
        listed,
    );
    let keys = (&left.primary_key[..], &right.primary_key[..]);
    table.compare("primary key differs", keys.0, keys.1, in_parens);
    let uniques = |set: &BTreeSet<Vec<String>>| -> BTreeSet<String> {
        set.iter().map(|cols| in_parens(cols)).collect()
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
        let mut index = Place::new(out, format!("{prefix}index `{index_name}`: "));
        index.compare("columns differ", &l.columns[..], &r.columns[..], in_parens);
        index.compare("unique differs", &l.unique, &r.unique, shown);
        index.compare("predicate differs", &l.predicate, &r.predicate, or_none);
    }
    for index_name in right.indexes.keys() {
        if !left.indexes.contains_key(index_name) {
            out.push(format!("{prefix}index `{index_name}`: only in right"));
        }
    }
    diff_sets("trigger", &left.triggers, &right.triggers, &prefix, out);
}

/// Where in the schemas a comparison stands (`table `t`: column `c`: `), and the list its
/// differences go to.
struct Place<'a> {
    out: &'a mut Vec<String>,
    at: String,
}

impl<'a> Place<'a> {
    fn new(out: &'a mut Vec<String>, at: String) -> Place<'a> {
        Place { out, at }
    }

    /// Adds "`{at}{what} (left …, right …)`", each side as `show` writes it, when they differ.
    fn compare<T: PartialEq + ?Sized>(
        &mut self,
        what: &str,
        left: &T,
        right: &T,
        show: fn(&T) -> String,
    ) {
        if left != right {
            let (left, right) = (show(left), show(right));
            self.out
                .push(format!("{}{what} (left {left}, right {right})", self.at));
        }
    }
}

fn shown(value: &(impl std::fmt::Display + ?Sized)) -> String {
    value.to_string()
}

fn or_none(value: &Option<String>) -> String {
    value.as_deref().unwrap_or("none").to_string()
}

fn listed(names: &[String]) -> String {
    names.join(", ")
}

/// Column names as a key or an index lists them: `(a, b)`.
fn in_parens(names: &[String]) -> String {
    format!("({})", listed(names))
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

#[cfg(test)]
mod tests {
    use crate::schema::of_sqlite;

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

    #[test]
    fn each_kind_of_difference_is_named_with_both_sides() {
        let schema = |sql: &str| {
            let conn = rusqlite::Connection::open_in_memory().expect("open");
            conn.execute_batch(sql).expect("create");
            of_sqlite(&conn).expect("schema")
        };
        let left = schema(
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT DEFAULT 'x', c INTEGER);
             CREATE INDEX i ON t (b) WHERE c IS NULL;",
        );
        let right = schema(
            "CREATE TABLE t (c INTEGER, a TEXT, b TEXT, PRIMARY KEY (a, c));
             CREATE UNIQUE INDEX i ON t (b, c);",
        );
        assert_eq!(
            left.diff(&right),
            [
                "table `t`: column `a`: type differs (left integer, right text)",
                "table `t`: column `b`: default differs (left 'x', right none)",
                "table `t`: column `c`: not null differs (left false, right true)",
                "table `t`: column order differs (left a, b, c, right c, a, b)",
                "table `t`: primary key differs (left (a), right (a, c))",
                "table `t`: index `i`: columns differ (left (b), right (b, c))",
                "table `t`: index `i`: unique differs (left false, right true)",
                "table `t`: index `i`: predicate differs (left c is null, right none)",
            ]
        );
    }
}
