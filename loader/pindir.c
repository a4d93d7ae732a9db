// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "pindir.h"
#include "dataplane.h"
#include "maps.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *xwan_pin_dir(const char *flag)
{
	const char *env = getenv("XWAN_PIN_DIR");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return XWAN_PIN_DIR_DEFAULT;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static bool in_private_mount_ns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return false;
	return self.st_ino != init.st_ino;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The deepest existing directory on the way to path. */
static void existing_ancestor(const char *path, char *out, size_t len)
{
	struct stat st;

	snprintf(out, len, "%s", path);
	while (stat(out, &st) != 0) {
		char *slash = strrchr(out, '/');

		if (!slash || slash == out) {
			snprintf(out, len, "/");
			return;
		}
		*slash = 0;
	}
}

int xwan_pin_dir_prepare(const char *pin_dir, char *err, size_t errlen)
{
	char anc[PATH_MAX], mnt[PATH_MAX];
	int rc;

	existing_ancestor(pin_dir, anc, sizeof(anc));
	if (!on_bpffs(anc)) {
		/* /sys/fs/bpf is the conventional mount point; elsewhere mount at the dir. */
		if (!strcmp(anc, "/sys/fs/bpf")) {
			snprintf(mnt, sizeof(mnt), "%s", anc);
		} else {
			rc = mkdir_p(pin_dir);
			if (rc) {
				snprintf(err, errlen, "cannot create pin directory %s: %s",
					 pin_dir, strerror(-rc));
				return rc;
			}
			snprintf(mnt, sizeof(mnt), "%s", pin_dir);
		}
		if (mount("bpf", mnt, "bpf", 0, "mode=0700")) {
			rc = -errno;
			snprintf(err, errlen, "cannot mount a bpffs on %s: %s", mnt, strerror(errno));
			return rc;
		}
		if (in_private_mount_ns())
			fprintf(stderr,
				"xwan: warning: mounted a bpffs on %s in this command's private mount "
				"namespace (ip netns exec?); the pins vanish when it exits. The "
				"dataplane keeps running and later commands find it by its attached "
				"programs, but to keep pins (and bpftool access), mount a bpffs "
				"outside /sys first and use --pin-dir (see README).\n", mnt);
	}
	rc = mkdir_p(pin_dir);
	if (rc) {
		snprintf(err, errlen, "cannot create pin directory %s: %s", pin_dir, strerror(-rc));
		return rc;
	}
	return 0;
}

void xwan_pin_dir_remove(const char *pin_dir)
{
	char path[PATH_MAX];

	/* Only what xwan pins: a mistyped --pin-dir must never lose anything else. */
	for (int i = 0; i < XM_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, xwan_map_names[i]);
		unlink(path);
	}
	for (int i = 0; xwan_prog_names[i]; i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", pin_dir, xwan_prog_names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/progs", pin_dir);
	rmdir(path);
	/* The operator's maintenance marks (monitor/maint.h) go with the dataplane. */
	snprintf(path, sizeof(path), "%s/maintenance", pin_dir);
	unlink(path);
	/* Unpinning the tracing link detaches it. */
	snprintf(path, sizeof(path), "%s/links/%s", pin_dir, XWAN_REDIRECT_WATCH);
	unlink(path);
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	rmdir(path);
	rmdir(pin_dir);
}

const char *const xwan_prog_names[XP_COUNT + 1] = {
	[XP_XDP_LAN] = "xdp_lan",
	[XP_XDP_WAN] = "xdp_wan",
	[XP_TC_LAN_IN] = "tc_lan_ingress",
	[XP_TC_WAN_IN] = "tc_wan_ingress",
	[XP_TC_WAN_OUT] = "tc_wan_egress",
	[XP_COUNT] = NULL,
};

bool xwan_is_xdp_prog_name(const char *name)
{
	return !strcmp(name, xwan_prog_names[XP_XDP_LAN]) ||
	       !strcmp(name, xwan_prog_names[XP_XDP_WAN]);
}
