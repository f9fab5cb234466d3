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
    /// Check the server's certificate (`sslmode=verify-ca` / `verify-full`).
    pub tls_verify: bool,
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
                // The driver knows disable/prefer/require; verify-ca and verify-full are
                // require plus certificate checks, which the TLS connector does.
                let tls_verify =
                    url.contains("sslmode=verify-ca") || url.contains("sslmode=verify-full");
                let parseable = url
                    .replace("sslmode=verify-ca", "sslmode=require")
                    .replace("sslmode=verify-full", "sslmode=require");
                let mut config: postgres::Config =
                    parseable
                        .parse()
                        .map_err(|e: postgres::Error| Error::InvalidUrl {
                            url: mask_url(url),
                            reason: e.to_string(),
                        })?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
                }
                config.application_name("plantdb");
                if config.get_hosts().is_empty() {
                    default_host(&mut config);
                }
                Ok(Target::Postgres(Box::new(PostgresTarget {
                    config,
                    url: url.to_string(),
                    tls_verify,
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

    pub fn dialect(&self) -> crate::db::Dialect {
        match self {
            Target::Postgres(_) => crate::db::Dialect::Postgres,
            Target::Sqlite(_) => crate::db::Dialect::Sqlite,
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
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|host| match host {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            })
            .collect();
        if hosts.is_empty() {
            format!("localhost:{port}")
        } else {
            hosts.join(",")
        }
    }

    pub fn is_local(&self) -> bool {
        let hosts = self.config.get_hosts();
        !hosts.is_empty()
            && hosts.iter().all(|host| match host {
                postgres::config::Host::Unix(_) => true,
                postgres::config::Host::Tcp(name) => is_loopback(name),
            })
    }
}

/// A URL without a host (`postgresql:///plant`) means what it means to psql: `PGHOST`, else
/// the local server's unix socket, else localhost.
fn default_host(config: &mut postgres::Config) {
    if let Ok(host) = std::env::var("PGHOST")
        && !host.is_empty()
    {
        config.host(&host);
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
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
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
                let secret = k.eq_ignore_ascii_case("password");
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
        if pairs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("password"))
        {
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
    let lower = out.to_ascii_lowercase();
    if let Some(start) = lower.find("password=") {
        let value_start = start + "password=".len();
        let value_end = out[value_start..]
            .find(['&', ' '])
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "****");
    }
    out
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
        }),
        Err(e) => Err(Error::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
