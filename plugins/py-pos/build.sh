#!/usr/bin/env bash
# Builds the py-pos plugin into a component that exports venue:edge/pos@1.1.0:
#   target/wasm32-wasip2/plugin/plugin_py_pos.wasm (under the repository root).
#
# Usage: plugins/py-pos/build.sh [--full-world] [--keep-wasi]
#
# Works from any directory. Creates the virtualenv target/py-venv with the pinned
# componentize-py (requirements.txt) when it is missing. Needs python3 (with venv); no
# Rust.
#
# By default it builds against `py-pos-adapter`, the contract's `pos-adapter` world cut to
# the one import the source uses (`log`): componentize-py puts every import of the target
# world into the component, used or not, so against the whole `pos-adapter` the component
# would also import clock, config and kv, and the host would refuse it unless its
# manifest granted all four. `--full-world` builds against `pos-adapter` as it is.
#
# By default WASI imports are replaced by stubs that trap (componentize-py --stub-wasi):
# CPython needs WASI while the component is pre-initialised at build time, and this
# plugin calls none at run time. `--keep-wasi` keeps them as imports instead.
set -euo pipefail

world=py-pos-adapter
stub_wasi=--stub-wasi
for arg in "$@"; do
    case "$arg" in
        --full-world) world=pos-adapter ;;
        --keep-wasi) stub_wasi= ;;
        *)
            echo "usage: $0 [--full-world] [--keep-wasi]" >&2
            exit 2
            ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/py-venv"
out_dir="$root/target/wasm32-wasip2/plugin"
out="$out_dir/plugin_py_pos.wasm"

if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check --quiet -r "$here/requirements.txt"
fi

# The contract's WIT package (the top-level files of wit/, venue:edge@1.1.0) plus one file
# with the narrower world, in a scratch folder.
wit="$(mktemp -d)"
app="$(mktemp -d)"
nosite="$(mktemp -d)"
trap 'rm -rf "$wit" "$app" "$nosite"' EXIT
cp "$root"/wit/*.wit "$wit/"
cat >"$wit/py-pos.wit" <<'WIT'
package venue:edge@1.1.0;

/// `pos-adapter` with only the imports plugins/py-pos uses.
world py-pos-adapter {
    import log;
    export pos;
}
WIT
# Only the plugin's own module goes on the Python path.
cp "$here/app.py" "$app/"
mkdir "$nosite/site-packages"

mkdir -p "$out_dir"
cd "$app"
# componentize-py adds the site-packages of $VIRTUAL_ENV (or else of the python on PATH)
# to the Python path and bundles it: point it at an empty one, so that neither the
# venv's pip and setuptools nor the machine's packages end up in the component.
VIRTUAL_ENV="$nosite" "$venv/bin/componentize-py" \
    --wit-path "$wit" \
    --world "$world" \
    componentize app \
    --python-path "$app" \
    ${stub_wasi:+"$stub_wasi"} \
    --output "$out"

echo "built $out ($(wc -c <"$out") bytes, world $world${stub_wasi:+, WASI stubbed})"
