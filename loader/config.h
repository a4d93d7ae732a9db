/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xwan's configuration model: what a YAML file says, validated, in plain C.
 * The parser checks syntax and semantics that need no system access
 * (xwan_config_load); xwan_config_check_system adds what needs the running
 * host (interfaces exist). Every error names file, line and key.
 */
#ifndef XWAN_CONFIG_H
#define XWAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "../bpf/xwan_types.h"

#define XWAN_NAME_MAX        32
#define XWAN_MAX_TARGETS     8
#define XWAN_URL_MAX         256
#define XWAN_ERR_MAX         512

struct xwan_cidr {
	uint32_t addr;          /* network byte order, host bits zero */
	uint8_t  plen;
};

/* IPv6 (issue 13): parsed and validated, not forwarded by xwan yet. */
#define XWAN_MAX_LAN_NETS6   8
#define XWAN_NPT_MAX_PLEN    64     /* NPTv6 adjusts a word at or after bit 48 */

struct xwan_cidr6 {
	uint8_t addr[16];       /* network order, host bits zero */
	uint8_t plen;
};

struct xwan_lan {
	char interface[IFNAMSIZ];
	struct xwan_cidr networks[XWAN_MAX_LAN_NETS];
	int n_networks;
	struct xwan_cidr6 networks6[XWAN_MAX_LAN_NETS6];   /* the IPv6 entries of networks */
	int n_networks6;
	int line;
};

enum xwan_nat_mode {
	XWAN_NAT_MASQUERADE = 0,    /* default */
	XWAN_NAT_NONE       = 1,
};

enum xwan_probe_method {
	XWAN_PROBE_ICMP = 0,        /* default */
	XWAN_PROBE_TCP  = 1,
	XWAN_PROBE_DNS  = 2,
	XWAN_PROBE_HTTP = 3,
};

struct xwan_monitor_cfg {
	uint32_t targets[XWAN_MAX_TARGETS]; /* network order; default: the gateway
					       (0: the learned one, gateway: auto) */
	int n_targets;
	int reliability;            /* default 1, 1..n_targets */
	enum xwan_probe_method method;
	uint16_t port;              /* tcp: default 80; dns: 53; ignored otherwise */
	char url[XWAN_URL_MAX];     /* http: default "http://<target>/" */
	uint32_t interval_ms;       /* default 500 */
	uint32_t loss_interval_ms;  /* default 2000 */
	uint32_t window_ms;         /* default 60000 */
	uint32_t latency_warning_ms;/* default 200 */
	uint32_t latency_down_ms;   /* default 500 */
	uint32_t loss_warning_pct;  /* default 10 */
	uint32_t loss_down_pct;     /* default 20 */
	uint32_t down_after;        /* default 0 (off) */
	uint32_t up_after;          /* default 3 */
	bool enabled;               /* default true; "monitor: false" disables */
};

enum xwan_nat6_mode {
	XWAN_NAT6_NPT        = 0,   /* RFC 6296 prefix translation (npt.inside -> outside) */
	XWAN_NAT6_MASQUERADE = 1,   /* NAT66 to the WAN's own address */
	XWAN_NAT6_NONE       = 2,   /* the LAN holds the ISP's prefix (RFC 8678) */
};

/* A WAN's IPv6 side; enabled by gateway6 (the other keys need it). */
struct xwan_wan6 {
	bool enabled;
	uint8_t gateway[16];        /* zero with gateway_auto */
	bool gateway_auto;          /* "gateway6: auto": the RA-learned default route */
	enum xwan_nat6_mode nat;    /* default npt where the LANs have one IPv6 prefix,
				       else masquerade */
	struct xwan_cidr6 npt_inside;   /* nat6 npt: a LAN prefix ... */
	struct xwan_cidr6 npt_outside;  /* ... and the ISP-routed prefix of equal length */
	uint8_t targets[XWAN_MAX_TARGETS][16];  /* monitor.targets6; default: gateway6 */
	int n_targets;
};

struct xwan_wan {
	char name[XWAN_NAME_MAX];
	char interface[IFNAMSIZ];
	uint32_t gateway;           /* network order; 0 with gateway_auto */
	bool gateway_auto;          /* "gateway: auto": the next hop is the default
				       route the host's DHCP client (or PPP) installs
				       through the interface, followed live */
	uint8_t weight;             /* 1..255, default 1 */
	enum xwan_nat_mode nat;
	uint16_t port_min;          /* default 1024 */
	uint16_t port_max;          /* default 65535 */
	struct xwan_monitor_cfg monitor;
	struct xwan_wan6 v6;
	int gw;                     /* dataplane gateway index: the position at first
				       start, kept by name across reloads (flows
				       record it), so not always the list position */
	int line;
};

struct xwan_member {
	int wan;                    /* index into xwan_config.wans */
	uint8_t tier;               /* 1.. (1 is best), default 1 */
	uint8_t weight;             /* 0: the WAN's weight; else overrides it */
};

enum xwan_trigger {
	XWAN_TRIGGER_MEMBER_DOWN     = 0,   /* default */
	XWAN_TRIGGER_PACKET_LOSS     = 1,
	XWAN_TRIGGER_HIGH_LATENCY    = 2,
	XWAN_TRIGGER_LOSS_OR_LATENCY = 3,
};

enum xwan_on_down { XWAN_ON_DOWN_FLUSH = 0, XWAN_ON_DOWN_KEEP = 1 };   /* default flush */
enum xwan_on_up   { XWAN_ON_UP_KEEP = 0, XWAN_ON_UP_FLUSH = 1 };       /* default keep */

struct xwan_group {
	char name[XWAN_NAME_MAX];
	struct xwan_member members[XWAN_MAX_GATEWAYS];
	int n_members;
	enum group_method method;   /* default hash */
	uint16_t hash_fields;       /* HASH_F_*, default all five */
	uint32_t hash_seed;         /* default 0 */
	enum xwan_trigger trigger;
	enum when_all_down when_all_down;   /* default kernel */
	enum xwan_on_down on_gateway_down;
	enum xwan_on_up on_gateway_up;
	bool sticky;                /* sticky: {enabled, expire_s, key} */
	uint32_t sticky_expire_s;   /* default 300 */
	enum sticky_key sticky_key;
	enum nat_filtering filtering;   /* inbound to its mappings; default
					   address-and-port-dependent */
	int line;
};

struct xwan_rule {
	char name[XWAN_NAME_MAX];
	char lan[IFNAMSIZ];         /* "" = any LAN interface */
	struct xwan_cidr src;       /* family 4: plen 0 = any */
	struct xwan_cidr dst;
	struct xwan_cidr6 src6;     /* family 6: plen 0 = any */
	struct xwan_cidr6 dst6;
	uint8_t family;             /* enum rule_family: its prefixes', `family:` or
				       `proto: icmpv6`; 0 both families' flows */
	uint8_t proto;              /* 0 = any, else IPPROTO_TCP/UDP/ICMP (ICMP: either
				       family's, ICMPv6 for IPv6 flows) */
	uint16_t dport_min;         /* host order; 0-0 = any */
	uint16_t dport_max;
	enum rule_action action;
	int group;                  /* RULE_ACTION_GROUP: index into groups */
	bool has_filtering;         /* `filtering:` set: it overrides the group's */
	enum nat_filtering filtering;
	int line;
};

struct xwan_port_forward {
	int wan;                    /* index into wans */
	uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;              /* host order, on the WAN address */
	uint32_t to_addr;           /* network order */
	uint16_t to_port;           /* host order; default: port */
	bool reflection;            /* LAN clients reach it through the WAN address
				       too (default true) */
	int line;
};

struct xwan_timeouts {
	uint32_t tcp_established;   /* seconds, default 7440 */
	uint32_t tcp_transitory;    /* default 120 */
	uint32_t udp;               /* default 60 */
	uint32_t icmp;              /* default 30 */
};


#define XWAN_HA_MAX_VIRTUAL 16
#define XWAN_HA_DEFAULT_PORT 7874

/* An address that moves with the active role (like a CARP VIP). */
struct xwan_ha_virtual {
	char interface[IFNAMSIZ];   /* a LAN or WAN of this config */
	struct xwan_cidr addr;      /* addr is the host address, not the network */
	int line;
};

/* ha: an active/passive pair (monitor/ha.c). enabled is false without "ha:". */
struct xwan_ha {
	bool enabled;
	uint32_t peer;              /* network order: the peer on the sync link */
	char sync_interface[IFNAMSIZ];
	uint16_t port;              /* UDP port of the sync protocol, default 7874 */
	uint8_t priority;           /* 1..254, higher wins, default 100 */
	bool preempt;               /* default false */
	uint8_t vrid;               /* VRRP virtual router id, default 51 */
	uint32_t advert_ms;         /* VRRP advert interval, default 100 (10..40950) */
	char vrrp_interface[IFNAMSIZ]; /* default: the first LAN */
	char state_dir[128];        /* keepalived config, pid files, fifo; default /run/xwan-ha */
	struct xwan_ha_virtual virtual[XWAN_HA_MAX_VIRTUAL];
	int n_virtual;
	int line;
};

struct xwan_config {
	char path[256];             /* as given, for messages */

	struct xwan_lan lans[XWAN_MAX_LANS];
	int n_lans;
	struct xwan_wan wans[XWAN_MAX_GATEWAYS];
	int n_wans;
	struct xwan_group groups[XWAN_MAX_GROUPS];
	int n_groups;
	int default_group;          /* index; required when groups exist */

	struct xwan_rule rules[XWAN_MAX_RULES];
	int n_rules;
	struct xwan_port_forward forwards[XWAN_MAX_FORWARDS];
	int n_forwards;

	struct xwan_timeouts timeouts;
	uint32_t flow_table_size;   /* flows, default 262144, 1024..16777216 */

	/* Kernel integration for the slow path (packets XDP hands to the kernel). */
	uint32_t fwmark_mask;       /* default 0x00ff0000; contiguous bits, >= 6 of them */
	uint32_t route_table_base;  /* default 0x7877 ("xw"); WAN i uses base + i */
	uint32_t rule_priority;     /* default 1000; ip rule priority */

	/* Agent (monitor). */
	char metrics_listen[64];    /* "addr:port", default "127.0.0.1:9469", "" = off */
	char metrics_token[129];    /* "": none (loopback only); else required by every URL */
	bool manage_default_route;  /* default false */
	enum asymmetric_policy asymmetric;
	bool tcp_liberal;           /* no TCP window checks, default false */
	uint32_t unreplied_per_lan_host;  /* 0: no limit, default 4096 */
	uint32_t unreplied_per_wan_host;  /* 0: no limit, default 256 */

	struct xwan_ha ha;

	/* hooks: programs the agent runs on events (monitor/hooks.c). */
	struct {
		char on_gateway_change[256];    /* absolute path, "" = none */
		uint32_t timeout_ms;            /* killed after this, default 10000 */
		int line;                       /* of on_gateway_change, for messages */
	} hooks;
};

/*
 * Parse and validate a YAML file. On error, returns -1 and writes one line
 * into err, formatted "<path>:<line>: <key>: <problem>", where <key> is the
 * dotted path of the offending key, e.g. "wan[1].weight" or
 * "groups[0].members[2].wan". Returns 0 on success.
 */
int xwan_config_load(const char *path, struct xwan_config *cfg,
		     char *err, size_t errlen);

/* The same from a buffer; `name` stands in for the path in messages. */
int xwan_config_parse(const char *buf, size_t len, const char *name,
		      struct xwan_config *cfg, char *err, size_t errlen);

/*
 * Checks that need the running host, in the current network namespace:
 * every LAN interface exists, and every WAN interface unless its name is one
 * that comes and goes (xwan_iface_is_dynamic). Same error format as
 * xwan_config_load. Missing interfaces that are no error are reported, one
 * line each, through warn (may be NULL); returns how many on success.
 */
enum xwan_syscheck {
	XWAN_SYSCHECK_CHECK = 0,    /* `xwan check`: a missing WAN interface is an
				       error unless its name comes and goes */
	XWAN_SYSCHECK_START = 1,    /* up/run/reload: every missing WAN interface is
				       a warning; the WAN starts down, joins later */
};
typedef void (*xwan_warn_fn)(void *ctx, const char *msg);
int xwan_config_check_system(const struct xwan_config *cfg, enum xwan_syscheck mode,
			     xwan_warn_fn warn, void *ctx, char *err, size_t errlen);

/*
 * A WAN whose interface exists only while its link does: ppp*, wwan*, wg*,
 * tun* (PPPoE sessions, LTE modems, tunnels). Its absence is a warning, and
 * at start the WAN is down with "no interface" until it appears; xwan also
 * starts degraded on any other missing WAN interface, but `check` says so.
 */
bool xwan_iface_is_dynamic(const char *ifname);

/* A WAN's probing as when the config says nothing (dpinger's defaults). */
void xwan_monitor_defaults(struct xwan_monitor_cfg *m, uint32_t gateway);

/*
 * A hash of what both routers of an HA pair must agree on: everything but
 * the node's own ha.peer and ha.priority, and where things sit in the file.
 */
uint64_t xwan_config_hash(const struct xwan_config *cfg);

/* The ha.virtual address on a WAN's interface (network order), 0: none. */
uint32_t xwan_ha_virtual_on(const struct xwan_config *cfg, const char *ifname);

/*
 * How much IPv6 the config has: LAN prefixes and WANs with gateway6, summed
 * into *nets and *wans. True if any (xwan check warns: accepted, not yet
 * forwarded by xwan).
 */
bool xwan_config_has_ipv6(const struct xwan_config *cfg, int *nets, int *wans);

/* Helpers shared by the views. */
const char *xwan_probe_method_name(enum xwan_probe_method m);
int xwan_wan_by_name(const struct xwan_config *cfg, const char *name);
int xwan_group_by_name(const struct xwan_config *cfg, const char *name);

#endif /* XWAN_CONFIG_H */
