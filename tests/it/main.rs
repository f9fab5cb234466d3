//! Integration tests: real SQLite files and a real PostgreSQL server.

mod cli;
mod harness;
mod migrate;
mod reset;
mod safety;
mod schema_spec;
mod seed;
mod support;
