//! Integration tests: real SQLite files and a real PostgreSQL server.

mod support;
