#!/bin/bash
# tests/e2e/test_hairpin.sh - hairpinning and NAT reflection (RFC 4787 REQ-9,
# RFC 5382 REQ-8, issue 14) in the namespace lab (tests/e2e/lab.sh), with a
# second LAN network (XWAN_LAB_LAN=routed2: gw lan1 10.2.0.1/24, a second
# client namespace at 10.2.0.2). Needs root.
#
#   tests/e2e/test_hairpin.sh
#
# The LAN server is 10.1.0.4 in the client namespace (the lab's LAN hosts
# 10.1.0.2-4 are addresses of one namespace: a stand-in for three hosts on
# one switch). It runs tools/servers.py (whoami TCP :8080 and UDP :5300 that
# answer with the peer they saw, HTTP :8000 with the lab's 8 MiB blob);
# port forwards on isp1's address 203.0.113.2 reach it, and one UDP
# forward reaches a port nobody listens on (:5399).
#   1 from the other LAN network (10.2.0.2): through the WAN address, the
#     blob with the right sha256, the server sees 10.2.0.2 ("pure NAT")
#   2 from the server's own network (10.1.0.2): the same, the server sees
#     the router's LAN address 10.1.0.1
#   3 an ICMP error hairpins: the server's port unreachable reaches the
#     client as connection refused, translated (icmp_error_translated)
#   4 a LAN host's live UDP mapping, reached through the WAN address:
#     endpoint-independent filtering admits another LAN host (which is seen
#     from a WAN address), the default filtering refuses it (control)
#   5 TTL 1 toward a reflected forward: Time Exceeded from the router, as
#     when forwarding; the server never sees it
#   6 control: reflection: false on the forwards (xwan reload): the LAN
#     clients reach the host's own whoami on the WAN address instead (and
#     its answers come back over the LAN), not the server; the internet
#     still reaches the forward
# xwan-only: with XWAN_E2E_MODE=kernel every check is reported as SKIP.
# Every check prints "PASS: <what>" or "FAIL: <what> (<evidence>)".

set -u
E2E_DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/e2e/lab.sh
. "$E2E_DIR/lab.sh"
# shellcheck source=tests/e2e/check.sh
. "$E2E_DIR/check.sh"

MODE=${XWAN_E2E_MODE:-xwan}
if [ "$MODE" != xwan ]; then
	for c in "1 reflection, other network" "2 reflection, same network" "3 icmp error" \
		"4 mapping" "5 ttl" "6 reflection false"; do
		echo "SKIP: $c (xwan-only, mode=$MODE)"
	done
	exit 0
fi

LSRV=10.1.0.4                   # the LAN server
P2P=10.1.0.3                    # its rule makes full-cone mappings
STRICT=$LAB_CLIENT_IP           # default filtering
FAR=$LAB_LAN2_CLIENT_IP         # on the other LAN network
WAN=$LAB_WAN1_IP                # the forwards' address
STUN=$LAB_SERVER:7000           # tools/natprobe.py serve, in inet

lab_init_names "${XWAN_LAB_PREFIX:-ehp$$}"
e2e_traps lab_destroy
CFG_DIR=$LAB_CFG_DIR
mkdir -p "$CFG_DIR"

# gen_cfg true|false: the config, with that reflection on every forward
gen_cfg() {
	cat <<-EOF
		# written by tests/e2e/test_hairpin.sh (reflection: $1)
		lan:
		  - interface: lan0
		    networks: [$LAB_LAN_NET]
		  - interface: lan1
		    networks: [$LAB_LAN2_NET]
		$(lab_yaml_wans)
		groups:
		  - name: balance
		    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}]
		default_group: balance
		rules:
		  - {name: p2p, src: $P2P/32, group: balance, filtering: endpoint-independent}
		port_forwards:
		  - {wan: isp1, proto: tcp, port: 8000, to: "$LSRV:8000", reflection: $1}
		  - {wan: isp1, proto: tcp, port: 8080, to: "$LSRV:8080", reflection: $1}
		  - {wan: isp1, proto: udp, port: 5300, to: "$LSRV:5300", reflection: $1}
		  - {wan: isp1, proto: udp, port: 5399, to: "$LSRV:5399", reflection: $1}
		timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}
		flow_table_size: 65536
	EOF
}
gen_cfg true >"$CFG_DIR/reflect.yaml"
gen_cfg false >"$CFG_DIR/noreflect.yaml"

echo "# test_hairpin: lab=$LAB_PREFIX"
export XWAN_LAB_LAN=routed2 XWAN_LAB_CONFIG=$CFG_DIR/reflect.yaml
if ! setup_err=$(lab_create xwan 2>&1); then
	fail "lab setup (xwan, routed2)" "$setup_err"
	exit 1
fi
SUM=$(cat "$LAB_WWW/blob.sha256")
LPEERS=$LAB_LOG/lan-server-peers.log
: >"$LPEERS"
lab_client "$LAB_PY" "$LAB_TOOLS/servers.py" --addr "$LSRV" --www "$LAB_WWW" --log "$LPEERS" \
	</dev/null >"$LAB_LOG/lan-server.log" 2>&1 &
# The host's own whoami on the WAN address: what a LAN client reaches there
# without reflection (and must not reach with it).
GPEERS=$LAB_LOG/gw-peers.log
: >"$GPEERS"
lab_gw "$LAB_PY" "$LAB_TOOLS/servers.py" --addr "$WAN" --log "$GPEERS" \
	</dev/null >"$LAB_LOG/gw-server.log" 2>&1 &
lab_inet "$LAB_PY" "$LAB_TOOLS/natprobe.py" serve "$STUN" >"$LAB_LOG/natprobe.log" 2>&1 &
lab_wait_listen "$LAB_NS_GW" tcp 8080 || fail "host's whoami on $WAN" "$(cat "$LAB_LOG/gw-server.log")"
for p in 8000 8080; do
	lab_wait_listen "$LAB_NS_CLIENT" tcp $p || fail "LAN server :$p" "$(cat "$LAB_LOG/lan-server.log")"
done
lab_wait_listen "$LAB_NS_CLIENT" udp 5300 || fail "LAN server udp :5300" "$(cat "$LAB_LOG/lan-server.log")"
lab_wait_listen "$LAB_NS_INET" udp 7000 || fail "natprobe in inet" "$(cat "$LAB_LOG/natprobe.log")"
lab_wait_ping "$LAB_NS_CLIENT2" "$LAB_SERVER" 20 || fail "client2 ($FAR) reaches $LAB_SERVER" "no ping"

metric() { lab_xwan stats 2>/dev/null | "$LAB_PY" "$LAB_TOOLS/promval.py" "$1"; }
ev_count() { metric "xwan_events_total{event=\"$1\"}"; }
ns_of() { case $1 in "$FAR") echo "$LAB_NS_CLIENT2" ;; *) echo "$LAB_NS_CLIENT" ;; esac; }
# client FROM SUBCOMMAND ARGS...: tools/client.py from address FROM, to the WAN address
client() {
	local from=$1 cmd=$2; shift 2
	timeout 120 ip netns exec "$(ns_of "$from")" "$LAB_PY" "$LAB_TOOLS/client.py" \
		--server "$WAN" --timeout 5 "$cmd" "$@"
}
fetch() { client "$1" fetch --url "http://$WAN:8000/blob.bin" --sha256 "$SUM"; }
# who FROM tcp|udp: the one address the LAN server saw (client.py by_addr), or "none"
who() {
	client "$1" "$2-whoami" --count 3 --bind "$1" --port "$([ "$2" = tcp ] && echo 8080 || echo 5300)" |
		"$LAB_PY" -c 'import json,sys; r=json.load(sys.stdin); b=r["by_addr"]; print(",".join(sorted(b)) if b and not r["fail"] else "none(%s)" % ";".join(r["errors"][:1]))' 2>/dev/null ||
		echo none
}
sha_of() { "$LAB_PY" -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r.get("sha256") or r.get("error"))' 2>/dev/null <<<"$1"; }
peers_from() { grep -c " $1 " "$LPEERS"; }

# --- 1, 2: reflection ----------------------------------------------------------
t_reflection() {
	local n=$1 from=$2 want=$3 what=$4 out got t u h0 h1
	h0=$(ev_count hairpin_flow_created)
	out=$(fetch "$from")
	got=$(sha_of "$out")
	info "fetch from $from via $WAN:8000: $(ev <<<"$out" | cut -c1-200)"
	check "${n}a $what ($from): the 8 MiB blob through $WAN:8000 reaches the LAN server, sha256 ${got:0:16}... = ${SUM:0:16}..." \
		"$out" [ "$got" = "$SUM" ]
	t=$(who "$from" tcp)
	u=$(who "$from" udp)
	h1=$(ev_count hairpin_flow_created)
	info "the LAN server saw: tcp $t, udp $u; its log: $(tail -n 2 "$LPEERS" | ev)"
	check "${n}b $what: the LAN server sees $want (tcp :8080 saw $t, udp :5300 saw $u; hairpin_flow_created $h0 -> $h1), the host's own whoami on $WAN nothing ($(grep -c . "$GPEERS") peers)" \
		"tcp $t udp $u" eval '[ "$t" = "$want" ] && [ "$u" = "$want" ] && [ "$(peers_from "$want")" -ge 6 ] && [ "${h1:-0}" -gt "${h0:-0}" ] && [ ! -s "$GPEERS" ]'
}

# --- 3: an ICMP error -----------------------------------------------------------
# refused FROM: a connected UDP socket to WAN:5399 gets "refused" (the
# server's port unreachable, matched to the socket only when translated)
refused() {
	ip netns exec "$(ns_of "$1")" "$LAB_PY" - "$1" "$WAN" 5399 <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind((sys.argv[1], 0))
		s.connect((sys.argv[2], int(sys.argv[3])))
		s.settimeout(1)
		res = "unanswered"
		for _ in range(3):
		    try:
		        s.send(b"x")
		        s.recv(100)
		        res = "answered"
		        break
		    except ConnectionRefusedError:
		        res = "refused"
		        break
		    except socket.timeout:
		        pass
		print(res)
	EOF
}
srv_udp5399() { lab_nft_counter "$LAB_NS_CLIENT" inet hptest srv5399; }
t_icmp_error() {
	local from r c0 c1 e0 e1
	lab_client nft -f - <<-EOF
		table inet hptest {
			counter srv5399 { }
			chain input {
				type filter hook input priority filter; policy accept;
				ip daddr $LSRV udp dport 5399 counter name "srv5399"
			}
		}
	EOF
	for from in "$FAR" "$STRICT"; do
		c0=$(srv_udp5399)
		e0=$(ev_count icmp_error_translated)
		r=$(refused "$from")
		c1=$(srv_udp5399)
		e1=$(ev_count icmp_error_translated)
		check "3 ICMP error hairpinned ($from to $WAN:5399, nobody listens on $LSRV:5399): the server got the datagram (counter $c0 -> $c1), its port unreachable reaches the client translated: $r (icmp_error_translated $e0 -> $e1)" \
			"$r" eval '[ "$r" = refused ] && [ "${c1:-0}" -gt "${c0:-0}" ] && [ "${e1:-0}" -gt "${e0:-0}" ]'
	done
}

# --- 4: a LAN host's mapping ---------------------------------------------------
# to_mapping HOST PORT FROM: HOST's socket PORT sends to the STUN server (a
# mapping); FROM sends to the public endpoint it got. Prints
# "<endpoint> <answered|unanswered> <what HOST saw>"
to_mapping() {
	local host=$1 port=$2 from=$3 log=$LAB_LOG/mapping-$2.log ep res pid
	timeout 60 ip netns exec "$LAB_NS_CLIENT" "$LAB_PY" "$LAB_TOOLS/natprobe.py" udp \
		--bind "$host:$port" --to "$STUN" --wait-third 6 >"$log" 2>&1 &
	pid=$!
	lab_poll 15 grep -q ready "$log"
	ep=$(awk '$1 == "seen" { print $4 }' "$log")
	if [[ $ep != "$LAB_WAN1_IP":* && $ep != "$LAB_WAN2_IP":* ]]; then
		wait "$pid"
		echo "none no-mapping($(ev <"$log"))"
		return
	fi
	res=$(timeout 30 ip netns exec "$(ns_of "$from")" "$LAB_PY" "$LAB_TOOLS/natprobe.py" send \
		--from "$from" --to "$ep")
	wait "$pid"
	echo "$ep $res $(awk '$1 == "third" { print $2; exit }' "$log")"
}
t_mapping() {
	local r f0 f1 ep res saw port=40100
	for from in "$FAR" "$STRICT"; do
		port=$((port + 1))
		r=$(to_mapping "$P2P" "$port" "$from")
		read -r ep res saw <<<"$r"
		check "4a endpoint-independent mapping of $P2P ($ep) reached from LAN host $from through the WAN address: $res, $P2P saw ${saw:-nothing} (a WAN address)" \
			"$r" eval '[ "$res" = answered ] && [[ $saw == "$LAB_WAN1_IP":* || $saw == "$LAB_WAN2_IP":* ]]'
	done
	f0=$(ev_count hairpin_to_mapping_filtered)
	r=$(to_mapping "$STRICT" 40200 "$FAR")
	read -r ep res saw <<<"$r"
	f1=$(ev_count hairpin_to_mapping_filtered)
	check "4b control: the default-filtered mapping of $STRICT ($ep) refuses LAN host $FAR: $res (hairpin_to_mapping_filtered $f0 -> $f1)" \
		"$r" eval '[ "$res" = unanswered ] && [ -n "$ep" ] && [ "$ep" != none ] && [ "${f1:-0}" -gt "${f0:-0}" ]'
}

# --- 5: TTL 1 -------------------------------------------------------------------
# ttl1 FROM: one UDP datagram with TTL 1 to WAN:5300 from a socket that
# asks for its errors (IP_RECVERR); prints "<type>/<code> from <address>"
ttl1() {
	ip netns exec "$(ns_of "$1")" "$LAB_PY" - "$1" "$WAN" 5300 <<-'EOF'
		import select, socket, struct, sys
		IP_RECVERR = 11
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind((sys.argv[1], 0))
		s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
		s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
		s.connect((sys.argv[2], int(sys.argv[3])))
		res = "nothing"
		for _ in range(3):
		    s.send(b"ttl1")
		    if not select.select([s], [], [], 1)[0]:
		        continue
		    try:
		        data = s.recv(100)
		        res = "answer " + data.decode(errors="replace").strip()
		    except OSError:
		        _, anc, _, _ = s.recvmsg(100, 512, socket.MSG_ERRQUEUE)
		        for lvl, typ, d in anc:
		            if lvl == socket.IPPROTO_IP and typ == IP_RECVERR:
		                # struct sock_extended_err, then the offender's sockaddr_in
		                _, origin, etype, ecode = struct.unpack_from("IBBB", d)
		                res = "%d/%d from %s" % (etype, ecode, socket.inet_ntoa(d[20:24]))
		    break
		print(res)
	EOF
}
t_ttl() {
	local from r p0 p1 want
	for from in "$FAR" "$STRICT"; do
		want=$LAB_GW_LAN
		[ "$from" = "$FAR" ] && want=$LAB_GW_LAN2
		p0=$(grep -c '^udp' "$LPEERS")
		r=$(ttl1 "$from")
		p1=$(grep -c '^udp' "$LPEERS")
		check "5 TTL 1 from $from to the reflected $WAN:5300: Time Exceeded (11/0) from the router ($want), as when forwarding: $r; neither the server (udp peers $p0 -> $p1) nor the host's own :5300 ($(grep -c . "$GPEERS") peers) saw it" \
			"$r" eval '[ "$r" = "11/0 from $want" ] && [ "$p1" = "$p0" ] && [ ! -s "$GPEERS" ]'
	done
}

# --- 6: reflection: false ------------------------------------------------------
t_no_reflection() {
	local out f t inet n0 n1 g0 g1
	if ! out=$(lab_xwan reload -c "$CFG_DIR/noreflect.yaml" 2>&1); then
		fail "6 xwan reload -c noreflect.yaml" "$out"
		return
	fi
	for f in "$FAR" "$STRICT"; do
		n0=$(grep -c . "$LPEERS")
		g0=$(grep -c . "$GPEERS")
		out=$(fetch "$f")
		t=$(who "$f" tcp)
		n1=$(grep -c . "$LPEERS")
		g1=$(grep -c . "$GPEERS")
		check "6a control: reflection: false: $f through $WAN reaches the host, as without reflection, not the LAN server: the host's whoami saw ${t:0:60} (its log $g0 -> $g1 lines, the LAN server's $n0 -> $n1); the blob is not there ($(sha_of "$out" | cut -c1-60))" \
			"$out" eval '[ "$t" = "$f" ] && [ "$g1" -gt "$g0" ] && [ "$n1" = "$n0" ] && [ "$(sha_of "$out")" != "$SUM" ]'
	done
	inet=$(timeout 60 ip netns exec "$LAB_NS_INET" "$LAB_PY" "$LAB_TOOLS/client.py" --server "$WAN" \
		tcp-whoami --count 1 --bind "$LAB_SERVER" | "$LAB_PY" -c 'import json,sys; print(",".join(json.load(sys.stdin)["by_addr"]))')
	check "6b the forward itself still works from the internet: the LAN server sees $inet" \
		"$inet" [ "$inet" = "$LAB_SERVER" ]
}

START=$SECONDS
t_reflection 1 "$FAR" "$FAR" "from the other LAN network"
t_reflection 2 "$STRICT" "$LAB_GW_LAN" "from the server's own network"
t_icmp_error
t_mapping
t_ttl
info "xwan flows: $(lab_xwan flows 2>&1 | grep -c hairpin) hairpin lines"
t_no_reflection
echo "# test_hairpin: $NPASS pass, $NFAIL fail ($((SECONDS - START)) s after lab setup)"
[ "$NFAIL" = 0 ]
