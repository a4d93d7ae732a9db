/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* One per-interface sysctl, read from /proc (header-only: config.c stands alone). */
#ifndef XWAN_SYSCTL_H
#define XWAN_SYSCTL_H

#include <stdio.h>

/* /proc/sys/net/FAMILY/conf/IF/KNOB ("ipv4" or "ipv6"), -1 if unreadable. */
static inline int xwan_conf_int(const char *family, const char *ifname, const char *knob)
{
	char path[128];
	FILE *f;
	int v = -1;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, knob);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

#endif /* XWAN_SYSCTL_H */
