#!/bin/sh
# Install the Debian libraries that Qt, PortAudio and the test audio device need.
# Usage: .ci/system-deps.sh PACKAGE...   (installs only what is missing)
# As root with apt-get available it installs them; otherwise it prints the
# exact command to run and fails, so nothing half-works silently.
set -eu
missing=""
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
command="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $command
else
    echo "Missing system packages:$missing" >&2
    echo "Install them with:  sudo $command" >&2
    exit 1
fi
