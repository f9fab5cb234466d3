//! `--wait`: before a command connects, keep trying while the server starts
//! (`docker compose up`, CI service containers), with backoff, up to `--wait-timeout`.

use std::time::{Duration, Instant};

use crate::config::{Target, TimescalePolicy};
use crate::db::{self, Access};
use crate::error::{Error, Result};

/// Backoff between attempts: doubling from the first, capped.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Whether an error may go away by itself while a server starts. A refused or timed-out
/// connection, or a server that says it is starting up or shutting down (SQLSTATE 57P03, which
/// `open_client` reports as a connection error), may; a wrong password, a missing database or a
/// malformed URL will not.
pub fn retryable(error: &Error) -> bool {
    matches!(error, Error::Connect { .. })
}

/// Told how the wait goes, for people to see.
pub trait WaitObserver {
    /// The first attempt failed: plantdb waits for `host` (`url`, masked), up to `timeout`.
    fn waiting(&mut self, _host: &str, _url: &str, _timeout: Duration) {}
    /// Another attempt failed.
    fn still_waiting(&mut self, _host: &str, _error: &Error) {}
    /// The server answered, `after` the first attempt; told only after `waiting`.
    fn answered(&mut self, _host: &str, _after: Duration) {}
}

/// Returns once the server answers, or fails after `timeout`. An answer that is an error that
/// waiting cannot fix (a wrong password, a database that does not exist, which `reset` is about
/// to create) counts as an answer: the command then reports it itself, at once. SQLite has
/// nothing to wait for.
pub fn until_ready(
    target: &Target,
    timescale: TimescalePolicy,
    timeout: Duration,
    observer: &mut dyn WaitObserver,
) -> Result<()> {
    let Target::Postgres(pg) = target else {
        return Ok(());
    };
    let host = pg.host_display();
    let started = Instant::now();
    let deadline = started + timeout;
    let mut delay = FIRST_DELAY;
    let mut announced = false;
    loop {
        // No single attempt may outlast the deadline.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut attempt = target.clone();
        if let Target::Postgres(pg) = &mut attempt {
            let own = pg.config.get_connect_timeout().copied();
            let bounded = own.map_or(remaining, |own| own.min(remaining));
            pg.config
                .connect_timeout(bounded.max(Duration::from_millis(100)));
        }
        let error = match db::connect(&attempt, Access::ReadOnly, timescale) {
            Err(e) if retryable(&e) => e,
            _ => {
                if announced {
                    observer.answered(&host, started.elapsed());
                }
                return Ok(());
            }
        };
        if !announced {
            observer.waiting(&host, &target.display(), timeout);
            announced = true;
        } else {
            observer.still_waiting(&host, &error);
        }
        let now = Instant::now();
        if now >= deadline {
            let reason = match &error {
                Error::Connect { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            return Err(Error::WaitTimeout {
                host,
                seconds: timeout.as_secs(),
                reason,
                source: Some(Box::new(error)),
            });
        }
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(MAX_DELAY);
    }
}
