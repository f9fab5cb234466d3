//! Progress while the engine works: the engine tells its observers, these show it to people.
//! Results are never printed from here, except a migration step once it is committed.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{step_lines, verb};
use crate::db::Direction;
use crate::error::Version;
use crate::migrate::{Observer, StepReport};
use crate::printable::printable;
use crate::seed::{SeedObserver, TableReport};
use crate::wait::WaitObserver;

/// Prints each step once committed, under a bar on a terminal.
pub(super) struct StepPrinter {
    bar: Option<ProgressBar>,
    interactive: bool,
    verbose: bool,
}

impl StepPrinter {
    pub(super) fn new(interactive: bool, verbose: bool) -> StepPrinter {
        StepPrinter {
            bar: None,
            interactive,
            verbose,
        }
    }
}

impl Observer for StepPrinter {
    fn planned(&mut self, total: usize) {
        if self.interactive && total > 0 {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            self.bar = Some(bar);
        }
    }

    fn step_started(&mut self, index: usize, version: Version, name: &str, direction: Direction) {
        if let Some(bar) = &self.bar {
            // Steps are printed once committed, which can be later than they ran (SQLite).
            bar.set_position(index as u64);
            bar.set_message(format!(
                "{} {version} {}",
                verb(direction, false),
                printable(name)
            ));
        }
    }

    fn step_committed(&mut self, report: &StepReport) {
        let lines = step_lines(report, self.verbose);
        match &self.bar {
            Some(bar) => {
                for line in lines {
                    bar.println(line);
                }
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                for line in lines {
                    let _ = writeln!(stdout, "{line}");
                }
            }
        }
    }
}

impl Drop for StepPrinter {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Shows a bar while a large table is seeded, on a terminal.
pub(super) struct SeedPrinter {
    bar: Option<ProgressBar>,
    interactive: bool,
}

/// Tables smaller than this finish too fast for a bar to mean anything.
const BAR_THRESHOLD: u64 = 10_000;

impl SeedPrinter {
    pub(super) fn new(interactive: bool) -> SeedPrinter {
        SeedPrinter {
            bar: None,
            interactive,
        }
    }
}

impl SeedObserver for SeedPrinter {
    fn table_started(&mut self, table: &str, rows: u64) {
        if self.interactive && rows >= BAR_THRESHOLD {
            let bar = ProgressBar::new(rows);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {human_pos}/{human_len} rows, {eta} left",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(table.to_string());
            self.bar = Some(bar);
        }
    }

    fn progress(&mut self, _table: &str, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn table_finished(&mut self, _report: &TableReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Says what `--wait` waits for, and when the server answered.
pub(super) struct WaitPrinter(pub(super) super::Output);

impl WaitObserver for WaitPrinter {
    fn waiting(&mut self, host: &str, url: &str, timeout: Duration) {
        self.0.info(&format!(
            "waiting up to {} s for PostgreSQL at {host} ({url}) to accept connections",
            timeout.as_secs()
        ));
    }

    fn still_waiting(&mut self, host: &str, error: &crate::error::Error) {
        self.0
            .verbose(&format!("still waiting for {host}: {error}"));
    }

    fn answered(&mut self, host: &str, after: Duration) {
        self.0.info(&format!(
            "{host} answered after {:.1} s",
            after.as_secs_f64()
        ));
    }
}
