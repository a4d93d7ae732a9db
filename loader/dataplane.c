// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pindir.h"
#include "tc.skel.h"
#include "xdp.skel.h"

int dp_load(struct xwan_dp *dp, uint32_t flow_capacity, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int rc;

	memset(dp, 0, sizeof(*dp));
	xwan_maps_init(&dp->maps);

	dp->xdp = xwan_xdp__open();
	if (!dp->xdp) {
		snprintf(err, errlen, "cannot open the XDP object: %s", strerror(errno));
		return -errno;
	}
	rc = bpf_map__set_max_entries(dp->xdp->maps.flows, 2 * flow_capacity);
	if (!rc)
		rc = bpf_map__set_max_entries(dp->xdp->maps.flows_new,
					      2 * xwan_unreplied_capacity(flow_capacity));
	if (!rc)
		rc = bpf_map__set_max_entries(dp->xdp->maps.flows6, 2 * flow_capacity);
	if (!rc)
		rc = bpf_map__set_max_entries(dp->xdp->maps.flows6_new,
					      2 * xwan_unreplied_capacity(flow_capacity));
	if (!rc)
		rc = xwan_xdp__load(dp->xdp);
	if (rc) {
		snprintf(err, errlen, "cannot load the XDP programs (%s); the kernel log above "
			 "says why", strerror(-rc));
		goto fail;
	}

	/* The tc object uses the very same maps. */
	dp->tc = xwan_tc__open();
	if (!dp->tc) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the tc object: %s", strerror(errno));
		goto fail;
	}
	bpf_object__for_each_map(map, dp->tc->obj) {
		struct bpf_map *twin = bpf_object__find_map_by_name(dp->xdp->obj,
								    bpf_map__name(map));

		if (!twin)
			continue;
		rc = bpf_map__reuse_fd(map, bpf_map__fd(twin));
		if (rc) {
			snprintf(err, errlen, "cannot share map %s: %s", bpf_map__name(map),
				 strerror(-rc));
			goto fail;
		}
	}
	rc = xwan_tc__load(dp->tc);
	if (rc) {
		snprintf(err, errlen, "cannot load the tc programs (%s)", strerror(-rc));
		goto fail;
	}

	for (int i = 0; i < XM_COUNT; i++) {
		map = bpf_object__find_map_by_name(dp->xdp->obj, xwan_map_names[i]);
		if (!map) {
			rc = -ENOENT;
			snprintf(err, errlen, "BPF object has no map %s", xwan_map_names[i]);
			goto fail;
		}
		dp->maps.fd[i] = bpf_map__fd(map);
	}
	/* Whose redirect failures xdp_redirect_failed counts: ours only. */
	for (__u32 k = 0; k < 2; k++) {
		__u32 id = prog_id_of(dp_prog_fd(dp, xwan_prog_names[k ? XP_XDP_WAN : XP_XDP_LAN]));

		rc = bpf_map_update_elem(bpf_map__fd(dp->xdp->maps.xdp_prog_ids), &k, &id, BPF_ANY);
		if (rc) {
			rc = -errno;
			snprintf(err, errlen, "cannot record the XDP program ids: %s", strerror(errno));
			goto fail;
		}
	}
	/*
	 * Bind the maps no program reads to the XDP programs, so that a later
	 * command can find every map from an attached program alone.
	 */
	bpf_object__for_each_program(prog, dp->xdp->obj) {
		for (int i = 0; i < XM_COUNT; i++) {
			rc = bpf_prog_bind_map(bpf_program__fd(prog), dp->maps.fd[i], NULL);
			if (rc) {
				snprintf(err, errlen, "cannot bind map %s: %s", xwan_map_names[i],
					 strerror(-rc));
				goto fail;
			}
		}
	}
	return 0;
fail:
	dp_destroy(dp);
	return rc;
}

void dp_destroy(struct xwan_dp *dp)
{
	xwan_tc__destroy(dp->tc);
	xwan_xdp__destroy(dp->xdp);
	dp->tc = NULL;
	dp->xdp = NULL;
	xwan_maps_init(&dp->maps);
}

int dp_prog_fd(const struct xwan_dp *dp, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(dp->xdp->obj, name);

	if (!p)
		p = bpf_object__find_program_by_name(dp->tc->obj, name);
	return p ? bpf_program__fd(p) : -ENOENT;
}

int dp_pin(const struct xwan_dp *dp, const char *pin_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];

	for (int i = 0; i < XM_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, xwan_map_names[i]);
		if (bpf_obj_pin(dp->maps.fd[i], path)) {
			snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	snprintf(path, sizeof(path), "%s/progs", pin_dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; xwan_prog_names[i]; i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", pin_dir, xwan_prog_names[i]);
		if (bpf_obj_pin(dp_prog_fd(dp, xwan_prog_names[i]), path)) {
			snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int dp_watch_redirects(const struct xwan_dp *dp, const char *pin_dir, char *err, size_t errlen)
{
	struct bpf_program *p = bpf_object__find_program_by_name(dp->xdp->obj,
								 XWAN_REDIRECT_WATCH);
	char path[PATH_MAX];
	struct bpf_link *l;
	int rc;

	if (!p) {
		snprintf(err, errlen, "the XDP object has no %s program", XWAN_REDIRECT_WATCH);
		return -ENOENT;
	}
	l = bpf_program__attach(p);
	if (!l) {
		rc = -errno;
		snprintf(err, errlen, "cannot attach to the xdp:xdp_redirect_err tracepoint: %s",
			 strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/links/%s", pin_dir, XWAN_REDIRECT_WATCH);
	rc = bpf_link__pin(l, path);
out:
	if (rc)
		snprintf(err, errlen, "cannot pin %s: %s", path, strerror(-rc));
	bpf_link__destroy(l);       /* the pin holds it */
	return rc;
}

uint32_t prog_id_of(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	return info.id;
}

int xdp_attach(int ifindex, int prog_fd, bool allow_generic, uint8_t *mode,
	       char *err, size_t errlen)
{
	int rc;

	rc = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE,
			    NULL);
	if (!rc) {
		*mode = XDP_ATTACH_NATIVE;
		return 0;
	}
	if (rc == -EBUSY || rc == -EEXIST) {
		snprintf(err, errlen, "another XDP program is attached to ifindex %d; "
			 "remove it first (ip link set dev IF xdp off)", ifindex);
		return rc;
	}
	if (!allow_generic) {
		snprintf(err, errlen, "native XDP failed on ifindex %d: %s", ifindex, strerror(-rc));
		return rc;
	}
	rc = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE,
			    NULL);
	if (rc) {
		snprintf(err, errlen, "cannot attach XDP to ifindex %d: %s", ifindex,
			 strerror(-rc));
		return rc;
	}
	*mode = XDP_ATTACH_GENERIC;
	return 0;
}

int xdp_detach(int ifindex, uint32_t prog_id, uint8_t mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	__u32 flags = mode == XDP_ATTACH_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	int fd, rc;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	opts.old_prog_fd = fd;
	rc = bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &opts);
	close(fd);
	return rc;
}

int xdp_query(int ifindex, uint32_t *prog_id, char name[16])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int rc, fd;

	name[0] = 0;
	*prog_id = 0;
	rc = bpf_xdp_query(ifindex, 0, &q);
	if (rc)
		return rc;
	*prog_id = q.prog_id ? q.prog_id : (q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id);
	if (!*prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(*prog_id);
	if (fd < 0)
		return -errno;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(name, 16, "%s", info.name);
	close(fd);
	return 0;
}

int tc_attach(int ifindex, bool egress, int prog_fd, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XWAN_TC_HANDLE, .priority = XWAN_TC_PRIORITY,
		    .prog_fd = prog_fd);
	int rc;

	rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "cannot create a clsact qdisc on ifindex %d: %s", ifindex,
			 strerror(-rc));
		return rc;
	}
	rc = bpf_tc_attach(&hook, &opts);
	if (rc) {
		snprintf(err, errlen, "cannot attach the tc %s program on ifindex %d: %s%s",
			 egress ? "egress" : "ingress", ifindex, strerror(-rc),
			 rc == -EEXIST ? " (a filter with handle 0x7877 priority 1 exists)" : "");
		return rc;
	}
	return 0;
}

int tc_detach(int ifindex, bool egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XWAN_TC_HANDLE, .priority = XWAN_TC_PRIORITY);

	return bpf_tc_detach(&hook, &opts);
}
