//! A fixture row as it is read: its table, its label, where it stands, and its cells as the
//! fixture states them. What loading produces and seeding consumes.
//!
//! Every row is kept from loading to the end of the seed, so a row is stored packed: its
//! label and cells as one run of bytes, with each cell's place as a line offset and a column
//! instead of a [`Location`]. A row of three short cells takes about 120 bytes instead of
//! about 450, and a cell is unpacked only when it is used.

use super::catalog::{Column, Table};
use crate::db::value::Value;
use crate::error::Location;

/// A cell as the fixture states it, before labels are turned into keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Value(Value),
    /// A foreign key, written as the referenced row's label.
    Label {
        table: &'static str,
        label: String,
    },
    /// A secret in plain text; stored encrypted or hashed.
    Plain(String),
}

pub struct Row {
    pub table: &'static Table,
    pub at: Location,
    /// The label, then each cell: its column's position in `table.columns`, its place
    /// (lines after the row's label, column) and its value; see [`Packer`].
    packed: Box<[u8]>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("table", &self.table.name)
            .field("label", &self.label())
            .field("at", &self.at)
            .field("cells", &self.cells().collect::<Vec<_>>())
            .finish()
    }
}

impl Row {
    /// A row of `table` labelled `label` at `at`. `cells` are in the order the fixture gives
    /// them, each of a column of `table`, a label only in a column that references a table.
    pub fn new(
        table: &'static Table,
        label: &str,
        at: Location,
        cells: Vec<(&'static Column, Cell, Location)>,
    ) -> Row {
        let mut packer = Packer(Vec::with_capacity(label.len() + 16 * cells.len() + 2));
        packer.text(label);
        for (column, cell, cell_at) in &cells {
            let index = table
                .columns
                .iter()
                .position(|c| std::ptr::eq(c, *column))
                .expect("a row's cells are columns of its table");
            debug_assert!(
                !matches!(cell, Cell::Label { table, .. } if column.references != Some(*table))
            );
            packer.number(index as u64);
            packer.number(zigzag(cell_at.line as i64 - at.line as i64));
            packer.number(cell_at.column as u64);
            packer.cell(label, cell);
        }
        Row {
            table,
            at,
            packed: packer.0.into_boxed_slice(),
        }
    }

    pub fn label(&self) -> &str {
        Unpacker::new(&self.packed).text()
    }

    /// The cells, each with its column and where its value stands, in the fixture's order.
    pub fn cells(&self) -> impl Iterator<Item = (&'static Column, Cell, Location)> + '_ {
        self.packed_cells()
            .map(|c| (c.column, c.cell(self), c.at(self)))
    }

    /// The columns the row gives, in the fixture's order, without unpacking their values.
    pub fn columns(&self) -> impl Iterator<Item = &'static Column> + '_ {
        self.packed_cells().map(|c| c.column)
    }

    pub fn cell(&self, column: &str) -> Option<Cell> {
        self.packed_cells()
            .find(|c| c.column.name == column)
            .map(|c| c.cell(self))
    }

    /// Where the value of `column` stands, or where the row does when it does not give it.
    pub fn cell_at(&self, column: &str) -> Location {
        self.packed_cells()
            .find(|c| c.column.name == column)
            .map_or_else(|| self.at.clone(), |c| c.at(self))
    }

    fn packed_cells(&self) -> impl Iterator<Item = PackedCell<'_>> + '_ {
        let mut bytes = Unpacker::new(&self.packed);
        bytes.text();
        std::iter::from_fn(move || {
            if bytes.0.is_empty() {
                return None;
            }
            let column = &self.table.columns[bytes.number() as usize];
            let lines = unzigzag(bytes.number());
            let at_column = bytes.number() as usize;
            let start = bytes.0;
            bytes.skip_cell();
            let value = &start[..start.len() - bytes.0.len()];
            Some(PackedCell {
                column,
                lines,
                at_column,
                value,
            })
        })
    }
}

/// One cell of a packed row, its value still packed.
struct PackedCell<'r> {
    column: &'static Column,
    lines: i64,
    at_column: usize,
    value: &'r [u8],
}

impl PackedCell<'_> {
    fn at(&self, row: &Row) -> Location {
        Location {
            file: row.at.file.clone(),
            line: usize::try_from(row.at.line as i64 + self.lines).unwrap_or(0),
            column: self.at_column,
        }
    }

    fn cell(&self, row: &Row) -> Cell {
        Unpacker(self.value).cell(row.label(), self.column)
    }
}

// What a packed value starts with.
const NULL: u8 = 0;
const INT: u8 = 1;
const FLOAT: u8 = 2;
const FALSE: u8 = 3;
const TRUE: u8 = 4;
const TEXT: u8 = 5;
/// Text equal to the row's label (a text key the label gives): nothing more is stored.
const TEXT_IS_LABEL: u8 = 6;
const TIME: u8 = 7;
const UUID: u8 = 8;
const JSON: u8 = 9;
const LABEL: u8 = 10;
const PLAIN: u8 = 11;

// What a packed JSON value starts with.
const J_NULL: u8 = 0;
const J_FALSE: u8 = 1;
const J_TRUE: u8 = 2;
const J_U64: u8 = 3;
const J_I64: u8 = 4;
const J_F64: u8 = 5;
const J_STRING: u8 = 6;
const J_ARRAY: u8 = 7;
const J_OBJECT: u8 = 8;

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// Writes a packed row: numbers in LEB128 (one byte below 128), text as its length and
/// bytes, fixed-size values as their little-endian bytes.
struct Packer(Vec<u8>);

impl Packer {
    fn number(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn text(&mut self, text: &str) {
        self.number(text.len() as u64);
        self.0.extend_from_slice(text.as_bytes());
    }

    fn cell(&mut self, label: &str, cell: &Cell) {
        match cell {
            Cell::Value(value) => self.value(label, value),
            Cell::Label { label, .. } => {
                self.0.push(LABEL);
                self.text(label);
            }
            Cell::Plain(plain) => {
                self.0.push(PLAIN);
                self.text(plain);
            }
        }
    }

    fn value(&mut self, label: &str, value: &Value) {
        match value {
            Value::Null => self.0.push(NULL),
            Value::Int(i) => {
                self.0.push(INT);
                self.0.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(f) => {
                self.0.push(FLOAT);
                self.0.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Bool(b) => self.0.push(if *b { TRUE } else { FALSE }),
            Value::Text(t) if t == label => self.0.push(TEXT_IS_LABEL),
            Value::Text(t) => {
                self.0.push(TEXT);
                self.text(t);
            }
            Value::Time(t) => {
                self.0.push(TIME);
                self.0.extend_from_slice(&t.timestamp().to_le_bytes());
                self.0
                    .extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
            }
            Value::Uuid(u) => {
                self.0.push(UUID);
                self.0.extend_from_slice(u.as_bytes());
            }
            Value::Json(j) => {
                self.0.push(JSON);
                self.json(j);
            }
        }
    }

    fn json(&mut self, json: &serde_json::Value) {
        use serde_json::Value as J;
        match json {
            J::Null => self.0.push(J_NULL),
            J::Bool(b) => self.0.push(if *b { J_TRUE } else { J_FALSE }),
            J::Number(n) => {
                if let Some(u) = n.as_u64() {
                    self.0.push(J_U64);
                    self.0.extend_from_slice(&u.to_le_bytes());
                } else if let Some(i) = n.as_i64() {
                    self.0.push(J_I64);
                    self.0.extend_from_slice(&i.to_le_bytes());
                } else {
                    self.0.push(J_F64);
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    self.0.extend_from_slice(&f.to_bits().to_le_bytes());
                }
            }
            J::String(s) => {
                self.0.push(J_STRING);
                self.text(s);
            }
            J::Array(items) => {
                self.0.push(J_ARRAY);
                self.number(items.len() as u64);
                items.iter().for_each(|item| self.json(item));
            }
            J::Object(map) => {
                self.0.push(J_OBJECT);
                self.number(map.len() as u64);
                for (key, item) in map {
                    self.text(key);
                    self.json(item);
                }
            }
        }
    }
}

/// Reads what [`Packer`] wrote; only ever given bytes it wrote.
struct Unpacker<'b>(&'b [u8]);

impl<'b> Unpacker<'b> {
    fn new(bytes: &'b [u8]) -> Unpacker<'b> {
        Unpacker(bytes)
    }

    fn take(&mut self, n: usize) -> &'b [u8] {
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn byte(&mut self) -> u8 {
        self.take(1)[0]
    }

    fn fixed<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N));
        bytes
    }

    fn number(&mut self) -> u64 {
        let mut n = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte();
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return n;
            }
            shift += 7;
        }
    }

    fn text(&mut self) -> &'b str {
        let len = self.number() as usize;
        // Packed from a `&str`, cut at the same length.
        std::str::from_utf8(self.take(len)).unwrap_or_default()
    }

    /// Moves past one packed value.
    fn skip_cell(&mut self) {
        match self.byte() {
            INT | FLOAT => {
                self.take(8);
            }
            TEXT | LABEL | PLAIN => {
                self.text();
            }
            TIME => {
                self.take(12);
            }
            UUID => {
                self.take(16);
            }
            JSON => self.skip_json(),
            _ => {}
        }
    }

    fn skip_json(&mut self) {
        match self.byte() {
            J_U64 | J_I64 | J_F64 => {
                self.take(8);
            }
            J_STRING => {
                self.text();
            }
            J_ARRAY => (0..self.number()).for_each(|_| self.skip_json()),
            J_OBJECT => (0..self.number()).for_each(|_| {
                self.text();
                self.skip_json();
            }),
            _ => {}
        }
    }

    fn cell(&mut self, label: &str, column: &'static Column) -> Cell {
        let value = match self.byte() {
            LABEL => {
                return Cell::Label {
                    table: column.references.unwrap_or_default(),
                    label: self.text().to_string(),
                };
            }
            PLAIN => return Cell::Plain(self.text().to_string()),
            INT => Value::Int(i64::from_le_bytes(self.fixed())),
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.fixed()))),
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            TEXT => Value::Text(self.text().to_string()),
            TEXT_IS_LABEL => Value::Text(label.to_string()),
            TIME => {
                let secs = i64::from_le_bytes(self.fixed());
                let nanos = u32::from_le_bytes(self.fixed());
                chrono::DateTime::from_timestamp(secs, nanos).map_or(Value::Null, Value::Time)
            }
            UUID => Value::Uuid(uuid::Uuid::from_bytes(self.fixed())),
            JSON => Value::Json(self.json()),
            _ => Value::Null,
        };
        Cell::Value(value)
    }

    fn json(&mut self) -> serde_json::Value {
        use serde_json::Value as J;
        match self.byte() {
            J_FALSE => J::Bool(false),
            J_TRUE => J::Bool(true),
            J_U64 => J::from(u64::from_le_bytes(self.fixed())),
            J_I64 => J::from(i64::from_le_bytes(self.fixed())),
            J_F64 => serde_json::Number::from_f64(f64::from_bits(u64::from_le_bytes(self.fixed())))
                .map_or(J::Null, J::Number),
            J_STRING => J::String(self.text().to_string()),
            J_ARRAY => J::Array((0..self.number()).map(|_| self.json()).collect()),
            J_OBJECT => J::Object(
                (0..self.number())
                    .map(|_| (self.text().to_string(), self.json()))
                    .collect(),
            ),
            _ => J::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::catalog::Catalog;
    use chrono::TimeZone as _;

    fn place(line: usize, column: usize) -> Location {
        Location {
            file: "f.yaml".into(),
            line,
            column,
        }
    }

    #[test]
    fn a_packed_row_gives_back_every_value_and_place() {
        let table = Catalog::built_in()
            .tables()
            .iter()
            .find(|t| t.columns.len() >= 12)
            .expect("a table of many columns");
        let json = serde_json::json!({
            "a": [1, -2, 2.5, u64::MAX, null, true, false, "x"],
            "b": {"c": "é"}
        });
        let values = [
            Cell::Value(Value::Null),
            Cell::Value(Value::Int(-7)),
            Cell::Value(Value::Float(0.1)),
            Cell::Value(Value::Bool(true)),
            Cell::Value(Value::Text("not the label".into())),
            Cell::Value(Value::Text("fern".into())),
            Cell::Value(Value::Time(
                Utc.timestamp_opt(-62_135_596_800, 999_000_000).unwrap(),
            )),
            Cell::Value(Value::Uuid(uuid::Uuid::from_u128(0x0123_4567_89ab_cdef))),
            Cell::Value(Value::Json(json)),
            Cell::Plain("secret".into()),
            Cell::Value(Value::Bool(false)),
            Cell::Value(Value::Text(String::new())),
        ];
        let cells: Vec<_> = table
            .columns
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (column, cell))| (column, cell, place(1_000_000 + i * 300, 3 + i * 200)))
            .collect();
        let row = Row::new(table, "fern", place(1_000_000, 3), cells.clone());
        assert_eq!(row.label(), "fern");
        assert_eq!(row.cells().collect::<Vec<_>>(), cells);
        let last = cells.last().expect("a cell");
        assert_eq!(row.cell(last.0.name), Some(last.1.clone()));
        assert_eq!(row.cell_at(last.0.name), last.2);
    }

    use chrono::Utc;
}
