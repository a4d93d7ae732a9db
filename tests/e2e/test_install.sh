#!/bin/bash
# tests/e2e/test_install.sh - `make install` into a DESTDIR, as a packager or
# an operator would run it: the binary, the systemd unit (naming the binary by
# its installed path), the man page and the example config; a config already
# there is kept; `make uninstall` removes what install added but the config.
# Needs no lab; systemd-analyze (Debian: systemd) checks the unit.
#
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)".

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
ROOT=$(cd "$E2E_DIR/../.." && pwd)
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

DEST=$(mktemp -d /tmp/xwan-install.XXXXXX)
cleanup() { rm -rf "$DEST"; }
e2e_traps cleanup

inst() { make -s -C "$ROOT" "$@" DESTDIR="$DEST" PREFIX=/usr SYSCONFDIR=/etc 2>&1; }

out=$(inst install)
check "1a make install DESTDIR=... PREFIX=/usr succeeds" "$out" [ $? -eq 0 ]
want="usr/sbin/xwan usr/lib/systemd/system/xwan.service usr/share/man/man8/xwan.8.gz
usr/share/doc/xwan/examples/xwan.yaml usr/share/doc/xwan/README.md etc/xwan/xwan.yaml"
missing=$(for f in $want; do [ -f "$DEST/$f" ] || echo "$f"; done)
check "1b it installs the binary, unit, man page, docs and example config" \
	"missing: $missing; have: $(cd "$DEST" && find . -type f)" [ -z "$missing" ]
ver=$("$DEST/usr/sbin/xwan" version 2>&1)
check "1c the installed binary runs (xwan version: $ver) and is mode 755" \
	"$(stat -c %a "$DEST/usr/sbin/xwan" 2>&1)" \
	sh -c '[ "$(stat -c %a "$1")" = 755 ] && echo "$2" | grep -q "^xwan [0-9]"' _ "$DEST/usr/sbin/xwan" "$ver"
th=$(zcat "$DEST/usr/share/man/man8/xwan.8.gz" 2>&1 | head -1)
check "1d the man page is xwan(8) ($th)" "$th" grep -q '^\.TH XWAN 8' <<<"$th"
unit=$DEST/usr/lib/systemd/system/xwan.service
exe=$(grep -E '^(ExecStart|ExecStartPre|ExecReload)=' "$unit" | ev)
check "1e the unit runs /usr/sbin/xwan with /etc/xwan/xwan.yaml, never /usr/local" "$exe" \
	sh -c 'grep -q "^ExecStart=/usr/sbin/xwan run -c /etc/xwan/xwan.yaml" "$1" && ! grep -q /usr/local "$1"' _ "$unit"
# systemd-analyze checks that executables exist: point it at the DESTDIR copy.
sed "s|/usr/sbin/xwan|$DEST/usr/sbin/xwan|g" "$unit" >"$DEST/xwan.service"
if command -v systemd-analyze >/dev/null; then
	va=$(systemd-analyze verify --man=no "$DEST/xwan.service" 2>&1 | grep -v -e 'Failed to prepare filename' -e '^$')
	check "1f systemd-analyze verify accepts the unit" "$va" [ -z "$va" ]
else
	fail "1f systemd-analyze verify accepts the unit" "systemd-analyze not installed (dist/debian-packages.txt lists systemd)"
fi

# An operator's config survives a reinstall (control: the first install wrote
# the example there, so the check can fail).
check "2a the first install put the example at /etc/xwan/xwan.yaml" "" \
	cmp -s "$ROOT/examples/xwan.yaml" "$DEST/etc/xwan/xwan.yaml"
echo "# edited by the operator" >>"$DEST/etc/xwan/xwan.yaml"
out=$(inst install)
check "2b a second install keeps the edited /etc/xwan/xwan.yaml and says so" "$out" \
	sh -c 'tail -n1 "$1" | grep -q "edited by the operator" && echo "$2" | grep -q keeping' \
	_ "$DEST/etc/xwan/xwan.yaml" "$out"

out=$(inst uninstall)
left=$(cd "$DEST" && find usr -type f 2>/dev/null)
check "3 make uninstall removes binary, unit, man page and docs, keeps the config" \
	"left: $left $out" sh -c '[ -z "$1" ] && [ -f "$2" ]' _ "$left" "$DEST/etc/xwan/xwan.yaml"

echo "test_install: $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
