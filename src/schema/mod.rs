//! Introspection of a live database into a dialect-neutral schema description.
//!
//! The PostgreSQL and SQLite migrations must describe the same schema, so both are read
//! into one [`Schema`] whose types, defaults and index predicates are canonicalised until
//! equal designs compare equal with `==`; [`Schema::diff`] explains any remaining mismatch.
//!
//! By concern: the description itself (model.rs), how two descriptions differ (diff.rs), how
//! a live database stands against plantdb's definitions, with verdicts (compare.rs),
//! reading one from PostgreSQL (postgres.rs) or SQLite (sqlite.rs), and the canonical forms
//! of the SQL text both dialects report (sql_text.rs).

mod compare;
mod diff;
mod model;
mod postgres;
mod sql_text;
mod sqlite;

pub use compare::{
    Aspect, Comparison, Described, Difference, Flavor, Foreign, Spelling, Spellings, Verdict,
    compare,
};
pub use model::{CanonicalType, Column, ForeignKey, Index, Schema, Table};
pub use postgres::of_postgres;
pub use sql_text::{canonical_default, check_constraints, normalize_predicate, where_clause};
pub use sqlite::of_sqlite;
