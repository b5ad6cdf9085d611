# Sourced by scripts/test and the benchmarks: installs the third-party
# checkers the tests run (from PyPI into a venv kept outside the checkout)
# and exports where they are: check-jsonschema (the JSON Schemas) and
# schemathesis (fuzzes the API from its OpenAPI document; pinned, as its
# checks change between releases).
CAR_TOOLS_DIR="${CAR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-agent-runner/tools}"
_car_schemathesis="schemathesis==4.32.5"
if [ ! -x "$CAR_TOOLS_DIR/venv/bin/check-jsonschema" ] ||
    ! "$CAR_TOOLS_DIR/venv/bin/pip" show --quiet schemathesis 2>/dev/null ||
    [ "$("$CAR_TOOLS_DIR/venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version ${_car_schemathesis#*==}" ]; then
    echo "installing check-jsonschema and $_car_schemathesis into $CAR_TOOLS_DIR/venv" >&2
    python3 -m venv "$CAR_TOOLS_DIR/venv"
    "$CAR_TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check 'check-jsonschema==0.*' "$_car_schemathesis"
fi
export CAR_CHECK_JSONSCHEMA="$CAR_TOOLS_DIR/venv/bin/check-jsonschema"
export CAR_SCHEMATHESIS="$CAR_TOOLS_DIR/venv/bin/schemathesis"
unset _car_schemathesis
