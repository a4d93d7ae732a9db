#!/bin/bash
# tests/e2e/test_nat_behaviour.sh - what a STUN client, a game console or a
# WebRTC peer behind xwan sees (RFC 4787, RFC 5382, RFC 5780), in the
# namespace lab (tests/e2e/lab.sh). Needs root.
#
#   tests/e2e/test_nat_behaviour.sh
#
# The inet namespace gets three more addresses (192.0.2.101-103, added here,
# not in lab.sh): 101 and 102 are two "STUN servers" (tools/natprobe.py serve,
# and coturn's turnserver with both as its RFC 5780 addresses), 103 is a
# third host the LAN client never sent to.
#   1 one UDP socket to two servers: both see the same public address:port
#   2 TCP from one bound port to two servers, at once: likewise
#   3 filtering per group, applied with `xwan reload`: a third host reaches a
#     live mapping only with endpoint-independent filtering; with
#     address-dependent only the server's address does (from another port);
#     with the default, neither
#   4 turnutils_natdiscovery (coturn) from the LAN client reports
#     endpoint-independent mapping and the filtering the config asks for;
#     and hairpinning (-H: a second socket's request to the first one's
#     public address reaches it) where the filtering admits it: with
#     endpoint-independent filtering; with the other two the first socket
#     never sent to the WAN address, so the request is refused (control)
#   5 xwan flows and xwan explain show the mapping and its filtering
#
# xwan-only: with XWAN_E2E_MODE=kernel every check is reported as SKIP.
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)".

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}
S1=192.0.2.101 S2=192.0.2.102 THIRD=192.0.2.103 PORT=7000

if [ "$MODE" != xwan ]; then
	for c in "1 udp mapping" "2 tcp mapping" "3 filtering" "4 natdiscovery"; do
		echo "SKIP: $c (xwan-only, mode=$MODE)"
	done
	exit 0
fi

probe() { local ns=$1; shift; timeout 60 ip netns exec "$ns" "$LAB_PY" "$LAB_TOOLS/natprobe.py" "$@"; }
metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
# the public endpoints a probe's "seen" lines report, one per line
seen_of() { awk '$1 == "seen" { print $4 }' <<<"$1"; }
is_wan_ep() { [[ $1 == "$LAB_WAN1_IP":* || $1 == "$LAB_WAN2_IP":* ]]; }

lab_init_names "${XWAN_LAB_PREFIX:-einb$$}"
e2e_traps lab_destroy
CFG_DIR=$LAB_CFG_DIR
mkdir -p "$CFG_DIR"

# gen_cfg FILTERING: the lab's config with that filtering in its group
gen_cfg() {
	cat <<-EOF
		# written by tests/e2e/test_nat_behaviour.sh (filtering $1)
		lan:
		  - interface: lan0
		    networks: [$LAB_LAN_NET]
		$(lab_yaml_wans)
		groups:
		  - name: balance
		    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
		    filtering: $1
		default_group: balance
		timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}
		flow_table_size: 65536
	EOF
}
for f in address-and-port-dependent address-dependent endpoint-independent; do
	gen_cfg "$f" >"$CFG_DIR/$f.yaml"
done

echo "# test_nat_behaviour: lab=$LAB_PREFIX"
export XWAN_LAB_CONFIG=$CFG_DIR/address-and-port-dependent.yaml
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan)" "$setup_err"
	exit 1
fi
for a in $S1 $S2 $THIRD; do
	ip -n "$LAB_NS_INET" addr add "$a/32" dev lo
done
ip netns exec "$LAB_NS_INET" "$LAB_PY" "$LAB_TOOLS/natprobe.py" serve \
	"$S1:$PORT" "$S2:$PORT" >"$LAB_LOG/natprobe.log" 2>&1 &
lab_wait_listen "$LAB_NS_INET" tcp "$PORT" || fail "natprobe servers" "$(cat "$LAB_LOG/natprobe.log")"

# --- 1, 2: endpoint-independent mapping ------------------------------------------
t_mapping() {
	local out eps n
	out=$(probe "$LAB_NS_CLIENT" udp --bind "$LAB_CLIENT_IP:40000" --to "$S1:$PORT" --to "$S2:$PORT")
	eps=$(seen_of "$out")
	info "udp 10.1.0.2:40000: $(ev <<<"$out")"
	n=$(sort -u <<<"$eps" | grep -c .)
	check "1 one UDP socket to $S1 and $S2: both see one public address:port, a WAN's ($(head -1 <<<"$eps"))" \
		"$out" eval '[ "$(grep -c . <<<"$eps")" = 2 ] && [ "$n" = 1 ] && is_wan_ep "$(head -1 <<<"$eps")"'

	out=$(probe "$LAB_NS_CLIENT" tcp --bind "$LAB_CLIENT_IP:41000" --to "$S1:$PORT" --to "$S2:$PORT")
	eps=$(seen_of "$out")
	info "tcp 10.1.0.2:41000: $(ev <<<"$out")"
	n=$(sort -u <<<"$eps" | grep -c .)
	check "2 TCP from one bound port to $S1 and $S2 at once: both see one public address:port ($(head -1 <<<"$eps"))" \
		"$out" eval '[ "$(grep -c . <<<"$eps")" = 2 ] && [ "$n" = 1 ] && is_wan_ep "$(head -1 <<<"$eps")"'
}

# --- 5: the views ---------------------------------------------------------------------
t_views() {
	local out ep
	ep=$(seen_of "$(probe "$LAB_NS_CLIENT" udp --bind "$LAB_CLIENT_IP:40000" --to "$S1:$PORT")")
	out=$(lab_xwan flows --client "$LAB_CLIENT_IP" 2>&1)
	info "xwan flows: $(grep -A3 "MAPPED TO" <<<"$out" | ev)"
	check "5a xwan flows lists the mapping of $LAB_CLIENT_IP:40000 to $ep with its filtering" \
		"$out" eval 'grep -E "^udp +$LAB_CLIENT_IP:40000 +$ep .*address-and-port-dependent" <<<"$out" >/dev/null'
	out=$(lab_xwan explain --src "$LAB_CLIENT_IP" --sport 40000 --dst 192.0.2.77 --proto udp \
		--dport 9 2>&1)
	info "xwan explain: $(ev <<<"$out")"
	check "5b xwan explain for a new flow of that socket names the mapping ($ep) and its WAN as the gateway" \
		"$out" eval 'grep -q "^mapping: .*-> $ep" <<<"$out" && grep -q "^gateway: .*mapping" <<<"$out" && grep -q "filtering address-and-port-dependent" <<<"$out"'
	out=$(lab_xwan explain --src "$LAB_CLIENT_IP" --sport 40999 --dst 192.0.2.77 --proto udp \
		--dport 9 2>&1)
	check "5c control: a socket without a mapping gets the hash's gateway" "$out" \
		eval 'grep -q "^mapping: *none" <<<"$out" && ! grep -q "^gateway: .*mapping" <<<"$out"'
}

# --- 3: filtering ------------------------------------------------------------------
# third_try FILTERING SPORT FROM: a client socket sends to S1, FROM sends
# to its public endpoint; prints what FROM saw ("answered"/"unanswered")
third_try() {
	local f=$1 sport=$2 from=$3 log=$LAB_LOG/third-$2.log ep res pid
	probe "$LAB_NS_CLIENT" udp --bind "$LAB_CLIENT_IP:$sport" --to "$S1:$PORT" \
		--wait-third 6 >"$log" 2>&1 &
	pid=$!
	lab_poll 10 grep -q ready "$log"
	ep=$(seen_of "$(cat "$log")")
	if ! is_wan_ep "$ep"; then
		echo "no-mapping($(ev <"$log"))"
		wait "$pid"
		return
	fi
	res=$(probe "$LAB_NS_INET" send --from "$from" --to "$ep")
	wait "$pid"
	echo "$res"
}

apply_filtering() {
	local out
	if ! out=$(lab_xwan reload -c "$CFG_DIR/$1.yaml" 2>&1); then
		fail "xwan reload -c $1.yaml" "$out"
		return 1
	fi
}

t_filtering() {
	local r1 r2 f0
	f0=$(metric 'xwan_events_total{event="nat_mapping_inbound_filtered"}')
	r1=$(third_try address-and-port-dependent 40010 "$THIRD")
	r2=$(third_try address-and-port-dependent 40011 "$S1")
	check "3a default filtering (address-and-port-dependent): neither a third host ($r1) nor the server's address from another port ($r2) reaches the mapping; both counted (nat_mapping_inbound_filtered $f0 -> $(metric 'xwan_events_total{event="nat_mapping_inbound_filtered"}'))" \
		"third: $r1; server, other port: $r2" \
		eval '[ "$r1" = unanswered ] && [ "$r2" = unanswered ]'

	apply_filtering address-dependent || return
	r1=$(third_try address-dependent 40020 "$THIRD")
	r2=$(third_try address-dependent 40021 "$S1")
	check "3b address-dependent: the server's address from another port reaches the mapping ($r2), a third host does not ($r1)" \
		"third: $r1; server, other port: $r2" \
		eval '[ "$r1" = unanswered ] && [ "$r2" = answered ]'

	apply_filtering endpoint-independent || return
	r1=$(third_try endpoint-independent 40030 "$THIRD")
	check "3c endpoint-independent: a third internet host reaches the live mapping and gets the answer ($r1)" \
		"third: $r1" [ "$r1" = answered ]
	apply_filtering address-and-port-dependent
}

# --- 4: coturn's natdiscovery --------------------------------------------------------
start_turnserver() {
	# -c /dev/null: Debian's /etc/turnserver.conf must not apply (it has no
	# alternate port: no RFC 5780)
	ip netns exec "$LAB_NS_INET" turnserver -c /dev/null -L "$S1" -L "$S2" \
		--listening-port 3478 --alt-listening-port 3479 --stun-only -z --no-cli \
		--no-tls --no-dtls --log-file=stdout \
		--pidfile "$LAB_STATE/turnserver.pid" >"$LAB_LOG/turnserver.log" 2>&1 &
	lab_wait_listen "$LAB_NS_INET" udp 3478
}

# natdiscovery SPORT: the lines of its report that name a behaviour
natdiscovery() {
	timeout 60 ip netns exec "$LAB_NS_CLIENT" turnutils_natdiscovery -m -f \
		-L "$LAB_CLIENT_IP" -l "$1" "$S1" 2>&1
}

# natdiscovery_hairpin SPORT: "hairpinned" when the -H request arrived
natdiscovery_hairpin() {
	local out
	out=$(timeout 60 ip netns exec "$LAB_NS_CLIENT" turnutils_natdiscovery -H \
		-L "$LAB_CLIENT_IP" -l "$1" "$S1" 2>&1)
	if grep -q "Received a request" <<<"$out"; then
		echo hairpinned
	elif grep -q "UDP reflexive addr" <<<"$out"; then
		echo "not-hairpinned($(grep -c "receive timeout" <<<"$out") timeouts)"
	else
		echo "no-mapping($(ev <<<"$out" | cut -c1-200))"
	fi
}

t_natdiscovery() {
	local f out map filt sport=42000 want h f0 f1
	if ! command -v turnutils_natdiscovery >/dev/null || ! command -v turnserver >/dev/null; then
		fail "4 natdiscovery" "coturn is not installed (dist/debian-packages.txt lists it)"
		return
	fi
	if ! start_turnserver; then
		fail "4 turnserver on $S1,$S2" "$(tail -5 "$LAB_LOG/turnserver.log" 2>/dev/null)"
		return
	fi
	for f in address-and-port-dependent address-dependent endpoint-independent; do
		apply_filtering "$f" || continue
		sport=$((sport + 10))
		out=$(natdiscovery "$sport")
		map=$(grep -iE 'mapping' <<<"$out" | grep -iE 'independent|dependent' | tail -1)
		filt=$(grep -iE 'filtering' <<<"$out" | grep -iE 'independent|dependent' | tail -1)
		info "natdiscovery ($f): mapping: ${map:-?}; filtering: ${filt:-?}"
		case $f in
		address-and-port-dependent) want='address and port dependent' ;;
		address-dependent) want='address dependent' ;;
		endpoint-independent) want='endpoint independent' ;;
		esac
		check "4 natdiscovery with filtering: $f reports endpoint-independent mapping and $want filtering" \
			"$(ev <<<"$out")" \
			eval 'grep -qi "endpoint independent" <<<"$map" && grep -qi "$want" <<<"${filt//-/ }" && ! { [ "$f" = address-dependent ] && grep -qi "port dependent" <<<"$filt"; }'
		f0=$(metric 'xwan_events_total{event="hairpin_to_mapping_filtered"}')
		h=$(natdiscovery_hairpin $((sport + 5)))
		f1=$(metric 'xwan_events_total{event="hairpin_to_mapping_filtered"}')
		if [ "$f" = endpoint-independent ]; then
			check "4h natdiscovery -H with filtering: $f reports hairpinning ($h)" "$h" [ "$h" = hairpinned ]
		else
			check "4h control: natdiscovery -H with filtering: $f: the request to the socket's own public address is refused ($h; hairpin_to_mapping_filtered ${f0:-0} -> ${f1:-0})" \
				"$h" eval '[[ $h == not-hairpinned* ]] && [ "${f1:-0}" -gt "${f0:-0}" ]'
		fi
	done
}

START=$SECONDS
t_mapping
t_views
t_filtering
t_natdiscovery
echo "# test_nat_behaviour: $NPASS pass, $NFAIL fail ($((SECONDS - START)) s after lab setup)"
[ "$NFAIL" = 0 ]
