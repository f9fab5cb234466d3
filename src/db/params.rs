//! Statement parameters, with their placeholders written in the dialect's syntax: the engine
//! builds SQL text with the placeholders a `Params` hands out and never spells `$1` or `?1`.

use super::Dialect;
use super::quote_ident;
use super::value::Value;

/// The parameters of one statement, numbered in the order they are bound.
#[derive(Debug, Clone)]
pub struct Params {
    dialect: Dialect,
    values: Vec<Value>,
}

impl Params {
    pub fn new(dialect: Dialect) -> Params {
        Params {
            dialect,
            values: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder: `$n` on PostgreSQL, `?n` on SQLite.
    pub fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        let n = self.values.len();
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// `column` holds `value`, NULL matching NULL. Never NULL itself, so such conditions
    /// combine with NOT and OR as two-valued logic.
    pub fn same(&mut self, column: &str, value: Value) -> String {
        let placeholder = self.bind(value);
        match self.dialect {
            Dialect::Postgres => {
                format!("{} IS NOT DISTINCT FROM {placeholder}", quote_ident(column))
            }
            Dialect::Sqlite => format!("{} IS {placeholder}", quote_ident(column)),
        }
    }

    /// The values, in placeholder order, for `Driver::query`.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order_in_each_dialect() {
        let mut pg = Params::new(Dialect::Postgres);
        assert_eq!(pg.bind(Value::Int(1)), "$1");
        assert_eq!(
            pg.same("parent_id", Value::Null),
            "\"parent_id\" IS NOT DISTINCT FROM $2"
        );
        assert_eq!(pg.values(), [Value::Int(1), Value::Null]);

        let mut sqlite = Params::new(Dialect::Sqlite);
        assert_eq!(sqlite.bind(Value::Text("a".into())), "?1");
        assert_eq!(sqlite.same("parent_id", Value::Null), "\"parent_id\" IS ?2");
        assert_eq!(sqlite.values().len(), 2);
    }
}
