/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Ages on the coarse monotonic clock. A timestamp in a shared map may be a
 * little ahead of this CPU's `now`: another CPU read its clock later and
 * wrote it meanwhile. `now - then` in unsigned arithmetic would then be
 * huge and a live entry would look idle for ever; a signed difference
 * makes such an entry as fresh as it is. Limits are below 2^63 ns (a week
 * is 6 * 10^14).
 */
#ifndef XWAN_CLOCK_H
#define XWAN_CLOCK_H

#include "compiler.h"

static __always_inline int age_exceeds(__u64 now, __u64 then, __u64 limit)
{
	return (__s64)(now - then) > (__s64)limit;
}

#endif /* XWAN_CLOCK_H */
