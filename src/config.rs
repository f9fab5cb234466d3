//! Where the database is: `--database-url` > `DATABASE_URL` > `.env` > the embedded SQLite default.
//! Also the one place that knows how to show a URL without its password.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The database a newcomer gets when nothing is configured.
pub const DEFAULT_URL: &str = "sqlite://plantdb.sqlite3";

/// How long a PostgreSQL connection attempt may take unless the URL says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What TimescaleDB should do for the telemetry table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimescalePolicy {
    /// A hypertable when the extension can be used, a plain table otherwise.
    Auto,
    /// Fail clearly when TimescaleDB cannot be used.
    Require,
    /// Always a plain table.
    Off,
}

impl TimescalePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            TimescalePolicy::Auto => "auto",
            TimescalePolicy::Require => "require",
            TimescalePolicy::Off => "off",
        }
    }
}

/// How long telemetry stays uncompressed, and how long it is kept, where TimescaleDB runs the
/// telemetry policies. Read from the environment (or `./.env`); the migrations read them from
/// the session settings the PostgreSQL driver sets, so changing them never changes a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetrySettings {
    pub compress_after: Period,
    pub retain_for: Period,
}

/// The variable of the compression delay.
pub const COMPRESS_AFTER_VARIABLE: &str = "PLANTDB_TELEMETRY_COMPRESS_AFTER";
/// The variable of the retention period.
pub const RETAIN_FOR_VARIABLE: &str = "PLANTDB_TELEMETRY_RETAIN_FOR";

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            compress_after: Period::days(7),
            retain_for: Period::days(365),
        }
    }
}

impl TelemetrySettings {
    /// The settings of the environment; an unset or empty variable means the default.
    pub fn from_env() -> Result<TelemetrySettings> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings `lookup` gives by variable name (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<TelemetrySettings> {
        let defaults = TelemetrySettings::default();
        let read = |name: &'static str, default: Period| -> Result<Period> {
            match lookup(name) {
                Some(value) if !value.trim().is_empty() => {
                    Period::parse(&value).map_err(|reason| Error::Setting {
                        name,
                        value,
                        reason,
                    })
                }
                _ => Ok(default),
            }
        };
        let settings = TelemetrySettings {
            compress_after: read(COMPRESS_AFTER_VARIABLE, defaults.compress_after)?,
            retain_for: read(RETAIN_FOR_VARIABLE, defaults.retain_for)?,
        };
        // Chunks dropped before they are old enough to compress would never be compressed:
        // almost certainly two settings mixed up.
        if settings.retain_for <= settings.compress_after {
            return Err(Error::Setting {
                name: RETAIN_FOR_VARIABLE,
                value: settings.retain_for.to_string(),
                reason: format!(
                    "must be longer than {COMPRESS_AFTER_VARIABLE} ({}): chunks would be \
                     dropped before they are compressed",
                    settings.compress_after
                ),
            });
        }
        Ok(settings)
    }
}

/// A whole number of hours, written the way PostgreSQL reads an interval (`7 days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    hours: u32,
}

impl Period {
    /// The longest period accepted: a hundred years, far beyond any retention, and far from
    /// overflowing PostgreSQL's interval.
    const MAX_HOURS: u32 = 100 * 366 * 24;

    pub const fn days(days: u32) -> Period {
        Period { hours: days * 24 }
    }

    /// Reads `N unit` or `Nunit`, the unit one of hour(s)/h, day(s)/d, week(s)/w.
    pub fn parse(text: &str) -> std::result::Result<Period, String> {
        let text = text.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        if number.is_empty() {
            return Err("expected a whole number followed by a unit (hours, days or weeks)".into());
        }
        let hours_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
            "h" | "hour" | "hours" => 1,
            "d" | "day" | "days" => 24,
            "w" | "week" | "weeks" => 7 * 24,
            "" => return Err("the unit is missing: hours, days or weeks".into()),
            other => {
                return Err(format!("unknown unit `{other}`: use hours, days or weeks"));
            }
        };
        let hours = number
            .parse::<u32>()
            .ok()
            .and_then(|n| n.checked_mul(hours_per_unit))
            .filter(|hours| *hours <= Self::MAX_HOURS)
            .ok_or_else(|| "longer than a hundred years".to_string())?;
        if hours == 0 {
            return Err("must be at least one hour".into());
        }
        Ok(Period { hours })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.hours {
            1 => write!(f, "1 hour"),
            24 => write!(f, "1 day"),
            h if h % 24 == 0 => write!(f, "{} days", h / 24),
            h => write!(f, "{h} hours"),
        }
    }
}

/// What Citus should do for the tables (PostgreSQL): distribute them over the cluster's
/// workers, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CitusPolicy {
    /// Distribute when the database is a Citus coordinator with at least one worker.
    Auto,
    /// Fail clearly, before anything changes, when Citus cannot be used.
    Require,
    /// Never distribute.
    Off,
}

impl CitusPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CitusPolicy::Auto => "auto",
            CitusPolicy::Require => "require",
            CitusPolicy::Off => "off",
        }
    }
}

/// Which of the two databases a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// The folder name under `migrations/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }
}

/// A parsed database URL.
#[derive(Debug, Clone)]
pub enum Target {
    // Boxed: a parsed PostgreSQL config is large, a SQLite path small.
    Postgres(Box<PostgresTarget>),
    Sqlite(SqliteTarget),
}

#[derive(Debug, Clone)]
pub struct PostgresTarget {
    pub config: postgres::Config,
    /// The URL as given, for messages (always shown masked).
    pub url: String,
    /// The certificate checks and files the URL asks for.
    pub tls: TlsOptions,
}

/// How far the server's certificate is checked, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateCheck {
    /// `disable`, `prefer`, `require`: encryption without proof of whom we talk to.
    None,
    /// `verify-ca`: the certificate is signed by a trusted CA, whatever host it names.
    Chain,
    /// `verify-full`: that, and it names the host of the URL.
    ChainAndHost,
}

/// Where the CA certificates that the server's certificate must chain to come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCertificates {
    /// `sslrootcert=FILE`: one or more PEM certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the operating system's trust store.
    System,
}

/// The TLS options of a URL that the driver's own parser does not know (libpq's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub check: CertificateCheck,
    /// `sslrootcert`; `None` means libpq's default, `~/.postgresql/root.crt`.
    pub root: Option<RootCertificates>,
    /// `sslcert` and `sslkey`: a client certificate and its key (PEM; the key PKCS#8, PKCS#1 or SEC1).
    pub client: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteTarget {
    File(PathBuf),
    Memory,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let url = url.trim();
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return Ok(Target::Sqlite(parse_sqlite(url, rest)?));
        }
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("postgres" | "postgresql") => {
                let invalid = |reason: String| Error::InvalidUrl {
                    url: mask_url(url),
                    reason,
                };
                let (parseable, tls) = split_libpq_options(url).map_err(invalid)?;
                let mut config: postgres::Config = parseable
                    .parse()
                    .map_err(|e: postgres::Error| invalid(e.to_string()))?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
                }
                // What operators see in pg_stat_activity, unless the URL names the session.
                if config.get_application_name().is_none() {
                    config.application_name("plantdb");
                }
                if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
                    default_host(&mut config, |name| std::env::var(name).ok());
                }
                Ok(Target::Postgres(Box::new(PostgresTarget {
                    config,
                    url: url.to_string(),
                    tls,
                })))
            }
            Some(other) => Err(Error::UnknownScheme {
                url: mask_url(url),
                scheme: other.to_string(),
            }),
            None => Err(Error::InvalidUrl {
                url: mask_url(url),
                reason: "expected SCHEME://… (postgres://, postgresql:// or sqlite://)".into(),
            }),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Target::Postgres(_) => Dialect::Postgres,
            Target::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The URL with any password replaced by `****`.
    pub fn display(&self) -> String {
        match self {
            Target::Postgres(pg) => mask_url(&pg.url),
            Target::Sqlite(SqliteTarget::Memory) => "sqlite::memory:".into(),
            Target::Sqlite(SqliteTarget::File(path)) => format!("sqlite://{}", path.display()),
        }
    }

    /// True when the database lives on this machine: a SQLite file, a unix socket, or a
    /// loopback host. Commands that destroy or invent data are only done freely here.
    pub fn is_local(&self) -> bool {
        match self {
            Target::Sqlite(_) => true,
            Target::Postgres(pg) => pg.is_local(),
        }
    }
}

impl PostgresTarget {
    pub fn dbname(&self) -> String {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
            .to_string()
    }

    pub fn user(&self) -> String {
        self.config.get_user().unwrap_or("postgres").to_string()
    }

    /// `host:port` as the user would recognise it, for messages.
    pub fn host_display(&self) -> String {
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let addrs = self.config.get_hostaddrs();
        let mut hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = match host {
                    postgres::config::Host::Tcp(name) => name.clone(),
                    postgres::config::Host::Unix(path) => path.display().to_string(),
                };
                // hostaddr is where the connection goes: show it with the name.
                match addrs.get(i) {
                    Some(addr) => format!("{name}:{port} (address {addr})"),
                    None => format!("{name}:{port}"),
                }
            })
            .collect();
        if hosts.is_empty() {
            hosts = addrs.iter().map(|addr| format!("{addr}:{port}")).collect();
        }
        if hosts.is_empty() {
            format!("localhost:{port}")
        } else {
            hosts.join(",")
        }
    }

    /// True when every address plantdb may connect to is on this machine: each host is a
    /// unix socket or a loopback address, and so is each `hostaddr` (which, where given, is
    /// where the connection really goes). Decided from the URL alone, before connecting.
    pub fn is_local(&self) -> bool {
        let hosts = self.config.get_hosts();
        let hostaddrs = self.config.get_hostaddrs();
        !(hosts.is_empty() && hostaddrs.is_empty())
            && hosts.iter().all(|host| match host {
                postgres::config::Host::Unix(_) => true,
                postgres::config::Host::Tcp(name) => is_loopback(name),
            })
            && hostaddrs.iter().all(|ip| is_loopback_ip(*ip))
    }

    /// The connect timeout in force (the URL's, else the default).
    pub fn connect_timeout(&self) -> Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// A URL without a host (`postgresql:///plant`) means what it means to psql: `PGHOST` and
/// `PGHOSTADDR`, else the local server's unix socket, else localhost. `env` reads a variable.
fn default_host(config: &mut postgres::Config, env: impl Fn(&str) -> Option<String>) {
    let from_env = |name: &str| env(name).filter(|value| !value.is_empty());
    let pghost = from_env("PGHOST");
    let pghostaddr = from_env("PGHOSTADDR");
    if pghost.is_some() || pghostaddr.is_some() {
        // Lists, as libpq reads them; `is_local` then sees every entry.
        for host in pghost.iter().flat_map(|list| list.split(',')) {
            config.host(host);
        }
        for addr in pghostaddr.iter().flat_map(|list| list.split(',')) {
            match addr.trim().parse() {
                Ok(ip) => config.hostaddr(ip),
                // Not an address: kept as a host name, so it is neither lost nor trusted.
                Err(_) => config.host(addr),
            };
        }
        return;
    }
    // Debian's socket directory first, then the upstream default.
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let socket_dir = ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|dir| Path::new(dir).join(format!(".s.PGSQL.{port}")).exists());
    match socket_dir {
        Some(dir) => config.host_path(dir),
        None => config.host("localhost"),
    };
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(is_loopback_ip)
}

/// `127.0.0.0/8`, `::1`, and `::ffff:127.x.y.z` (the same IPv4 loopback, written as IPv6).
fn is_loopback_ip(ip: std::net::IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Takes out of a PostgreSQL URL what the driver's parser does not understand, as libpq
/// means it: `sslmode=verify-ca|verify-full` (the driver then sees `require`; the checks are
/// ours), `sslrootcert`, `sslcert`, `sslkey`; and splits `host=a,b` into one `host` each, so
/// `host=/tmp,db.example.com` is a socket and a TCP host as in libpq, not one odd path.
fn split_libpq_options(url: &str) -> std::result::Result<(String, TlsOptions), String> {
    use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
    let mut tls = TlsOptions {
        check: CertificateCheck::None,
        root: None,
        client: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tls));
    };
    let decode = |text: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|value| value.into_owned())
            .map_err(|_| format!("`{text}` is not valid UTF-8 once decoded"))
    };
    let mut kept: Vec<String> = Vec::new();
    let mut sslmode: Option<String> = None;
    let (mut cert, mut key) = (None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(raw_value)?;
        match decode(raw_key)?.as_str() {
            "sslmode" => sslmode = Some(value),
            "sslrootcert" if value == "system" => tls.root = Some(RootCertificates::System),
            "sslrootcert" => tls.root = Some(RootCertificates::File(PathBuf::from(value))),
            "sslcert" => cert = Some(PathBuf::from(value)),
            "sslkey" => key = Some(PathBuf::from(value)),
            "host" => kept.extend(
                value
                    .split(',')
                    .map(|host| format!("host={}", utf8_percent_encode(host, NON_ALPHANUMERIC))),
            ),
            _ => kept.push(pair.to_string()),
        }
    }
    tls.check = match sslmode.as_deref() {
        Some("verify-ca") => CertificateCheck::Chain,
        Some("verify-full") => CertificateCheck::ChainAndHost,
        // libpq: with the system's store, only verify-full is safe (any public certificate
        // would pass a chain-only check), so it is the default there.
        None if tls.root == Some(RootCertificates::System) => CertificateCheck::ChainAndHost,
        // libpq: `require` with a CA file checks the chain, as `verify-ca` does.
        Some("require") if matches!(tls.root, Some(RootCertificates::File(_))) => {
            CertificateCheck::Chain
        }
        _ => CertificateCheck::None,
    };
    if tls.root == Some(RootCertificates::System) && tls.check != CertificateCheck::ChainAndHost {
        return Err(
            "`sslrootcert=system` needs `sslmode=verify-full`: the system trusts certificates \
             of every public host, so checking the chain alone proves nothing"
                .into(),
        );
    }
    tls.client = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err("`sslcert` needs `sslkey`, the file of its private key".into());
        }
        (None, Some(_)) => return Err("`sslkey` needs `sslcert`, the client certificate".into()),
    };
    let driver_sslmode = match sslmode.as_deref() {
        _ if tls.check != CertificateCheck::None => Some("require"),
        other => other,
    };
    if let Some(mode) = driver_sslmode {
        kept.push(format!("sslmode={mode}"));
    }
    if kept.is_empty() {
        return Ok((base.to_string(), tls));
    }
    Ok((format!("{base}?{}", kept.join("&")), tls))
}

fn parse_sqlite(url: &str, rest: &str) -> Result<SqliteTarget> {
    if rest == ":memory:" || rest == "memory:" {
        return Ok(SqliteTarget::Memory);
    }
    // Query options are not supported; refusing them beats silently ignoring them.
    if rest.contains('?') {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: "SQLite URLs take a path only, no `?` options".into(),
        });
    }
    if rest.is_empty() {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: "the SQLite path is empty".into(),
        });
    }
    Ok(SqliteTarget::File(PathBuf::from(rest)))
}

/// Replaces the password of a URL (userinfo or `password=` option) with `****`.
/// Works on strings that are not valid URLs too, because errors show what the user typed.
pub fn mask_url(raw: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(raw)
        && parsed.has_host()
    {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("****"));
        }
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_option(&k);
                (
                    k.into_owned(),
                    if secret {
                        "****".into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        if pairs.iter().any(|(k, _)| is_secret_option(k)) {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    mask_loosely(raw)
}

/// Fallback for strings the URL parser rejects: hide `user:secret@` and `password=secret`.
fn mask_loosely(raw: &str) -> String {
    let mut out = raw.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find('/')
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(authority_start + colon + 1..authority_start + at, "****");
            }
        }
    }
    // Every `…password=` (libpq's `password` and `sslpassword`), however many there are.
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("password=") {
        let value_start = from + found + "password=".len();
        let value_end = out[value_start..]
            .find(['&', ' '])
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "****");
        from = value_start + "****".len();
    }
    out
}

/// Query options that hold a secret: libpq's `password`, and `sslpassword` (the client key's).
fn is_secret_option(key: &str) -> bool {
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("sslpassword")
}

/// Loads `.env` from the working directory into the environment (existing variables win), so
/// that `DATABASE_URL`, `PLANTDB_TIMESCALE` and friends can live there.
pub fn load_dotenv(dir: &Path) -> Result<()> {
    let path = dir.join(".env");
    if !path.exists() {
        return Ok(());
    }
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::LineParse(line, index)) => Err(Error::Config {
            path: path.display().to_string(),
            reason: format!(
                "cannot parse `{}` (at character {})",
                mask_loosely(&line),
                index + 1
            ),
            source: None,
        }),
        Err(e) => Err(Error::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
            source: Some(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_periods_read_hours_days_and_weeks_and_print_as_postgresql_intervals() {
        for (text, shown) in [
            ("7 days", "7 days"),
            ("7d", "7 days"),
            (" 2 Weeks ", "14 days"),
            ("36 hours", "36 hours"),
            ("48h", "2 days"),
            ("1 day", "1 day"),
            ("1 hour", "1 hour"),
        ] {
            assert_eq!(Period::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for (text, reason) in [
            ("7 dais", "unknown unit `dais`"),
            ("7", "unit is missing"),
            ("days", "whole number"),
            ("-3 days", "whole number"),
            ("0 days", "at least one hour"),
            ("99999999 weeks", "hundred years"),
        ] {
            let err = Period::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn telemetry_settings_default_to_a_week_and_a_year_and_name_the_bad_variable() {
        let unset = TelemetrySettings::from_lookup(|_| None).unwrap();
        assert_eq!(unset.compress_after.to_string(), "7 days");
        assert_eq!(unset.retain_for.to_string(), "365 days");

        let set = TelemetrySettings::from_lookup(|name| {
            (name == COMPRESS_AFTER_VARIABLE).then(|| "2 days".to_string())
        })
        .unwrap();
        assert_eq!(set.compress_after.to_string(), "2 days");

        let err = TelemetrySettings::from_lookup(|name| {
            (name == RETAIN_FOR_VARIABLE).then(|| "a year".to_string())
        })
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("PLANTDB_TELEMETRY_RETAIN_FOR"),
            "{message}"
        );
        assert!(message.contains("`a year`"), "{message}");
        assert!(err.hint().is_some());

        let err = TelemetrySettings::from_lookup(|name| {
            (name == RETAIN_FOR_VARIABLE).then(|| "5 days".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("must be longer than PLANTDB_TELEMETRY_COMPRESS_AFTER (7 days)"),
            "{err}"
        );
    }

    #[test]
    fn masks_password_in_userinfo() {
        let masked = mask_url("postgres://alice:hunter2@db.example.com:5432/plant");
        assert_eq!(masked, "postgres://alice:****@db.example.com:5432/plant");
    }

    #[test]
    fn masks_password_option_and_leaves_other_options() {
        let masked = mask_url("postgresql://alice@db/plant?password=hunter2&sslmode=require");
        assert!(!masked.contains("hunter2"), "{masked}");
        assert!(masked.contains("sslmode=require"), "{masked}");
    }

    #[test]
    fn masks_unparsable_urls_too() {
        let masked = mask_url("postgres://alice:hun ter2@db:notaport/plant");
        assert!(!masked.contains("hun ter2"), "{masked}");
        assert!(masked.contains("alice:****@"), "{masked}");
    }

    #[test]
    fn masks_every_password_option_including_libpqs_sslpassword() {
        for url in [
            "postgres://alice@db/plant?sslpassword=hunter2&sslmode=require",
            "postgres://alice@db/plant?password=hunter1&SSLPassword=hunter2",
            // Unparsable: the fallback masks every occurrence, not only the first.
            "postgres://alice@db:notaport/plant?password=hunter1&sslpassword=hunter2",
            "postgres://alice@db:notaport/plant?password=hunter1&password=hunter2",
        ] {
            let masked = mask_url(url);
            assert!(!masked.contains("hunter"), "{url}: {masked}");
            assert!(masked.contains("****"), "{url}: {masked}");
        }
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let url = "postgres://alice@localhost/plant";
        assert_eq!(mask_url(url), url);
    }

    #[test]
    fn parses_sqlite_forms() {
        assert!(matches!(
            Target::parse("sqlite::memory:"),
            Ok(Target::Sqlite(SqliteTarget::Memory))
        ));
        match Target::parse("sqlite://data/plant.db") {
            Ok(Target::Sqlite(SqliteTarget::File(p))) => assert_eq!(p, Path::new("data/plant.db")),
            other => panic!("{other:?}"),
        }
        match Target::parse("sqlite:/abs/plant.db") {
            Ok(Target::Sqlite(SqliteTarget::File(p))) => assert_eq!(p, Path::new("/abs/plant.db")),
            other => panic!("{other:?}"),
        }
        match Target::parse("sqlite:///abs/plant.db") {
            Ok(Target::Sqlite(SqliteTarget::File(p))) => assert_eq!(p, Path::new("/abs/plant.db")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_scheme_without_leaking_password() {
        let err = Target::parse("mysql://root:topsecret@db/x").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::UnknownScheme { ref scheme, .. } if scheme == "mysql"));
        assert!(!text.contains("topsecret"), "{text}");
    }

    #[test]
    fn postgres_url_gets_a_bounded_connect_timeout() {
        let Ok(Target::Postgres(pg)) = Target::parse("postgres://u@localhost/db") else {
            panic!("not postgres")
        };
        assert_eq!(
            pg.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
        let Ok(Target::Postgres(pg)) = Target::parse("postgres://u@localhost/db?connect_timeout=3")
        else {
            panic!("not postgres")
        };
        assert_eq!(
            pg.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
    }

    #[test]
    fn a_url_without_host_gets_a_local_one() {
        let Ok(Target::Postgres(pg)) = Target::parse("postgresql:///plant") else {
            panic!("not postgres")
        };
        assert_eq!(pg.config.get_hosts().len(), 1);
        assert!(pg.is_local());
        assert_eq!(pg.dbname(), "plant");
    }

    #[test]
    fn locality() {
        let local = |u: &str| Target::parse(u).map(|t| t.is_local()).unwrap_or(false);
        assert!(local("postgres://u@localhost/db"));
        assert!(local("postgres://u@127.0.0.2/db"));
        assert!(local("postgres://u@[::1]/db"));
        assert!(local("postgresql:///db?host=/var/run/postgresql"));
        assert!(!local("postgres://u@db.example.com/db"));
        assert!(!local("postgres://u@10.0.0.5/db"));
        assert!(local("sqlite://x.db"));
    }

    #[test]
    fn every_host_and_hostaddr_must_be_local() {
        let local = |u: &str| Target::parse(u).map(|t| t.is_local()).unwrap();
        // hostaddr is where the connection really goes, whatever the host says.
        assert!(!local("postgres://u@127.0.0.1/db?hostaddr=192.0.2.1"));
        assert!(!local("postgres://u@localhost/db?hostaddr=192.0.2.1"));
        assert!(!local("postgres://u@[::1]/db?hostaddr=2001:db8::1"));
        assert!(!local("postgresql:///db?hostaddr=192.0.2.1"));
        assert!(local("postgres://u@localhost/db?hostaddr=127.0.0.1"));
        assert!(local("postgres://u@localhost/db?hostaddr=::1"));
        // Host lists, in the authority and in the query, with sockets among them.
        assert!(!local("postgres://u@localhost,192.0.2.1/db"));
        assert!(!local("postgres://u@[::1],[2001:db8::1]/db"));
        assert!(!local("postgresql:///db?host=/tmp,192.0.2.1"));
        assert!(!local("postgresql:///db?host=%2Ftmp,192.0.2.1"));
        assert!(!local("postgresql:///db?host=/tmp&host=192.0.2.1"));
        assert!(!local("postgres://u@127.0.0.1/db?host=192.0.2.1"));
        assert!(local("postgresql:///db?host=/tmp,127.0.0.1,localhost"));
        // The IPv4 loopback written as IPv6.
        assert!(local("postgres://u@[::ffff:127.0.0.1]/db"));
        assert!(!local("postgres://u@[::ffff:192.0.2.1]/db"));
    }

    #[test]
    fn a_host_list_in_the_query_is_split_as_libpq_does() {
        let Ok(Target::Postgres(pg)) = Target::parse("postgresql:///db?host=/tmp,192.0.2.1") else {
            panic!("not postgres")
        };
        assert_eq!(
            pg.config.get_hosts(),
            [
                postgres::config::Host::Unix(PathBuf::from("/tmp")),
                postgres::config::Host::Tcp("192.0.2.1".into())
            ]
        );
    }

    #[test]
    fn pghost_and_pghostaddr_count_where_the_url_names_no_host() {
        let local_with = |vars: &[(&str, &str)]| {
            let mut config: postgres::Config = "postgresql:///db".parse().unwrap();
            default_host(&mut config, |name| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| value.to_string())
            });
            PostgresTarget {
                config,
                url: String::new(),
                tls: split_libpq_options("").unwrap().1,
            }
            .is_local()
        };
        assert!(local_with(&[("PGHOST", "/var/run/postgresql")]));
        assert!(local_with(&[("PGHOST", "localhost,127.0.0.1")]));
        assert!(!local_with(&[("PGHOST", "/tmp,192.0.2.1")]));
        assert!(!local_with(&[("PGHOSTADDR", "192.0.2.1")]));
        assert!(!local_with(&[
            ("PGHOST", "localhost"),
            ("PGHOSTADDR", "192.0.2.1")
        ]));
        assert!(local_with(&[
            ("PGHOST", "localhost"),
            ("PGHOSTADDR", "127.0.0.1")
        ]));
        assert!(!local_with(&[("PGHOSTADDR", "not-an-address")]));
        assert!(local_with(&[]));
    }

    #[test]
    fn libpq_tls_options_are_understood() {
        let tls = |u: &str| match Target::parse(u) {
            Ok(Target::Postgres(pg)) => Ok(pg.tls),
            Ok(_) => panic!("not postgres"),
            Err(e) => Err(e.to_string()),
        };
        let base = "postgres://u:pw@127.0.0.1/db";
        assert_eq!(tls(base).unwrap().check, CertificateCheck::None);
        assert_eq!(
            tls(&format!("{base}?sslmode=verify-ca")).unwrap().check,
            CertificateCheck::Chain
        );
        let full = tls(&format!(
            "{base}?sslmode=verify-full&sslrootcert=/etc/ca%20dir/ca.pem&sslcert=c.pem&sslkey=k.pem"
        ))
        .unwrap();
        assert_eq!(full.check, CertificateCheck::ChainAndHost);
        assert_eq!(
            full.root,
            Some(RootCertificates::File(PathBuf::from("/etc/ca dir/ca.pem")))
        );
        assert_eq!(
            full.client,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        // libpq: `system` defaults to verify-full and refuses anything weaker.
        let system = tls(&format!("{base}?sslrootcert=system")).unwrap();
        assert_eq!(
            (system.check, system.root),
            (
                CertificateCheck::ChainAndHost,
                Some(RootCertificates::System)
            )
        );
        let weak = tls(&format!("{base}?sslrootcert=system&sslmode=verify-ca")).unwrap_err();
        assert!(
            weak.contains("verify-full") && !weak.contains("pw@"),
            "{weak}"
        );
        // libpq: `require` with a CA file checks the chain.
        assert_eq!(
            tls(&format!("{base}?sslmode=require&sslrootcert=ca.pem"))
                .unwrap()
                .check,
            CertificateCheck::Chain
        );
        let half = tls(&format!("{base}?sslcert=c.pem")).unwrap_err();
        assert!(half.contains("`sslcert` needs `sslkey`"), "{half}");
        // The driver still gets the options it knows.
        let Ok(Target::Postgres(pg)) = Target::parse(&format!(
            "{base}?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=4"
        )) else {
            panic!("not postgres")
        };
        assert_eq!(pg.config.get_ssl_mode(), postgres::config::SslMode::Require);
        assert_eq!(pg.connect_timeout(), Duration::from_secs(4));
    }
}
