/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XWAN_VERDICT_H
#define XWAN_VERDICT_H

#include "../xwan_types.h"

/* enum xwan_verdict is ordered: forwards, then passes, then drops. */
static __always_inline int verdict_is_drop(__u32 v)
{
	return v >= V_DROP_MALFORMED;
}

#endif /* XWAN_VERDICT_H */
