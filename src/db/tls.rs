//! The TLS set-up for a PostgreSQL target (rustls), with libpq's meaning of its options:
//! `verify-ca` checks the chain only, `verify-full` also the host name; `sslrootcert` (a file,
//! or `system`), `sslcert` and `sslkey`, with libpq's check that a key is not readable by others.
//!
//! Root certificates are read only by the modes that check the server's certificate: `prefer`
//! and `require` encrypt without proof of whom they talk to, as in libpq, and cost nothing more
//! than the handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, ServerName, SubjectPublicKeyInfoDer, UnixTime,
};
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, PeerMisbehaved, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::config::{CertificateCheck, PostgresTarget, RootCertificates};
use crate::error::{ConnectFailure, Error, Result};

/// libpq's default CA file for the verify modes, under the home directory.
const DEFAULT_ROOT_CERT: &str = ".postgresql/root.crt";

pub fn connector(target: &PostgresTarget) -> Result<MakeRustlsConnect> {
    Ok(MakeRustlsConnect::new(client_config(target)?))
}

/// The rustls client set-up for the target's `sslmode` and certificate options.
fn client_config(target: &PostgresTarget) -> Result<ClientConfig> {
    let tls = &target.tls;
    let setup_error = |e: rustls::Error| Error::Connect {
        host: target.host_display(),
        reason: format!("cannot set up TLS: {e}"),
        kind: ConnectFailure::Tls,
        source: None,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(setup_error)?;
    let builder = match tls.check {
        // Without a check (`prefer`, `require`) libpq encrypts but accepts any certificate.
        CertificateCheck::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            ))),
        check => {
            let roots = load_roots(target, root_certificates(tls.root.as_ref())?)?;
            let chain_and_host =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::Connect {
                        host: target.host_display(),
                        reason: format!("cannot set up TLS: {e}"),
                        kind: ConnectFailure::Tls,
                        source: None,
                    })?;
            if check == CertificateCheck::ChainAndHost {
                builder.with_webpki_verifier(chain_and_host)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(chain_and_host)))
            }
        }
    };
    let config = match &tls.client {
        Some((cert, key)) => {
            let (certificates, private_key) = client_identity(cert, key)?;
            let signing_key = provider
                .key_provider
                .load_private_key(private_key)
                .map_err(|e| tls_file_error("the private key (sslkey)", key, e.to_string()))?;
            // libpq refuses a certificate that does not go with its key before connecting;
            // without this the server would only answer with a bare "decrypt error".
            if !key_matches(&certificates[0], signing_key.as_ref()) {
                return Err(tls_file_error(
                    "the client certificate (sslcert)",
                    cert,
                    format!(
                        "it does not go with its key `{}`: their public keys differ",
                        key.display()
                    ),
                ));
            }
            let identity = CertifiedKey::new(certificates, signing_key);
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity)))
        }
        None => builder.with_no_client_auth(),
    };
    Ok(config)
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

/// The trust anchors: only the named file's CAs (a certificate some public CA signed must
/// not pass), or the operating system's store.
fn load_roots(target: &PostgresTarget, source: RootCertificates) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match source {
        RootCertificates::File(path) => {
            let certificates = read_root_file(&path)?;
            let (_, unusable) = roots.add_parsable_certificates(certificates);
            if roots.is_empty() {
                return Err(tls_file_error(
                    "the root certificate",
                    &path,
                    format!("none of its {unusable} certificate(s) can serve as a CA"),
                ));
            }
        }
        RootCertificates::System => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(Error::Connect {
                    host: target.host_display(),
                    reason: format!(
                        "cannot set up TLS: the system's certificate store holds no CA \
                         certificate{why}"
                    ),
                    kind: ConnectFailure::Tls,
                    source: None,
                });
            }
        }
    }
    Ok(roots)
}

fn read_root_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    read_certificates(path, "the root certificate")
}

/// The PEM certificates in `path`; a file without any is an error naming `what` it should be.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, what)?;
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(|c| c.ok())
        .collect();
    if certificates.is_empty() {
        return Err(tls_file_error(
            what,
            path,
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certificates)
}

/// The client certificate chain and its unencrypted key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    check_key_permissions(key)?;
    let certificates = read_certificates(cert, "the client certificate (sslcert)")?;
    let key_pem = read(key, "the private key (sslkey)")?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        let encrypted = key_pem
            .windows(b"ENCRYPTED".len())
            .any(|w| w == b"ENCRYPTED");
        Error::Tls {
            what: "the private key (sslkey)".into(),
            path: key.display().to_string(),
            reason: if encrypted {
                "it is encrypted, and plantdb reads only unencrypted keys".into()
            } else {
                "it holds no PEM private key (-----BEGIN PRIVATE KEY-----, \
                 -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)"
                    .into()
            },
            hint: Some(format!(
                "write it unencrypted in PEM with `openssl pkey -in {} -out KEY.pem`",
                key.display()
            )),
        }
    })?;
    Ok((certificates, private_key))
}

/// Whether the certificate carries the key's public half. The certificate is read with a
/// plain X.509 parser rather than rustls' own check, which refuses X.509 v1 certificates
/// (what `openssl x509 -req` makes without extensions) that servers accept. A key whose public
/// half cannot be told, or a certificate that cannot be read, is left for the server to judge.
fn key_matches(certificate: &CertificateDer<'_>, key: &dyn SigningKey) -> bool {
    use x509_cert::der::{Decode, Encode};
    let Some(key_spki) = key.public_key() else {
        return true;
    };
    match x509_cert::Certificate::from_der(certificate.as_ref())
        .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der())
    {
        Ok(cert_spki) => cert_spki == key_spki.as_ref(),
        Err(_) => true,
    }
}

/// `prefer` and `require`: any certificate is accepted, though the handshake's signatures are
/// still checked, so the session is at least encrypted to whoever holds that certificate.
///
/// The signatures are checked against the certificate's public key alone, read with a plain
/// X.509 parser: rustls' certificate-based checks parse with WebPKI, which refuses X.509 v1
/// certificates, such as the self-signed one `CREATE EXTENSION citus` sets up and the ones
/// `openssl x509 -req` makes without extensions. libpq accepts them in these modes.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature_with_raw_key(message, &public_key_info(cert)?, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let spki = public_key_info(cert)?;
        let der = x509_cert::der::Encode::to_der(&spki)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(der),
            dss,
            &self.0,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The certificate's SubjectPublicKeyInfo, whatever its X.509 version.
fn public_key_info(
    cert: &CertificateDer<'_>,
) -> std::result::Result<SubjectPublicKeyInfoOwned, rustls::Error> {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(cert.as_ref())
        .map(|c| c.tbs_certificate.subject_public_key_info)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// What `rustls::crypto::verify_tls12_signature` does with a certificate, from its public key
/// alone (rustls offers this for TLS 1.3 only): each algorithm that implements the signed
/// scheme is tried, and the one made for the key's algorithm (and curve) decides.
fn verify_tls12_signature_with_raw_key(
    message: &[u8],
    spki: &SubjectPublicKeyInfoOwned,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    use x509_cert::der::{Decode, Encode, asn1::AnyRef};
    let unadvertised =
        || rustls::Error::PeerMisbehaved(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme);
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, candidates)| *candidates)
        .ok_or_else(unadvertised)?;
    let bad_encoding = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    // WebPKI names a key's algorithm by the contents of its AlgorithmIdentifier, untagged.
    let algorithm_der = spki.algorithm.to_der().map_err(|_| bad_encoding())?;
    let key_algorithm = AnyRef::from_der(&algorithm_der).map_err(|_| bad_encoding())?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(bad_encoding)?;
    let algorithm = candidates
        .iter()
        .find(|a| a.public_key_alg_id().as_ref() == key_algorithm.value())
        .ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadSignature,
        ))?;
    algorithm
        .verify_signature(key, message, dss.signature())
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))
}

/// `verify-ca`: the full check, less the host name. The WebPKI verifier checks the name only
/// once the chain has passed, so its name error is the one failure that this mode forgives.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;
    use rustls::version::{TLS12, TLS13};
    use rustls::{ClientConnection, ProtocolVersion, ServerConfig, ServerConnection};
    // Named apart from the CLI's parsed `Command`, which only src/commands takes apart.
    use std::process::Command as OpenSsl;

    /// A self-signed X.509 v1 certificate and its key, as `openssl x509 -req -signkey` makes
    /// one without extensions (and as `CREATE EXTENSION citus` sets up for its TLS).
    /// `newkey` is openssl's `-newkey` argument and options (`rsa:2048`, an EC curve...).
    fn v1_certificate(dir: &Path, newkey: &str) -> (PathBuf, PathBuf) {
        let script = format!(
            "set -e
             openssl req -new -nodes -newkey {newkey} -keyout s.key -out s.csr -subj /CN=localhost
             openssl x509 -req -in s.csr -signkey s.key -days 7 -out s.crt"
        );
        let output = OpenSsl::new("/bin/sh")
            .args(["-c", &script])
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            output.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let cert = dir.join("s.crt");
        let der = CertificateDer::from_pem_file(&cert).unwrap();
        use x509_cert::der::Decode;
        let parsed = x509_cert::Certificate::from_der(der.as_ref()).unwrap();
        assert_eq!(
            parsed.tbs_certificate.version,
            x509_cert::certificate::Version::V1,
            "the test needs a v1 certificate"
        );
        (cert, dir.join("s.key"))
    }

    /// A server presenting `cert` and signing with `key`, which need not be the certificate's
    /// (rustls' own pairing check would refuse a v1 certificate anyway).
    fn server_config(
        cert: &Path,
        key: &Path,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let signing_key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::from_pem_file(key).unwrap())
            .unwrap();
        let identity = CertifiedKey::new(
            vec![CertificateDer::from_pem_file(cert).unwrap()],
            signing_key,
        );
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
        Arc::new(config)
    }

    /// A whole handshake in memory between plantdb's client set-up for `url` and `server`:
    /// the protocol agreed, or the client's error.
    fn handshake(
        url: &str,
        server: Arc<ServerConfig>,
    ) -> std::result::Result<ProtocolVersion, rustls::Error> {
        let Target::Postgres(target) = Target::parse(url).unwrap() else {
            panic!("not a PostgreSQL URL: {url}");
        };
        let client_config = Arc::new(client_config(&target).unwrap());
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = ClientConnection::new(client_config, name).unwrap();
        let mut server = ServerConnection::new(server).unwrap();
        let mut wire = Vec::new();
        while client.is_handshaking() || server.is_handshaking() {
            wire.clear();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            let mut from_client = &wire[..];
            while !from_client.is_empty() {
                server.read_tls(&mut from_client).unwrap();
                if server.process_new_packets().is_err() {
                    // The server gives up once the client's alert reaches it: the client's
                    // own error says why.
                    return Err(client.process_new_packets().err().unwrap_or_else(|| {
                        rustls::Error::General("the server refused the handshake".into())
                    }));
                }
            }
            wire.clear();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            let mut from_server = &wire[..];
            while !from_server.is_empty() {
                client.read_tls(&mut from_server).unwrap();
                client.process_new_packets()?;
            }
        }
        Ok(client.protocol_version().unwrap())
    }

    #[test]
    fn prefer_and_require_accept_an_x509_v1_certificate_over_tls_1_2_and_1_3() {
        for newkey in ["rsa:2048", "ec -pkeyopt ec_paramgen_curve:P-256"] {
            let dir = tempfile::tempdir().unwrap();
            let (cert, key) = v1_certificate(dir.path(), newkey);
            for (version, expected) in [
                (&TLS13, ProtocolVersion::TLSv1_3),
                (&TLS12, ProtocolVersion::TLSv1_2),
            ] {
                for mode in ["prefer", "require"] {
                    let url = format!("postgres://plantdb@127.0.0.1/plantdb?sslmode={mode}");
                    let agreed = handshake(&url, server_config(&cert, &key, version));
                    assert_eq!(agreed, Ok(expected), "{newkey}, sslmode={mode}");
                }
            }
        }
    }

    #[test]
    fn prefer_still_refuses_a_handshake_signed_by_another_key_than_the_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = v1_certificate(dir.path(), "rsa:2048");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let (_, other_key) = v1_certificate(&other, "rsa:2048");
        for version in [&TLS13, &TLS12] {
            let server = server_config(&cert, &other_key, version);
            let err = handshake(
                "postgres://plantdb@127.0.0.1/plantdb?sslmode=require",
                server,
            )
            .unwrap_err();
            assert_eq!(
                err,
                rustls::Error::InvalidCertificate(CertificateError::BadSignature),
                "{version:?}"
            );
        }
    }

    #[test]
    fn the_verify_modes_still_refuse_an_x509_v1_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = v1_certificate(dir.path(), "rsa:2048");
        for mode in ["verify-ca", "verify-full"] {
            let url = format!(
                "postgres://plantdb@127.0.0.1/plantdb?sslmode={mode}&sslrootcert={}",
                cert.display()
            );
            let err = handshake(&url, server_config(&cert, &key, &TLS13)).unwrap_err();
            assert!(
                matches!(err, rustls::Error::InvalidCertificate(_))
                    && err.to_string().contains("UnsupportedCertVersion"),
                "{mode}: {err:?}"
            );
        }
    }
}
