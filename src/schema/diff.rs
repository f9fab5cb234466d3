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
        let column = format!("{prefix}column `{}`: ", l.name);
        if l.ty != r.ty {
            out.push(format!(
                "{column}type differs (left {}, right {})",
                l.ty, r.ty
            ));
        }
        if l.not_null != r.not_null {
            out.push(format!(
                "{column}not null differs (left {}, right {})",
                l.not_null, r.not_null
            ));
        }
        if l.default != r.default {
            out.push(format!(
                "{column}default differs (left {}, right {})",
                l.default.as_deref().unwrap_or("none"),
                r.default.as_deref().unwrap_or("none")
            ));
        }
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
    if left_order != right_order {
        out.push(format!(
            "{prefix}column order differs (left {}, right {})",
            left_order.join(", "),
            right_order.join(", ")
        ));
    }

    if left.primary_key != right.primary_key {
        out.push(format!(
            "{prefix}primary key differs (left ({}), right ({}))",
            left.primary_key.join(", "),
            right.primary_key.join(", ")
        ));
    }
    let uniques = |set: &BTreeSet<Vec<String>>| -> BTreeSet<String> {
        set.iter()
            .map(|cols| format!("({})", cols.join(", ")))
            .collect()
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
        let index = format!("{prefix}index `{index_name}`: ");
        if l.columns != r.columns {
            out.push(format!(
                "{index}columns differ (left ({}), right ({}))",
                l.columns.join(", "),
                r.columns.join(", ")
            ));
        }
        if l.unique != r.unique {
            out.push(format!(
                "{index}unique differs (left {}, right {})",
                l.unique, r.unique
            ));
        }
        if l.predicate != r.predicate {
            out.push(format!(
                "{index}predicate differs (left {}, right {})",
                l.predicate.as_deref().unwrap_or("none"),
                r.predicate.as_deref().unwrap_or("none")
            ));
        }
    }
    for index_name in right.indexes.keys() {
        if !left.indexes.contains_key(index_name) {
            out.push(format!("{prefix}index `{index_name}`: only in right"));
        }
    }
    diff_sets("trigger", &left.triggers, &right.triggers, &prefix, out);
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
}
