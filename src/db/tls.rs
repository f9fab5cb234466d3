//! The TLS connector for a PostgreSQL target, with libpq's meaning of its options:
//! `verify-ca` checks the chain only, `verify-full` also the host name; `sslrootcert` (a file,
//! or `system`), `sslcert` and `sslkey`, with libpq's check that a key is not readable by others.

use std::path::{Path, PathBuf};

use native_tls::{Certificate, Identity, TlsConnector};

use crate::config::{CertificateCheck, PostgresTarget, RootCertificates};
use crate::error::{ConnectFailure, Error, Result};

/// libpq's default CA file for the verify modes, under the home directory.
const DEFAULT_ROOT_CERT: &str = ".postgresql/root.crt";

pub fn connector(target: &PostgresTarget) -> Result<TlsConnector> {
    let tls = &target.tls;
    let mut builder = TlsConnector::builder();
    // Without a check (`prefer`, `require`) libpq encrypts but accepts any certificate.
    builder
        .danger_accept_invalid_certs(tls.check == CertificateCheck::None)
        .danger_accept_invalid_hostnames(tls.check != CertificateCheck::ChainAndHost);
    if tls.check != CertificateCheck::None {
        match root_certificates(tls.root.as_ref())? {
            RootCertificates::System => {}
            RootCertificates::File(path) => {
                // Only the named CAs: a certificate some public CA signed must not pass.
                builder.disable_built_in_roots(true);
                for certificate in read_root_file(&path)? {
                    builder.add_root_certificate(certificate);
                }
            }
        }
    }
    if let Some((cert, key)) = &tls.client {
        builder.identity(client_identity(cert, key)?);
    }
    builder.build().map_err(|e| Error::Connect {
        host: target.host_display(),
        reason: format!("cannot set up TLS: {e}"),
        kind: ConnectFailure::Tls,
        source: None,
    })
}

/// The URL's `sslrootcert`, else libpq's default file, which must then exist: a verify mode
/// with nothing to verify against is refused rather than quietly trusting the system's store.
fn root_certificates(named: Option<&RootCertificates>) -> Result<RootCertificates> {
    if let Some(named) = named {
        return Ok(named.clone());
    }
    let default = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(DEFAULT_ROOT_CERT))
        .unwrap_or_else(|| PathBuf::from("~").join(DEFAULT_ROOT_CERT));
    if default.is_file() {
        return Ok(RootCertificates::File(default));
    }
    Err(Error::Tls {
        what: "the root certificate".into(),
        path: default.display().to_string(),
        reason: "sslmode=verify-ca/verify-full need the CA certificate that signed the \
                 server's, and this default file (libpq's) does not exist"
            .into(),
        hint: Some(
            "name the CA file with `sslrootcert=FILE`, or trust the system's store with \
             `sslrootcert=system` (verify-full only)"
                .into(),
        ),
    })
}

fn read_root_file(path: &Path) -> Result<Vec<Certificate>> {
    let pem = read(path, "the root certificate")?;
    let certificates = Certificate::stack_from_pem(&pem).unwrap_or_default();
    if certificates.is_empty() {
        return Err(tls_file_error(
            "the root certificate",
            path,
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certificates)
}

fn client_identity(cert: &Path, key: &Path) -> Result<Identity> {
    check_key_permissions(key)?;
    let cert_pem = read(cert, "the client certificate (sslcert)")?;
    let key_pem = read(key, "the private key (sslkey)")?;
    if !key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----") {
        return Err(Error::Tls {
            what: "the private key (sslkey)".into(),
            path: key.display().to_string(),
            reason: "it is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)".into(),
            hint: Some(format!(
                "convert it with `openssl pkcs8 -topk8 -nocrypt -in {} -out KEY.pk8`",
                key.display()
            )),
        });
    }
    Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|e| {
        tls_file_error(
            "the client certificate (sslcert)",
            cert,
            format!("it does not go with its key `{}`: {e}", key.display()),
        )
    })
}

/// libpq's rule: a key the current user owns must not be open to group or others (0600 or
/// less); one root owns may be group-readable (0640), for keys shared with a service group.
#[cfg(unix)]
fn check_key_permissions(key: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(key)
        .map_err(|e| tls_file_error("the private key (sslkey)", key, e.to_string()))?;
    if !metadata.is_file() {
        return Err(tls_file_error(
            "the private key (sslkey)",
            key,
            "it is not a regular file".into(),
        ));
    }
    let mode = metadata.mode() & 0o777;
    let too_open = if metadata.uid() == 0 {
        mode & 0o037 != 0
    } else {
        metadata.uid() == current_uid() && mode & 0o077 != 0
    };
    if too_open {
        return Err(Error::Tls {
            what: "the private key (sslkey)".into(),
            path: key.display().to_string(),
            reason: format!(
                "it has group or world access (mode {mode:04o}); it must be u=rw (0600) or less \
                 if the current user owns it, or u=rw,g=r (0640) or less if root owns it"
            ),
            hint: Some(format!("`chmod 600 {}`", key.display())),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_key: &Path) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_file_error(what, path, e.to_string()))
}

fn tls_file_error(what: &str, path: &Path, reason: String) -> Error {
    Error::Tls {
        what: what.into(),
        path: path.display().to_string(),
        reason,
        hint: None,
    }
}
