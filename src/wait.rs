//! `--wait`: keep trying to connect while a server is starting (`docker compose up`, CI service
//! containers), with backoff, up to `--wait-timeout`.

use std::time::{Duration, Instant};

use crate::config::{Target, TimescalePolicy};
use crate::db::{self, Access, Driver};
use crate::error::{Error, Result};
use crate::output::Output;

/// Backoff between attempts: doubling from the first, capped.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Whether an error may go away by itself while a server starts. A refused or timed-out
/// connection, or a server that says it is starting up or shutting down (SQLSTATE 57P03, which
/// `open_client` reports as a connection error), may; a wrong password, a missing database or a
/// malformed URL will not, so they fail at once.
pub fn retryable(error: &Error) -> bool {
    matches!(error, Error::Connect { .. })
}

/// `db::connect`, retried until `timeout` when `wait` is set. SQLite has nothing to wait for.
pub fn connect(
    target: &Target,
    access: Access,
    timescale: TimescalePolicy,
    wait: Option<Duration>,
    out: &Output,
) -> Result<Box<dyn Driver>> {
    let (Some(timeout), Target::Postgres(pg)) = (wait, target) else {
        return db::connect(target, access, timescale);
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
        let error = match db::connect(&attempt, access, timescale) {
            Ok(driver) => {
                if announced {
                    out.info(&format!(
                        "connected to {host} after {:.1} s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                return Ok(driver);
            }
            Err(e) if retryable(&e) => e,
            Err(e) => return Err(e),
        };
        if !announced {
            out.info(&format!(
                "waiting up to {} s for PostgreSQL at {host} ({}) to accept connections",
                timeout.as_secs(),
                target.display()
            ));
            announced = true;
        } else {
            out.verbose(&format!("still waiting for {host}: {error}"));
        }
        let now = Instant::now();
        if now >= deadline {
            let reason = match error {
                Error::Connect { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(Error::WaitTimeout {
                host,
                seconds: timeout.as_secs(),
                reason,
            });
        }
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(MAX_DELAY);
    }
}
