//! Migrations: where they come from, what to run, and running it.

pub mod adopt;
pub mod adopt_manifest;
pub mod atomicity;
pub mod baseline;
mod baseline_catalog;
pub mod baseline_sql;
pub mod converge;
pub mod distribute;
pub mod expected;
pub mod lexer;
pub mod new;
pub mod plan;
pub mod run;
pub mod source;

pub use plan::Request;
pub use run::{IgnoreProgress, Observer, RunOptions, RunReport, StepReport, migrate, repair};
pub use source::{Migration, MigrationSet};
