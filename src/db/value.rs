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
            // The shortest text that reads back as the same double, like `{f}` but without
            // the formatting machinery: a bulk load writes four of these per row.
            Value::Float(f) => out.extend_from_slice(zmij::Buffer::new().format(*f).as_bytes()),
            Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Value::Text(s) => copy_escape(s, out),
            Value::Json(j) => copy_escape(&j.to_string(), out),
            Value::Time(t) => write_time_text(t, out),
            Value::Uuid(u) => {
                let _ = write!(out, "{}", u.hyphenated());
            }
        }
    }
}

/// [`Value::time_text`] appended to `out` without building a `String`: a bulk load writes
/// one per row. Years outside 1..=9999 take chrono's own path, which spells them with a sign.
fn write_time_text(t: &DateTime<Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike as _, Timelike as _};
    // The UTC fields directly: `DateTime`'s own accessors apply the (zero) offset each time.
    let t = t.naive_utc();
    let Ok(year @ 1..=9999) = u32::try_from(t.year()) else {
        out.extend_from_slice(Value::time_text(&t.and_utc()).as_bytes());
        return;
    };
    let two = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
    };
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, t.month());
    out.push(b'-');
    two(out, t.day());
    out.push(b'T');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
    out.push(b':');
    // A leap second's nanoseconds run past 999,999,999; chrono writes those as :60.
    let nanos = t.nanosecond();
    two(out, t.second() + u32::from(nanos >= 1_000_000_000));
    out.push(b'.');
    let millis = nanos % 1_000_000_000 / 1_000_000;
    out.push(b'0' + (millis / 100) as u8);
    two(out, millis % 100);
    out.push(b'Z');
}

fn copy_escape(s: &str, out: &mut Vec<u8>) {
    // Runs without a delimiter (all of them, usually) are copied whole.
    let bytes = s.as_bytes();
    let mut copied = 0;
    for (i, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[copied..i]);
        out.extend_from_slice(escaped);
        copied = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
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

    fn copy_text(value: &Value) -> String {
        let mut out = Vec::new();
        value.write_copy_text(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn copy_text_of_a_time_is_its_time_text() {
        // The server must read the very times the SQLite spelling names, in every year.
        let mut seconds = -62_135_596_800i64; // 0001-01-01T00:00:00Z
        while seconds < 253_402_300_799 {
            for nanos in [0, 1_000_000, 999_000_000, 123_456_789] {
                let t = DateTime::from_timestamp(seconds, nanos).unwrap();
                assert_eq!(copy_text(&Value::Time(t)), Value::time_text(&t), "{t:?}");
            }
            seconds += 7_777_777;
        }
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap()
            .and_utc();
        let before_year_one = DateTime::from_timestamp(-62_135_596_801, 0).unwrap();
        for t in [leap, before_year_one] {
            assert_eq!(copy_text(&Value::Time(t)), Value::time_text(&t), "{t:?}");
        }
    }

    #[test]
    fn copy_text_of_a_float_reads_back_as_the_same_double() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut floats = vec![
            0.0,
            -0.0,
            23.4,
            917.2,
            1e16,
            1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            floats.push(f64::from_bits(x));
            floats.push(((x % 20_000) as f64 - 10_000.0) / 10.0);
        }
        for f in floats.into_iter().filter(|f| f.is_finite()) {
            let text = copy_text(&Value::Float(f));
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                f.to_bits(),
                "{text}"
            );
        }
        // What PostgreSQL's float8in reads for the others.
        assert_eq!(copy_text(&Value::Float(f64::NAN)), "NaN");
        assert_eq!(copy_text(&Value::Float(f64::INFINITY)), "inf");
        assert_eq!(copy_text(&Value::Float(f64::NEG_INFINITY)), "-inf");
    }
}
