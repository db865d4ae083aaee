#!/usr/bin/env bash
# Builds the component, pins its sha256 in plugin.toml, and checks it the way a venue's
# box will load it. Needs Rust with the wasm32-wasip2 target
# (`rustup target add wasm32-wasip2`) and `venue-edge` on PATH (or VENUE_EDGE=...).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
wasm=target/wasm32-wasip2/release/{{crate}}.wasm
sha=$(sha256sum "$wasm" | cut -c1-64)
sed -i "s/^sha256 = .*/sha256 = \"$sha\"/" plugin.toml
echo "built $wasm ($(wc -c <"$wasm") bytes, sha256 $sha)"
"${VENUE_EDGE:-venue-edge}" plugin check "$wasm" --manifest plugin.toml --samples conformance.toml
