//! Devices' MQTT passwords, hashed the way mosquitto's password files hash them
//! (`$7$`: PBKDF2-HMAC-SHA512, 101 iterations, a 12-byte salt, base64), so one stored hash
//! serves the embedded broker and the file `venue-edge device export --mosquitto` writes.
//! A device password is 24 random bytes: a fast hash is enough against guessing it, and a
//! broker restart with every turnstile reconnecting at once costs little.

use base64ct::{Base64, Encoding};
use rand::RngCore;
use sha2::Sha512;

const ITERATIONS: u32 = 101;

/// A new random device password (shown once).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `$7$101$<salt>$<hash>` for `password`.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 12];
    rand::rng().fill_bytes(&mut salt);
    hash_with(password, &salt, ITERATIONS)
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out);
    format!(
        "$7${iterations}${}${}",
        Base64::encode_string(salt),
        Base64::encode_string(&out)
    )
}

/// Whether `password` matches a `$7$` hash (mosquitto's or ours).
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(""), Some("7"), Some(iterations), Some(salt), Some(_), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Ok(salt)) = (iterations.parse::<u32>(), Base64::decode_vec(salt)) else {
        return false;
    };
    if !(1..=1_000_000).contains(&iterations) {
        return false;
    }
    let computed = hash_with(password, &salt, iterations);
    // Compare without an early exit.
    let (a, b) = (computed.as_bytes(), stored.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_from_mosquitto_passwd_verifies_and_ours_round_trips() {
        // Written by `mosquitto_passwd -b pw g-north-1 secretpass123` (mosquitto 2.0).
        let mosquitto = "$7$101$CEGX1GdrAnQzwY3s$xmCMRKs7aCY35lZBEU2HZBKcTcZdAorCP5XWF0rX2bNKW7tyYSQToMWGIsI6UBJsQMKQaEJ0G3AUk0xRNabdpw==";
        // (password, stored, matches)
        let ours = hash("another-secret");
        let cases = [
            ("secretpass123", mosquitto, true),
            ("secretpass124", mosquitto, false),
            ("", mosquitto, false),
            ("another-secret", ours.as_str(), true),
            ("another-secreT", ours.as_str(), false),
            ("x", "$6$abc$def", false),
            ("x", "plain", false),
            ("x", "$7$0$CEGX1GdrAnQzwY3s$xx", false),
            ("x", "$7$101$not base64!$xx", false),
        ];
        for (password, stored, ok) in cases {
            assert_eq!(
                verify(password, stored),
                ok,
                "{password:?} against {stored}"
            );
        }
        assert!(ours.starts_with("$7$101$"));
        assert_ne!(hash("same"), hash("same"), "salted");
        assert_eq!(generate_password().len(), 48);
    }
}
