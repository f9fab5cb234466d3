//! PostgreSQL: the lock is a session advisory lock keyed on the database name; each migration
//! runs in its own transaction together with its history row.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::error::{DbError, ErrorPosition, SqlState};
use postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::citus::{CITUS_PROBE, CITUS_TABLES, CITUS_WORKERS, CitusState, CitusTable, CitusWorker};
use super::history::{self, ADOPTION_TABLE, HISTORY_TABLE};
use super::value::{Kind, Value, from_pg_row};
use super::{Access, AppliedMigration, Dialect, Driver, LockWait, Step};
use crate::config::{PostgresTarget, TelemetrySettings, TimescalePolicy};
use crate::error::{AuthFailure, ConnectFailure, Error, Result};
use crate::schema::Schema;

/// COPY data is sent in chunks of about this many bytes.
const COPY_CHUNK: usize = 256 * 1024;

/// What TimescaleDB looks like on a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimescaleState {
    /// The server can install the extension (`pg_available_extensions`).
    pub available: bool,
    /// The extension is installed in this database.
    pub installed: bool,
    /// `timescaledb` is in `shared_preload_libraries` (`null` when this role may not see it).
    pub preloaded: Option<bool>,
    /// The telemetry table is a hypertable.
    pub telemetry_hypertable: bool,
    /// What `telemetry` is, telling a plain table from a missing one.
    pub telemetry: TelemetryTable,
}

/// What the telemetry table is in this database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TelemetryTable {
    #[default]
    Absent,
    PlainTable,
    Hypertable,
    /// Citus distributes it over the cluster's workers.
    Distributed,
}

impl TelemetryTable {
    pub fn describe(self) -> &'static str {
        match self {
            TelemetryTable::Absent => "is absent",
            TelemetryTable::PlainTable => "is a plain table",
            TelemetryTable::Hypertable => "is a hypertable",
            TelemetryTable::Distributed => "is distributed by Citus",
        }
    }
}

/// The telemetry policies TimescaleDB runs on this database, as its catalogs tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryPolicyState {
    /// The compression policy's `compress_after`, when there is one.
    pub compress_after: Option<String>,
    /// The retention policy's `drop_after`, when there is one.
    pub retain_for: Option<String>,
    /// `telemetry_hourly` is a continuous aggregate.
    pub hourly_continuous: bool,
    /// `telemetry_hourly` exists (a continuous aggregate or an ordinary view).
    pub hourly_exists: bool,
}

pub struct PostgresDriver {
    client: Client,
    host: String,
    dbname: String,
    lock_key: i64,
    locked: bool,
    /// Between `begin` and `commit`/`rollback`: steps join that transaction instead of
    /// opening their own.
    in_transaction: bool,
    lock_wait: LockWait,
    /// Filled by the connection's notice callback (RAISE NOTICE from migrations).
    notices: Arc<Mutex<Vec<String>>>,
    /// `query`'s prepared statements by SQL text, kept until the transaction ends: a seed runs
    /// the same few statements once per row, and preparing costs a round trip each time.
    statements: HashMap<String, postgres::Statement>,
    /// Citus's extension state as read with the session set-up (no workers yet).
    citus_probe: CitusState,
    /// `--citus` settled on distributing (see [`crate::db::citus::settle`]).
    citus_in_use: bool,
}

/// How many statements `query` keeps prepared; the seed's per-row statements are a few per
/// table.
const STATEMENTS_KEPT: usize = 64;

impl PostgresDriver {
    pub fn connect(
        target: &PostgresTarget,
        access: Access,
        timescale: TimescalePolicy,
        telemetry: &TelemetrySettings,
    ) -> Result<PostgresDriver> {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let client = open_client(target, Some(notices.clone()))?;
        let mut driver = PostgresDriver {
            client,
            host: target.host_display(),
            dbname: target.dbname(),
            lock_key: lock_key(&target.dbname()),
            locked: false,
            in_transaction: false,
            lock_wait: LockWait::default(),
            notices,
            statements: HashMap::new(),
            citus_probe: CitusState::default(),
            citus_in_use: false,
        };
        // The telemetry migration reads the policy from this setting and decides in SQL; the
        // telemetry policy migrations read their durations from the next two, so the durations
        // are never written into a script (nor change its checksum). Periods print as
        // `N days` or `N hours`: nothing to quote. The settings and Citus's probe go in one
        // message: one round trip, whatever the access.
        // On a Citus coordinator plantdb writes in Citus's sequential mode (one connection per
        // worker): in its default parallel mode Citus refuses, in one transaction, DDL or
        // writes on a distributed table after the reference table it references was touched,
        // which migrations and seeds do. Without Citus the setting is an inert placeholder.
        let mut setup = format!(
            "SET plantdb.timescale = '{}'; SET plantdb.telemetry_compress_after = '{}'; \
             SET plantdb.telemetry_retain_for = '{}'; \
             SET citus.multi_shard_modify_mode = 'sequential'",
            timescale.as_str(),
            telemetry.compress_after,
            telemetry.retain_for
        );
        if access == Access::ReadOnly {
            setup.push_str("; SET default_transaction_read_only = on");
        }
        setup.push_str(";\n");
        setup.push_str(CITUS_PROBE);
        let probe = driver
            .simple_rows(&setup)
            .map_err(|e| driver.db_error("cannot configure the session", e))?;
        if let Some(row) = probe.first() {
            driver.citus_probe = CitusState {
                available: row.get(0) == Some("t"),
                installed: row.get(1) == Some("t"),
                preloaded: row.get(2).map(|libs| {
                    libs.split(',')
                        .any(|lib| lib.trim().trim_matches('"') == "citus")
                }),
                ..CitusState::default()
            };
        }
        Ok(driver)
    }

    /// Fills in the policies and whether `telemetry_hourly` is a continuous aggregate, from
    /// TimescaleDB's information views. Outside a transaction a failure costs nothing: a
    /// TimescaleDB without these views (the test stand-in) has no policies.
    fn read_telemetry_policies(&mut self, state: &mut TelemetryPolicyState) {
        if let Ok(rows) = self.simple_rows(TELEMETRY_POLICIES)
            && let Some(row) = rows.first()
        {
            state.compress_after = row.get(0).map(str::to_string);
            state.retain_for = row.get(1).map(str::to_string);
            state.hourly_continuous = row.get(2) == Some("t");
        }
    }

    /// Who holds the advisory lock, as `pg_locks` and `pg_stat_activity` tell (a role without
    /// `pg_read_all_stats` sees only the pid of other users' sessions).
    fn lock_holder(&mut self) -> Option<String> {
        // A bigint advisory key is stored as two 32-bit halves, with objsubid 1.
        let row = self
            .client
            .query_opt(
                "SELECT l.pid, a.application_name, a.usename::text, host(a.client_addr),
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        a.state
                 FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid = (($1::bigint >> 32) & 4294967295)::oid
                   AND l.objid = ($1::bigint & 4294967295)::oid
                 LIMIT 1",
                &[&self.lock_key],
            )
            .ok()??;
        let text = |i: usize| -> Option<String> {
            row.get::<_, Option<String>>(i)
                .map(|value| value.escape_debug().to_string())
        };
        let pid: Option<i32> = row.get(0);
        let mut parts = Vec::new();
        if let Some(name) = text(1) {
            parts.push(format!("application_name `{name}`"));
        }
        if let Some(user) = text(2) {
            parts.push(format!("user `{user}`"));
        }
        if let Some(client) = text(3) {
            parts.push(format!("from {client}"));
        }
        if let Some(started) = text(4) {
            parts.push(format!("connected since {started}"));
        }
        match (text(5), text(6)) {
            (Some(xact), _) => parts.push(format!("transaction open since {xact}")),
            (None, Some(state)) => parts.push(format!("state {state}")),
            (None, None) => {}
        }
        let pid = pid.map_or("?".to_string(), |pid| pid.to_string());
        Some(if parts.is_empty() {
            format!("server process {pid}")
        } else {
            format!("server process {pid} ({})", parts.join(", "))
        })
    }

    /// What TimescaleDB looks like on this server and database.
    pub fn timescale(&mut self) -> Result<TimescaleState> {
        let mut rows = self
            .simple_rows(TIMESCALE_STATE)
            .map_err(|e| self.db_error("cannot read TimescaleDB's state", e))?;
        if rows.is_empty() {
            return Err(Error::Database {
                context: format!(
                    "cannot read TimescaleDB's state (PostgreSQL `{}`)",
                    self.host
                ),
                message: "the server returned no row".into(),
                source: None,
            });
        }
        let row = rows.remove(0);
        Ok(self.timescale_from(&row))
    }

    /// TimescaleDB's state from a row of [`TIMESCALE_STATE`], and whether telemetry is a
    /// hypertable when the extension is installed.
    fn timescale_from(&mut self, row: &SimpleQueryRow) -> TimescaleState {
        let mut state = TimescaleState {
            available: row.get(0) == Some("t"),
            installed: row.get(1) == Some("t"),
            preloaded: row
                .get(2)
                .map(|libs| libs.split(',').any(|lib| lib.trim() == "timescaledb")),
            telemetry_hypertable: false,
            telemetry: if row.get(3) == Some("t") {
                TelemetryTable::PlainTable
            } else {
                TelemetryTable::Absent
            },
        };
        if state.installed {
            // Outside a transaction a failure here costs nothing, so a missing view is just "no".
            state.telemetry_hypertable = self
                .simple_rows(
                    "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                                     WHERE hypertable_name = 'telemetry')",
                )
                .is_ok_and(|rows| rows.first().and_then(|row| row.get(0)) == Some("t"));
            if state.telemetry_hypertable {
                state.telemetry = TelemetryTable::Hypertable;
            }
        }
        state
    }

    /// What Citus looks like on this database: the extension as read when connecting and,
    /// where it is installed, the active workers and the tables Citus manages (one round trip,
    /// on a coordinator only).
    pub fn citus(&mut self) -> Result<CitusState> {
        let mut state = self.citus_probe.clone();
        if !state.installed {
            return Ok(state);
        }
        let messages = self
            .client
            .simple_query(&format!("{CITUS_WORKERS};\n{CITUS_TABLES}"))
            .map_err(|e| self.db_error("cannot read the Citus cluster", e))?;
        // The two answers are told apart by the command tag that ends the first.
        let mut first = true;
        for message in messages {
            match message {
                SimpleQueryMessage::CommandComplete(_) => first = false,
                SimpleQueryMessage::Row(row) if first => state.workers.extend(citus_worker(&row)),
                SimpleQueryMessage::Row(row) => state.tables.extend(citus_table(&row)),
                _ => {}
            }
        }
        state.in_use = self.citus_in_use;
        Ok(state)
    }

    /// Runs an applied migration's script again, in the open transaction, without touching
    /// the history; what the server said. Errors name the migration and the place in its file.
    pub fn run_again(&mut self, step: &Step) -> Result<Vec<String>> {
        self.take_notices();
        self.client
            .batch_execute(step.sql)
            .map_err(|e| migration_error(step, e))?;
        Ok(self.take_notices())
    }

    /// Whether the citus extension is installed in this database (read when connecting):
    /// its tables may be distributed, whatever `--citus` says for this session.
    pub fn citus_installed(&self) -> bool {
        self.citus_probe.installed
    }

    /// Tells this session's migrations that Citus distributes the tables, and keeps
    /// TimescaleDB out of the telemetry table, which Citus distributes instead.
    pub fn use_citus(&mut self) -> Result<()> {
        self.client
            .batch_execute("SET plantdb.citus = 'on'; SET plantdb.timescale = 'off'")
            .map_err(|e| self.db_error("cannot configure the session for Citus", e))?;
        self.citus_in_use = true;
        Ok(())
    }

    /// The server as messages name it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying client, for seeding and tests.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn db_error(&self, context: &str, e: postgres::Error) -> Error {
        Error::Database {
            context: format!("{context} (PostgreSQL `{}`)", self.host),
            message: describe(&e),
            source: Some(e.into()),
        }
    }

    /// The rows of a simple query (text values): one round trip, no prepare.
    fn simple_rows(
        &mut self,
        sql: &str,
    ) -> std::result::Result<Vec<SimpleQueryRow>, postgres::Error> {
        Ok(rows_of(self.client.simple_query(sql)?))
    }

    /// The history table's rows; the table must exist.
    fn read_history(&mut self) -> Result<Vec<AppliedMigration>> {
        let rows = self
            .simple_rows(&history::select_applied(Dialect::Postgres))
            .map_err(|e| self.db_error("cannot read the history", e))?;
        rows.iter()
            .map(applied_migration)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Database {
                context: format!("cannot read the history (PostgreSQL `{}`)", self.host),
                message: format!("`{HISTORY_TABLE}` holds a row plantdb cannot read"),
                source: None,
            })
    }

    /// What `status` shows: the history and TimescaleDB's state, read in one round trip on a
    /// database with a history (two when TimescaleDB is installed, whose hypertable view may
    /// not be readable). The history is read without asking first whether its table exists:
    /// an up-to-date database has it, and a missing table is the one error that means "none".
    /// The telemetry policies come with them: no more round trips without TimescaleDB (one
    /// more with it, for its jobs).
    pub fn status_snapshot(
        &mut self,
    ) -> Result<(Vec<AppliedMigration>, TimescaleState, TelemetryPolicyState)> {
        let all = format!(
            "{TIMESCALE_STATE};\n{HOURLY_VIEW};\n{}",
            history::select_applied(Dialect::Postgres)
        );
        let (applied, state_row, hourly_row) = match self.client.simple_query(&all) {
            Ok(messages) => {
                let mut rows = rows_of(messages);
                let state_row = if rows.is_empty() {
                    None
                } else {
                    Some(rows.remove(0))
                };
                let hourly_row = if rows.is_empty() {
                    None
                } else {
                    Some(rows.remove(0))
                };
                let applied = rows
                    .iter()
                    .map(applied_migration)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| Error::Database {
                        context: format!("cannot read the history (PostgreSQL `{}`)", self.host),
                        message: format!("`{HISTORY_TABLE}` holds a row plantdb cannot read"),
                        source: None,
                    })?;
                (applied, state_row, hourly_row)
            }
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                let mut rows = self
                    .simple_rows(&format!("{TIMESCALE_STATE};\n{HOURLY_VIEW}"))
                    .map_err(|e| self.db_error("cannot read TimescaleDB's state", e))?;
                let state_row = if rows.is_empty() {
                    None
                } else {
                    Some(rows.remove(0))
                };
                let hourly_row = if rows.is_empty() {
                    None
                } else {
                    Some(rows.remove(0))
                };
                (Vec::new(), state_row, hourly_row)
            }
            Err(e) => return Err(self.db_error("cannot read the history", e)),
        };
        let state_row = state_row.ok_or_else(|| Error::Database {
            context: format!(
                "cannot read TimescaleDB's state (PostgreSQL `{}`)",
                self.host
            ),
            message: "the server returned no row".into(),
            source: None,
        })?;
        let state = self.timescale_from(&state_row);
        let mut telemetry = TelemetryPolicyState {
            hourly_exists: hourly_row.is_some_and(|row| row.get(0) == Some("t")),
            ..TelemetryPolicyState::default()
        };
        if state.installed {
            self.read_telemetry_policies(&mut telemetry);
        }
        Ok((applied, state, telemetry))
    }

    /// Whether one of plantdb's own tables exists, in one simple query (one round trip, where
    /// a parameter would add a prepare). `table` is a constant of ours, never user input.
    fn own_table_exists(&mut self, table: &str) -> Result<bool> {
        let rows = self
            .simple_rows(&format!("SELECT to_regclass('{table}') IS NOT NULL"))
            .map_err(|e| self.db_error("cannot read the schema", e))?;
        Ok(rows.first().and_then(|row| row.get(0)) == Some("t"))
    }

    fn take_notices(&self) -> Vec<String> {
        match self.notices.lock() {
            Ok(mut notices) => std::mem::take(&mut *notices),
            Err(_) => Vec::new(),
        }
    }
}

/// Opens a connection with TLS as the URL's `sslmode` asks, mapping failures to errors that
/// name the host. Shared with `reset`, which connects to the maintenance database.
///
/// The whole attempt (TCP, the TLS request and handshake, start-up, authentication) must end
/// within the connect timeout: the driver bounds only the TCP connect by it, so a server that
/// accepts and then says nothing would otherwise hold plantdb forever.
pub fn open_client(
    target: &PostgresTarget,
    notices: Option<Arc<Mutex<Vec<String>>>>,
) -> Result<Client> {
    let timeout = target.connect_timeout();
    let deadline = Instant::now() + timeout;
    let mut config = target.config.clone();
    if let Some(notices) = notices {
        config.notice_callback(move |notice| {
            if let Ok(mut list) = notices.lock() {
                list.push(notice.message().to_string());
            }
        });
    }
    let attempt: Box<dyn FnOnce() -> std::result::Result<Client, postgres::Error> + Send> =
        if !may_use_tls(target) {
            Box::new(move || config.connect(postgres::NoTls))
        } else {
            // With `prefer` the driver asks for TLS and goes on in plain text on the same
            // connection if the server says no.
            let connector = super::tls::connector(target)?;
            Box::new(move || config.connect(connector))
        };
    // The attempt runs on its own thread so that it can be given up at the deadline. An
    // abandoned attempt ends with the process; should the server answer after all, the thread
    // finds nobody listening and drops the connection.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("plantdb-connect".into())
        .spawn(move || {
            let _ = sender.send(attempt());
        })
        .map_err(|e| Error::Connect {
            host: target.host_display(),
            reason: format!("cannot start connecting: {e}"),
            kind: ConnectFailure::Unreachable,
            source: Some(e.into()),
        })?;
    match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => result.map_err(|e| connect_error(target, e)),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(timed_out(target, timeout)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Connect {
            host: target.host_display(),
            reason: "the connection attempt ended without a result".into(),
            kind: ConnectFailure::Unreachable,
            source: None,
        }),
    }
}

fn timed_out(target: &PostgresTarget, timeout: Duration) -> Error {
    let seconds = timeout.as_secs_f64();
    let shown = if seconds.fract() == 0.0 {
        format!("{seconds}")
    } else {
        format!("{seconds:.1}")
    };
    Error::Connect {
        host: target.host_display(),
        reason: format!(
            "timed out after {shown} s (connect_timeout): the server did not complete \
             the connection and start-up"
        ),
        kind: ConnectFailure::TimedOut,
        source: None,
    }
}

/// Whether TLS can happen at all: not with `sslmode=disable`, nor over unix sockets (never
/// encrypted, and the driver has no host name to check there).
fn may_use_tls(target: &PostgresTarget) -> bool {
    use postgres::config::{Host, SslMode};
    let config = &target.config;
    let unix_only = config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, Host::Unix(_)))
        && config.get_hostaddrs().is_empty();
    config.get_ssl_mode() != SslMode::Disable && !unix_only
}

/// A connection to `postgres` (or `template1` where that is gone) on the target's server: a
/// database cannot be created or dropped from a session connected to it.
pub fn maintenance_client(target: &PostgresTarget) -> Result<Client> {
    let mut last = None;
    for maintenance in ["postgres", "template1"] {
        let mut other = target.clone();
        other.config.dbname(maintenance);
        match open_client(&other, None) {
            Ok(client) => return Ok(client),
            Err(e @ Error::DatabaseMissing { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Connect {
        host: target.host_display(),
        reason: "no maintenance database".into(),
        kind: ConnectFailure::Unreachable,
        source: None,
    }))
}

pub fn create_database(admin: &mut Client, name: &str, host: &str) -> Result<()> {
    admin
        .batch_execute(&format!("CREATE DATABASE {}", super::quote_ident(name)))
        .map_err(|e| Error::Database {
            context: format!("cannot create database `{name}` on `{host}`"),
            message: describe(&e),
            source: Some(e.into()),
        })
}

/// Drops `name`, ending its sessions first: `WITH (FORCE)` on PostgreSQL 13+, and
/// `pg_terminate_backend` for older servers (and for sessions FORCE would wait on).
pub fn drop_database(admin: &mut Client, name: &str, host: &str) -> Result<()> {
    let fail = |what: &str, e: postgres::Error| Error::Database {
        context: format!("cannot {what} database `{name}` on `{host}`"),
        message: describe(&e),
        source: Some(e.into()),
    };
    let version: i32 = admin
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(|e| fail("inspect the server for", e))?
        .get(0);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .map_err(|e| fail("disconnect the sessions of", e))?;
    let force = if version >= 130_000 {
        " WITH (FORCE)"
    } else {
        ""
    };
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {}{force}",
            super::quote_ident(name)
        ))
        .map_err(|e| fail("drop", e))
}

fn connect_error(target: &PostgresTarget, e: postgres::Error) -> Error {
    let host = target.host_display();
    match e.code() {
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            Error::Auth {
                host,
                user: target.user(),
                reason: describe(&e),
                kind: auth_failure(target, code),
                source: Some(e.into()),
            }
        }
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => Error::DatabaseMissing {
            host,
            name: target.dbname(),
        },
        _ => Error::Connect {
            host,
            reason: describe(&e),
            kind: connect_failure(target, &e),
            source: Some(e.into()),
        },
    }
}

/// PostgreSQL reports a missing client certificate with the SQLSTATE it uses for any login
/// that `pg_hba.conf` turns away (28000), so the hint names the certificate only where it can
/// be the reason: the connection was encrypted (TLS required) and the URL names no `sslcert`.
/// A wrong password has its own code (28P01).
fn auth_failure(target: &PostgresTarget, code: &SqlState) -> AuthFailure {
    let tls_required = target.config.get_ssl_mode() == postgres::config::SslMode::Require;
    if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        && tls_required
        && target.tls.client.is_none()
    {
        AuthFailure::ClientCertificateMissing
    } else {
        AuthFailure::Credentials
    }
}

/// Classifies a connection failure that is not the server's own error by what lies under it:
/// the TLS library's error is a failed handshake or certificate check, an I/O error is the
/// network. With neither, the driver itself gave up, which it does only over TLS (a server
/// that does not offer it where the URL requires it) or on a protocol error.
fn connect_failure(target: &PostgresTarget, e: &postgres::Error) -> ConnectFailure {
    let is_tls = |error: &(dyn std::error::Error + 'static)| error.is::<rustls::Error>();
    let mut cause = std::error::Error::source(e);
    while let Some(inner) = cause {
        if is_tls(inner) {
            return ConnectFailure::Tls;
        }
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            // An I/O error may carry the TLS library's error inside it.
            if io.get_ref().is_some_and(|wrapped| is_tls(wrapped)) {
                return ConnectFailure::Tls;
            }
            return match io.kind() {
                std::io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
                _ => ConnectFailure::Unreachable,
            };
        }
        cause = inner.source();
    }
    if target.config.get_ssl_mode() == postgres::config::SslMode::Require {
        ConnectFailure::Tls
    } else {
        ConnectFailure::Unreachable
    }
}

/// The server's message without the crate's "db error:" prefix, with detail where there is one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db_message(db),
        None => {
            // The crate's text for I/O errors, e.g. "error connecting to server: Connection refused".
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let inner_text = inner.to_string();
                if !text.contains(&inner_text) {
                    text.push_str(": ");
                    text.push_str(&inner_text);
                }
                source = inner.source();
            }
            text
        }
    }
}

/// Encodes each parameter as the server's type for it before sending, so a value that does
/// not fit (3000000000 for an `integer`) is reported by its position, which the seeder turns
/// into the column's name, rather than as the driver's "error serializing parameter 2".
fn check_parameters(statement: &postgres::Statement, params: &[Value]) -> Result<()> {
    use postgres::types::ToSql;
    let mut buffer = bytes::BytesMut::new();
    for (index, (value, ty)) in params.iter().zip(statement.params()).enumerate() {
        buffer.clear();
        if let Err(e) = value.to_sql_checked(ty, &mut buffer) {
            return Err(Error::Bind {
                index: index + 1,
                column: None,
                pg_type: ty.name().to_string(),
                reason: e.to_string(),
                source: e,
            });
        }
    }
    Ok(())
}

fn db_message(db: &DbError) -> String {
    let mut text = db.message().to_string();
    if let Some(detail) = db.detail() {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

/// A stable 64-bit key per database name (FNV-1a), so runs against different databases on one
/// server do not block each other.
pub fn lock_key(dbname: &str) -> i64 {
    use std::hash::Hasher as _;
    let mut hash = fnv::FnvHasher::default();
    hash.write(b"plantdb:");
    hash.write(dbname.as_bytes());
    hash.finish() as i64
}

/// Runs a no-transaction script one statement at a time, as psql runs a file. Sent as one
/// string, PostgreSQL would run the statements in one implicit transaction, where the very
/// statements that need no transaction (`CREATE INDEX CONCURRENTLY`…) are refused.
fn run_each_statement(client: &mut Client, step: &Step) -> Result<()> {
    for statement in crate::migrate::lexer::statements(step.sql, Dialect::Postgres) {
        let span = statement.span();
        client.batch_execute(&step.sql[span.clone()]).map_err(|e| {
            // A transaction the script opened itself must not outlive its failure.
            let _ = client.batch_execute("ROLLBACK");
            let chars_before = step.sql[..span.start].chars().count();
            migration_error_in(step, e, chars_before as isize)
        })?;
    }
    Ok(())
}

fn migration_error(step: &Step, e: postgres::Error) -> Error {
    migration_error_in(step, e, 0)
}

/// `chars_before`: where in the script the SQL that failed starts, for the reported position
/// (negative when the SQL sent had something before the script).
fn migration_error_in(step: &Step, e: postgres::Error, chars_before: isize) -> Error {
    let Some(db) = e.as_db_error() else {
        return Error::MigrationFailed {
            version: step.version,
            file: step.file.to_string(),
            message: describe(&e),
            position: None,
            hint: None,
            source: Some(e.into()),
        };
    };
    let script_chars = step.sql.chars().count();
    let position = match db.position() {
        Some(ErrorPosition::Original(offset)) => usize::try_from(chars_before + *offset as isize)
            .ok()
            // Outside the script (the history row's statement): no place in the file to show.
            .filter(|at| (1..=script_chars + 1).contains(at))
            .map(|at| super::line_column(step.sql, at)),
        _ => None,
    };
    let hint = if *db.code() == SqlState::ACTIVE_SQL_TRANSACTION && step.transactional {
        Some(format!(
            "this statement cannot run inside a transaction: make `-- plantdb:no-transaction` the first line of {}",
            step.file
        ))
    } else {
        db.hint().map(str::to_string)
    };
    Error::MigrationFailed {
        version: step.version,
        file: step.file.to_string(),
        message: db_message(db),
        position,
        hint,
        source: Some(e.into()),
    }
}

/// Whether TimescaleDB is available, installed and preloaded (`null` when this role may not
/// see `shared_preload_libraries`), and whether a `telemetry` table exists at all.
const TIMESCALE_STATE: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
            (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'),
            EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                    WHERE schemaname = current_schema() AND tablename = 'telemetry')";

/// Whether `telemetry_hourly` exists (an ordinary view, or a continuous aggregate's view).
const HOURLY_VIEW: &str = "SELECT EXISTS (SELECT 1 FROM pg_views
    WHERE viewname = 'telemetry_hourly' AND schemaname = current_schema())";

/// The compression and retention policies of telemetry, and whether `telemetry_hourly` is a
/// continuous aggregate, from TimescaleDB's information views.
const TELEMETRY_POLICIES: &str = "SELECT
    (SELECT config ->> 'compress_after' FROM timescaledb_information.jobs
      WHERE proc_name = 'policy_compression' AND hypertable_name = 'telemetry'
        AND hypertable_schema = current_schema() LIMIT 1),
    (SELECT config ->> 'drop_after' FROM timescaledb_information.jobs
      WHERE proc_name = 'policy_retention' AND hypertable_name = 'telemetry'
        AND hypertable_schema = current_schema() LIMIT 1),
    EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
             WHERE view_name = 'telemetry_hourly' AND view_schema = current_schema())";
/// A row of [`CITUS_WORKERS`]; `None` if it is not one.
fn citus_worker(row: &SimpleQueryRow) -> Option<CitusWorker> {
    Some(CitusWorker {
        host: row.get(0)?.to_string(),
        port: row.get(1)?.parse().ok()?,
    })
}

/// A row of [`CITUS_TABLES`]; `None` if it is not one.
fn citus_table(row: &SimpleQueryRow) -> Option<CitusTable> {
    Some(CitusTable {
        name: row.get(0)?.to_string(),
        kind: row.get(1)?.to_string(),
        // Citus shows `<none>` for a table without one.
        distribution_column: row
            .get(2)
            .filter(|column| *column != "<none>")
            .map(str::to_string),
        shard_count: row.get(3)?.parse().ok()?,
    })
}

/// The rows of a simple query's answer, leaving out the command tags.
fn rows_of(messages: Vec<SimpleQueryMessage>) -> Vec<SimpleQueryRow> {
    messages
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// A history row as [`history::select_applied`] reads it, in text; `None` if it is not one.
fn applied_migration(row: &SimpleQueryRow) -> Option<AppliedMigration> {
    Some(AppliedMigration {
        version: row.get(0)?.parse().ok()?,
        name: row.get(1)?.to_string(),
        checksum: row.get(2)?.to_string(),
        applied_at: row.get(3)?.to_string(),
    })
}

/// What opens a step's own transaction, ahead of its script in the same message. Error
/// positions the server reports count from here, so they are moved back by its length.
const STEP_BEGIN: &str = "BEGIN;\n";

impl Driver for PostgresDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn lock(&mut self) -> Result<()> {
        // Polling keeps the connection usable (no statement stuck waiting) and needs no timeout
        // setting that would then apply to the migrations as well.
        let wait = self.lock_wait.clone();
        let lock = format!(
            "plantdb's run lock on database `{}` at `{}` (advisory lock {})",
            self.dbname, self.host, self.lock_key
        );
        super::wait_for_lock(
            self,
            &wait,
            &lock,
            |driver| {
                let key = driver.lock_key;
                // A simple query with the key inline: one round trip, where a parameter
                // would cost a prepare as well.
                driver
                    .simple_rows(&format!("SELECT pg_try_advisory_lock({key})"))
                    .map(|rows| rows.first().and_then(|row| row.get(0)) == Some("t"))
                    .map_err(|e| driver.db_error("cannot take the advisory lock", e))
            },
            PostgresDriver::lock_holder,
        )?;
        self.locked = true;
        Ok(())
    }

    fn set_lock_wait(&mut self, wait: LockWait) {
        self.lock_wait = wait;
    }

    fn unlock(&mut self) -> Result<()> {
        if !self.locked {
            return Ok(());
        }
        if self.in_transaction {
            // Work left in a transaction nobody committed is undone, not kept.
            let _ = self.rollback();
        }
        self.locked = false;
        self.client
            .batch_execute(&format!("SELECT pg_advisory_unlock({})", self.lock_key))
            .map_err(|e| self.db_error("cannot release the advisory lock", e))
    }

    fn applied(&mut self) -> Result<Vec<AppliedMigration>> {
        // Simple queries: one round trip each, where parameters would add a prepare.
        if !self.own_table_exists(HISTORY_TABLE)? {
            return Ok(Vec::new());
        }
        self.read_history()
    }

    /// As [`history::adoption_gaps`], in simple queries: a round trip where the table is
    /// missing (nearly always), where parameters would cost two.
    fn adoption_gaps(&mut self) -> Result<BTreeSet<crate::error::Version>> {
        if !self.own_table_exists(ADOPTION_TABLE)? {
            return Ok(BTreeSet::new());
        }
        let rows = self
            .simple_rows(&history::select_gaps())
            .map_err(|e| self.db_error("cannot read the adoption record", e))?;
        Ok(rows
            .iter()
            .filter_map(|row| row.get(0)?.parse().ok())
            .collect())
    }

    fn ensure_history(&mut self) -> Result<()> {
        self.client
            .batch_execute(&history::create_history(Dialect::Postgres))
            .map_err(|e| self.db_error("cannot create the history table", e))
    }

    fn apply(&mut self, step: &Step) -> Result<Vec<String>> {
        self.take_notices();
        // The script and its history row travel in one simple-query message (with BEGIN and
        // COMMIT around them when the step has its own transaction): one round trip a step.
        let record = history::record_step_postgres_inline(step);
        let script = if step.fake { "" } else { step.sql };
        if self.in_transaction {
            if !step.transactional && !step.fake {
                return Err(super::cannot_join_atomic(step));
            }
            self.client
                .batch_execute(&format!("{script}\n;\n{record}"))
                .map_err(|e| migration_error(step, e))?;
        } else if step.transactional {
            self.client
                .batch_execute(&format!("{STEP_BEGIN}{script}\n;\n{record};\nCOMMIT"))
                .map_err(|e| {
                    // The failed statement left the transaction open and aborted.
                    let _ = self.client.batch_execute("ROLLBACK");
                    migration_error_in(step, e, -(STEP_BEGIN.len() as isize))
                })?;
        } else {
            if !step.fake {
                run_each_statement(&mut self.client, step)?;
            }
            self.client
                .batch_execute(&record)
                .map_err(|e| migration_error(step, e))?;
        }
        Ok(self.take_notices())
    }

    fn begin(&mut self) -> Result<()> {
        if self.in_transaction {
            return Err(super::already_in_transaction(&self.host));
        }
        self.client
            .batch_execute("BEGIN")
            .map_err(|e| self.db_error("cannot start the transaction", e))?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.in_transaction = false;
        self.statements.clear();
        // A deferred constraint can still fail here; the server then rolls everything back.
        self.client
            .batch_execute("COMMIT")
            .map_err(|e| self.db_error("cannot commit the transaction", e))
    }

    fn rollback(&mut self) -> Result<()> {
        self.in_transaction = false;
        self.statements.clear();
        self.client
            .batch_execute("ROLLBACK")
            .map_err(|e| self.db_error("cannot roll back the transaction", e))
    }

    fn commits_before_unlock(&self) -> bool {
        true
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.client
            .batch_execute(sql)
            .map_err(|e| self.db_error("statement failed", e))
    }

    fn as_postgres(&mut self) -> Option<&mut PostgresDriver> {
        Some(self)
    }

    fn schema(&mut self) -> Result<Schema> {
        crate::schema::of_postgres(&mut self.client)
            .map_err(|e| self.db_error("cannot read the schema", e))
    }

    fn query(&mut self, sql: &str, params: &[Value], kinds: &[Kind]) -> Result<Vec<Vec<Value>>> {
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self
                    .client
                    .prepare(sql)
                    .map_err(|e| self.db_error("seed statement failed", e))?;
                // Only inside a transaction, whose end forgets them: outside one, a migration
                // could change a table under a kept statement.
                if self.in_transaction {
                    if self.statements.len() >= STATEMENTS_KEPT {
                        self.statements.clear();
                    }
                    self.statements.insert(sql.to_string(), statement.clone());
                }
                statement
            }
        };
        check_parameters(&statement, params)?;
        let rows = self
            .client
            .query(&statement, &refs)
            .map_err(|e| self.db_error("seed statement failed", e))?;
        rows.iter()
            .map(|row| {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| from_pg_row(row, i, *kind))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.db_error("cannot read a seed result", e))
    }

    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut dyn Iterator<Item = Vec<Value>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        use std::io::Write as _;
        let sql = format!(
            "COPY {} ({}) FROM STDIN",
            super::quote_ident(table),
            super::quote_idents(columns)
        );
        let context = format!("cannot copy into `{table}`");
        let mut writer = self.client.copy_in(&sql).map_err(|e| Error::Database {
            context: context.clone(),
            message: describe(&e),
            source: Some(e.into()),
        })?;
        // Rows are encoded into one buffer and sent in large chunks: one write per row would
        // cost a message each.
        let mut buffer: Vec<u8> = Vec::with_capacity(COPY_CHUNK + 4096);
        let mut count = 0u64;
        let io_error = |e: std::io::Error| Error::Database {
            context: context.clone(),
            message: e.to_string(),
            source: Some(e.into()),
        };
        for row in rows {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    buffer.push(b'\t');
                }
                value.write_copy_text(&mut buffer);
            }
            buffer.push(b'\n');
            count += 1;
            if buffer.len() >= COPY_CHUNK {
                writer.write_all(&buffer).map_err(io_error)?;
                buffer.clear();
                progress(count);
            }
        }
        writer.write_all(&buffer).map_err(io_error)?;
        writer.finish().map_err(|e| Error::Database {
            context: context.clone(),
            message: describe(&e),
            source: Some(e.into()),
        })?;
        progress(count);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_is_stable_and_per_database() {
        assert_eq!(lock_key("plant"), lock_key("plant"));
        assert_ne!(lock_key("plant"), lock_key("plant2"));
        // Every plantdb version must take the same lock on the same database.
        assert_eq!(lock_key("plant"), -3_686_939_696_398_262_125);
    }
}
