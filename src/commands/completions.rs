//! `plantdb completions SHELL`: a completion script, generated from the clap definition.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::Result;
use crate::output;

pub fn run(shell: Shell) -> Result<i32> {
    // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "plantdb", &mut script);
    output::write_raw(&script)?;
    Ok(0)
}
