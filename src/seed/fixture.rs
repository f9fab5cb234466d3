//! Reading fixture files: YAML with positions, checked against the catalog, into rows whose
//! values are typed by their column. Everything a user can get wrong is found here, before
//! the database is touched, and reported with file, line and column.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use marked_yaml::types::{MarkedScalarNode, Node};

use super::catalog::{self, Catalog, Column, Kind, Pk, Table};
pub use super::fixture_row::{Cell, Row};
use super::fixture_time::{YEARS, parse_time};
use super::telemetry_spec::{self, TelemetrySpec};
use super::yaml_node::{at_in, fixture_error, fixture_error_from, is_null, load_error, to_json};
use super::yaml_stream::{self, Body, Sink};
use super::{spc_config, yaml_text};
use crate::db::value::Value;
use crate::error::{Error, Location, Result};

#[derive(Debug)]
pub struct Fixtures {
    /// Rows in foreign-key order: every row comes after the rows it references.
    pub rows: Vec<Row>,
    pub telemetry: Vec<TelemetrySpec>,
    /// The positions in `rows`, sorted by (table, label), for lookups by label: 8 bytes a
    /// row, where a map would hold a copy of every label.
    by_label: Labels,
    /// The tables the rows were checked against.
    catalog: &'static Catalog,
}

impl Default for Fixtures {
    fn default() -> Fixtures {
        Fixtures::new(Vec::new(), Vec::new(), Catalog::built_in())
    }
}

impl Fixtures {
    fn new(rows: Vec<Row>, telemetry: Vec<TelemetrySpec>, catalog: &'static Catalog) -> Fixtures {
        let by_label = Labels::of(&rows);
        Fixtures {
            rows,
            telemetry,
            by_label,
            catalog,
        }
    }

    /// The catalog the rows were checked against.
    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    /// The row of `table` labelled `label`.
    pub fn row(&self, table: &str, label: &str) -> Option<&Row> {
        self.by_label.find(&self.rows, table, label)
    }

    /// The position in `rows` of the row of `table` labelled `label`.
    pub fn position(&self, table: &str, label: &str) -> Option<usize> {
        self.by_label.position(&self.rows, table, label)
    }

    /// The tables the fixtures write, parents first.
    pub fn tables(&self) -> Vec<&'static Table> {
        let mut written: HashSet<&str> = self.rows.iter().map(|r| r.table.name).collect();
        if !self.telemetry.is_empty() {
            written.insert("telemetry");
        }
        self.catalog
            .parent_first()
            .into_iter()
            .filter(|t| written.contains(t.name))
            .collect()
    }

    pub fn rows_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| r.table.name == table)
    }

    /// Refuses telemetry whose span, stretched by `scale`, reaches back before year 1
    /// ([`telemetry_spec::check_reach`]).
    pub fn check_telemetry_reach(&self, scale: u32, now: DateTime<Utc>) -> Result<()> {
        telemetry_spec::check_reach(&self.telemetry, scale, now)
    }

    pub fn needs_secret_key(&self) -> bool {
        self.rows.iter().any(|r| {
            r.columns()
                .any(|c| c.secret == Some(catalog::Secret::Encrypted))
        })
    }
}

/// Positions in a list of rows, sorted by (table, label).
#[derive(Debug, Default)]
struct Labels(Vec<usize>);

impl Labels {
    fn of(rows: &[Row]) -> Labels {
        let mut positions: Vec<usize> = (0..rows.len()).collect();
        positions.sort_unstable_by_key(|&i| (rows[i].table.name, rows[i].label()));
        Labels(positions)
    }

    fn find<'r>(&self, rows: &'r [Row], table: &str, label: &str) -> Option<&'r Row> {
        rows.get(self.position(rows, table, label)?)
    }

    /// The position in `rows` of the row of `table` labelled `label`.
    fn position(&self, rows: &[Row], table: &str, label: &str) -> Option<usize> {
        let i = self
            .0
            .binary_search_by(|&i| (rows[i].table.name, rows[i].label()).cmp(&(table, label)))
            .ok()?;
        Some(self.0[i])
    }
}

/// Parses and checks fixture files, given as (name shown in messages, contents), in order,
/// against the built-in tables.
pub fn load(files: &[(String, String)], now: DateTime<Utc>) -> Result<Fixtures> {
    load_for(files, now, Catalog::built_in())
}

/// [`load`] against `catalog`, e.g. the tables of the live database.
pub fn load_for(
    files: &[(String, String)],
    now: DateTime<Utc>,
    catalog: &'static Catalog,
) -> Result<Fixtures> {
    let mut reading = Reading {
        catalog,
        file: Arc::from(""),
        now,
        rows: Vec::new(),
        telemetry: Vec::new(),
        tables_named: 0,
        table: None,
        defined: Defined::default(),
    };
    for (index, (name, text)) in files.iter().enumerate() {
        reading.file = Arc::from(name.as_str());
        let text = parse(index, name, text)?;
        yaml_stream::read(index, text, &mut reading)?;
    }
    let Reading {
        rows,
        telemetry,
        tables_named,
        ..
    } = reading;
    if tables_named == 0
        && let Some((first, _)) = files.first()
    {
        // Empty or comment-only files: seeding nothing is never what was meant.
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        return Err(fixture_error(
            Location {
                file: first.as_str().into(),
                line: 1,
                column: 1,
            },
            &format!("nothing to seed: no table is named in {}", names.join(", ")),
            Some(
                "a seed file maps table names to rows, e.g. `plants: {fern: {name: Fern}}`".into(),
            ),
        ));
    }
    check_labels(&rows, &telemetry)?;
    telemetry_spec::check_unique(&telemetry)?;
    spc_config::check_matches_provider(&rows)?;
    let rows = order(rows, catalog)?;
    Ok(Fixtures::new(rows, telemetry, catalog))
}

/// What loading has read so far, and the table whose rows come next.
struct Reading {
    catalog: &'static Catalog,
    file: Arc<str>,
    now: DateTime<Utc>,
    rows: Vec<Row>,
    telemetry: Vec<TelemetrySpec>,
    tables_named: usize,
    /// The table last named; `None` for telemetry.
    table: Option<&'static Table>,
    defined: Defined,
}

impl Sink for Reading {
    fn table(&mut self, name: &MarkedScalarNode) -> Result<Body> {
        self.tables_named += 1;
        if name.as_str() == "telemetry" {
            self.table = None;
            return Ok(Body::Whole);
        }
        let Some(table) = self.catalog.table(name.as_str()) else {
            return Err(Error::FixtureUnknownTable {
                at: at_in(&self.file, name.span()),
                name: name.as_str().to_string(),
                known: self
                    .catalog
                    .tables()
                    .iter()
                    .map(|t| t.name.to_string())
                    .collect(),
            });
        };
        self.table = Some(table);
        Ok(Body::Rows)
    }

    fn whole(&mut self, body: &Node) -> Result<()> {
        let Some(table) = self.table else {
            let specs = telemetry_spec::read(&self.file, body, self.now)?;
            self.telemetry.extend(specs);
            return Ok(());
        };
        if is_null(body) {
            return Ok(());
        }
        Err(fixture_error(
            at_in(&self.file, body.span()),
            &format!("`{}` must be a mapping of row labels to rows", table.name),
            None,
        ))
    }

    fn row(&mut self, label: &MarkedScalarNode, value: &Node) -> Result<()> {
        let Some(table) = self.table else {
            return Ok(());
        };
        let row = read_row(&self.file, table, label, value, self.now)?;
        if let Some(first) = self.defined.insert(&self.rows, &row) {
            return Err(fixture_error(
                row.at.clone(),
                &format!(
                    "duplicate label `{}` in `{}`: first defined at {}",
                    row.label(),
                    table.name,
                    self.rows[first].at
                ),
                None,
            ));
        }
        self.rows.push(row);
        Ok(())
    }
}

/// The (table, label) of every row read so far, by hash, to find a label defined twice
/// without a copy of every label: 16 bytes a row.
#[derive(Default)]
struct Defined {
    hasher: std::hash::RandomState,
    first: std::collections::HashMap<u64, usize>,
    /// Rows whose hash an earlier row of another (table, label) already has.
    collided: std::collections::HashMap<(&'static str, String), usize>,
}

impl Defined {
    /// Records `row`, the next of `rows`; the position of the row that defined its label
    /// first, if one did.
    fn insert(&mut self, rows: &[Row], row: &Row) -> Option<usize> {
        use std::hash::BuildHasher as _;
        let key = (row.table.name, row.label());
        let hash = self.hasher.hash_one(key);
        match self.first.get(&hash) {
            None => {
                self.first.insert(hash, rows.len());
                None
            }
            Some(&i) if (rows[i].table.name, rows[i].label()) == key => Some(i),
            Some(_) => {
                let slot = (row.table.name, row.label().to_string());
                if let Some(&i) = self.collided.get(&slot) {
                    return Some(i);
                }
                self.collided.insert(slot, rows.len());
                None
            }
        }
    }
}

/// The text of a fixture file once it is safe for the parser and its YAML loads: the
/// checks that need the whole file run before any row is read.
fn parse<'t>(index: usize, name: &str, text: &'t str) -> Result<&'t str> {
    let text = yaml_text::checked(name, text)?;
    yaml_stream::check(index, text).map_err(|e| {
        let (place, message) = load_error(name, &e, |key, first| {
            format!("duplicate key `{key}`: first defined at {first}")
        });
        fixture_error_from(place, &message, None, e)
    })?;
    Ok(text)
}

fn read_row(
    file: &Arc<str>,
    table: &'static Table,
    label: &MarkedScalarNode,
    node: &Node,
    now: DateTime<Utc>,
) -> Result<Row> {
    let row_at = at_in(file, label.span());
    let label = label.as_str().to_string();
    let map = match node {
        Node::Mapping(map) => Some(map),
        other if is_null(other) => None,
        other => {
            return Err(fixture_error(
                at_in(file, other.span()),
                &format!(
                    "row `{label}` of `{}` must be a mapping of columns to values",
                    table.name
                ),
                None,
            ));
        }
    };
    let mut cells = Vec::new();
    for (key, value) in map.iter().flat_map(|m| m.iter()) {
        let key_at = at_in(file, key.span());
        let Some(column) = table.fixture_column(key.as_str()) else {
            return Err(unknown_column(table, key.as_str(), key_at));
        };
        let value_at = at_in(file, value.span());
        let cell = read_cell(file, table, &label, column, value, now)?;
        cells.push((column, cell, value_at));
    }
    // Keys that are not given default to something stable.
    match table.pk {
        Pk::Uuid(pk) if !cells.iter().any(|(c, _, _)| c.name == pk) => {
            if let Some(column) = table.column(pk) {
                cells.push((
                    column,
                    Cell::Value(Value::Uuid(derived_uuid(table.name, &label))),
                    row_at.clone(),
                ));
            }
        }
        Pk::Text(pk) if !cells.iter().any(|(c, _, _)| c.name == pk) => {
            if label.contains('\0') {
                return Err(fixture_error(
                    row_at,
                    &format!(
                        "the label of a `{}` row is its key and cannot hold a NUL character (U+0000)",
                        table.name
                    ),
                    None,
                ));
            }
            if let Some(column) = table.column(pk) {
                cells.push((
                    column,
                    Cell::Value(Value::Text(label.clone())),
                    row_at.clone(),
                ));
            }
        }
        _ => {}
    }
    for column in table.columns.iter().filter(|c| c.required) {
        if !cells.iter().any(|(c, _, _)| c.name == column.name) {
            return Err(fixture_error(
                row_at,
                &format!(
                    "row `{label}` of `{}` is missing `{}`",
                    table.name,
                    column.alias.unwrap_or(column.name)
                ),
                None,
            ));
        }
    }
    Ok(Row::new(table, &label, row_at, cells))
}

fn unknown_column(table: &Table, key: &str, at: Location) -> Error {
    if let Some(column) = table.column(key) {
        if column.secret.is_some() {
            return fixture_error(
                at,
                &format!("`{}`.`{key}` is written by plantdb", table.name),
                Some(format!(
                    "give `{}` in plain text; plantdb stores it {}",
                    column.alias.unwrap_or(key),
                    match column.secret {
                        Some(catalog::Secret::Encrypted) => "encrypted",
                        _ => "hashed",
                    }
                )),
            );
        }
        if matches!(table.pk, Pk::Identity(pk) if pk == key) {
            return fixture_error(
                at,
                &format!("`{}`.`{key}` is generated by the database", table.name),
                Some("refer to rows by their label instead".into()),
            );
        }
    }
    fixture_error(
        at,
        &format!("unknown column `{key}` in table `{}`", table.name),
        Some(format!("columns: {}", table.fixture_names().join(", "))),
    )
}

/// The same UUID for the same table and label on every run and every machine.
pub fn derived_uuid(table: &str, label: &str) -> uuid::Uuid {
    // A fixed namespace of plantdb's own, so keys never collide with other v5 users.
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2a0e_9d3b_4c51_8a7e_5b2d_0c4f_9e13);
    uuid::Uuid::new_v5(&NAMESPACE, format!("{table}/{label}").as_bytes())
}

fn read_cell(
    file: &Arc<str>,
    table: &Table,
    label: &str,
    column: &'static Column,
    node: &Node,
    now: DateTime<Utc>,
) -> Result<Cell> {
    let node_at = at_in(file, node.span());
    let shown = column.alias.unwrap_or(column.name);
    let wrong = |expected: &str| {
        fixture_error(
            node_at.clone(),
            &format!(
                "`{}`.`{shown}` of row `{label}` must be {expected}",
                table.name
            ),
            None,
        )
    };
    if is_null(node) {
        if column.required {
            return Err(wrong(&format!(
                "{} (it cannot be null)",
                column.kind.describe()
            )));
        }
        return Ok(Cell::Value(Value::Null));
    }
    if holds_nul(node) {
        return Err(fixture_error(
            node_at,
            &format!(
                "`{}`.`{shown}` of row `{label}` cannot hold a NUL character (U+0000): PostgreSQL text cannot store one",
                table.name
            ),
            None,
        ));
    }
    if let Some(target) = column.references {
        return match node.as_scalar() {
            Some(s) => Ok(Cell::Label {
                table: target,
                label: s.as_str().to_string(),
            }),
            None => Err(wrong(&format!("the label of a `{target}` row"))),
        };
    }
    if column.secret.is_some() {
        return match node.as_scalar() {
            Some(s) if !s.as_str().is_empty() => Ok(Cell::Plain(s.as_str().to_string())),
            _ => Err(wrong("a non-empty string")),
        };
    }
    let value = match column.kind {
        Kind::Json => {
            if node.as_scalar().is_some() {
                return Err(wrong("a JSON object or array (a YAML mapping or list)"));
            }
            Value::Json(to_json(node))
        }
        Kind::JsonText => {
            let Node::Mapping(map) = node else {
                return Err(wrong("a mapping (a ManualConfig or TagConfig document)"));
            };
            spc_config::validate(file, label, map)?;
            Value::Text(to_json(node).to_string())
        }
        kind => {
            let Some(s) = node.as_scalar() else {
                return Err(wrong(kind.describe()));
            };
            scalar_value(kind, s, now).ok_or_else(|| wrong(kind.describe()))?
        }
    };
    if let Some(bound) = out_of_bounds(column, &value) {
        return Err(fixture_error(
            node_at,
            &format!("`{}`.`{shown}` of row `{label}` {bound}", table.name),
            None,
        ));
    }
    Ok(Cell::Value(value))
}

/// Why `value` does not fit `column` the same way on both dialects, as the end of a
/// "`table`.`column` of row `label` …" sentence; `None` when it fits.
fn out_of_bounds(column: &Column, value: &Value) -> Option<String> {
    match value {
        Value::Int(i) => {
            let (min, max) = catalog::INTEGER_RANGE;
            (!(min..=max).contains(i)).then(|| {
                format!("must be an integer from {min} to {max} (a 32-bit INTEGER), not {i}")
            })
        }
        Value::Text(text) => {
            let max = column.max_chars?;
            let chars = text.chars().count();
            (chars > max)
                .then(|| format!("must be at most {max} characters (VARCHAR({max})), not {chars}"))
        }
        Value::Time(time) => (!YEARS.contains(&time.year())).then(|| {
            format!(
                "must be a time from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z, not {}",
                Value::time_text(time)
            )
        }),
        _ => None,
    }
}

/// Whether a scalar anywhere in `node` holds U+0000 (only a `"\0"` escape can put it there).
fn holds_nul(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => s.as_str().contains('\0'),
        Node::Sequence(seq) => seq.iter().any(holds_nul),
        Node::Mapping(map) => map
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || holds_nul(v)),
    }
}

fn scalar_value(kind: Kind, s: &MarkedScalarNode, now: DateTime<Utc>) -> Option<Value> {
    let text = s.as_str();
    match kind {
        Kind::Int if s.may_coerce() => text.parse().ok().map(Value::Int),
        Kind::Float if s.may_coerce() => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float),
        Kind::Bool => s.as_bool().map(Value::Bool),
        Kind::Text => Some(Value::Text(text.to_string())),
        Kind::Time => parse_time(text, now).map(Value::Time),
        Kind::Uuid => uuid::Uuid::parse_str(text).ok().map(Value::Uuid),
        _ => None,
    }
}

fn check_labels(rows: &[Row], telemetry: &[TelemetrySpec]) -> Result<()> {
    let defined = Labels::of(rows);
    for row in rows {
        for (column, cell, cell_at) in row.cells() {
            if let Cell::Label { table, label } = cell
                && defined.find(rows, table, &label).is_none()
            {
                return Err(fixture_error(
                    cell_at,
                    &format!(
                        "`{label}` is not defined in `{table}` (used by `{}`.`{}` of row `{}`)",
                        row.table.name,
                        column.alias.unwrap_or(column.name),
                        row.label()
                    ),
                    Some(format!(
                        "define a `{table}` row labelled `{label}` in a seed file"
                    )),
                ));
            }
        }
    }
    for spec in telemetry {
        if defined.find(rows, "devices", &spec.device).is_none() {
            return Err(fixture_error(
                spec.device_at.clone(),
                &format!(
                    "`{}` is not defined in `devices` (used by telemetry `{}`)",
                    spec.device, spec.label
                ),
                Some(format!("define a `devices` row labelled `{}`", spec.device)),
            ));
        }
    }
    Ok(())
}

/// Puts rows in foreign-key order: tables parents first, and within a table that references
/// itself (hierarchy), each row after its parent row. The rows are moved in place: a second
/// list of them would double what loading holds.
fn order(mut rows: Vec<Row>, catalog: &Catalog) -> Result<Vec<Row>> {
    let tables = catalog.parent_first();
    let rank = |row: &Row| {
        tables
            .iter()
            .position(|t| t.name == row.table.name)
            .unwrap_or(tables.len())
    };
    let mut by_table: Vec<usize> = (0..rows.len()).collect();
    // Stable: rows of one table keep their file order.
    by_table.sort_by_key(|&i| rank(&rows[i]));
    permute(&mut rows, by_table);
    let mut start = 0;
    while start < rows.len() {
        let table = rows[start].table;
        let end = start
            + rows[start..]
                .iter()
                .position(|r| r.table.name != table.name)
                .unwrap_or(rows.len() - start);
        let self_refs: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| c.references == Some(table.name))
            .map(|c| c.name)
            .collect();
        if !self_refs.is_empty() {
            parents_first(table, &self_refs, &mut rows[start..end])?;
        }
        start = end;
    }
    Ok(rows)
}

/// Orders the rows of a table that references itself so that each comes after its parent.
fn parents_first(table: &Table, self_refs: &[&str], rows: &mut [Row]) -> Result<()> {
    let mut placed: HashSet<String> = HashSet::new();
    let mut pending: Vec<usize> = (0..rows.len()).collect();
    let mut ordered = Vec::with_capacity(rows.len());
    while !pending.is_empty() {
        let (ready, waiting): (Vec<usize>, Vec<usize>) = pending.into_iter().partition(|&i| {
            self_refs.iter().all(|col| match rows[i].cell(col) {
                Some(Cell::Label { label, .. }) => placed.contains(&label),
                _ => true,
            })
        });
        if ready.is_empty() {
            let labels: Vec<String> = waiting
                .iter()
                .map(|&i| format!("`{}`", rows[i].label()))
                .collect();
            return Err(fixture_error(
                rows[waiting[0]].at.clone(),
                &format!(
                    "foreign-key cycle in `{}`: rows {} reference each other, so none can be inserted first",
                    table.name,
                    labels.join(", ")
                ),
                None,
            ));
        }
        for i in ready {
            placed.insert(rows[i].label().to_string());
            ordered.push(i);
        }
        pending = waiting;
    }
    permute(rows, ordered);
    Ok(())
}

/// Rearranges `items` in place so that position `k` holds what was at `from[k]`.
fn permute<T>(items: &mut [T], mut from: Vec<usize>) {
    for start in 0..items.len() {
        let mut k = start;
        // Follows the cycle through `start`; a position is done once `from[k] == k`.
        while from[k] != k {
            let next = from[k];
            from[k] = k;
            if next == start {
                break;
            }
            items.swap(k, next);
            k = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-02-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn load_one(text: &str) -> Result<Fixtures> {
        load(&[("seeds/t.yaml".into(), text.into())], now())
    }

    fn message(r: Result<Fixtures>) -> String {
        let e = r.unwrap_err();
        format!("{e} | {}", e.hint().unwrap_or_default())
    }

    #[test]
    fn rows_come_in_foreign_key_order_whatever_the_file_order() {
        let f = load_one(
            "gateways:\n  g1: {factory: f1, gateway_id: GW-1, name: G, url: ws://x, email: a@b, password: p}\n\
             factories:\n  f1: {organization: acme, name: F}\n\
             organizations:\n  acme: {name: Acme}\n\
             hierarchy:\n  child: {parent: root, name: C, type: Area}\n  root: {name: R, type: Site}\n",
        )
        .unwrap();
        let order: Vec<&str> = f.rows.iter().map(|r| r.label()).collect();
        let pos = |l: &str| order.iter().position(|x| *x == l).unwrap();
        assert!(
            pos("acme") < pos("f1") && pos("f1") < pos("g1"),
            "{order:?}"
        );
        assert!(pos("root") < pos("child"), "{order:?}");
    }

    #[test]
    fn uuid_keys_are_stable_and_text_keys_default_to_the_label() {
        let f = load_one("organizations:\n  acme: {name: Acme}\nplants:\n  fern: {name: Fern}\n")
            .unwrap();
        let id = |label: &str, col: &str| {
            f.rows
                .iter()
                .find(|r| r.label() == label)
                .unwrap()
                .cell(col)
        };
        assert!(
            matches!(id("acme", "id"), Some(Cell::Value(Value::Uuid(u))) if u == derived_uuid("organizations", "acme"))
        );
        assert!(matches!(id("fern", "id"), Some(Cell::Value(Value::Text(t))) if t == "fern"));
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let m = message(load_one("plants:\n  fern: {name: Fern\n"));
        assert!(m.starts_with("seeds/t.yaml:"), "{m}");
        assert!(m.contains("YAML syntax error"), "{m}");
    }

    #[test]
    fn mistakes_in_the_yaml_anywhere_come_before_mistakes_in_the_rows() {
        // Rows are read one by one, after the whole file's YAML is known to load.
        let m = message(load_one(
            "plants:\n  fern: {name: F, colour: x}\n  rose: {name: R}\n  rose: {name: S}\n",
        ));
        assert!(
            m.starts_with(
                "seeds/t.yaml:4:3: duplicate key `rose`: first defined at seeds/t.yaml:3:3"
            ),
            "{m}"
        );
        let m = message(load_one(
            "plants:\n  fern: {name: F, colour: x}\n  rose: {name: !!str R}\n",
        ));
        assert!(
            m.starts_with("seeds/t.yaml:3:22: YAML error: unexpected use of yaml tag"),
            "{m}"
        );
        let m = message(load_one(
            "plants:\n  fern: {name: F, colour: x}\n  rose: [\n",
        ));
        assert!(m.contains("YAML syntax error"), "{m}");
        // A duplicate whose value is a mapping is found where the value ends, as before.
        let m = message(load_one(
            "plants:\n  a: {name: A}\n  b:\n    name: B\n  a:\n    name: C\n    species: D\n",
        ));
        assert!(
            m.starts_with("seeds/t.yaml:5:3: duplicate key `a`: first defined at seeds/t.yaml:2:3"),
            "{m}"
        );
    }

    #[test]
    fn unknown_table_and_column_list_the_valid_names() {
        let m = message(load_one("\nplantz:\n  fern: {name: Fern}\n"));
        assert!(
            m.starts_with("seeds/t.yaml:2:1: unknown table `plantz`"),
            "{m}"
        );
        assert!(m.contains("plants"), "{m}");
        let m = message(load_one("plants:\n  fern: {name: Fern, colour: green}\n"));
        assert!(
            m.starts_with("seeds/t.yaml:2:22: unknown column `colour` in table `plants`"),
            "{m}"
        );
        assert!(
            m.contains("columns: id, name, species, thresholds, created_at"),
            "{m}"
        );
    }

    #[test]
    fn undefined_label_names_it_and_where_it_was_used() {
        let m = message(load_one(
            "factories:\n  f1: {organization: acme, name: F}\n",
        ));
        assert!(
            m.starts_with("seeds/t.yaml:2:22: `acme` is not defined in `organizations`"),
            "{m}"
        );
        assert!(m.contains("`factories`.`organization` of row `f1`"), "{m}");
    }

    #[test]
    fn duplicate_labels_within_and_across_files() {
        let m = message(load_one("plants:\n  fern: {name: A}\n  fern: {name: B}\n"));
        assert!(
            m.contains("duplicate key `fern`") && m.contains("seeds/t.yaml:3:3"),
            "{m}"
        );
        let two = load(
            &[
                ("a.yaml".into(), "plants:\n  fern: {name: A}\n".into()),
                ("b.yaml".into(), "plants:\n  fern: {name: B}\n".into()),
            ],
            now(),
        );
        let m = message(two);
        assert!(
            m.starts_with(
                "b.yaml:2:3: duplicate label `fern` in `plants`: first defined at a.yaml:2:3"
            ),
            "{m}"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let m = message(load_one(
            "mqtt_broker:\n  b: {name: B, host: h, port: eighty}\n",
        ));
        assert!(
            m.starts_with("seeds/t.yaml:2:31: `mqtt_broker`.`port` of row `b` must be an integer"),
            "{m}"
        );
        let m = message(load_one(
            "plants:\n  fern: {name: F, created_at: last tuesday}\n",
        ));
        assert!(m.contains("must be an RFC 3339 timestamp"), "{m}");
        let m = message(load_one(
            "plant:\n  p: {name: P, code: P, is_active: maybe}\n",
        ));
        assert!(m.contains("must be true or false"), "{m}");
        let m = message(load_one("plants:\n  fern: {name: F, thresholds: high}\n"));
        assert!(
            m.contains("`plants`.`thresholds` of row `fern` must be a JSON object or array"),
            "{m}"
        );
    }

    #[test]
    fn missing_required_column_and_written_columns() {
        let m = message(load_one("plants:\n  fern: {species: x}\n"));
        assert!(
            m.contains("row `fern` of `plants` is missing `name`"),
            "{m}"
        );
        let m = message(load_one("gateways:\n  g: {password_encrypted: x}\n"));
        assert!(
            m.contains("is written by plantdb") && m.contains("give `password` in plain text"),
            "{m}"
        );
    }

    #[test]
    fn config_type_must_match_the_provider_type() {
        let m = message(load_one(
            "hierarchy:\n  h: {name: H, type: Site}\n\
             characteristic:\n  c: {hierarchy: h, name: C, subgroup_size: 1, provider_type: TAG}\n\
             characteristic_config:\n  c: {characteristic: c, config_json: {config_type: MANUAL, schedule: {schedule_type: NONE}}}\n",
        ));
        assert!(
            m.contains("has config_type `MANUAL`, but characteristic `c` has provider_type `TAG`"),
            "{m}"
        );
    }

    #[test]
    fn hierarchy_cycle_is_reported() {
        let m = message(load_one(
            "hierarchy:\n  a: {parent: b, name: A, type: Site}\n  b: {parent: a, name: B, type: Area}\n",
        ));
        assert!(
            m.contains("foreign-key cycle in `hierarchy`")
                && m.contains("`a`")
                && m.contains("`b`"),
            "{m}"
        );
    }

    #[test]
    fn telemetry_generators() {
        let f = load_one(
            "plants:\n  fern: {name: F}\ndevices:\n  d1: {plant: fern, mqtt_password: x}\n\
             telemetry:\n  week: {device: d1}\n  day: {device: d1, interval: 1m, span: 1d}\n",
        )
        .unwrap();
        assert_eq!(f.telemetry.len(), 2);
        assert_eq!(f.telemetry[0].interval, Duration::minutes(5));
        assert_eq!(f.telemetry[0].span, Duration::days(7));
        assert_eq!(f.telemetry[1].interval, Duration::minutes(1));
        let m = message(load_one("telemetry:\n  w: {device: ghost}\n"));
        assert!(m.contains("`ghost` is not defined in `devices`"), "{m}");
        let m = message(load_one(
            "devices:\n  d: {mqtt_password: x}\ntelemetry:\n  w: {device: d, span: forever}\n",
        ));
        assert!(m.contains("`span` must be a positive duration"), "{m}");
    }

    #[test]
    fn json_columns_keep_yaml_types() {
        let f = load_one("plants:\n  fern: {name: F, thresholds: {soil_moisture: {min: 30, max: 70.5}, note: '12', ok: true}}\n").unwrap();
        let Some(Cell::Value(Value::Json(j))) = f.rows[0].cell("thresholds") else {
            panic!()
        };
        assert_eq!(j["soil_moisture"]["min"], 30);
        assert_eq!(j["soil_moisture"]["max"], 70.5);
        assert_eq!(j["note"], "12");
        assert_eq!(j["ok"], true);
    }
}
