//! Secrets in seed data: gateway passwords encrypted with AES-256-GCM under
//! `PLANTDB_SECRET_KEY`, device MQTT passwords hashed with Argon2id. Neither a key nor a
//! plain password is ever part of a message.

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, Generate, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Key};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, MalformedKey, Result};

pub const KEY_VAR: &str = "PLANTDB_SECRET_KEY";
const NONCE_LEN: usize = 12;

/// A 32-byte AES-256 key. Its Debug output hides the bytes.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl SecretKey {
    /// Base64 of 32 bytes, optionally prefixed `base64:` (Laravel's spelling).
    pub fn parse(text: &str) -> Result<SecretKey> {
        let trimmed = text.trim();
        let encoded = trimmed.strip_prefix("base64:").unwrap_or(trimmed);
        let malformed = |problem| Error::SecretKeyMalformed {
            var: KEY_VAR,
            problem,
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| malformed(MalformedKey::NotBase64))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| malformed(MalformedKey::WrongLength(bytes.len())))?;
        Ok(SecretKey(key))
    }

    pub fn generate() -> SecretKey {
        SecretKey(Key::<Aes256Gcm>::generate().into())
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// base64(nonce ‖ ciphertext ‖ tag), with a fresh random nonce each time.
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        let cipher = Aes256Gcm::new(&self.0.into());
        let nonce = Nonce::<Aes256Gcm>::generate();
        let sealed = cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| Error::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// The plain text of `encrypt`'s output, or `None` when it is not ours or the key differs.
    pub fn decrypt(&self, encoded: &str) -> Option<String> {
        let bytes = STANDARD.decode(encoded).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(&self.0.into());
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).ok()?;
        let plain = cipher.decrypt(&nonce, sealed).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// An Argon2id PHC string (`$argon2id$v=19$…`) with a random salt.
pub fn hash_password(plain: &str) -> Result<String> {
    Argon2::default()
        .hash_password(plain.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash {
            reason: e.to_string(),
        })
}

pub fn verify_password(phc: &str, plain: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(plain.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Where the key came from, for the line plantdb prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    /// Generated now and appended to this `.env` file.
    Generated(String),
}

/// The key for a seed: from `PLANTDB_SECRET_KEY` (the environment, which includes `.env`), or
/// for a local database a new one written to `dir/.env` the way `php artisan key:generate`
/// does, so `plantdb reset` works on a fresh checkout. A remote database never gets an
/// invented key: its data would be unreadable by the applications that share it.
pub fn resolve_key(
    value: Option<String>,
    local: bool,
    shown_url: &str,
    dir: &Path,
) -> Result<(SecretKey, KeySource)> {
    if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
        return Ok((SecretKey::parse(&value)?, KeySource::Environment));
    }
    if !local {
        return Err(Error::SecretKeyNotInvented {
            var: KEY_VAR,
            url: shown_url.to_string(),
        });
    }
    let path = dir.join(".env");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Io {
                path: path.display().to_string(),
                source: e,
            });
        }
    };
    if mentions_key(&existing) {
        return Err(Error::SecretKeyEmptyInFile {
            var: KEY_VAR,
            path: path.display().to_string(),
        });
    }
    let key = SecretKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // A new `.env` is born readable by its owner only (the mode is part of the call that
    // creates it, so it is never briefly readable by others); an existing one keeps its mode,
    // and `exposed_key_warning` speaks up about it.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{separator}{KEY_VAR}={}", key.to_base64()).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    Ok((key, KeySource::Generated(path.display().to_string())))
}

/// Whether a `.env` text has a `PLANTDB_SECRET_KEY=` line (with or without a value).
fn mentions_key(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        line.strip_prefix(KEY_VAR)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

/// A warning (without the key) when `dir/.env` holds the key and other users may read it.
pub fn exposed_key_warning(dir: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(".env");
        let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o777;
        let readable_by_others = mode & 0o044 != 0;
        if readable_by_others && mentions_key(&std::fs::read_to_string(&path).ok()?) {
            let shown = path.display();
            return Some(format!(
                "`{shown}` holds {KEY_VAR} and other users can read it (mode {mode:04o}); \
                 restrict it with `chmod 600 {shown}`"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_with_random_nonce_and_decrypts() {
        let key = SecretKey::generate();
        let a = key.encrypt("hunter2").unwrap();
        let b = key.encrypt("hunter2").unwrap();
        assert_ne!(a, b, "nonce must be random");
        assert!(!a.contains("hunter2"));
        assert_eq!(STANDARD.decode(&a).unwrap().len(), 12 + 7 + 16);
        assert_eq!(key.decrypt(&a).as_deref(), Some("hunter2"));
        assert_eq!(SecretKey::generate().decrypt(&a), None);
    }

    #[test]
    fn parses_keys_and_rejects_malformed_ones_without_echoing_them() {
        let key = SecretKey::generate();
        let text = key.to_base64();
        assert!(SecretKey::parse(&text).is_ok());
        assert!(SecretKey::parse(&format!("base64:{text}")).is_ok());
        let e = SecretKey::parse("not-a-key!!").unwrap_err().to_string();
        assert!(
            e.contains("is malformed") && !e.contains("not-a-key"),
            "{e}"
        );
        let e = SecretKey::parse(&STANDARD.encode([1u8; 16]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("16 bytes, not 32"), "{e}");
        assert!(matches!(
            SecretKey::parse(&STANDARD.encode([1u8; 16])),
            Err(Error::SecretKeyMalformed {
                problem: MalformedKey::WrongLength(16),
                ..
            })
        ));
        assert!(matches!(
            SecretKey::parse("not-a-key!!"),
            Err(Error::SecretKeyMalformed {
                problem: MalformedKey::NotBase64,
                ..
            })
        ));
        assert_eq!(format!("{key:?}"), "SecretKey(****)");
    }

    #[test]
    fn what_earlier_versions_stored_still_reads() {
        // Made by the AES-GCM and Argon2 crates of the previous release (aes-gcm 0.10,
        // argon2 0.5): seeded databases keep these, so a crate upgrade must still read them.
        let key = SecretKey([7u8; 32]);
        assert_eq!(
            key.decrypt("hIrI1vhFf2KWb5g43NurIgIL9wnJwPaDPpMADd80xLxVMTWSyOU=")
                .as_deref(),
            Some("gateway-pw")
        );
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$dAID6LGr4nZBSLZ1703Ouw$\
                   Wq8XzAUFIYgLF/bdV/yBt+rZPygQz8DriysSrnUnfqg";
        assert!(verify_password(phc, "device-pw"));
        assert!(!verify_password(phc, "device-pW"));
        // And what this version makes has the same form.
        let new = hash_password("device-pw").unwrap();
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{new}");
    }

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "s3cret"));
        assert!(!verify_password(&h, "other"));
    }

    #[test]
    fn local_database_gets_a_key_appended_to_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "DATABASE_URL=sqlite://x.db").unwrap();
        let (key, source) = resolve_key(None, true, "sqlite://x.db", dir.path()).unwrap();
        let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
        assert_eq!(
            env,
            format!(
                "DATABASE_URL=sqlite://x.db\n{KEY_VAR}={}\n",
                key.to_base64()
            )
        );
        assert!(matches!(source, KeySource::Generated(_)));
        // An existing (empty) entry is never replaced.
        std::fs::write(dir.path().join(".env"), format!("{KEY_VAR}=\n")).unwrap();
        assert!(resolve_key(None, true, "sqlite://x.db", dir.path()).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".env")).unwrap(),
            format!("{KEY_VAR}=\n")
        );
    }

    #[test]
    fn remote_database_without_key_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve_key(
            None,
            false,
            "postgres://u:****@db.example.com/x",
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("is not set") && e.contains("not a local database"),
            "{e}"
        );
        assert!(!dir.path().join(".env").exists());
    }
}
