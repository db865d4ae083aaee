//! Real-name visitors' ID numbers: encrypted at rest, matched by a keyed index, shown
//! only masked.
//!
//! The box's ID-number keys are a key ring: each key has an id and 64 bytes, 32 of
//! AES-256-GCM key and 32 of HMAC-SHA256 key. The ring lives in a key file outside the data
//! folder (`[edge] id_key_file`), or in `secret.key` in the data folder (the default, made on
//! first start, mode 0600), or in `VENUE_EDGE_ID_KEY` (one key). The newest key seals new
//! numbers; every key in the ring still opens and matches what it sealed.
//!
//! - A cipher text names its key: `K`, the key id (2 bytes, big-endian), the nonce, the
//!   sealed number. Text sealed before keys had ids (nonce first) is key 1's.
//! - A keyed index names its key too: key 1's is the bare hex digest (as before ids), key
//!   n's is `k{n}:` and the digest. A real-name lane compares a scanned number with the index
//!   of the key that made it, without decrypting anything.
//! - `venue-edge keys rotate` adds a key, re-seals and re-indexes every number with it in
//!   batches while the box runs, and then retires the old keys (see [`rotate`]). The box
//!   reads the ring again when the key file changes or a row names a key it lacks.
//!
//! The masked form is the only one any API returns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

mod rotate;
pub use rotate::{Rotated, rotate};

const KEY_BYTES: usize = 64;
const NONCE_BYTES: usize = 12;
/// The first byte of a cipher text that names its key.
const TAGGED: u8 = b'K';

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read or write the ID-number key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error(
        "the ID-number key file {path} is damaged: {why} (each line is a key: its id and {KEY_BYTES} bytes as hex; a file of one hex key is key 1)"
    )]
    BadKey { path: String, why: String },
    #[error("an ID number could not be encrypted")]
    Encrypt,
    #[error("{0}")]
    Rotate(String),
}

/// The key file's name in the data folder when the config names none.
pub const SECRET_FILE: &str = "secret.key";

struct Key {
    id: u16,
    cipher: Aes256Gcm,
    mac_key: [u8; 32],
    bytes: Vec<u8>,
}

impl Key {
    fn new(id: u16, bytes: &[u8]) -> Key {
        let cipher = Aes256Gcm::new_from_slice(&bytes[..32]).expect("32-byte key");
        let mut mac_key = [0u8; 32];
        mac_key.copy_from_slice(&bytes[32..KEY_BYTES]);
        Key {
            id,
            cipher,
            mac_key,
            bytes: bytes.to_vec(),
        }
    }

    fn random(id: u16) -> Key {
        let mut bytes = vec![0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Key::new(id, &bytes)
    }

    fn digest(&self, id_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).expect("any key size");
        mac.update(normalise(id_number).as_bytes());
        let hex = hex::encode(mac.finalize().into_bytes());
        if self.id == 1 {
            hex
        } else {
            format!("k{}:{hex}", self.id)
        }
    }
}

/// Keys by id, oldest first; the last one seals.
struct Ring {
    keys: Vec<Key>,
    /// The key file's modification time when it was read (file rings only).
    read_at: Option<SystemTime>,
}

impl Ring {
    fn current(&self) -> &Key {
        self.keys.last().expect("a ring holds a key")
    }

    fn get(&self, id: u16) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Reads a ring: lines `ID HEX`, or one bare hex key (key 1).
    fn parse(text: &str, shown: &str) -> Result<Ring, VaultError> {
        let bad = |why: String| VaultError::BadKey {
            path: shown.to_owned(),
            why,
        };
        let mut keys: Vec<Key> = Vec::new();
        for (n, line) in text.lines().map(str::trim).enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, hex_text) = match line.split_once(char::is_whitespace) {
                Some((id, hex_text)) => {
                    let id: u16 = id.parse().ok().filter(|id| *id >= 1).ok_or_else(|| {
                        bad(format!("line {}: the key id is not 1 to 65535", n + 1))
                    })?;
                    (id, hex_text.trim())
                }
                None => (1, line),
            };
            let bytes = hex::decode(hex_text)
                .ok()
                .filter(|b| b.len() == KEY_BYTES)
                .ok_or_else(|| bad(format!("line {}: not {KEY_BYTES} bytes of hex", n + 1)))?;
            if keys.last().is_some_and(|k| k.id >= id) {
                return Err(bad(format!(
                    "line {}: key ids must grow down the file",
                    n + 1
                )));
            }
            keys.push(Key::new(id, &bytes));
        }
        if keys.is_empty() {
            return Err(bad("no key".into()));
        }
        Ok(Ring {
            keys,
            read_at: None,
        })
    }

    fn text(&self) -> String {
        let mut out = String::from(
            "# Venue Edge ID-number keys: key id, then 64 bytes as hex. The last key seals new numbers.\n",
        );
        for k in &self.keys {
            out.push_str(&format!("{} {}\n", k.id, hex::encode(&k.bytes)));
        }
        out
    }
}

/// Where the ring comes from.
enum Source {
    File(PathBuf),
    Env,
    Memory,
}

pub struct IdVault {
    ring: RwLock<Ring>,
    source: Source,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl IdVault {
    /// Loads the ring from a key file, creating it with one key on first start.
    pub fn open(path: &Path) -> Result<IdVault, VaultError> {
        let ring = read_ring(path, true)?;
        Ok(IdVault {
            ring: RwLock::new(ring),
            source: Source::File(path.to_owned()),
        })
    }

    /// One key from hex text (the `VENUE_EDGE_ID_KEY` environment variable), or a ring in
    /// the key file's form.
    pub fn from_hex(text: &str) -> Result<IdVault, VaultError> {
        Ok(IdVault {
            ring: RwLock::new(Ring::parse(text, "VENUE_EDGE_ID_KEY")?),
            source: Source::Env,
        })
    }

    /// The box's vault: the key from `VENUE_EDGE_ID_KEY` if set, else from the config's
    /// `id_key_file`, else from `secret.key` in the data folder (made on first start; a
    /// copy of the data folder then carries the key to its ID numbers: production boxes
    /// name a file elsewhere).
    pub fn for_box(edge: &crate::config::EdgeConfig) -> Result<IdVault, VaultError> {
        if let Ok(hex) = std::env::var("VENUE_EDGE_ID_KEY") {
            return Self::from_hex(&hex);
        }
        Self::open(&key_file(edge, true))
    }

    /// A vault with a random key, for tests and benchmarks.
    pub fn ephemeral() -> IdVault {
        IdVault {
            ring: RwLock::new(Ring {
                keys: vec![Key::random(1)],
                read_at: None,
            }),
            source: Source::Memory,
        }
    }

    /// Reads the key file again if it changed since it was read (a rotation added or
    /// retired a key), or when `force`d.
    fn refresh(&self, force: bool) {
        let Source::File(path) = &self.source else {
            return;
        };
        let stamp = modified(path);
        let stale = force || self.ring.read().map(|r| r.read_at != stamp).unwrap_or(true);
        if !stale {
            return;
        }
        match read_ring(path, false) {
            Ok(ring) => {
                if let Ok(mut held) = self.ring.write() {
                    *held = ring;
                }
            }
            // The ring in memory keeps working; the file is looked at again next time.
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// The id of the key that seals new numbers.
    pub fn current_key(&self) -> u16 {
        self.refresh(false);
        self.ring.read().map(|r| r.current().id).unwrap_or(0)
    }

    /// `K || key id || nonce || cipher text` of the normalised number, under the newest key.
    pub fn encrypt(&self, id_number: &str) -> Result<Vec<u8>, VaultError> {
        self.refresh(false);
        let ring = self.ring.read().map_err(|_| VaultError::Encrypt)?;
        seal(ring.current(), id_number)
    }

    /// The number back, for an auditor's tooling and a rotation; never returned by the API.
    pub fn decrypt(&self, sealed: &[u8]) -> Option<String> {
        if let Some(plain) = self.ring.read().ok().and_then(|r| open_with(&r, sealed)) {
            return Some(plain);
        }
        self.refresh(true);
        self.ring.read().ok().and_then(|r| open_with(&r, sealed))
    }

    /// A keyed digest under the newest key: equal numbers give equal digests, and nobody
    /// without the key can test a guess.
    pub fn index(&self, id_number: &str) -> String {
        self.refresh(false);
        self.ring
            .read()
            .map(|r| r.current().digest(id_number))
            .unwrap_or_default()
    }

    /// Whether `id_number` is the number a stored index was made from, under the key the
    /// index names (read from the key file again if the ring lacks it).
    pub fn matches(&self, id_number: &str, index: &str) -> bool {
        let id = index_key(index);
        let try_ring = |ring: &Ring| ring.get(id).map(|k| k.digest(id_number) == index);
        match self.ring.read().ok().and_then(|r| try_ring(&r)) {
            Some(answer) => answer,
            None => {
                self.refresh(true);
                self.ring
                    .read()
                    .ok()
                    .and_then(|r| try_ring(&r))
                    .unwrap_or(false)
            }
        }
    }
}

/// The key id an index was made with.
fn index_key(index: &str) -> u16 {
    index
        .strip_prefix('k')
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or(1)
}

fn seal(key: &Key, id_number: &str) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = key
        .cipher
        .encrypt(Nonce::from_slice(&nonce), normalise(id_number).as_bytes())
        .map_err(|_| VaultError::Encrypt)?;
    let mut out = Vec::with_capacity(3 + NONCE_BYTES + sealed.len());
    out.push(TAGGED);
    out.extend_from_slice(&key.id.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// (key id, nonce, sealed body). A text that does not name its key is key 1's; one that
/// seems to but does not open is tried that way too, by the caller's AEAD check.
fn split_sealed(sealed: &[u8]) -> Option<(u16, &[u8], &[u8])> {
    if sealed.len() >= 3 + NONCE_BYTES && sealed[0] == TAGGED {
        let id = u16::from_be_bytes([sealed[1], sealed[2]]);
        let (nonce, body) = sealed[3..].split_at(NONCE_BYTES);
        return Some((id, nonce, body));
    }
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    Some((1, nonce, body))
}

/// The key file of a box: `[edge] id_key_file`, else `secret.key` in the data folder.
pub fn key_file(edge: &crate::config::EdgeConfig, warn: bool) -> PathBuf {
    match &edge.id_key_file {
        Some(path) => path.clone(),
        None => {
            if warn {
                tracing::warn!(
                    "the ID-number key is kept in the data folder (secret.key); set [edge] id_key_file to a file elsewhere, or VENUE_EDGE_ID_KEY"
                );
            }
            edge.data_dir.join(SECRET_FILE)
        }
    }
}

/// Reads a ring from its file (made with one new key when missing and `create`).
fn read_ring(path: &Path, create: bool) -> Result<Ring, VaultError> {
    let shown = path.display().to_string();
    let key_err = |e: std::io::Error| VaultError::KeyFile {
        path: shown.clone(),
        message: e.to_string(),
    };
    if !path.exists() && create {
        let ring = Ring {
            keys: vec![Key::random(1)],
            read_at: None,
        };
        write_secret(path, ring.text().as_bytes()).map_err(key_err)?;
    }
    let stamp = modified(path);
    let text = std::fs::read_to_string(path).map_err(key_err)?;
    let mut ring = Ring::parse(&text, &shown)?;
    ring.read_at = stamp;
    Ok(ring)
}

/// Replaces the key file with `ring` at once (a new file renamed over the old one).
fn write_ring(path: &Path, ring: &Ring) -> Result<(), VaultError> {
    let err = |e: std::io::Error| VaultError::KeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let fresh = path.with_extension("new");
    let _ = std::fs::remove_file(&fresh);
    write_secret(&fresh, ring.text().as_bytes()).map_err(err)?;
    std::fs::rename(&fresh, path).map_err(err)
}

/// Opens a cipher text with the key it names, from `ring` alone (never the file again).
fn open_with(ring: &Ring, sealed: &[u8]) -> Option<String> {
    let (id, nonce, body) = split_sealed(sealed)?;
    let plain = ring
        .get(id)?
        .cipher
        .decrypt(Nonce::from_slice(nonce), body)
        .ok()?;
    String::from_utf8(plain).ok()
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

/// The province of a resident ID number (GB/T 2260, its first two digits), derived when a
/// ticket is sold; `None` for any other number.
pub fn province_of(id_type: &str, id_number: &str) -> Option<&'static str> {
    if id_type != "id_card" || id_number.len() != 18 {
        return None;
    }
    let code = id_number.get(0..2)?;
    PROVINCES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

const PROVINCES: &[(&str, &str)] = &[
    ("11", "北京"),
    ("12", "天津"),
    ("13", "河北"),
    ("14", "山西"),
    ("15", "内蒙古"),
    ("21", "辽宁"),
    ("22", "吉林"),
    ("23", "黑龙江"),
    ("31", "上海"),
    ("32", "江苏"),
    ("33", "浙江"),
    ("34", "安徽"),
    ("35", "福建"),
    ("36", "江西"),
    ("37", "山东"),
    ("41", "河南"),
    ("42", "湖北"),
    ("43", "湖南"),
    ("44", "广东"),
    ("45", "广西"),
    ("46", "海南"),
    ("50", "重庆"),
    ("51", "四川"),
    ("52", "贵州"),
    ("53", "云南"),
    ("54", "西藏"),
    ("61", "陕西"),
    ("62", "甘肃"),
    ("63", "青海"),
    ("64", "宁夏"),
    ("65", "新疆"),
    ("71", "台湾"),
    ("81", "香港"),
    ("82", "澳门"),
];

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

    #[test]
    fn a_key_file_and_cipher_texts_from_before_key_ids_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.key");
        let bytes: Vec<u8> = (0..KEY_BYTES as u8).collect();
        std::fs::write(&path, hex::encode(&bytes)).unwrap();
        let vault = IdVault::open(&path).unwrap();
        assert_eq!(vault.current_key(), 1);
        // Sealed the old way: nonce first, no key id.
        let key = Key::new(1, &bytes);
        let nonce = [7u8; NONCE_BYTES];
        let mut old = nonce.to_vec();
        old.extend(
            key.cipher
                .encrypt(Nonce::from_slice(&nonce), b"110101199001011234".as_ref())
                .unwrap(),
        );
        assert_eq!(vault.decrypt(&old).as_deref(), Some("110101199001011234"));
        let index = vault.index("110101199001011234");
        assert!(!index.contains(':'), "key 1's index is the bare digest");
        assert!(vault.matches("110101199001011234", &index));
        assert!(!vault.matches("110101199001011235", &index));
        assert!(vault.encrypt("x").unwrap().starts_with(&[TAGGED, 0, 1]));
    }

    #[test]
    fn damaged_key_files_are_named_with_the_reason() {
        let cases = [
            ("", "no key"),
            ("abcd", "not 64 bytes"),
            ("0 00", "key id"),
            (&format!("2 {0}\n1 {0}", "00".repeat(KEY_BYTES)), "grow"),
        ];
        for (text, says) in cases {
            let e = Ring::parse(text, "k").err().expect(text).to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
