//! Values the seed engine binds, typed by the column they go to, with their binding for each
//! database.

use std::error::Error as StdError;

use chrono::{DateTime, SecondsFormat, Utc};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// What a column holds, which decides how a fixture value is read and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Text,
    /// A JSON/JSONB column (TEXT with `json_valid` on SQLite).
    Json,
    /// A TEXT column that holds a JSON document (`characteristic_config.config_json`).
    JsonText,
    /// timestamptz on PostgreSQL, ISO-8601 UTC text on SQLite.
    Time,
    Uuid,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Bool => "true or false",
            Kind::Text => "a string",
            Kind::Json | Kind::JsonText => "a JSON value (object or array)",
            Kind::Time => "an RFC 3339 timestamp or a relative time such as `now-15m`",
            Kind::Uuid => "a UUID",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Json(serde_json::Value),
    Time(DateTime<Utc>),
    Uuid(uuid::Uuid),
}

impl Value {
    /// The SQLite spelling of a timestamp: ISO-8601 UTC with milliseconds, like the
    /// migrations' `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` defaults.
    pub fn time_text(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// PostgreSQL COPY text format: `\N` for NULL, backslash escapes for the delimiters.
    pub fn write_copy_text(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        match self {
            Value::Null => out.extend_from_slice(b"\\N"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => {
                let _ = write!(out, "{f}");
            }
            Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Value::Text(s) => copy_escape(s, out),
            Value::Json(j) => copy_escape(&j.to_string(), out),
            Value::Time(t) => out.extend_from_slice(Value::time_text(t).as_bytes()),
            Value::Uuid(u) => {
                let _ = write!(out, "{}", u.hyphenated());
            }
        }
    }
}

fn copy_escape(s: &str, out: &mut Vec<u8>) {
    for byte in s.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

/// Binds to whatever the server says the parameter is: the fixture's kind and the column's
/// real type (int4 vs int8, json vs jsonb, text vs varchar) need not be spelled twice.
impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Float(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Json(j) => match *ty {
                Type::JSON | Type::JSONB => postgres::types::Json(j).to_sql(ty, out),
                _ => j.to_string().to_sql(ty, out),
            },
            Value::Time(t) => t.to_sql(ty, out),
            Value::Uuid(u) => match *ty {
                Type::UUID => u.to_sql(ty, out),
                _ => u.hyphenated().to_string().to_sql(ty, out),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql};
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(Sql::Null),
            Value::Int(i) => ToSqlOutput::Owned(Sql::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(Sql::Real(*f)),
            Value::Bool(b) => ToSqlOutput::Owned(Sql::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes())),
            Value::Json(j) => ToSqlOutput::Owned(Sql::Text(j.to_string())),
            Value::Time(t) => ToSqlOutput::Owned(Sql::Text(Value::time_text(t))),
            Value::Uuid(u) => ToSqlOutput::Owned(Sql::Text(u.hyphenated().to_string())),
        })
    }
}

/// Reads a PostgreSQL result column as `kind` says.
pub fn from_pg_row(
    row: &postgres::Row,
    index: usize,
    kind: Kind,
) -> Result<Value, postgres::Error> {
    Ok(match kind {
        Kind::Int => {
            let v: Option<i64> = match row.try_get::<_, Option<i32>>(index) {
                Ok(v) => v.map(i64::from),
                Err(_) => row.try_get::<_, Option<i64>>(index)?,
            };
            v.map_or(Value::Null, Value::Int)
        }
        Kind::Float => row
            .try_get::<_, Option<f64>>(index)?
            .map_or(Value::Null, Value::Float),
        Kind::Bool => row
            .try_get::<_, Option<bool>>(index)?
            .map_or(Value::Null, Value::Bool),
        Kind::Text | Kind::JsonText => row
            .try_get::<_, Option<String>>(index)?
            .map_or(Value::Null, Value::Text),
        Kind::Json => row
            .try_get::<_, Option<serde_json::Value>>(index)?
            .map_or(Value::Null, Value::Json),
        Kind::Time => row
            .try_get::<_, Option<DateTime<Utc>>>(index)?
            .map_or(Value::Null, Value::Time),
        Kind::Uuid => row
            .try_get::<_, Option<uuid::Uuid>>(index)?
            .map_or(Value::Null, Value::Uuid),
    })
}

/// Reads a SQLite result column as `kind` says.
pub fn from_sqlite_row(row: &rusqlite::Row, index: usize, kind: Kind) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    let raw = row.get_ref(index)?;
    Ok(match (raw, kind) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(i), Kind::Bool) => Value::Bool(i != 0),
        (ValueRef::Integer(i), Kind::Float) => Value::Float(i as f64),
        (ValueRef::Integer(i), _) => Value::Int(i),
        (ValueRef::Real(f), _) => Value::Float(f),
        (ValueRef::Text(t), Kind::Uuid) => {
            let text = String::from_utf8_lossy(t);
            uuid::Uuid::parse_str(&text).map_or(Value::Text(text.into_owned()), Value::Uuid)
        }
        (ValueRef::Text(t), Kind::Json) => {
            let text = String::from_utf8_lossy(t);
            serde_json::from_str(&text).map_or(Value::Text(text.into_owned()), Value::Json)
        }
        (ValueRef::Text(t), Kind::Time) => {
            let text = String::from_utf8_lossy(t);
            DateTime::parse_from_rfc3339(&text).map_or(Value::Text(text.into_owned()), |d| {
                Value::Time(d.with_timezone(&Utc))
            })
        }
        (ValueRef::Text(t), _) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(b), _) => Value::Text(String::from_utf8_lossy(b).into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_delimiters_and_writes_null() {
        let mut out = Vec::new();
        Value::Text("a\tb\\c\nd".into()).write_copy_text(&mut out);
        assert_eq!(out, b"a\\tb\\\\c\\nd");
        out.clear();
        Value::Null.write_copy_text(&mut out);
        assert_eq!(out, b"\\N");
    }

    #[test]
    fn sqlite_time_text_matches_the_migrations_defaults() {
        let t = DateTime::parse_from_rfc3339("2026-02-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Value::time_text(&t), "2026-02-07T12:00:00.000Z");
    }
}
