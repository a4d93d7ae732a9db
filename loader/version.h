/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XWAN_VERSION_H
#define XWAN_VERSION_H

#ifndef XWAN_VERSION
#define XWAN_VERSION "0.1.0"
#endif

#endif /* XWAN_VERSION_H */
