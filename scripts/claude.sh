# Sourced by scripts/test and the tests' callers: installs the pinned `claude`
# CLI (npm package @anthropic-ai/claude-code, version in claude-code.version)
# into a folder kept outside the checkout, and exports CLAUDE_BIN.
# The package ships a native binary, so Node is needed only to install it.
_car_claude_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_car_claude_version="$(tr -d '[:space:]' <"$_car_claude_root/claude-code.version")"
CAR_TOOLS_DIR="${CAR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-agent-runner/tools}"
_car_claude_dir="$CAR_TOOLS_DIR/claude-$_car_claude_version"
if [ ! -x "$_car_claude_dir/node_modules/.bin/claude" ]; then
    echo "installing @anthropic-ai/claude-code@$_car_claude_version into $_car_claude_dir" >&2
    mkdir -p "$_car_claude_dir"
    if ! npm install --no-fund --no-audit --loglevel=error --prefix "$_car_claude_dir" \
        "@anthropic-ai/claude-code@$_car_claude_version" >&2; then
        echo "scripts/claude.sh: npm could not install @anthropic-ai/claude-code@$_car_claude_version" >&2
        # Leave no half-installed folder behind for the next attempt to trust.
        rm -rf "$_car_claude_dir"
        unset _car_claude_root _car_claude_version _car_claude_dir
        return 1 2>/dev/null || exit 1
    fi
fi
export CLAUDE_BIN="$_car_claude_dir/node_modules/.bin/claude"
unset _car_claude_root _car_claude_version _car_claude_dir
