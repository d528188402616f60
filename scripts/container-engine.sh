#!/usr/bin/env bash
# Start a Docker-API-compatible engine (Podman) on a local socket and make sure the
# offline base image exists. Prints the DOCKER_HOST to use. Idempotent.
#   scripts/container-engine.sh [SOCKET] [BASE_IMAGE]
set -euo pipefail
socket=${1:-/tmp/bentonb-podman.sock}
base=${2:-localhost/bentonb-base:latest}
conf_dir=${XDG_RUNTIME_DIR:-/tmp}/bentonb-containers
mkdir -p "$conf_dir"
cat > "$conf_dir/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$conf_dir/containers.conf"

# Print "MIRROR SUITE" for the machine's distribution: the first main-archive URI of its apt
# sources (one-line "deb URI SUITE ..." or deb822 "URIs:" stanzas), and the codename from
# /etc/os-release when debootstrap knows it, else Debian bookworm.
apt_mirror_and_suite() {
    local codename="" id="" uri=""
    [ -r /etc/os-release ] && { . /etc/os-release; codename=${VERSION_CODENAME:-}; id=${ID:-}; }
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    if [ ${#files[@]} -gt 0 ]; then
        uri=$(awk '
            /^[[:space:]]*deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }
            /^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }
        ' "${files[@]}" | grep -E '/(debian|ubuntu|ubuntu-ports)/?$' | head -n1 || true)
    fi
    if [ -z "$codename" ] || [ ! -e "/usr/share/debootstrap/scripts/$codename" ] || [ -z "$uri" ]; then
        codename=bookworm
        [ "$id" = debian ] && [ -n "$uri" ] || uri=http://deb.debian.org/debian
    fi
    echo "$uri $codename"
}

if ! curl -s --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
    rm -f "$socket"
    nohup podman --runtime runc system service --time=0 "unix://$socket" \
        >"$conf_dir/podman.log" 2>&1 &
    echo $! > "$socket.pid"  # who started it may stop it: kill "$(cat "$socket.pid")"
    for _ in $(seq 100); do
        curl -s --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

# No registry is reachable to pull python:X.Y-slim: build a base with Python once, from the
# machine's own distribution and mirror (apt sources in the one-line or the deb822 form).
if ! podman --runtime runc image exists "$base"; then
    read -r mirror suite < <(apt_mirror_and_suite) || true
    [ -n "${mirror:-}" ] || { echo "no Debian/Ubuntu mirror found in the apt sources" >&2; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$suite" "$rootfs" "$mirror" >"$conf_dir/debootstrap.log" 2>&1 \
        || { echo "debootstrap $suite from $mirror failed; see $conf_dir/debootstrap.log" >&2; exit 1; }
    tar -C "$rootfs" -c . | podman --runtime runc import - "$base" >/dev/null
fi
echo "unix://$socket"
