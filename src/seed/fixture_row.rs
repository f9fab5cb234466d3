//! A fixture row as it is read: its table, its label, where it stands, and its cells as the
//! fixture states them. What loading produces and seeding consumes.

use super::catalog::{Column, Table};
use crate::db::value::Value;
use crate::error::Location;

/// A cell as the fixture states it, before labels are turned into keys.
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct Row {
    pub table: &'static Table,
    pub label: String,
    pub at: Location,
    pub cells: Vec<(&'static Column, Cell, Location)>,
}

impl Row {
    pub fn cell(&self, column: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|(c, _, _)| c.name == column)
            .map(|(_, cell, _)| cell)
    }
}
