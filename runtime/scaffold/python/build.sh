#!/usr/bin/env bash
# Builds the component with componentize-py (from PyPI, into .venv), pins its sha256 in
# plugin.toml, and checks it the way a venue's box will load it. Needs python3 with venv,
# and `venue-edge` on PATH (or VENUE_EDGE=...).
#
# It builds against `{{world}}` cut to the imports the source uses (`log`): componentize-py
# puts every import of its world into the component, and a box refuses an import the
# manifest does not grant. WASI is stubbed: a box gives plugins no files, sockets or
# environment.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/componentize-py ]; then
    python3 -m venv .venv
    .venv/bin/pip install --disable-pip-version-check --quiet -r requirements.txt
fi
cat > wit/build-world.wit <<'WIT'
package venue:edge@{{contract}};

world build-world {
{{imports}}
    export {{interface}};
}
WIT
app="$(mktemp -d)"; nosite="$(mktemp -d)"; mkdir "$nosite/site-packages"
trap 'rm -rf wit/build-world.wit "$app" "$nosite"' EXIT
cp app.py "$app/"
mkdir -p dist
wasm="$PWD/dist/{{name}}.wasm"
(cd "$app" && VIRTUAL_ENV="$nosite" "$OLDPWD/.venv/bin/componentize-py" --wit-path "$OLDPWD/wit" \
    --world build-world componentize app --python-path "$app" --stub-wasi --output "$wasm")
sha=$(sha256sum "$wasm" | cut -c1-64)
sed -i "s/^sha256 = .*/sha256 = \"$sha\"/" plugin.toml
echo "built dist/{{name}}.wasm ($(wc -c <"$wasm") bytes, sha256 $sha)"
"${VENUE_EDGE:-venue-edge}" plugin check "$wasm" --manifest plugin.toml --samples conformance.toml
