//! TLS follows the URL's `sslmode` as libpq does: `prefer` (the default) encrypts when the
//! server offers it, `require` insists, `verify-full` checks the certificate, `disable` never.

use assert_cmd::Command;
use predicates::prelude::*;

use plantdb::config::Target;
use plantdb::db::postgres::open_client;
use plantdb::error::Error;

use crate::support::{server_url_for, tls_server_url_for};

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

#[test]
fn sslmode_decides_encryption_on_a_server_that_offers_tls() {
    let url = tls_server_url_for("postgres");
    assert!(encrypted(&url).unwrap(), "prefer (the default) encrypts");
    assert!(encrypted(&format!("{url}?sslmode=prefer")).unwrap());
    assert!(encrypted(&format!("{url}?sslmode=require")).unwrap());
    assert!(!encrypted(&format!("{url}?sslmode=disable")).unwrap());
    // The certificate is self-signed: verification must refuse it, and say what to look at.
    let err = encrypted(&format!("{url}?sslmode=verify-full")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(
        err.hint().unwrap_or_default().contains("sslmode"),
        "{err:?}"
    );
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
    let url = format!("{}?sslmode=require", tls_server_url_for("postgres"));
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
