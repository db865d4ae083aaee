//! Identifiers the box mints: time-ordered ids for records, unguessable codes for tickets.

use rand::RngCore;

/// Random bytes in a ticket or group code: 80 bits, so guessing a valid code among a
/// million issued takes about 2^60 tries.
const CODE_RANDOM_BYTES: usize = 10;

/// A record id: a prefix and a UUIDv7 (time-ordered, so ids sort by creation).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A ticket code: `TK` and 16 characters of Crockford-style base32 (no I, L, O, U), which
/// survives being read aloud or typed from a printout.
pub fn new_ticket_code() -> String {
    code_with_prefix("TK")
}

/// A group code admitting a tour party.
pub fn new_group_code() -> String {
    code_with_prefix("GP")
}

fn code_with_prefix(prefix: &str) -> String {
    let mut bytes = [0u8; CODE_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut code = String::with_capacity(prefix.len() + 16);
    code.push_str(prefix);
    code.push_str(&CROCKFORD.encode(&bytes));
    code
}

static CROCKFORD: std::sync::LazyLock<data_encoding::Encoding> = std::sync::LazyLock::new(|| {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.encoding().expect("a valid base32 alphabet")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_distinct_and_unambiguous() {
        let a = new_ticket_code();
        let b = new_ticket_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 18);
        assert!(a[2..].chars().all(|c| !"ILOU".contains(c)), "{a}");
    }
}
