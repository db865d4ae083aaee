//! Real-name visitors' ID numbers: encrypted at rest, matched by a keyed index, shown
//! only masked.
//!
//! The box keeps one secret file (`secret.key` in the data folder, created on first start,
//! mode 0600): 32 bytes of AES-256-GCM key and 32 bytes of HMAC-SHA256 key. The cipher
//! text is what the store keeps; the HMAC lets a real-name lane compare a scanned number
//! without decrypting anything; the masked form is the only one any API returns.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const KEY_FILE_BYTES: usize = 64;
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read or create the secret key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("the secret key file {path} is damaged (expected {KEY_FILE_BYTES} bytes as hex)")]
    BadKey { path: String },
    #[error("an ID number could not be encrypted")]
    Encrypt,
}

/// The key file's name in the data folder when the config names none.
pub const SECRET_FILE: &str = "secret.key";

pub struct IdVault {
    cipher: Aes256Gcm,
    mac_key: [u8; 32],
}

impl IdVault {
    /// Loads the box's secret, creating it on first start.
    pub fn open(path: &Path) -> Result<IdVault, VaultError> {
        let shown = path.display().to_string();
        let key_err = |e: std::io::Error| VaultError::KeyFile {
            path: shown.clone(),
            message: e.to_string(),
        };
        let bytes = if path.exists() {
            let text = std::fs::read_to_string(path).map_err(key_err)?;
            hex::decode(text.trim()).map_err(|_| VaultError::BadKey {
                path: shown.clone(),
            })?
        } else {
            let mut key = vec![0u8; KEY_FILE_BYTES];
            rand::rng().fill_bytes(&mut key);
            write_secret(path, hex::encode(&key).as_bytes()).map_err(key_err)?;
            key
        };
        if bytes.len() != KEY_FILE_BYTES {
            return Err(VaultError::BadKey { path: shown });
        }
        Ok(Self::from_key(&bytes))
    }

    fn from_key(bytes: &[u8]) -> IdVault {
        let cipher = Aes256Gcm::new_from_slice(&bytes[..32]).expect("32-byte key");
        let mut mac_key = [0u8; 32];
        mac_key.copy_from_slice(&bytes[32..64]);
        IdVault { cipher, mac_key }
    }

    /// The key from hex text (the `VENUE_EDGE_ID_KEY` environment variable): 64 bytes.
    pub fn from_hex(text: &str) -> Result<IdVault, VaultError> {
        let bad = || VaultError::BadKey {
            path: "VENUE_EDGE_ID_KEY".into(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| bad())?;
        if bytes.len() != KEY_FILE_BYTES {
            return Err(bad());
        }
        Ok(Self::from_key(&bytes))
    }

    /// The box's vault: the key from `VENUE_EDGE_ID_KEY` if set, else from the config's
    /// `id_key_file`, else from `secret.key` in the data folder (made on first start; a
    /// copy of the data folder then carries the key to its ID numbers: production boxes
    /// name a file elsewhere).
    pub fn for_box(edge: &crate::config::EdgeConfig) -> Result<IdVault, VaultError> {
        if let Ok(hex) = std::env::var("VENUE_EDGE_ID_KEY") {
            return Self::from_hex(&hex);
        }
        match &edge.id_key_file {
            Some(path) => Self::open(path),
            None => {
                tracing::warn!(
                    "the ID-number key is kept in the data folder (secret.key); set [edge] id_key_file to a file elsewhere, or VENUE_EDGE_ID_KEY"
                );
                Self::open(&edge.data_dir.join(SECRET_FILE))
            }
        }
    }

    /// A vault with a random key, for tests and benchmarks.
    pub fn ephemeral() -> IdVault {
        let mut key = vec![0u8; KEY_FILE_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self::from_key(&key)
    }

    /// `nonce || ciphertext` of the normalised number.
    pub fn encrypt(&self, id_number: &str) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), normalise(id_number).as_bytes())
            .map_err(|_| VaultError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The number back, for an auditor's tooling; never returned by the API.
    pub fn decrypt(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }

    /// A keyed digest: equal numbers give equal digests, and nobody without the key can
    /// test a guess.
    pub fn index(&self, id_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).expect("any key size");
        mac.update(normalise(id_number).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// ID numbers are compared without spaces and case-insensitively (the check letter `X`
/// of a resident ID card is written both ways).
fn normalise(id_number: &str) -> String {
    id_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// `110101199001011234` -> `1101**********1234`. Short numbers keep less.
pub fn mask(id_number: &str) -> String {
    let chars: Vec<char> = normalise(id_number).chars().collect();
    let keep = match chars.len() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 4,
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep || i >= chars.len() - keep {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

fn write_secret(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_first_and_last_four() {
        assert_eq!(mask("110101199001011234"), "1101**********1234");
        assert_eq!(mask("E1234567"), "E******7");
        assert_eq!(mask("123"), "***");
    }

    #[test]
    fn encryption_round_trips_and_index_ignores_case_and_spaces() {
        let vault = IdVault::ephemeral();
        let sealed = vault.encrypt("11010119900101123x").unwrap();
        assert!(
            !sealed.windows(4).any(|w| w == b"1101"),
            "plain text leaked"
        );
        assert_eq!(
            vault.decrypt(&sealed).as_deref(),
            Some("11010119900101123X")
        );
        assert_eq!(
            vault.index("11010119900101123x"),
            vault.index(" 11010119900101123X")
        );
        assert_ne!(
            vault.index("110101199001011234"),
            vault.index("110101199001011235")
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = IdVault::open(&path).unwrap();
        let b = IdVault::open(&path).unwrap();
        assert_eq!(a.index("x1"), b.index("x1"));
        let sealed = a.encrypt("123456").unwrap();
        assert_eq!(b.decrypt(&sealed).as_deref(), Some("123456"));
    }
}
