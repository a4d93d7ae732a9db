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

/* The LAN and the two WANs. */
#define XWAN_TEST_LAN_WAN \
	"lan:\n" \
	"  - interface: lan0\n" \
	"    networks: [10.1.0.0/24]\n" \
	"wan:\n" \
	"  - name: isp1\n" \
	"    interface: wan1\n" \
	"    gateway: 203.0.113.1\n" \
	"    weight: 3\n" \
	"    nat_ports: 1024-65535\n" \
	"    monitor: false\n" \
	"  - name: isp2\n" \
	"    interface: wan2\n" \
	"    gateway: 198.51.100.1\n" \
	"    weight: 1\n" \
	"    monitor: false\n"

/* The config but its flow_table_size line. */
#define XWAN_TEST_CONFIG XWAN_TEST_LAN_WAN \
	"groups:\n" \
	"  - name: balance\n" \
	"    members: [{wan: isp1}, {wan: isp2}]\n" \
	"    method: hash\n" \
	"    hash_fields: [src, dst, proto, sport, dport]\n" \
	"default_group: balance\n" \
	"timeouts: {tcp_established: 7440, tcp_transitory: 120, udp: 60, icmp: 30}\n"

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

#endif /* XWAN_TEST_ENV_H */
