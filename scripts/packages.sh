# Sourced by scripts/up and .ci/run: the Debian packages this machine lacks.
# `car_need PACKAGE CHECK…` notes PACKAGE when the command CHECK fails;
# `car_install_needed` installs what was noted (as root, or with sudo).
# The checks below are what running the system needs; callers add their own.
car_needed=()
car_need() {
    local package="$1"
    shift
    "$@" >/dev/null 2>&1 || car_needed+=("$package")
}
car_install_needed() {
    [ ${#car_needed[@]} -gt 0 ] || return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            echo "missing ${car_needed[*]}: install them (apt-get install ${car_needed[*]}) or run this as root" >&2
            return 1
        }
        sudo=sudo
    fi
    echo "installing ${car_needed[*]} from Debian's packages" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${car_needed[@]}" >&2
}
# Building: a C toolchain, pkg-config and OpenSSL's headers (for git2 and the TLS clients).
car_need build-essential sh -c 'command -v cc && command -v make'
car_need pkg-config command -v pkg-config
car_need libssl-dev test -e /usr/include/openssl/ssl.h
# Running: python3 (script agents, scripts/up), curl, and the PostgreSQL server programs (the embedded database).
car_need python3 command -v python3
car_need curl command -v curl
car_need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb'
# npm builds the dashboard and installs the pinned claude CLI (scripts/claude.sh).
car_need npm command -v npm
