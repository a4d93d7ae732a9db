// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/maint.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void make_key(struct maint_key *k, const char *name)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
}

int maint_open(const char *pin_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MAINT_PIN_NAME);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "xwan_maint", sizeof(struct maint_key),
			    sizeof(struct maint_entry), MAINT_MAX, NULL);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the maintenance map: %s", strerror(errno));
		return rc;
	}
	if (bpf_obj_pin(fd, path)) {
		rc = -errno;
		close(fd);
		/* The agent and the CLI may both create it: the first pin wins. */
		if (rc == -EEXIST && (fd = bpf_obj_get(path)) >= 0)
			return fd;
		snprintf(err, errlen, "cannot pin %s: %s (is the dataplane up? xwan up or "
			 "xwan run first)", path, strerror(-rc));
		return rc;
	}
	return fd;
}

int maint_set(int fd, const char *name, const char *reason, uint64_t now_unix)
{
	struct maint_entry e = { .since_unix = now_unix };
	struct maint_key k;

	make_key(&k, name);
	snprintf(e.reason, sizeof(e.reason), "%s", reason ? reason : "");
	return bpf_map_update_elem(fd, &k, &e, BPF_ANY) ? -errno : 0;
}

int maint_clear(int fd, const char *name)
{
	struct maint_key k;

	make_key(&k, name);
	if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
		return -errno;
	return 0;
}

bool maint_get(int fd, const char *name, struct maint_entry *e)
{
	struct maint_key k;

	if (fd < 0)
		return false;
	make_key(&k, name);
	return bpf_map_lookup_elem(fd, &k, e) == 0;
}

void maint_reason(const struct maint_entry *e, char *out, size_t len)
{
	if (e->reason[0])
		snprintf(out, len, "maintenance: %s", e->reason);
	else
		snprintf(out, len, "maintenance");
}
