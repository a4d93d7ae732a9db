/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where the BPF tests and the benchmark run the real dataplane: a private
 * network namespace with lan0/wan1/wan2 veths (fixed MACs, so expected
 * frames can be written down) and permanent gateway neighbours, and the
 * lab's config (two WANs 3:1). One definition for tests/bpf/fixture.h and
 * bench/bench_dp.c, which each add their own lines.
 */
#ifndef XWAN_TEST_ENV_H
#define XWAN_TEST_ENV_H

/* The LAN (its networks NETS) and the two WANs, each with lines W1 / W2 added. */
#define XWAN_TEST_LAN_WAN_WITH(NETS, W1, W2) \
	"lan:\n" \
	"  - interface: lan0\n" \
	"    networks: " NETS "\n" \
	"wan:\n" \
	"  - name: isp1\n" \
	"    interface: wan1\n" \
	"    gateway: 203.0.113.1\n" \
	"    weight: 3\n" \
	"    nat_ports: 1024-65535\n" \
	"    monitor: false\n" \
	W1 \
	"  - name: isp2\n" \
	"    interface: wan2\n" \
	"    gateway: 198.51.100.1\n" \
	"    weight: 1\n" \
	"    monitor: false\n" \
	W2

#define XWAN_TEST_LAN_WAN XWAN_TEST_LAN_WAN_WITH("[10.1.0.0/24]", "", "")

/* Both WANs with IPv6 too: the ULA LAN prefix translated into each ISP's
 * /64 (nat6 npt), the gateways' neighbours in XWAN_TEST_NETNS6. */
#define XWAN_TEST_LAN_WAN6 XWAN_TEST_LAN_WAN_WITH("[10.1.0.0/24, fd00:1::/64]", \
	"    gateway6: 2001:db8:1::1\n" \
	"    nat6: npt\n" \
	"    npt: {inside: fd00:1::/64, outside: 2001:db8:1:100::/64}\n", \
	"    gateway6: 2001:db8:2::1\n" \
	"    nat6: npt\n" \
	"    npt: {inside: fd00:1::/64, outside: 2001:db8:2:100::/64}\n")

/* The config but its flow_table_size line, over LAN_WAN. */
#define XWAN_TEST_CONFIG_OF(LAN_WAN) LAN_WAN \
	"groups:\n" \
	"  - name: balance\n" \
	"    members: [{wan: isp1}, {wan: isp2}]\n" \
	"    method: hash\n" \
	"    hash_fields: [src, dst, proto, sport, dport]\n" \
	"default_group: balance\n" \
	"timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}\n"

#define XWAN_TEST_CONFIG XWAN_TEST_CONFIG_OF(XWAN_TEST_LAN_WAN)

/* The namespace's interfaces, addresses, gateway neighbours, forwarding. */
#define XWAN_TEST_NETNS \
	"set -e\n" \
	"ip link set lo up\n" \
	"ip link add lan0 address 02:00:00:00:00:01 type veth peer name lan0p\n" \
	"ip link add wan1 address 02:00:00:00:01:02 type veth peer name wan1p\n" \
	"ip link add wan2 address 02:00:00:00:02:02 type veth peer name wan2p\n" \
	"for i in lan0 lan0p wan1 wan1p wan2 wan2p; do ip link set $i up; done\n" \
	"ip addr add 10.1.0.1/24 brd + dev lan0\n" \
	"ip addr add 203.0.113.2/24 brd + dev wan1\n" \
	"ip addr add 198.51.100.2/24 brd + dev wan2\n" \
	"ip neigh replace 203.0.113.1 lladdr 02:00:00:00:01:01 dev wan1 nud permanent\n" \
	"ip neigh replace 198.51.100.1 lladdr 02:00:00:00:02:01 dev wan2 nud permanent\n" \
	"echo 1 > /proc/sys/net/ipv4/ip_forward\n"

/* IPv6 beside it (XWAN_TEST_LAN_WAN6): addresses without DAD, neighbours. */
#define XWAN_TEST_NETNS6 \
	"sysctl -qw net.ipv6.conf.all.forwarding=1\n" \
	"ip -6 addr add fd00:1::1/64 dev lan0 nodad\n" \
	"ip -6 addr add 2001:db8:1::2/64 dev wan1 nodad\n" \
	"ip -6 addr add 2001:db8:2::2/64 dev wan2 nodad\n" \
	"ip -6 neigh replace 2001:db8:1::1 lladdr 02:00:00:00:01:01 dev wan1 nud permanent\n" \
	"ip -6 neigh replace 2001:db8:2::1 lladdr 02:00:00:00:02:01 dev wan2 nud permanent\n"

#endif /* XWAN_TEST_ENV_H */
