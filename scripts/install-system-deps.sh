#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser test; Podman, runc and
# debootstrap to build and run real container images.
# Runs as root (CI and the development machines); elsewhere it uses sudo if it can.
set -euo pipefail
packages=(chromium podman runc debootstrap curl)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
