//! plantdb: migrations and seed data for the plant databases, on PostgreSQL and SQLite.

pub mod schema;
