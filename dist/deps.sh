#!/bin/bash
# dist/deps.sh - install the Debian packages of dist/debian-packages.txt that
# are missing (`make deps`). Idempotent: with everything present it only
# checks, and never runs apt-get.
set -eu
list=$(dirname "$(readlink -f "$0")")/debian-packages.txt
missing=()
while read -r pkg _; do
	case $pkg in '' | '#'*) continue ;; esac
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$pkg")
done <"$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
