//! # venue-plugin-sdk
//!
//! What a vendor needs to write a Venue Edge plugin in Rust: the bindings of the
//! `venue:edge` WIT contract for each plugin world (enable the cargo feature of yours),
//! and small helpers for the JSON most vendor formats use.
//!
//! ```ignore
//! // Cargo.toml: venue-plugin-sdk = { version = "...", features = ["gate-adapter"] }
//! use venue_plugin_sdk::gate::exports::venue::edge::gate::Guest;
//! use venue_plugin_sdk::gate::venue::edge::types::{DecodeError, Scan, Verdict, WhitelistDelta};
//!
//! struct MyTurnstiles;
//! impl Guest for MyTurnstiles {
//!     fn decode_scan(device: String, payload: Vec<u8>) -> Result<Scan, DecodeError> { todo!() }
//!     fn encode_verdict(device: String, verdict: Verdict) -> Result<Vec<u8>, String> { todo!() }
//!     fn encode_whitelist(device: String, delta: WhitelistDelta) -> Result<Vec<u8>, String> { todo!() }
//! }
//! venue_plugin_sdk::export_gate_adapter!(MyTurnstiles);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component to ship, with its sha256 in the
//! manifest. See docs/plugins.md.

#[cfg(feature = "gate-adapter")]
pub mod gate {
    wit_bindgen::generate!({
        world: "gate-adapter",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_gate_adapter",
        default_bindings_module: "venue_plugin_sdk::gate",
    });
}

#[cfg(feature = "pos-adapter")]
pub mod pos {
    wit_bindgen::generate!({
        world: "pos-adapter",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_pos_adapter",
        default_bindings_module: "venue_plugin_sdk::pos",
    });
}

#[cfg(feature = "ticketing-adapter")]
pub mod ticketing {
    wit_bindgen::generate!({
        world: "ticketing-adapter",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_ticketing_adapter",
        default_bindings_module: "venue_plugin_sdk::ticketing",
    });
}

#[cfg(feature = "settlement-rule")]
pub mod settlement {
    wit_bindgen::generate!({
        world: "settlement-rule",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_settlement_rule",
        default_bindings_module: "venue_plugin_sdk::settlement",
    });
}

#[cfg(feature = "payment-connector")]
pub mod payment {
    wit_bindgen::generate!({
        world: "payment-connector",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_payment_connector",
        default_bindings_module: "venue_plugin_sdk::payment",
    });
}

/// Helpers for vendor formats carried as JSON.
pub mod json {
    /// The `event_id` of a payload that could not be fully decoded, if the payload is at
    /// least a JSON object with a string `event_id`: lets the host answer `bad_request`
    /// instead of staying silent.
    pub fn recover_event_id(payload: &[u8], field: &str) -> Option<String> {
        let start = find(payload, format!("\"{field}\"").as_bytes())?;
        let rest = &payload[start..];
        let colon = rest.iter().position(|b| *b == b':')?;
        let after = &rest[colon + 1..];
        let open = after.iter().position(|b| *b == b'"')?;
        if after[..open].iter().any(|b| !b.is_ascii_whitespace()) {
            return None;
        }
        let value = &after[open + 1..];
        let close = value.iter().position(|b| *b == b'"' || *b == b'\\')?;
        let id = std::str::from_utf8(&value[..close]).ok()?;
        (!id.is_empty() && id.len() <= 128).then(|| id.to_owned())
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn event_ids_are_recovered_from_broken_json() {
            assert_eq!(
                recover_event_id(br#"{"event_id": "g7-1", "code": "#, "event_id"),
                Some("g7-1".into())
            );
            assert_eq!(recover_event_id(br#"{"event_id":12}"#, "event_id"), None);
            assert_eq!(recover_event_id(b"garbage", "event_id"), None);
        }
    }
}
