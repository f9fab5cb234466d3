//! A certificate authority of the tests' own for the TLS test server, made with the `openssl`
//! command: the server's certificate (for IP 127.0.0.1), a client certificate for the test
//! role, and a second CA that signed neither.
//!
//! The files live in the server's temporary directory and go away with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The database whose TCP logins need a client certificate (`hostssl … cert`).
pub const CERT_ONLY_DATABASE: &str = "plantdb_cert_only";

/// The certificate files a test may use.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA that signed the server's and the client's certificates.
    pub ca: PathBuf,
    /// A CA that signed nothing the server has.
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    /// PKCS#8 PEM. Copy it (mode 0600) before use: this one belongs to the server's user.
    pub client_key: PathBuf,
}

/// The latest PKI made: a start attempt that fails (its directory removed) is followed by
/// another that replaces it.
static PKI: Mutex<Option<Pki>> = Mutex::new(None);

/// The PKI made by [`configure`], once it has run.
pub fn made() -> Option<Pki> {
    PKI.lock().ok()?.clone()
}

/// Makes the PKI under `base/pki` and installs the server's part into `data`: certificate,
/// key (0600) and the CA that client certificates must chain to. Returns the pg_hba.conf
/// line that asks for a client certificate (as `role`), to go before the password lines.
pub fn configure(base: &Path, data: &Path, role: &str) -> Result<String, String> {
    let dir = base.join("pki");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let script = format!(
        "set -e
         new_key() {{ openssl req -new -nodes -newkey rsa:2048 -keyout \"$1.key\" -out \"$1.csr\" -subj \"$2\"; }}
         sign() {{ openssl x509 -req -in \"$1.csr\" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -out \"$1.crt\" $2; }}
         openssl req -x509 -new -nodes -newkey rsa:2048 -days 7 -keyout ca.key -out ca.crt -subj '/CN=plantdb test CA'
         openssl req -x509 -new -nodes -newkey rsa:2048 -days 7 -keyout other-ca.key -out other-ca.crt -subj '/CN=plantdb other CA'
         new_key server /CN=127.0.0.1
         printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
         sign server '-extfile server.ext'
         new_key client /CN={role}
         sign client ''"
    );
    let output = Command::new("/bin/sh")
        .args(["-c", &script])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run openssl: {e} (is the `openssl` command installed?)"))?;
    if !output.status.success() {
        return Err(format!(
            "openssl failed to make the test certificates: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    for (from, to) in [
        ("server.crt", "server.crt"),
        ("server.key", "server.key"),
        ("ca.crt", "root.crt"),
    ] {
        std::fs::copy(dir.join(from), data.join(to))
            .map_err(|e| format!("cannot install {to}: {e}"))?;
    }
    set_mode(&data.join("server.key"), 0o600)?;
    let pki = Pki {
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other-ca.crt"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    };
    *PKI.lock()
        .map_err(|_| "the PKI lock is poisoned".to_string())? = Some(pki);
    Ok(format!(
        "hostssl {CERT_ONLY_DATABASE} all 127.0.0.1/32 cert\n"
    ))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}
