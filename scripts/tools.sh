# Sourced by scripts/test and the benchmarks: installs the third-party
# checkers the tests run (from PyPI into a venv kept outside the checkout)
# and exports where they are.
CAR_TOOLS_DIR="${CAR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-agent-runner/tools}"
if [ ! -x "$CAR_TOOLS_DIR/venv/bin/check-jsonschema" ]; then
    echo "installing check-jsonschema into $CAR_TOOLS_DIR/venv" >&2
    python3 -m venv "$CAR_TOOLS_DIR/venv"
    "$CAR_TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check 'check-jsonschema==0.*'
fi
export CAR_CHECK_JSONSCHEMA="$CAR_TOOLS_DIR/venv/bin/check-jsonschema"
