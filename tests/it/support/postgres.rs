//! A throwaway PostgreSQL server shared by the whole test binary, and one fresh database per
//! test on it.
//!
//! The server is started lazily, once, from the installed binaries (PostgreSQL 15 preferred),
//! with its data directory and unix socket in a temporary directory and TCP on a free port of
//! 127.0.0.1. `PLANTDB_TEST_DATABASE_URL`, when set, names an existing server to use instead
//! (a superuser URL).
//!
//! Cleanup: a static is never dropped, so nothing in this process can stop the server at exit.
//! Instead the server runs under a small shell watchdog whose stdin is a pipe from this
//! process. The write end is held in the static and closes only when the test binary exits
//! (however it exits, even on SIGKILL); the watchdog then reads end-of-file, stops the server
//! (fast shutdown) and deletes the temporary directory. The watchdog has its own process group,
//! so a Ctrl-C on `cargo test` reaches the test binary but not the server, which is then shut
//! down by the same path.
//!
//! Nothing is written outside that temporary directory: the server runs from a private
//! "shadow installation" there (see [`build_shadow_installation`]), which offers the
//! `timescaledb` extension: the real one when this machine has it (or when
//! `PLANTDB_TEST_TIMESCALEDB_DIR` names a TimescaleDB staged with `DESTDIR`), otherwise the
//! stand-in of `support/timescale_standin/`. A real TimescaleDB has to be preloaded, so
//! [`PgDatabase::with_timescaledb`] databases then live on a second server that preloads it;
//! the shared server never preloads it, so `--timescale auto` finds the extension unusable
//! there on every machine.
//!
//! No server, no tests: when none can be had, every test that asks for one panics with the
//! reason (and how to install PostgreSQL); with `CI` set the message says so, and never skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// The password role the TCP URLs log in as (a superuser).
pub const TEST_ROLE: &str = "plantdb_test";
/// Its password; tests check that it never shows in plantdb's output.
pub const TEST_PASSWORD: &str = "s3cret-test-pw";

/// Superuser URL of an existing server to use instead of starting one.
const URL_VARIABLE: &str = "PLANTDB_TEST_DATABASE_URL";
/// The root a TimescaleDB was installed into with `make install DESTDIR=...`, to test against
/// it without installing it system-wide.
const TIMESCALEDB_DIR_VARIABLE: &str = "PLANTDB_TEST_TIMESCALEDB_DIR";
/// The root Citus was installed into with `make install DESTDIR=...`, for the Citus cluster of
/// `support::citus` (only its servers are given Citus).
const CITUS_DIR_VARIABLE: &str = "PLANTDB_TEST_CITUS_DIR";
const STANDIN_MARKER: &str = "plantdb test stand-in for TimescaleDB";
const STANDIN_CONTROL: &str = include_str!("timescale_standin/timescaledb.control");
const STANDIN_SQL: &str = include_str!("timescale_standin/timescaledb--0.0.0-standin.sql");
const STANDIN_SQL_FILE: &str = "timescaledb--0.0.0-standin.sql";

/// A fresh, empty database on the shared server, dropped when this value is dropped, unless
/// the test is panicking: then it is kept for a look and its name printed.
pub struct PgDatabase {
    /// TCP URL that logs in as [`TEST_ROLE`] with [`TEST_PASSWORD`] (or, with
    /// `PLANTDB_TEST_DATABASE_URL`, with that URL's credentials).
    pub url: String,
    pub name: String,
    server: &'static Server,
}

impl PgDatabase {
    pub fn new() -> PgDatabase {
        PgDatabase::on(server())
    }

    /// A fresh database where `CREATE EXTENSION timescaledb` works: the real TimescaleDB
    /// when there is one, else the stand-in ([`timescaledb_kind`] tells which).
    pub fn with_timescaledb() -> PgDatabase {
        match timescale_server_and_kind() {
            Ok((server, _)) => PgDatabase::on(server),
            Err(reason) => panic!("no TimescaleDB for the tests: {reason}"),
        }
    }

    /// A fresh database on a second throwaway server of its own (started on first use, once
    /// per test binary), for tests that work on databases of more than one server.
    pub fn on_second_server() -> PgDatabase {
        static SECOND_SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
        match SECOND_SERVER.get_or_init(|| start_with_retries(ServerOptions::default())) {
            Ok(server) => PgDatabase::on(server),
            Err(reason) => panic!("cannot start the second PostgreSQL test server: {reason}"),
        }
    }

    fn on(server: &'static Server) -> PgDatabase {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "plantdb_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        server
            .admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create test database `{name}`: {e}"));
        PgDatabase {
            url: server.tcp_url(&name),
            name,
            server,
        }
    }

    /// URL of the same database over the server's unix socket, as `postgres` (trusted):
    /// `postgresql:///NAME?host=/socket/dir&port=PORT&user=postgres`.
    pub fn socket_url(&self) -> String {
        self.server.socket_url(&self.name)
    }

    /// A connection over TCP with the password.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to test database `{}`: {e}", self.name))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let note = if self.server.external {
                ""
            } else {
                " (the throwaway server goes away when the test binary exits; \
                 set PLANTDB_TEST_DATABASE_URL to keep it)"
            };
            eprintln!(
                "keeping PostgreSQL database `{}` of the failed test{note}",
                self.name
            );
            return;
        }
        // WITH (FORCE) ends connections a test leaked (an open Client, a killed CLI).
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.server.admin().batch_execute(&drop) {
            eprintln!("cannot drop test database `{}`: {e}", self.name);
        }
    }
}

/// TCP URL with the password for database `db` on the shared server.
pub fn server_url_for(db: &str) -> String {
    server().tcp_url(db)
}

/// Which TimescaleDB the test servers offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimescaleKind {
    /// A real TimescaleDB, installed on this machine or staged (`PLANTDB_TEST_TIMESCALEDB_DIR`).
    Real,
    /// `support/timescale_standin/`: records `create_hypertable` calls, nothing more.
    StandIn,
}

/// The TimescaleDB that [`PgDatabase::with_timescaledb`] databases can `CREATE EXTENSION`.
pub fn timescaledb_kind() -> TimescaleKind {
    match timescale_server_and_kind() {
        Ok((_, kind)) => *kind,
        Err(reason) => panic!("no TimescaleDB for the tests: {reason}"),
    }
}

fn timescale_server_and_kind() -> &'static Result<(&'static Server, TimescaleKind), String> {
    static TIMESCALE: OnceLock<Result<(&'static Server, TimescaleKind), String>> = OnceLock::new();
    TIMESCALE.get_or_init(|| {
        let shared = server();
        if shared.external {
            return external_timescale_kind(shared).map(|kind| (shared, kind));
        }
        match installation()?.timescaledb {
            // The stand-in needs no preloading: the shared server offers it to every database.
            None => Ok((shared, TimescaleKind::StandIn)),
            // A real TimescaleDB must be in shared_preload_libraries before CREATE EXTENSION,
            // and preloading it on the shared server would change what `--timescale auto`
            // finds there; so it gets a server of its own.
            Some(_) => {
                let options = ServerOptions {
                    tls: false,
                    preload_timescaledb: true,
                    ..ServerOptions::default()
                };
                let server = start_with_retries(options)
                    .map_err(|e| format!("cannot start the TimescaleDB test server: {e}"))?;
                Ok((&*Box::leak(Box::new(server)), TimescaleKind::Real))
            }
        }
    })
}

fn external_timescale_kind(server: &Server) -> Result<TimescaleKind, String> {
    let row = server
        .admin()
        .query_opt(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'",
            &[],
        )
        .map_err(|e| format!("cannot ask {URL_VARIABLE} for its extensions: {e}"))?;
    match row.map(|row| row.get::<_, String>(0)) {
        None => Err(format!(
            "the server of {URL_VARIABLE} offers no `timescaledb` extension (install \
             TimescaleDB there, or the stand-in of tests/it/support/timescale_standin/)"
        )),
        Some(version) if version.contains("standin") => Ok(TimescaleKind::StandIn),
        Some(_) => Ok(TimescaleKind::Real),
    }
}

/// The PostgreSQL installation the throwaway servers run from, as `pg_config` describes it.
struct Installation {
    bindir: PathBuf,
    sharedir: PathBuf,
    pkglibdir: PathBuf,
    /// `None`: no real TimescaleDB, the shadow installations get the stand-in.
    timescaledb: Option<RealTimescale>,
    /// Citus for the cluster's servers: `None` when this machine has none; a bad
    /// `PLANTDB_TEST_CITUS_DIR` fails only the servers that want Citus.
    citus: Result<Option<RealExtension>, String>,
}

/// A real extension, TimescaleDB's or Citus's, installed or staged.
type RealExtension = RealTimescale;

enum RealTimescale {
    /// In the installation's own extension and library directories.
    Installed,
    /// Staged elsewhere: extension files (control, SQL) and libraries to add.
    Staged {
        extension: Vec<PathBuf>,
        libraries: Vec<PathBuf>,
    },
}

fn installation() -> Result<&'static Installation, String> {
    static INSTALLATION: OnceLock<Result<Installation, String>> = OnceLock::new();
    INSTALLATION
        .get_or_init(find_installation)
        .as_ref()
        .map_err(Clone::clone)
}

fn find_installation() -> Result<Installation, String> {
    let bindir = find_bindir()?;
    let pg_config = |flag: &str| -> Result<PathBuf, String> {
        let output = Command::new(bindir.join("pg_config"))
            .arg(flag)
            .output()
            .map_err(|e| format!("cannot run {}/pg_config: {e}", bindir.display()))?;
        if !output.status.success() {
            return Err(format!("{}/pg_config {flag} failed", bindir.display()));
        }
        Ok(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ))
    };
    let sharedir = pg_config("--sharedir")?;
    let pkglibdir = pg_config("--pkglibdir")?;
    let timescaledb = match std::env::var_os(TIMESCALEDB_DIR_VARIABLE) {
        Some(root) if !root.is_empty() => Some(staged_extension(
            "timescaledb",
            TIMESCALEDB_DIR_VARIABLE,
            Path::new(&root),
            &sharedir,
            &pkglibdir,
        )?),
        _ => {
            let control = sharedir.join("extension").join("timescaledb.control");
            let real = std::fs::read_to_string(&control)
                .is_ok_and(|text| !text.contains(STANDIN_MARKER))
                && pkglibdir.join("timescaledb.so").is_file();
            real.then_some(RealTimescale::Installed)
        }
    };
    let citus = match std::env::var_os(CITUS_DIR_VARIABLE) {
        Some(root) if !root.is_empty() => staged_extension(
            "citus",
            CITUS_DIR_VARIABLE,
            Path::new(&root),
            &sharedir,
            &pkglibdir,
        )
        .map(Some),
        _ => Ok((sharedir.join("extension").join("citus.control").is_file()
            && pkglibdir.join("citus.so").is_file())
        .then_some(RealExtension::Installed)),
    };
    Ok(Installation {
        bindir,
        sharedir,
        pkglibdir,
        timescaledb,
        citus,
    })
}

/// An extension (`name`: TimescaleDB or Citus) installed with `DESTDIR=root`, as `variable`
/// says: its files sit under `root` at the paths of the installation's own directories.
fn staged_extension(
    name: &str,
    variable: &str,
    root: &Path,
    sharedir: &Path,
    pkglibdir: &Path,
) -> Result<RealExtension, String> {
    let timescale_files = |dir: &Path, suffix: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|file| file.starts_with(name) && file.ends_with(suffix))
            })
            .collect();
        files.sort();
        files
    };
    let extension_dir = under(root, &sharedir.join("extension"));
    let extension = timescale_files(&extension_dir, "");
    let libraries = timescale_files(&under(root, pkglibdir), ".so");
    if !extension
        .iter()
        .any(|f| f.ends_with(format!("{name}.control")))
        || libraries.is_empty()
    {
        return Err(format!(
            "{variable} names `{}`, which holds no {name} installed with \
             DESTDIR (looked for {}/{name}.control and {name}*.so under {})",
            root.display(),
            extension_dir.display(),
            under(root, pkglibdir).display()
        ));
    }
    Ok(RealTimescale::Staged {
        extension,
        libraries,
    })
}

/// `absolute` re-rooted at `root`.
fn under(root: &Path, absolute: &Path) -> PathBuf {
    root.join(absolute.strip_prefix("/").unwrap_or(absolute))
}

/// Builds a private copy of the installation under `root`, so the test server can load
/// extensions the system does not have without anything being written to system
/// directories.
///
/// PostgreSQL finds its share and library directories relative to the real path of the
/// running `postgres` executable (symbolic links resolved). So the executable is copied, and
/// the share and library trees are rebuilt beside it at the same relative places, made of
/// symbolic links to the real entries; only the extension directory gets files of its own:
/// the TimescaleDB stand-in, or a staged real TimescaleDB. Returns the copied `postgres`.
fn build_shadow_installation(
    installation: &Installation,
    root: &Path,
    options: ServerOptions,
) -> Result<PathBuf, String> {
    let bindir = under(root, &installation.bindir);
    let sharedir = under(root, &installation.sharedir);
    let extension_dir = sharedir.join("extension");
    let pkglibdir = under(root, &installation.pkglibdir);
    for dir in [&bindir, &extension_dir, &pkglibdir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let postgres = bindir.join("postgres");
    std::fs::copy(installation.bindir.join("postgres"), &postgres)
        .map_err(|e| format!("cannot copy `postgres` to {}: {e}", postgres.display()))?;
    link_entries(&installation.sharedir, &sharedir, |name| {
        name != "extension"
    })?;
    link_entries(
        &installation.sharedir.join("extension"),
        &extension_dir,
        |name| !is_standin_leftover(&installation.sharedir.join("extension"), name),
    )?;
    link_entries(&installation.pkglibdir, &pkglibdir, |_| true)?;
    if options.citus {
        match &installation.citus {
            Err(reason) => return Err(reason.clone()),
            Ok(None) => {
                return Err(format!(
                    "no Citus on this machine: build it and set {CITUS_DIR_VARIABLE} to the \
                     root it was installed into with `make install DESTDIR=...` (README, Citus)"
                ));
            }
            Ok(Some(RealExtension::Installed)) => {}
            Ok(Some(RealExtension::Staged {
                extension,
                libraries,
            })) => link_staged(extension, &extension_dir, libraries, &pkglibdir)?,
        }
    }
    match &installation.timescaledb {
        Some(RealTimescale::Installed) => {}
        Some(RealTimescale::Staged {
            extension,
            libraries,
        }) => link_staged(extension, &extension_dir, libraries, &pkglibdir)?,
        None => {
            for (file, text) in [
                ("timescaledb.control", STANDIN_CONTROL),
                (STANDIN_SQL_FILE, STANDIN_SQL),
            ] {
                let path = extension_dir.join(file);
                let _ = std::fs::remove_file(&path);
                std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
    }
    Ok(postgres)
}

/// Links a staged extension's files into the shadow installation's directories.
fn link_staged(
    extension: &[PathBuf],
    extension_dir: &Path,
    libraries: &[PathBuf],
    pkglibdir: &Path,
) -> Result<(), String> {
    for (files, dir) in [(extension, extension_dir), (libraries, pkglibdir)] {
        for file in files {
            let link = dir.join(file.file_name().unwrap_or_default());
            // A staged file replaces the installation's own copy, if any.
            let _ = std::fs::remove_file(&link);
            symlink(file, &link)?;
        }
    }
    Ok(())
}

/// Files an older version of this harness copied into the system's extension directory; they
/// are never offered to the test server, which gets its own stand-in.
fn is_standin_leftover(extension_dir: &Path, name: &str) -> bool {
    name == STANDIN_SQL_FILE
        || (name == "timescaledb.control"
            && std::fs::read_to_string(extension_dir.join(name))
                .is_ok_and(|text| text.contains(STANDIN_MARKER)))
}

/// Symbolic links in `to` to each entry of `from` that `keep` accepts.
fn link_entries(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) -> Result<(), String> {
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", from.display()))?;
        let name = entry.file_name();
        if keep(&name.to_string_lossy()) {
            symlink(&entry.path(), &to.join(&name))?;
        }
    }
    Ok(())
}

fn symlink(target: &Path, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link).map_err(|e| {
        format!(
            "cannot link {} to {}: {e}",
            link.display(),
            target.display()
        )
    })
}

// ---------------------------------------------------------------------------------------

pub(super) struct Server {
    /// How to reach the server as a superuser, for CREATE/DROP DATABASE.
    admin: postgres::Config,
    /// TCP URL prefix up to the database name, credentials included.
    tcp_prefix: String,
    /// Unix socket directory, port and user for [`PgDatabase::socket_url`].
    socket: Option<(String, u16, String)>,
    /// From `PLANTDB_TEST_DATABASE_URL`; not ours to clean up.
    external: bool,
    /// The watchdog; holding its stdin open keeps the server up (see the module docs).
    _watchdog: Option<Mutex<Child>>,
}

impl Server {
    pub(super) fn admin(&self) -> Client {
        self.admin
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test server as superuser: {e}"))
    }

    /// A superuser connection to database `db` of this server.
    pub(super) fn admin_on(&self, db: &str) -> Result<Client, String> {
        self.admin
            .clone()
            .dbname(db)
            .connect(NoTls)
            .map_err(|e| format!("cannot connect to `{db}` as superuser: {e}"))
    }

    pub(super) fn tcp_url(&self, db: &str) -> String {
        format!("{}/{db}", self.tcp_prefix)
    }

    /// The TCP port, which other servers of a cluster use to reach this one.
    pub(super) fn port(&self) -> u16 {
        self.admin.get_ports().first().copied().unwrap_or(5432)
    }

    fn socket_url(&self, db: &str) -> String {
        let Some((dir, port, user)) = &self.socket else {
            panic!("the server of {URL_VARIABLE} has no unix socket on this machine");
        };
        format!("postgresql:///{db}?host={dir}&port={port}&user={user}")
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(obtain_server) {
        Ok(server) => server,
        Err(reason) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set and no PostgreSQL server is available, so the PostgreSQL tests \
                     fail rather than skip: {reason}"
                )
            }
            panic!(
                "no PostgreSQL server for the tests: {reason}\n\
                 Install PostgreSQL's server binaries (Debian/Ubuntu: `apt-get install \
                 postgresql`; macOS: `brew install postgresql@15`; `.ci/run` does this), or \
                 set {URL_VARIABLE} to a superuser URL of an existing server."
            )
        }
    }
}

fn obtain_server() -> Result<Server, String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => external_server(&url),
        _ => start_with_retries(ServerOptions::default()),
    }
}

/// What a throwaway server is started with.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ServerOptions {
    /// TLS with a self-signed certificate.
    tls: bool,
    /// `shared_preload_libraries = 'timescaledb'` (a real TimescaleDB needs it).
    preload_timescaledb: bool,
    /// A node of a Citus cluster: Citus in the shadow installation and preloaded, and the
    /// other nodes let in over TCP without a password.
    citus: bool,
}

impl ServerOptions {
    /// A node of a Citus cluster (see `support::citus`).
    pub(super) fn citus_node() -> ServerOptions {
        ServerOptions {
            citus: true,
            ..ServerOptions::default()
        }
    }
}

pub(super) fn start_with_retries(options: ServerOptions) -> Result<Server, String> {
    // A free port can be taken by someone else between choosing and binding it; a fresh
    // attempt picks another.
    let mut last_error = String::new();
    for _ in 0..3 {
        match start_server(options) {
            Ok(server) => return Ok(server),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// TCP URL (with the test role's password) for database `db` on a second throwaway server
/// that speaks TLS with a certificate from the tests' own CA ([`tls_pki`]). Started on first
/// use; the shared server stays without TLS so most tests do not pay for TLS set-up.
pub fn tls_server_url_for(db: &str) -> String {
    static TLS_SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    let options = ServerOptions {
        tls: true,
        ..ServerOptions::default()
    };
    match TLS_SERVER.get_or_init(|| start_with_retries(options)) {
        Ok(server) => server.tcp_url(db),
        Err(reason) => panic!("cannot start the TLS test server: {reason}"),
    }
}

/// The certificates of the TLS test server (see `tls_ca`); starts that server if needed.
pub fn tls_pki() -> super::tls_ca::Pki {
    let _ = tls_server_url_for("postgres");
    super::tls_ca::made().expect("the TLS test server made its certificates")
}

fn external_server(url: &str) -> Result<Server, String> {
    let admin: postgres::Config = url
        .parse()
        .map_err(|e| format!("{URL_VARIABLE} is not a PostgreSQL URL: {e}"))?;
    let mut parsed =
        url::Url::parse(url).map_err(|e| format!("{URL_VARIABLE} is not a URL: {e}"))?;
    parsed.set_path("");
    parsed.set_query(None);
    let mut client = admin
        .connect(NoTls)
        .map_err(|e| format!("cannot connect to {URL_VARIABLE}: {e}"))?;
    let show = |client: &mut Client, setting: &str| -> Result<String, String> {
        client
            .query_one(&format!("SHOW {setting}"), &[])
            .map(|row| row.get(0))
            .map_err(|e| format!("cannot read `{setting}` of {URL_VARIABLE}: {e}"))
    };
    let directories = show(&mut client, "unix_socket_directories")?;
    let port = show(&mut client, "port")?;
    // Only a server on this machine has a socket the tests can use.
    let socket = directories
        .split(',')
        .map(str::trim)
        .find(|dir| Path::new(dir).is_dir())
        .zip(port.parse::<u16>().ok())
        .map(|(dir, port)| {
            let user = admin.get_user().unwrap_or("postgres").to_owned();
            (dir.to_owned(), port, user)
        });
    Ok(Server {
        admin,
        tcp_prefix: parsed.as_str().trim_end_matches('/').to_owned(),
        socket,
        external: true,
        _watchdog: None,
    })
}

fn start_server(options: ServerOptions) -> Result<Server, String> {
    let installation = installation()?;
    let as_root = is_root()?;
    // In /tmp, not $TMPDIR: a unix socket path must stay under ~100 bytes.
    let base = tempfile::Builder::new()
        .prefix("plantdb-pg-")
        .tempdir_in("/tmp")
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    // Until the watchdog owns it, a failure removes the directory here.
    let result = start_in(installation, &base, as_root, options);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

fn start_in(
    installation: &Installation,
    base: &Path,
    as_root: bool,
    options: ServerOptions,
) -> Result<Server, String> {
    let data = base.join("data");
    let log = base.join("server.log");
    let postgres = build_shadow_installation(installation, &base.join("install"), options)?;
    if as_root {
        // initdb and postgres refuse to run as root; the watchdog, as `postgres`, removes it
        // all at the end. `-h`: the links themselves, never what they point to.
        run(Command::new("chown")
            .args(["-R", "-h", "postgres:"])
            .arg(base))
        .map_err(|e| format!("{e} (is there a `postgres` user? `.ci/run` creates one)"))?;
    }

    let initdb = shell_words(&[
        &installation.bindir.join("initdb").to_string_lossy(),
        "-D",
        &data.to_string_lossy(),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]);
    run(&mut as_postgres(as_root, &initdb))?;

    let port = free_port()?;
    let settings = format!(
        "\n# plantdb tests\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{}'\n\
         password_encryption = 'scram-sha-256'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        base.display()
    );
    append(&data.join("postgresql.conf"), &settings)?;
    if options.preload_timescaledb {
        // Telemetry off: the tests must not talk to anything beyond this machine.
        append(
            &data.join("postgresql.conf"),
            "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n",
        )?;
    }
    if options.citus {
        // Statistics collection off: the tests must not talk to anything beyond this machine.
        // Citus commits multi-node writes with two-phase commit, which needs prepared
        // transactions.
        append(
            &data.join("postgresql.conf"),
            "shared_preload_libraries = 'citus'\n\
             citus.enable_statistics_collection = off\n\
             max_prepared_transactions = 100\n",
        )?;
    }
    let mut hba = String::from("local all all trust\n");
    if options.citus {
        // The nodes connect to each other as the session's user, with no password to give.
        hba.push_str("host all all 127.0.0.1/32 trust\n");
    }
    if options.tls {
        // Certificates from the tests' own CA (see `tls_ca`), and one database that wants a
        // client certificate instead of a password.
        hba.push_str(&super::tls_ca::configure(base, &data, TEST_ROLE)?);
        if as_root {
            let owned_by_postgres = ["server.crt", "server.key", "root.crt"]
                .map(|file| data.join(file).to_string_lossy().into_owned());
            run(Command::new("chown")
                .args(["-R", "postgres:"])
                .args(owned_by_postgres)
                .arg(base.join("pki")))?;
        }
        append(
            &data.join("postgresql.conf"),
            "ssl = on\nssl_ca_file = 'root.crt'\n",
        )?;
    }
    // Password over TCP, so tests can check wrong passwords and masking; trust on the socket.
    hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
    std::fs::write(data.join("pg_hba.conf"), hba)
        .map_err(|e| format!("cannot write pg_hba.conf: {e}"))?;

    let watchdog_script = format!(
        "{postgres} -D {data} >>{log} 2>&1 &\n\
         pid=$!\n\
         cat >/dev/null\n\
         kill -INT \"$pid\" 2>/dev/null\n\
         wait \"$pid\"\n\
         rm -rf {base}\n",
        postgres = shell_words(&[&postgres.to_string_lossy()]),
        data = shell_words(&[&data.to_string_lossy()]),
        log = shell_words(&[&log.to_string_lossy()]),
        base = shell_words(&[&base.to_string_lossy()]),
    );
    let mut command = as_postgres(as_root, &watchdog_script);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut watchdog = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the PostgreSQL watchdog: {e}"))?;

    let mut admin = postgres::Config::new();
    admin
        .host_path(base)
        .port(port)
        .user("postgres")
        .dbname("postgres");
    if let Err(e) = wait_until_ready(&admin, &mut watchdog, &log) {
        // Closing stdin makes the watchdog stop the server and remove `base`.
        drop(watchdog.stdin.take());
        let _ = watchdog.wait();
        return Err(e);
    }

    let create_role = format!("CREATE ROLE {TEST_ROLE} LOGIN SUPERUSER PASSWORD '{TEST_PASSWORD}'");
    admin
        .connect(NoTls)
        .and_then(|mut client| client.batch_execute(&create_role))
        .map_err(|e| format!("cannot create role `{TEST_ROLE}`: {e}"))?;
    if options.tls {
        let database = super::tls_ca::CERT_ONLY_DATABASE;
        admin
            .connect(NoTls)
            .and_then(|mut client| client.batch_execute(&format!("CREATE DATABASE {database}")))
            .map_err(|e| format!("cannot create database `{database}`: {e}"))?;
    }

    Ok(Server {
        admin,
        tcp_prefix: format!("postgres://{TEST_ROLE}:{TEST_PASSWORD}@127.0.0.1:{port}"),
        socket: Some((base.to_string_lossy().into_owned(), port, "postgres".into())),
        external: false,
        _watchdog: Some(Mutex::new(watchdog)),
    })
}

fn wait_until_ready(
    admin: &postgres::Config,
    watchdog: &mut Child,
    log: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let error = match admin.connect(NoTls) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let log_text = std::fs::read_to_string(log).unwrap_or_default();
        // Our own early attempts log "FATAL: the database system is starting up".
        let failed = log_text.lines().any(|line| {
            (line.contains("FATAL:") || line.contains("PANIC:")) && !line.contains("starting up")
        });
        let exited = matches!(watchdog.try_wait(), Ok(Some(_)));
        if failed || exited || Instant::now() > deadline {
            return Err(format!(
                "PostgreSQL did not start ({error}); its log:\n{log_text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Server binaries: PostgreSQL 15 first, then the ones `pg_config` names, then any other
/// version installed the Debian way (newest first).
fn find_bindir() -> Result<PathBuf, String> {
    let usable = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    let mut candidates = vec![PathBuf::from("/usr/lib/postgresql/15/bin")];
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    candidates
        .into_iter()
        .find(|dir| usable(dir))
        .ok_or_else(|| {
            "no PostgreSQL server binaries (`postgres`, `initdb`) in /usr/lib/postgresql/*/bin \
         or in `pg_config --bindir`"
                .to_owned()
        })
}

fn is_root() -> Result<bool, String> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A `sh -c SCRIPT` command, run as the `postgres` user when we are root.
fn as_postgres(as_root: bool, script: &str) -> Command {
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
        .into_iter()
        .find(|path| Path::new(path).exists());
    let mut command = match (as_root, runuser) {
        (false, _) => Command::new("/bin/sh"),
        (true, Some(runuser)) => {
            let mut command = Command::new(runuser);
            command.args(["-u", "postgres", "--", "/bin/sh"]);
            command
        }
        (true, None) => {
            let mut command = Command::new("su");
            command.args(["postgres", "-s", "/bin/sh"]);
            command
        }
    };
    command.args(["-c", script]);
    command
}

/// Runs a setup command, turning a failure into its output.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Single-quotes each word for `sh`.
fn shell_words(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
