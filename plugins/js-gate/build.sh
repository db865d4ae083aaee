#!/usr/bin/env bash
# Builds the js-gate plugin into a component that exports venue:edge/gate@1.1.0:
#   target/wasm32-wasip2/plugin/plugin_js_gate.wasm (under the repository root).
#
# Usage: plugins/js-gate/build.sh [--full-world]
#
# Works from any directory. Installs the pinned node tools (npm ci) when node_modules is
# missing. Needs node and npm; no Rust.
#
# By default it builds against `js-gate-adapter`, the contract's `gate-adapter` world cut
# to the one import the source uses (`log`): componentize-js puts every import of the
# target world into the component, used or not, so against the whole `gate-adapter` the
# component would also import clock, config and kv, and the host would refuse it unless
# its manifest granted all four. `--full-world` builds against `gate-adapter` as it is.
set -euo pipefail

world=js-gate-adapter
case "${1:-}" in
    "") ;;
    --full-world) world=gate-adapter ;;
    *)
        echo "usage: $0 [--full-world]" >&2
        exit 2
        ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_dir="$root/target/wasm32-wasip2/plugin"
out="$out_dir/plugin_js_gate.wasm"

cd "$here"
if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund
fi

# The contract's WIT package (the top-level files of wit/, venue:edge@1.1.0) plus one file
# with the narrower world, in a scratch folder.
wit="$(mktemp -d)"
trap 'rm -rf "$wit"' EXIT
cp "$root"/wit/*.wit "$wit/"
cat >"$wit/js-gate.wit" <<'WIT'
package venue:edge@1.1.0;

/// `gate-adapter` with only the imports plugins/js-gate uses.
world js-gate-adapter {
    import log;
    export gate;
}
WIT

mkdir -p "$out_dir"
# Every engine feature off: the component then imports no WASI at all. The cost: an
# uncaught exception traps instead of printing to stderr (the source catches its own).
./node_modules/.bin/componentize-js \
    --wit "$wit" \
    --world-name "$world" \
    --disable stdio random clocks http fetch-event \
    --out "$out" \
    src/gate.js

echo "built $out ($(wc -c <"$out") bytes, world $world)"
