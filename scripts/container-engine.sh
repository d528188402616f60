#!/usr/bin/env bash
# Start a Docker-API-compatible engine (Podman) on a local socket and make sure the
# offline base image exists. Prints the DOCKER_HOST to use. Idempotent.
#   scripts/container-engine.sh [SOCKET] [BASE_IMAGE]
set -euo pipefail
socket=${1:-/tmp/bentonb-podman.sock}
base=${2:-localhost/bentonb-base:bookworm}
conf_dir=${XDG_RUNTIME_DIR:-/tmp}/bentonb-containers
mkdir -p "$conf_dir"
cat > "$conf_dir/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$conf_dir/containers.conf"

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

# No registry is reachable to pull python:X.Y-slim: build a Debian base with Python once.
if ! podman --runtime runc image exists "$base"; then
    mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list \
        /etc/apt/sources.list.d/* 2>/dev/null | head -n1 | awk '{print $2}')
    [ -n "$mirror" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$conf_dir/debootstrap.log" 2>&1
    tar -C "$rootfs" -c . | podman --runtime runc import - "$base" >/dev/null
    rm -rf "$rootfs"
fi
echo "unix://$socket"
