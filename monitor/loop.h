/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's single-threaded event loop: one epoll set; every fd in it
 * (signals, timers, netlink, probe sockets) carries a pointer to a handler
 * in epoll_event.data.ptr, so dispatch needs no lookup table.
 */
#ifndef XWAN_LOOP_H
#define XWAN_LOOP_H

#include <stdint.h>
#include <stddef.h>
#include <sys/epoll.h>

struct loop_handler {
	void (*fn)(struct loop_handler *h, uint32_t events);
};

static inline int loop_add(int epfd, int fd, uint32_t events, struct loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int loop_mod(int epfd, int fd, uint32_t events, struct loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static inline int loop_del(int epfd, int fd)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

#endif /* XWAN_LOOP_H */
