#!/bin/bash
# tests/run.sh - the whole xwan test suite.
#
#   tests/run.sh [--unit-only | --e2e-only]
#
# 1. Unit/BPF tests: every tests/unit/test_*.c and tests/bpf/test_*.c is a
#    cmocka program build/tests/test_* (tests/tests.mk). `make tests` is run
#    first (a no-op when they are up to date; XWAN_TEST_NO_BUILD=1 skips it).
#    Each cmocka test case counts as one test ("PASS: test_x/case"); a
#    program that is missing, crashes, exits non-zero without a failed case,
#    or runs no case at all counts as one failed test. Any other
#    build/tests/test_* executable found is run the same way.
# 2. End-to-end: every tests/e2e/test_*.sh (needs root); each of its
#    PASS:/FAIL:/SKIP: lines counts as one test. A script that exits non-zero
#    without a FAIL line, or reports nothing, counts as one failed test.
#    XWAN_E2E_MODE=kernel runs them against the plain-Linux baseline instead
#    of build/xwan (the xwan-only checks then report SKIP; that is the only
#    place a skip is allowed: a SKIP in xwan mode counts as a failure).
#
# Ends with "N passed, M failed" (", K skipped" when K > 0) and exits 1 if
# anything failed.
#
# Env: XWAN_TEST_TIMEOUT (s, per unit program, default 300),
#      XWAN_E2E_TIMEOUT (s, per e2e script, default 1200).

set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
case $BUILD in /*) BDIR=$BUILD ;; *) BDIR=$ROOT/$BUILD ;; esac

want_unit=1 want_e2e=1
for a in "$@"; do
	case $a in
	--unit-only) want_e2e=0 ;;
	--e2e-only) want_unit=0 ;;
	-h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "tests/run.sh: unknown argument '$a'" >&2; exit 2 ;;
	esac
done
[ "$want_unit$want_e2e" = 00 ] && { echo "tests/run.sh: --unit-only and --e2e-only exclude each other" >&2; exit 2; }

NPASS=0 NFAIL=0 NSKIP=0
FAILED=()
# Ctrl-C / TERM reach the running test too (same process group): let it
# clean up (the e2e scripts remove their lab), then stop with 130.
INTERRUPTED=0
trap 'INTERRUPTED=1' INT TERM
pass() { echo "PASS: $1"; NPASS=$((NPASS + 1)); }
fail() { echo "FAIL: $1${2:+ ($2)}"; NFAIL=$((NFAIL + 1)); FAILED+=("$1"); }
skip() { echo "SKIP: $1${2:+ ($2)}"; NSKIP=$((NSKIP + 1)); }
oneline() { tr '\n\t' '  ' | sed 's/  */ /g; s/^ //; s/ $//' | cut -c1-300; }

# --- unit / BPF tests (cmocka) ---------------------------------------------------
# run_cmocka NAME BINARY: one PASS/FAIL line per cmocka test case.
run_cmocka() {
	local name=$1 bin=$2 out rc line cur="" ncases=0 nfail_before=$NFAIL status case ev=""
	out=$(mktemp)
	# stdout line-buffered and merged with stderr, so that cmocka's error
	# lines stay between the RUN line and the result of their case; the
	# brace group keeps bash's "Aborted"/"Segmentation fault" notes quiet
	# (the crash is reported as a failure below).
	{ (cd "$ROOT" && CMOCKA_MESSAGE_OUTPUT=STDOUT exec stdbuf -oL -eL \
		timeout --foreground "${XWAN_TEST_TIMEOUT:-300}" "$bin" </dev/null >"$out" 2>&1); } 2>/dev/null
	rc=$?
	# cmocka's STDOUT format: "[ RUN      ] case" then one of
	# "[       OK ] case", "[  FAILED  ] case", "[  SKIPPED ] case",
	# "[  ERROR   ] case". The end-of-group summary repeats names after
	# "listed below:"; only a result right after its RUN line counts.
	while IFS= read -r line; do
		if [[ $line =~ ^\[\ RUN\ +\]\ (.*)$ ]]; then
			[ -n "$cur" ] && fail "$name/$cur" "no result: $(printf '%s' "$ev" | oneline)"
			cur=${BASH_REMATCH[1]} ev=""
			ncases=$((ncases + 1))
			continue
		fi
		[ -n "$cur" ] || continue
		if [[ $line =~ ^\[\ +(OK|FAILED|SKIPPED|ERROR)\ +\]\ (.*)$ ]] && [ "${BASH_REMATCH[2]}" = "$cur" ]; then
			status=${BASH_REMATCH[1]} case=$cur
			cur=""
			case $status in
			OK) pass "$name/$case" ;;
			SKIPPED) skip "$name/$case" "skipped by the test" ;;
			*) fail "$name/$case" "$(printf '%s' "$ev" | oneline)" ;;
			esac
		else
			ev="$ev${line#\[*\] --- } "
		fi
	done <"$out"
	if [ -n "$cur" ]; then
		fail "$name/$cur" "no result (crashed? exit $rc): $(printf '%s' "$ev" | oneline)"
	fi
	if [ "$ncases" = 0 ]; then
		fail "$name" "ran no test case, exit $rc: $(tail -n 5 "$out" | oneline)"
	elif [ "$rc" != 0 ] && [ "$NFAIL" = "$nfail_before" ]; then
		fail "$name" "exit $rc without a failed case: $(tail -n 5 "$out" | oneline)"
	fi
	rm -f "$out"
}

run_unit() {
	local srcs=() bins=() s b name
	for s in tests/unit/test_*.c tests/bpf/test_*.c; do
		[ -e "$s" ] && srcs+=("$s")
	done
	if [ -z "${XWAN_TEST_NO_BUILD:-}" ] && [ ${#srcs[@]} -gt 0 ]; then
		echo "# make tests"
		if ! make -s tests >/tmp/xwan-make-tests.$$ 2>&1; then
			tail -n 30 /tmp/xwan-make-tests.$$ | sed 's/^/  # /'
			fail "build: make tests" "see the make output above"
		fi
		rm -f /tmp/xwan-make-tests.$$
	fi
	# expected programs (from the sources) plus any other built test_*
	for s in "${srcs[@]}"; do
		b=$(basename "$s" .c)
		bins+=("$b")
	done
	for b in "$BDIR"/tests/test_*; do
		if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
		name=$(basename "$b")
		[[ " ${bins[*]} " == *" $name "* ]] || bins+=("$name")
	done
	echo "# unit tests: ${#bins[@]} program(s)"
	for name in "${bins[@]}"; do
		[ "$INTERRUPTED" = 1 ] && return
		if [ ! -x "$BDIR/tests/$name" ]; then
			fail "$name" "$BUILD/tests/$name missing (make tests)"
			continue
		fi
		run_cmocka "$name" "$BDIR/tests/$name"
	done
}

# --- end-to-end tests ---------------------------------------------------------------
run_e2e() {
	local t name line rc rrc reported mode=${XWAN_E2E_MODE:-xwan}
	local scripts=(tests/e2e/test_*.sh)
	[ -e "${scripts[0]}" ] || { fail "e2e" "no tests/e2e/test_*.sh found"; return; }
	echo "# e2e tests: ${#scripts[@]} script(s), mode $mode"
	if [ "$(id -u)" != 0 ]; then
		for t in "${scripts[@]}"; do fail "e2e/$(basename "$t" .sh)" "needs root (network namespaces)"; done
		return
	fi
	for t in "${scripts[@]}"; do
		[ "$INTERRUPTED" = 1 ] && return
		name=e2e/$(basename "$t" .sh)
		reported=0 rc=""
		while :; do
			IFS= read -r line
			rrc=$?
			# a trapped signal interrupts read (>128): keep reading while
			# the script cleans up, until it closes its output
			[ "$rrc" -gt 128 ] && continue
			[ "$rrc" = 0 ] || [ -n "$line" ] || break
			case $line in
			PASS:*) pass "$name: ${line#PASS: }"; reported=$((reported + 1)) ;;
			FAIL:*) fail "$name: ${line#FAIL: }"; reported=$((reported + 1)) ;;
			SKIP:*)
				reported=$((reported + 1))
				if [ "$mode" = kernel ]; then
					skip "$name: ${line#SKIP: }"
				else
					fail "$name: ${line#SKIP: }" "skipped in xwan mode"
				fi
				;;
			__XWAN_RC__=*) rc=${line#__XWAN_RC__=} ;;
			*) echo "$line" ;;
			esac
		done < <(XWAN_E2E_MODE=$mode timeout --foreground -k 30 "${XWAN_E2E_TIMEOUT:-1200}" bash "$t" 2>&1 </dev/null
			echo "__XWAN_RC__=$?")
		if [ "$reported" = 0 ]; then
			fail "$name" "reported no check, exit $rc"
		elif [ "$rc" != 0 ] && ! printf '%s\n' "${FAILED[@]:-}" | grep -q "^$name: "; then
			fail "$name" "exit $rc without a FAIL line"
		fi
	done
}

[ "$want_unit" = 1 ] && run_unit
[ "$want_e2e" = 1 ] && run_e2e
[ "$INTERRUPTED" = 1 ] && fail "interrupted" "the remaining tests did not run"

if [ "$NFAIL" -gt 0 ]; then
	echo "# failed:"
	printf '#   %s\n' "${FAILED[@]}"
fi
if [ "$NSKIP" -gt 0 ]; then
	echo "$NPASS passed, $NFAIL failed, $NSKIP skipped"
else
	echo "$NPASS passed, $NFAIL failed"
fi
[ "$INTERRUPTED" = 1 ] && exit 130
[ "$NFAIL" = 0 ]
