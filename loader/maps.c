// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "maps.h"
#include "pindir.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const xwan_map_names[XM_COUNT] = {
#define XWAN_MAP_NAME(id, name) name,
	XWAN_MAPS(XWAN_MAP_NAME)
#undef XWAN_MAP_NAME
};

void xwan_maps_init(struct xwan_maps *m)
{
	for (int i = 0; i < XM_COUNT; i++)
		m->fd[i] = -1;
}

void xwan_maps_close(struct xwan_maps *m)
{
	for (int i = 0; i < XM_COUNT; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

static int maps_missing(const struct xwan_maps *m)
{
	int missing = 0;

	for (int i = 0; i < XM_COUNT; i++)
		missing += m->fd[i] < 0;
	return missing;
}

/* Open what is pinned; -ENOENT when nothing is, -ESTALE when only some is. */
static int maps_from_pins_partial(const char *pin_dir, struct xwan_maps *m)
{
	char path[PATH_MAX];

	xwan_maps_init(m);
	for (int i = 0; i < XM_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, xwan_map_names[i]);
		m->fd[i] = bpf_obj_get(path);
	}
	if (maps_missing(m) == XM_COUNT)
		return -ENOENT;
	return maps_missing(m) ? -ESTALE : 0;
}

int xwan_maps_from_pins(const char *pin_dir, struct xwan_maps *m)
{
	int rc = maps_from_pins_partial(pin_dir, m);

	if (rc)
		xwan_maps_close(m);
	return rc;
}

static int map_index_by_name(const char *name)
{
	for (int i = 0; i < XM_COUNT; i++)
		if (!strcmp(name, xwan_map_names[i]))
			return i;
	return -1;
}

/* Adopt the maps an xwan XDP program uses (the runtime map is bound to it). */
static int maps_of_prog(__u32 prog_id, struct xwan_maps *m)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], n;
	int fd, found = 0;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    !xwan_is_xdp_prog_name(info.name)) {
		close(fd);
		return 0;
	}
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return -errno;
	}
	close(fd);
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]), idx;

		if (mfd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) ||
		    (idx = map_index_by_name(mi.name)) < 0 || m->fd[idx] >= 0) {
			close(mfd);
			continue;
		}
		m->fd[idx] = mfd;
		found++;
	}
	return found;
}

int xwan_maps_discover(struct xwan_maps *m)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	int i;

	xwan_maps_init(m);
	if (!ifs)
		return -errno;
	for (it = ifs; it->if_index; it++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (bpf_xdp_query((int)it->if_index, 0, &q))
			continue;
		if (q.prog_id)
			maps_of_prog(q.prog_id, m);
		if (q.skb_prog_id && q.skb_prog_id != q.prog_id)
			maps_of_prog(q.skb_prog_id, m);
		if (q.drv_prog_id && q.drv_prog_id != q.prog_id)
			maps_of_prog(q.drv_prog_id, m);
	}
	if_freenameindex(ifs);
	(void)i;
	if (maps_missing(m) == XM_COUNT)
		return -ENOENT;
	return maps_missing(m) ? -ESTALE : 0;
}

static void stale_message(const struct xwan_maps *m, char *err, size_t errlen)
{
	size_t n = (size_t)snprintf(err, errlen, "the running dataplane comes from another xwan "
				    "build (it has no map");
	for (int i = 0; i < XM_COUNT && n < errlen; i++)
		if (m->fd[i] < 0)
			n += (size_t)snprintf(err + n, errlen - n, " %s", xwan_map_names[i]);
	if (n < errlen)
		snprintf(err + n, errlen - n, "); run `xwan down`, then start it again");
}

int xwan_maps_open_partial(const char *pin_dir, struct xwan_maps *m)
{
	int rc = maps_from_pins_partial(pin_dir, m);

	if (rc == -ENOENT) {
		xwan_maps_close(m);
		rc = xwan_maps_discover(m);
	}
	return rc;
}

int xwan_maps_open(const char *pin_dir, struct xwan_maps *m, char *err, size_t errlen)
{
	int rc = xwan_maps_open_partial(pin_dir, m);

	if (rc == 0)
		return 0;
	if (rc == -ESTALE) {
		stale_message(m, err, errlen);
		xwan_maps_close(m);
		return rc;
	}
	xwan_maps_close(m);
	snprintf(err, errlen,
		 "xwan is not running in this network namespace (no maps pinned in %s and no "
		 "xwan XDP program attached); start it with `xwan up -c FILE`, or pass the "
		 "--pin-dir it was started with", pin_dir);
	return -ENOENT;
}

/* A map made by another build may hold a value of another size: never read
 * it into our struct. */
static int value_size_is(int fd, size_t size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.value_size == size ? 0 : -ESTALE;
}

int xwan_runtime_read(const struct xwan_maps *m, struct xwan_runtime *rt)
{
	__u32 zero = 0;
	int rc = value_size_is(m->fd[XM_RUNTIME], sizeof(*rt));

	if (rc)
		return rc;
	if (bpf_map_lookup_elem(m->fd[XM_RUNTIME], &zero, rt))
		return -errno;
	return rt->magic == XWAN_RUNTIME_MAGIC ? 0 : -ENODATA;
}

#define XWAN_RUNTIME_HEADER offsetof(struct xwan_runtime, started_unix)

int xwan_runtime_read_header(int fd, struct xwan_runtime *rt)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	void *buf;
	int rc = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memset(rt, 0, sizeof(*rt));
	if (info.value_size < XWAN_RUNTIME_HEADER)
		return -ESTALE;
	buf = calloc(1, info.value_size);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, buf))
		rc = -errno;
	else
		memcpy(rt, buf, XWAN_RUNTIME_HEADER);
	free(buf);
	if (!rc && rt->magic != XWAN_RUNTIME_MAGIC)
		rc = -ENODATA;
	return rc;
}

int xwan_runtime_write(const struct xwan_maps *m, const struct xwan_runtime *rt)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->fd[XM_RUNTIME], &zero, rt, BPF_ANY) ? -errno : 0;
}

int xwan_settings_read(const struct xwan_maps *m, struct xwan_settings *s)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->fd[XM_SETTINGS], &zero, s) ? -errno : 0;
}

int xwan_percpu_add(int fd, __u32 key, __u64 n)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u64 *buf;

	if (ncpu <= 0)
		return -EINVAL;
	buf = calloc((size_t)ncpu, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf) == 0) {
		buf[0] += n;
		if (bpf_map_update_elem(fd, &key, buf, BPF_EXIST))
			err = -errno;
	} else {
		err = -errno;
	}
	free(buf);
	return err;
}

int xwan_percpu_sum(int fd, __u32 key, __u64 *out, size_t size)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t words = size / sizeof(__u64), stride = (size + 7) & ~(size_t)7;
	char *buf;

	if (ncpu <= 0)
		return -EINVAL;
	buf = calloc((size_t)ncpu, stride);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		int err = -errno;

		free(buf);
		return err;
	}
	memset(out, 0, size);
	for (int c = 0; c < ncpu; c++) {
		const __u64 *v = (const __u64 *)(buf + (size_t)c * stride);

		for (size_t w = 0; w < words; w++)
			out[w] += v[w];
	}
	free(buf);
	return 0;
}
