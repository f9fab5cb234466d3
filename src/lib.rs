//! plantdb: migrations and seed data for the plant databases, on PostgreSQL and SQLite.
//!
//! `run` is the whole command line: `cli` parses it, `commands` calls the engine and `output`
//! prints what the engine reports. The other modules are the engine, which the integration
//! tests call directly.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod live_drift;
pub mod migrate;
pub mod output;
pub mod printable;
pub mod reset;
pub mod schema;
pub mod seed;
pub mod status;
pub mod verify;
pub mod wait;

mod commands;

use std::ffi::OsString;

use clap::Parser;

use cli::Cli;
use error::Error;
use output::Output;

/// Runs plantdb with the given arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let dotenv = std::env::current_dir()
        .map_err(|e| Error::Io {
            path: ".".into(),
            source: e,
        })
        .and_then(|dir| config::load_dotenv(&dir));
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let out = Output::new(cli.global.json, cli.global.quiet, cli.global.verbose);
    match dotenv.and_then(|()| commands::run(&cli, &out)) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}
