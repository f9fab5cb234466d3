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
                Type::NUMERIC => write_numeric(&i.to_string(), out),
                _ => i.to_sql(ty, out),
            },
            Value::Float(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::NUMERIC => write_numeric_float(*f, out),
                _ => f.to_sql(ty, out),
            },
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Json(j) => match *ty {
                Type::JSON | Type::JSONB => postgres::types::Json(j).to_sql(ty, out),
                _ => j.to_string().to_sql(ty, out),
            },
            Value::Time(t) => match *ty {
                // A column another tool made may hold times without a zone, or dates: the
                // fixture's time is UTC, as everywhere else in plantdb.
                Type::TIMESTAMP => t.naive_utc().to_sql(ty, out),
                Type::DATE => t.date_naive().to_sql(ty, out),
                _ => t.to_sql(ty, out),
            },
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

/// A float for a NUMERIC parameter: its shortest decimal text (Rust's `Display` never uses an
/// exponent), so `1.5` is stored as exactly 1.5; NaN and the infinities as NUMERIC spells them.
fn write_numeric_float(f: f64, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
    let special = if f.is_nan() {
        Some(0xC000)
    } else if f == f64::INFINITY {
        Some(0xD000)
    } else if f == f64::NEG_INFINITY {
        Some(0xF000)
    } else {
        None
    };
    match special {
        Some(sign) => {
            for field in [0u16, 0, sign, 0] {
                out.extend_from_slice(&field.to_be_bytes());
            }
            Ok(IsNull::No)
        }
        None => write_numeric(&f.to_string(), out),
    }
}

/// Writes a plain decimal text (`-12.50`) in NUMERIC's binary form: the number of base-10000
/// digits, the weight of the first, the sign, the scale (digits after the point), then the
/// digits. The server rounds to the column's own scale, as it does for text.
fn write_numeric(text: &str, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(format!("`{text}` is not a decimal number").into());
    }
    let scale = u16::try_from(fraction.len())?;
    // Whole digits padded on the left and fraction digits on the right to groups of four.
    let whole_pad = (4 - whole.len() % 4) % 4;
    let fraction_pad = (4 - fraction.len() % 4) % 4;
    let digits: Vec<u8> = std::iter::repeat_n(b'0', whole_pad)
        .chain(whole.bytes())
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', fraction_pad))
        .map(|b| b - b'0')
        .collect();
    let mut groups: Vec<i16> = digits
        .chunks(4)
        .map(|g| g.iter().fold(0i16, |n, d| n * 10 + i16::from(*d)))
        .collect();
    let mut weight = i16::try_from((whole.len() + whole_pad) / 4)? - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= i16::try_from(leading)?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    if groups.is_empty() {
        weight = 0;
    }
    out.extend_from_slice(&i16::try_from(groups.len())?.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    Ok(IsNull::No)
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

/// Reads a PostgreSQL result column as `kind` says, whatever width or variant of the type the
/// column has (a table another tool made may use `smallint`, `numeric`, `timestamp` or `date`).
pub fn from_pg_row(
    row: &postgres::Row,
    index: usize,
    kind: Kind,
) -> Result<Value, postgres::Error> {
    let ty = row.columns()[index].type_().clone();
    Ok(match kind {
        Kind::Int => {
            let v: Option<i64> = match ty {
                Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(i64::from),
                Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(i64::from),
                Type::NUMERIC => match row.try_get::<_, Option<NumericText>>(index)? {
                    // A whole number in a NUMERIC column; anything else reads as its float.
                    Some(n) => Some(
                        n.0.parse::<i64>()
                            .unwrap_or_else(|_| n.0.parse::<f64>().map_or(i64::MAX, |f| f as i64)),
                    ),
                    None => None,
                },
                _ => row.try_get::<_, Option<i64>>(index)?,
            };
            v.map_or(Value::Null, Value::Int)
        }
        Kind::Float => {
            let v: Option<f64> = match ty {
                Type::FLOAT4 => row.try_get::<_, Option<f32>>(index)?.map(f64::from),
                Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(f64::from),
                Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(f64::from),
                Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(|i| i as f64),
                Type::NUMERIC => row
                    .try_get::<_, Option<NumericText>>(index)?
                    .map(|n| n.0.parse::<f64>().unwrap_or(f64::NAN)),
                _ => row.try_get::<_, Option<f64>>(index)?,
            };
            v.map_or(Value::Null, Value::Float)
        }
        Kind::Bool => row
            .try_get::<_, Option<bool>>(index)?
            .map_or(Value::Null, Value::Bool),
        Kind::Text | Kind::JsonText => row
            .try_get::<_, Option<String>>(index)?
            .map_or(Value::Null, Value::Text),
        Kind::Json => row
            .try_get::<_, Option<serde_json::Value>>(index)?
            .map_or(Value::Null, Value::Json),
        Kind::Time => {
            let v: Option<DateTime<Utc>> = match ty {
                Type::TIMESTAMP => row
                    .try_get::<_, Option<chrono::NaiveDateTime>>(index)?
                    .map(|t| t.and_utc()),
                Type::DATE => row
                    .try_get::<_, Option<chrono::NaiveDate>>(index)?
                    .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
                _ => row.try_get::<_, Option<DateTime<Utc>>>(index)?,
            };
            v.map_or(Value::Null, Value::Time)
        }
        Kind::Uuid => row
            .try_get::<_, Option<uuid::Uuid>>(index)?
            .map_or(Value::Null, Value::Uuid),
    })
}

/// A NUMERIC value as its decimal text (`-12.50`, or `NaN`, `Infinity`, `-Infinity`), read
/// from NUMERIC's binary form: the number of base-10000 digits, the weight of the first, the
/// sign, the scale, then the digits.
struct NumericText(String);

impl<'a> postgres::types::FromSql<'a> for NumericText {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let field = |i: usize| -> Result<i16, BoxError> {
            raw.get(2 * i..2 * i + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "a NUMERIC value shorter than its header says".into())
        };
        let (count, weight, sign, scale) = (field(0)?, field(1)?, field(2)? as u16, field(3)?);
        match sign {
            0xC000 => return Ok(NumericText("NaN".into())),
            0xD000 => return Ok(NumericText("Infinity".into())),
            0xF000 => return Ok(NumericText("-Infinity".into())),
            _ => {}
        }
        let digits: Vec<i16> = (0..count as usize)
            .map(|i| field(4 + i))
            .collect::<Result<_, _>>()?;
        // Base-10000 digit k stands for digits[k] * 10000^(weight - k).
        let group = |power: i16| -> i16 {
            let k = weight - power;
            if k >= 0 && (k as usize) < digits.len() {
                digits[k as usize]
            } else {
                0
            }
        };
        let mut text = String::new();
        if sign == 0x4000 {
            text.push('-');
        }
        let mut whole = String::new();
        for power in (0..=weight.max(0)).rev() {
            whole.push_str(&format!("{:04}", group(power)));
        }
        let whole = whole.trim_start_matches('0');
        text.push_str(if whole.is_empty() { "0" } else { whole });
        if scale > 0 {
            let mut fraction = String::new();
            let groups = (scale as usize).div_ceil(4) as i16;
            for power in 1..=groups {
                fraction.push_str(&format!("{:04}", group(-power)));
            }
            text.push('.');
            text.push_str(&fraction[..scale as usize]);
        }
        Ok(NumericText(text))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
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
    fn numeric_parameters_are_written_in_numerics_binary_form() {
        let numeric = |text: &str| {
            let mut out = bytes::BytesMut::new();
            write_numeric(text, &mut out).unwrap();
            out.chunks(2)
                .map(|pair| i16::from_be_bytes([pair[0], pair[1]]))
                .collect::<Vec<i16>>()
        };
        // ndigits, weight, sign, dscale, digits (base 10000)
        assert_eq!(numeric("1.5"), [2, 0, 0, 1, 1, 5000]);
        assert_eq!(numeric("-12345.0067"), [3, 1, 0x4000, 4, 1, 2345, 67]);
        assert_eq!(numeric("0.0001"), [1, -1, 0, 4, 1]);
        assert_eq!(numeric("100000000"), [1, 2, 0, 0, 1]);
        assert_eq!(numeric("-0"), [0, 0, 0, 0]);
        assert_eq!(numeric("42"), [1, 0, 0, 0, 42]);
        let mut out = bytes::BytesMut::new();
        assert!(write_numeric("1e5", &mut out).is_err());
        let mut nan = bytes::BytesMut::new();
        write_numeric_float(f64::NAN, &mut nan).unwrap();
        assert_eq!(&nan[4..6], &0xC000u16.to_be_bytes());
    }

    #[test]
    fn numeric_values_read_back_as_the_text_they_were_written_from() {
        use postgres::types::FromSql;
        for text in [
            "1.5",
            "-12345.0067",
            "0.0001",
            "100000000",
            "42",
            "0",
            "-0.50",
            "9999.9999",
        ] {
            let mut out = bytes::BytesMut::new();
            write_numeric(text, &mut out).unwrap();
            let read = NumericText::from_sql(&Type::NUMERIC, &out).unwrap();
            assert_eq!(read.0, text);
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
