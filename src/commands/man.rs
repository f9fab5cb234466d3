//! `plantdb man`: the man page, generated from the clap definition so it never disagrees with
//! `--help`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::output;

pub fn run() -> Result<i32> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Error::Io {
            path: "stdout".into(),
            source: e,
        })?;
    output::write_raw(&page)?;
    Ok(0)
}
