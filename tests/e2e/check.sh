# tests/e2e/check.sh - what every end-to-end test script shares: result lines
# (PASS:/FAIL:, counted by tests/run.sh) and cleanup on any exit. Sourced.
#
#   check WHAT EVIDENCE CMD...   PASS if CMD succeeds, else FAIL with EVIDENCE
#   e2e_traps CLEANUP            run CLEANUP on exit, interrupt or termination

NPASS=0 NFAIL=0 NSKIP=0
# evidence on one line, bounded
ev() { tr '\n\t' '  ' | sed 's/  */ /g; s/^ //; s/ $//' | cut -c1-600; }
pass() { echo "PASS: $1"; NPASS=$((NPASS + 1)); }
fail() { echo "FAIL: $1 ($(printf '%s' "$2" | ev))"; NFAIL=$((NFAIL + 1)); }
check() {
	local what=$1 evidence=$2; shift 2
	if "$@"; then pass "$what"; else fail "$what" "$evidence"; fi
}
info() { echo "  # $*"; }

# A second signal (the terminal's Ctrl-C and timeout(1)'s forwarded copy)
# must not interrupt the cleanup: signals are ignored once it starts.
e2e_on_signal() { trap '' INT TERM HUP; exit "$1"; }
e2e_traps() {
	# shellcheck disable=SC2064  # the cleanup's name is fixed now
	trap "trap '' INT TERM HUP; $1" EXIT
	trap 'e2e_on_signal 130' INT
	trap 'e2e_on_signal 143' TERM
	trap 'e2e_on_signal 129' HUP
}
