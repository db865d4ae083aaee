//! A gate adapter that misbehaves on purpose, for the host's tests: the plugin config key
//! `mode` picks how. `trap` panics, `loop` never returns, `grow` allocates without bound,
//! `garbage` returns a scan without an event id; `by-payload` misbehaves as its payload
//! says (`trap`, `loop` or `grow`) and otherwise returns a scan whose code is the payload
//! followed by `#` and the number of calls this instance has served (so the host's reuse
//! of instances is visible); `peek` returns a scan whose code is what the plugin sees of
//! WASI's clock and random numbers (`{unix seconds}:{a hash keyed by random numbers}`);
//! `escape` tries to get out of the sandbox (read a file, list a folder, write a file, read
//! the environment, open a TCP connection to the config key `target`) and returns a scan
//! whose code says how each went (`file:denied;dir:denied;...`); anything else behaves like
//! std-json.
//!
//! Grants needed: `config`.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use venue_plugin_sdk::gate::exports::venue::edge::gate::Guest;
use venue_plugin_sdk::gate::venue::edge::config;
use venue_plugin_sdk::gate::venue::edge::types::{
    DecodeError, Direction, Scan, Verdict, WhitelistDelta,
};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Misbehave;

fn mode() -> String {
    config::get("mode").unwrap_or_default()
}

/// Calls this instance has served.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[allow(clippy::empty_loop)]
fn misbehave_as(how: &str) {
    match how {
        "trap" => panic!("misbehave: trapping on purpose"),
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        _ => {}
    }
}

fn misbehave() {
    misbehave_as(&mode());
}

/// What this instance sees of the WASI clock and random numbers.
fn peek() -> String {
    use std::hash::BuildHasher;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let keyed = std::collections::hash_map::RandomState::new().hash_one(0u8);
    format!("{secs}:{keyed}")
}

/// Each way out of the sandbox, tried: `name:ok` or `name:denied`.
fn escape() -> String {
    let seen = |name: &str, ok: bool| format!("{name}:{}", if ok { "ok" } else { "denied" });
    let target = config::get("target").unwrap_or_else(|| "127.0.0.1:9".into());
    [
        seen("file", std::fs::read("/etc/hostname").is_ok()),
        seen(
            "dir",
            std::fs::read_dir(".").is_ok() || std::fs::read_dir("/").is_ok(),
        ),
        seen("write", std::fs::write("escape.txt", b"out").is_ok()),
        seen("env", std::env::vars().next().is_some()),
        seen("tcp", std::net::TcpStream::connect(target.as_str()).is_ok()),
    ]
    .join(";")
}

impl Guest for Misbehave {
    fn decode_scan(_device: String, payload: Vec<u8>) -> Result<Scan, DecodeError> {
        let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let text = String::from_utf8_lossy(&payload);
        let mode = mode();
        if mode == "by-payload" {
            misbehave_as(&text);
        } else {
            misbehave_as(&mode);
        }
        let code = if mode == "by-payload" {
            format!("{text}#{calls}")
        } else if mode == "peek" {
            peek()
        } else if mode == "escape" {
            escape()
        } else {
            text.clone().into_owned()
        };
        let event_id = if mode == "garbage" {
            String::new()
        } else {
            format!("mis-{}", text.len())
        };
        Ok(Scan {
            event_id,
            code,
            direction: Direction::In,
            at: "2026-11-25T09:00:00+08:00".into(),
            count: 1,
            id_number: None,
            offline: false,
        })
    }

    fn encode_verdict(_device: String, verdict: Verdict) -> Result<Vec<u8>, String> {
        misbehave();
        Ok(verdict.event_id.into_bytes())
    }

    fn encode_whitelist(_device: String, _delta: WhitelistDelta) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::gate::export_gate_adapter!(Misbehave);
