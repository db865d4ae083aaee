//! Plugin packages: one file a vendor ships (`NAME.vpkg`, a zip archive) holding the
//! component (`plugin.wasm`), its manifest (`manifest.toml`, pinned to the component's
//! sha256), who made it and which contract it targets (`package.toml`), and, once signed,
//! the vendor's Ed25519 signature (`signature.toml`).
//!
//! The signature covers a statement of the three files' sha256 digests, so no byte of
//! them can change unnoticed. A venue lists the vendor keys it trusts; where its config
//! asks for signatures, the box loads only packages signed by one of them, for the vendor
//! the key is trusted for, and says which key it met when it refuses one.

use std::io::{Cursor, Read, Write};

use base64ct::{Base64, Encoding};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The package file's extension.
pub const EXTENSION: &str = "vpkg";

const INFO_FILE: &str = "package.toml";
const MANIFEST_FILE: &str = "manifest.toml";
const WASM_FILE: &str = "plugin.wasm";
const SIGNATURE_FILE: &str = "signature.toml";

/// Largest part of a package read (the component is the big one).
const PART_BYTES_MAX: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("not a plugin package: {0}")]
    Malformed(String),
    #[error("the package is not signed; this box loads signed packages only")]
    Unsigned,
    #[error("{0}")]
    Untrusted(String),
    #[error(
        "the signature by key {key} does not match the package's contents: it was changed after signing, or signed by another key"
    )]
    BadSignature { key: String },
    #[error("the vendor key file: {0}")]
    Key(String),
}

/// Who made the package and what it targets (`package.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Info {
    pub vendor: String,
    pub id: String,
    pub world: String,
    /// The contract version, `1.1.0`.
    pub contract: String,
}

/// A vendor's signature (`signature.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub vendor: String,
    /// The Ed25519 public key, base64 (32 bytes).
    pub key: String,
    /// The signature of the package's statement, base64 (64 bytes).
    pub signature: String,
}

/// A key a venue trusts, for one vendor: `{ vendor = "acme", key = "<base64>" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub vendor: String,
    pub key: String,
}

/// A package's parts, read.
#[derive(Debug, Clone)]
pub struct Package {
    pub info: Info,
    info_text: String,
    pub manifest_text: String,
    pub wasm: Vec<u8>,
    pub signature: Option<Signature>,
}

/// `acme/3q2+7w…`: how a key is named in messages (the vendor and the key's start).
pub fn key_name(vendor: &str, key: &str) -> String {
    format!("{vendor}/{}…", &key[..key.len().min(12)])
}

/// A new vendor key pair: the private key (PKCS#8, base64, for the vendor's key file) and
/// the public key (base64, for the venue's trusted keys).
pub fn generate_key() -> Result<(String, String), PackageError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| PackageError::Key("cannot generate a key".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| PackageError::Key("cannot read the generated key".into()))?;
    Ok((
        Base64::encode_string(pkcs8.as_ref()),
        Base64::encode_string(pair.public_key().as_ref()),
    ))
}

/// A public key as a venue lists it (base64 of 32 bytes), checked.
pub fn public_key(text: &str) -> Result<Vec<u8>, PackageError> {
    let bytes = Base64::decode_vec(text.trim())
        .map_err(|_| PackageError::Key(format!("{text:?} is not base64")))?;
    if bytes.len() != 32 {
        return Err(PackageError::Key(format!(
            "an Ed25519 public key is 32 bytes, this one {}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// What the signature covers.
fn statement(info_text: &str, manifest_text: &str, wasm: &[u8]) -> Vec<u8> {
    let digest = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    format!(
        "venue-edge plugin package 1\n{INFO_FILE} sha256 {}\n{MANIFEST_FILE} sha256 {}\n{WASM_FILE} sha256 {}\n",
        digest(info_text.as_bytes()),
        digest(manifest_text.as_bytes()),
        digest(wasm)
    )
    .into_bytes()
}

/// An unsigned package of these parts.
pub fn pack(info: &Info, manifest_text: &str, wasm: &[u8]) -> Result<Vec<u8>, PackageError> {
    let info_text = toml::to_string(info).map_err(|e| PackageError::Malformed(e.to_string()))?;
    write(&[
        (INFO_FILE, info_text.as_bytes()),
        (MANIFEST_FILE, manifest_text.as_bytes()),
        (WASM_FILE, wasm),
    ])
}

/// The package signed with the vendor's key (its key file's text: PKCS#8, base64). A
/// signature already there is replaced.
pub fn sign(package: &[u8], key_file_text: &str) -> Result<Vec<u8>, PackageError> {
    let p = read(package)?;
    let pkcs8 = Base64::decode_vec(key_file_text.trim())
        .map_err(|_| PackageError::Key("not base64".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| PackageError::Key("not an Ed25519 private key (PKCS#8)".into()))?;
    let sig = pair.sign(&statement(&p.info_text, &p.manifest_text, &p.wasm));
    let signature = Signature {
        vendor: p.info.vendor.clone(),
        key: Base64::encode_string(pair.public_key().as_ref()),
        signature: Base64::encode_string(sig.as_ref()),
    };
    let sig_text =
        toml::to_string(&signature).map_err(|e| PackageError::Malformed(e.to_string()))?;
    write(&[
        (INFO_FILE, p.info_text.as_bytes()),
        (MANIFEST_FILE, p.manifest_text.as_bytes()),
        (WASM_FILE, &p.wasm),
        (SIGNATURE_FILE, sig_text.as_bytes()),
    ])
}

fn write(parts: &[(&str, &[u8])]) -> Result<Vec<u8>, PackageError> {
    let bad = |e: zip::result::ZipError| PackageError::Malformed(e.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in parts {
        zip.start_file(*name, options).map_err(bad)?;
        zip.write_all(bytes)
            .map_err(|e| PackageError::Malformed(e.to_string()))?;
    }
    Ok(zip.finish().map_err(bad)?.into_inner())
}

/// Reads a package's parts; checks nothing about its signature.
pub fn read(package: &[u8]) -> Result<Package, PackageError> {
    let bad = |e: zip::result::ZipError| PackageError::Malformed(e.to_string());
    let mut zip = zip::ZipArchive::new(Cursor::new(package)).map_err(bad)?;
    for i in 0..zip.len() {
        let name = zip
            .by_index(i)
            .map_err(bad)?
            .name()
            .map_err(bad)?
            .into_owned();
        if ![INFO_FILE, MANIFEST_FILE, WASM_FILE, SIGNATURE_FILE].contains(&name.as_str()) {
            return Err(PackageError::Malformed(format!(
                "it holds {name:?}; a package holds {INFO_FILE}, {MANIFEST_FILE}, {WASM_FILE} and {SIGNATURE_FILE} only"
            )));
        }
    }
    let mut part = |name: &str| -> Result<Option<Vec<u8>>, PackageError> {
        let file = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(e)),
        };
        let mut bytes = Vec::new();
        file.take(PART_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| PackageError::Malformed(format!("{name}: {e}")))?;
        if bytes.len() as u64 > PART_BYTES_MAX {
            return Err(PackageError::Malformed(format!(
                "{name} is larger than {PART_BYTES_MAX} bytes"
            )));
        }
        Ok(Some(bytes))
    };
    let text = |name: &str, bytes: Option<Vec<u8>>| -> Result<String, PackageError> {
        let bytes = bytes.ok_or_else(|| PackageError::Malformed(format!("{name} is missing")))?;
        String::from_utf8(bytes)
            .map_err(|_| PackageError::Malformed(format!("{name} is not UTF-8")))
    };
    let info_text = text(INFO_FILE, part(INFO_FILE)?)?;
    let manifest_text = text(MANIFEST_FILE, part(MANIFEST_FILE)?)?;
    let wasm = part(WASM_FILE)?
        .ok_or_else(|| PackageError::Malformed(format!("{WASM_FILE} is missing")))?;
    let signature = match part(SIGNATURE_FILE)? {
        Some(bytes) => Some(
            toml::from_str::<Signature>(&text(SIGNATURE_FILE, Some(bytes))?)
                .map_err(|e| PackageError::Malformed(format!("{SIGNATURE_FILE}: {e}")))?,
        ),
        None => None,
    };
    let info: Info = toml::from_str(&info_text)
        .map_err(|e| PackageError::Malformed(format!("{INFO_FILE}: {e}")))?;
    Ok(Package {
        info,
        info_text,
        manifest_text,
        wasm,
        signature,
    })
}

impl Package {
    /// The trusted key that signed this package, or why there is none: unsigned, a key
    /// the venue does not trust (or trusts for another vendor), or a signature that does
    /// not match the contents.
    pub fn verify<'a>(&self, trusted: &'a [TrustedKey]) -> Result<&'a TrustedKey, PackageError> {
        let sig = self.signature.as_ref().ok_or(PackageError::Unsigned)?;
        let name = key_name(&sig.vendor, &sig.key);
        if sig.vendor != self.info.vendor {
            return Err(PackageError::Untrusted(format!(
                "the package says vendor {:?} but is signed as {:?} (key {name})",
                self.info.vendor, sig.vendor
            )));
        }
        let Some(key) = trusted.iter().find(|k| k.key == sig.key) else {
            let known: Vec<String> = trusted
                .iter()
                .map(|k| key_name(&k.vendor, &k.key))
                .collect();
            return Err(PackageError::Untrusted(format!(
                "it is signed by key {name}, which is not among this venue's trusted keys ({})",
                if known.is_empty() {
                    "none listed".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        if key.vendor != sig.vendor {
            return Err(PackageError::Untrusted(format!(
                "key {name} is trusted for vendor {:?}, not {:?}",
                key.vendor, sig.vendor
            )));
        }
        let public = Base64::decode_vec(&sig.key)
            .map_err(|_| PackageError::BadSignature { key: name.clone() })?;
        let signature = Base64::decode_vec(&sig.signature)
            .map_err(|_| PackageError::BadSignature { key: name.clone() })?;
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(
                &statement(&self.info_text, &self.manifest_text, &self.wasm),
                &signature,
            )
            .map_err(|_| PackageError::BadSignature { key: name })?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info {
            vendor: "acme".into(),
            id: "acme-gate".into(),
            world: "gate-adapter".into(),
            contract: "1.1.0".into(),
        }
    }

    #[test]
    fn a_signed_package_verifies_and_every_change_is_caught() {
        let (private, public) = generate_key().unwrap();
        let (other_private, other_public) = generate_key().unwrap();
        let unsigned = pack(&info(), "id = \"acme-gate\"\n", b"\0asm wasm bytes").unwrap();
        let signed = sign(&unsigned, &private).unwrap();
        let trusted = vec![TrustedKey {
            vendor: "acme".into(),
            key: public.clone(),
        }];

        let p = read(&signed).unwrap();
        assert_eq!(p.info, info());
        assert_eq!(p.wasm, b"\0asm wasm bytes");
        assert_eq!(p.verify(&trusted).unwrap().vendor, "acme");

        // Unsigned, or signed by a key nobody listed, or listed for another vendor.
        assert_eq!(
            read(&unsigned).unwrap().verify(&trusted),
            Err(PackageError::Unsigned)
        );
        let by_other = read(&sign(&unsigned, &other_private).unwrap()).unwrap();
        let err = by_other.verify(&trusted).unwrap_err().to_string();
        assert!(err.contains(&key_name("acme", &other_public)), "{err}");
        assert!(err.contains(&key_name("acme", &public)), "{err}");
        let wrong_vendor = vec![TrustedKey {
            vendor: "globex".into(),
            key: public.clone(),
        }];
        assert!(
            p.verify(&wrong_vendor)
                .unwrap_err()
                .to_string()
                .contains("trusted for vendor \"globex\"")
        );

        // A byte of the component, the manifest or the vendor's name changed after signing.
        let sig_text = toml::to_string(p.signature.as_ref().unwrap()).unwrap();
        let tampered = |info_text: &str, manifest: &str, wasm: &[u8]| {
            read(
                &write(&[
                    (INFO_FILE, info_text.as_bytes()),
                    (MANIFEST_FILE, manifest.as_bytes()),
                    (WASM_FILE, wasm),
                    (SIGNATURE_FILE, sig_text.as_bytes()),
                ])
                .unwrap(),
            )
            .unwrap()
        };
        let info_text = toml::to_string(&info()).unwrap();
        for p in [
            tampered(&info_text, "id = \"acme-gate\"\n", b"\0asm wasm byteS"),
            tampered(
                &info_text,
                "id = \"acme-gate\"\ngrants = [\"kv\"]\n",
                b"\0asm wasm bytes",
            ),
            tampered(
                &info_text.replace("1.1.0", "1.0.0"),
                "id = \"acme-gate\"\n",
                b"\0asm wasm bytes",
            ),
        ] {
            assert!(matches!(
                p.verify(&trusted),
                Err(PackageError::BadSignature { .. })
            ));
        }
        // The untampered parts, rewritten, still verify.
        assert!(
            tampered(&info_text, "id = \"acme-gate\"\n", b"\0asm wasm bytes")
                .verify(&trusted)
                .is_ok()
        );
    }

    #[test]
    fn what_is_no_package_is_refused_by_name() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not a zip".to_vec(), "not a plugin package"),
            (
                write(&[(MANIFEST_FILE, b"x"), (WASM_FILE, b"y")]).unwrap(),
                "package.toml is missing",
            ),
            (
                write(&[
                    (INFO_FILE, b"vendor = 1"),
                    (MANIFEST_FILE, b"x"),
                    (WASM_FILE, b"y"),
                ])
                .unwrap(),
                "package.toml",
            ),
            (
                write(&[
                    (INFO_FILE, b"x"),
                    (MANIFEST_FILE, b"x"),
                    (WASM_FILE, b"y"),
                    ("run.sh", b"rm"),
                ])
                .unwrap(),
                "\"run.sh\"",
            ),
        ];
        for (bytes, want) in cases {
            let err = read(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} does not name {want:?}");
        }
    }
}
