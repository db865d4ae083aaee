#!/usr/bin/env bash
# Builds the component with componentize-js (from npm), pins its sha256 in plugin.toml,
# and checks it the way a venue's box will load it. Needs node and npm, and `venue-edge`
# on PATH (or VENUE_EDGE=...).
#
# It builds against `{{world}}` cut to the imports the source uses (`log`): componentize-js
# puts every import of its world into the component, and a box refuses an import the
# manifest does not grant. Add an import here and a grant in plugin.toml together.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm install --no-audit --no-fund
cat > wit/build-world.wit <<'WIT'
package venue:edge@{{contract}};

world build-world {
{{imports}}
    export {{interface}};
}
WIT
trap 'rm -f wit/build-world.wit' EXIT
mkdir -p dist
./node_modules/.bin/componentize-js --wit wit --world-name build-world \
    --disable stdio random clocks http fetch-event --out dist/{{name}}.wasm src/plugin.js
wasm=dist/{{name}}.wasm
sha=$(sha256sum "$wasm" | cut -c1-64)
sed -i "s/^sha256 = .*/sha256 = \"$sha\"/" plugin.toml
echo "built $wasm ($(wc -c <"$wasm") bytes, sha256 $sha)"
"${VENUE_EDGE:-venue-edge}" plugin check "$wasm" --manifest plugin.toml --samples conformance.toml
