//! `reset` (and a seed that would invent a secret key) act freely only on a database on this
//! machine. Every host and hostaddr a URL names, and PGHOST/PGHOSTADDR where they apply,
//! must be a loopback address or a unix socket, and the refusal comes before any connection.
//!
//! These URLs name documentation addresses (192.0.2.0/24, 2001:db8::/32), so plantdb only
//! ever runs with them inside `unshare -n`: a network namespace with no network at all,
//! where nothing can leave the machine whatever plantdb did.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether `unshare -n` works here (it needs root or user namespaces). In CI it must.
fn namespaces_usable() -> bool {
    let usable = Command::new("unshare")
        .args(["-n", "--", "true"])
        .status()
        .is_ok_and(|status| status.success());
    if !usable {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but `unshare -n` does not work here (it needs root or user \
             namespaces), so the local-guard tests cannot run"
        );
        eprintln!("NOT RUN: `unshare -n` does not work here (run as root, as CI does)");
    }
    usable
}

/// plantdb, run inside a network namespace of its own with no network.
fn plantdb_without_network(dir: &Path, url: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new("unshare");
    command
        .args(["-n", "--"])
        .arg(assert_cmd::cargo::cargo_bin("plantdb"))
        .args(["--database-url", url])
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGHOSTADDR")
        .env_remove("PLANTDB_SECRET_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run plantdb under unshare -n");
    Output {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

struct Output {
    code: Option<i32>,
    stderr: String,
}

/// A unix socket the test owns that counts the connections it accepts. Sockets live in the
/// file system, so one outside the namespace is reachable from inside it: had plantdb tried
/// to connect, the count would show it.
struct CountingSocket {
    accepted: Arc<AtomicUsize>,
}

impl CountingSocket {
    fn listen(dir: &Path, port: u16) -> CountingSocket {
        std::fs::create_dir_all(dir).unwrap();
        let listener = UnixListener::bind(dir.join(format!(".s.PGSQL.{port}"))).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        CountingSocket { accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

#[test]
fn reset_refuses_any_url_that_names_a_remote_address_before_connecting() {
    if !namespaces_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = 5999;
    let sockets = dir.path().join("sockets");
    // The socket directory the URL names, and the directory a driver that took the whole
    // `host` value as one path would use: the test would see a connection at either.
    let listeners = [
        CountingSocket::listen(&sockets, port),
        CountingSocket::listen(&dir.path().join("sockets,192.0.2.1"), port),
    ];
    let sockets = sockets.display().to_string();
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("postgres://u:pw@127.0.0.1:{port}/plant?hostaddr=192.0.2.1"),
            vec![],
        ),
        (
            format!("postgres://u:pw@localhost:{port}/plant?hostaddr=2001:db8::1"),
            vec![],
        ),
        (
            format!("postgresql:///plant?host={sockets},192.0.2.1&port={port}&user=u"),
            vec![],
        ),
        (
            format!("postgres://u:pw@localhost,192.0.2.1:{port}/plant"),
            vec![],
        ),
        (
            format!("postgresql:///plant?port={port}&user=u"),
            vec![("PGHOST", "/nonexistent,192.0.2.1")],
        ),
        (
            format!("postgresql:///plant?port={port}&user=u"),
            vec![("PGHOST", sockets.as_str()), ("PGHOSTADDR", "192.0.2.1")],
        ),
    ];
    for (url, env) in &cases {
        let output =
            plantdb_without_network(dir.path(), url, env, &["reset", "--yes", "--no-seed"]);
        // The guard's own error, not a failed connection (exit 5).
        assert_eq!(output.code, Some(1), "{url} {env:?}: {}", output.stderr);
        assert!(
            output.stderr.contains("refusing to reset")
                && output.stderr.contains("it is not a local database"),
            "{url} {env:?}: {}",
            output.stderr
        );
        assert!(!output.stderr.contains(":pw@"), "{}", output.stderr);
    }
    for listener in &listeners {
        assert_eq!(listener.accepted(), 0, "plantdb connected before refusing");
    }
}

#[test]
fn a_secret_key_is_never_invented_for_a_url_with_a_remote_hostaddr() {
    if !namespaces_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://u:pw@127.0.0.1:5999/plant?hostaddr=192.0.2.1";
    let output = plantdb_without_network(dir.path(), url, &[], &["seed"]);
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    assert!(
        output
            .stderr
            .contains("is not a local database, so plantdb will not invent a key"),
        "{}",
        output.stderr
    );
    assert!(!dir.path().join(".env").exists(), "a key was written");
}
