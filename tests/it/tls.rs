//! TLS follows the URL's `sslmode` as libpq does: `prefer` (the default) encrypts when the
//! server offers it, `require` insists, `verify-ca` checks the certificate's chain,
//! `verify-full` its host name too, `disable` never. `sslrootcert` (a file or `system`),
//! `sslcert` and `sslkey` work as in libpq. The TLS test server has a certificate for IP
//! 127.0.0.1 from the tests' own CA (`support::tls_ca`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use predicates::prelude::*;

use plantdb::config::Target;
use plantdb::db::postgres::open_client;
use plantdb::error::Error;

use crate::support::tls_ca::CERT_ONLY_DATABASE;
use crate::support::{server_url_for, tls_pki as pki, tls_server_url_for};

/// Whether plantdb's connection for `url` is encrypted, as the server sees it.
fn encrypted(url: &str) -> Result<bool, Error> {
    let Target::Postgres(target) = Target::parse(url)? else {
        panic!("not a PostgreSQL URL: {url}");
    };
    let mut client = open_client(&target, None)?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl");
    Ok(row.get(0))
}

/// The TLS server's URL for `postgres`, reached as `host` (name or address) at 127.0.0.1.
/// A host name other than 127.0.0.1 goes with `hostaddr=127.0.0.1`, so it is only the name
/// the certificate is checked against: nothing is looked up.
fn tls_url(host: &str, options: &str) -> String {
    let url = tls_server_url_for("postgres");
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    if host == "127.0.0.1" {
        format!("{url}?{options}")
    } else {
        format!("{url}?hostaddr=127.0.0.1&{options}")
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn sslmode_decides_encryption_on_a_server_that_offers_tls() {
    let url = tls_server_url_for("postgres");
    assert!(encrypted(&url).unwrap(), "prefer (the default) encrypts");
    assert!(encrypted(&format!("{url}?sslmode=prefer")).unwrap());
    assert!(encrypted(&format!("{url}?sslmode=require")).unwrap());
    assert!(!encrypted(&format!("{url}?sslmode=disable")).unwrap());
}

#[test]
fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let ca = path(&pki().ca);
    for host in ["127.0.0.1", "elsewhere.plantdb.test"] {
        let url = tls_url(host, &format!("sslmode=verify-ca&sslrootcert={ca}"));
        assert!(encrypted(&url).unwrap(), "{url}");
    }
}

#[test]
fn verify_full_also_checks_the_host_name() {
    let ca = path(&pki().ca);
    let matching = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert!(encrypted(&matching).unwrap());
    let other = tls_url(
        "elsewhere.plantdb.test",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let err = encrypted(&other).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains("certificate"),
        "the error says why: {err}"
    );
    assert!(
        err.hint().unwrap_or_default().contains("sslrootcert"),
        "{err:?}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused_by_both_verify_modes() {
    let other_ca = path(&pki().other_ca);
    for mode in ["verify-ca", "verify-full"] {
        let url = tls_url(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={other_ca}"),
        );
        let err = encrypted(&url).unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{mode}: {err:?}");
        assert!(err.to_string().contains("certificate"), "{mode}: {err}");
    }
    // `require` with a CA file checks the chain, as in libpq.
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={other_ca}"),
    );
    assert!(encrypted(&url).is_err());
}

#[test]
fn sslrootcert_system_uses_the_system_store_and_needs_verify_full() {
    // The tests' CA is in no system store: the system's roots are used, not some file.
    let err = encrypted(&tls_url("127.0.0.1", "sslrootcert=system")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let err = encrypted(&tls_url(
        "127.0.0.1",
        "sslmode=verify-ca&sslrootcert=system",
    ))
    .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("verify-full"), "{err}");
}

/// The client certificate and a copy of its key that this test's user owns, mode `mode`.
fn client_files(dir: &Path, mode: u32) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("client.key");
    std::fs::copy(&pki().client_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
    (pki().client_cert, key)
}

/// A password-less URL of the database whose logins need a client certificate.
fn cert_only_url(options: &str) -> String {
    let url = tls_server_url_for(CERT_ONLY_DATABASE);
    let (scheme_and_user, rest) = url.split_once(':').unwrap().1.split_once('@').unwrap();
    let user = scheme_and_user.trim_start_matches('/');
    format!(
        "postgres://{user}@{rest}?sslmode=verify-full&sslrootcert={}{options}",
        path(&pki().ca)
    )
}

#[test]
fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = client_files(dir.path(), 0o600);
    let with_cert = cert_only_url(&format!("&sslcert={}&sslkey={}", path(&cert), path(&key)));
    assert!(encrypted(&with_cert).unwrap());
    let err = encrypted(&cert_only_url("")).unwrap_err();
    assert!(
        matches!(err, Error::Auth { .. }) && err.to_string().contains("certificate"),
        "refused without a client certificate: {err}"
    );
    assert!(
        err.hint().unwrap_or_default().contains("sslcert"),
        "{err:?}"
    );
}

#[test]
fn a_private_key_others_can_read_is_refused_as_libpq_does() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = client_files(dir.path(), 0o644);
    let url = cert_only_url(&format!("&sslcert={}&sslkey={}", path(&cert), path(&key)));
    let err = encrypted(&url).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("group or world access") && err.to_string().contains("0644"),
        "{err}"
    );
    assert!(
        err.hint().unwrap_or_default().contains("chmod 600"),
        "{err:?}"
    );
}

#[test]
fn the_verify_modes_default_to_libpqs_root_certificate_file() {
    let home = tempfile::tempdir().unwrap();
    let url = tls_url("127.0.0.1", "sslmode=verify-full");
    let run = || {
        let mut cmd = Command::cargo_bin("plantdb").unwrap();
        cmd.current_dir(home.path())
            .env("HOME", home.path())
            .env_remove("DATABASE_URL")
            .args(["--database-url", &url, "status"]);
        cmd
    };
    // No ~/.postgresql/root.crt: refused, naming the file and the ways out.
    run()
        .assert()
        .code(1)
        .stderr(predicate::str::contains(".postgresql/root.crt"))
        .stderr(predicate::str::contains("does not exist"))
        .stderr(predicate::str::contains("sslrootcert=system"))
        .stderr(predicate::str::contains("s3cret-test-pw").not());
    std::fs::create_dir(home.path().join(".postgresql")).unwrap();
    std::fs::copy(&pki().ca, home.path().join(".postgresql/root.crt")).unwrap();
    run().assert().success();
}

#[test]
fn a_server_without_tls_is_used_plainly_unless_tls_is_required() {
    let url = server_url_for("postgres");
    assert!(!encrypted(&url).unwrap(), "prefer falls back to plain");
    let err = encrypted(&format!("{url}?sslmode=require")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}

#[test]
fn the_cli_works_over_tls() {
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", path(&pki().ca)),
    );
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("plantdb")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["--database-url", &url, "status", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"dialect\": \"postgres\""))
        .stdout(predicate::str::contains("s3cret-test-pw").not());
}

/// A TCP relay on 127.0.0.1 in front of the server of `url`, counting the connections that
/// clients open through it. Returns the URL through the relay and the counter.
fn counting_relay(url: &str) -> (String, Arc<AtomicUsize>) {
    let mut through = url::Url::parse(url).unwrap();
    let server = format!("127.0.0.1:{}", through.port().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    through
        .set_port(Some(listener.local_addr().unwrap().port()))
        .unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    let count = opened.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let Ok(upstream) = TcpStream::connect(&server) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (through.to_string(), opened)
}

#[test]
fn prefer_settles_tls_on_the_one_connection_it_uses() {
    for (url, offers_tls) in [
        (tls_server_url_for("postgres"), true),
        (server_url_for("postgres"), false),
    ] {
        let (through, opened) = counting_relay(&url);
        assert_eq!(encrypted(&through).unwrap(), offers_tls, "{url}");
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "one connection, TLS offered: {offers_tls}"
        );
    }
}

/// A key and certificate for the cert-only database's user, signed by the tests' CA: the
/// key as `openssl_key_args` makes it, written in its traditional (PKCS#1 / SEC1) form.
fn traditional_client_files(dir: &Path, openssl_key_args: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let ca_dir = pki().ca.parent().unwrap().to_path_buf();
    let role = url::Url::parse(&tls_server_url_for(CERT_ONLY_DATABASE))
        .unwrap()
        .username()
        .to_string();
    let script = format!(
        "set -e
         openssl {openssl_key_args} > generated.key
         openssl pkey -in generated.key -traditional -out client.key
         openssl req -new -key client.key -subj /CN={role} -out client.csr
         openssl x509 -req -in client.csr -CA '{ca}' -CAkey '{ca_key}' -CAcreateserial \
             -CAserial serial -days 1 -out client.crt",
        ca = ca_dir.join("ca.crt").display(),
        ca_key = ca_dir.join("ca.key").display(),
    );
    let output = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = dir.join("client.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir.join("client.crt"), key)
}

#[test]
fn pkcs1_and_sec1_client_keys_are_accepted() {
    for (form, generate, begins) in [
        (
            "PKCS#1",
            "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        (
            "SEC1",
            "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256",
            "-----BEGIN EC PRIVATE KEY-----",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = traditional_client_files(dir.path(), generate);
        assert!(
            std::fs::read_to_string(&key).unwrap().starts_with(begins),
            "{form}: the key is in its traditional form"
        );
        let url = cert_only_url(&format!("&sslcert={}&sslkey={}", path(&cert), path(&key)));
        assert!(encrypted(&url).unwrap(), "{form}");
    }
}

#[test]
fn a_client_certificate_with_another_pairs_key_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = client_files(dir.path(), 0o600);
    // A PKCS#8 key, the one form every version of plantdb reads.
    let other_key = dir.path().join("other.key");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-out"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(
        &other_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let url = cert_only_url(&format!(
        "&sslcert={}&sslkey={}",
        path(&cert),
        path(&other_key)
    ));
    let err = encrypted(&url).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("does not go with its key"),
        "{err}"
    );
}

#[test]
fn an_encrypted_client_key_is_refused_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = client_files(dir.path(), 0o600);
    let status = std::process::Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(dir.path().join("encrypted.key"))
        .status()
        .unwrap();
    assert!(status.success());
    let encrypted_key = dir.path().join("encrypted.key");
    std::fs::set_permissions(
        &encrypted_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let url = cert_only_url(&format!(
        "&sslcert={}&sslkey={}",
        path(&cert),
        path(&encrypted_key)
    ));
    let err = encrypted(&url).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("encrypted"), "{err}");
    assert!(
        err.hint().unwrap_or_default().contains("openssl pkey"),
        "{err:?}"
    );
}
