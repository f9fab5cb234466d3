//! `plantdb migrate new NAME`: the up and down files of a new migration, for both dialects.

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::error::Result;
use crate::migrate::new;
use crate::output::Output;

pub fn run(global: &GlobalArgs, out: &Output, name: &str) -> Result<i32> {
    let dir = global
        .migrations
        .clone()
        .unwrap_or_else(|| PathBuf::from("migrations"));
    let report = new::create(&dir, name)?;
    out.new_report(&report);
    Ok(0)
}
