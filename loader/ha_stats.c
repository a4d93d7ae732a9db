// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "ha_stats.h"

#include <bpf/bpf.h>
#include <time.h>

static void help(FILE *out, const char *name, const char *type, const char *text)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void counter(FILE *out, const char *name, const char *text, __u64 v)
{
	help(out, name, "counter", text);
	fprintf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *out, const char *name, const char *text, double v)
{
	help(out, name, "gauge", text);
	fprintf(out, "%s %.6g\n", name, v);
}

void xwan_ha_stats_write(const struct xwan_maps *m, FILE *out)
{
	static const char *const roles[] = { "init", "passive", "active", "fault" };
	static const __u8 role_ids[] = { HA_ROLE_INIT, HA_ROLE_PASSIVE, HA_ROLE_ACTIVE,
					 HA_ROLE_FAULT };
	struct ha_status st = {};
	__u32 zero = 0;
	__u64 now = (__u64)time(NULL);

	if (m->fd[XM_HA_STATUS] < 0 || bpf_map_lookup_elem(m->fd[XM_HA_STATUS], &zero, &st) ||
	    st.role == HA_ROLE_OFF)
		return;
	help(out, "xwan_ha_role", "gauge",
	     "1 for this router's role in the HA pair (init, passive, active, fault), 0 for the others.");
	for (unsigned i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		fprintf(out, "xwan_ha_role{role=\"%s\"} %d\n", roles[i], st.role == role_ids[i]);
	gauge(out, "xwan_ha_peer_up", "1 while the peer is heard on the sync link.", st.peer_up);
	help(out, "xwan_ha_sync_messages_total", "counter",
	     "Flow sync data messages: sent (first transmissions), received (accepted in order), "
	     "resent, lost (gaps the sender could no longer fill), rejected (wrong source, malformed), "
	     "wrong_version (the peer runs another sync protocol version: refused).");
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"sent\"} %llu\n",
		(unsigned long long)st.msgs_sent);
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"received\"} %llu\n",
		(unsigned long long)st.msgs_received);
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"resent\"} %llu\n",
		(unsigned long long)st.msgs_resent);
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"lost\"} %llu\n",
		(unsigned long long)st.msgs_lost);
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"rejected\"} %llu\n",
		(unsigned long long)st.msgs_rejected);
	fprintf(out, "xwan_ha_sync_messages_total{kind=\"wrong_version\"} %llu\n",
		(unsigned long long)st.msgs_wrong_version);
	counter(out, "xwan_ha_sync_early_total",
		"Flow sync data messages that arrived before their turn (reordered on the way, or "
		"after a loss), held until it came.", st.msgs_early);
	help(out, "xwan_ha_sync_flows_total", "counter",
	     "Flow records sent to the peer and received from it.");
	fprintf(out, "xwan_ha_sync_flows_total{direction=\"sent\"} %llu\n",
		(unsigned long long)st.flows_sent);
	fprintf(out, "xwan_ha_sync_flows_total{direction=\"received\"} %llu\n",
		(unsigned long long)st.flows_received);
	gauge(out, "xwan_ha_flows_in_sync",
	      "Active: the flows the peer reports holding; passive: the flows received and held.",
	      (double)st.flows_in_sync);
	gauge(out, "xwan_ha_sync_lag_seconds",
	      "Age of the oldest flow sync message the peer has not acknowledged (0: all are).",
	      (double)st.sync_lag_us / 1e6);
	gauge(out, "xwan_ha_last_sync_timestamp_seconds",
	      "Unix time of the last message from the peer (0: never).", (double)st.last_rx_unix);
	gauge(out, "xwan_ha_config_hash_match",
	      "1 when the peer's config hash equals ours.", st.hash_match);
	counter(out, "xwan_ha_config_hash_mismatches_total",
		"Times the peer's config hash turned out different from ours.", st.hash_mismatches);
	counter(out, "xwan_ha_bulk_resyncs_total",
		"Whole flow tables sent to the peer (it (re)joined, or a gap was lost).",
		st.bulk_resyncs);
	counter(out, "xwan_ha_takeovers_total", "Times this router became the active one.",
		st.takeovers);
	counter(out, "xwan_ha_events_lost_total",
		"Flow events the dataplane could not report (ring buffer full).", st.events_lost);
	gauge(out, "xwan_ha_status_age_seconds",
	      "Seconds since the agent last published the HA state (stale: no agent).",
	      (double)(now > st.updated_unix ? now - st.updated_unix : 0));
}
