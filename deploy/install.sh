#!/usr/bin/env bash
# Claude Agent Runner: installs car-runner on this node and enrolls it with
# the server this script came from.
#
#   curl -sSL @SERVER_URL@/install | bash -s -- --token <enrollment token>
#
# What it does, saying so as it goes:
#   1. checks what it needs (bash, curl, tar, a supported machine, root for
#      a system install);
#   2. picks how the runner runs: a Docker container where Docker works and
#      the runner image is at hand, else the car-runner binary under a
#      systemd unit, or, where there is no systemd (Unraid), a start script
#      run at boot;
#   3. installs the pinned claude CLI beside the binary (the image has its own);
#   4. enrolls: the one-time token buys this node its key, which stays in
#      the data folder (0600); a node that is enrolled already keeps its key;
#   5. starts (or restarts) the runner and waits until it answers.
#
# Running it again is safe: it upgrades what it installed and restarts the
# runner; an enrolled node stays enrolled (--force-enroll spends a new token).
#
# Where things go:
#   Linux (Debian, Ubuntu, Proxmox, ...): /opt/car-runner (binaries,
#     runner.env, start.sh), data in /var/lib/car-runner, car-runner.service.
#   Unraid: no systemd, and the root filesystem lives in RAM. The binaries
#     and start.sh are kept on the flash drive (/boot/config/car-runner),
#     copied to /usr/local/car-runner and started at boot by a line this
#     script adds to /boot/config/go; data on the array
#     (/mnt/user/appdata/car-runner). With Docker enabled, the container is
#     simpler.
#   TrueNAS SCALE: updates replace the system disk, so the defaults are
#     refused: pass --prefix and --data-dir on a pool (e.g.
#     /mnt/tank/car-runner) and add `bash /mnt/tank/car-runner/start.sh` as
#     a post-init script (System > Advanced > Init/Shutdown Scripts); its
#     middleware owns the system, so prefer --mode docker where Apps run.
set -euo pipefail

SERVER_URL="@SERVER_URL@"
CLAUDE_VERSION="@CLAUDE_VERSION@"
RUNNER_VERSION="@RUNNER_VERSION@"
RUNNER_IMAGE="@RUNNER_IMAGE@"
NPM_REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"

token="" name="" address="" port=8100 mode=auto service=auto prefix="" data_dir="" force_enroll=""

usage() {
    cat <<EOF
Install car-runner $RUNNER_VERSION on this node and enroll it with $SERVER_URL.

  curl -sSL $SERVER_URL/install | bash -s -- --token <enrollment token> [options]

  --token TOKEN      the one-time enrollment token (dashboard: Nodes > Enroll)
  --name NAME        the node's name as git declares it (default: the host name)
  --address URL      where the server reaches this runner (default: this
                     machine's address as the server sees it, port --port)
  --port PORT        the runner's port (default 8100)
  --mode MODE        auto (default), docker or binary
  --service KIND     binary mode: auto (default), systemd, unraid, background or none
  --prefix DIR       binary mode: where binaries and start.sh go
  --data-dir DIR     where the runner keeps its key and its runs
  --image IMAGE      docker mode: the runner image (default $RUNNER_IMAGE)
  --server URL       the server (default $SERVER_URL)
  --force-enroll     enroll again (a new key) although this node is enrolled
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$1" >&2
    [ $# -gt 1 ] && printf 'hint: %s\n' "$2" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --token) token="${2:-}"; shift 2 ;;
    --name) name="${2:-}"; shift 2 ;;
    --address) address="${2:-}"; shift 2 ;;
    --port) port="${2:-}"; shift 2 ;;
    --mode) mode="${2:-}"; shift 2 ;;
    --service) service="${2:-}"; shift 2 ;;
    --prefix) prefix="${2:-}"; shift 2 ;;
    --data-dir) data_dir="${2:-}"; shift 2 ;;
    --image) RUNNER_IMAGE="${2:-}"; shift 2 ;;
    --server) SERVER_URL="${2:-}"; shift 2 ;;
    --force-enroll) force_enroll=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" "see the options above" ;;
    esac
done

# ---- 1. what is needed --------------------------------------------------
say "checking this machine"
((BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 4))) ||
    die "this needs bash 4.4 or newer, this is $BASH_VERSION" "upgrade bash, or run it on a newer system"
for tool in curl tar uname mktemp; do
    command -v "$tool" >/dev/null || die "$tool is not installed" "install it with the system's package manager"
done
[ "$(uname -s)" = Linux ] || die "car-runner runs on Linux, this is $(uname -s)"
case "$(uname -m)" in
x86_64 | amd64) arch=x86_64 npm_cpu=x64 ;;
aarch64 | arm64) arch=aarch64 npm_cpu=arm64 ;;
*) die "unsupported processor $(uname -m)" "car-runner is built for x86_64 and aarch64" ;;
esac
libc=""
if ldd --version 2>&1 | grep -qi musl; then libc="-musl"; fi
case "$port" in '' | *[!0-9]*) die "--port $port is not a port number" ;; esac
case "$mode" in auto | docker | binary) ;; *) die "--mode $mode is not auto, docker or binary" ;; esac
case "$service" in auto | systemd | unraid | background | none) ;;
*) die "--service $service is not auto, systemd, unraid, background or none" ;;
esac

if [ -f /etc/unraid-version ]; then
    os=unraid
elif grep -qsi truenas /etc/version || command -v midclt >/dev/null; then
    os=truenas
elif command -v pveversion >/dev/null || [ -d /etc/pve ]; then
    os=proxmox
else
    os=linux
fi
note "Linux on $arch ($os), server $SERVER_URL"

if [ -z "$name" ]; then
    name="$(hostname 2>/dev/null || cat /etc/hostname)"
    name="$(printf '%s' "${name%%.*}" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-' '-' | sed 's/^-*//; s/-*$//')"
fi
note "node name: $name"
curl -fsS -o /dev/null "$SERVER_URL/healthz" ||
    die "cannot reach the server at $SERVER_URL" "check the address and that this machine can reach it (firewall, VLAN)"

# ---- 2. how the runner runs ---------------------------------------------
docker_works() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }
have_image() { docker image inspect "$RUNNER_IMAGE" >/dev/null 2>&1 || docker pull -q "$RUNNER_IMAGE" >/dev/null 2>&1; }
if [ "$mode" = auto ]; then
    mode=binary
    if docker_works; then
        if have_image; then
            mode=docker
        else
            note "Docker works, but the image $RUNNER_IMAGE is not at hand: installing the binary instead"
            note "(build it with: docker build -f deploy/Dockerfile.runner -t $RUNNER_IMAGE .)"
        fi
    fi
fi
if [ "$mode" = docker ]; then
    docker_works || die "Docker does not work here (docker info failed)" "start Docker, or use --mode binary"
    have_image || die "the runner image $RUNNER_IMAGE cannot be found or pulled" \
        "build it (docker build -f deploy/Dockerfile.runner -t $RUNNER_IMAGE .) or use --mode binary"
fi

if [ "$mode" = binary ] && [ "$service" = auto ]; then
    if [ "$os" = unraid ]; then
        service=unraid
    elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        service=systemd
    else
        service=background
    fi
fi
run_dir=""
case "$os" in
unraid)
    prefix="${prefix:-/boot/config/car-runner}"
    data_dir="${data_dir:-/mnt/user/appdata/car-runner}"
    run_dir=/usr/local/car-runner
    ;;
truenas)
    case "$data_dir" in /mnt/*) ;; *) truenas_refused=1 ;; esac
    case "$mode:$prefix" in docker:* | binary:/mnt/*) ;; *) truenas_refused=1 ;; esac
    [ -z "${truenas_refused:-}" ] || die "on TrueNAS the system disk is replaced at every update" \
        "pass --data-dir (and, for the binary, --prefix) on a pool, e.g. --prefix /mnt/tank/car-runner --data-dir /mnt/tank/car-runner/data"
    ;;
esac
prefix="${prefix:-/opt/car-runner}"
data_dir="${data_dir:-/var/lib/car-runner}"
run_dir="${run_dir:-$prefix}"
if [ "$mode" = binary ] && [ "$service" != systemd ] && [ "$service" != none ]; then
    command -v setsid >/dev/null || die "setsid is not installed (it starts the runner in the background)" "install util-linux"
fi
if [ "$(id -u)" != 0 ]; then
    case "$mode:$service" in
    binary:background | binary:none) ;;
    *) die "installing as a $mode with $service needs root" "run it with sudo, or as your own user with --service background --prefix ~/car-runner --data-dir ~/car-runner/data" ;;
    esac
fi
say "installing as: $mode$([ "$mode" = binary ] && printf ', started by %s' "$service")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$data_dir"
chmod 700 "$data_dir"

# ---- 3. the runner and the claude CLI (binary mode) ---------------------
install_binaries() {
    mkdir -p "$prefix/bin"
    say "downloading car-runner $RUNNER_VERSION for $arch from the server"
    curl -fsSL "$SERVER_URL/install/car-runner?arch=$arch" -o "$tmp/car-runner" ||
        die "the server has no car-runner for $arch" "build it (cargo build --release -p car-runner) and put it beside car-server as car-runner-$arch"
    chmod 755 "$tmp/car-runner"
    "$tmp/car-runner" --version >/dev/null 2>&1 || die "the downloaded car-runner does not run on this machine" "check that the server ships a build for $arch ($libc)"
    mv -f "$tmp/car-runner" "$prefix/bin/car-runner"
    note "$prefix/bin/car-runner"

    local have=""
    [ -x "$prefix/bin/claude" ] && have="$("$prefix/bin/claude" --version 2>/dev/null | awk '{print $1}')" || true
    if [ "$have" = "$CLAUDE_VERSION" ]; then
        note "claude $CLAUDE_VERSION is installed already"
        return
    fi
    local pkg="claude-code-linux-$npm_cpu$libc"
    say "downloading claude $CLAUDE_VERSION ($pkg) from $NPM_REGISTRY"
    curl -fsSL "$NPM_REGISTRY/@anthropic-ai/$pkg/-/$pkg-$CLAUDE_VERSION.tgz" -o "$tmp/claude.tgz" ||
        die "cannot download the claude CLI from $NPM_REGISTRY" "check this machine's internet access, or set NPM_REGISTRY to a mirror"
    tar -xzf "$tmp/claude.tgz" -C "$tmp" package/claude || die "the claude package has no binary"
    chmod 755 "$tmp/package/claude"
    [ "$("$tmp/package/claude" --version 2>/dev/null | awk '{print $1}')" = "$CLAUDE_VERSION" ] ||
        die "the downloaded claude CLI is not version $CLAUDE_VERSION"
    mv -f "$tmp/package/claude" "$prefix/bin/claude"
    note "$prefix/bin/claude"
}

# ---- 4. enrollment ------------------------------------------------------
enroll_args() {
    printf '%s\0' enroll --server "$SERVER_URL" --name "$name" --port "$port"
    [ -n "$token" ] && printf '%s\0' --token "$token"
    [ -n "$address" ] && printf '%s\0' --address "$address"
    [ -n "$force_enroll" ] && printf '%s\0' --force
    return 0
}

# ---- 5. start -----------------------------------------------------------
write_start_script() {
    cat >"$prefix/runner.env" <<EOF
# car-runner's settings (written by the install script; safe to edit).
RUNNER_DATA_DIR=$data_dir
RUNNER_PORT=$port
CLAUDE_BIN=$run_dir/bin/claude
SERVER_URL=$SERVER_URL
NODE_NAME=$name
EOF
    cat >"$prefix/start.sh" <<EOF
#!/usr/bin/env bash
# Starts (or restarts) car-runner ($service). Written by the install script.
set -euo pipefail
prefix="$prefix" run_dir="$run_dir" data="$data_dir"
if [ "\$run_dir" != "\$prefix" ]; then
    mkdir -p "\$run_dir/bin" && cp -f "\$prefix/bin/car-runner" "\$prefix/bin/claude" "\$run_dir/bin/"
    chmod 755 "\$run_dir/bin/car-runner" "\$run_dir/bin/claude"
fi
case "$service" in
systemd)
    sed "s|@PREFIX@|\$prefix|g" "\$prefix/car-runner.service" >/etc/systemd/system/car-runner.service
    systemctl daemon-reload
    systemctl enable car-runner >/dev/null 2>&1
    systemctl restart car-runner
    ;;
*)
    if [ -f "\$data/car-runner.pid" ] && kill "\$(cat "\$data/car-runner.pid")" 2>/dev/null; then
        for _ in \$(seq 1 50); do kill -0 "\$(cat "\$data/car-runner.pid")" 2>/dev/null || break; sleep 0.2; done
    fi
    set -a && . "\$prefix/runner.env" && set +a
    setsid "\$run_dir/bin/car-runner" >>"\$data/runner.log" 2>&1 </dev/null &
    echo \$! >"\$data/car-runner.pid"
    ;;
esac
EOF
    chmod 755 "$prefix/start.sh"
    chmod 600 "$prefix/runner.env"
    if [ "$service" = systemd ]; then
        cat >"$prefix/car-runner.service" <<'EOF'
@SYSTEMD_UNIT@
EOF
    fi
    if [ "$service" = unraid ] && ! grep -qs "car-runner/start.sh" /boot/config/go; then
        printf '\n# Claude Agent Runner\nbash %s/start.sh\n' "$prefix" >>/boot/config/go
        note "added the runner to /boot/config/go, so it starts at boot"
    fi
}

wait_until_up() {
    say "waiting for the runner to answer on port $port"
    for _ in $(seq 1 60); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/livez"; then
            note "it answers"
            return 0
        fi
        sleep 0.5
    done
    die "the runner did not answer on port $port within 30 s" "$1"
}

if [ "$mode" = docker ]; then
    say "enrolling with the server"
    mapfile -d '' args < <(enroll_args)
    docker run --rm --network host -v "$data_dir:/data" -e RUNNER_DATA_DIR=/data "$RUNNER_IMAGE" "${args[@]}"
    say "starting the car-runner container"
    docker rm -f car-runner >/dev/null 2>&1 || true
    # Host network, host PIDs and privileges: the agents look at the host's
    # pools, disks, containers and services, not at the container's.
    docker run -d --name car-runner --restart unless-stopped --network host --pid host --privileged \
        -v "$data_dir:/data" -v /var/run/docker.sock:/var/run/docker.sock \
        -e RUNNER_DATA_DIR=/data -e RUNNER_PORT="$port" -e SERVER_URL="$SERVER_URL" -e NODE_NAME="$name" \
        "$RUNNER_IMAGE" >/dev/null
    wait_until_up "see: docker logs car-runner"
    logs="docker logs car-runner"
else
    install_binaries
    say "enrolling with the server"
    mapfile -d '' args < <(enroll_args)
    RUNNER_DATA_DIR="$data_dir" "$prefix/bin/car-runner" "${args[@]}"
    write_start_script
    if [ "$service" = none ]; then
        say "not starting it (--service none): run $prefix/start.sh"
        logs="$data_dir/runner.log"
    else
        say "starting the runner ($service)"
        bash "$prefix/start.sh"
        case "$service" in
        systemd) logs="journalctl -u car-runner" ;;
        *) logs="$data_dir/runner.log" ;;
        esac
        wait_until_up "see $logs"
    fi
fi

say "done: node $name runs car-runner $RUNNER_VERSION"
cat <<EOF

What next:
  - Declare the node in your config repository (no address or token needed,
    the server knows them from the enrollment), e.g. nodes/$name.yaml:

      apiVersion: car/v1
      kind: Node
      metadata:
        name: $name
      spec:
        os: $([ "$os" = linux ] && echo linux || echo "$os")
        tags: []

    Until then it shows as drift ("enrolled, but git does not declare it").
  - Check it: the dashboard's node page, or GET $SERVER_URL/api/v1/nodes/$name
  - Logs: $logs
  - Run this again to upgrade; the node keeps its key.
EOF
