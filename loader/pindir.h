/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XWAN_PINDIR_H
#define XWAN_PINDIR_H

#include <stdbool.h>
#include <stddef.h>

#define XWAN_PIN_DIR_DEFAULT "/sys/fs/bpf/xwan"

/* --pin-dir, else $XWAN_PIN_DIR, else the default. */
const char *xwan_pin_dir(const char *flag);

/*
 * Make pin_dir exist on a bpffs, mounting one if needed. Warns on stderr
 * when that mount is private to this command (ip netns exec): the pins will
 * vanish at exit, though the dataplane keeps running and later commands
 * still find it.
 */
int xwan_pin_dir_prepare(const char *pin_dir, char *err, size_t errlen);

/* The programs, pinned under <pin dir>/progs by these names. */
enum xwan_prog {
	XP_XDP_LAN,
	XP_XDP_WAN,
	XP_TC_LAN_IN,
	XP_TC_WAN_IN,
	XP_TC_WAN_OUT,
	XP_COUNT
};

/* Indexed by enum xwan_prog, NULL-terminated. */
extern const char *const xwan_prog_names[];

/* Is this (a program's name) one of xwan's XDP programs? */
bool xwan_is_xdp_prog_name(const char *name);

/* Remove xwan's pins and the directory (not the bpffs mount). */
void xwan_pin_dir_remove(const char *pin_dir);

#endif /* XWAN_PINDIR_H */
