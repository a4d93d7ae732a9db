#!/bin/bash
# tests/e2e/test_check.sh - `xwan check` as a user runs it before deploying a
# file, in a network namespace of its own that stands for another machine:
#   1  --offline: a valid file whose interfaces this "machine" lacks passes
#      (exit 0, "ok"); control: plain check of the same file fails (exit 1)
#      and names the missing LAN interface
#   2  --offline: a file with a semantic error (a rule naming a group that
#      does not exist) fails with exit 1 and file:line: key: problem
#   3  plain check: a missing ppp*, wwan*, wg* or tun* WAN is a warning on
#      stderr (exit 0: such interfaces come and go); control: a missing
#      eth* WAN is an error (exit 1)
# Needs root (a namespace). Prints PASS:/FAIL: lines; exit 1 if one failed.
set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

lab_init_names "${XWAN_LAB_PREFIX:-xk$$}" || exit 1
NS=$LAB_PREFIX-chk
DIR=$(mktemp -d)
e2e_traps 'ip netns del "$NS" 2>/dev/null; rm -rf "$DIR"'
if ! ip netns add "$NS"; then
	fail "check: a namespace for the other machine" "ip netns add $NS failed"
	exit 1
fi
ip -n "$NS" link set lo up
xcheck() { # FILE [--offline]: prints "rc=N" then the combined output
	local out rc
	out=$(ip netns exec "$NS" "$XWAN" check -c "$@" 2>&1 </dev/null)
	rc=$?
	printf 'rc=%s\n%s\n' "$rc" "$out"
}
xcheck_err() { ip netns exec "$NS" "$XWAN" check -c "$@" 2>&1 >/dev/null </dev/null; }

cat >"$DIR/router.yaml" <<-'EOF2'
	lan:
	  - {interface: br-lan, networks: [192.168.1.0/24]}
	wan:
	  - {name: fibre, interface: eth0, gateway: auto}
	  - {name: lte, interface: wwan0, gateway: auto}
	groups:
	  - {name: failover, members: [{wan: fibre, tier: 1}, {wan: lte, tier: 2}]}
	rules:
	  - {name: camera, src: 192.168.1.50/32, group: failover}
	default_group: failover
EOF2

# --- 1. a valid file for another machine ---------------------------------------
r=$(xcheck "$DIR/router.yaml" --offline)
check "1a check --offline passes a valid file whose interfaces are not on this machine (exit 0, ok)" \
	"$(echo "$r" | ev)" eval '[[ $r =~ ^rc=0 ]] && [[ $r =~ "router.yaml: ok (1 LAN, 2 WAN, 1 groups, 1 rules)" ]]'
r=$(xcheck "$DIR/router.yaml")
check "1b control: plain check of the same file fails (exit 1) and names the missing LAN interface" \
	"$(echo "$r" | ev)" eval '[[ $r =~ ^rc=1 ]] && [[ $r =~ "router.yaml:2: lan[0].interface: no interface \"br-lan\"" ]]'

# --- 2. a semantic error --------------------------------------------------------
sed 's/group: failover}$/group: backup}/' "$DIR/router.yaml" >"$DIR/typo.yaml"
r=$(xcheck "$DIR/typo.yaml" --offline)
info "$(echo "$r" | ev)"
check "2a check --offline fails a rule naming a group that does not exist: exit 1, file:line: key: and the name" \
	"$(echo "$r" | ev)" eval '[[ $r =~ ^rc=1 ]] && [[ $r =~ typo.yaml:9:\ rules\[0\]\.group:.*backup ]]'
check "2b nothing but the error is printed (no \"ok\")" "$(echo "$r" | ev)" eval '! [[ $r =~ ": ok (" ]]'

# --- 3. interfaces that come and go -------------------------------------------------
ip -n "$NS" link add lan0 type veth peer name lan0p
ip -n "$NS" link add wan1 type veth peer name wan1p
for dyn in ppp0 wwan0 wg0 tun0; do
	cat >"$DIR/$dyn.yaml" <<-EOF2
		lan:
		  - {interface: lan0, networks: [10.1.0.0/24]}
		wan:
		  - {name: isp1, interface: wan1, gateway: 203.0.113.1}
		  - {name: isp2, interface: $dyn, gateway: auto}
	EOF2
	r=$(xcheck "$DIR/$dyn.yaml")
	w=$(xcheck_err "$DIR/$dyn.yaml")
	check "3-$dyn plain check: a missing $dyn WAN is a warning (exit 0, ok) naming file:line and the interface" \
		"$(echo "$r" | ev)" \
		eval '[[ $r =~ ^rc=0 ]] && [[ $r =~ ": ok (" ]] && [[ $w =~ warning ]] && [[ $w =~ "$dyn.yaml:5: wan[1].interface: no interface \"$dyn\"" ]]'
done
sed 's/interface: ppp0/interface: eth9/' "$DIR/ppp0.yaml" >"$DIR/eth9.yaml"
r=$(xcheck "$DIR/eth9.yaml")
check "3-control plain check: a missing eth9 WAN is an error (exit 1) naming file:line and the interface" \
	"$(echo "$r" | ev)" eval '[[ $r =~ ^rc=1 ]] && [[ $r =~ "eth9.yaml:5: wan[1].interface: no interface \"eth9\"" ]]'

echo "# test_check: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
